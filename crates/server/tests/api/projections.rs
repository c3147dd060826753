//! Projections heal themselves: events committed without their views are caught up.

use chrono::Utc;
use rust_decimal::Decimal;
use serde_json::Value;
use xyt_domain::order::{EventMeta, OrderCommand, TakeInXgjOrder, XgjPurchase};
use xyt_domain::{OrderNo, OutOrderNo};
use xyt_store::orders::OrderStore;

use crate::helpers::*;

fn take_in(order_no: &OrderNo, external: &str) -> OrderCommand {
    OrderCommand::TakeInXgjOrder(Box::new(TakeInXgjOrder {
        order_no: order_no.clone(),
        out_order_no: OutOrderNo::generate(Utc::now(), &mut rand::thread_rng()),
        form_token: format!("tok{external}"),
        form_link: format!("https://tickets.example.test/f/tok{external}"),
        request: seed(),
        purchase: XgjPurchase {
            order_no: external.into(),
            goods_no: "初级道 3 小时-淡季".into(),
            buy_quantity: 1,
            notify_url: "https://open.goofish.pro/n".into(),
            biz_order_no: external.into(),
            max_amount: None,
        },
        goods: None,
        fee_rate: Decimal::new(2, 2),
        received_at: Utc::now(),
    }))
}

/// The order's offsets: its deliveries', then its views'.
async fn offsets(app: &TestApp, order_no: &str) -> Vec<(String, i64)> {
    sqlx::query_as(
        "SELECT 'deliveries', version FROM delivery_offsets WHERE order_no = $1
         UNION ALL SELECT 'views', version FROM view_offsets WHERE order_no = $1 ORDER BY 1",
    )
    .bind(order_no)
    .fetch_all(&app.pool)
    .await
    .unwrap()
}

#[tokio::test]
async fn events_committed_without_their_views_are_caught_up_to_the_right_version() {
    let app = spawn().await;
    let store = OrderStore::new(app.pool.clone());
    let meta = EventMeta::accepted("xgj_virtual", "req-crash", Utc::now());
    let mut numbers = vec![];
    for i in 0..3 {
        let no = OrderNo::generate(Utc::now(), &mut rand::thread_rng());
        store
            .commit_without_views(&no, take_in(&no, &format!("45000000000000000{i:02}")), &meta)
            .await
            .unwrap();
        numbers.push(no);
    }
    // Nothing projected yet: the "crash" happened between commit and view update.
    assert_eq!(app.count("SELECT count(*) FROM order_list").await, 0);
    assert_eq!(store.projections().lagging_orders(100).await.unwrap().len(), 3);

    let healed = store.projections().catch_up().await.unwrap();
    assert_eq!(healed, 3);
    for no in &numbers {
        assert_eq!(
            offsets(&app, no.as_str()).await,
            vec![("deliveries".into(), 2), ("views".into(), 2)]
        );
        let (status, d) = app.get(&format!("/api/orders/{no}")).await;
        assert_eq!(status, 200);
        assert_eq!(d["version"], 2);
        let (_, ev) = app.get(&format!("/api/orders/{no}/events")).await;
        assert_eq!(ev["items"].as_array().unwrap().len(), 2);
    }
    assert_eq!(app.count("SELECT count(*) FROM order_list").await, 3);
    assert!(store.projections().lagging_orders(100).await.unwrap().is_empty());
    // A second pass finds nothing to do and duplicates nothing.
    assert_eq!(store.projections().catch_up().await.unwrap(), 0);
    assert_eq!(app.count("SELECT count(*) FROM view_offsets").await, 3);
    app.finish().await;
}

#[tokio::test]
async fn the_background_catch_up_heals_views_without_being_asked() {
    let app = spawn().await;
    let store = OrderStore::new(app.pool.clone());
    let no = OrderNo::generate(Utc::now(), &mut rand::thread_rng());
    let meta = EventMeta::accepted("xgj_virtual", "req-bg", Utc::now());
    store
        .commit_without_views(&no, take_in(&no, "4500000000000000099"), &meta)
        .await
        .unwrap();
    // The test app's catch-up runs every 300 ms; wait for it by polling the table, not the API
    // (the API would heal the order itself).
    let mut healed = false;
    for _ in 0..100 {
        if app.count("SELECT count(*) FROM order_list").await == 1 {
            healed = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(healed, "the periodic catch-up never ran");
    app.finish().await;
}

#[tokio::test]
async fn the_detail_heals_an_order_whose_views_lag() {
    let app = spawn().await;
    let store = OrderStore::new(app.pool.clone());
    let no = OrderNo::generate(Utc::now(), &mut rand::thread_rng());
    let meta = EventMeta::accepted("xgj_virtual", "req-1", Utc::now());
    store
        .commit_without_views(&no, take_in(&no, "4500000000000000077"), &meta)
        .await
        .unwrap();
    let (status, d) = app.get(&format!("/api/orders/{no}")).await;
    assert_eq!(status, 200, "{d}");
    assert_eq!(d["version"], 2);
    app.finish().await;
}

#[tokio::test]
async fn rebuilding_all_views_gives_the_same_views() {
    let app = spawn().await;
    app.purchase(&seed()).await;
    app.purchase(&purchase("4502196109060000005", "初级道 3 小时-平季", 1))
        .await;
    let before: Value = app.get("/api/orders").await.1;
    let no = app.order_no_of("4502196109060005933").await;
    let detail_before = app.get(&format!("/api/orders/{no}")).await.1;
    let events_before = app.get(&format!("/api/orders/{no}/events")).await.1;
    let store = OrderStore::new(app.pool.clone());
    assert_eq!(store.projections().rebuild_all().await.unwrap(), 2);
    assert_eq!(app.get("/api/orders").await.1, before);
    assert_eq!(app.get(&format!("/api/orders/{no}")).await.1, detail_before);
    assert_eq!(app.get(&format!("/api/orders/{no}/events")).await.1, events_before);
    app.finish().await;
}

#[tokio::test]
async fn xyt_rebuild_views_needs_only_the_database_and_its_verify_finds_the_views_it_rebuilt() {
    let app = spawn().await;
    app.purchase(&seed()).await;
    let no = app.order_no_of("4502196109060005933").await;
    let detail_before = app.get(&format!("/api/orders/{no}")).await.1;
    let (ok, out, err) = crate::access::xyt(&app, &["rebuild-views"], "");
    assert!(ok, "{out}{err}");
    assert!(out.starts_with("rebuilt the views of 1 orders ("), "{out}");
    assert_eq!(app.get(&format!("/api/orders/{no}")).await.1, detail_before);
    let (ok, out, err) = crate::access::xyt(&app, &["rebuild-views", "--verify"], "");
    assert!(ok, "{out}{err}");
    assert!(out.contains("every row of the live views matches the rebuild"), "{out}");
    app.finish().await;
}

#[tokio::test]
async fn a_restart_with_work_done_loses_nothing_and_repeats_nothing() {
    let mut app = spawn().await;
    let (first, _) = app.send(&app.purchase_call(&seed())).await;
    app.stop_server().await;
    let (db, url) = (app.db_name.clone(), app.database_url.clone());
    let again = Spawn::on(db, url).await;
    let (second, _) = again.send(&again.purchase_call(&seed())).await;
    assert_eq!(first, second);
    assert_eq!(again.event_count().await, 2);
    app.pool.close().await;
    again.finish().await;
}

#[tokio::test]
async fn events_are_append_only() {
    let app = spawn().await;
    app.purchase(&seed()).await;
    assert!(sqlx::query("UPDATE events SET payload = '{}'")
        .execute(&app.pool)
        .await
        .is_err());
    assert!(sqlx::query("DELETE FROM events").execute(&app.pool).await.is_err());
    assert_eq!(app.event_count().await, 2);
    app.finish().await;
}

/// Inserts an order's events as postgres-es does, inside the caller's transaction.
async fn insert_events(tx: &mut sqlx::Transaction<'_, sqlx::Postgres>, no: &OrderNo, external: &str) {
    use cqrs_es::DomainEvent;
    let meta = EventMeta::accepted("xgj_virtual", "req-late", Utc::now());
    let events = xyt_domain::order::Order::default()
        .decide(take_in(no, external))
        .unwrap();
    for (i, e) in events.iter().enumerate() {
        sqlx::query(
            "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata)
             VALUES ('Order', $1, $2, $3, $4, $5, $6)",
        )
        .bind(no.as_str())
        .bind(i as i64 + 1)
        .bind(e.event_type())
        .bind(e.event_version())
        .bind(serde_json::to_value(e).unwrap())
        .bind(serde_json::to_value(meta.to_map()).unwrap())
        .execute(&mut **tx)
        .await
        .unwrap();
    }
}

#[tokio::test]
async fn a_transaction_that_commits_late_is_not_skipped_by_the_catch_up_mark() {
    let app = spawn().await;
    let store = OrderStore::new(app.pool.clone());
    let (early, late) = (
        OrderNo::generate(Utc::now(), &mut rand::thread_rng()),
        OrderNo::generate(Utc::now(), &mut rand::thread_rng()),
    );
    // `late` takes the lower positions but commits after `early`, whose higher positions
    // become visible first: a mark over positions alone would pass over `late` for good.
    let mut slow = app.pool.begin().await.unwrap();
    insert_events(&mut slow, &late, "4500000000000000201").await;
    let mut fast = app.pool.begin().await.unwrap();
    insert_events(&mut fast, &early, "4500000000000000202").await;
    fast.commit().await.unwrap();
    let positions: Vec<(String, i64)> = sqlx::query_as("SELECT aggregate_id, position FROM events ORDER BY position")
        .fetch_all(&app.pool)
        .await
        .unwrap();
    assert_eq!(positions.len(), 2, "only the committed order is visible: {positions:?}");

    store.projections().catch_up().await.unwrap();
    let listed = |app: &TestApp, no: &OrderNo| {
        let q = format!("SELECT count(*) FROM order_list WHERE order_no = '{no}'");
        let pool = app.pool.clone();
        async move { sqlx::query_scalar::<_, i64>(&q).fetch_one(&pool).await.unwrap() }
    };
    assert_eq!(listed(&app, &early).await, 1, "the visible order is projected at once");
    assert_eq!(listed(&app, &late).await, 0);
    let mark = store.projections().checkpoint().await.unwrap();
    let late_tx: i64 = sqlx::query_scalar("SELECT pg_current_xact_id()::text::bigint")
        .fetch_one(&mut *slow)
        .await
        .unwrap();
    assert!(
        mark.tx < late_tx,
        "the mark stays below the transaction still in flight"
    );

    slow.commit().await.unwrap();
    // (The app's own catch-up, every 300 ms, may get there first: either way it is projected.)
    store.projections().catch_up().await.unwrap();
    assert_eq!(listed(&app, &late).await, 1, "the late commit is projected");
    assert_eq!(listed(&app, &early).await, 1);
    let (status, d) = app.get(&format!("/api/orders/{late}")).await;
    assert_eq!((status, d["version"].clone()), (200, serde_json::json!(2)));
    // Nothing is applied twice, and an idle pass does nothing.
    assert_eq!(store.projections().catch_up().await.unwrap(), 0);
    assert_eq!(app.count("SELECT count(*) FROM view_offsets").await, 2);
    app.finish().await;
}

#[tokio::test]
async fn verify_reports_rows_that_differ_from_a_rebuild_and_leaves_the_views_alone() {
    let app = spawn().await;
    app.purchase(&seed()).await;
    app.purchase(&purchase("4502196109060000005", "初级道 3 小时-平季", 1))
        .await;
    let store = OrderStore::new(app.pool.clone());
    let report = store
        .projections()
        .rebuild(xyt_store::projections::RebuildMode::Verify, &mut |_| {})
        .await
        .unwrap();
    assert_eq!((report.orders, report.events), (2, 4));
    assert!(report.differences.is_empty(), "{:?}", report.differences);

    let no = app.order_no_of("4502196109060005933").await;
    sqlx::query("UPDATE order_list SET status_label = 'tampered' WHERE order_no = $1")
        .bind(no.to_string())
        .execute(&app.pool)
        .await
        .unwrap();
    sqlx::query("DELETE FROM order_detail WHERE order_no = $1")
        .bind(no.to_string())
        .execute(&app.pool)
        .await
        .unwrap();
    let report = store
        .projections()
        .rebuild(xyt_store::projections::RebuildMode::Verify, &mut |_| {})
        .await
        .unwrap();
    let found: Vec<(&str, String, &str)> = report
        .differences
        .iter()
        .map(|d| (d.table, d.key.clone(), d.kind))
        .collect();
    assert_eq!(
        found,
        vec![
            ("order_list", no.to_string(), "differs"),
            ("order_detail", no.to_string(), "extra"),
        ]
    );
    // The live views were not touched, and no scratch table is left behind.
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM order_list WHERE status_label = 'tampered' AND order_no = '{no}'"
        ))
        .await,
        1
    );
    assert_eq!(
        app.count("SELECT count(*) FROM pg_tables WHERE tablename LIKE 'verify\\_%'")
            .await,
        0
    );
    app.finish().await;
}

/// A failed delivery attempt, numbered `attempt_id`.
fn failed_attempt(attempt_id: i64) -> OrderCommand {
    OrderCommand::RecordDeliveryAttempt(Box::new(xyt_domain::order::DeliveryAttempted {
        delivery_id: "d-1".into(),
        attempt_id,
        attempt: attempt_id as i32,
        notification_type: "user_form_group_push".into(),
        notification_channel: "wecom_robot".into(),
        notification_target: "robot:****".into(),
        message_text: "资料".into(),
        delivery_status: "failed_retryable".into(),
        reason: Some("timeout".into()),
        paid_amount: None,
        settlement_amount: None,
        target_group_id: None,
    }))
}

/// Appends `n` failed delivery attempts to the order without touching its views.
async fn append_attempts(store: &OrderStore, no: &OrderNo, from: i64, n: i64) {
    let meta = EventMeta::accepted("system", "req-attempt", Utc::now());
    for attempt_id in from..from + n {
        store
            .commit_without_views(no, failed_attempt(attempt_id), &meta)
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn a_long_stream_is_refreshed_from_its_snapshot_reading_only_the_new_events() {
    use xyt_store::projections::{SNAPSHOT_EVERY, SNAPSHOT_MIN_EVENTS};
    // 32 events keep a snapshot; one more does not renew it.
    const { assert!(SNAPSHOT_MIN_EVENTS <= 32 && SNAPSHOT_EVERY > 1) };
    // No background catch-up: this test decides when the views are refreshed.
    let app = Spawn::new()
        .with(|c| c.catchup_interval = std::time::Duration::from_secs(3600))
        .await;
    app.purchase(&seed()).await;
    let no = OrderNo::parse(&app.order_no_of("4502196109060005933").await).unwrap();
    let store = OrderStore::new(app.pool.clone());
    let projections = store.projections();
    // 2 intake events + 30 attempts: long enough to keep a snapshot.
    append_attempts(&store, &no, 1, 30).await;
    let first = projections.refresh_many(&[no.to_string()]).await.unwrap();
    assert_eq!(first.events, 32, "no snapshot yet: the whole stream is folded");
    let kept: i64 = app
        .count(&format!(
            "SELECT sequence FROM order_fold_snapshots WHERE order_no = '{no}'"
        ))
        .await;
    assert_eq!(kept, 32);

    append_attempts(&store, &no, 31, 1).await;
    let next = projections.refresh_many(&[no.to_string()]).await.unwrap();
    assert_eq!(
        (next.orders, next.events),
        (1, 1),
        "only the event after the snapshot is read"
    );
    assert_eq!(offsets(&app, no.as_str()).await.iter().map(|o| o.1).min(), Some(33));
    let (_, events) = app.get(&format!("/api/orders/{no}/events")).await;
    assert_eq!(
        events["items"].as_array().unwrap().len(),
        33,
        "the log folds every event"
    );
    assert_eq!(events["items"][0]["sequence"], 33);
    // What the views show from the snapshot is what a whole fold gives.
    let report = projections
        .rebuild(xyt_store::projections::RebuildMode::Verify, &mut |_| {})
        .await
        .unwrap();
    assert!(report.differences.is_empty(), "{:?}", report.differences);

    // A snapshot that cannot be read is passed over: the whole stream is folded again.
    sqlx::query("UPDATE order_fold_snapshots SET state = '{\"sequence\": 32}'")
        .execute(&app.pool)
        .await
        .unwrap();
    append_attempts(&store, &no, 32, 1).await;
    let fallback = projections.refresh_many(&[no.to_string()]).await.unwrap();
    assert_eq!(fallback.events, 34);
    let report = projections
        .rebuild(xyt_store::projections::RebuildMode::Verify, &mut |_| {})
        .await
        .unwrap();
    assert!(report.differences.is_empty(), "{:?}", report.differences);
    app.finish().await;
}

#[tokio::test]
async fn a_view_that_cannot_be_written_never_fails_the_command_and_the_catch_up_heals_it() {
    let app = spawn().await;
    let store = OrderStore::new(app.pool.clone());
    let refuse = "ALTER TABLE order_list ADD CONSTRAINT refuse_every_row CHECK (false) NOT VALID";
    sqlx::query(refuse).execute(&app.pool).await.unwrap();
    // A new order (its views folded from the decided events): XGJ gets its answer, the events
    // and the claim commit, and no view of the order is half written.
    let v = app.purchase(&seed()).await;
    assert_eq!(v["code"], 0, "{v}");
    let no: String = sqlx::query_scalar("SELECT order_no FROM xgj_intake WHERE answer IS NOT NULL")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(app.event_count().await, 2);
    assert_eq!(app.count("SELECT count(*) FROM order_list").await, 0);
    assert_eq!(app.count("SELECT count(*) FROM order_detail").await, 0);
    sqlx::query("ALTER TABLE order_list DROP CONSTRAINT refuse_every_row")
        .execute(&app.pool)
        .await
        .unwrap();
    assert_eq!(store.projections().catch_up().await.unwrap(), 1);
    assert_eq!(offsets(&app, &no).await.iter().map(|o| o.1).collect::<Vec<_>>(), [2, 2]);

    // An event appended to a stored stream (its views refreshed from the stream).
    sqlx::query(refuse).execute(&app.pool).await.unwrap();
    let meta = EventMeta::accepted("system", "req-attempt", Utc::now());
    let no = OrderNo::parse(&no).unwrap();
    let done = store
        .execute(&no, failed_attempt(1), &meta, xyt_store::orders::OnConflict::Report)
        .await
        .unwrap();
    assert_eq!(done.events.len(), 1);
    assert_eq!(app.event_count().await, 3);
    let views_at = |no: &OrderNo| format!("SELECT version FROM view_offsets WHERE order_no = '{no}'");
    assert_eq!(app.count(&views_at(&no)).await, 2);
    sqlx::query("ALTER TABLE order_list DROP CONSTRAINT refuse_every_row")
        .execute(&app.pool)
        .await
        .unwrap();
    assert_eq!(store.projections().catch_up().await.unwrap(), 1);
    assert_eq!(app.count(&views_at(&no)).await, 3);
    app.finish().await;
}

#[tokio::test]
async fn two_commands_taking_in_one_new_order_at_once_make_it_once_with_its_views() {
    // What two retries of a claim left without an answer (older code) do: both run the intake
    // command on the same new number. The second append meets the first's events and is
    // decided again on them (nothing to do), instead of failing or writing anything twice.
    let app = spawn().await;
    let store = OrderStore::new(app.pool.clone());
    let no = OrderNo::parse("XY20260321035147663EN6S").unwrap();
    let meta = EventMeta::accepted("xgj_virtual", "req-race", Utc::now());
    let run = || {
        store.execute(
            &no,
            take_in(&no, "4502196109060000077"),
            &meta,
            xyt_store::orders::OnConflict::Retry,
        )
    };
    let (a, b) = tokio::join!(run(), run());
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(
        a.events.len() + b.events.len(),
        2,
        "one of them appended both intake events"
    );
    assert_eq!(app.event_count().await, 2);
    assert_eq!(app.count("SELECT count(*) FROM order_list").await, 1);
    assert_eq!(
        offsets(&app, no.as_str()).await.iter().map(|o| o.1).collect::<Vec<_>>(),
        [2, 2]
    );
    app.finish().await;
}

#[tokio::test]
async fn an_event_this_code_cannot_read_fails_its_own_order_only() {
    let app = spawn().await;
    app.purchase(&seed()).await;
    app.purchase(&purchase("4502196109060000005", "初级道 3 小时-平季", 1))
        .await;
    let bad = app.order_no_of("4502196109060005933").await;
    let good = app.order_no_of("4502196109060000005").await;
    // Appended as a newer version of the code might have: a type this one does not know.
    sqlx::query(
        "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata)
         VALUES ('Order', $1, 3, 'from_a_newer_version', '1.0', '{\"from_a_newer_version\": {}}', '{}')",
    )
    .bind(&bad)
    .execute(&app.pool)
    .await
    .unwrap();

    // Its log and its replay answer 503 (the cause goes to the log); its stored detail still
    // answers, and so does everything of the other order.
    for path in [format!("/api/orders/{bad}/events"), format!("/api/orders/{bad}/replay")] {
        let (status, v) = app.get(&path).await;
        assert_eq!(
            (status, v["code"].as_str()),
            (503, Some("SERVICE_UNAVAILABLE")),
            "{path}: {v}"
        );
    }
    assert_eq!(app.get(&format!("/api/orders/{bad}")).await.0, 200);
    let (status, v) = app.get(&format!("/api/orders/{good}/events")).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["items"].as_array().unwrap().len(), 2);

    // A batch refresh counts it as failed and writes the rest.
    sqlx::query("TRUNCATE order_list, order_detail, view_offsets")
        .execute(&app.pool)
        .await
        .unwrap();
    let store = OrderStore::new(app.pool.clone());
    let outcome = store
        .projections()
        .refresh_many(&[bad.clone(), good.clone()])
        .await
        .unwrap();
    assert_eq!((outcome.orders, outcome.failed), (1, 1));
    let listed: Vec<String> = sqlx::query_scalar("SELECT order_no FROM order_list")
        .fetch_all(&app.pool)
        .await
        .unwrap();
    assert_eq!(listed, [good]);
    app.finish().await;
}
