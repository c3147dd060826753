//! Disputes: the hash chain and its tampering, replay against the live detail, XGJ's refund
//! calls, and an old event version read through the upcaster.

use serde_json::{json, Value};
use xyt_domain::pricing::SeasonType;
use xyt_integrations::ocr::png_with_ocr_text;

use crate::deliveries::seed_in_review;
use crate::helpers::*;

const REFUND_APPLY: &str = "/goofish/order/refund/apply";
const REFUND_NOTIFY: &str = "/goofish/order/refund/notify";

/// A 平季 order with the buyer's form in and the agent paid.
async fn paid_order(app: &TestApp, external: &str) -> String {
    crate::fulfilment::paid_order(app, external).await.0
}

async fn events_of(app: &TestApp, no: &str) -> Vec<(String, String)> {
    sqlx::query_as("SELECT event_type, metadata->>'source' FROM events WHERE aggregate_id = $1 ORDER BY sequence")
        .bind(no)
        .fetch_all(&app.pool)
        .await
        .unwrap()
}

/// The refund steps and cancellations of an order (delivery attempts land asynchronously
/// beside them, so whole-stream counts would race).
async fn refund_steps(app: &TestApp, no: &str) -> usize {
    events_of(app, no)
        .await
        .iter()
        .filter(|(t, _)| {
            matches!(
                t.as_str(),
                "xgj_refund_applied" | "xgj_refund_notified" | "order_cancelled"
            )
        })
        .count()
}

/// The detail without what `GET /api/orders/{orderNo}` takes from today's config: the active
/// QR code and the narrowing of the actions to it.
fn without_live_config(mut d: Value) -> Value {
    d.as_object_mut().unwrap().remove("activeQrCode");
    d.as_object_mut().unwrap().remove("availableActions");
    d
}

/// Replaying each order to the version its live detail shows gives exactly that detail.
pub async fn assert_replay_matches_live(app: &TestApp) -> usize {
    let orders: Vec<String> = sqlx::query_scalar("SELECT DISTINCT aggregate_id FROM events ORDER BY 1")
        .fetch_all(&app.pool)
        .await
        .unwrap();
    for no in &orders {
        let (status, live) = app.get(&format!("/api/orders/{no}")).await;
        assert_eq!(status, 200, "{live}");
        let version = live["version"].as_i64().unwrap();
        let (status, r) = app.get(&format!("/api/orders/{no}/replay?at={version}")).await;
        assert_eq!(status, 200, "{r}");
        assert_eq!(r["at"], version);
        assert_eq!(r["timeline"].as_array().unwrap().len() as i64, version);
        assert_eq!(
            without_live_config(r["detail"].clone()),
            without_live_config(live.clone()),
            "replay of {no} at {version} differs from the live detail"
        );
    }
    orders.len()
}

#[tokio::test]
async fn replaying_at_the_last_event_gives_the_live_detail_and_earlier_moments_as_they_were() {
    let app = spawn().await;
    app.activate_qr().await;
    let review = seed_in_review(&app).await;
    let paid = paid_order(&app, "4502196109060007001").await;
    let (waiting, _) = app.order_with_token("4502196109060007002", "初级道 3 小时-平季").await;
    let (unknown, _) = app.order_with_token("4502196109060007003", "没有配置的商品").await;
    let (status, v) = app
        .post_json(
            &format!("/api/orders/{waiting}/cancel"),
            &json!({"reason": "买家要求取消"}),
        )
        .await;
    assert_eq!(status, 200, "{v}");
    // Let the deliveries record their attempts on the orders, then compare every order.
    crate::deliveries::wait_for_events(&app, &review, &["user_price_exception_notified"]).await;
    assert_eq!(assert_replay_matches_live(&app).await, 4);
    let _ = (paid, unknown);

    // The seed order right after its intake: awaiting the form, no form, no price check.
    let (status, r) = app.get(&format!("/api/orders/{review}/replay?at=2")).await;
    assert_eq!(status, 200, "{r}");
    assert_eq!(r["detail"]["status"], "awaiting_user_form", "{r}");
    assert_eq!(r["detail"]["version"], 2);
    assert!(r["detail"]["userForm"].is_null());
    let t = r["timeline"].as_array().unwrap();
    assert_eq!(t[0]["eventType"], "xgj_virtual_order_received");
    assert_eq!(t[0]["source"], "xgj_virtual");
    assert_eq!(t[0]["after"]["orderStatus"], "待补用户资料", "{}", t[0]);
    assert_eq!(t[0]["chainHash"].as_str().unwrap().len(), 64);
    // Right after the price check failed: manual review, and the timeline says what changed.
    let (_, all) = app.get(&format!("/api/orders/{review}/replay")).await;
    let failed_at = all["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["eventType"] == "price_check_failed")
        .unwrap()["sequence"]
        .as_i64()
        .unwrap();
    let (_, r) = app.get(&format!("/api/orders/{review}/replay?at={failed_at}")).await;
    assert_eq!(r["detail"]["status"], "pending_manual_review", "{r}");
    let last = &r["timeline"][(failed_at - 1) as usize];
    assert_eq!(last["before"]["priceCheck"], Value::Null);
    assert_eq!(last["after"]["priceCheck"], "failed", "{last}");

    // Bad cases: a sequence past the end and a malformed one name `at`; unknown orders are 404.
    let end = all["lastSequence"].as_i64().unwrap();
    for bad in [format!("{}", end + 1), "0".into(), "abc".into()] {
        let (status, v) = app.get(&format!("/api/orders/{review}/replay?at={bad}")).await;
        assert_eq!(status, 422, "at={bad}: {v}");
        assert!(v["fieldErrors"]["at"].is_string(), "{v}");
    }
    let (status, _) = app.get("/api/orders/XY20260101000000000AAAAA/replay?at=1").await;
    assert_eq!(status, 404);
    let (status, _) = app.get("/api/orders/nonsense/replay").await;
    assert_eq!(status, 404);

    // An auditor replays with the buyer's data masked; an operator sees it whole.
    let auditor = app.session("audrey", "auditor").await.http;
    let r: Value = auditor
        .get(format!("{}/api/orders/{review}/replay", app.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(r["detail"]["userForm"]["phone"], "188****1234", "{r}");
    assert!(!r.to_string().contains("18852341234"), "an auditor sees the phone: {r}");
    let (_, r) = app.get(&format!("/api/orders/{review}/replay")).await;
    assert_eq!(r["detail"]["userForm"]["phone"], "18852341234");
    app.finish().await;
}

#[tokio::test]
async fn the_chain_names_an_edited_and_a_removed_event() {
    let app = spawn().await;
    let edited = seed_in_review(&app).await;
    let (removed, _) = app.order_with_token("4502196109060007010", "初级道 3 小时-平季").await;
    let token = app.form_token(&removed).await;
    let (status, _) = app
        .post_json(
            &format!("/api/public/forms/{token}"),
            &good_form(next_date_in(SeasonType::Mid)),
        )
        .await;
    assert_eq!(status, 200);
    for no in [&edited, &removed] {
        let (status, r) = app.get(&format!("/api/orders/{no}/verify")).await;
        assert_eq!(status, 200, "{r}");
        assert_eq!(r["ok"], true, "{r}");
        assert!(r["headSequence"].as_i64().unwrap() >= 3);
    }
    // As a superuser with the append-only trigger disabled: edit one payload, delete another event.
    let mut tx = app.pool.begin().await.unwrap();
    sqlx::query("ALTER TABLE events DISABLE TRIGGER events_no_update_or_delete")
        .execute(&mut *tx)
        .await
        .unwrap();
    let edit = sqlx::query(
        "UPDATE events SET payload = (replace(payload::text, '马上到', '马上走'))::json
         WHERE aggregate_id = $1 AND event_type = 'user_form_submitted'",
    )
    .bind(&edited)
    .execute(&mut *tx)
    .await
    .unwrap();
    assert_eq!(edit.rows_affected(), 1);
    let del = sqlx::query("DELETE FROM events WHERE aggregate_id = $1 AND sequence = 2")
        .bind(&removed)
        .execute(&mut *tx)
        .await
        .unwrap();
    assert_eq!(del.rows_affected(), 1);
    sqlx::query("ALTER TABLE events ENABLE TRIGGER events_no_update_or_delete")
        .execute(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let form_seq: i64 = sqlx::query_scalar(
        "SELECT sequence FROM events WHERE aggregate_id = $1 AND event_type = 'user_form_submitted'",
    )
    .bind(&edited)
    .fetch_one(&app.pool)
    .await
    .unwrap();

    let (status, r) = app.get(&format!("/api/orders/{edited}/verify")).await;
    assert_eq!(status, 200);
    assert_eq!(r["ok"], false, "{r}");
    assert_eq!(r["firstProblem"]["sequence"], form_seq, "{r}");
    assert_eq!(r["firstProblem"]["kind"], "edited", "{r}");
    assert_eq!(r["problems"].as_array().unwrap().len(), 1, "only the edited event: {r}");

    let (_, r) = app.get(&format!("/api/orders/{removed}/verify")).await;
    assert_eq!(r["ok"], false, "{r}");
    assert_eq!(r["firstProblem"]["sequence"], 2, "{r}");
    assert_eq!(r["firstProblem"]["kind"], "removed", "{r}");

    let (status, _) = app.get("/api/orders/XY20260101000000000AAAAA/verify").await;
    assert_eq!(status, 404);

    // The command line says the same.
    let (checked, bad) = xyt_store::chain::verify_all(&app.pool).await.unwrap();
    assert_eq!(checked, 2);
    let mut named: Vec<(i64, String)> = bad
        .iter()
        .map(|r| {
            let p = r.first_problem.as_ref().unwrap();
            (p.sequence, p.kind.clone())
        })
        .collect();
    named.sort();
    assert_eq!(
        named,
        vec![(2, "removed".to_string()), (form_seq, "edited".to_string())]
    );
    assert!(!xyt_server::disputes::verify(&app.pool, Some(&edited)).await.unwrap());
    app.finish().await;
}

async fn signed(app: &TestApp, path: &str, body: &Value) -> Value {
    app.send(&app.xgj.supply_call(path, body, TestApp::now())).await.1
}

fn refund_body(external: &str) -> Value {
    json!({
        "order_no": external, "order_type": 2, "out_order_no": "", "biz_order_no": external,
        "refund_type": 1, "refund_amount": 42600, "refund_reason": "买家不想去了",
        "refund_scene": "expire_refund", "apply_time": 1774065200,
        "notify_url": "https://open.goofish.pro/api/open/callback/virtual/refund/notify/abc"
    })
}

#[tokio::test]
async fn a_refund_application_before_the_agent_is_paid_is_agreed_and_cancels_once() {
    let app = spawn().await;
    let external = "4502196109060007020";
    let (no, _) = app.order_with_token(external, "初级道 3 小时-平季").await;
    let first = signed(&app, REFUND_APPLY, &refund_body(external)).await;
    assert_eq!(first["code"], 0, "{first}");
    assert_eq!(first["data"]["result"], "agree", "{first}");
    assert_eq!(first["data"]["refund_data"]["refund_status"], 20);
    assert_eq!(first["data"]["refund_data"]["refund_amount"], 42600);
    let (_, d) = app.get(&format!("/api/orders/{no}")).await;
    assert_eq!(d["status"], "cancelled", "{d}");
    let events = events_of(&app, &no).await;
    let tail: Vec<_> = events.iter().rev().take(2).rev().cloned().collect();
    assert_eq!(
        tail,
        vec![
            ("xgj_refund_applied".to_string(), "xgj_virtual".to_string()),
            ("order_cancelled".to_string(), "xgj_virtual".to_string())
        ]
    );
    // XGJ repeats the call: the same answer, nothing new.
    let again = signed(&app, REFUND_APPLY, &refund_body(external)).await;
    assert_eq!(again["data"], first["data"]);
    assert_eq!(refund_steps(&app, &no).await, 2);
    app.finish().await;
}

#[tokio::test]
async fn a_refund_application_after_the_agent_is_paid_is_left_to_the_merchant_and_alerts_operators() {
    let app = spawn().await;
    app.activate_qr().await;
    let external = "4502196109060007030";
    let no = paid_order(&app, external).await;
    let answer = signed(&app, REFUND_APPLY, &refund_body(external)).await;
    assert_ne!(answer["code"], 0, "{answer}");
    assert!(answer["msg"].as_str().unwrap().contains("人工处理"), "{answer}");
    let (_, d) = app.get(&format!("/api/orders/{no}")).await;
    assert_ne!(d["status"], "cancelled", "{d}");
    let last = events_of(&app, &no).await;
    assert!(last.contains(&("xgj_refund_applied".into(), "xgj_virtual".into())));
    let alerts = app
        .count(&format!(
            "SELECT count(*) FROM deliveries WHERE order_no = '{no}' AND type = 'refund_alert'"
        ))
        .await;
    assert_eq!(alerts, 1);
    // The alert goes out through the deliveries like any other and is recorded on the order.
    crate::deliveries::wait_for_events(&app, &no, &["refund_alert_notified"]).await;
    let (status, list) = app.get("/api/deliveries?type=refund_alert").await;
    assert_eq!(status, 200, "{list}");
    assert_eq!(list["items"].as_array().unwrap().len(), 1, "{list}");
    // A repeat: the same answer, no second decision, no second alert.
    assert_eq!(refund_steps(&app, &no).await, 1);
    let again = signed(&app, REFUND_APPLY, &refund_body(external)).await;
    assert_eq!(again, answer);
    assert_eq!(refund_steps(&app, &no).await, 1);
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM deliveries WHERE order_no = '{no}' AND type = 'refund_alert'"
        ))
        .await,
        1
    );
    app.finish().await;
}

#[tokio::test]
async fn a_refund_notice_records_the_refund_and_cancels() {
    let app = spawn().await;
    app.activate_qr().await;
    let external = "4502196109060007040";
    let no = paid_order(&app, external).await;
    let mut body = refund_body(external);
    body["refund_time"] = 1774065300.into();
    let answer = signed(&app, REFUND_NOTIFY, &body).await;
    assert_eq!(answer, json!({"result": "success", "msg": "接收成功"}));
    let (_, d) = app.get(&format!("/api/orders/{no}")).await;
    assert_eq!(d["status"], "cancelled", "{d}");
    let events = events_of(&app, &no).await;
    assert!(events.contains(&("xgj_refund_notified".into(), "xgj_virtual".into())));
    assert!(events.contains(&("order_cancelled".into(), "xgj_virtual".into())));
    assert_eq!(refund_steps(&app, &no).await, 2);
    let again = signed(&app, REFUND_NOTIFY, &body).await;
    assert_eq!(again, answer);
    assert_eq!(refund_steps(&app, &no).await, 2);
    app.finish().await;
}

#[tokio::test]
async fn refund_calls_for_unknown_orders_or_with_forged_signatures_change_nothing() {
    let app = spawn().await;
    let external = "4502196109060007050";
    let (no, _) = app.order_with_token(external, "初级道 3 小时-平季").await;
    let before = app.event_count().await;

    let unknown = signed(&app, REFUND_APPLY, &refund_body("4502196109069999999")).await;
    assert_eq!(unknown["code"], 1200, "{unknown}");
    let unknown = signed(&app, REFUND_NOTIFY, &refund_body("4502196109069999999")).await;
    assert_eq!(unknown["result"], "fail", "{unknown}");
    assert_eq!(unknown["msg"], "订单不存在");

    for path in [REFUND_APPLY, REFUND_NOTIFY] {
        // Signed for one body, sent with another.
        let call = app
            .xgj
            .supply_call(path, &refund_body("4502196109060000000"), TestApp::now());
        let forged = serde_json::to_vec(&refund_body(external)).unwrap();
        let (status, text) = app.post_raw(&call.url, forged).await;
        assert_eq!(status, 200);
        let v: Value = serde_json::from_str(&text).unwrap();
        if path == REFUND_APPLY {
            assert_eq!(v["code"], 401, "{v}");
        } else {
            assert_eq!(v, json!({"result": "fail", "msg": "签名错误"}));
        }
    }
    assert_eq!(app.event_count().await, before);
    let (_, d) = app.get(&format!("/api/orders/{no}")).await;
    assert_eq!(d["status"], "awaiting_user_form");
    app.finish().await;
}

/// The database as it was before the chain migration: its objects dropped and its row forgotten,
/// so that the next start runs the migration over existing events.
async fn back_to_before_the_chain(app: &TestApp) {
    let mut tx = app.pool.begin().await.unwrap();
    for sql in [
        "DROP TRIGGER events_chain ON events",
        "DROP FUNCTION events_chain()",
        "ALTER TABLE events DROP COLUMN chain_hash",
        "DROP FUNCTION events_chain_hash(text, text, bigint, text, text, text, text, text)",
        "DROP FUNCTION events_chain_part(text)",
        "DROP TABLE dispute_exports",
        "DELETE FROM _sqlx_migrations WHERE version = 20261129001301",
    ] {
        sqlx::query(sql).execute(&mut *tx).await.unwrap();
    }
    tx.commit().await.unwrap();
}

#[tokio::test]
async fn existing_events_are_chained_by_the_migration_and_old_versions_still_read() {
    let mut app = spawn().await;
    let review = seed_in_review(&app).await;
    let (cancelled, _) = app.order_with_token("4502196109060007060", "初级道 3 小时-平季").await;
    let (status, v) = app
        .post_json(
            &format!("/api/orders/{cancelled}/cancel"),
            &json!({"reason": "买家要求取消"}),
        )
        .await;
    assert_eq!(status, 200, "{v}");
    app.stop_server().await;
    back_to_before_the_chain(&app).await;
    // The cancellation as version 1.0 wrote it: no `cause`.
    let mut tx = app.pool.begin().await.unwrap();
    sqlx::query("ALTER TABLE events DISABLE TRIGGER events_no_update_or_delete")
        .execute(&mut *tx)
        .await
        .unwrap();
    let n = sqlx::query(
        "UPDATE events SET event_version = '1.0',
           payload = json_build_object('order_cancelled', (payload->'order_cancelled')::jsonb - 'cause')
         WHERE aggregate_id = $1 AND event_type = 'order_cancelled'",
    )
    .bind(&cancelled)
    .execute(&mut *tx)
    .await
    .unwrap();
    assert_eq!(n.rows_affected(), 1);
    sqlx::query("ALTER TABLE events ENABLE TRIGGER events_no_update_or_delete")
        .execute(&mut *tx)
        .await
        .unwrap();
    // And the views forgotten, so they are rebuilt from the old rows.
    sqlx::query("TRUNCATE order_list, order_detail, view_offsets, delivery_offsets")
        .execute(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let old_payload: String = sqlx::query_scalar(
        "SELECT payload::text FROM events WHERE aggregate_id = $1 AND event_type = 'order_cancelled'",
    )
    .bind(&cancelled)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert!(!old_payload.contains("cause"), "{old_payload}");

    let (db, url) = (app.db_name.clone(), app.database_url.clone());
    app.pool.close().await;
    let app = Spawn::on(db, url).await;
    // The migration chained every existing event, and the chains verify.
    assert_eq!(
        app.count("SELECT count(*) FROM events WHERE chain_hash IS NULL").await,
        0
    );
    let (checked, bad) = xyt_store::chain::verify_all(&app.pool).await.unwrap();
    assert_eq!((checked, bad.len()), (2, 0), "{bad:?}");
    // The 1.0 row stays as stored, and is read as 2.0 by the views, replay and commands.
    let version: String = sqlx::query_scalar(
        "SELECT event_version FROM events WHERE aggregate_id = $1 AND event_type = 'order_cancelled'",
    )
    .bind(&cancelled)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(version, "1.0");
    let (status, d) = app.get(&format!("/api/orders/{cancelled}")).await;
    assert_eq!(status, 200, "{d}");
    assert_eq!(d["status"], "cancelled", "{d}");
    let (status, r) = app.get(&format!("/api/orders/{cancelled}/replay")).await;
    assert_eq!(status, 200, "{r}");
    let last = r["timeline"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["eventVersion"], "1.0");
    assert_eq!(last["payload"]["reason"], "买家要求取消");
    // The aggregate loads through the upcaster: a second cancel is refused by the domain (409),
    // not failed by a stream that no longer reads (503).
    let (status, v) = app
        .post_json(&format!("/api/orders/{cancelled}/cancel"), &json!({"reason": "再取消"}))
        .await;
    assert_eq!(status, 409, "{v}");
    // New events continue the migrated chain.
    let (status, _) = app
        .post_json(&format!("/api/orders/{review}/review"), &json!({"decision": "approve"}))
        .await;
    assert_eq!(status, 200);
    let (_, r) = app.get(&format!("/api/orders/{review}/verify")).await;
    assert_eq!(r["ok"], true, "{r}");
    assert_eq!(assert_replay_matches_live(&app).await, 2);
    app.finish().await;
}

/// Rewrites one file of a zip with `change`.
fn rewrite(bundle: &[u8], name: &str, change: impl Fn(Vec<u8>) -> Vec<u8>) -> Vec<u8> {
    use std::io::{Read, Write};
    let mut src = zip::ZipArchive::new(std::io::Cursor::new(bundle)).unwrap();
    let mut out = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let mut found = false;
    for i in 0..src.len() {
        let mut f = src.by_index(i).unwrap();
        let fname = f.name().unwrap().to_string();
        let mut b = Vec::new();
        f.read_to_end(&mut b).unwrap();
        if fname == name {
            found = true;
            b = change(b);
        }
        out.start_file(fname, zip::write::SimpleFileOptions::default()).unwrap();
        out.write_all(&b).unwrap();
    }
    assert!(found, "{name} is in the bundle");
    out.finish().unwrap().into_inner()
}

fn names_in(bundle: &[u8]) -> Vec<String> {
    let z = zip::ZipArchive::new(std::io::Cursor::new(bundle)).unwrap();
    z.file_names().map(|n| n.unwrap().to_string()).collect()
}

#[tokio::test]
async fn a_dispute_bundle_verifies_offline_and_each_tampered_part_is_named() {
    let app = spawn().await;
    app.activate_qr().await;
    let no = paid_order(&app, "4502196109060007070").await;
    let proof = png_with_ocr_text(100, 100, "proof");
    let part = reqwest::multipart::Part::bytes(proof.clone())
        .file_name("p.png")
        .mime_str("image/png")
        .unwrap();
    let r = app
        .http
        .post(format!("{}/api/orders/{no}/payment/proof", app.base))
        .multipart(reqwest::multipart::Form::new().part("file", part))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);

    let r = app
        .http
        .get(format!("{}/api/orders/{no}/dispute-bundle", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/zip");
    let bundle = r.bytes().await.unwrap().to_vec();
    let names = names_in(&bundle);
    let proof_sha = xyt_integrations::files::sha256_hex(&proof);
    let image = format!("images/{proof_sha}.png");
    for n in ["manifest.json", "report.html", image.as_str()] {
        assert!(names.iter().any(|x| x == n), "{n} in {names:?}");
    }
    let v = xyt_server::bundle::verify(&bundle);
    assert!(v.ok, "{:#?}", v.checks);

    // The manifest carries the events with chain hashes, the decisions' inputs, the image hashes.
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bundle.as_slice())).unwrap();
    let manifest: Value = serde_json::from_reader(zip.by_name("manifest.json").unwrap()).unwrap();
    let events = manifest["events"].as_array().unwrap();
    assert_eq!(events.len() as i64, manifest["chain"]["headSequence"].as_i64().unwrap());
    assert!(events.iter().all(|e| e["chainHash"].as_str().unwrap().len() == 64));
    let check = manifest["decisions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["eventType"] == "price_check_passed")
        .expect("the price check's inputs");
    assert_eq!(check["inputs"]["settlementAmount"], "426.00", "{check}");
    assert_eq!(manifest["images"][0]["sha256"], proof_sha.as_str());
    assert_eq!(manifest["exportedBy"], "api:test-admin");
    let mut html = String::new();
    std::io::Read::read_to_string(&mut zip.by_name("report.html").unwrap(), &mut html).unwrap();
    assert!(html.contains("订单争议材料") && html.contains("价格校验") && html.contains("data:image/png;base64,"));

    // Each tampering is named.
    let edited_image = rewrite(&bundle, &image, |mut b| {
        let n = b.len() - 20;
        b[n] ^= 0xff;
        b
    });
    let v = xyt_server::bundle::verify(&edited_image);
    assert!(!v.ok);
    assert_eq!(v.first_failure().unwrap().part, image);

    let edited_report = rewrite(&bundle, "report.html", |b| {
        String::from_utf8(b).unwrap().replace("426.00", "26.00").into_bytes()
    });
    assert_eq!(
        xyt_server::bundle::verify(&edited_report).first_failure().unwrap().part,
        "report.html"
    );

    let edited_event = rewrite(&bundle, "manifest.json", |b| {
        let mut m: Value = serde_json::from_slice(&b).unwrap();
        let p = m["events"][3]["payload"].as_str().unwrap().replace('1', "2");
        m["events"][3]["payload"] = p.into();
        serde_json::to_vec(&m).unwrap()
    });
    let v = xyt_server::bundle::verify(&edited_event);
    assert_eq!(
        v.first_failure().unwrap().part,
        "manifest.json#events[4]",
        "{:#?}",
        v.checks
    );

    let removed_event = rewrite(&bundle, "manifest.json", |b| {
        let mut m: Value = serde_json::from_slice(&b).unwrap();
        m["events"].as_array_mut().unwrap().remove(1);
        serde_json::to_vec(&m).unwrap()
    });
    let v = xyt_server::bundle::verify(&removed_event);
    assert_eq!(
        v.first_failure().unwrap().part,
        "manifest.json#events[2]",
        "{:#?}",
        v.checks
    );

    let v = xyt_server::bundle::verify(b"not a zip");
    assert_eq!(v.first_failure().unwrap().part, "bundle.zip");

    // An auditor may export too; every export is recorded with who and when.
    let auditor = app.session("audrey", "auditor").await.http;
    let r = auditor
        .get(format!("{}/api/orders/{no}/dispute-bundle", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let who: Vec<String> =
        sqlx::query_scalar("SELECT exported_by FROM dispute_exports WHERE order_no = $1 ORDER BY exported_at")
            .bind(&no)
            .fetch_all(&app.pool)
            .await
            .unwrap();
    assert_eq!(who, vec!["api:test-admin".to_string(), "admin:audrey".to_string()]);
    let reads = app
        .count(&format!(
            "SELECT count(*) FROM personal_data_reads WHERE order_no = '{no}' AND what = 'dispute-bundle'"
        ))
        .await;
    assert_eq!(reads, 2);
    let (status, _) = app.get("/api/orders/XY20260101000000000AAAAA/dispute-bundle").await;
    assert_eq!(status, 404);
    app.finish().await;
}

fn xyt(app: &TestApp, args: &[&str]) -> (i32, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_xyt"))
        .args(args)
        .env("DATABASE_URL", &app.database_url)
        .env("XYT_FILE_DIR", std::env::temp_dir().join("xyt-no-files"))
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), text)
}

#[tokio::test]
async fn the_command_line_exports_verifies_audits_and_checks_chains() {
    let app = spawn().await;
    let no = seed_in_review(&app).await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bundle.zip");
    let file_s = file.to_str().unwrap();

    let (code, out) = xyt(&app, &["dispute", "export", &no, "-o", file_s]);
    assert_eq!(code, 0, "{out}");
    let (code, out) = xyt(&app, &["dispute", "verify", file_s]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("is intact"), "{out}");
    let exported_by: String = sqlx::query_scalar("SELECT exported_by FROM dispute_exports WHERE order_no = $1")
        .bind(&no)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert!(exported_by.starts_with("cli:"), "{exported_by}");

    let bundle = std::fs::read(&file).unwrap();
    std::fs::write(
        &file,
        rewrite(&bundle, "report.html", |b| [b, b"<!-- x -->".to_vec()].concat()),
    )
    .unwrap();
    let (code, out) = xyt(&app, &["dispute", "verify", file_s]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("FAILS at report.html"), "{out}");

    let (code, out) = xyt(&app, &["audit", &no, "--at", "2"]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("xgj_virtual_order_received") && !out.contains("user_form_submitted"),
        "{out}"
    );
    let (code, out) = xyt(&app, &["audit", &no, "--json"]);
    assert_eq!(code, 0, "{out}");
    let r: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(r["detail"]["status"], "pending_manual_review");
    let (code, out) = xyt(&app, &["audit", &no, "--at", "99"]);
    assert_ne!(code, 0, "{out}");

    let (code, out) = xyt(&app, &["verify"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("every chain is intact"), "{out}");
    let mut tx = app.pool.begin().await.unwrap();
    for sql in [
        "ALTER TABLE events DISABLE TRIGGER events_no_update_or_delete",
        "UPDATE events SET metadata = (replace(metadata::text, 'xgj_virtual', 'admin:mallory'))::json WHERE sequence = 1",
        "ALTER TABLE events ENABLE TRIGGER events_no_update_or_delete",
    ] {
        sqlx::query(sql).execute(&mut *tx).await.unwrap();
    }
    tx.commit().await.unwrap();
    let (code, out) = xyt(&app, &["verify", "--order", &no]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("TAMPERED, first at event #1 (edited)"), "{out}");
    app.finish().await;
}
