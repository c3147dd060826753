//! The XGJ virtual-supply gateway: signatures, timestamps, bodies, idempotency.

use futures::future::join_all;
use serde_json::{json, Value};
use xyt_integrations::xgj::supply_sign;

use crate::helpers::*;

fn data(v: &Value) -> &Value {
    assert_eq!(v["code"], 0, "expected success: {v}");
    &v["data"]
}

#[tokio::test]
async fn the_seed_payload_signed_is_answered_with_status_20_and_a_form_link() {
    let app = spawn().await;
    let answer = app.purchase(&seed()).await;
    let d = data(&answer);
    assert_eq!(answer["msg"], "OK");
    assert_eq!(d["order_status"], 20);
    assert_eq!(d["order_no"], "4502196109060005933");
    assert!(d["out_order_no"].as_str().unwrap().starts_with("VS"), "{d}");
    assert_eq!(d["order_amount"], 320);
    assert!(
        d["order_time"].is_i64() && d["end_time"].is_i64(),
        "times are integers: {d}"
    );
    let cards = d["card_items"].as_array().unwrap();
    assert_eq!(cards.len(), 1);
    let link = cards[0]["card_pwd"].as_str().unwrap();
    let token = link
        .strip_prefix("https://tickets.example.test/f/")
        .expect("link under XYT_PUBLIC_BASE_URL/f/");
    // 128 bits need at least 22 base64url characters.
    assert!(
        token.len() >= 22
            && token
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
        "{token}"
    );
    assert!(cards[0].get("card_no").is_none());

    let order_no = app.order_no_of("4502196109060005933").await;
    let (_, detail) = app.get(&format!("/api/orders/{order_no}")).await;
    assert_eq!(detail["statusLabel"], "待补用户资料");
    assert_eq!(detail["suggestedAction"], "await_user_form");
    assert_eq!(detail["paidAmount"], "3.20");
    assert_eq!(detail["payableAmount"], "3.14");
    assert_eq!(detail["formLink"], link);
    assert_eq!(detail["outOrderNo"], d["out_order_no"]);
    app.finish().await;
}

#[tokio::test]
async fn form_tokens_differ_between_orders() {
    let app = spawn().await;
    let a = app
        .purchase(&purchase("4502196109060000001", "初级道 3 小时-淡季", 1))
        .await;
    let b = app
        .purchase(&purchase("4502196109060000002", "初级道 3 小时-淡季", 1))
        .await;
    assert_ne!(
        data(&a)["card_items"][0]["card_pwd"],
        data(&b)["card_items"][0]["card_pwd"]
    );
    app.finish().await;
}

async fn assert_refused(app: &TestApp, url: &str, body: Vec<u8>, code: i64) -> Value {
    let (status, text) = app.post_raw(url, body).await;
    assert_eq!(status, 200, "{text}");
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["code"], code, "{v}");
    assert!(v.get("data").is_none(), "{v}");
    assert_eq!(app.event_count().await, 0, "a refused call writes no event");
    assert_eq!(app.count("SELECT count(*) FROM xgj_intake").await, 0);
    v
}

fn signed_url(app: &TestApp, body: &[u8], ts: i64, app_secret: &str, mch_secret: &str) -> String {
    let sign = supply_sign(APP_ID, app_secret, body, &ts.to_string(), MCH_ID, mch_secret);
    format!("{}/xgj{PURCHASE}?mch_id={MCH_ID}&timestamp={ts}&sign={sign}", app.base)
}

#[tokio::test]
async fn a_wrong_secret_is_refused_with_401() {
    let app = spawn().await;
    let body = serde_json::to_vec(&seed()).unwrap();
    let now = TestApp::now();
    let v = assert_refused(
        &app,
        &signed_url(&app, &body, now, APP_SECRET, "wrong"),
        body.clone(),
        401,
    )
    .await;
    assert_eq!(v["msg"], "签名错误");
    assert_refused(&app, &signed_url(&app, &body, now, "wrong", MCH_SECRET), body, 401).await;
    app.finish().await;
}

#[tokio::test]
async fn one_changed_body_byte_is_refused_with_401() {
    let app = spawn().await;
    let call = app.purchase_call(&seed());
    let mut body = call.body.clone();
    let i = body.iter().position(|&b| b == b'1').unwrap();
    body[i] = b'2';
    assert_refused(&app, &call.url, body, 401).await;
    app.finish().await;
}

#[tokio::test]
async fn the_same_json_with_other_spacing_is_refused_because_the_bytes_differ() {
    let app = spawn().await;
    let call = app.purchase_call(&seed());
    let pretty = serde_json::to_vec_pretty(&seed()).unwrap();
    assert_refused(&app, &call.url, pretty, 401).await;
    app.finish().await;
}

#[tokio::test]
async fn missing_or_repeated_query_parameters_are_refused() {
    let app = spawn().await;
    let body = serde_json::to_vec(&seed()).unwrap();
    let ts = TestApp::now();
    let sign = supply_sign(APP_ID, APP_SECRET, &body, &ts.to_string(), MCH_ID, MCH_SECRET);
    let base = format!("{}/xgj{PURCHASE}", app.base);
    for query in [
        format!("timestamp={ts}&sign={sign}"),
        format!("mch_id={MCH_ID}&sign={sign}"),
        format!("mch_id={MCH_ID}&timestamp={ts}"),
        String::new(),
        format!("mch_id={MCH_ID}&timestamp={ts}&sign={sign}&sign={sign}"),
        format!("mch_id={MCH_ID}&timestamp={ts}&timestamp={ts}&sign={sign}"),
        format!("mch_id={MCH_ID}&mch_id={MCH_ID}&timestamp={ts}&sign={sign}"),
    ] {
        let v = assert_refused(&app, &format!("{base}?{query}"), body.clone(), 401).await;
        assert!(v["msg"].as_str().unwrap().contains("参数"), "{query}: {v}");
    }
    // Another merchant id is not ours.
    assert_refused(
        &app,
        &format!("{base}?mch_id=other&timestamp={ts}&sign={sign}"),
        body.clone(),
        1000,
    )
    .await;
    // The complete query is accepted.
    let (_, v) = app
        .send(&xyt_integrations::xgj::SignedCall {
            url: format!("{base}?mch_id={MCH_ID}&timestamp={ts}&sign={sign}"),
            body,
        })
        .await;
    assert_eq!(v["code"], 0, "{v}");
    app.finish().await;
}

#[tokio::test]
async fn stale_and_future_timestamps_are_refused_with_408() {
    let app = spawn().await;
    let body = serde_json::to_vec(&seed()).unwrap();
    let now = TestApp::now();
    let v = assert_refused(
        &app,
        &signed_url(&app, &body, now - 301, APP_SECRET, MCH_SECRET),
        body.clone(),
        408,
    )
    .await;
    assert_eq!(v["msg"], "时间戳已超过有效期");
    assert_refused(
        &app,
        &signed_url(&app, &body, now + 600, APP_SECRET, MCH_SECRET),
        body.clone(),
        408,
    )
    .await;
    // Milliseconds are not seconds.
    assert_refused(
        &app,
        &signed_url(&app, &body, now * 1000, APP_SECRET, MCH_SECRET),
        body.clone(),
        408,
    )
    .await;
    let sign = supply_sign(APP_ID, APP_SECRET, &body, "abc", MCH_ID, MCH_SECRET);
    let url = format!("{}/xgj{PURCHASE}?mch_id={MCH_ID}&timestamp=abc&sign={sign}", app.base);
    assert_refused(&app, &url, body.clone(), 408).await;
    // 290 s old is still inside the window.
    let (_, v) = app
        .send(&xyt_integrations::xgj::SignedCall {
            url: signed_url(&app, &body, now - 290, APP_SECRET, MCH_SECRET),
            body,
        })
        .await;
    assert_eq!(v["code"], 0, "{v}");
    app.finish().await;
}

#[tokio::test]
async fn malformed_json_is_refused_with_1201() {
    let app = spawn().await;
    for body in [
        b"{\"order_no\": ".to_vec(),
        b"".to_vec(),
        b"[1,2]".to_vec(),
        b"null".to_vec(),
    ] {
        let url = signed_url(&app, &body, TestApp::now(), APP_SECRET, MCH_SECRET);
        assert_refused(&app, &url, body, 1201).await;
    }
    app.finish().await;
}

#[tokio::test]
async fn wrong_field_types_are_refused_with_1201_naming_the_field() {
    let app = spawn().await;
    let cases: Vec<(&str, Value)> = vec![
        ("buy_quantity", json!("1")),
        ("buy_quantity", json!(1.5)),
        ("order_no", json!(4502196109060005933u64)),
        ("max_amount", json!("100")),
        ("product_id", json!("1503090071635525")),
        ("goods_no", Value::Null),
    ];
    for (field, value) in cases {
        let mut body = seed();
        body[field] = value;
        let call = app.purchase_call(&body);
        let v = assert_refused(&app, &call.url, call.body, 1201).await;
        assert!(v["msg"].as_str().unwrap().contains(field), "{field}: {v}");
    }
    let mut body = seed();
    body.as_object_mut().unwrap().remove("notify_url");
    let call = app.purchase_call(&body);
    assert_refused(&app, &call.url, call.body, 1201).await;
    for q in [0, -1, 10000] {
        let mut body = seed();
        body["buy_quantity"] = json!(q);
        let call = app.purchase_call(&body);
        assert_refused(&app, &call.url, call.body, 1201).await;
    }
    app.finish().await;
}

#[tokio::test]
async fn a_one_megabyte_body_is_refused_without_being_read_whole() {
    let app = spawn().await;
    let mut body = seed();
    body["padding"] = json!("x".repeat(1024 * 1024));
    let call = app.purchase_call(&body);
    let v = assert_refused(&app, &call.url, call.body, 1).await;
    assert!(v["msg"].as_str().unwrap().contains("字节"), "{v}");
    app.finish().await;
}

#[tokio::test]
async fn a_repeated_order_no_gets_exactly_the_first_answer_and_no_second_order() {
    let app = spawn().await;
    let (first, _) = app.send(&app.purchase_call(&seed())).await;
    // Signed again later, with another timestamp: still the same answer, byte for byte.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let (second, _) = app.send(&app.purchase_call(&seed())).await;
    assert_eq!(first, second);
    // A week later the goods' price has changed; the answer has not.
    sqlx::query("UPDATE goods SET price_cent = 99999")
        .execute(&app.pool)
        .await
        .unwrap();
    let (third, _) = app.send(&app.purchase_call(&seed())).await;
    assert_eq!(first, third);
    assert_eq!(app.event_count().await, 2);
    assert_eq!(app.count("SELECT count(*) FROM order_list").await, 1);
    app.finish().await;
}

#[tokio::test]
async fn twenty_concurrent_copies_make_exactly_one_order_with_identical_answers() {
    let app = spawn().await;
    let calls: Vec<_> = (0..20).map(|_| app.purchase_call(&seed())).collect();
    let answers = join_all(calls.iter().map(|c| app.send(c))).await;
    let first = &answers[0].0;
    for (text, v) in &answers {
        assert_eq!(v["code"], 0, "{v}");
        assert_eq!(text, first);
    }
    assert_eq!(app.event_count().await, 2);
    assert_eq!(app.count("SELECT count(DISTINCT aggregate_id) FROM events").await, 1);
    assert_eq!(app.count("SELECT count(*) FROM xgj_intake").await, 1);
    assert_eq!(app.count("SELECT count(*) FROM order_list").await, 1);
    app.finish().await;
}

#[tokio::test]
async fn a_crash_after_claiming_the_order_number_is_healed_by_the_retry() {
    let app = spawn().await;
    // The process died after claiming: the claim exists, no event does.
    let claimed = "XY20260321035147663EN6S";
    sqlx::query("INSERT INTO xgj_intake (external_order_no, biz_order_no, order_no) VALUES ($1, $1, $2)")
        .bind("4502196109060005933")
        .bind(claimed)
        .execute(&app.pool)
        .await
        .unwrap();
    let v = app.purchase(&seed()).await;
    assert_eq!(v["code"], 0, "{v}");
    assert_eq!(app.event_count().await, 2);
    assert_eq!(app.order_no_of("4502196109060005933").await, claimed);
    app.finish().await;
}

#[tokio::test]
async fn a_crash_after_the_commit_but_before_the_answer_is_healed_by_the_retry() {
    let app = spawn().await;
    app.purchase(&seed()).await;
    let events_before = app.event_count().await;
    let (out_order_no, link): (String, String) = {
        let order_no = app.order_no_of("4502196109060005933").await;
        let (_, d) = app.get(&format!("/api/orders/{order_no}")).await;
        (
            d["outOrderNo"].as_str().unwrap().into(),
            d["formLink"].as_str().unwrap().into(),
        )
    };
    // The answer never reached the table: as if the process died right after the commit.
    sqlx::query("UPDATE xgj_intake SET answer = NULL, answered_at = NULL")
        .execute(&app.pool)
        .await
        .unwrap();
    let v = app.purchase(&seed()).await;
    assert_eq!(v["data"]["out_order_no"], out_order_no.as_str());
    assert_eq!(v["data"]["card_items"][0]["card_pwd"], link.as_str());
    assert_eq!(
        app.event_count().await,
        events_before,
        "the retry writes no second order"
    );
    app.finish().await;
}

#[tokio::test]
async fn unknown_goods_still_make_an_order_flagged_for_manual_review() {
    let app = spawn().await;
    let v = app.purchase(&purchase("4502196109060000003", "不存在的商品", 1)).await;
    let d = data(&v);
    assert_eq!(d["order_status"], 20);
    assert_eq!(d["order_amount"], 0);
    let order_no = app.order_no_of("4502196109060000003").await;
    let (_, detail) = app.get(&format!("/api/orders/{order_no}")).await;
    assert_eq!(detail["unknownGoods"], true);
    assert_eq!(detail["keyStatuses"][0]["status"], "flagged");
    assert_eq!(detail["exceptionOverview"]["title"], "商品未配置");
    assert!(detail["exceptionOverview"]["reason"]
        .as_str()
        .unwrap()
        .contains("不存在的商品"));
    assert_eq!(detail["paidAmount"], Value::Null);
    app.finish().await;
}

#[tokio::test]
async fn max_amount_below_price_times_quantity_is_refused_with_1202_and_no_order() {
    let app = spawn().await;
    let mut body = purchase("4502196109060000004", "初级道 3 小时-淡季", 2);
    body["max_amount"] = json!(639);
    let call = app.purchase_call(&body);
    let v = assert_refused(&app, &call.url, call.body, 1202).await;
    assert_eq!(v["msg"], "下单金额低于成本价");
    body["max_amount"] = json!(640);
    let v = app.purchase(&body).await;
    assert_eq!(data(&v)["order_amount"], 640);
    app.finish().await;
}

#[tokio::test]
async fn goods_list_and_detail_answer_from_the_goods_config() {
    let app = spawn().await;
    let now = TestApp::now();
    let (_, v) = app
        .send(
            &app.xgj
                .supply_call("/goofish/goods/list", &json!({"page_no": 1, "page_size": 2}), now),
        )
        .await;
    assert_eq!(data(&v)["count"], 3);
    assert_eq!(data(&v)["list"].as_array().unwrap().len(), 2);
    let (_, v) = app
        .send(&app.xgj.supply_call(
            "/goofish/goods/list",
            &json!({"keyword": "平季", "page_no": 1, "page_size": 100}),
            now,
        ))
        .await;
    let list = data(&v)["list"].as_array().unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["goods_no"], "初级道 3 小时-平季");
    assert_eq!(list[0]["price"], 45000);
    assert_eq!(list[0]["goods_type"], 2);
    assert!(list[0]["update_time"].is_i64());
    // page_size above 100 is refused.
    let (_, v) = app
        .send(
            &app.xgj
                .supply_call("/goofish/goods/list", &json!({"page_no": 1, "page_size": 101}), now),
        )
        .await;
    assert_ne!(v["code"], 0);

    let (_, v) = app
        .send(&app.xgj.supply_call(
            "/goofish/goods/detail",
            &json!({"goods_type": 2, "goods_no": "初级道 3 小时-淡季"}),
            now,
        ))
        .await;
    assert_eq!(data(&v)["price"], 320);
    assert_eq!(data(&v)["status"], 1);
    let (_, v) = app
        .send(&app.xgj.supply_call(
            "/goofish/goods/detail",
            &json!({"goods_type": 2, "goods_no": "nope"}),
            now,
        ))
        .await;
    assert_eq!(v["code"], 1100);
    app.finish().await;
}

#[tokio::test]
async fn open_info_and_user_info_answer_integers() {
    let app = spawn().await;
    let now = TestApp::now();
    let (_, v) = app
        .send(&app.xgj.supply_call("/goofish/open/info", &json!({}), now))
        .await;
    assert_eq!(data(&v)["app_id"], json!(677859093659717i64));
    let (_, v) = app
        .send(&app.xgj.supply_call("/goofish/user/info", &json!({}), now))
        .await;
    assert!(data(&v)["balance"].as_i64().unwrap() > 0);
    // An empty body signed as such is accepted too.
    let sign = supply_sign(APP_ID, APP_SECRET, b"", &now.to_string(), MCH_ID, MCH_SECRET);
    let url = format!(
        "{}/xgj/goofish/open/info?mch_id={MCH_ID}&timestamp={now}&sign={sign}",
        app.base
    );
    let (status, text) = app.post_raw(&url, vec![]).await;
    assert_eq!(status, 200);
    assert!(text.contains("\"code\":0"), "{text}");
    app.finish().await;
}

#[tokio::test]
async fn order_detail_returns_the_kept_answer_by_either_number() {
    let app = spawn().await;
    let (first, v) = app.send(&app.purchase_call(&seed())).await;
    let now = TestApp::now();
    let (by_no, _) = app
        .send(&app.xgj.supply_call(
            "/goofish/order/detail",
            &json!({"order_type": 2, "order_no": "4502196109060005933"}),
            now,
        ))
        .await;
    assert_eq!(by_no, first);
    let out = v["data"]["out_order_no"].as_str().unwrap();
    let (by_out, _) = app
        .send(&app.xgj.supply_call(
            "/goofish/order/detail",
            &json!({"order_type": 2, "out_order_no": out}),
            now,
        ))
        .await;
    assert_eq!(by_out, first);
    let (_, v) = app
        .send(&app.xgj.supply_call(
            "/goofish/order/detail",
            &json!({"order_type": 2, "order_no": "123"}),
            now,
        ))
        .await;
    assert_eq!(v["code"], 1200);
    app.finish().await;
}

#[tokio::test]
async fn unknown_gateway_paths_and_methods_do_not_answer_500() {
    let app = spawn().await;
    let (status, _) = app
        .post_raw(&format!("{}/xgj/goofish/nothing", app.base), b"{}".to_vec())
        .await;
    assert_eq!(status, 404);
    let r = app
        .http
        .get(format!("{}/xgj/goofish/order/purchase/create", app.base))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_client_error(), "{}", r.status());
    app.finish().await;
}

#[test]
fn the_test_helper_md5_matches_the_xgj_vector() {
    assert_eq!(
        md5_hex(br#"{"goods_type":1,"goods_no":"12344532"}"#),
        "9b8030f5097d5ed123405b003dd247c5"
    );
}

#[tokio::test]
async fn a_database_failure_answers_xgj_system_error_and_writes_nothing() {
    let app = spawn().await;
    // The intake table is gone (as good as the database failing mid-request).
    sqlx::query("ALTER TABLE xgj_intake RENAME TO xgj_intake_away")
        .execute(&app.pool)
        .await
        .unwrap();
    let (status, text) = app
        .post_raw(&app.purchase_call(&seed()).url, app.purchase_call(&seed()).body)
        .await;
    assert_eq!(status, 200, "XGJ reads codes, not statuses: {text}");
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v, json!({"code": 500, "msg": "系统异常"}), "no cause leaks to XGJ");
    assert_eq!(app.event_count().await, 0);
    // Back: XGJ's retry succeeds.
    sqlx::query("ALTER TABLE xgj_intake_away RENAME TO xgj_intake")
        .execute(&app.pool)
        .await
        .unwrap();
    assert_eq!(app.purchase(&seed()).await["code"], 0);
    app.finish().await;
}
