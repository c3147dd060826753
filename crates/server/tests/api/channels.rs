//! Deliveries over a real HTTP channel: a fake WeCom robot on loopback.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{json, Value};
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};
use xyt_domain::pricing::SeasonType;

use crate::deliveries::{wait_for_deliveries, wait_for_events};
use crate::helpers::*;

/// Answers each request with the next response of a script (the last one repeats), and keeps
/// every body it received.
#[derive(Clone)]
struct Script {
    steps: Arc<Vec<ResponseTemplate>>,
    calls: Arc<AtomicUsize>,
    bodies: Arc<Mutex<Vec<Value>>>,
}

impl Script {
    fn new(steps: Vec<ResponseTemplate>) -> Self {
        Self {
            steps: Arc::new(steps),
            calls: Arc::default(),
            bodies: Arc::default(),
        }
    }
    fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }
}

impl Respond for Script {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let n = self.calls.fetch_add(1, Ordering::SeqCst);
        self.bodies
            .lock()
            .unwrap()
            .push(serde_json::from_slice(&req.body).unwrap_or(Value::Null));
        self.steps[n.min(self.steps.len() - 1)].clone()
    }
}

fn ok() -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({"errcode": 0, "errmsg": "ok"}))
}

fn errcode(code: i64, msg: &str) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({"errcode": code, "errmsg": msg}))
}

/// A fake WeCom host with one robot (key `test-robot-key-0001`); the app under test must be
/// started with this host as its WeCom base, the only place robots may be.
async fn robot(script: Script) -> (MockServer, String) {
    let server = MockServer::start().await;
    let url = robot_on(&server, "test-robot-key-0001", script).await;
    (server, url)
}

/// Another robot on the same fake host, told apart by its key as on the real one.
async fn robot_on(server: &MockServer, key: &str, script: Script) -> String {
    Mock::given(method("POST"))
        .and(path("/cgi-bin/webhook/send"))
        .and(query_param("key", key))
        .respond_with(script)
        .mount(server)
        .await;
    format!("{}/cgi-bin/webhook/send?key={key}", server.uri())
}

/// The app, with `server` as its WeCom base.
async fn spawn_for(server: &MockServer, poll: Option<Duration>) -> TestApp {
    let base = server.uri();
    Spawn::new()
        .with(move |c| {
            c.wecom_base_url = Some(base);
            if let Some(p) = poll {
                c.delivery.poll = p;
            }
        })
        .await
}

async fn set_agent_group_target(app: &TestApp, target: &str) {
    sqlx::query("UPDATE agent_groups SET wecom_target = $1")
        .bind(target)
        .execute(&app.pool)
        .await
        .unwrap();
}

async fn set_price_alert_target(app: &TestApp, target: &str) {
    sqlx::query("UPDATE notification_targets SET target = $1")
        .bind(target)
        .execute(&app.pool)
        .await
        .unwrap();
}

/// An order of the 平季 goods with its form submitted (a passing price check: only the group push).
async fn order_with_form(app: &TestApp, external: &str) -> String {
    let (no, token) = app.order_with_token(external, "初级道 3 小时-平季").await;
    let (status, v) = app
        .post_json(
            &format!("/api/public/forms/{token}"),
            &good_form(next_date_in(SeasonType::Mid)),
        )
        .await;
    assert_eq!(status, 200, "{v}");
    no
}

fn push_of(items: &[Value]) -> Value {
    items
        .iter()
        .find(|d| d["type"] == "user_form_group_push")
        .cloned()
        .unwrap()
}

#[tokio::test]
async fn a_failing_robot_is_retried_with_back_off_until_exactly_one_send_succeeds() {
    let script = Script::new(vec![
        ResponseTemplate::new(503),
        ok().set_delay(Duration::from_secs(5)), // longer than the 1.5 s send timeout
        errcode(45009, "api freq out of limit"),
        ok(),
    ]);
    let (_server, url) = robot(script.clone()).await;
    let app = spawn_for(&_server, None).await;
    set_agent_group_target(&app, &url).await;
    let no = order_with_form(&app, "4502196109060000101").await;
    let items = wait_for_deliveries(&app, &no, |items| {
        items
            .iter()
            .any(|d| d["type"] == "user_form_group_push" && d["status"] == "sent")
    })
    .await;
    let d = push_of(&items);
    let attempts = d["attempts"].as_array().unwrap();
    let outcomes: Vec<(&str, &str)> = attempts
        .iter()
        .map(|a| (a["outcome"].as_str().unwrap(), a["errorCode"].as_str().unwrap_or("-")))
        .collect();
    assert_eq!(
        outcomes,
        [
            ("failed_retryable", "HTTP_503"),
            ("failed_retryable", "TIMEOUT"),
            ("failed_retryable", "WECOM_45009"),
            ("sent", "-")
        ]
    );
    assert_eq!(script.calls(), 4, "exactly one successful send, no extra");
    assert_eq!(
        d["target"],
        format!("{}/cgi-bin/webhook/send?key=****0001", _server.uri()),
        "the robot key is masked"
    );
    // Back-off honoured: each retry started at least 0.8 × base × 2^(n-1) after the previous attempt ended.
    let t = |a: &Value, k: &str| chrono::DateTime::parse_from_rfc3339(a[k].as_str().unwrap()).unwrap();
    for (i, pair) in attempts.windows(2).enumerate() {
        let gap = (t(&pair[1], "startedAt") - t(&pair[0], "finishedAt")).num_milliseconds();
        let min = (300.0 * 2f64.powi(i as i32) * 0.8) as i64;
        assert!(
            gap >= min - 5,
            "retry {} came after {gap} ms, back-off wants {min} ms",
            i + 1
        );
    }
    // Every attempt is an event: three failures, one success.
    let ev = wait_for_events(&app, &no, &["user_form_group_pushed"]).await;
    let failed: Vec<&Value> = ev
        .iter()
        .filter(|e| e["eventType"] == "user_form_group_push_failed")
        .collect();
    assert_eq!(failed.len(), 3);
    assert!(failed
        .iter()
        .all(|e| e["result"] == "rejected" && e["errorCode"].is_string()));
    app.finish().await;
}

#[tokio::test]
async fn error_60020_fails_permanently_at_once_and_a_resend_to_a_working_target_succeeds() {
    let msg = "not allow to access from your ip, hint: [1774065176489060742502293], from ip: 54.80.199.194, more info at https://open.work.weixin.qq.com/devtool/query?e=60020";
    let script = Script::new(vec![errcode(60020, msg)]);
    let (_server, url) = robot(script.clone()).await;
    let app = spawn_for(&_server, None).await;
    set_agent_group_target(&app, &url).await;
    let no = order_with_form(&app, "4502196109060000102").await;
    let items = wait_for_deliveries(&app, &no, |items| {
        items.iter().any(|d| d["status"] == "failed_permanent")
    })
    .await;
    let d = push_of(&items);
    assert_eq!(d["status"], "failed_permanent");
    assert_eq!(
        d["attempts"].as_array().unwrap().len(),
        1,
        "permanent at once, no retry"
    );
    assert_eq!(d["lastErrorCode"], "WECOM_60020");
    assert_eq!(d["lastErrorMessage"], msg);
    assert!(d["lastErrorHint"].as_str().unwrap().contains("企业可信IP"), "{d}");
    // The seed's event: user_form_group_push_failed, source system, rejected, WeCom's message.
    let ev = wait_for_events(&app, &no, &["user_form_group_push_failed"]).await;
    let failed = ev
        .iter()
        .find(|e| e["eventType"] == "user_form_group_push_failed")
        .unwrap();
    assert_eq!(failed["source"], "system");
    assert_eq!(failed["result"], "rejected");
    assert_eq!(failed["errorCode"], "WECOM_60020");
    assert_eq!(failed["errorMessage"], msg);
    assert!(failed["payload"]["messageText"]
        .as_str()
        .unwrap()
        .starts_with("【闲鱼出票资料已提交】"));
    assert!(failed["payload"]["targetGroupId"].is_string());
    assert_eq!(failed["after"]["userSyncStatus"], "failed");
    // Resend to a working target: sent, and an accepted event.
    let ok_url = robot_on(&_server, "test-robot-key-0002", Script::new(vec![ok()])).await;
    let id = d["id"].as_str().unwrap();
    let (status, v) = app
        .post_json(&format!("/api/deliveries/{id}/resend"), &json!({"target": ok_url}))
        .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["status"], "sent");
    let ev = wait_for_events(&app, &no, &["user_form_group_pushed"]).await;
    let pushed = ev.iter().find(|e| e["eventType"] == "user_form_group_pushed").unwrap();
    assert_eq!(pushed["result"], "accepted");
    assert_eq!(script.calls(), 1);
    app.finish().await;
}

#[tokio::test]
async fn a_message_over_the_byte_limit_arrives_in_parts_within_the_limit() {
    let script = Script::new(vec![ok()]);
    let (_server, url) = robot(script.clone()).await;
    let app = spawn_for(&_server, None).await;
    set_price_alert_target(&app, &url).await;
    let no = order_with_form(&app, "4502196109060000103").await;
    // A long text queued on the order as a price alert would be.
    let text = "【订单异常】".to_string() + &"价格校验异常,请人工核对。\n".repeat(300);
    assert!(text.len() > 4 * 2048);
    let mut tx = app.pool.begin().await.unwrap();
    xyt_store::deliveries::create(
        &mut tx,
        &xyt_store::deliveries::NewDelivery {
            order_no: Some(no.clone()),
            goods_no: None,
            source_sequence: 999,
            kind: xyt_store::deliveries::DeliveryKind::PriceException,
            channel: xyt_store::deliveries::StoredChannel::Target(xyt_store::deliveries::Channel::WecomBot),
            target: url.clone(),
            target_display: "robot".into(),
            message_text: text.clone(),
            message_text_masked: text.clone(),
            extra: json!({}),
            max_attempts: 3,
            unsendable: None,
        },
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    wait_for_deliveries(&app, &no, |items| {
        items
            .iter()
            .any(|d| d["type"] == "price_exception" && d["status"] == "sent")
    })
    .await;
    let bodies = script.bodies.lock().unwrap().clone();
    assert!(bodies.len() >= 5, "{} parts", bodies.len());
    let mut joined = String::new();
    for b in &bodies {
        let content = b["text"]["content"].as_str().unwrap();
        assert!(content.len() <= 2048, "a part of {} bytes", content.len());
        joined.push_str(content);
    }
    assert!(joined.contains("【订单异常】"));
    app.finish().await;
}

#[tokio::test]
async fn thirty_alerts_for_one_robot_never_send_more_than_twenty_in_a_minute() {
    let script = Script::new(vec![ok()]);
    let (_server, url) = robot(script.clone()).await;
    let app = spawn_for(&_server, None).await;
    let mut tx = app.pool.begin().await.unwrap();
    let no = order_with_form(&app, "4502196109060000104").await;
    for seq in 0..30 {
        xyt_store::deliveries::create(
            &mut tx,
            &xyt_store::deliveries::NewDelivery {
                order_no: Some(no.clone()),
                goods_no: None,
                source_sequence: 1000 + seq,
                kind: xyt_store::deliveries::DeliveryKind::PriceException,
                channel: xyt_store::deliveries::StoredChannel::Target(xyt_store::deliveries::Channel::WecomBot),
                target: url.clone(),
                target_display: "robot".into(),
                message_text: format!("【订单异常】第 {seq} 条"),
                message_text_masked: format!("【订单异常】第 {seq} 条"),
                extra: json!({}),
                max_attempts: 3,
                unsendable: None,
            },
        )
        .await
        .unwrap();
    }
    tx.commit().await.unwrap();
    // Give the worker (every 100 ms) time to send all it may.
    let mut sent = 0;
    for _ in 0..40 {
        sent = app
            .count("SELECT count(*) FROM deliveries WHERE type = 'price_exception' AND status = 'sent'")
            .await;
        if sent >= 20 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(script.calls(), 20, "at most 20 a minute per robot");
    assert_eq!(sent, 20);
    let deferred: i64 = app
        .count("SELECT count(*) FROM deliveries WHERE status = 'pending' AND next_attempt_at > now() + interval '45 seconds'")
        .await;
    assert_eq!(deferred, 10, "the other 10 wait for the window to free up");
    assert_eq!(
        xyt_store::deliveries::attempts_in_last_minute(&app.pool, &url)
            .await
            .unwrap(),
        20
    );
    app.finish().await;
}

#[tokio::test]
async fn two_worker_instances_over_the_same_table_send_each_delivery_once() {
    // Workers that never poll on their own: the test drives two of them at once.
    let script = Script::new(vec![ok().set_delay(Duration::from_millis(30))]);
    let (_server, url) = robot(script.clone()).await;
    let app = spawn_for(&_server, Some(Duration::from_secs(3600))).await;
    set_agent_group_target(&app, &url).await;
    sqlx::query("UPDATE notification_targets SET target = 'mock://ops'")
        .execute(&app.pool)
        .await
        .unwrap();
    for i in 0..12 {
        order_with_form(&app, &format!("45021961090600002{i:02}")).await;
    }
    assert_eq!(
        app.count("SELECT count(*) FROM deliveries WHERE status = 'pending'")
            .await,
        12
    );
    let worker = |_: u8| xyt_server::delivery_worker::DeliveryWorker {
        pool: app.pool.clone(),
        orders: std::sync::Arc::new(xyt_store::orders::OrderStore::new(app.pool.clone())),
        sender: std::sync::Arc::new(
            xyt_integrations::notify::Senders::new(xyt_integrations::notify::SendersConfig {
                timeouts: Default::default(),
                wecom_app: None,
                xgj: creds(),
            })
            .unwrap(),
        ),
        files: std::sync::Arc::new(xyt_integrations::files::LocalFileStore::new(std::env::temp_dir())),
        config: xyt_server::delivery_worker::DeliveryConfig::default(),
        targets: xyt_domain::target::AllowedTargets::new(Some(&_server.uri())),
    };
    let (a, b) = (worker(1), worker(2));
    let (ra, rb) = tokio::join!(a.run_once(), b.run_once());
    let (na, nb) = (ra.unwrap(), rb.unwrap());
    assert_eq!(na + nb, 12, "every delivery claimed once ({na} + {nb})");
    assert_eq!(script.calls(), 12, "no double send");
    assert_eq!(app.count("SELECT count(*) FROM delivery_attempts").await, 12);
    assert_eq!(
        app.count("SELECT count(*) FROM deliveries WHERE status = 'sent'").await,
        12
    );
    app.finish().await;
}

#[tokio::test]
async fn deliveries_pending_when_the_process_stops_are_sent_once_after_it_starts_again() {
    let script = Script::new(vec![ok()]);
    let (_server, url) = robot(script.clone()).await;
    let mut app = spawn_for(&_server, Some(Duration::from_secs(3600))).await;
    set_agent_group_target(&app, &url).await;
    let no = order_with_form(&app, "4502196109060000105").await;
    assert_eq!(
        app.count("SELECT count(*) FROM deliveries WHERE status = 'pending'")
            .await,
        1
    );
    app.stop_server().await;
    assert_eq!(script.calls(), 0);
    let base = _server.uri();
    let again = Spawn::on(app.db_name.clone(), app.database_url.clone())
        .with(move |c| c.wecom_base_url = Some(base))
        .await;
    wait_for_deliveries(&again, &no, |items| items.iter().all(|d| d["status"] == "sent")).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(script.calls(), 1, "sent once, not lost, not twice");
    app.pool.close().await;
    again.finish().await;
}
