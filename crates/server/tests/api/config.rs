//! The config centre API: every entity created, read, changed and deleted with its history;
//! invalid config refused field by field without changing anything; QR codes typed from their
//! bytes with never two active; the demo config.

use std::io::Cursor;

use futures::future::join_all;
use serde_json::{json, Value};

use crate::helpers::*;

const TT: &str = "初级道 3 小时";

async fn call(app: &TestApp, method: &str, path: &str, body: Option<Value>, operator: &str) -> (u16, Value) {
    let url = format!("{}{path}", app.base);
    let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    let mut r = app.signed_in(operator).await.request(method, url);
    if let Some(b) = body {
        r = r.json(&b);
    }
    let r = r.send().await.unwrap();
    let status = r.status().as_u16();
    let text = r.text().await.unwrap();
    let v = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or_else(|_| json!({ "raw": text }))
    };
    (status, v)
}

async fn history(app: &TestApp, entity: &str) -> Vec<Value> {
    let (status, v) = app.get(&format!("/api/config/history?entity={entity}&limit=200")).await;
    assert_eq!(status, 200, "{v}");
    v["items"].as_array().unwrap().clone()
}

async fn change_count(app: &TestApp) -> i64 {
    app.count("SELECT count(*) FROM config_changes").await
}

fn assert_422(status: u16, v: &Value, field: &str) {
    assert_eq!(status, 422, "{field}: {v}");
    assert!(v["requestId"].is_string(), "{v}");
    assert!(
        v["fieldErrors"][field].as_str().is_some_and(|m| !m.is_empty()),
        "{field} not in {v}"
    );
}

async fn ticket_type(app: &TestApp, name: &str) {
    let path = format!("/api/config/ticket-types/{name}");
    let (status, v) = call(app, "PUT", &path, Some(json!({"description": "测试"})), "alice").await;
    assert!(status == 201 || status == 200, "{v}");
}

fn png(w: u32, h: u32, seed: u8) -> Vec<u8> {
    let img = image::RgbImage::from_fn(w, h, |x, y| image::Rgb([seed, (x % 256) as u8, (y % 256) as u8]));
    let mut out = Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

fn jpeg(w: u32, h: u32) -> Vec<u8> {
    let img = image::RgbImage::from_pixel(w, h, image::Rgb([200, 10, 10]));
    let mut out = Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Jpeg).unwrap();
    out.into_inner()
}

/// One part of a hand-built multipart body: name, file name, declared type, bytes.
type Part<'a> = (&'a str, Option<&'a str>, Option<&'a str>, &'a [u8]);

fn multipart(parts: &[Part<'_>]) -> (String, Vec<u8>) {
    let boundary = "----xyt-test-boundary-7MA4YWxkTrZu0gW";
    let mut body = Vec::new();
    for (name, filename, content_type, bytes) in parts {
        body.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
        let mut disposition = format!("Content-Disposition: form-data; name=\"{name}\"");
        if let Some(f) = filename {
            disposition.push_str(&format!("; filename=\"{f}\""));
        }
        body.extend_from_slice(disposition.as_bytes());
        body.extend_from_slice(b"\r\n");
        if let Some(ct) = content_type {
            body.extend_from_slice(format!("Content-Type: {ct}\r\n").as_bytes());
        }
        body.extend_from_slice(b"\r\n");
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

async fn post_multipart(app: &TestApp, parts: &[Part<'_>]) -> (u16, Value) {
    let (content_type, body) = multipart(parts);
    let r = app
        .signed_in("alice")
        .await
        .post(format!("{}/api/config/qr-codes", app.base))
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap())
}

async fn upload(app: &TestApp, bytes: &[u8], label: &str, active: Option<&str>) -> (u16, Value) {
    let mut parts: Vec<Part<'_>> = vec![
        ("label", None, None, label.as_bytes()),
        ("file", Some("qr.png"), Some("image/png"), bytes),
    ];
    if let Some(a) = active {
        parts.push(("active", None, None, a.as_bytes()));
    }
    post_multipart(app, &parts).await
}

async fn active_count(app: &TestApp) -> i64 {
    app.count("SELECT count(*) FROM payment_qr_codes WHERE active").await
}

#[tokio::test]
async fn goods_are_created_read_updated_and_deleted_with_their_history() {
    let app = Spawn::new().seeded(Seed::GoodsOnly).await;
    ticket_type(&app, TT).await;
    ticket_type(&app, "中级道 全天").await;
    let body =
        json!({"goodsNo": "中级道 全天-旺季", "ticketType": "中级道 全天", "seasonLabel": "旺季", "priceCent": 68000});
    let (status, created) = call(&app, "POST", "/api/config/goods", Some(body.clone()), "alice").await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(
        created["goodsName"], "中级道 全天-旺季",
        "the name defaults to the goods no"
    );
    assert_eq!(created["goodsType"], 2);
    assert_eq!(created["stock"], 9999);
    assert_eq!(created["status"], 1);
    let (status, v) = call(&app, "POST", "/api/config/goods", Some(body), "alice").await;
    assert_eq!(status, 409, "{v}");
    assert_eq!(v["code"], "GOODS_EXISTS");

    let path = "/api/config/goods/中级道 全天-旺季";
    let (status, got) = app.get(path).await;
    assert_eq!(status, 200);
    assert_eq!(got, created);
    let (status, list) = app.get("/api/config/goods").await;
    assert_eq!(status, 200);
    assert_eq!(
        list.as_array().unwrap().len(),
        4,
        "three demo goods and the new one: {list}"
    );
    // A goods no with a slash in it is one path segment, percent-encoded.
    let body = json!({"goodsNo": "A/B 套餐", "ticketType": TT, "seasonLabel": "旺季", "priceCent": 1});
    assert_eq!(
        call(&app, "POST", "/api/config/goods", Some(body), "alice").await.0,
        201
    );
    let (status, v) = app.get("/api/config/goods/A%2FB%20%E5%A5%97%E9%A4%90").await;
    assert_eq!((status, v["goodsNo"].as_str()), (200, Some("A/B 套餐")), "{v}");
    assert_eq!(
        call(&app, "DELETE", "/api/config/goods/A%2FB%20套餐", None, "alice")
            .await
            .0,
        204
    );

    let update = json!({"ticketType": TT, "seasonLabel": "平季", "priceCent": 45100, "goodsName": "改名"});
    let (status, updated) = call(&app, "PUT", path, Some(update), "bob").await;
    assert_eq!(status, 200, "{updated}");
    assert_eq!(updated["ticketType"], TT);
    assert_eq!(updated["priceCent"], 45100);
    assert_eq!(updated["goodsName"], "改名");
    assert_eq!(updated["stock"], 9999, "left out, kept");
    // XGJ's goods endpoints answer from the same table.
    let g = xyt_store::config_centre::get_goods(&app.pool, "中级道 全天-旺季")
        .await
        .unwrap()
        .unwrap();
    assert_eq!((g.price_cent, g.season_label.as_str()), (45100, "平季"));

    let (status, _) = call(&app, "DELETE", path, None, "carol").await;
    assert_eq!(status, 204);
    let (status, v) = app.get(path).await;
    assert_eq!(status, 404);
    assert_eq!(v["code"], "GOODS_NOT_FOUND");
    let (status, _) = call(&app, "DELETE", path, None, "carol").await;
    assert_eq!(status, 404);
    let (status, _) = call(
        &app,
        "PUT",
        path,
        Some(json!({"ticketType": TT, "seasonLabel": "平季", "priceCent": 1})),
        "bob",
    )
    .await;
    assert_eq!(status, 404);

    let h = history(&app, "goods").await;
    assert_eq!(h.len(), 5, "{h:?}");
    let h: Vec<Value> = h.into_iter().filter(|c| c["entityKey"] == "中级道 全天-旺季").collect();
    assert_eq!(
        h.iter().map(|c| c["action"].as_str().unwrap()).collect::<Vec<_>>(),
        ["delete", "update", "create"],
        "newest first"
    );
    assert_eq!(h[0]["actor"], "admin:carol");
    assert_eq!(h[0]["before"]["priceCent"], 45100);
    assert!(h[0]["after"].is_null());
    assert_eq!(h[1]["actor"], "admin:bob");
    assert_eq!(h[1]["before"]["priceCent"], 68000);
    assert_eq!(h[1]["after"]["priceCent"], 45100);
    assert_eq!(h[2]["actor"], "admin:alice");
    assert!(h[2]["before"].is_null());
    assert_eq!(h[2]["entityKey"], "中级道 全天-旺季");
    assert!(h[2]["changedAt"].is_string());
    app.finish().await;
}

#[tokio::test]
async fn invalid_goods_are_refused_field_by_field_and_change_nothing() {
    let app = Spawn::new().seeded(Seed::GoodsOnly).await;
    ticket_type(&app, TT).await;
    let before = change_count(&app).await;
    let good = json!({"goodsNo": "新商品", "ticketType": TT, "seasonLabel": "淡季", "priceCent": 100});
    let with = |k: &str, v: Value| {
        let mut b = good.clone();
        b[k] = v;
        b
    };
    let cases = [
        (with("ticketType", json!("没有这个票种")), "ticketType"),
        (with("seasonLabel", json!("春季")), "seasonLabel"),
        (with("priceCent", json!(-1)), "priceCent"),
        (with("priceCent", json!(1_000_000_000i64)), "priceCent"),
        (with("priceCent", json!("abc")), "priceCent"),
        (with("priceCent", json!(1.5)), "priceCent"),
        (with("goodsNo", json!("")), "goodsNo"),
        (with("goodsNo", json!("x".repeat(101))), "goodsNo"),
        (with("goodsNo", json!(" 前后空格 ")), "goodsNo"),
        (with("goodsType", json!(3)), "goodsType"),
        (with("price", json!(5)), "price"),
        (
            json!({"ticketType": TT, "seasonLabel": "淡季", "priceCent": 1}),
            "goodsNo",
        ),
    ];
    for (body, field) in cases {
        let (status, v) = call(&app, "POST", "/api/config/goods", Some(body.clone()), "alice").await;
        assert_422(status, &v, field);
        assert_eq!(v["code"], "VALIDATION_FAILED");
    }
    // Several problems at once are all reported.
    let bad = json!({"goodsNo": "新商品", "ticketType": "没有", "seasonLabel": "春季", "priceCent": -5});
    let (status, v) = call(&app, "POST", "/api/config/goods", Some(bad), "alice").await;
    assert_eq!(status, 422);
    let fields = v["fieldErrors"].as_object().unwrap();
    for f in ["ticketType", "seasonLabel", "priceCent"] {
        assert!(fields.contains_key(f), "{f}: {v}");
    }
    assert!(v["fieldErrors"]["ticketType"].as_str().unwrap().contains("不存在"));
    // An update too.
    let path = "/api/config/goods/初级道 3 小时-淡季";
    let (status, v) = call(
        &app,
        "PUT",
        path,
        Some(json!({"ticketType": "没有", "seasonLabel": "淡季", "priceCent": 1})),
        "alice",
    )
    .await;
    assert_422(status, &v, "ticketType");
    let (status, v) = call(
        &app,
        "PUT",
        path,
        Some(json!({"ticketType": TT, "seasonLabel": "淡季", "priceCent": -1})),
        "alice",
    )
    .await;
    assert_422(status, &v, "priceCent");
    // Not JSON at all.
    let r = app
        .http
        .post(format!("{}/api/config/goods", app.base))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);

    assert_eq!(app.count("SELECT count(*) FROM goods").await, 3, "only the demo goods");
    let g = xyt_store::config_centre::get_goods(&app.pool, "初级道 3 小时-淡季")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(g.price_cent, 320, "unchanged");
    assert_eq!(change_count(&app).await, before, "no history for refused changes");
    app.finish().await;
}

#[tokio::test]
async fn ticket_types_and_prices_round_trip_and_a_used_ticket_type_cannot_be_deleted() {
    let app = Spawn::new().seeded(Seed::GoodsOnly).await;
    let path = format!("/api/config/ticket-types/{TT}");
    let (status, v) = call(&app, "PUT", &path, Some(json!({"description": "3 小时票"})), "alice").await;
    assert_eq!(status, 201, "{v}");
    let (status, v) = call(&app, "PUT", &path, Some(json!({"description": "三小时"})), "bob").await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["description"], "三小时");
    let (_, list) = app.get("/api/config/ticket-types").await;
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["name"], TT);
    for (bad, field) in [
        ("/api/config/ticket-types/%20x".to_string(), "name"),
        (format!("/api/config/ticket-types/{}", "长".repeat(101)), "name"),
    ] {
        let (status, v) = call(&app, "PUT", &bad, Some(json!({})), "alice").await;
        assert_422(status, &v, field);
    }

    // Prices: ticket type × season.
    for (season, amount, want) in [
        ("low", "380", "380.00"),
        ("mid", "426.00", "426.00"),
        ("旺季", "498.5", "498.50"),
    ] {
        let p = format!("/api/config/price-table/{TT}/{season}");
        let (status, v) = call(&app, "PUT", &p, Some(json!({"settlementAmount": amount})), "alice").await;
        assert_eq!(status, 201, "{v}");
        assert_eq!(v["settlementAmount"], want);
    }
    let p = format!("/api/config/price-table/{TT}/high");
    let (status, v) = call(&app, "PUT", &p, Some(json!({"settlementAmount": "498.00"})), "bob").await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["seasonLabel"], "旺季");
    let (_, table) = app.get("/api/config/price-table").await;
    let table: Vec<(String, String)> = table
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["season"].as_str().unwrap().into(),
                e["settlementAmount"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert_eq!(
        table,
        [("low", "380.00"), ("mid", "426.00"), ("high", "498.00")].map(|(a, b)| (a.to_string(), b.to_string()))
    );
    // The price check reads the same table.
    let mid = xyt_store::config_centre::settlement_amount(&app.pool, TT, xyt_domain::pricing::SeasonType::Mid)
        .await
        .unwrap();
    assert_eq!(mid.unwrap().to_string(), "426.00");

    let before = change_count(&app).await;
    for amount in [
        json!("-1"),
        json!("abc"),
        json!("1.234"),
        json!(""),
        json!(12),
        json!("1e3"),
    ] {
        let (status, v) = call(&app, "PUT", &p, Some(json!({"settlementAmount": amount})), "bob").await;
        assert_422(status, &v, "settlementAmount");
    }
    let (status, v) = call(&app, "PUT", &p, Some(json!({"settlementAmount": "-5"})), "bob").await;
    assert!(
        v["fieldErrors"]["settlementAmount"].as_str().unwrap().contains("负数"),
        "{status} {v}"
    );
    let (status, v) = call(
        &app,
        "PUT",
        "/api/config/price-table/没有的票种/low",
        Some(json!({"settlementAmount": "1"})),
        "bob",
    )
    .await;
    assert_422(status, &v, "ticketType");
    let (status, v) = call(
        &app,
        "PUT",
        &format!("/api/config/price-table/{TT}/spring"),
        Some(json!({"settlementAmount": "1"})),
        "bob",
    )
    .await;
    assert_422(status, &v, "season");
    assert_eq!(change_count(&app).await, before, "refused changes leave no history");
    let (_, table) = app.get("/api/config/price-table").await;
    assert_eq!(table[2]["settlementAmount"], "498.00", "unchanged");

    // The demo goods use the ticket type: 409, nothing deleted.
    let (status, v) = call(&app, "DELETE", &path, None, "carol").await;
    assert_eq!(status, 409, "{v}");
    assert_eq!(v["code"], "TICKET_TYPE_IN_USE");
    assert!(v["message"].as_str().unwrap().contains("初级道 3 小时-淡季"), "{v}");
    assert_eq!(app.count("SELECT count(*) FROM price_table").await, 3);

    // A price alone can go.
    let (status, _) = call(
        &app,
        "DELETE",
        &format!("/api/config/price-table/{TT}/low"),
        None,
        "carol",
    )
    .await;
    assert_eq!(status, 204);
    let (status, v) = call(
        &app,
        "DELETE",
        &format!("/api/config/price-table/{TT}/low"),
        None,
        "carol",
    )
    .await;
    assert_eq!(status, 404, "{v}");

    // Once no goods use it, the ticket type goes with its prices.
    sqlx::query("DELETE FROM goods").execute(&app.pool).await.unwrap();
    let (status, _) = call(&app, "DELETE", &path, None, "carol").await;
    assert_eq!(status, 204);
    assert_eq!(app.count("SELECT count(*) FROM price_table").await, 0);
    let (status, v) = call(&app, "DELETE", &path, None, "carol").await;
    assert_eq!(status, 404);
    assert_eq!(v["code"], "TICKET_TYPE_NOT_FOUND");

    let h = history(&app, "ticket_type").await;
    let actions: Vec<_> = h
        .iter()
        .map(|c| (c["action"].as_str().unwrap(), c["actor"].as_str().unwrap()))
        .collect();
    assert_eq!(
        actions,
        [
            ("delete", "admin:carol"),
            ("update", "admin:bob"),
            ("create", "admin:alice")
        ]
    );
    assert_eq!(h[1]["before"]["description"], "3 小时票");
    assert_eq!(h[1]["after"]["description"], "三小时");
    let h = history(&app, "price").await;
    let actions: Vec<_> = h.iter().map(|c| c["action"].as_str().unwrap()).collect();
    assert_eq!(
        actions,
        ["delete", "delete", "delete", "update", "create", "create", "create"]
    );
    assert_eq!(h[3]["entityKey"], format!("{TT}/high"));
    assert_eq!(h[3]["before"]["settlementAmount"], "498.50");
    assert_eq!(h[3]["after"]["settlementAmount"], "498.00");
    app.finish().await;
}

#[tokio::test]
async fn concurrent_price_updates_queue_and_the_history_chains_without_a_gap() {
    let app = Spawn::new().seeded(Seed::GoodsOnly).await;
    ticket_type(&app, TT).await;
    let p = format!("/api/config/price-table/{TT}/mid");
    let answers = join_all((0..12).map(|i| {
        let p = p.clone();
        let app = &app;
        async move {
            call(
                app,
                "PUT",
                &p,
                Some(json!({"settlementAmount": format!("{}.00", 400 + i)})),
                "alice",
            )
            .await
        }
    }))
    .await;
    assert!(answers.iter().all(|(s, _)| *s == 200 || *s == 201), "{answers:?}");
    assert_eq!(answers.iter().filter(|(s, _)| *s == 201).count(), 1, "created once");
    let mut h = history(&app, "price").await;
    h.reverse();
    assert_eq!(h.len(), 12);
    assert_eq!(h[0]["action"], "create");
    for w in h.windows(2) {
        assert_eq!(w[1]["action"], "update");
        assert_eq!(w[1]["before"], w[0]["after"], "each update saw the one before it");
    }
    let (_, table) = app.get("/api/config/price-table").await;
    assert_eq!(table[0]["settlementAmount"], h[11]["after"]["settlementAmount"]);
    app.finish().await;
}

#[tokio::test]
async fn the_season_calendar_is_checked_for_overlaps_and_recorded() {
    let app = Spawn::new().seeded(Seed::GoodsOnly).await;
    let (status, cal) = app.get("/api/config/season-calendar").await;
    assert_eq!(status, 200);
    assert_eq!(cal, json!({"default": "mid", "rules": []}));

    let demo = serde_json::to_value(xyt_domain::pricing::SeasonCalendar::demo()).unwrap();
    let (status, v) = call(&app, "PUT", "/api/config/season-calendar", Some(demo.clone()), "alice").await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(app.get("/api/config/season-calendar").await.1, demo);
    let stored = xyt_store::config_centre::season_calendar(&app.pool).await.unwrap();
    assert_eq!(stored, xyt_domain::pricing::SeasonCalendar::demo());

    let before = change_count(&app).await;
    let overlapping = json!({"default": "mid", "rules": [
        {"kind": "dated", "from": "2027-02-05", "to": "2027-02-20", "season": "high"},
        {"kind": "dated", "from": "2027-02-20", "to": "2027-03-05", "season": "low"},
    ]});
    let (status, v) = call(&app, "PUT", "/api/config/season-calendar", Some(overlapping), "bob").await;
    assert_422(status, &v, "rules[1]");
    assert!(v["fieldErrors"]["rules[1]"].as_str().unwrap().contains("重叠"), "{v}");
    let spring = json!({"default": "spring", "rules": []});
    let (_, v) = call(&app, "PUT", "/api/config/season-calendar", Some(spring), "bob").await;
    assert_eq!(
        v["fieldErrors"]["default"], "「spring」不是可选值,可选:low, mid, high",
        "{v}"
    );
    let cases = [
        (
            json!({"default": "mid", "rules": [
                {"kind": "recurring", "from": "07-01", "to": "08-31", "season": "high"},
                {"kind": "recurring", "from": "08-15", "to": "09-10", "season": "low"},
            ]}),
            "rules[1]",
        ),
        (
            json!({"default": "mid", "rules": [{"kind": "dated", "from": "2027-03-10", "to": "2027-03-01", "season": "low"}]}),
            "rules[0].to",
        ),
        (
            json!({"default": "mid", "rules": [{"kind": "recurring", "from": "02-30", "to": "03-01", "season": "low"}]}),
            "rules[0].from",
        ),
        (
            json!({"default": "mid", "rules": [{"kind": "recurring", "from": "01-01", "to": "01-02", "season": "spring"}]}),
            "rules[0]",
        ),
        (
            json!({"default": "mid", "rules": [{"kind": "weekly", "from": "01-01", "to": "01-02", "season": "low"}]}),
            "rules[0].kind",
        ),
        (json!({"default": "summer", "rules": []}), "default"),
        (json!({"rules": []}), "default"),
    ];
    for (body, field) in cases {
        let (status, v) = call(&app, "PUT", "/api/config/season-calendar", Some(body), "bob").await;
        assert_422(status, &v, field);
    }
    assert_eq!(app.get("/api/config/season-calendar").await.1, demo, "unchanged");
    assert_eq!(change_count(&app).await, before);

    let h = history(&app, "setting").await;
    assert_eq!(h.len(), 1);
    assert_eq!(h[0]["entityKey"], "season_calendar");
    assert_eq!(h[0]["actor"], "admin:alice");
    assert_eq!(h[0]["before"], json!({"default": "mid", "rules": []}));
    assert_eq!(h[0]["after"], demo);
    app.finish().await;
}

#[tokio::test]
async fn the_fee_rate_and_the_play_date_horizon_are_settings_in_range() {
    let app = Spawn::new().seeded(Seed::GoodsOnly).await;
    let (status, v) = app.get("/api/config/settings").await;
    assert_eq!(status, 200);
    assert_eq!(v, json!({"feeRate": "0.02", "playDateHorizonDays": 180}));

    let (status, v) = call(
        &app,
        "PUT",
        "/api/config/settings",
        Some(json!({"feeRate": "0.030"})),
        "alice",
    )
    .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v, json!({"feeRate": "0.03", "playDateHorizonDays": 180}));
    let rate = xyt_store::config_centre::fee_rate(&app.pool).await.unwrap();
    assert_eq!(rate.to_string(), "0.03", "what the price check reads");
    let (status, v) = call(
        &app,
        "PUT",
        "/api/config/settings",
        Some(json!({"playDateHorizonDays": 90})),
        "bob",
    )
    .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["playDateHorizonDays"], 90);
    assert_eq!(
        xyt_store::config_centre::play_date_horizon_days(&app.pool)
            .await
            .unwrap(),
        90
    );

    let before = change_count(&app).await;
    let cases = [
        (json!({"feeRate": "1"}), "feeRate"),
        (json!({"feeRate": "1.5"}), "feeRate"),
        (json!({"feeRate": "-0.01"}), "feeRate"),
        (json!({"feeRate": "abc"}), "feeRate"),
        (json!({"feeRate": 0.02}), "feeRate"),
        (json!({"playDateHorizonDays": 0}), "playDateHorizonDays"),
        (json!({"playDateHorizonDays": 731}), "playDateHorizonDays"),
        (json!({"playDateHorizonDays": "30"}), "playDateHorizonDays"),
        (json!({}), "body"),
    ];
    for (body, field) in cases {
        let (status, v) = call(&app, "PUT", "/api/config/settings", Some(body), "carol").await;
        assert_422(status, &v, field);
    }
    // One bad value refuses the good one beside it.
    let (status, v) = call(
        &app,
        "PUT",
        "/api/config/settings",
        Some(json!({"feeRate": "0.05", "playDateHorizonDays": 0})),
        "carol",
    )
    .await;
    assert_422(status, &v, "playDateHorizonDays");
    assert_eq!(
        app.get("/api/config/settings").await.1,
        json!({"feeRate": "0.03", "playDateHorizonDays": 90})
    );
    assert_eq!(change_count(&app).await, before);

    let h = history(&app, "setting").await;
    assert_eq!(h.len(), 2);
    assert_eq!(
        (h[0]["entityKey"].as_str(), h[0]["actor"].as_str()),
        (Some("play_date_horizon_days"), Some("admin:bob"))
    );
    assert_eq!((h[0]["before"].clone(), h[0]["after"].clone()), (json!(180), json!(90)));
    assert_eq!(
        (h[1]["entityKey"].as_str(), h[1]["actor"].as_str()),
        (Some("fee_rate"), Some("admin:alice"))
    );
    assert_eq!(
        (h[1]["before"].clone(), h[1]["after"].clone()),
        (json!("0.02"), json!("0.03"))
    );
    app.finish().await;
}

#[tokio::test]
async fn agent_groups_and_notification_targets_are_managed_with_checked_targets() {
    let app = Spawn::new().seeded(Seed::GoodsOnly).await;
    let mut ids = vec![];
    for (name, target) in [
        ("一号群", "mock://agent-group/one"),
        ("二号群", "wecom-app:wrOgQhDgAAAbc123"),
        ("三号群", "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=abc"),
    ] {
        let (status, v) = call(
            &app,
            "POST",
            "/api/config/agent-groups",
            Some(json!({"name": name, "wecomTarget": target})),
            "alice",
        )
        .await;
        assert_eq!(status, 201, "{target}: {v}");
        assert_eq!(v["active"], true);
        ids.push(v["id"].as_str().unwrap().to_string());
    }
    let before = change_count(&app).await;
    for target in [
        "ftp://x",
        "http://example.com/hook",
        // Robots live on WeCom's host only (the base a test points at its fake).
        "http://127.0.0.1:4567/cgi-bin/webhook/send?key=x",
        "wecom-app:has space",
        "wecom-app:中文",
        "mock://",
        "",
        "群聊",
    ] {
        let (status, v) = call(
            &app,
            "POST",
            "/api/config/agent-groups",
            Some(json!({"name": "坏群", "wecomTarget": target})),
            "alice",
        )
        .await;
        assert_422(status, &v, "wecomTarget");
    }
    let (status, v) = call(
        &app,
        "POST",
        "/api/config/agent-groups",
        Some(json!({"name": "", "wecomTarget": "mock://x"})),
        "alice",
    )
    .await;
    assert_422(status, &v, "name");
    let (status, v) = call(
        &app,
        "POST",
        "/api/config/agent-groups",
        Some(json!({"name": "一号群", "wecomTarget": "mock://x"})),
        "alice",
    )
    .await;
    assert_eq!(status, 409, "{v}");
    assert_eq!(v["code"], "AGENT_GROUP_NAME_TAKEN");
    assert_eq!(change_count(&app).await, before);

    let path = format!("/api/config/agent-groups/{}", ids[0]);
    let (status, v) = call(
        &app,
        "PUT",
        &path,
        Some(json!({"name": "一号群(新)", "wecomTarget": "wecom-app:abc", "active": false})),
        "bob",
    )
    .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(
        (v["name"].as_str(), v["active"].as_bool()),
        (Some("一号群(新)"), Some(false))
    );
    let (status, v) = call(
        &app,
        "PUT",
        &path,
        Some(json!({"name": "二号群", "wecomTarget": "mock://x"})),
        "bob",
    )
    .await;
    assert_eq!(status, 409, "renaming onto another group's name: {v}");
    let (status, v) = call(
        &app,
        "PUT",
        &path,
        Some(json!({"name": "x", "wecomTarget": "http://10.0.0.1/"})),
        "bob",
    )
    .await;
    assert_422(status, &v, "wecomTarget");
    let (status, _) = call(&app, "DELETE", &path, None, "carol").await;
    assert_eq!(status, 204);
    for (method, p) in [
        ("DELETE", path.clone()),
        ("DELETE", "/api/config/agent-groups/not-a-uuid".to_string()),
        ("PUT", path.clone()),
    ] {
        let (status, v) = call(
            &app,
            method,
            &p,
            Some(json!({"name": "x", "wecomTarget": "mock://x"})),
            "carol",
        )
        .await;
        assert_eq!(status, 404, "{method} {p}: {v}");
        assert_eq!(v["code"], "AGENT_GROUP_NOT_FOUND");
    }
    let (_, list) = app.get("/api/config/agent-groups").await;
    assert_eq!(list.as_array().unwrap().len(), 2);
    let h = history(&app, "agent_group").await;
    let actions: Vec<_> = h.iter().map(|c| c["action"].as_str().unwrap()).collect();
    assert_eq!(actions, ["delete", "update", "create", "create", "create"]);
    assert_eq!(h[1]["before"]["wecomTarget"], "mock://agent-group/one");
    assert_eq!(h[1]["after"]["wecomTarget"], "wecom-app:abc");
    assert_eq!(h[0]["entityKey"], ids[0].as_str());

    // Notification targets.
    let body = json!({"purpose": "price_alert", "name": "价格异常提醒", "target": "mock://wecom-bot/default"});
    let (status, t) = call(&app, "POST", "/api/config/notification-targets", Some(body), "alice").await;
    assert_eq!(status, 201, "{t}");
    let tpath = format!("/api/config/notification-targets/{}", t["id"].as_str().unwrap());
    for (body, field) in [
        (
            json!({"purpose": "price_alrt", "name": "x", "target": "mock://x"}),
            "purpose",
        ),
        (
            json!({"purpose": "price_alert", "name": " ", "target": "mock://x"}),
            "name",
        ),
        (
            json!({"purpose": "price_alert", "name": "x", "target": "http://evil.example/"}),
            "target",
        ),
        (json!({"purpose": "price_alert", "name": "x"}), "target"),
    ] {
        let (status, v) = call(
            &app,
            "POST",
            "/api/config/notification-targets",
            Some(body.clone()),
            "alice",
        )
        .await;
        assert_422(status, &v, field);
        let (status, v) = call(&app, "PUT", &tpath, Some(body), "alice").await;
        assert_422(status, &v, field);
    }
    let robot = "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=relay-key-5678";
    let body = json!({"purpose": "price_alert", "name": "运营群", "target": robot});
    let (status, v) = call(&app, "PUT", &tpath, Some(body), "bob").await;
    assert_eq!(status, 200, "{v}");
    // The robot's key is its only credential: masked in every answer once saved.
    let masked = "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=****5678";
    assert_eq!(v["target"], masked);
    let (_, list) = app.get("/api/config/notification-targets").await;
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["name"], "运营群");
    let (status, _) = call(&app, "DELETE", &tpath, None, "carol").await;
    assert_eq!(status, 204);
    let (status, v) = call(&app, "DELETE", &tpath, None, "carol").await;
    assert_eq!(status, 404);
    assert_eq!(v["code"], "NOTIFICATION_TARGET_NOT_FOUND");
    let h = history(&app, "notification_target").await;
    let actions: Vec<_> = h
        .iter()
        .map(|c| (c["action"].as_str().unwrap(), c["actor"].as_str().unwrap()))
        .collect();
    assert_eq!(
        actions,
        [
            ("delete", "admin:carol"),
            ("update", "admin:bob"),
            ("create", "admin:alice")
        ]
    );
    assert_eq!(h[1]["before"]["name"], "价格异常提醒");
    assert_eq!(h[1]["after"]["name"], "运营群");
    assert_eq!(h[1]["after"]["target"], masked, "and in the history");
    assert!(!h.iter().any(|c| c.to_string().contains("relay-key")));
    app.finish().await;
}

#[tokio::test]
async fn a_qr_code_is_served_back_byte_identical_and_only_one_is_ever_active() {
    let app = Spawn::new().seeded(Seed::GoodsOnly).await;
    let first = png(40, 40, 1);
    let (status, a) = upload(&app, &first, "支付宝收款码", None).await;
    assert_eq!(status, 201, "{a}");
    assert_eq!(a["active"], true, "the first code becomes active");
    assert_eq!(a["contentType"], "image/png");
    assert_eq!(a["size"], first.len());
    assert_eq!(a["createdBy"], "admin:alice");
    assert_eq!(a["sha256"].as_str().unwrap().len(), 64);

    let r = app
        .http
        .get(format!(
            "{}/api/config/qr-codes/{}/image",
            app.base,
            a["id"].as_str().unwrap()
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "image/png");
    assert_eq!(r.headers()["x-content-type-options"], "nosniff");
    assert_eq!(r.bytes().await.unwrap().as_ref(), first.as_slice(), "byte-identical");

    // A JPEG, declared as PNG and named .png: typed from its bytes; stored inactive.
    let j = jpeg(30, 30);
    let (status, b) = upload(&app, &j, "微信收款码", Some("false")).await;
    assert_eq!(status, 201, "{b}");
    assert_eq!(
        (b["contentType"].as_str(), b["active"].as_bool()),
        (Some("image/jpeg"), Some(false))
    );
    let r = app
        .http
        .get(format!(
            "{}/api/config/qr-codes/{}/image",
            app.base,
            b["id"].as_str().unwrap()
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["content-type"], "image/jpeg");
    assert_eq!(r.bytes().await.unwrap().as_ref(), j.as_slice());

    // A third with active=true takes over.
    let (status, c) = upload(&app, &png(20, 20, 3), "新收款码", Some("true")).await;
    assert_eq!(status, 201, "{c}");
    assert_eq!(c["active"], true);
    assert_eq!(active_count(&app).await, 1);
    let (_, list) = app.get("/api/config/qr-codes").await;
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 3);
    assert_eq!(list[0]["id"], c["id"], "the active one first");
    assert!(
        list.iter().all(|q| q.get("image").is_none()),
        "no image bytes in the list"
    );
    assert_eq!(list.iter().filter(|q| q["active"] == true).count(), 1);

    // Activating another deactivates the current one.
    let p = format!("/api/config/qr-codes/{}/activate", b["id"].as_str().unwrap());
    let (status, v) = call(&app, "POST", &p, None, "bob").await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["active"], true);
    assert_eq!(active_count(&app).await, 1);
    let (status, v) = call(&app, "POST", &p, None, "bob").await;
    assert_eq!(
        (status, v["active"].as_bool()),
        (200, Some(true)),
        "activating the active one is a no-op"
    );
    let active: uuid::Uuid = sqlx::query_scalar("SELECT id FROM payment_qr_codes WHERE active")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(active.to_string(), b["id"].as_str().unwrap());

    // The database itself refuses a second active code.
    let second = sqlx::query("UPDATE payment_qr_codes SET active = true WHERE id = $1")
        .bind(uuid::Uuid::parse_str(a["id"].as_str().unwrap()).unwrap())
        .execute(&app.pool)
        .await;
    assert!(second.is_err(), "the partial unique index refuses two active codes");

    for p in [
        format!("/api/config/qr-codes/{}/activate", uuid::Uuid::new_v4()),
        "/api/config/qr-codes/nope/activate".to_string(),
    ] {
        let (status, v) = call(&app, "POST", &p, None, "bob").await;
        assert_eq!(status, 404, "{v}");
        assert_eq!(v["code"], "QR_CODE_NOT_FOUND");
    }
    let (status, _) = app
        .get(&format!("/api/config/qr-codes/{}/image", uuid::Uuid::new_v4()))
        .await;
    assert_eq!(status, 404);

    let h = history(&app, "qr_code").await;
    let actions: Vec<_> = h
        .iter()
        .map(|c| (c["action"].as_str().unwrap(), c["actor"].as_str().unwrap()))
        .collect();
    assert_eq!(
        actions,
        [
            ("activate", "admin:bob"),
            ("deactivate", "admin:bob"),
            ("create", "admin:alice"),
            ("deactivate", "admin:alice"),
            ("create", "admin:alice"),
            ("create", "admin:alice"),
        ]
    );
    assert_eq!(h[0]["before"]["active"], false);
    assert_eq!(h[0]["after"]["active"], true);
    assert_eq!(h[1]["entityKey"], c["id"]);
    assert!(h[0]["after"].get("image").is_none());
    app.finish().await;
}

#[tokio::test]
async fn concurrent_activations_and_uploads_never_leave_two_active_codes() {
    let app = Spawn::new().seeded(Seed::GoodsOnly).await;
    let mut ids = vec![];
    for i in 0..4 {
        let (status, v) = upload(&app, &png(8, 8, i), &format!("码{i}"), Some("false")).await;
        assert_eq!(status, 201, "{v}");
        ids.push(v["id"].as_str().unwrap().to_string());
    }
    assert_eq!(active_count(&app).await, 0);
    for round in 0..3 {
        let answers = join_all((0..12).map(|i| {
            let p = format!("/api/config/qr-codes/{}/activate", ids[(i + round) % ids.len()]);
            let app = &app;
            async move { call(app, "POST", &p, None, "alice").await }
        }))
        .await;
        for (status, v) in &answers {
            assert_eq!(*status, 200, "{v}");
        }
        assert_eq!(active_count(&app).await, 1, "round {round}");
    }
    let images: Vec<Vec<u8>> = (0..6).map(|i| png(8, 8, 100 + i)).collect();
    let answers = join_all(images.iter().map(|img| upload(&app, img, "并发", Some("true")))).await;
    assert!(answers.iter().all(|(s, _)| *s == 201), "{answers:?}");
    assert_eq!(active_count(&app).await, 1);
    let (_, list) = app.get("/api/config/qr-codes").await;
    assert_eq!(
        list.as_array().unwrap().iter().filter(|q| q["active"] == true).count(),
        1
    );
    app.finish().await;
}

#[tokio::test]
async fn uploads_that_are_not_accepted_images_are_refused_and_nothing_is_stored() {
    let app = Spawn::new().seeded(Seed::GoodsOnly).await;
    let elf: Vec<u8> = b"\x7FELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\x3E\x00"
        .iter()
        .copied()
        .chain(std::iter::repeat_n(0u8, 200))
        .collect();
    let html = b"<!DOCTYPE html><html><body><script>alert(1)</script></body></html>".to_vec();
    let svg =
        br#"<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><rect/></svg>"#.to_vec();
    let gif = b"GIF89a\x01\x00\x01\x00\x00\x00\x00;".to_vec();
    let good = png(16, 16, 7);
    let truncated = good[..good.len() / 2].to_vec();
    let cases: [(&[u8], &str, &str); 5] = [
        (&elf, "NOT_AN_IMAGE", "ELF"),
        (&html, "NOT_AN_IMAGE", "HTML"),
        (&svg, "NOT_AN_IMAGE", "SVG"),
        (&gif, "NOT_AN_IMAGE", "GIF"),
        (&truncated, "IMAGE_CORRUPT", "损坏"),
    ];
    for (bytes, code, says) in cases {
        let (status, v) = upload(&app, bytes, "坏图", Some("true")).await;
        assert_eq!(status, 422, "{says}: {v}");
        assert_eq!(v["code"], code, "{v}");
        let msg = v["fieldErrors"]["file"].as_str().unwrap();
        assert!(msg.contains(says), "{msg}");
        assert!(v["message"].as_str().unwrap().contains(says), "{v}");
    }
    // Too many pixels, from the header alone.
    let (status, v) = upload(&app, &png(4097, 1, 0), "太宽", None).await;
    assert_eq!(status, 422, "{v}");
    assert_eq!(v["code"], "IMAGE_DIMENSIONS_TOO_LARGE");
    // Over 2 MiB, while streaming.
    let big: Vec<u8> = good
        .iter()
        .copied()
        .chain(std::iter::repeat_n(0u8, 2 * 1024 * 1024))
        .collect();
    let (status, v) = upload(&app, &big, "太大", None).await;
    assert_eq!(status, 413, "{v}");
    assert_eq!(v["code"], "PAYLOAD_TOO_LARGE");
    // Missing parts, unknown parts, a bad flag.
    let (status, v) = post_multipart(&app, &[("file", Some("a.png"), Some("image/png"), &good)]).await;
    assert_422(status, &v, "label");
    let (status, v) = post_multipart(&app, &[("label", None, None, "x".as_bytes())]).await;
    assert_422(status, &v, "file");
    let (status, v) = post_multipart(&app, &[("label", None, None, b"x"), ("file", Some("a.png"), None, b"")]).await;
    assert_422(status, &v, "file");
    let (status, v) = post_multipart(
        &app,
        &[
            ("label", None, None, b"x"),
            ("active", None, None, b"maybe"),
            ("file", None, None, &good),
        ],
    )
    .await;
    assert_422(status, &v, "active");
    let (status, v) = post_multipart(
        &app,
        &[
            ("label", None, None, b"x"),
            ("extra", None, None, b"1"),
            ("file", None, None, &good),
        ],
    )
    .await;
    assert_422(status, &v, "extra");
    let (status, v) = upload(&app, &good, &"名".repeat(101), None).await;
    assert_422(status, &v, "label");
    // Not multipart at all.
    let r = app
        .http
        .post(format!("{}/api/config/qr-codes", app.base))
        .header("content-type", "image/png")
        .body(good.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 415);
    assert_eq!(r.json::<Value>().await.unwrap()["code"], "UNSUPPORTED_MEDIA_TYPE");

    assert_eq!(
        app.count("SELECT count(*) FROM payment_qr_codes").await,
        0,
        "nothing stored"
    );
    assert_eq!(change_count(&app).await, 0, "no history");
    // And a good one still goes through on the same server.
    let (status, v) = upload(&app, &good, "好图", None).await;
    assert_eq!(status, 201, "{v}");
    app.finish().await;
}

#[tokio::test]
async fn the_history_pages_newest_first_and_checks_its_filters() {
    let app = Spawn::new().seeded(Seed::GoodsOnly).await;
    for i in 0..5 {
        ticket_type(&app, &format!("票种{i}")).await;
    }
    call(
        &app,
        "PUT",
        "/api/config/settings",
        Some(json!({"feeRate": "0.01"})),
        "xavier",
    )
    .await;
    let (status, page) = app.get("/api/config/history?limit=2").await;
    assert_eq!(status, 200);
    assert_eq!(page["items"].as_array().unwrap().len(), 2);
    assert_eq!(page["items"][0]["entity"], "setting");
    let mut seen = vec![];
    let mut cursor = None::<String>;
    loop {
        let path = match &cursor {
            None => "/api/config/history?entity=ticket_type&limit=2".to_string(),
            Some(c) => format!("/api/config/history?entity=ticket_type&limit=2&cursor={c}"),
        };
        let (status, page) = app.get(&path).await;
        assert_eq!(status, 200, "{page}");
        for c in page["items"].as_array().unwrap() {
            seen.push(c["id"].as_i64().unwrap());
            assert_eq!(c["entity"], "ticket_type");
        }
        match page["nextCursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    assert_eq!(seen.len(), 5);
    assert!(seen.windows(2).all(|w| w[0] > w[1]), "newest first: {seen:?}");
    for (q, field) in [
        ("entity=orders", "entity"),
        ("limit=0", "limit"),
        ("limit=201", "limit"),
        ("cursor=abc", "cursor"),
    ] {
        let (status, v) = app.get(&format!("/api/config/history?{q}")).await;
        assert_422(status, &v, field);
    }
    app.finish().await;
}

#[tokio::test]
async fn load_demo_fills_exactly_the_demo_config_once() {
    let app = Spawn::new().seeded(Seed::GoodsOnly).await;
    let qr = png(64, 64, 42);
    xyt_store::config_centre::load_demo(&app.pool, Some(&qr)).await.unwrap();
    let after_first = change_count(&app).await;
    xyt_store::config_centre::load_demo(&app.pool, Some(&png(8, 8, 0)))
        .await
        .unwrap();
    assert_eq!(change_count(&app).await, after_first, "the second load changes nothing");

    let (_, types) = app.get("/api/config/ticket-types").await;
    assert_eq!(types.as_array().unwrap().len(), 1);
    assert_eq!(types[0]["name"], TT);
    let (_, table) = app.get("/api/config/price-table").await;
    let table: Vec<(&str, &str, &str)> = table
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["ticketType"].as_str().unwrap(),
                e["season"].as_str().unwrap(),
                e["settlementAmount"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        table,
        [(TT, "low", "380.00"), (TT, "mid", "426.00"), (TT, "high", "498.00")]
    );
    let (_, cal) = app.get("/api/config/season-calendar").await;
    assert_eq!(
        cal,
        serde_json::to_value(xyt_domain::pricing::SeasonCalendar::demo()).unwrap()
    );
    let (_, settings) = app.get("/api/config/settings").await;
    assert_eq!(settings, json!({"feeRate": "0.02", "playDateHorizonDays": 180}));
    let (_, qrs) = app.get("/api/config/qr-codes").await;
    let qrs = qrs.as_array().unwrap();
    assert_eq!(qrs.len(), 1);
    assert_eq!(
        (qrs[0]["label"].as_str(), qrs[0]["active"].as_bool()),
        (Some("演示收款码"), Some(true))
    );
    assert_eq!(qrs[0]["contentType"], "image/png");
    let r = app
        .http
        .get(format!(
            "{}/api/config/qr-codes/{}/image",
            app.base,
            qrs[0]["id"].as_str().unwrap()
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.bytes().await.unwrap().as_ref(), qr.as_slice());
    let (_, groups) = app.get("/api/config/agent-groups").await;
    assert_eq!(groups.as_array().unwrap().len(), 1);
    assert_eq!(groups[0]["name"], "演示代理群");
    assert_eq!(groups[0]["wecomTarget"], "mock://agent-group/default");
    assert_eq!(groups[0]["active"], true);
    let (_, targets) = app.get("/api/config/notification-targets").await;
    assert_eq!(targets.as_array().unwrap().len(), 1);
    assert_eq!(targets[0]["purpose"], "price_alert");
    assert_eq!(targets[0]["name"], "价格异常提醒");
    assert_eq!(targets[0]["target"], "mock://wecom-bot/default");

    let (_, page) = app.get("/api/config/history?limit=200").await;
    let items = page["items"].as_array().unwrap();
    assert!(!items.is_empty());
    assert!(items.iter().all(|c| c["actor"] == "system:demo"), "{items:?}");
    // 1 ticket type, 3 prices, the calendar (the horizon is 180 already), 1 QR code, 1 group, 1 target.
    assert_eq!(items.len(), 8, "{items:?}");
    app.finish().await;
}

/// Reads `goods_no` through `cache` until the cache keeps it (the notifications of earlier
/// changes may still be on their way and clear it once more); its price.
async fn kept_price(cache: &xyt_store::config_centre::cache::ConfigCache, goods_no: &str) -> i64 {
    for _ in 0..200 {
        let price = cache.goods(goods_no).await.unwrap().unwrap().price_cent;
        if cache.holds_goods(goods_no) {
            return price;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("a listening cache keeps what it read");
}

/// Waits (up to 10 s) until `app`'s config cache no longer holds `goods_no`.
async fn forgotten(app: &TestApp, goods_no: &str) {
    for _ in 0..200 {
        if !app.config_cache().holds_goods(goods_no) {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("the cache never heard of the change");
}

#[tokio::test]
async fn a_price_and_fee_rate_changed_through_one_instance_are_used_by_the_others_next_intake() {
    let a = spawn().await;
    let b = Spawn::on(a.db_name.clone(), a.database_url.clone()).await;
    a.cache_listening().await;
    let goods_no = "初级道 3 小时-淡季";
    // A keeps the goods in memory (once the notifications of the seeding have passed) and takes
    // an order in with it.
    assert_eq!(kept_price(&a.config_cache(), goods_no).await, 320);
    assert_eq!(
        a.purchase(&purchase("4502196109060008001", goods_no, 1)).await["code"],
        0
    );
    let no = a.order_no_of("4502196109060008001").await;
    let (_, d) = a.get(&format!("/api/orders/{no}")).await;
    assert_eq!(
        (d["paidAmount"].as_str(), d["payableAmount"].as_str()),
        (Some("3.20"), Some("3.14"))
    );

    // B changes the price and the fee rate through the API.
    let update = json!({"ticketType": TT, "seasonLabel": "淡季", "priceCent": 1000});
    let path = format!("/api/config/goods/{goods_no}");
    assert_eq!(call(&b, "PUT", &path, Some(update), "alice").await.0, 200);
    let fee = json!({"feeRate": "0.1"});
    assert_eq!(call(&b, "PUT", "/api/config/settings", Some(fee), "alice").await.0, 200);

    // A hears of it (the trigger's notification: waiting for it is what the test is about, and
    // a cache that never heard would fail here), and its next order uses both.
    forgotten(&a, goods_no).await;
    assert_eq!(
        a.purchase(&purchase("4502196109060008002", goods_no, 1)).await["code"],
        0
    );
    let no = a.order_no_of("4502196109060008002").await;
    let (_, d) = a.get(&format!("/api/orders/{no}")).await;
    assert_eq!(
        (d["paidAmount"].as_str(), d["payableAmount"].as_str()),
        (Some("10.00"), Some("9.00"))
    );
    // And a change behind every API (plain SQL) reaches it too, through the trigger.
    sqlx::query("UPDATE goods SET price_cent = 2000 WHERE goods_no = $1")
        .bind(goods_no)
        .execute(&b.pool)
        .await
        .unwrap();
    forgotten(&a, goods_no).await;
    assert_eq!(
        a.purchase(&purchase("4502196109060008003", goods_no, 1)).await["code"],
        0
    );
    let no = a.order_no_of("4502196109060008003").await;
    assert_eq!(a.get(&format!("/api/orders/{no}")).await.1["paidAmount"], "20.00");
    b.finish().await;
    a.finish().await;
}

#[tokio::test]
async fn without_its_listener_the_cache_reads_through_and_a_reconnect_starts_empty() {
    use xyt_store::config_centre::cache::ConfigCache;
    let app = spawn().await;
    let goods_no = "初级道 3 小时-淡季";
    let price = |c: std::sync::Arc<ConfigCache>| async move { c.goods(goods_no).await.unwrap().unwrap().price_cent };
    let set_price = |cent: i64| {
        sqlx::query("UPDATE goods SET price_cent = $1 WHERE goods_no = $2")
            .bind(cent)
            .bind(goods_no)
            .execute(&app.pool)
    };

    // A cache whose listener never started serves nothing from memory.
    let deaf = ConfigCache::new(app.pool.clone());
    assert_eq!(price(deaf.clone()).await, 320);
    assert!(!deaf.holds_goods(goods_no));
    set_price(321).await.unwrap();
    assert_eq!(price(deaf.clone()).await, 321, "read through");

    // The app's cache keeps what it read, until its listener's connection is cut: the new
    // connection starts from nothing (what changed meanwhile was never heard).
    app.cache_listening().await;
    let cache = app.config_cache();
    assert_eq!(kept_price(&cache, goods_no).await, 321);
    let listener_pid = || async {
        sqlx::query_scalar::<_, i32>(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND query LIKE 'LISTEN%'",
        )
        .fetch_optional(&app.pool)
        .await
        .unwrap()
    };
    let old = listener_pid().await.expect("the app listens");
    sqlx::query("SELECT pg_terminate_backend($1)")
        .bind(old)
        .execute(&app.pool)
        .await
        .unwrap();
    let mut reconnected = false;
    for _ in 0..200 {
        if listener_pid().await.is_some_and(|p| p != old) && cache.is_listening() {
            reconnected = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(reconnected, "the listener reconnects");
    assert!(!cache.holds_goods(goods_no), "nothing from before the cut is served");
    set_price(322).await.unwrap();
    assert_eq!(price(cache.clone()).await, 322);
    app.finish().await;
}
