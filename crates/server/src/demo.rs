//! Demo data for `xyt serve --demo` (and so `just run`): the goods config and a handful of
//! orders, the seed's among them, taken in through the real signed gateway as XGJ would send
//! them. Loaded only into an empty database.

use chrono::Utc;
use serde_json::json;
use xyt_integrations::xgj::XgjSupplyClient;
use xyt_store::goods::{self, NewGoods};
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

pub fn demo_goods() -> Vec<NewGoods> {
    let g = |no: &str, label: &str, price_cent: i64| NewGoods {
        goods_no: no.into(),
        goods_name: no.into(),
        ticket_type: "初级道 3 小时".into(),
        season_label: label.into(),
        price_cent,
    };
    vec![
        g("初级道 3 小时-淡季", "淡季", 320),
        g("初级道 3 小时-平季", "平季", 45000),
        g("初级道 3 小时-旺季", "旺季", 52000),
    ]
}

pub async fn is_empty(pool: &PgPool) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar("SELECT NOT EXISTS (SELECT 1 FROM goods) AND NOT EXISTS (SELECT 1 FROM events)")
        .fetch_one(pool)
        .await
}

pub async fn load_goods(pool: &PgPool) -> Result<(), sqlx::Error> {
    for g in demo_goods() {
        goods::upsert(pool, &g).await?;
    }
    Ok(())
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
    for body in &orders {
        let answer = client
            .send(&client.supply_call(path, body, Utc::now().timestamp()))
            .await?;
        anyhow::ensure!(answer["code"] == 0, "demo order {} refused: {answer}", body["order_no"]);
    }
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
