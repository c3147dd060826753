//! XGJ goods sync against the real app and PostgreSQL: XGJ's subscriptions, and a price or stock
//! change in the config centre pushed, signed, to a fake XGJ receiver on loopback.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use serde_json::{json, Value};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use crate::deliveries::wait_for_items;
use crate::helpers::*;

const SUBSCRIBE: &str = "/goofish/goods/change/subscribe";
const UNSUBSCRIBE: &str = "/goofish/goods/change/unsubscribe";
const LIST: &str = "/goofish/goods/change/subscribe/list";
const GOODS: &str = "初级道 3 小时-平季";
const OTHER_GOODS: &str = "初级道 3 小时-淡季";

/// A callback as received: its query string and raw body.
type Seen = (String, Vec<u8>);

/// A fake XGJ callback receiver: answers with the next scripted response (the last repeats) and
/// keeps every request's query and raw body.
#[derive(Clone)]
struct Receiver {
    steps: Arc<Vec<ResponseTemplate>>,
    calls: Arc<AtomicUsize>,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl Receiver {
    fn new(steps: Vec<ResponseTemplate>) -> Self {
        Self {
            steps: Arc::new(steps),
            calls: Arc::default(),
            seen: Arc::default(),
        }
    }
    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

impl Respond for Receiver {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let n = self.calls.fetch_add(1, Ordering::SeqCst);
        self.seen
            .lock()
            .unwrap()
            .push((req.url.query().unwrap_or_default().to_string(), req.body.clone()));
        self.steps[n.min(self.steps.len() - 1)].clone()
    }
}

fn xgj_ok() -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({"code": 0, "msg": "OK"}))
}

/// Mounts a receiver at `at` on the fake; returns its notify_url.
async fn receiver_at(server: &MockServer, at: &str, r: Receiver) -> String {
    Mock::given(method("POST"))
        .and(path(at))
        .respond_with(r)
        .mount(server)
        .await;
    format!("{}{at}", server.uri())
}

/// A signed gateway call: (HTTP status, answer).
async fn call(app: &TestApp, path: &str, body: &Value) -> (u16, Value) {
    let c = app.xgj.supply_call(path, body, TestApp::now());
    let (status, text) = app.post_raw(&c.url, c.body.clone()).await;
    (
        status,
        serde_json::from_str(&text).unwrap_or_else(|_| panic!("JSON answer: {text}")),
    )
}

async fn subscriptions(app: &TestApp) -> i64 {
    app.count("SELECT count(*) FROM goods_subscriptions").await
}

/// Changes the goods' price and stock through the config centre's API (its ticket type
/// declared first, as the config centre asks).
async fn set_goods(app: &TestApp, goods_no: &str, price_cent: i64, stock: i64) {
    let (status, g) = app.get(&format!("/api/config/goods/{goods_no}")).await;
    assert_eq!(status, 200, "{g}");
    let r = app
        .http
        .put(format!(
            "{}/api/config/ticket-types/{}",
            app.base,
            g["ticketType"].as_str().unwrap()
        ))
        .json(&json!({"description": ""}))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.text().await.unwrap());
    let body = json!({
        "ticketType": g["ticketType"], "seasonLabel": g["seasonLabel"], "priceCent": price_cent, "stock": stock,
    });
    let r = app
        .http
        .put(format!("{}/api/config/goods/{goods_no}", app.base))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200, "{}", r.text().await.unwrap());
}

/// The goods-change deliveries (通知投递), polled until `check` holds.
async fn goods_deliveries(app: &TestApp, check: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    wait_for_items(app, "/api/deliveries?type=goods_change", check).await
}

/// The query parameter `name` of a callback.
fn param<'a>(query: &'a str, name: &str) -> &'a str {
    query
        .split('&')
        .find_map(|kv| kv.strip_prefix(name).and_then(|r| r.strip_prefix('=')))
        .unwrap_or_else(|| panic!("no {name} in {query}"))
}

/// Checks a callback's six-field signature as XGJ would, over the exact body bytes.
fn assert_signed(query: &str, body: &[u8]) {
    assert_eq!(param(query, "mch_id"), MCH_ID);
    let ts = param(query, "timestamp");
    let expected = xyt_integrations::xgj::supply_sign(APP_ID, APP_SECRET, body, ts, MCH_ID, MCH_SECRET);
    assert_eq!(
        param(query, "sign"),
        expected,
        "signature over {}",
        String::from_utf8_lossy(body)
    );
}

#[tokio::test]
async fn xgj_subscribes_once_per_goods_and_url_lists_and_unsubscribes() {
    let app = spawn().await;
    let url = "https://open.goofish.pro/api/open/callback/virtual/goods/notify/tok1";
    let sub = json!({"goods_type": 2, "goods_no": GOODS, "token": "tok1", "notify_url": url});
    let (status, first) = call(&app, SUBSCRIBE, &sub).await;
    assert_eq!((status, &first["code"]), (200, &json!(0)), "{first}");
    assert_eq!(first["data"]["goods_no"], GOODS);
    assert_eq!(first["data"]["notify_url"], url);
    // A repeat (XGJ retrying) is answered the same and keeps one row.
    let (status, again) = call(&app, SUBSCRIBE, &sub).await;
    assert_eq!((status, &again), (200, &first));
    assert_eq!(subscriptions(&app).await, 1);
    // Every goods, to another URL.
    let all = json!({"notify_url": "https://open.goofish.pro/cb/all", "token": "t2"});
    assert_eq!(call(&app, SUBSCRIBE, &all).await.1["code"], 0);
    assert_eq!(call(&app, SUBSCRIBE, &all).await.1["code"], 0);
    assert_eq!(subscriptions(&app).await, 2);

    let (status, list) = call(&app, LIST, &json!({"page_no": 1, "page_size": 10})).await;
    assert_eq!((status, &list["code"]), (200, &json!(0)), "{list}");
    assert_eq!(list["data"]["count"], 2);
    assert_eq!(list["data"]["list"][0]["goods_no"], GOODS);
    assert_eq!(list["data"]["list"][0]["token"], "tok1");
    assert_eq!(list["data"]["list"][1]["notify_url"], "https://open.goofish.pro/cb/all");
    assert!(list["data"]["list"][1].get("goods_no").is_none(), "{list}");
    let (_, one) = call(&app, LIST, &json!({"goods_no": GOODS})).await;
    assert_eq!(one["data"]["count"], 1, "{one}");

    let unsub = json!({"goods_type": 2, "goods_no": GOODS, "token": "tok1"});
    let (status, gone) = call(&app, UNSUBSCRIBE, &unsub).await;
    assert_eq!((status, &gone["code"]), (200, &json!(0)), "{gone}");
    let (status, again) = call(&app, UNSUBSCRIBE, &unsub).await;
    assert_eq!((status, &again), (200, &gone), "a repeat is answered the same");
    let (_, list) = call(&app, LIST, &json!({})).await;
    assert_eq!(list["data"]["count"], 1, "{list}");
    assert!(list["data"]["list"][0].get("goods_no").is_none(), "{list}");
    app.finish().await;
}

#[tokio::test]
async fn unknown_goods_a_bad_notify_url_or_a_forged_signature_change_nothing() {
    let app = spawn().await;
    let (status, unknown) = call(
        &app,
        SUBSCRIBE,
        &json!({"goods_no": "没有这个商品", "notify_url": "https://open.goofish.pro/cb/x"}),
    )
    .await;
    assert_eq!((status, &unknown["code"]), (200, &json!(1100)), "{unknown}");
    assert!(unknown["msg"].as_str().unwrap().contains("商品不存在"), "{unknown}");
    // The wrong type of a known goods is unknown too.
    let (_, wrong_type) = call(
        &app,
        SUBSCRIBE,
        &json!({"goods_no": GOODS, "goods_type": 1, "notify_url": "https://open.goofish.pro/cb/x"}),
    )
    .await;
    assert_eq!(wrong_type["code"], 1100, "{wrong_type}");

    // Refused before anything is stored or any connection made: a private or plain-http public
    // host, credentials in the URL, another scheme, nothing.
    for bad in [
        json!({"goods_no": GOODS, "notify_url": "http://10.0.0.8/notify"}),
        json!({"goods_no": GOODS, "notify_url": "http://open.goofish.pro/cb"}),
        json!({"goods_no": GOODS, "notify_url": "https://u:p@open.goofish.pro/cb"}),
        json!({"goods_no": GOODS, "notify_url": "ftp://open.goofish.pro/cb"}),
        json!({"goods_no": GOODS, "notify_url": ""}),
        json!({"goods_no": GOODS}),
    ] {
        let (status, v) = call(&app, SUBSCRIBE, &bad).await;
        assert_eq!(status, 422, "{bad}: {v}");
        assert_eq!(v["code"], 1, "{v}");
        assert!(v["msg"].as_str().unwrap().contains("notify_url"), "{bad}: {v}");
    }
    let (status, v) = call(
        &app,
        SUBSCRIBE,
        &json!({"goods_no": GOODS, "goods_type": 7, "notify_url": "https://open.goofish.pro/cb/x"}),
    )
    .await;
    assert_eq!(status, 422, "{v}");
    assert!(v["msg"].as_str().unwrap().contains("goods_type"), "{v}");

    // Signed for one body, sent with another.
    let good = json!({"goods_no": GOODS, "notify_url": "https://open.goofish.pro/cb/x"});
    let c = app
        .xgj
        .supply_call(SUBSCRIBE, &json!({"goods_no": OTHER_GOODS}), TestApp::now());
    let (status, text) = app.post_raw(&c.url, serde_json::to_vec(&good).unwrap()).await;
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!((status, &v["code"]), (200, &json!(401)), "{v}");
    assert_eq!(subscriptions(&app).await, 0);
    app.finish().await;
}

#[tokio::test]
async fn a_price_or_stock_change_is_delivered_once_per_subscriber_and_signed() {
    let server = MockServer::start().await;
    let receiver = Receiver::new(vec![xgj_ok()]);
    let url = receiver_at(&server, "/goods/notify/tok1", receiver.clone()).await;
    let other = Receiver::new(vec![xgj_ok()]);
    let other_url = receiver_at(&server, "/goods/notify/other", other.clone()).await;
    let app = spawn().await;
    let sub = json!({"goods_type": 2, "goods_no": GOODS, "token": "tok1", "notify_url": url});
    assert_eq!(call(&app, SUBSCRIBE, &sub).await.1["code"], 0);
    assert_eq!(
        call(&app, SUBSCRIBE, &sub).await.1["code"],
        0,
        "a repeat adds no subscriber"
    );
    let elsewhere = json!({"goods_no": OTHER_GOODS, "notify_url": other_url});
    assert_eq!(call(&app, SUBSCRIBE, &elsewhere).await.1["code"], 0);

    let (_, g) = app.get(&format!("/api/config/goods/{GOODS}")).await;
    set_goods(&app, GOODS, 46600, g["stock"].as_i64().unwrap()).await;
    let items = goods_deliveries(&app, |items| items.len() == 1 && items[0]["status"] == "sent").await;
    let d = &items[0];
    assert_eq!(d["channel"], "xgj_notify");
    assert_eq!(d["goodsNo"], GOODS);
    assert!(d["orderNo"].is_null(), "{d}");
    assert_eq!(d["target"], url);
    assert_eq!(d["retryCount"], 0);

    let seen = receiver.seen();
    assert_eq!(seen.len(), 1, "delivered once");
    let (query, body) = &seen[0];
    assert_signed(query, body);
    let notice: Value = serde_json::from_slice(body).unwrap();
    assert_eq!(notice["goods_no"], GOODS);
    assert_eq!(notice["goods_type"], 2);
    assert_eq!(notice["price"], 46600);
    assert_eq!(notice["token"], "tok1");
    assert!(other.seen().is_empty(), "another goods' subscriber hears nothing");

    // The same values again are no change; a stock change is.
    set_goods(&app, GOODS, 46600, g["stock"].as_i64().unwrap()).await;
    set_goods(&app, GOODS, 46600, 7).await;
    let items = goods_deliveries(&app, |items| {
        items.len() == 2 && items.iter().all(|d| d["status"] == "sent")
    })
    .await;
    assert_eq!(items.len(), 2);
    let seen = receiver.seen();
    assert_eq!(seen.len(), 2);
    assert_signed(&seen[1].0, &seen[1].1);
    assert_eq!(serde_json::from_slice::<Value>(&seen[1].1).unwrap()["stock"], 7);
    // Order-less deliveries stay out of every order's own list.
    assert_eq!(
        app.count("SELECT count(*) FROM deliveries WHERE order_no IS NOT NULL AND type = 'goods_change'")
            .await,
        0
    );
    app.finish().await;
}

#[tokio::test]
async fn a_failing_receiver_is_retried_until_it_accepts() {
    let server = MockServer::start().await;
    let receiver = Receiver::new(vec![ResponseTemplate::new(503).set_body_string("busy"), xgj_ok()]);
    let url = receiver_at(&server, "/goods/notify/flaky", receiver.clone()).await;
    let app = spawn().await;
    let sub = json!({"notify_url": url, "token": "all"});
    assert_eq!(call(&app, SUBSCRIBE, &sub).await.1["code"], 0);
    set_goods(&app, GOODS, 47700, 3).await;
    let items = goods_deliveries(&app, |items| items.len() == 1 && items[0]["status"] == "sent").await;
    let d = &items[0];
    assert_eq!(d["retryCount"], 1, "{d}");
    let attempts = d["attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 2, "{d}");
    assert_eq!(attempts[0]["outcome"], "failed_retryable");
    assert_eq!(attempts[0]["errorCode"], "HTTP_503");
    assert_eq!(attempts[1]["outcome"], "sent");
    let seen = receiver.seen();
    assert_eq!(seen.len(), 2);
    // The retry is signed afresh over the same body.
    assert_eq!(seen[0].1, seen[1].1);
    assert_signed(&seen[1].0, &seen[1].1);
    app.finish().await;
}
