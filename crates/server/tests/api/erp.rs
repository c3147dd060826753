//! XGJ's ERP order push: signed, deduplicated, never an error loop.

use serde_json::{json, Value};
use xyt_integrations::xgj::erp_sign;

use crate::helpers::*;

fn push(order_no: &str, order_status: i64, refund_status: i64, modify_time: i64) -> Value {
    json!({
        "seller_id": 10001, "user_name": "buyer", "order_no": order_no, "order_type": 1,
        "order_status": order_status, "refund_status": refund_status, "modify_time": modify_time
    })
}

async fn send_push(app: &TestApp, body: &Value) -> Value {
    app.send(&app.xgj.erp_call("/erp/order-push", body, TestApp::now()))
        .await
        .1
}

async fn events_of(app: &TestApp, order_no: &str) -> Vec<Value> {
    let (status, v) = app.get(&format!("/api/orders/{order_no}/events")).await;
    assert_eq!(status, 200, "{v}");
    v["items"].as_array().unwrap().clone()
}

#[tokio::test]
async fn a_refund_push_cancels_the_order_with_source_xgj_virtual() {
    let app = spawn().await;
    app.purchase(&seed()).await;
    let v = send_push(&app, &push("4502196109060005933", 23, 5, 1774065300)).await;
    assert_eq!(v, json!({"result": "success", "msg": "接收成功"}));
    let order_no = app.order_no_of("4502196109060005933").await;
    let events = events_of(&app, &order_no).await;
    assert_eq!(events[0]["eventType"], "order_cancelled");
    assert_eq!(events[0]["source"], "xgj_virtual");
    assert_eq!(events[0]["before"]["orderStatus"], "待补用户资料");
    assert_eq!(events[0]["after"]["orderStatus"], "已取消");
    let (_, d) = app.get(&format!("/api/orders/{order_no}")).await;
    assert_eq!(d["status"], "cancelled");
    assert_eq!(d["cancelReason"], "闲鱼买家退款成功");
    app.finish().await;
}

#[tokio::test]
async fn a_repeated_push_is_answered_success_and_acted_on_once() {
    let app = spawn().await;
    app.purchase(&seed()).await;
    let body = push("4502196109060005933", 24, 0, 1774065300);
    for _ in 0..3 {
        assert_eq!(send_push(&app, &body).await["result"], "success");
    }
    assert_eq!(app.count("SELECT count(*) FROM xgj_erp_pushes").await, 1);
    assert_eq!(
        app.count("SELECT count(*) FROM events WHERE event_type = 'order_cancelled'")
            .await,
        1
    );
    // A later change of the same order is a new push, recorded; the order stays cancelled once.
    assert_eq!(
        send_push(&app, &push("4502196109060005933", 23, 5, 1774065400)).await["result"],
        "success"
    );
    assert_eq!(app.count("SELECT count(*) FROM xgj_erp_pushes").await, 2);
    assert_eq!(
        app.count("SELECT count(*) FROM events WHERE event_type = 'order_cancelled'")
            .await,
        1
    );
    app.finish().await;
}

#[tokio::test]
async fn a_forged_push_is_refused_and_changes_nothing() {
    let app = spawn().await;
    app.purchase(&seed()).await;
    let body = serde_json::to_vec(&push("4502196109060005933", 23, 5, 1774065300)).unwrap();
    let ts = TestApp::now();
    let forged = erp_sign(APP_ID, "not-the-secret", &body, &ts.to_string());
    let url = format!(
        "{}/xgj/erp/order-push?appid={APP_ID}&timestamp={ts}&sign={forged}",
        app.base
    );
    let (status, text) = app.post_raw(&url, body.clone()).await;
    assert_eq!(status, 200);
    assert!(text.contains("\"result\":\"fail\""), "{text}");
    // Stale, and signed for another app id.
    let good = erp_sign(APP_ID, APP_SECRET, &body, &(ts - 400).to_string());
    let url = format!(
        "{}/xgj/erp/order-push?appid={APP_ID}&timestamp={}&sign={good}",
        app.base,
        ts - 400
    );
    assert!(app.post_raw(&url, body.clone()).await.1.contains("fail"));
    let url = format!("{}/xgj/erp/order-push?appid=1&timestamp={ts}&sign={good}", app.base);
    assert!(app.post_raw(&url, body).await.1.contains("fail"));
    assert_eq!(app.count("SELECT count(*) FROM xgj_erp_pushes").await, 0);
    assert_eq!(
        app.count("SELECT count(*) FROM events WHERE event_type = 'order_cancelled'")
            .await,
        0
    );
    app.finish().await;
}

#[tokio::test]
async fn a_push_for_an_unknown_order_is_recorded_and_answered_success() {
    let app = spawn().await;
    let v = send_push(&app, &push("9999999999999999999", 23, 5, 1774065300)).await;
    assert_eq!(v["result"], "success");
    let action: String = sqlx::query_scalar("SELECT action FROM xgj_erp_pushes")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(action, "unknown_order");
    assert_eq!(app.event_count().await, 0);
    app.finish().await;
}

#[tokio::test]
async fn a_push_that_is_not_a_refund_is_recorded_without_an_event() {
    let app = spawn().await;
    app.purchase(&seed()).await;
    assert_eq!(
        send_push(&app, &push("4502196109060005933", 21, 0, 1774065300)).await["result"],
        "success"
    );
    let action: String = sqlx::query_scalar("SELECT action FROM xgj_erp_pushes")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(action, "recorded");
    assert_eq!(app.event_count().await, 2);
    app.finish().await;
}

#[tokio::test]
async fn a_malformed_push_body_is_refused_without_a_receipt() {
    let app = spawn().await;
    let v = send_push(&app, &json!({"order_no": "4502196109060005933", "order_status": "23"})).await;
    assert_eq!(v["result"], "fail");
    assert_eq!(app.count("SELECT count(*) FROM xgj_erp_pushes").await, 0);
    app.finish().await;
}
