//! What the operator console needs from the server: `availableActions` on the order detail,
//! per-status counts for the list's quick filters, ETags for live polling, and the built SPA
//! served at `/` beside the API.

use serde_json::{json, Value};
use xyt_domain::pricing::SeasonType;

use crate::helpers::*;

fn action<'a>(detail: &'a Value, name: &str) -> &'a Value {
    detail["availableActions"]
        .as_array()
        .unwrap_or_else(|| panic!("availableActions: {detail}"))
        .iter()
        .find(|a| a["action"] == name)
        .unwrap_or_else(|| panic!("{name} in {detail}"))
}

/// An order whose price check fails (the 淡季 goods played in 平季): waits for manual review.
async fn order_for_review(app: &TestApp, external: &str) -> String {
    let (no, token) = app.order_with_token(external, "初级道 3 小时-淡季").await;
    let (status, v) = app
        .post_json(
            &format!("/api/public/forms/{token}"),
            &good_form(next_date_in(SeasonType::Mid)),
        )
        .await;
    assert_eq!(status, 200, "{v}");
    no
}

#[tokio::test]
async fn the_detail_lists_every_action_enabled_only_when_possible_with_the_seed_reasons() {
    let app = spawn().await;
    let no = order_for_review(&app, "4502196109060005933").await;
    let (status, d) = app.get(&format!("/api/orders/{no}")).await;
    assert_eq!(status, 200, "{d}");
    assert_eq!(d["statusLabel"], "待人工审核", "{d}");
    let names: Vec<&str> = d["availableActions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "manual_review",
            "confirm_payment",
            "upload_payment_proof",
            "push_to_agent",
            "upload_screenshot",
            "review_screenshot_match",
            "settle_profit_share",
            "cancel"
        ]
    );
    assert_eq!(action(&d, "manual_review")["enabled"], true);
    assert_eq!(action(&d, "manual_review")["reason"], Value::Null);
    assert_eq!(action(&d, "cancel")["enabled"], true);
    assert_eq!(action(&d, "upload_payment_proof")["enabled"], false);
    assert_eq!(
        action(&d, "upload_payment_proof")["reason"],
        "当前还没有付款记录,先点上面的「确认付款」。"
    );
    assert_eq!(
        action(&d, "push_to_agent")["reason"],
        "当前不满足推送条件:通常是还没上传付款凭证或状态未到。"
    );

    // Approved, but no QR code is active: 确认付款 says what to do, in the seed's words.
    let (status, d) = app
        .post_json(&format!("/api/orders/{no}/review"), &json!({"decision": "approve"}))
        .await;
    assert_eq!(status, 200, "{d}");
    assert_eq!(d["statusLabel"], "待代付");
    assert_eq!(action(&d, "manual_review")["enabled"], false);
    assert_eq!(action(&d, "confirm_payment")["enabled"], false);
    assert_eq!(
        action(&d, "confirm_payment")["reason"],
        "当前还没有生效二维码。请先到配置中心上传或登记二维码。"
    );
    // Activating a QR code enables it, with no change to the order: the config is read live.
    app.activate_qr().await;
    let (_, d) = app.get(&format!("/api/orders/{no}")).await;
    assert_eq!(action(&d, "confirm_payment")["enabled"], true, "{d}");
    assert!(d["activeQrCode"]["imageUrl"].is_string(), "{d}");

    // A refused command answers 409 and the actions said so beforehand.
    let (status, e) = app
        .post_json(&format!("/api/orders/{no}/profit-share/settle"), &json!({}))
        .await;
    assert_eq!(status, 409, "{e}");
    assert_eq!(action(&d, "settle_profit_share")["enabled"], false);
    app.finish().await;
}

#[tokio::test]
async fn a_view_stored_before_actions_existed_still_gets_them() {
    let app = spawn().await;
    let no = order_for_review(&app, "4502196109060005934").await;
    sqlx::query("UPDATE order_detail SET doc = (doc::jsonb - 'availableActions')::json WHERE order_no = $1")
        .bind(&no)
        .execute(&app.pool)
        .await
        .unwrap();
    let (status, d) = app.get(&format!("/api/orders/{no}")).await;
    assert_eq!(status, 200, "{d}");
    assert_eq!(action(&d, "manual_review")["enabled"], true, "{d}");
    assert_eq!(d["availableActions"].as_array().unwrap().len(), 8);
    app.finish().await;
}

#[tokio::test]
async fn counts_per_status_feed_the_quick_filters_under_the_same_filters_as_the_list() {
    let app = spawn().await;
    order_for_review(&app, "4502196109060001001").await;
    order_for_review(&app, "4502196109060001002").await;
    app.order_with_token("4502196109060001003", "初级道 3 小时-淡季").await;
    let (status, c) = app.get("/api/orders/counts").await;
    assert_eq!(status, 200, "{c}");
    assert_eq!(c["total"], 3, "{c}");
    let items = c["items"].as_array().unwrap();
    assert_eq!(items.len(), 9, "every status, zeros included: {c}");
    let count = |c: &Value, s: &str| {
        c["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["status"] == s)
            .map(|i| (i["label"].as_str().unwrap().to_string(), i["count"].as_i64().unwrap()))
            .unwrap()
    };
    assert_eq!(count(&c, "pending_manual_review"), ("待人工审核".into(), 2));
    assert_eq!(count(&c, "awaiting_user_form"), ("待补用户资料".into(), 1));
    assert_eq!(count(&c, "awaiting_payment"), ("待代付".into(), 0));
    // The keyword narrows the counts as it narrows the list; the status filter does not.
    let (_, c) = app
        .get("/api/orders/counts?keyword=4502196109060001003&status=completed")
        .await;
    assert_eq!(c["total"], 1, "{c}");
    assert_eq!(count(&c, "awaiting_user_form").1, 1);
    let (status, e) = app.get("/api/orders/counts?createdFrom=yesterday").await;
    assert_eq!(status, 422, "{e}");
    assert!(e["fieldErrors"]["createdFrom"].is_string(), "{e}");
    app.finish().await;
}

#[tokio::test]
async fn polling_with_the_etag_costs_a_304_until_the_order_changes() {
    let app = spawn().await;
    let no = order_for_review(&app, "4502196109060002001").await;
    for path in [
        format!("/api/orders/{no}"),
        format!("/api/orders/{no}/events"),
        format!("/api/orders/{no}/deliveries"),
        "/api/orders".to_string(),
        "/api/orders/counts".to_string(),
        "/api/deliveries".to_string(),
    ] {
        let url = format!("{}{path}", app.base);
        let first = app.http.get(&url).send().await.unwrap();
        assert_eq!(first.status(), 200, "{path}");
        let mut tag = first.headers()["etag"].to_str().unwrap().to_string();
        // The delivery worker may still be sending the price alert: a 200 then carries a new
        // tag; once nothing changes the answer is a bodyless 304.
        let mut not_modified = false;
        for _ in 0..50 {
            let again = app.http.get(&url).header("if-none-match", &tag).send().await.unwrap();
            let new_tag = again.headers()["etag"].to_str().unwrap().to_string();
            if again.status() == 304 {
                assert_eq!(new_tag, tag, "{path}");
                assert!(again.bytes().await.unwrap().is_empty(), "{path}");
                not_modified = true;
                break;
            }
            assert_eq!(again.status(), 200, "{path}");
            assert_ne!(new_tag, tag, "{path}: a 200 to a matching tag");
            tag = new_tag;
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        assert!(not_modified, "{path}: never answered 304");
    }
    let url = format!("{}/api/orders/{no}", app.base);
    let tag = app.http.get(&url).send().await.unwrap().headers()["etag"]
        .to_str()
        .unwrap()
        .to_string();
    let (status, _) = app
        .post_json(&format!("/api/orders/{no}/review"), &json!({"decision": "approve"}))
        .await;
    assert_eq!(status, 200);
    let changed = app.http.get(&url).header("if-none-match", &tag).send().await.unwrap();
    assert_eq!(changed.status(), 200, "a change gives a new body and tag");
    assert_ne!(changed.headers()["etag"].to_str().unwrap(), tag);
    let d: Value = changed.json().await.unwrap();
    assert_eq!(d["statusLabel"], "待代付");
    app.finish().await;
}

#[tokio::test]
async fn the_console_is_served_at_the_root_and_deep_links_load_it_while_api_routes_keep_their_meaning() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("assets")).unwrap();
    std::fs::write(
        dir.path().join("index.html"),
        "<!doctype html><title>闲鱼票务</title><div id=root></div>",
    )
    .unwrap();
    std::fs::write(dir.path().join("assets/index-abc123.js"), "console.log(1)").unwrap();
    let console_dir = dir.path().to_path_buf();
    let app = Spawn::new().with(move |c| c.console_dir = console_dir).await;
    let get = |path: &str| {
        let url = format!("{}{path}", app.base);
        let http = app.http.clone();
        async move {
            let r = http.get(url).send().await.unwrap();
            let status = r.status().as_u16();
            let ct = r
                .headers()
                .get("content-type")
                .map(|v| v.to_str().unwrap().to_string())
                .unwrap_or_default();
            let cache = r
                .headers()
                .get("cache-control")
                .map(|v| v.to_str().unwrap().to_string())
                .unwrap_or_default();
            (status, ct, cache, r.text().await.unwrap())
        }
    };
    for path in [
        "/",
        "/orders/XY20260321035147663EN6S",
        "/login?redirect=%2Fdeliveries",
        "/config",
    ] {
        let (status, ct, cache, body) = get(path).await;
        assert_eq!(status, 200, "{path}");
        assert!(ct.starts_with("text/html"), "{path}: {ct}");
        assert_eq!(cache, "no-cache", "{path}");
        assert!(body.contains("<div id=root>"), "{path}");
    }
    let r = app.http.get(format!("{}/orders/XY1", app.base)).send().await.unwrap();
    let csp = r.headers()["content-security-policy"].to_str().unwrap().to_string();
    assert!(
        csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"),
        "{csp}"
    );
    let (status, ct, cache, body) = get("/assets/index-abc123.js").await;
    assert_eq!((status, body.as_str()), (200, "console.log(1)"));
    assert!(ct.starts_with("text/javascript"), "{ct}");
    assert!(cache.contains("immutable"), "{cache}");
    // A stale asset is a 404, not the HTML.
    assert_eq!(get("/assets/index-old.js").await.0, 404);
    // Reserved prefixes keep their meaning.
    let (status, ct, _, body) = get("/api/no-such-thing").await;
    assert_eq!(status, 404);
    assert!(ct.starts_with("application/json"), "{ct}");
    assert!(body.contains("NOT_FOUND"), "{body}");
    let (status, _, _, body) = get("/api/orders").await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("\"items\""));
    let (status, _, _, body) = get("/f/no-such-token").await;
    assert!(!body.contains("<div id=root>"), "/f is the buyer page: {status} {body}");
    let (status, _, _, body) = get("/docs/").await;
    assert_eq!(status, 200);
    assert!(!body.contains("<div id=root>"));
    let (status, _, _, body) = get("/xgj/nothing").await;
    assert_eq!(status, 404);
    assert!(!body.contains("<div id=root>"));
    // A POST to an unknown path is not the console.
    let r = app.http.post(format!("{}/orders", app.base)).send().await.unwrap();
    assert_eq!(r.status(), 404);
    app.finish().await;
}

#[tokio::test]
async fn without_a_built_console_the_root_says_how_to_build_it() {
    let app = spawn().await;
    let r = app.http.get(format!("{}/orders/XY1", app.base)).send().await.unwrap();
    assert_eq!(r.status(), 404);
    assert!(r.text().await.unwrap().contains("npm run build"));
    app.finish().await;
}

#[tokio::test]
async fn a_poll_answered_304_is_not_recorded_as_a_personal_data_read() {
    let app = spawn().await;
    let no = order_for_review(&app, "4502196109060003001").await;
    let reads = |app: &TestApp, no: String| {
        let pool = app.pool.clone();
        async move {
            sqlx::query_scalar::<_, i64>(
                "SELECT count(*) FROM personal_data_reads WHERE order_no = $1 AND what = 'detail'",
            )
            .bind(no)
            .fetch_one(&pool)
            .await
            .unwrap()
        }
    };
    let url = format!("{}/api/orders/{no}", app.base);
    let first = app.http.get(&url).send().await.unwrap();
    assert_eq!(first.status(), 200);
    let mut tag = first.headers()["etag"].to_str().unwrap().to_string();
    let body: Value = first.json().await.unwrap();
    assert_eq!(
        body["userForm"]["name"], "马上到",
        "the whole name for a role that needs it"
    );
    // The price alert and the agent-group push are still being recorded on the order: wait
    // until the detail stops changing (a 304).
    let mut settled = false;
    for _ in 0..50 {
        let r = app.http.get(&url).header("if-none-match", &tag).send().await.unwrap();
        if r.status() == 304 {
            settled = true;
            break;
        }
        tag = r.headers()["etag"].to_str().unwrap().to_string();
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(settled, "the detail never settled");
    let before = reads(&app, no.clone()).await;
    let mut polled_304 = 0;
    for _ in 0..5 {
        let r = app.http.get(&url).header("if-none-match", &tag).send().await.unwrap();
        if r.status() == 304 {
            polled_304 += 1;
        }
    }
    assert!(polled_304 > 0, "the unchanged detail is answered 304");
    // Every 304 handed nothing over; only answers with a body are reads.
    assert_eq!(reads(&app, no.clone()).await, before + (5 - polled_304));
    // A body is a read.
    let r = app.http.get(&url).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(reads(&app, no.clone()).await, before + (5 - polled_304) + 1);
    app.finish().await;
}
