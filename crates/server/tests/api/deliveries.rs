//! Deliveries derived from events, sent by the worker, listed, and resent.

use serde_json::{json, Value};
use xyt_domain::pricing::SeasonType;

use crate::helpers::*;

/// Polls until `check` holds on the order's deliveries (the worker runs every 100 ms in tests).
pub async fn wait_for_deliveries(app: &TestApp, no: &str, check: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    wait_for_items(app, &format!("/api/orders/{no}/deliveries"), check).await
}

/// Polls a list of deliveries (`items`) at `path` until `check` holds; returns it.
pub async fn wait_for_items(app: &TestApp, path: &str, check: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    let mut last = vec![];
    for _ in 0..100 {
        let (status, v) = app.get(path).await;
        assert_eq!(status, 200, "{v}");
        last = v["items"].as_array().unwrap().clone();
        if check(&last) {
            return last;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("deliveries never reached the expected state at {path}: {last:#?}");
}

/// Polls the order's events until every name in `names` is there; returns them newest first.
pub async fn wait_for_events(app: &TestApp, no: &str, names: &[&str]) -> Vec<Value> {
    let mut last = vec![];
    for _ in 0..100 {
        let (_, ev) = app.get(&format!("/api/orders/{no}/events")).await;
        last = ev["items"].as_array().unwrap().clone();
        if names.iter().all(|n| last.iter().any(|e| e["eventType"] == *n)) {
            return last;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("events never appeared: {names:?} in {last:#?}");
}

pub async fn seed_in_review(app: &TestApp) -> String {
    assert_eq!(app.purchase(&seed()).await["code"], 0);
    let no = app.order_no_of("4502196109060005933").await;
    let token = app.form_token(&no).await;
    let (status, v) = app
        .post_json(
            &format!("/api/public/forms/{token}"),
            &good_form(next_date_in(SeasonType::Mid)),
        )
        .await;
    assert_eq!(status, 200, "{v}");
    no
}

fn of_type<'a>(items: &'a [Value], kind: &str) -> Option<&'a Value> {
    items.iter().find(|d| d["type"] == kind)
}

#[tokio::test]
async fn a_failed_price_check_and_a_submitted_form_each_make_one_delivery_that_is_sent() {
    let app = spawn().await;
    let no = seed_in_review(&app).await;
    let items = wait_for_deliveries(&app, &no, |items| {
        items.len() == 2 && items.iter().all(|d| d["status"] == "sent")
    })
    .await;
    let alert = of_type(&items, "price_exception").unwrap();
    assert_eq!(alert["channel"], "mock");
    assert_eq!(alert["target"], "mock://wecom-bot/default");
    assert_eq!(
        alert["messageText"],
        format!("【订单异常】订单号:{no},异常类型:价格校验异常。")
    );
    assert_eq!(alert["retryCount"], 0);
    let push = of_type(&items, "user_form_group_push").unwrap();
    let text = push["messageText"].as_str().unwrap();
    assert!(text.starts_with("【闲鱼出票资料已提交】\n订单号:"), "{text}");
    for line in [
        "外部单号:4502196109060005933",
        "票种:初级道 3 小时",
        "商品:初级道 3 小时-淡季",
        "季节:平季",
        "姓名:马上到",
        "证件类型:内地身份证",
        "证件号:320911198804223314",
        "手机号:+8618852341234",
        "实付金额:¥3.20",
    ] {
        assert!(text.contains(line), "{line} missing in {text}");
    }
    assert_eq!(push["attempts"].as_array().unwrap().len(), 1);

    // Each attempt is an event on the order, named as on the seed page.
    let ev = wait_for_events(&app, &no, &["user_price_exception_notified", "user_form_group_pushed"]).await;
    let notified = ev
        .iter()
        .find(|e| e["eventType"] == "user_price_exception_notified")
        .unwrap();
    assert_eq!(notified["source"], "system");
    assert_eq!(notified["result"], "accepted");
    let p = &notified["payload"];
    for field in [
        "reason",
        "deliveryId",
        "paidAmount",
        "messageText",
        "deliveryStatus",
        "notificationType",
        "settlementAmount",
        "notificationTarget",
        "notificationChannel",
    ] {
        assert!(!p[field].is_null(), "{field} missing: {p}");
    }
    assert_eq!(p["settlementAmount"], "426.00");
    assert_eq!(p["paidAmount"], "3.20");
    assert_eq!(p["deliveryStatus"], "sent");

    // The list masks personal data; the order's detail shows it whole.
    let (_, page) = app.get("/api/deliveries?type=user_form_group_push").await;
    let listed = page["items"][0]["messageText"].as_str().unwrap();
    assert!(
        listed.contains("证件号:3209**********3314") && listed.contains("188****1234"),
        "{listed}"
    );
    assert!(
        !listed.contains("320911198804223314") && !listed.contains("马上到"),
        "{listed}"
    );
    app.finish().await;
}

#[tokio::test]
async fn exactly_one_delivery_per_event_even_when_the_views_are_rebuilt() {
    let app = spawn().await;
    let no = seed_in_review(&app).await;
    wait_for_deliveries(&app, &no, |items| items.len() == 2).await;
    let store = xyt_store::orders::OrderStore::new(app.pool.clone());
    store.projections().rebuild_all().await.unwrap();
    store.projections().rebuild_all().await.unwrap();
    assert_eq!(app.count("SELECT count(*) FROM deliveries").await, 2);
    app.finish().await;
}

#[tokio::test]
async fn a_delivery_without_a_configured_target_fails_visibly_and_can_be_resent_to_one() {
    let app = spawn().await;
    sqlx::query("DELETE FROM notification_targets")
        .execute(&app.pool)
        .await
        .unwrap();
    let no = seed_in_review(&app).await;
    let items = wait_for_deliveries(&app, &no, |items| items.iter().any(|d| d["type"] == "price_exception")).await;
    let alert = of_type(&items, "price_exception").unwrap();
    assert_eq!(alert["status"], "failed_permanent");
    assert_eq!(alert["lastErrorCode"], "NO_TARGET");
    assert!(alert["lastErrorHint"].as_str().unwrap().contains("配置中心"));
    let id = alert["id"].as_str().unwrap();
    let r = app
        .signed_in("bob")
        .await
        .post(format!("{}/api/deliveries/{id}/resend", app.base))
        .json(&json!({"target": "mock://ops-bot"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let d: Value = r.json().await.unwrap();
    assert_eq!(d["status"], "sent", "{d}");
    assert_eq!(d["target"], "mock://ops-bot");
    let ev = wait_for_events(&app, &no, &["delivery_resend_requested"]).await;
    let resend = ev
        .iter()
        .find(|e| e["eventType"] == "delivery_resend_requested")
        .unwrap();
    assert_eq!(resend["source"], "admin:bob");
    assert_eq!(resend["payload"]["notificationTarget"], "mock://ops-bot");
    assert_eq!(resend["payload"]["previousTarget"], "-");
    app.finish().await;
}

#[tokio::test]
async fn resend_of_a_sent_delivery_sends_again_and_records_who_asked() {
    let app = spawn().await;
    let no = seed_in_review(&app).await;
    let items = wait_for_deliveries(&app, &no, |items| {
        items.len() == 2 && items.iter().all(|d| d["status"] == "sent")
    })
    .await;
    let id = of_type(&items, "user_form_group_push").unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let (status, d) = app.post_json(&format!("/api/deliveries/{id}/resend"), &json!({})).await;
    assert_eq!(status, 200, "{d}");
    assert_eq!(d["status"], "sent");
    assert_eq!(d["attempts"].as_array().unwrap().len(), 2);
    app.finish().await;
}

#[tokio::test]
async fn resend_of_an_unknown_delivery_or_with_an_invalid_target_is_refused() {
    let app = spawn().await;
    let no = seed_in_review(&app).await;
    let items = wait_for_deliveries(&app, &no, |items| {
        items.len() == 2 && items.iter().all(|d| d["status"] == "sent")
    })
    .await;
    let (status, v) = app
        .post_json(&format!("/api/deliveries/{}/resend", uuid::Uuid::new_v4()), &json!({}))
        .await;
    assert_eq!(status, 404, "{v}");
    assert_eq!(v["code"], "DELIVERY_NOT_FOUND");
    let (status, _) = app.post_json("/api/deliveries/not-a-uuid/resend", &json!({})).await;
    assert_eq!(status, 404);
    let id = items[0]["id"].as_str().unwrap();
    for bad in ["ftp://x", "wecom-app:has space", "mock://"] {
        let (status, v) = app
            .post_json(&format!("/api/deliveries/{id}/resend"), &json!({"target": bad}))
            .await;
        assert_eq!(status, 422, "{bad}: {v}");
        assert!(v["fieldErrors"]["target"].is_string());
    }
    let attempts = app.count("SELECT count(*) FROM delivery_attempts").await;
    assert_eq!(attempts, 2, "refused resends attempt nothing");
    app.finish().await;
}

#[tokio::test]
async fn the_delivery_list_filters_and_pages() {
    let app = spawn().await;
    let no = seed_in_review(&app).await;
    wait_for_deliveries(&app, &no, |items| {
        items.len() == 2 && items.iter().all(|d| d["status"] == "sent")
    })
    .await;
    let (_, page) = app.get("/api/deliveries?limit=1").await;
    assert_eq!(page["items"].as_array().unwrap().len(), 1);
    let cursor = page["nextCursor"].as_str().unwrap();
    let (_, page2) = app.get(&format!("/api/deliveries?limit=1&cursor={cursor}")).await;
    assert_eq!(page2["items"].as_array().unwrap().len(), 1);
    assert_ne!(page["items"][0]["id"], page2["items"][0]["id"]);
    assert!(page2["nextCursor"].is_null());
    let (_, sent) = app
        .get("/api/deliveries?status=sent&channel=mock&type=price_exception")
        .await;
    assert_eq!(sent["items"].as_array().unwrap().len(), 1);
    let (_, none) = app.get("/api/deliveries?status=failed_permanent").await;
    assert_eq!(none["items"].as_array().unwrap().len(), 0);
    for q in [
        "status=lost",
        "channel=fax",
        "type=sms",
        "limit=0",
        "cursor=zz",
        "createdFrom=now",
    ] {
        let (status, v) = app.get(&format!("/api/deliveries?{q}")).await;
        assert_eq!(status, 422, "{q}: {v}");
    }
    app.finish().await;
}

#[tokio::test]
async fn resends_of_one_delivery_are_capped_with_a_clear_conflict() {
    let app = spawn().await;
    let no = seed_in_review(&app).await;
    let items = wait_for_deliveries(&app, &no, |items| {
        items.len() == 2 && items.iter().all(|d| d["status"] == "sent")
    })
    .await;
    let id = of_type(&items, "user_form_group_push").unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    for i in 0..xyt_store::deliveries::MAX_RESENDS {
        let (status, d) = app.post_json(&format!("/api/deliveries/{id}/resend"), &json!({})).await;
        assert_eq!(status, 200, "resend {i}: {d}");
    }
    let events_before = app.event_count().await;
    let (status, d) = app.post_json(&format!("/api/deliveries/{id}/resend"), &json!({})).await;
    assert_eq!(status, 409, "{d}");
    assert_eq!(d["code"], "RESEND_LIMIT_REACHED");
    assert_eq!(
        app.event_count().await,
        events_before,
        "a refused resend appends nothing"
    );
    let attempts: i64 = app
        .count(&format!(
            "SELECT count(*) FROM delivery_attempts WHERE delivery_id = '{id}'"
        ))
        .await;
    assert_eq!(attempts, 1 + i64::from(xyt_store::deliveries::MAX_RESENDS));
    app.finish().await;
}
