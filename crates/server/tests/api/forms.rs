//! The buyer's form, the price check and manual review, through the real gateway and API.

use futures::future::join_all;
use serde_json::{json, Value};
use xyt_domain::pricing::SeasonType;

use crate::helpers::*;

const SEED_EXT: &str = "4502196109060005933";

async fn seed_order(app: &TestApp) -> (String, String) {
    assert_eq!(app.purchase(&seed()).await["code"], 0);
    let no = app.order_no_of(SEED_EXT).await;
    let token = app.form_token(&no).await;
    (no, token)
}

async fn submit(app: &TestApp, token: &str, form: &Value) -> (u16, Value) {
    app.post_json(&format!("/api/public/forms/{token}"), form).await
}

async fn detail(app: &TestApp, no: &str) -> Value {
    let (status, d) = app.get(&format!("/api/orders/{no}")).await;
    assert_eq!(status, 200, "{d}");
    d
}

/// The order's events, newest first, without the delivery attempts (which the worker appends
/// asynchronously; the deliveries tests cover them).
async fn events(app: &TestApp, no: &str) -> Vec<Value> {
    let all = app.get(&format!("/api/orders/{no}/events")).await.1["items"]
        .as_array()
        .unwrap()
        .clone();
    all.into_iter()
        .filter(|e| {
            !matches!(
                e["eventType"].as_str().unwrap(),
                "user_price_exception_notified" | "user_form_group_pushed" | "user_form_group_push_failed"
            )
        })
        .collect()
}

#[tokio::test]
async fn the_seed_form_is_refused_field_by_field_and_nothing_is_stored() {
    let app = spawn().await;
    let (no, token) = seed_order(&app).await;
    let seed_form = json!({
        "name": "马上到", "phoneCountryCode": "+86", "phone": "18852341234",
        "certificateType": "id_card", "certificateNo": "320911198804223310",
        "gender": null, "birthday": null, "playDate": "2026-03-23"
    });
    let (status, v) = submit(&app, &token, &seed_form).await;
    assert_eq!(status, 422, "{v}");
    assert_eq!(v["code"], "VALIDATION_FAILED");
    let fields: Vec<&String> = v["fieldErrors"].as_object().unwrap().keys().collect();
    assert_eq!(fields, ["certificateNo", "playDate"], "{v}");
    assert!(v["requestId"].is_string());
    assert_eq!(events(&app, &no).await.len(), 2, "a refused form writes no event");
    app.finish().await;
}

#[tokio::test]
async fn the_corrected_seed_form_fails_the_price_check_exactly_as_on_the_seed_page() {
    let app = spawn().await;
    let (no, token) = seed_order(&app).await;
    let play_date = next_date_in(SeasonType::Mid);
    let (status, v) = submit(&app, &token, &good_form(play_date)).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["stateText"], "资料已提交,客服正在核对订单");
    assert_eq!(v["submitted"]["phone"], "188****1234");
    assert_eq!(v["submitted"]["certificateNo"], "3209**********3314");
    assert_eq!(v["editable"], true);

    let d = detail(&app, &no).await;
    assert_eq!(d["statusLabel"], "待人工审核");
    assert_eq!(d["suggestedAction"], "manual_review");
    assert_eq!(d["suggestedActionLabel"], "人工审核");
    assert_eq!(d["playDate"], play_date.to_string());
    assert_eq!(d["keyStatuses"][0]["stageLabel"], "审核");
    assert_eq!(d["keyStatuses"][0]["statusLabel"], "待人工处理");
    assert_eq!(d["userForm"]["name"], "马上到");
    assert_eq!(d["userForm"]["phone"], "18852341234", "whole in the detail");
    assert_eq!(d["userForm"]["certificateNo"], "320911198804223314");
    assert_eq!(d["userForm"]["certificateTypeLabel"], "内地身份证");
    let pc = &d["priceCheck"];
    assert_eq!(pc["passed"], false);
    assert_eq!(pc["seasonType"], "mid");
    assert_eq!(pc["settlementAmount"], "426.00");
    assert_eq!(pc["payableAmount"], "3.14");
    assert_eq!(pc["paidAmount"], "3.20");
    assert_eq!(pc["feeRate"], "0.02");
    assert_eq!(pc["reasons"], json!(["season_mismatch", "payable_below_settlement"]));
    let overview = &d["exceptionOverview"];
    assert!(overview["reason"].as_str().unwrap().contains("¥3.14"), "{overview}");
    assert!(
        overview["nextStep"].as_str().unwrap().contains("人工审核"),
        "{overview}"
    );
    assert!(d["latestRecords"].is_object());

    let ev = events(&app, &no).await;
    assert_eq!(ev.len(), 4);
    assert_eq!(ev[1]["eventType"], "user_form_submitted");
    assert_eq!(ev[1]["source"], "public");
    let keys: Vec<&String> = ev[1]["payload"].as_object().unwrap().keys().collect();
    let mut expected = [
        "name",
        "phone",
        "gender",
        "birthday",
        "playDate",
        "certificateNo",
        "certificateType",
        "phoneCountryCode",
    ];
    expected.sort();
    assert_eq!(keys, expected, "the seed's payload fields");
    assert_eq!(ev[0]["eventType"], "price_check_failed");
    assert_eq!(ev[0]["source"], "system");
    assert_eq!(ev[0]["payload"]["seasonType"], "mid");
    assert_eq!(ev[0]["payload"]["settlementAmount"], "426.00");
    assert_eq!(ev[0]["payload"]["ticketType"], "初级道 3 小时");
    assert_eq!(ev[0]["payload"]["playDate"], play_date.to_string());
    assert_eq!(ev[0]["before"]["orderStatus"], "待补用户资料");
    assert_eq!(ev[0]["after"]["orderStatus"], "待人工审核");

    // The list shows the buyer masked, and finds the order by the phone's last 4 digits.
    let (_, page) = app.get("/api/orders?keyword=1234").await;
    let item = &page["items"][0];
    assert_eq!(item["orderNo"], no.as_str());
    assert_eq!(item["buyerName"], "马**");
    assert_eq!(item["phone"], "188****1234");
    app.finish().await;
}

#[tokio::test]
async fn approving_the_reviewed_seed_order_moves_it_to_awaiting_payment() {
    let app = spawn().await;
    let (no, token) = seed_order(&app).await;
    submit(&app, &token, &good_form(next_date_in(SeasonType::Mid))).await;
    let r = app
        .signed_in("alice")
        .await
        .post(format!("{}/api/orders/{no}/review", app.base))
        .json(&json!({"decision": "approve", "note": "价格已与代理确认"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let d: Value = r.json().await.unwrap();
    assert_eq!(d["statusLabel"], "待代付");
    assert_eq!(d["suggestedAction"], "upload_payment_proof");
    assert_eq!(d["keyStatuses"][0]["statusLabel"], "人工通过");
    assert_eq!(d["exceptionOverview"]["title"], "待上传付款凭证");
    assert_eq!(d["latestRecords"]["review"]["by"], "admin:alice");
    assert!(d["latestRecords"]["review"]["summary"]
        .as_str()
        .unwrap()
        .contains("价格已与代理确认"));
    let ev = events(&app, &no).await;
    assert_eq!(ev[0]["eventType"], "manual_review_approved");
    assert_eq!(ev[0]["source"], "admin:alice");
    assert_eq!(ev[0]["payload"]["note"], "价格已与代理确认");
    assert_eq!(ev[0]["after"]["orderStatus"], "待代付");
    // A second approval is a command that no longer fits: 409, nothing written.
    let (status, v) = app
        .post_json(&format!("/api/orders/{no}/review"), &json!({"decision": "approve"}))
        .await;
    assert_eq!(status, 409, "{v}");
    assert_eq!(v["code"], "INVALID_STATE");
    assert_eq!(events(&app, &no).await.len(), 5);
    app.finish().await;
}

#[tokio::test]
async fn rejecting_needs_a_reason_and_cancels_the_order() {
    let app = spawn().await;
    let (no, token) = seed_order(&app).await;
    submit(&app, &token, &good_form(next_date_in(SeasonType::Mid))).await;
    let (status, v) = app
        .post_json(&format!("/api/orders/{no}/review"), &json!({"decision": "reject"}))
        .await;
    assert_eq!(status, 422, "{v}");
    assert!(v["fieldErrors"]["note"].is_string());
    let (status, v) = app
        .post_json(&format!("/api/orders/{no}/review"), &json!({"decision": "maybe"}))
        .await;
    assert_eq!(status, 422, "{v}");
    assert!(v["fieldErrors"]["decision"].is_string());
    let (status, d) = app
        .post_json(
            &format!("/api/orders/{no}/review"),
            &json!({"decision": "reject", "note": "售价错误,已联系买家退款"}),
        )
        .await;
    assert_eq!(status, 200, "{d}");
    assert_eq!(d["statusLabel"], "已取消");
    assert!(d["cancelReason"].as_str().unwrap().contains("售价错误"));
    // The buyer can no longer change the form of a cancelled order.
    let (status, v) = submit(&app, &token, &good_form(next_date_in(SeasonType::High))).await;
    assert_eq!(status, 409, "{v}");
    assert_eq!(v["code"], "FORM_LOCKED");
    app.finish().await;
}

#[tokio::test]
async fn two_operators_reviewing_at_once_one_wins_the_other_gets_409() {
    let app = spawn().await;
    let (no, token) = seed_order(&app).await;
    submit(&app, &token, &good_form(next_date_in(SeasonType::Mid))).await;
    let url = format!("/api/orders/{no}/review");
    let bodies = [
        json!({"decision": "approve", "note": "A"}),
        json!({"decision": "reject", "note": "B"}),
    ];
    let results = join_all(bodies.iter().map(|b| app.post_json(&url, b))).await;
    let mut statuses: Vec<u16> = results.iter().map(|r| r.0).collect();
    statuses.sort();
    assert_eq!(statuses, [200, 409], "{results:?}");
    let review_events = app
        .count("SELECT count(*) FROM events WHERE event_type IN ('manual_review_approved', 'manual_review_rejected')")
        .await;
    assert_eq!(review_events, 1);
    app.finish().await;
}

#[tokio::test]
async fn a_review_of_an_order_not_waiting_for_one_is_refused() {
    let app = spawn().await;
    let (no, _) = seed_order(&app).await;
    let (status, v) = app
        .post_json(&format!("/api/orders/{no}/review"), &json!({"decision": "approve"}))
        .await;
    assert_eq!(status, 409, "{v}");
    assert!(v["message"].as_str().unwrap().contains("待补用户资料"));
    let (status, _) = app
        .post_json(
            "/api/orders/XY20260321035147663EN6S/review",
            &json!({"decision": "approve"}),
        )
        .await;
    assert_eq!(status, 404);
    app.finish().await;
}

#[tokio::test]
async fn an_order_with_a_covering_price_passes_straight_to_awaiting_payment() {
    let app = spawn().await;
    let (no, token) = app.order_with_token("4502196109060000010", "初级道 3 小时-平季").await;
    let (status, v) = submit(&app, &token, &good_form(next_date_in(SeasonType::Mid))).await;
    assert_eq!(status, 200, "{v}");
    let d = detail(&app, &no).await;
    assert_eq!(d["statusLabel"], "待代付", "{d}");
    assert_eq!(d["priceCheck"]["passed"], true);
    assert_eq!(d["priceCheck"]["payableAmount"], "441.00");
    assert_eq!(d["keyStatuses"][0]["status"], "passed");
    assert_eq!(events(&app, &no).await[0]["eventType"], "price_check_passed");
    app.finish().await;
}

#[tokio::test]
async fn each_price_check_reason_is_recorded() {
    let app = spawn().await;
    // season_mismatch alone: the 平季 goods on a high-season date with a covering price.
    sqlx::query("UPDATE price_table SET settlement_amount = 1.00")
        .execute(&app.pool)
        .await
        .unwrap();
    let (no, token) = app.order_with_token("4502196109060000011", "初级道 3 小时-平季").await;
    submit(&app, &token, &good_form(next_date_in(SeasonType::High))).await;
    assert_eq!(
        detail(&app, &no).await["priceCheck"]["reasons"],
        json!(["season_mismatch"])
    );
    // payable_below_settlement alone: matching season, price too high.
    sqlx::query("UPDATE price_table SET settlement_amount = 999.00")
        .execute(&app.pool)
        .await
        .unwrap();
    let (no, token) = app.order_with_token("4502196109060000012", "初级道 3 小时-平季").await;
    submit(&app, &token, &good_form(next_date_in(SeasonType::Mid))).await;
    assert_eq!(
        detail(&app, &no).await["priceCheck"]["reasons"],
        json!(["payable_below_settlement"])
    );
    // no_settlement_price: the price table has no row.
    sqlx::query("DELETE FROM price_table WHERE season = 'mid'")
        .execute(&app.pool)
        .await
        .unwrap();
    let (no, token) = app.order_with_token("4502196109060000013", "初级道 3 小时-平季").await;
    submit(&app, &token, &good_form(next_date_in(SeasonType::Mid))).await;
    assert_eq!(
        detail(&app, &no).await["priceCheck"]["reasons"],
        json!(["no_settlement_price"])
    );
    // unknown_goods: taken in although not configured, then reviewed by hand.
    let (no, token) = app.order_with_token("4502196109060000014", "没配置的商品").await;
    submit(&app, &token, &good_form(next_date_in(SeasonType::Mid))).await;
    let d = detail(&app, &no).await;
    assert_eq!(
        d["priceCheck"]["reasons"],
        json!(["unknown_goods", "no_settlement_price"])
    );
    assert_eq!(d["statusLabel"], "待人工审核");
    app.finish().await;
}

#[tokio::test]
async fn the_buyer_may_correct_the_form_and_the_latest_counts() {
    let app = spawn().await;
    let (no, token) = app.order_with_token("4502196109060000015", "初级道 3 小时-平季").await;
    submit(&app, &token, &good_form(next_date_in(SeasonType::High))).await;
    assert_eq!(detail(&app, &no).await["statusLabel"], "待人工审核");
    // The same form again (a double click) adds nothing.
    submit(&app, &token, &good_form(next_date_in(SeasonType::High))).await;
    assert_eq!(events(&app, &no).await.len(), 4);
    let mid = next_date_in(SeasonType::Mid);
    let (status, _) = submit(&app, &token, &good_form(mid)).await;
    assert_eq!(status, 200);
    let d = detail(&app, &no).await;
    assert_eq!(d["statusLabel"], "待代付");
    assert_eq!(d["userForm"]["playDate"], mid.to_string());
    assert_eq!(d["userForm"]["submissions"], 2);
    let ev = events(&app, &no).await;
    assert_eq!(
        ev.len(),
        6,
        "{:?}",
        ev.iter().map(|e| e["eventType"].clone()).collect::<Vec<_>>()
    );
    app.finish().await;
}

#[tokio::test]
async fn every_validation_rule_has_a_valid_and_an_invalid_case() {
    let app = spawn().await;
    let (no, token) = app.order_with_token("4502196109060000016", "初级道 3 小时-平季").await;
    let mid = next_date_in(SeasonType::Mid);
    let yesterday = today() - chrono::Days::new(1);
    let beyond = today() + chrono::Days::new(181);
    let cases: Vec<(&str, Value, &str)> = vec![
        ("certificateNo", json!("320911198804223315"), "off-by-one check digit"),
        ("certificateNo", json!("110105199902300015"), "birth date 19990230"),
        ("phone", json!("1885234123"), "10 digits"),
        ("phone", json!("12852341234"), "starts with 12"),
        ("playDate", json!(yesterday.to_string()), "yesterday"),
        ("playDate", json!(beyond.to_string()), "beyond the horizon"),
        ("playDate", json!("2027-02-30"), "not a date"),
        ("certificateType", json!("driver_license"), "unknown certificate type"),
        ("name", json!("名".repeat(5000)), "10 KB name"),
        ("name", json!("   "), "blank name"),
        ("phoneCountryCode", json!("86"), "no plus"),
    ];
    for (field, value, why) in cases {
        let mut form = good_form(mid);
        form[field] = value;
        let (status, v) = submit(&app, &token, &form).await;
        assert_eq!(status, 422, "{why}: {v}");
        assert!(v["fieldErrors"][field].is_string(), "{why}: {v}");
    }
    // Passports and permits need gender and birthday.
    let mut passport = good_form(mid);
    passport["certificateType"] = json!("passport");
    passport["certificateNo"] = json!("E12345678");
    let (status, v) = submit(&app, &token, &passport).await;
    assert_eq!(status, 422);
    assert!(
        v["fieldErrors"]["gender"].is_string() && v["fieldErrors"]["birthday"].is_string(),
        "{v}"
    );
    // Malformed JSON is a 422 envelope too.
    let r = app
        .http
        .post(format!("{}/api/public/forms/{token}", app.base))
        .header("content-type", "application/json")
        .body("{\"name\":")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    assert_eq!(events(&app, &no).await.len(), 2, "nothing stored by any refused form");
    // And the valid cases of the same rules pass.
    for (field, value) in [
        ("certificateNo", json!("11010519491231002x")),
        ("phoneCountryCode", json!("+852")),
        ("name", json!("  Zhang  San ")),
    ] {
        let mut form = good_form(mid);
        form[field] = value.clone();
        if field == "phoneCountryCode" {
            form["phone"] = json!("91234567");
        }
        let (status, v) = submit(&app, &token, &form).await;
        assert_eq!(status, 200, "{field}={value}: {v}");
    }
    passport["gender"] = json!("male");
    passport["birthday"] = json!("1990-05-01");
    let (status, v) = submit(&app, &token, &passport).await;
    assert_eq!(status, 200, "{v}");
    app.finish().await;
}

#[tokio::test]
async fn an_unknown_or_mistyped_token_is_a_plain_404() {
    let app = spawn().await;
    let (_, token) = seed_order(&app).await;
    let mut mistyped = token.clone();
    let last = mistyped.pop().unwrap();
    mistyped.push(if last == 'A' { 'B' } else { 'A' });
    let mut messages = vec![];
    for t in [
        mistyped.as_str(),
        "short",
        "AAAAAAAAAAAAAAAAAAAAAAAA",
        "a.b.c.d.e.f.g.h.i.j.k.l",
    ] {
        let (status, v) = app.get(&format!("/api/public/forms/{t}")).await;
        assert_eq!(status, 404, "{t}: {v}");
        messages.push(v["message"].clone());
        let (status, _) = submit(&app, t, &good_form(next_date_in(SeasonType::Mid))).await;
        assert_eq!(status, 404);
    }
    messages.dedup();
    assert_eq!(messages.len(), 1, "the same answer whatever exists");
    let (status, v) = app.get(&format!("/api/public/forms/{token}")).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["goodsName"], "初级道 3 小时-淡季");
    assert_eq!(v["paidAmount"], "3.20");
    assert_eq!(v["stateText"], "请填写出票资料");
    assert_eq!(v["submitted"], Value::Null);
    assert_eq!(v["certificateTypes"].as_array().unwrap().len(), 4);
    app.finish().await;
}

#[tokio::test]
async fn the_public_form_is_rate_limited_per_client_address() {
    let app = Spawn::new().with(|c| c.public_rate_limit_per_minute = 5).await;
    let mut statuses = vec![];
    for _ in 0..7 {
        let r = app
            .http
            .get(format!("{}/api/public/forms/AAAAAAAAAAAAAAAAAAAAAAAA", app.base))
            .send()
            .await
            .unwrap();
        statuses.push(r.status().as_u16());
        if r.status() == 429 {
            assert!(r.headers().get("x-request-id").is_some());
            let v: Value = r.json().await.unwrap();
            assert_eq!(v["code"], "RATE_LIMITED");
        }
    }
    assert_eq!(statuses, [404, 404, 404, 404, 404, 429, 429]);
    app.finish().await;
}

#[tokio::test]
async fn a_crash_between_the_form_and_its_price_check_is_healed_by_the_sweep() {
    let app = spawn().await;
    let (no, _) = app.order_with_token("4502196109060000017", "初级道 3 小时-平季").await;
    let order_no = xyt_domain::OrderNo::parse(&no).unwrap();
    let input = serde_json::from_value(good_form(next_date_in(SeasonType::Mid))).unwrap();
    let form = xyt_domain::buyer::validate(&input, today(), 180).unwrap();
    let store = xyt_store::orders::OrderStore::new(app.pool.clone());
    let meta = xyt_domain::order::EventMeta::accepted("public", "req-crash", chrono::Utc::now());
    // The form is committed (views refreshed), and the process dies before the price check.
    store
        .execute(
            &order_no,
            xyt_domain::order::OrderCommand::SubmitUserForm { form },
            &meta,
            xyt_store::orders::OnConflict::Retry,
        )
        .await
        .unwrap();
    let d = detail(&app, &no).await;
    assert_eq!(d["priceCheckPending"], true);
    assert_eq!(d["exceptionOverview"]["title"], "价格校验中");
    // The background sweep (every 300 ms in tests) runs the owed check.
    let mut healed = false;
    for _ in 0..100 {
        if detail(&app, &no).await["statusLabel"] == "待代付" {
            healed = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(healed, "the sweep never ran the owed price check");
    assert_eq!(
        app.count("SELECT count(*) FROM events WHERE event_type LIKE 'price_check_%'")
            .await,
        1
    );
    app.finish().await;
}

#[tokio::test]
async fn the_card_link_opens_a_working_page() {
    let app = spawn().await;
    let (_, token) = seed_order(&app).await;
    let r = app.http.get(format!("{}/f/{token}", app.base)).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["referrer-policy"], "no-referrer");
    assert!(r.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .contains("nonce-"));
    let html = r.text().await.unwrap();
    assert!(html.contains("/api/public/forms/") && html.contains("出票资料"));
    app.finish().await;
}
