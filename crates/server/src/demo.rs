//! Demo data for `xyt serve --demo` (and so `just run`): the goods config and a handful of
//! orders, the seed's among them, taken in through the real signed gateway as XGJ would send
//! them. Loaded only into an empty database.

use chrono::Utc;
use serde_json::json;
use xyt_integrations::xgj::XgjSupplyClient;
use xyt_store::PgPool;

/// The seed order's XGJ payload, exactly as logged by the system we replace.
pub fn seed_purchase() -> serde_json::Value {
    json!({
        "item_id": 1032289603922u64,
        "goods_no": "初级道 3 小时-淡季",
        "order_no": "4502196109060005933",
        "notify_url": "https://open.goofish.pro/api/open/callback/virtual/order/notify/sXgaHmrtRI8f0rzQmcfxj7mWhRMFTK",
        "product_id": 1503090071635525u64,
        "product_sku": 1503090072880709u64,
        "biz_order_no": "4502196109060005933",
        "buy_quantity": 1
    })
}

/// A purchase body like XGJ's for another order number and goods.
pub fn purchase(order_no: &str, goods_no: &str, quantity: i64) -> serde_json::Value {
    json!({
        "order_no": order_no,
        "biz_order_no": order_no,
        "goods_no": goods_no,
        "buy_quantity": quantity,
        "notify_url": format!("https://open.goofish.pro/api/open/callback/virtual/order/notify/demo{order_no}"),
        "product_id": 1503090071635525u64,
        "product_sku": 1503090072880709u64,
        "item_id": 1032289603922u64
    })
}

pub async fn is_empty(pool: &PgPool) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar("SELECT NOT EXISTS (SELECT 1 FROM goods) AND NOT EXISTS (SELECT 1 FROM events)")
        .fetch_one(pool)
        .await
}

/// The demo's `admin` user, with a random password answered once; `None` when it exists already.
/// Nothing ships a fixed password.
pub async fn ensure_admin(pool: &PgPool) -> anyhow::Result<Option<String>> {
    if xyt_store::access::get_user(pool, "admin").await?.is_some() {
        return Ok(None);
    }
    let password: String = crate::auth::random_token().chars().take(20).collect();
    let input = crate::auth::accounts::NewUser {
        username: "admin".into(),
        display_name: Some("管理员".into()),
        role: "admin".into(),
        password: password.clone(),
    };
    match crate::auth::accounts::add_user(pool, "demo", input).await {
        Ok(_) => Ok(Some(password)),
        // Another instance made it meanwhile.
        Err(crate::auth::accounts::AccountError::Exists(_)) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// The whole demo config through the one loader ([`xyt_store::config_centre::load_demo`]), with
/// a QR code image that the mock OCR reads as 演示收款码.
pub async fn load_config(pool: &PgPool) -> Result<(), sqlx::Error> {
    let qr = xyt_integrations::ocr::png_with_ocr_text(240, 240, xyt_store::config_centre::DEMO_QR_LABEL);
    xyt_store::config_centre::load_demo(pool, Some(&qr)).await
}

/// Sends the demo orders through the gateway at `client`'s base URL.
pub async fn send_orders(client: &XgjSupplyClient) -> anyhow::Result<()> {
    let path = "/goofish/order/purchase/create";
    let orders = [
        seed_purchase(),
        purchase("4502196109060007001", "初级道 3 小时-平季", 1),
        purchase("4502196109060007002", "中级道 全天-旺季", 1),
        purchase("4502196109060007003", "初级道 3 小时-旺季", 2),
    ];
    let mut seed_link = String::new();
    for body in &orders {
        let answer = client
            .send(&client.supply_call(path, body, Utc::now().timestamp()))
            .await?;
        anyhow::ensure!(answer["code"] == 0, "demo order {} refused: {answer}", body["order_no"]);
        if seed_link.is_empty() {
            // The card XGJ shows the buyer is the form link.
            seed_link = answer["data"]["card_items"][0]["card_pwd"]
                .as_str()
                .unwrap_or_default()
                .to_string();
        }
    }
    // The seed's buyer fills in the form (check digit corrected, a mid-season date): the price
    // check fails as on the seed page, the ops alert and the agent-group push go out (mock).
    let base = client_base(client);
    let http = reqwest::Client::new();
    let token = seed_link.rsplit('/').next().unwrap_or_default();
    let calendar = xyt_domain::pricing::SeasonCalendar::demo();
    let today = Utc::now().with_timezone(&chrono_tz::Asia::Shanghai).date_naive();
    let play_date = (1..170)
        .map(|d| today + chrono::Days::new(d))
        .find(|d| calendar.season_for(*d) == xyt_domain::pricing::SeasonType::Mid)
        .unwrap_or(today);
    let form = json!({
        "name": "马上到", "phoneCountryCode": "+86", "phone": "18852341234",
        "certificateType": "id_card", "certificateNo": "320911198804223314", "playDate": play_date.to_string()
    });
    let r = http
        .post(format!("{base}/api/public/forms/{token}"))
        .json(&form)
        .send()
        .await?;
    anyhow::ensure!(r.status().is_success(), "demo form refused: {}", r.text().await?);
    // The last one was refunded on Xianyu: XGJ's ERP push cancels it.
    let push = json!({
        "seller_id": 10001, "user_name": "demo", "order_no": "4502196109060007003", "order_type": 1,
        "order_status": 23, "refund_status": 5, "modify_time": Utc::now().timestamp()
    });
    let answer = client
        .send(&client.erp_call("/erp/order-push", &push, Utc::now().timestamp()))
        .await?;
    anyhow::ensure!(answer["result"] == "success", "demo refund push refused: {answer}");
    Ok(())
}

fn client_base(client: &XgjSupplyClient) -> String {
    client.base().trim_end_matches("/xgj").to_string()
}
