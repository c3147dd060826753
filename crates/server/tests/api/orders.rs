//! The admin read API: list filters, keyset pagination, detail, events, the error envelope.

use std::collections::HashSet;

use serde_json::Value;

use crate::helpers::*;

async fn five_orders(app: &TestApp) -> Vec<String> {
    let mut externals = vec![];
    for i in 0..5 {
        let ext = format!("450219610906000{:04}", 100 + i);
        let goods = if i % 2 == 0 {
            "初级道 3 小时-淡季"
        } else {
            "初级道 3 小时-平季"
        };
        assert_eq!(app.purchase(&purchase(&ext, goods, 1)).await["code"], 0);
        externals.push(ext);
    }
    externals
}

#[tokio::test]
async fn keyset_pages_cover_every_order_once_newest_first() {
    let app = spawn().await;
    five_orders(&app).await;
    let mut seen = vec![];
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let path = match &cursor {
            None => "/api/orders?limit=2".to_string(),
            Some(c) => format!("/api/orders?limit=2&cursor={c}"),
        };
        let (status, page) = app.get(&path).await;
        assert_eq!(status, 200, "{page}");
        pages += 1;
        for item in page["items"].as_array().unwrap() {
            seen.push((
                item["createdAt"].as_str().unwrap().to_string(),
                item["orderNo"].as_str().unwrap().to_string(),
            ));
        }
        match page["nextCursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(seen.len(), 5);
    assert_eq!(seen.iter().map(|s| &s.1).collect::<HashSet<_>>().len(), 5);
    let mut sorted = seen.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(seen, sorted, "newest first");
    app.finish().await;
}

#[tokio::test]
async fn the_list_filters_by_status_keyword_and_creation_time() {
    let app = spawn().await;
    let externals = five_orders(&app).await;
    let (_, page) = app.get(&format!("/api/orders?keyword={}", externals[3])).await;
    let items = page["items"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    let order_no = items[0]["orderNo"].as_str().unwrap().to_string();
    // By our order number too, in any case.
    let (_, page) = app
        .get(&format!("/api/orders?keyword={}", order_no.to_lowercase()))
        .await;
    assert_eq!(page["items"][0]["orderNo"], order_no.as_str());
    let (_, page) = app.get("/api/orders?status=awaiting_user_form").await;
    assert_eq!(page["items"].as_array().unwrap().len(), 5);
    let (_, page) = app.get("/api/orders?status=cancelled").await;
    assert_eq!(page["items"].as_array().unwrap().len(), 0);
    let (_, page) = app
        .get("/api/orders?createdFrom=2000-01-01T00:00:00Z&createdTo=2000-01-02T00:00:00%2B08:00")
        .await;
    assert_eq!(page["items"].as_array().unwrap().len(), 0);
    let (_, page) = app.get("/api/orders?createdFrom=2000-01-01T00:00:00Z").await;
    assert_eq!(page["items"].as_array().unwrap().len(), 5);
    let (_, page) = app.get("/api/orders?keyword=nothing-like-this").await;
    assert_eq!(page["items"].as_array().unwrap().len(), 0);
    let item = &app.get("/api/orders?limit=1").await.1["items"][0];
    for field in [
        "orderNo",
        "externalOrderNo",
        "goodsName",
        "ticketType",
        "paidAmount",
        "payableAmount",
        "status",
        "statusLabel",
        "suggestedAction",
        "createdAt",
    ] {
        assert!(item.get(field).is_some(), "{field} missing: {item}");
    }
    app.finish().await;
}

fn assert_envelope(v: &Value, code: &str) {
    assert_eq!(v["code"], code, "{v}");
    assert!(v["message"].as_str().is_some_and(|m| !m.is_empty()), "{v}");
    assert!(v["requestId"].as_str().is_some_and(|m| !m.is_empty()), "{v}");
}

#[tokio::test]
async fn bad_list_parameters_get_422_field_by_field() {
    let app = spawn().await;
    for (query, field) in [
        ("limit=0", "limit"),
        ("limit=201", "limit"),
        ("limit=abc", "limit"),
        ("status=paid", "status"),
        ("createdFrom=yesterday", "createdFrom"),
        ("createdTo=2026-13-01T00:00:00Z", "createdTo"),
        ("cursor=not-a-cursor", "cursor"),
    ] {
        let (status, v) = app.get(&format!("/api/orders?{query}")).await;
        assert_eq!(status, 422, "{query}: {v}");
        assert_envelope(&v, "VALIDATION_FAILED");
        assert!(v["fieldErrors"][field].is_string(), "{query}: {v}");
    }
    let (status, _) = app.get("/api/orders?limit=200").await;
    assert_eq!(status, 200);
    app.finish().await;
}

#[tokio::test]
async fn an_unknown_order_is_a_404_envelope_with_the_request_id_header() {
    let app = spawn().await;
    for path in [
        "/api/orders/XY20260321035147663EN6S",
        "/api/orders/not-an-order",
        "/api/orders/XY20260321035147663EN6S/events",
    ] {
        let r = app
            .http
            .get(format!("{}{path}", app.base))
            .header("x-request-id", "trace-me-1")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 404, "{path}");
        assert_eq!(r.headers()["x-request-id"], "trace-me-1");
        let v: Value = r.json().await.unwrap();
        assert_envelope(&v, "ORDER_NOT_FOUND");
        assert_eq!(v["requestId"], "trace-me-1");
    }
    let (status, v) = app.get("/api/nothing-here").await;
    assert_eq!(status, 404);
    assert_envelope(&v, "NOT_FOUND");
    app.finish().await;
}

#[tokio::test]
async fn the_events_endpoint_shows_both_intake_events_with_their_metadata() {
    let app = spawn().await;
    let r = app
        .http
        .post(app.purchase_call(&seed()).url)
        .header("x-request-id", "xgj-call-42")
        .body(app.purchase_call(&seed()).body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let order_no = app.order_no_of("4502196109060005933").await;
    let (status, v) = app.get(&format!("/api/orders/{order_no}/events")).await;
    assert_eq!(status, 200);
    let items = v["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert_eq!(items[0]["eventType"], "xgj_virtual_card_order_created");
    assert_eq!(items[1]["eventType"], "xgj_virtual_order_received");
    for e in items {
        assert_eq!(e["source"], "xgj_virtual");
        assert_eq!(e["result"], "accepted");
        assert_eq!(e["requestId"], "xgj-call-42");
        assert_eq!(e["eventVersion"], "1.0");
        assert!(e["createdAt"].is_string() && e["processedAt"].is_string());
    }
    let received = &items[1];
    assert_eq!(received["after"]["orderStatus"], "待补用户资料");
    assert_eq!(received["after"]["externalOrderNo"], "4502196109060005933");
    assert_eq!(received["after"]["ticketType"], "初级道 3 小时");
    assert_eq!(received["before"], serde_json::json!({}));
    let p = &received["payload"];
    assert_eq!(p["request"]["mchId"], MCH_ID);
    assert_eq!(p["request"]["notify_url"], seed()["notify_url"]);
    assert_eq!(p["goodsSnapshot"]["goodsName"], "初级道 3 小时-淡季");
    assert_eq!(p["goodsSnapshot"]["goodsPriceCent"], 320);
    assert_eq!(p["ticketType"], "初级道 3 小时");
    assert_eq!(p["seasonLabel"], "淡季");
    let created = &items[0];
    assert_eq!(created["after"]["virtualOrderNo"], "4502196109060005933");
    assert_eq!(created["after"]["virtualOrderStatus"], "20");
    assert!(created["payload"]["outOrderNo"].as_str().unwrap().starts_with("VS"));
    app.finish().await;
}

#[tokio::test]
async fn a_database_failure_is_a_503_envelope_without_the_cause() {
    let app = spawn().await;
    sqlx::query("ALTER TABLE order_list RENAME TO order_list_away")
        .execute(&app.pool)
        .await
        .unwrap();
    let (status, v) = app.get("/api/orders").await;
    assert_eq!(status, 503, "{v}");
    assert_envelope(&v, "SERVICE_UNAVAILABLE");
    assert!(
        !v.to_string().contains("order_list"),
        "the cause goes to the log, not the client: {v}"
    );
    sqlx::query("ALTER TABLE order_list_away RENAME TO order_list")
        .execute(&app.pool)
        .await
        .unwrap();
    app.finish().await;
}
