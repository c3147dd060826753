//! The one demo loader: `xyt serve --demo`, the tests and the bench all fill the config centre
//! through it, every row with its history row (actor `system:demo`).

use super::*;

pub const DEMO_ACTOR: &str = "system:demo";
pub const DEMO_TICKET_TYPE: &str = "初级道 3 小时";
pub const DEMO_PRICES: [(SeasonType, &str); 3] = [
    (SeasonType::Low, "380.00"),
    (SeasonType::Mid, "426.00"),
    (SeasonType::High, "498.00"),
];
pub const DEMO_HORIZON_DAYS: i64 = 180;
pub const DEMO_QR_LABEL: &str = "演示收款码";
pub const DEMO_AGENT_GROUP: (&str, &str) = ("演示代理群", "mock://agent-group/default");
pub const DEMO_NOTIFICATION_TARGET: (&str, &str, &str) = ("price_alert", "价格异常提醒", "mock://wecom-bot/default");
/// The demo goods, all of [`DEMO_TICKET_TYPE`]: goods no (also its name), season label, price
/// in cents.
pub const DEMO_GOODS: [(&str, &str, i64); 3] = [
    ("初级道 3 小时-淡季", "淡季", 320),
    ("初级道 3 小时-平季", "平季", 45000),
    ("初级道 3 小时-旺季", "旺季", 52000),
];
/// Serialises demo loads, so two at once cannot both find the tables empty.
const DEMO_LOCK: i64 = 0x7879_745f_6465_6d6f;

/// A transaction holding the demo lock.
async fn begin_demo(pool: &PgPool) -> Result<Tx<'static>, sqlx::Error> {
    let mut tx = pool.begin().await?;
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(DEMO_LOCK)
        .execute(&mut *tx)
        .await?;
    Ok(tx)
}

async fn is_empty(tx: &mut Tx<'_>, table: &str) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar(&format!("SELECT NOT EXISTS (SELECT 1 FROM {table})"))
        .fetch_one(&mut **tx)
        .await
}

/// The demo goods, unless there are goods already.
async fn goods_tx(tx: &mut Tx<'_>) -> Result<(), sqlx::Error> {
    if !is_empty(tx, "goods").await? {
        return Ok(());
    }
    for (goods_no, season_label, price_cent) in DEMO_GOODS {
        let values = GoodsValues {
            goods_name: goods_no.into(),
            ticket_type: DEMO_TICKET_TYPE.into(),
            season_label: season_label.into(),
            price_cent,
            goods_type: 2,
            stock: 9999,
            status: 1,
        };
        save_goods(tx, goods_no, &values, None, DEMO_ACTOR).await?;
    }
    Ok(())
}

/// Only the demo goods, when there are no goods yet.
pub async fn load_demo_goods(pool: &PgPool) -> Result<(), sqlx::Error> {
    let mut tx = begin_demo(pool).await?;
    goods_tx(&mut tx).await?;
    tx.commit().await
}

/// Fills the config centre with the demo values, each part only when it is still empty (a
/// setting: never changed since the migrations), as `system:demo`, in one transaction: the
/// ticket type and its prices 380/426/498, the season calendar, a 180-day horizon, the demo
/// goods, a mock agent group and price-alert target, and, when given its image, one active QR
/// code.
pub async fn load_demo(pool: &PgPool, qr_png: Option<&[u8]>) -> Result<(), sqlx::Error> {
    let mut tx = begin_demo(pool).await?;
    let never_changed = "SELECT NOT EXISTS (SELECT 1 FROM config_changes WHERE entity = 'setting' AND entity_key = $1)";

    if is_empty(&mut tx, "ticket_types").await? {
        insert_ticket_type_tx(&mut tx, DEMO_TICKET_TYPE, "", DEMO_ACTOR).await?;
    }
    if is_empty(&mut tx, "price_table").await? {
        for (season, amount) in DEMO_PRICES {
            let amount = parse_amount(amount).expect("demo amounts parse");
            insert_price_tx(&mut tx, DEMO_TICKET_TYPE, season, amount, DEMO_ACTOR).await?;
        }
    }
    let demo_settings = [
        ("season_calendar", json(&SeasonCalendar::demo())),
        ("play_date_horizon_days", DEMO_HORIZON_DAYS.into()),
    ];
    for (key, value) in demo_settings {
        let untouched: bool = sqlx::query_scalar(never_changed).bind(key).fetch_one(&mut *tx).await?;
        let current: Option<serde_json::Value> = sqlx::query_scalar("SELECT value FROM settings WHERE key = $1")
            .bind(key)
            .fetch_optional(&mut *tx)
            .await?;
        if untouched && current.as_ref() != Some(&value) {
            put_setting_tx(&mut tx, key, value, DEMO_ACTOR).await?;
        }
    }
    goods_tx(&mut tx).await?;
    if let Some(qr_png) = qr_png {
        if is_empty(&mut tx, "payment_qr_codes").await? {
            let qr = NewQrCode {
                label: DEMO_QR_LABEL.into(),
                content_type: "image/png".into(),
                image: qr_png.to_vec(),
                active: Some(true),
            };
            insert_qr_tx(&mut tx, &qr, DEMO_QR_LABEL, DEMO_ACTOR).await?;
        }
    }
    if is_empty(&mut tx, "agent_groups").await? {
        let (name, target) = DEMO_AGENT_GROUP;
        insert_agent_group_tx(&mut tx, name, target, true, DEMO_ACTOR).await?;
    }
    if is_empty(&mut tx, "notification_targets").await? {
        let (purpose, name, target) = DEMO_NOTIFICATION_TARGET;
        let input = NotificationTargetInput {
            purpose: purpose.into(),
            name: name.into(),
            target: target.into(),
            active: None,
        };
        insert_notification_target_tx(&mut tx, &input, DEMO_ACTOR).await?;
    }
    tx.commit().await
}
