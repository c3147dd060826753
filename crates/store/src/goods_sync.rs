//! XGJ goods sync: XGJ's goods-change subscriptions (`/xgj/goofish/goods/change/subscribe`,
//! `…/unsubscribe`, `…/subscribe/list`), and the deliveries a price or stock change calls for.
//!
//! The config centre's goods write calls [`enqueue_change`] in its own transaction, so a change
//! and its notices commit together (or not at all); the delivery worker then signs each notice
//! (six-field signature, like every virtual-supply call) and POSTs it to the subscriber's
//! notify_url, retrying with its usual back-off. The notices show in 通知投递 with the goods
//! instead of an order.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{PgPool, Postgres, Transaction};
use xyt_domain::delivery::DeliveryKind;
use xyt_domain::target::Target;

use crate::deliveries::{self, NewDelivery, StoredChannel};
use crate::projections::DELIVERY_MAX_ATTEMPTS;

/// One subscription as XGJ's `subscribe/list` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct Subscription {
    /// `None`: every goods.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub goods_no: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub goods_type: Option<i16>,
    pub notify_url: String,
    pub token: String,
    #[serde(skip)]
    pub created_at: DateTime<Utc>,
    #[serde(skip)]
    pub updated_at: DateTime<Utc>,
}

/// A subscription as asked for: goods (or all), type, where to, XGJ's token.
#[derive(Debug, Clone)]
pub struct Subscribe<'a> {
    pub goods_no: Option<&'a str>,
    pub goods_type: Option<i16>,
    /// Checked by the caller against the outbound target rules.
    pub notify_url: &'a str,
    pub token: &'a str,
}

#[derive(Debug, thiserror::Error)]
pub enum SubscribeError {
    /// No such goods (or not of the asked type).
    #[error("unknown goods")]
    UnknownGoods,
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

const COLS: &str = "goods_no, goods_type, notify_url, token, created_at, updated_at";

/// Subscribes; a repeat (same goods, same notify_url) keeps the one row and takes the new token.
/// Returns the subscription and whether it is new.
pub async fn subscribe(pool: &PgPool, s: &Subscribe<'_>) -> Result<(Subscription, bool), SubscribeError> {
    let mut tx = pool.begin().await?;
    if let Some(goods_no) = s.goods_no {
        // FOR SHARE: a concurrent delete of the goods waits for this subscription (and then
        // removes it with the goods).
        let goods_type: Option<i16> = sqlx::query_scalar("SELECT goods_type FROM goods WHERE goods_no = $1 FOR SHARE")
            .bind(goods_no)
            .fetch_optional(&mut *tx)
            .await?;
        match goods_type {
            Some(t) if s.goods_type.is_none_or(|asked| asked == t) => {}
            _ => return Err(SubscribeError::UnknownGoods),
        }
    }
    let row: (bool,) = sqlx::query_as(
        "INSERT INTO goods_subscriptions (goods_no, goods_type, notify_url, token) VALUES ($1, $2, $3, $4)
         ON CONFLICT (goods_no, notify_url) DO UPDATE SET goods_type = EXCLUDED.goods_type, token = EXCLUDED.token,
           updated_at = CASE WHEN (goods_subscriptions.goods_type, goods_subscriptions.token)
                                  IS DISTINCT FROM (EXCLUDED.goods_type, EXCLUDED.token)
                             THEN now() ELSE goods_subscriptions.updated_at END
         RETURNING (xmax = 0)",
    )
    .bind(s.goods_no)
    .bind(s.goods_type)
    .bind(s.notify_url)
    .bind(s.token)
    .fetch_one(&mut *tx)
    .await?;
    let sub: Subscription = sqlx::query_as(&format!(
        "SELECT {COLS} FROM goods_subscriptions WHERE goods_no IS NOT DISTINCT FROM $1 AND notify_url = $2"
    ))
    .bind(s.goods_no)
    .bind(s.notify_url)
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok((sub, row.0))
}

/// Ends the goods' (or the all-goods) subscriptions, only the one to `notify_url` when given.
/// Returns how many ended (0 on a repeat).
pub async fn unsubscribe(pool: &PgPool, goods_no: Option<&str>, notify_url: Option<&str>) -> Result<u64, sqlx::Error> {
    let r = sqlx::query(
        "DELETE FROM goods_subscriptions
         WHERE goods_no IS NOT DISTINCT FROM $1 AND ($2::text IS NULL OR notify_url = $2)",
    )
    .bind(goods_no)
    .bind(notify_url)
    .execute(pool)
    .await?;
    Ok(r.rows_affected())
}

/// A page of subscriptions (oldest first), only the goods' when given, and the total.
pub async fn list(
    pool: &PgPool,
    goods_no: Option<&str>,
    page_no: i64,
    page_size: i64,
) -> Result<(Vec<Subscription>, i64), sqlx::Error> {
    let filter = "($1::text IS NULL OR goods_no = $1)";
    let count: i64 = sqlx::query_scalar(&format!("SELECT count(*) FROM goods_subscriptions WHERE {filter}"))
        .bind(goods_no)
        .fetch_one(pool)
        .await?;
    let list = sqlx::query_as(&format!(
        "SELECT {COLS} FROM goods_subscriptions WHERE {filter} ORDER BY id LIMIT $2 OFFSET $3"
    ))
    .bind(goods_no)
    .bind(page_size)
    .bind((page_no - 1).saturating_mul(page_size))
    .fetch_all(pool)
    .await?;
    Ok((list, count))
}

/// A goods write, before and after, as the sync needs it.
#[derive(Debug, Clone)]
pub struct GoodsChange<'a> {
    pub goods_no: &'a str,
    pub goods_type: i16,
    pub status: i16,
    /// (before, after), in cents.
    pub price_cent: (i64, i64),
    /// (before, after).
    pub stock: (i64, i64),
}

/// XGJ's goods-change notice body (compact JSON, signed when sent).
fn notice(c: &GoodsChange<'_>, token: &str, at: DateTime<Utc>) -> serde_json::Value {
    serde_json::json!({
        "goods_no": c.goods_no,
        "goods_type": c.goods_type,
        "price": c.price_cent.1,
        "stock": c.stock.1,
        "status": c.status,
        "change_time": at.timestamp(),
        "token": token,
    })
}

/// Queues one notice per subscriber of the goods (or of all goods) when its price or stock
/// changed; nothing otherwise. Runs in the goods write's transaction. Returns how many.
pub async fn enqueue_change(tx: &mut Transaction<'_, Postgres>, c: &GoodsChange<'_>) -> Result<usize, sqlx::Error> {
    if c.price_cent.0 == c.price_cent.1 && c.stock.0 == c.stock.1 {
        return Ok(0);
    }
    let subscribers: Vec<(String, String)> = sqlx::query_as(
        "SELECT notify_url, token FROM goods_subscriptions
         WHERE (goods_no = $1 OR goods_no IS NULL) AND (goods_type IS NULL OR goods_type = $2) ORDER BY id",
    )
    .bind(c.goods_no)
    .bind(c.goods_type)
    .fetch_all(&mut **tx)
    .await?;
    let now = Utc::now();
    for (url, token) in &subscribers {
        let body = notice(c, token, now).to_string();
        // Checked when subscribed; a row that no longer parses is kept visible, not sent.
        let (channel, display, unsendable) = match Target::parse(url, DeliveryKind::GoodsChange.url_target()) {
            Ok(t) => (StoredChannel::Target(t.channel()), t.display(), None),
            Err(e) => (
                StoredChannel::Invalid,
                url.clone(),
                Some((
                    "INVALID_TARGET".to_string(),
                    e.0,
                    "闲管家的 notify_url 无效,请在闲管家重新订阅".to_string(),
                )),
            ),
        };
        deliveries::create(
            tx,
            &NewDelivery {
                order_no: None,
                goods_no: Some(c.goods_no.to_string()),
                source_sequence: 0,
                kind: DeliveryKind::GoodsChange,
                channel,
                target: url.clone(),
                target_display: display,
                message_text_masked: body.clone(),
                message_text: body,
                extra: serde_json::json!({
                    "priceBefore": c.price_cent.0,
                    "stockBefore": c.stock.0,
                }),
                max_attempts: DELIVERY_MAX_ATTEMPTS,
                unsendable,
            },
        )
        .await?;
        tracing::info!(goods_no = c.goods_no, target = %url, "goods change notice queued");
    }
    Ok(subscribers.len())
}
