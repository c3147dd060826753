//! The senders against fake WeCom and XGJ servers on loopback (wiremock).

use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::{json, Value};
use wiremock::matchers::{body_json, method, path, query_param};
use wiremock::{Match, Mock, MockServer, Request, ResponseTemplate};
use xyt_integrations::notify::{
    ErrorClass, HttpTimeouts, Message, SendError, Sender, Senders, SendersConfig, Target, WecomAppConfig,
};
use xyt_integrations::xgj::sign::{md5_hex, supply_sign, SupplyCredentials};

const APP_ID: &str = "677859093659717";
const APP_SECRET: &str = "wK63PxlOBaY9NoqMksLeZySzGIW25ifA";
const MCH_ID: &str = "xy-ticket-mvp-001";
const MCH_SECRET: &str = "o9wl81dncmvby3ijpq7eur456zhgtaxs";

fn creds() -> SupplyCredentials {
    SupplyCredentials {
        app_id: APP_ID.into(),
        app_secret: APP_SECRET.into(),
        mch_id: MCH_ID.into(),
        mch_secret: MCH_SECRET.into(),
    }
}

fn quick() -> HttpTimeouts {
    HttpTimeouts {
        connect: Duration::from_secs(1),
        total: Duration::from_secs(5),
    }
}

fn senders_with(timeouts: HttpTimeouts, app: Option<WecomAppConfig>) -> Senders {
    Senders::new(SendersConfig {
        timeouts,
        wecom_app: app,
        xgj: creds(),
    })
    .unwrap()
}

fn senders() -> Senders {
    senders_with(quick(), None)
}

fn robot(server: &MockServer) -> Target {
    Target::WecomRobot {
        url: format!("{}/cgi-bin/webhook/send?key=robot-key-1", server.uri()),
    }
}

fn wecom(errcode: i64, errmsg: &str) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({"errcode": errcode, "errmsg": errmsg}))
}

fn robot_mock() -> wiremock::MockBuilder {
    Mock::given(method("POST"))
        .and(path("/cgi-bin/webhook/send"))
        .and(query_param("key", "robot-key-1"))
}

async fn bodies(server: &MockServer) -> Vec<Value> {
    server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .map(|r| serde_json::from_slice(&r.body).unwrap())
        .collect()
}

fn assert_error(err: &SendError, class: ErrorClass, code: &str) {
    assert_eq!((err.class, err.code.as_str()), (class, code), "{err:?}");
}

// --- WeCom group robot ---------------------------------------------------------------------

#[tokio::test]
async fn robot_text_is_posted_to_the_webhook() {
    let server = MockServer::start().await;
    robot_mock()
        .and(body_json(
            json!({"msgtype": "text", "text": {"content": "出票成功 XY001"}}),
        ))
        .respond_with(wecom(0, "ok"))
        .expect(1)
        .mount(&server)
        .await;
    let ok = senders()
        .send(&robot(&server), &Message::Text("出票成功 XY001".into()))
        .await
        .unwrap();
    assert_eq!(ok.detail, "ok");
}

#[tokio::test]
async fn robot_markdown_and_image_use_their_message_types() {
    let server = MockServer::start().await;
    robot_mock().respond_with(wecom(0, "ok")).expect(2).mount(&server).await;
    let s = senders();
    s.send(&robot(&server), &Message::Markdown("**已出票**".into()))
        .await
        .unwrap();
    let png = [b"\x89PNG\r\n\x1a\n".as_slice(), b"pixels"].concat();
    s.send(&robot(&server), &Message::Image { bytes: png.clone() })
        .await
        .unwrap();
    let b = bodies(&server).await;
    assert_eq!(
        b[0],
        json!({"msgtype": "markdown", "markdown": {"content": "**已出票**"}})
    );
    assert_eq!(
        b[1],
        json!({"msgtype": "image", "image": {
            "base64": base64::engine::general_purpose::STANDARD.encode(&png),
            "md5": md5_hex(&png),
        }})
    );
}

#[tokio::test]
async fn robot_refuses_bad_images_before_sending() {
    let server = MockServer::start().await;
    robot_mock().respond_with(wecom(0, "ok")).expect(0).mount(&server).await;
    let s = senders();
    let gif = Message::Image {
        bytes: b"GIF89a\x01\x00".to_vec(),
    };
    assert_error(
        &s.send(&robot(&server), &gif).await.unwrap_err(),
        ErrorClass::Permanent,
        "IMAGE_FORMAT",
    );
    let mut huge = vec![0u8; 2 * 1024 * 1024 + 1];
    huge[..3].copy_from_slice(&[0xFF, 0xD8, 0xFF]);
    assert_error(
        &s.send(&robot(&server), &Message::Image { bytes: huge })
            .await
            .unwrap_err(),
        ErrorClass::Permanent,
        "IMAGE_TOO_LARGE",
    );
}

#[tokio::test]
async fn robot_60020_is_permanent_with_a_hint_and_the_errmsg_kept() {
    let server = MockServer::start().await;
    let errmsg = "not allow to access from your ip, hint: [1718000000_1_abc], from ip: 203.0.113.9, more info at https://open.work.weixin.qq.com/devtool/query?e=60020";
    robot_mock().respond_with(wecom(60020, errmsg)).mount(&server).await;
    let err = senders()
        .send(&robot(&server), &Message::Text("hi".into()))
        .await
        .unwrap_err();
    assert_error(&err, ErrorClass::Permanent, "WECOM_60020");
    assert_eq!(err.message, errmsg);
    assert!(err.hint.unwrap().contains("企业可信IP"));
}

#[tokio::test]
async fn robot_rate_limit_45009_is_retryable() {
    let server = MockServer::start().await;
    robot_mock()
        .respond_with(wecom(45009, "api freq out of limit"))
        .mount(&server)
        .await;
    let err = senders()
        .send(&robot(&server), &Message::Text("hi".into()))
        .await
        .unwrap_err();
    assert_error(&err, ErrorClass::Retryable, "WECOM_45009");
    assert_eq!(err.message, "api freq out of limit");
}

#[tokio::test]
async fn http_503_is_retryable_and_404_is_not() {
    let server = MockServer::start().await;
    robot_mock()
        .respond_with(ResponseTemplate::new(503).set_body_string("upstream busy"))
        .mount(&server)
        .await;
    let err = senders()
        .send(&robot(&server), &Message::Text("hi".into()))
        .await
        .unwrap_err();
    assert_error(&err, ErrorClass::Retryable, "HTTP_503");
    let gone = Target::WecomRobot {
        url: format!("{}/nowhere?key=k", server.uri()),
    };
    let err = senders().send(&gone, &Message::Text("hi".into())).await.unwrap_err();
    assert_error(&err, ErrorClass::Permanent, "HTTP_404");
}

#[tokio::test]
async fn a_server_that_never_answers_times_out_within_the_configured_timeout() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let silent = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((sock, _)) = listener.accept().await {
            held.push(sock); // accept, read nothing, answer nothing
        }
    });
    let s = senders_with(
        HttpTimeouts {
            connect: Duration::from_secs(1),
            total: Duration::from_millis(300),
        },
        None,
    );
    let target = Target::WecomRobot {
        url: format!("http://{addr}/cgi-bin/webhook/send?key=robot-key-1"),
    };
    let started = Instant::now();
    let err = s.send(&target, &Message::Text("hi".into())).await.unwrap_err();
    let took = started.elapsed();
    silent.abort();
    assert_error(&err, ErrorClass::Retryable, "TIMEOUT");
    assert!(
        took >= Duration::from_millis(250) && took < Duration::from_secs(3),
        "{took:?}"
    );
    assert!(
        !err.message.contains("robot-key-1"),
        "the key stays out: {}",
        err.message
    );
}

#[tokio::test]
async fn a_refused_connection_is_a_retryable_network_error_without_the_key() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let target = Target::WecomRobot {
        url: format!("http://{addr}/cgi-bin/webhook/send?key=robot-key-1"),
    };
    let err = senders().send(&target, &Message::Text("hi".into())).await.unwrap_err();
    assert_error(&err, ErrorClass::Retryable, "NETWORK");
    assert!(!err.message.contains("robot-key-1"), "{}", err.message);
}

#[tokio::test]
async fn a_long_cjk_text_arrives_as_ordered_parts_within_the_limit() {
    let server = MockServer::start().await;
    robot_mock().respond_with(wecom(0, "ok")).mount(&server).await;
    let text: String = (1..=200).map(|i| format!("第{i:03}行:订单已出票,请核对。\n")).collect();
    let mut text = text[..text.char_indices().take_while(|(i, _)| *i < 5000).last().unwrap().0].to_string();
    while text.len() < 5000 {
        text.push('.');
    }

    let ok = senders()
        .send(&robot(&server), &Message::Text(text.clone()))
        .await
        .unwrap();
    let got = bodies(&server).await;
    let n = got.len();
    assert!(n >= 3, "{n} parts");
    assert_eq!(ok.detail, format!("ok: {n} parts"));
    let mut joined = String::new();
    for (i, b) in got.iter().enumerate() {
        assert_eq!(b["msgtype"], "text");
        let content = b["text"]["content"].as_str().unwrap();
        assert!(content.len() <= 2048, "part {} is {} bytes", i + 1, content.len());
        joined.push_str(
            content
                .strip_prefix(&format!("({}/{n}) ", i + 1))
                .expect("numbered in order"),
        );
        joined.push('\n');
    }
    assert_eq!(joined.trim_end(), text.trim_end());
}

#[tokio::test]
async fn a_failing_part_stops_the_rest_and_says_how_many_went_out() {
    let server = MockServer::start().await;
    robot_mock()
        .respond_with(wecom(0, "ok"))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    robot_mock()
        .respond_with(wecom(45009, "api freq out of limit"))
        .mount(&server)
        .await;
    let text = "行\n".repeat(2000); // 8000 bytes: several parts
    let err = senders().send(&robot(&server), &Message::Text(text)).await.unwrap_err();
    assert_error(&err, ErrorClass::Retryable, "WECOM_45009");
    assert!(err.message.starts_with("api freq out of limit"), "{}", err.message);
    assert!(
        err.message.contains("part 2 of") && err.message.contains("1 sent"),
        "{}",
        err.message
    );
    assert_eq!(
        server.received_requests().await.unwrap().len(),
        2,
        "stopped at the failure"
    );
}

// --- WeCom app chat ------------------------------------------------------------------------

fn app_config(server: &MockServer) -> WecomAppConfig {
    WecomAppConfig::new("ww-corp", "corp-secret-1".into()).with_base_url(server.uri())
}

fn gettoken(token: &str, expires_in: i64) -> Mock {
    Mock::given(method("GET"))
        .and(path("/cgi-bin/gettoken"))
        .and(query_param("corpid", "ww-corp"))
        .and(query_param("corpsecret", "corp-secret-1"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "errcode": 0, "errmsg": "ok", "access_token": token, "expires_in": expires_in
        })))
}

fn appchat_send(token: &str) -> wiremock::MockBuilder {
    Mock::given(method("POST"))
        .and(path("/cgi-bin/appchat/send"))
        .and(query_param("access_token", token))
}

fn chat() -> Target {
    Target::WecomApp {
        chat_id: "10891352157802033".into(),
    }
}

#[tokio::test]
async fn app_chat_token_is_fetched_once_and_cached_across_sends() {
    let server = MockServer::start().await;
    gettoken("T1", 7200).expect(1).mount(&server).await;
    appchat_send("T1")
        .and(body_json(json!({
            "chatid": "10891352157802033", "msgtype": "text", "text": {"content": "第一条"}, "safe": 0
        })))
        .respond_with(wecom(0, "ok"))
        .expect(1)
        .mount(&server)
        .await;
    appchat_send("T1")
        .and(body_json(json!({
            "chatid": "10891352157802033", "msgtype": "markdown", "markdown": {"content": "**第二条**"}, "safe": 0
        })))
        .respond_with(wecom(0, "ok"))
        .expect(1)
        .mount(&server)
        .await;
    let s = senders_with(quick(), Some(app_config(&server)));
    s.send(&chat(), &Message::Text("第一条".into())).await.unwrap();
    s.send(&chat(), &Message::Markdown("**第二条**".into())).await.unwrap();
}

#[tokio::test]
async fn a_token_within_five_minutes_of_expiry_is_not_reused() {
    let server = MockServer::start().await;
    gettoken("T1", 300).expect(2).mount(&server).await;
    appchat_send("T1")
        .respond_with(wecom(0, "ok"))
        .expect(2)
        .mount(&server)
        .await;
    let s = senders_with(quick(), Some(app_config(&server)));
    s.send(&chat(), &Message::Text("a".into())).await.unwrap();
    s.send(&chat(), &Message::Text("b".into())).await.unwrap();
}

#[tokio::test]
async fn an_expired_token_42001_is_refreshed_once_and_the_send_retried_once() {
    let server = MockServer::start().await;
    gettoken("T1", 7200).up_to_n_times(1).expect(1).mount(&server).await;
    gettoken("T2", 7200).expect(1).mount(&server).await;
    appchat_send("T1")
        .respond_with(wecom(42001, "access_token expired"))
        .expect(1)
        .mount(&server)
        .await;
    appchat_send("T2")
        .respond_with(wecom(0, "ok"))
        .expect(1)
        .mount(&server)
        .await;
    let s = senders_with(quick(), Some(app_config(&server)));
    let ok = s.send(&chat(), &Message::Text("出票成功".into())).await.unwrap();
    assert_eq!(ok.detail, "ok");
}

#[tokio::test]
async fn a_token_rejected_twice_fails_after_one_retry() {
    let server = MockServer::start().await;
    gettoken("T1", 7200).expect(2).mount(&server).await;
    appchat_send("T1")
        .respond_with(wecom(40014, "invalid access_token"))
        .expect(2)
        .mount(&server)
        .await;
    let s = senders_with(quick(), Some(app_config(&server)));
    let err = s.send(&chat(), &Message::Text("x".into())).await.unwrap_err();
    assert_error(&err, ErrorClass::Permanent, "WECOM_40014");
}

#[tokio::test]
async fn app_chat_60020_is_permanent_with_the_trusted_ip_hint() {
    let server = MockServer::start().await;
    gettoken("T1", 7200).mount(&server).await;
    let errmsg = "not allow to access from your ip, hint: [1718], from ip: 203.0.113.9";
    appchat_send("T1")
        .respond_with(wecom(60020, errmsg))
        .mount(&server)
        .await;
    let s = senders_with(quick(), Some(app_config(&server)));
    let err = s.send(&chat(), &Message::Text("x".into())).await.unwrap_err();
    assert_error(&err, ErrorClass::Permanent, "WECOM_60020");
    assert_eq!(err.message, errmsg);
    assert!(err.hint.unwrap().contains("from ip"));
}

#[tokio::test]
async fn a_wrong_corp_secret_fails_before_any_send_without_printing_it() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/cgi-bin/gettoken"))
        .respond_with(wecom(40001, "invalid credential"))
        .mount(&server)
        .await;
    appchat_send("T1")
        .respond_with(wecom(0, "ok"))
        .expect(0)
        .mount(&server)
        .await;
    let s = senders_with(quick(), Some(app_config(&server)));
    let err = s.send(&chat(), &Message::Text("x".into())).await.unwrap_err();
    assert_error(&err, ErrorClass::Permanent, "WECOM_40001");
    assert!(err.hint.as_deref().unwrap().contains("XYT_WECOM_CORP_SECRET"));
    assert!(!format!("{err:?}").contains("corp-secret-1"));
}

#[tokio::test]
async fn an_app_chat_image_is_uploaded_then_sent_by_media_id() {
    let server = MockServer::start().await;
    gettoken("T1", 7200).expect(1).mount(&server).await;
    Mock::given(method("POST"))
        .and(path("/cgi-bin/media/upload"))
        .and(query_param("access_token", "T1"))
        .and(query_param("type", "image"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "errcode": 0, "errmsg": "", "type": "image", "media_id": "MEDIA1", "created_at": "1380000000"
        })))
        .expect(1)
        .mount(&server)
        .await;
    appchat_send("T1")
        .and(body_json(json!({
            "chatid": "10891352157802033", "msgtype": "image", "image": {"media_id": "MEDIA1"}, "safe": 0
        })))
        .respond_with(wecom(0, "ok"))
        .expect(1)
        .mount(&server)
        .await;
    let jpeg = [&[0xFF, 0xD8, 0xFF, 0xE0][..], b"jpeg-bytes"].concat();
    let s = senders_with(quick(), Some(app_config(&server)));
    s.send(&chat(), &Message::Image { bytes: jpeg.clone() }).await.unwrap();

    let upload = server
        .received_requests()
        .await
        .unwrap()
        .into_iter()
        .find(|r| r.url.path() == "/cgi-bin/media/upload")
        .unwrap();
    let ctype = upload
        .headers
        .get("content-type")
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    assert!(ctype.starts_with("multipart/form-data"), "{ctype}");
    let body = String::from_utf8_lossy(&upload.body);
    assert!(
        body.contains(r#"name="media""#) && body.contains("image/jpeg"),
        "{body}"
    );
    assert!(upload.body.windows(10).any(|w| w == b"jpeg-bytes"));
}

#[tokio::test]
async fn an_app_chat_without_configuration_is_a_permanent_error_naming_the_env_vars() {
    let err = senders().send(&chat(), &Message::Text("x".into())).await.unwrap_err();
    assert_error(&err, ErrorClass::Permanent, "WECOM_APP_NOT_CONFIGURED");
    let hint = err.hint.unwrap();
    assert!(
        hint.contains("XYT_WECOM_CORP_ID") && hint.contains("XYT_WECOM_CORP_SECRET"),
        "{hint}"
    );
}

// --- XGJ order-result callback -------------------------------------------------------------

/// The fake XGJ recomputes the six-field sign over the exact body bytes it received.
struct ValidSupplySign;

impl Match for ValidSupplySign {
    fn matches(&self, req: &Request) -> bool {
        let q: std::collections::HashMap<String, String> = req.url.query_pairs().into_owned().collect();
        let (Some(mch_id), Some(ts), Some(sign)) = (q.get("mch_id"), q.get("timestamp"), q.get("sign")) else {
            return false;
        };
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64;
        let fresh = ts.parse::<i64>().is_ok_and(|t| (now - t).abs() <= 300);
        fresh && mch_id == MCH_ID && *sign == supply_sign(APP_ID, APP_SECRET, &req.body, ts, mch_id, MCH_SECRET)
    }
}

fn order_result() -> Value {
    json!({
        "order_type": 2,
        "order_no": "3712345678901234567",
        "out_order_no": "XYT-0001",
        "order_status": 20,
        "end_time": 1724414553,
        "card_items": [{"card_no": "", "card_pwd": "电子票 E-001"}],
        "remark": ""
    })
}

#[tokio::test]
async fn an_xgj_callback_carries_a_valid_six_field_sign_and_code_0_is_success() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/open/callback/virtual/order/notify/tok123"))
        .and(query_param("biz", "1"))
        .and(ValidSupplySign)
        .and(body_json(order_result()))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"code": 0, "msg": "OK"})))
        .expect(1)
        .mount(&server)
        .await;
    let target = Target::XgjCallback {
        url: format!("{}/api/open/callback/virtual/order/notify/tok123?biz=1", server.uri()),
    };
    let ok = senders()
        .send(&target, &Message::XgjCallback(order_result()))
        .await
        .unwrap();
    assert_eq!(ok.detail, "xgj: code 0 OK");

    let req = &server.received_requests().await.unwrap()[0];
    assert_eq!(req.body, serde_json::to_vec(&order_result()).unwrap(), "compact JSON");
    assert_eq!(req.headers.get("content-type").unwrap(), "application/json");
}

#[tokio::test]
async fn an_xgj_code_other_than_0_or_a_5xx_is_retryable() {
    let server = MockServer::start().await;
    Mock::given(path("/cb/a"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"code": 401, "msg": "签名错误"})))
        .mount(&server)
        .await;
    Mock::given(path("/cb/b"))
        .respond_with(ResponseTemplate::new(502))
        .mount(&server)
        .await;
    let s = senders();
    let to = |p: &str| Target::XgjCallback {
        url: format!("{}{p}", server.uri()),
    };
    let err = s
        .send(&to("/cb/a"), &Message::XgjCallback(order_result()))
        .await
        .unwrap_err();
    assert_error(&err, ErrorClass::Retryable, "XGJ_401");
    assert_eq!(err.message, "签名错误");
    let err = s
        .send(&to("/cb/b"), &Message::XgjCallback(order_result()))
        .await
        .unwrap_err();
    assert_error(&err, ErrorClass::Retryable, "HTTP_502");
}

// --- Dispatch --------------------------------------------------------------------------------

#[tokio::test]
async fn a_message_the_target_cannot_take_is_unsupported() {
    let s = senders();
    let xgj = Target::XgjCallback {
        url: "http://127.0.0.1:9/cb".into(),
    };
    let err = s.send(&xgj, &Message::Text("hi".into())).await.unwrap_err();
    assert_error(&err, ErrorClass::Permanent, "UNSUPPORTED_MESSAGE");
    let bot = Target::WecomRobot {
        url: "http://127.0.0.1:9/cgi-bin/webhook/send?key=k".into(),
    };
    let err = s.send(&bot, &Message::XgjCallback(order_result())).await.unwrap_err();
    assert_error(&err, ErrorClass::Permanent, "UNSUPPORTED_MESSAGE");
    let err = s
        .send(&chat(), &Message::XgjCallback(order_result()))
        .await
        .unwrap_err();
    assert_error(&err, ErrorClass::Permanent, "UNSUPPORTED_MESSAGE");
}

#[tokio::test]
async fn mock_targets_are_recorded_not_sent() {
    let s = senders();
    let t = Target::parse("mock://wecom-bot/default", xyt_domain::target::UrlTarget::WecomRobot).unwrap();
    let ok = s.send(&t, &Message::Text("演示".into())).await.unwrap();
    assert_eq!(ok.detail, "mock: recorded");
    assert_eq!(s.mock.sent(), vec![(t, Message::Text("演示".into()))]);
}

#[tokio::test]
async fn a_malformed_target_url_is_permanent() {
    let bad = Target::WecomRobot { url: "http://".into() };
    let err = senders().send(&bad, &Message::Text("hi".into())).await.unwrap_err();
    assert_error(&err, ErrorClass::Permanent, "INVALID_TARGET");
}

#[tokio::test]
async fn a_200_that_is_not_the_promised_json_is_a_retryable_bad_response() {
    let server = MockServer::start().await;
    Mock::given(path("/cb/html"))
        .respond_with(ResponseTemplate::new(200).set_body_string("<html>portal login</html>"))
        .mount(&server)
        .await;
    robot_mock()
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"ok": true})))
        .mount(&server)
        .await;
    let s = senders();
    let xgj = Target::XgjCallback {
        url: format!("{}/cb/html", server.uri()),
    };
    let err = s.send(&xgj, &Message::XgjCallback(order_result())).await.unwrap_err();
    assert_error(&err, ErrorClass::Retryable, "BAD_RESPONSE");
    let err = s.send(&robot(&server), &Message::Text("hi".into())).await.unwrap_err();
    assert_error(&err, ErrorClass::Retryable, "BAD_RESPONSE");
}
