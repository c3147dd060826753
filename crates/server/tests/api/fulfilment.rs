//! The second half of an order through the API: payment, proof, push, screenshot, OCR and
//! matching, the buyer's notice, the profit share; and every refusal on the way.

use reqwest::multipart::{Form, Part};
use serde_json::{json, Value};
use xyt_domain::pricing::SeasonType;
use xyt_integrations::ocr::png_with_ocr_text;

use crate::deliveries::wait_for_events;
use crate::helpers::*;

pub(crate) async fn upload(
    app: &TestApp,
    no: &str,
    what: &str,
    bytes: Vec<u8>,
    name: &str,
    mime: &str,
) -> (u16, Value) {
    let part = Part::bytes(bytes).file_name(name.to_string()).mime_str(mime).unwrap();
    let r = app
        .signed_in("carol")
        .await
        .post(format!("{}/api/orders/{no}/{what}", app.base))
        .multipart(Form::new().part("file", part))
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

pub(crate) fn booking(name: &str, cert: &str, date: &str) -> Vec<u8> {
    let text = format!("预订成功\n姓名:{name}\n证件号:{cert}\n游玩日期:{date}\n票种:初级道 3 小时\n");
    png_with_ocr_text(320, 480, &text)
}

/// An order of the 平季 goods, form submitted (price passes), payment confirmed.
pub(crate) async fn paid_order(app: &TestApp, external: &str) -> (String, String) {
    let (no, token) = app.order_with_token(external, "初级道 3 小时-平季").await;
    let date = next_date_in(SeasonType::Mid);
    let (status, v) = app
        .post_json(&format!("/api/public/forms/{token}"), &good_form(date))
        .await;
    assert_eq!(status, 200, "{v}");
    app.activate_qr().await;
    let (status, d) = app
        .post_json(&format!("/api/orders/{no}/payment"), &json!({"amount": "426.00"}))
        .await;
    assert_eq!(status, 200, "{d}");
    (no, date.to_string())
}

pub(crate) async fn pushed_order(app: &TestApp, external: &str) -> (String, String) {
    let (no, date) = paid_order(app, external).await;
    let (status, d) = upload(
        app,
        &no,
        "payment/proof",
        png_with_ocr_text(100, 100, "proof"),
        "p.png",
        "image/png",
    )
    .await;
    assert_eq!(status, 200, "{d}");
    let (status, d) = app.post_json(&format!("/api/orders/{no}/push"), &json!({})).await;
    assert_eq!(status, 200, "{d}");
    assert_eq!(d["statusLabel"], "待出票", "{d}");
    // The form's group push is sent by the worker; its event settles before the caller counts.
    wait_for_events(app, &no, &["user_form_group_pushed"]).await;
    (no, date)
}

fn event_sources(ev: &[Value]) -> Vec<(String, String)> {
    ev.iter()
        .rev()
        .map(|e| {
            (
                e["eventType"].as_str().unwrap().to_string(),
                e["source"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[tokio::test]
async fn an_order_is_driven_through_the_api_to_completed_with_the_profit_share_settled() {
    let app = spawn().await;
    let (no, date) = pushed_order(&app, "4502196109060000301").await;
    let (_, d) = app.get(&format!("/api/orders/{no}")).await;
    assert_eq!(d["payment"]["amount"], "426.00");
    assert_eq!(d["payment"]["qrCodeLabel"], "收款码");
    assert_eq!(d["paymentProof"]["contentType"], "image/png");
    assert_eq!(d["push"]["status"], "pushed");
    assert_eq!(d["activeQrCode"]["label"], "收款码");
    // The proof image is served back to the admin API as an image.
    let r = app
        .http
        .get(format!("{}{}", app.base, d["paymentProof"]["url"].as_str().unwrap()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["content-type"], "image/png");
    assert_eq!(r.headers()["x-content-type-options"], "nosniff");

    let (status, d) = upload(
        &app,
        &no,
        "screenshot",
        booking("马上到", "320911198804223314", &date),
        "s.png",
        "image/png",
    )
    .await;
    assert_eq!(status, 200, "{d}");
    assert_eq!(d["statusLabel"], "已完成", "{d}");
    assert_eq!(d["screenshot"]["status"], "matched");
    assert_eq!(d["screenshot"]["ocrEngine"], "mock");
    assert!(d["screenshot"]["ocrText"].as_str().unwrap().contains("预订成功"));
    assert_eq!(d["userNotificationStatus"], "notified");
    assert_eq!(d["profitShare"]["status"], "ready");
    assert_eq!(d["profitShare"]["revenue"], "441.00");
    assert_eq!(d["profitShare"]["cost"], "426.00");
    assert_eq!(d["profitShare"]["profit"], "15.00");
    assert_eq!(d["suggestedAction"], "settle_profit");
    // The buyer's page shows the result.
    let token = d["formLink"].as_str().unwrap().rsplit('/').next().unwrap().to_string();
    let (_, page) = app.get(&format!("/api/public/forms/{token}")).await;
    assert_eq!(page["stateText"], "已出票");
    assert_eq!(page["editable"], false);

    let (status, d) = app
        .post_json(&format!("/api/orders/{no}/profit-share/settle"), &json!({}))
        .await;
    assert_eq!(status, 200, "{d}");
    assert_eq!(d["profitShare"]["status"], "settled");
    assert_eq!(d["keyStatuses"][5]["statusLabel"], "已结算");
    let (status, v) = app
        .post_json(&format!("/api/orders/{no}/profit-share/settle"), &json!({}))
        .await;
    assert_eq!(status, 409, "{v}");
    let (status, v) = app
        .post_json(&format!("/api/orders/{no}/cancel"), &json!({"reason": "买家反悔"}))
        .await;
    assert_eq!(status, 409, "cancel after completion: {v}");

    let ev = wait_for_events(&app, &no, &["profit_share_settled"]).await;
    let sources = event_sources(&ev);
    for (name, source) in [
        ("payment_confirmed", "api:test-admin"),
        ("payment_proof_uploaded", "admin:carol"),
        ("order_push_requested", "api:test-admin"),
        ("order_pushed_to_agent", "system"),
        ("agent_screenshot_uploaded", "admin:carol"),
        ("screenshot_ocr_completed", "system"),
        ("screenshot_matched", "system"),
        ("user_notified", "system"),
        ("profit_share_calculated", "system"),
        ("profit_share_settled", "api:test-admin"),
    ] {
        assert!(
            sources.contains(&(name.to_string(), source.to_string())),
            "{name} from {source} missing: {sources:?}"
        );
    }
    let ocr = ev
        .iter()
        .find(|e| e["eventType"] == "screenshot_ocr_completed")
        .unwrap();
    assert_eq!(ocr["payload"]["engine"], "mock");
    assert!(ocr["payload"]["confidence"].as_f64().unwrap() > 0.9);
    // Replaying every order it made, at its live version, gives its live detail.
    crate::disputes::assert_replay_matches_live(&app).await;
    app.finish().await;
}

#[tokio::test]
async fn the_reviewed_seed_order_is_driven_the_same_way_at_a_loss() {
    let app = spawn().await;
    assert_eq!(app.purchase(&seed()).await["code"], 0);
    let no = app.order_no_of("4502196109060005933").await;
    let token = app.form_token(&no).await;
    let date = next_date_in(SeasonType::Mid);
    app.post_json(&format!("/api/public/forms/{token}"), &good_form(date))
        .await;
    let (status, _) = app
        .post_json(
            &format!("/api/orders/{no}/review"),
            &json!({"decision": "approve", "note": "ok"}),
        )
        .await;
    assert_eq!(status, 200);
    app.activate_qr().await;
    app.post_json(&format!("/api/orders/{no}/payment"), &json!({"amount": "426.00"}))
        .await;
    upload(
        &app,
        &no,
        "payment/proof",
        png_with_ocr_text(90, 90, "p"),
        "p.png",
        "image/png",
    )
    .await;
    let (status, d) = app.post_json(&format!("/api/orders/{no}/push"), &json!({})).await;
    assert_eq!(status, 200, "{d}");
    let (_, d) = upload(
        &app,
        &no,
        "screenshot",
        booking("马上到", "3209**********3314", &date.to_string()),
        "s.png",
        "image/png",
    )
    .await;
    assert_eq!(d["statusLabel"], "已完成", "{d}");
    assert_eq!(d["profitShare"]["profit"], "-422.86");
    let (status, d) = app
        .post_json(&format!("/api/orders/{no}/profit-share/settle"), &json!({}))
        .await;
    assert_eq!(status, 200);
    assert_eq!(d["profitShare"]["status"], "settled");
    // Replaying every order it made, at its live version, gives its live detail.
    crate::disputes::assert_replay_matches_live(&app).await;
    app.finish().await;
}

#[tokio::test]
async fn a_screenshot_with_another_buyers_name_lands_in_review_with_the_reasons() {
    let app = spawn().await;
    let (no, date) = pushed_order(&app, "4502196109060000302").await;
    let (status, d) = upload(
        &app,
        &no,
        "screenshot",
        booking("张三", "320911198804223314", "2030-01-01"),
        "s.png",
        "image/png",
    )
    .await;
    assert_eq!(status, 200, "{d}");
    assert_eq!(d["statusLabel"], "待复核");
    assert_eq!(d["suggestedAction"], "review_screenshot_match");
    let reasons: Vec<&str> = d["screenshot"]["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_str().unwrap())
        .collect();
    assert!(
        reasons.contains(&"name_mismatch") && reasons.contains(&"play_date_mismatch"),
        "{reasons:?}"
    );
    assert!(
        d["exceptionOverview"]["reason"].as_str().unwrap().contains("姓名"),
        "{d}"
    );
    // Reject: the agent must send a new screenshot; then a right one goes through.
    let (status, v) = app
        .post_json(
            &format!("/api/orders/{no}/screenshot/review"),
            &json!({"decision": "reject"}),
        )
        .await;
    assert_eq!(status, 422, "{v}");
    let (status, d) = app
        .post_json(
            &format!("/api/orders/{no}/screenshot/review"),
            &json!({"decision": "reject", "note": "名字不对"}),
        )
        .await;
    assert_eq!(status, 200, "{d}");
    assert_eq!(d["statusLabel"], "待出票");
    let (_, d) = upload(
        &app,
        &no,
        "screenshot",
        booking("马上到", "320911198804223314", &date),
        "s2.png",
        "image/png",
    )
    .await;
    assert_eq!(d["statusLabel"], "已完成", "{d}");
    // Replaying every order it made, at its live version, gives its live detail.
    crate::disputes::assert_replay_matches_live(&app).await;
    app.finish().await;
}

#[tokio::test]
async fn an_operator_may_confirm_a_mismatched_screenshot() {
    let app = spawn().await;
    let (no, _) = pushed_order(&app, "4502196109060000303").await;
    upload(
        &app,
        &no,
        "screenshot",
        booking("马上 到", "320911198804223314", "2030-01-01"),
        "s.png",
        "image/png",
    )
    .await;
    let (status, d) = app
        .post_json(
            &format!("/api/orders/{no}/screenshot/review"),
            &json!({"decision": "confirm", "note": "代理改期已确认"}),
        )
        .await;
    assert_eq!(status, 200, "{d}");
    assert_eq!(d["statusLabel"], "已完成");
    // Replaying every order it made, at its live version, gives its live detail.
    crate::disputes::assert_replay_matches_live(&app).await;
    app.finish().await;
}

#[tokio::test]
async fn bad_uploads_are_refused_and_change_nothing() {
    let app = spawn().await;
    let (no, _) = paid_order(&app, "4502196109060000304").await;
    let good = png_with_ocr_text(50, 50, "first proof");
    let (status, first) = upload(&app, &no, "payment/proof", good.clone(), "p.png", "image/png").await;
    assert_eq!(status, 200);
    let proof_before = first["paymentProof"].clone();
    wait_for_events(&app, &no, &["user_form_group_pushed"]).await;
    let events_before = app.event_count().await;
    let files_before = app.count("SELECT count(*) FROM delivery_attempts").await;
    let mut elf = b"\x7fELF\x02\x01\x01\x00".to_vec();
    elf.extend(vec![0u8; 200]);
    let mut jpeg = Vec::new();
    image::DynamicImage::new_rgb8(64, 64)
        .write_to(&mut std::io::Cursor::new(&mut jpeg), image::ImageFormat::Jpeg)
        .unwrap();
    let truncated = jpeg[..jpeg.len() / 2].to_vec();
    // A PNG header claiming 50,000 × 50,000 pixels.
    let mut huge = b"\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR".to_vec();
    let ihdr = [
        &50_000u32.to_be_bytes()[..],
        &50_000u32.to_be_bytes()[..],
        &[8, 6, 0, 0, 0],
    ]
    .concat();
    huge.extend(&ihdr);
    huge.extend(crc32fast::hash(&[b"IHDR".as_slice(), &ihdr].concat()).to_be_bytes());
    let mut webp = Vec::new();
    image::DynamicImage::new_rgb8(32, 32)
        .write_to(&mut std::io::Cursor::new(&mut webp), image::ImageFormat::WebP)
        .unwrap();
    let cases: Vec<(&str, Vec<u8>, &str, &str, u16)> = vec![
        ("executable renamed .jpg", elf, "x.jpg", "image/jpeg", 422),
        (
            "HTML",
            b"<!doctype html><html><script>alert(1)</script></html>".to_vec(),
            "x.png",
            "image/png",
            422,
        ),
        (
            "SVG with script",
            b"<svg xmlns=\"http://www.w3.org/2000/svg\"><script>alert(1)</script></svg>".to_vec(),
            "x.svg",
            "image/svg+xml",
            422,
        ),
        (
            "PDF",
            b"%PDF-1.7\n1 0 obj<<>>endobj\n".to_vec(),
            "x.pdf",
            "application/pdf",
            422,
        ),
        ("zero bytes", vec![], "x.png", "image/png", 422),
        ("truncated JPEG", truncated, "x.jpg", "image/jpeg", 422),
        ("50,000 × 50,000 PNG", huge, "x.png", "image/png", 422),
        ("valid PNG declared as JPEG", good.clone(), "x.jpg", "image/jpeg", 422),
        ("over the limit", vec![0u8; 11 * 1024 * 1024], "x.png", "image/png", 413),
        (
            "a proof over the robot's 2 MB",
            vec![0u8; 2 * 1024 * 1024 + 1],
            "x.png",
            "image/png",
            413,
        ),
        ("a WebP proof the robot cannot send", webp, "x.webp", "image/webp", 422),
    ];
    for (why, bytes, name, mime, want) in cases {
        let (status, v) = upload(&app, &no, "payment/proof", bytes, name, mime).await;
        assert_eq!(status, want, "{why}: {v}");
        assert!(v["message"].as_str().is_some_and(|m| !m.is_empty()), "{why}: {v}");
        if want == 422 {
            assert!(v["fieldErrors"]["file"].is_string(), "{why}: {v}");
        }
    }
    assert_eq!(app.event_count().await, events_before, "no event");
    assert_eq!(app.count("SELECT count(*) FROM delivery_attempts").await, files_before);
    let (_, d) = app.get(&format!("/api/orders/{no}")).await;
    assert_eq!(
        d["paymentProof"]["sha256"], proof_before["sha256"],
        "the current proof is untouched"
    );
    app.finish().await;
}

#[tokio::test]
async fn each_command_in_the_wrong_state_is_refused_and_writes_nothing() {
    let app = spawn().await;
    let (no, token) = app.order_with_token("4502196109060000305", "初级道 3 小时-平季").await;
    // Payment before the price check, and without a QR code.
    let (status, v) = app
        .post_json(&format!("/api/orders/{no}/payment"), &json!({"amount": "426.00"}))
        .await;
    assert_eq!(status, 409, "{v}");
    assert_eq!(v["message"], "当前还没有生效二维码。请先到配置中心上传或登记二维码。");
    app.post_json(
        &format!("/api/public/forms/{token}"),
        &good_form(next_date_in(SeasonType::Mid)),
    )
    .await;
    wait_for_events(&app, &no, &["user_form_group_pushed"]).await;
    let before = app.event_count().await;
    // A proof before the payment, a push without a proof, a screenshot before the push,
    // a settlement before completion, a screenshot review without a mismatch, a bad amount.
    let (status, v) = upload(
        &app,
        &no,
        "payment/proof",
        png_with_ocr_text(40, 40, "p"),
        "p.png",
        "image/png",
    )
    .await;
    assert_eq!(status, 409, "{v}");
    assert_eq!(v["message"], "当前还没有付款记录,先点上面的「确认付款」。");
    let (status, v) = app.post_json(&format!("/api/orders/{no}/push"), &json!({})).await;
    assert_eq!(status, 409, "{v}");
    let (status, v) = upload(
        &app,
        &no,
        "screenshot",
        booking("马上到", "1", "2030-01-01"),
        "s.png",
        "image/png",
    )
    .await;
    assert_eq!(status, 409, "{v}");
    let (status, v) = app
        .post_json(&format!("/api/orders/{no}/profit-share/settle"), &json!({}))
        .await;
    assert_eq!(status, 409, "{v}");
    let (status, _) = app
        .post_json(
            &format!("/api/orders/{no}/screenshot/review"),
            &json!({"decision": "confirm"}),
        )
        .await;
    assert_eq!(status, 409);
    app.activate_qr().await;
    for bad in ["0", "-1", "abc", "1.001"] {
        let (status, v) = app
            .post_json(&format!("/api/orders/{no}/payment"), &json!({"amount": bad}))
            .await;
        assert_eq!(status, 422, "{bad}: {v}");
    }
    assert_eq!(app.event_count().await, before, "nothing written");
    let (status, _) = app
        .post_json(&format!("/api/orders/{no}/payment"), &json!({"amount": "426"}))
        .await;
    assert_eq!(status, 200);
    let (status, v) = app
        .post_json(&format!("/api/orders/{no}/payment"), &json!({"amount": "426"}))
        .await;
    assert_eq!(status, 409, "a second confirmation: {v}");
    // Cancel before completion needs a reason and works.
    let (status, _) = app
        .post_json(&format!("/api/orders/{no}/cancel"), &json!({"reason": " "}))
        .await;
    assert_eq!(status, 422);
    let (status, d) = app
        .post_json(&format!("/api/orders/{no}/cancel"), &json!({"reason": "买家要求取消"}))
        .await;
    assert_eq!(status, 200, "{d}");
    assert_eq!(d["statusLabel"], "已取消");
    app.finish().await;
}

#[tokio::test]
async fn two_proof_uploads_at_once_leave_exactly_one_current_proof() {
    let app = spawn().await;
    let (no, _) = paid_order(&app, "4502196109060000306").await;
    let (a, b) = tokio::join!(
        upload(
            &app,
            &no,
            "payment/proof",
            png_with_ocr_text(61, 61, "a"),
            "a.png",
            "image/png"
        ),
        upload(
            &app,
            &no,
            "payment/proof",
            png_with_ocr_text(62, 62, "b"),
            "b.png",
            "image/png"
        ),
    );
    assert!(a.0 == 200 || b.0 == 200, "{a:?} {b:?}");
    assert!([a.0, b.0].iter().all(|s| *s == 200 || *s == 409), "{a:?} {b:?}");
    let ev = wait_for_events(&app, &no, &["payment_proof_uploaded"]).await;
    let latest = ev.iter().find(|e| e["eventType"] == "payment_proof_uploaded").unwrap();
    let (_, d) = app.get(&format!("/api/orders/{no}")).await;
    assert_eq!(
        d["paymentProof"]["sha256"], latest["payload"]["sha256"],
        "the current proof is the last one recorded"
    );
    app.finish().await;
}

#[tokio::test]
async fn the_buyer_cannot_change_the_form_once_the_order_is_pushed() {
    let app = spawn().await;
    let (no, _) = pushed_order(&app, "4502196109060000307").await;
    let token = app.form_token(&no).await;
    let (status, v) = app
        .post_json(
            &format!("/api/public/forms/{token}"),
            &good_form(next_date_in(SeasonType::High)),
        )
        .await;
    assert_eq!(status, 409, "{v}");
    app.finish().await;
}
