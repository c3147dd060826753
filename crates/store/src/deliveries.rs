//! Notification deliveries (see the migration for the table's strategy).
//!
//! Rows are created by the projection pass from events (so a crash after the event commit still
//! creates them), claimed by workers with `FOR UPDATE SKIP LOCKED`, and every attempt is a row
//! written before the send (reserving a robot's per-minute budget) and finished after it.

use std::time::Duration;
use xyt_domain::personal::PersonalData;

use base64::Engine;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::{PgPool, Postgres, QueryBuilder, Row};
use utoipa::ToSchema;
use uuid::Uuid;
pub use xyt_domain::delivery::{Channel, DeliveryKind, DeliveryStatus, StoredChannel};

/// A delivery as the worker sees it (with the real target).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DeliveryRow {
    pub id: Uuid,
    /// `None` for a delivery about a goods (see `goods_no`).
    pub order_no: Option<String>,
    pub goods_no: Option<String>,
    pub source_sequence: i64,
    #[sqlx(rename = "type", try_from = "String")]
    pub kind: DeliveryKind,
    /// `None` when the delivery was created without a usable target (`none`, `unknown`).
    #[sqlx(try_from = "String")]
    pub channel: StoredChannel,
    pub target: String,
    pub target_display: String,
    pub message_text: String,
    pub extra: serde_json::Value,
    #[sqlx(try_from = "String")]
    pub status: DeliveryStatus,
    pub attempts: i32,
    pub max_attempts: i32,
}

/// One attempt as the API shows it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, sqlx::FromRow)]
#[serde(rename_all = "camelCase")]
pub struct AttemptView {
    pub id: i64,
    pub attempt: i32,
    #[sqlx(rename = "target_display")]
    pub target: String,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    /// `sent`, `failed_retryable`, `failed_permanent`; absent while in flight.
    pub outcome: Option<String>,
    pub error_code: Option<String>,
    pub error_message: Option<String>,
    pub detail: Option<String>,
}

/// A delivery as the API shows it (通知投递).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryView {
    pub id: Uuid,
    /// The order the delivery belongs to; absent for a goods-change notice to XGJ.
    pub order_no: Option<String>,
    /// The goods a `goods_change` delivery is about; absent for an order's delivery.
    pub goods_no: Option<String>,
    /// `price_exception`, `user_form_group_push`, `order_push`, `user_notify`, `refund_alert`,
    /// `goods_change`.
    #[serde(rename = "type")]
    pub kind: String,
    /// `wecom_bot`, `wecom_app`, `xgj_notify`, `mock` (`none`/`unknown` when no usable target).
    pub channel: String,
    /// The target, a robot's key masked.
    pub target: String,
    /// The message; masked in lists, whole in an order's detail.
    pub message_text: String,
    /// `pending`, `sending`, `sent`, `failed_retryable`, `failed_permanent`.
    pub status: String,
    pub retry_count: i32,
    pub max_attempts: i32,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub last_error_code: Option<String>,
    pub last_error_message: Option<String>,
    /// In Chinese: what the operator must fix.
    pub last_error_hint: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub attempts: Vec<AttemptView>,
}

#[derive(sqlx::FromRow)]
struct ViewRow {
    id: Uuid,
    order_no: Option<String>,
    goods_no: Option<String>,
    #[sqlx(rename = "type", try_from = "String")]
    kind: DeliveryKind,
    #[sqlx(try_from = "String")]
    channel: StoredChannel,
    target_display: String,
    message_text: String,
    message_text_masked: String,
    #[sqlx(try_from = "String")]
    status: DeliveryStatus,
    attempts: i32,
    max_attempts: i32,
    next_attempt_at: DateTime<Utc>,
    last_error_code: Option<String>,
    last_error_message: Option<String>,
    last_error_hint: Option<String>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

const VIEW_COLS: &str =
    "id, order_no, goods_no, type, channel, target_display, message_text, message_text_masked, status, attempts,
    max_attempts, next_attempt_at, last_error_code, last_error_message, last_error_hint, created_at, updated_at";

async fn to_views(pool: &PgPool, rows: Vec<ViewRow>, shown: PersonalData) -> Result<Vec<DeliveryView>, sqlx::Error> {
    let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
    let attempts: Vec<(Uuid, AttemptView)> = sqlx::query(
        "SELECT delivery_id, id, attempt, target_display, started_at, finished_at, outcome, error_code, error_message, detail
         FROM delivery_attempts WHERE delivery_id = ANY($1) ORDER BY id",
    )
    .bind(&ids)
    .fetch_all(pool)
    .await?
    .into_iter()
    .map(|r| {
        use sqlx::FromRow;
        Ok((r.try_get::<Uuid, _>("delivery_id")?, AttemptView::from_row(&r)?))
    })
    .collect::<Result<_, sqlx::Error>>()?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let waiting = r.status.is_waiting();
            DeliveryView {
                attempts: attempts
                    .iter()
                    .filter(|(d, _)| *d == r.id)
                    .map(|(_, a)| a.clone())
                    .collect(),
                id: r.id,
                order_no: r.order_no,
                goods_no: r.goods_no,
                kind: r.kind.as_str().to_string(),
                channel: r.channel.as_str().to_string(),
                target: r.target_display,
                message_text: match shown {
                    PersonalData::Masked => r.message_text_masked,
                    PersonalData::Whole => r.message_text,
                },
                status: r.status.as_str().to_string(),
                retry_count: (r.attempts - 1).max(0),
                max_attempts: r.max_attempts,
                next_attempt_at: waiting.then_some(r.next_attempt_at),
                last_error_code: r.last_error_code,
                last_error_message: r.last_error_message,
                last_error_hint: r.last_error_hint,
                created_at: r.created_at,
                updated_at: r.updated_at,
            }
        })
        .collect())
}

/// A new delivery, as the projection derives it from an event (or a goods change calls for).
#[derive(Debug, Clone)]
pub struct NewDelivery {
    /// Exactly one of `order_no` and `goods_no`.
    pub order_no: Option<String>,
    pub goods_no: Option<String>,
    /// The event's sequence (0 for a goods change: it has no stream).
    pub source_sequence: i64,
    pub kind: DeliveryKind,
    pub channel: StoredChannel,
    pub target: String,
    pub target_display: String,
    pub message_text: String,
    pub message_text_masked: String,
    pub extra: serde_json::Value,
    pub max_attempts: i32,
    /// Set when the delivery cannot be attempted (no target configured): it is created failed,
    /// visible, and resendable to a target the operator gives.
    pub unsendable: Option<(String, String, String)>,
}

pub async fn create(tx: &mut sqlx::Transaction<'_, Postgres>, d: &NewDelivery) -> Result<bool, sqlx::Error> {
    let (status, code, message, hint) = match &d.unsendable {
        None => (DeliveryStatus::Pending, None, None, None),
        Some((c, m, h)) => (DeliveryStatus::FailedPermanent, Some(c), Some(m), Some(h)),
    };
    let r = sqlx::query(
        "INSERT INTO deliveries (id, order_no, goods_no, source_sequence, type, channel, target, target_display,
           message_text, message_text_masked, extra, status, max_attempts, last_error_code, last_error_message,
           last_error_hint)
         VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16)
         ON CONFLICT (order_no, source_sequence, type) DO NOTHING",
    )
    .bind(Uuid::new_v4())
    .bind(&d.order_no)
    .bind(&d.goods_no)
    .bind(d.source_sequence)
    .bind(d.kind.as_str())
    .bind(d.channel.as_str())
    .bind(&d.target)
    .bind(&d.target_display)
    .bind(&d.message_text)
    .bind(&d.message_text_masked)
    .bind(&d.extra)
    .bind(status.as_str())
    .bind(d.max_attempts)
    .bind(code)
    .bind(message)
    .bind(hint)
    .execute(&mut **tx)
    .await?;
    Ok(r.rows_affected() == 1)
}

const ROW_COLS: &str =
    "id, order_no, goods_no, source_sequence, type, channel, target, target_display, message_text, extra, status,
    attempts, max_attempts";

/// Claims due deliveries (and ones whose sender died mid-send after its lease ran out).
pub async fn claim_due(pool: &PgPool, limit: i64, lease: Duration) -> Result<Vec<DeliveryRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "UPDATE deliveries SET status = 'sending', locked_until = now() + make_interval(secs => $2), updated_at = now()
         WHERE id IN (
             SELECT id FROM deliveries
             WHERE (status IN ('pending', 'failed_retryable') AND next_attempt_at <= now())
                OR (status = 'sending' AND locked_until < now())
             ORDER BY next_attempt_at
             FOR UPDATE SKIP LOCKED
             LIMIT $1)
         RETURNING {ROW_COLS}"
    ))
    .bind(limit)
    .bind(lease.as_secs_f64())
    .fetch_all(pool)
    .await
}

/// Claims one delivery now (a resend), unless another worker holds it.
pub async fn claim_one(pool: &PgPool, id: Uuid, lease: Duration) -> Result<Option<DeliveryRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "UPDATE deliveries SET status = 'sending', locked_until = now() + make_interval(secs => $2), updated_at = now()
         WHERE id IN (SELECT id FROM deliveries WHERE id = $1 AND status IN ('pending', 'failed_retryable')
                      FOR UPDATE SKIP LOCKED)
         RETURNING {ROW_COLS}"
    ))
    .bind(id)
    .bind(lease.as_secs_f64())
    .fetch_optional(pool)
    .await
}

pub enum Reservation {
    /// Go ahead: the attempt row's id and number.
    Reserved { attempt_id: i64, attempt: i32 },
    /// The target's budget is spent; the delivery waits until then.
    Deferred(DateTime<Utc>),
}

/// Reserves an attempt. With `per_minute`, at most that many attempts to the same target start
/// in any 60 s, across every process (the check and the reservation share one transaction under
/// a per-target advisory lock).
pub async fn reserve_attempt(
    pool: &PgPool,
    d: &DeliveryRow,
    per_minute: Option<i64>,
) -> Result<Reservation, sqlx::Error> {
    let mut tx = pool.begin().await?;
    if let Some(limit) = per_minute {
        sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 11))")
            .bind(&d.target)
            .execute(&mut *tx)
            .await?;
        let recent: Vec<DateTime<Utc>> = sqlx::query_scalar(
            "SELECT started_at FROM delivery_attempts WHERE target = $1 AND started_at > now() - interval '60 seconds'
             ORDER BY started_at",
        )
        .bind(&d.target)
        .fetch_all(&mut *tx)
        .await?;
        if recent.len() as i64 >= limit {
            // The window frees up when its oldest attempt turns a minute old.
            let until = recent[recent.len() - limit as usize]
                + chrono::Duration::seconds(60)
                + chrono::Duration::milliseconds(50);
            sqlx::query(
                "UPDATE deliveries SET status = CASE WHEN attempts = 0 THEN 'pending' ELSE 'failed_retryable' END,
                   next_attempt_at = $2, locked_until = NULL, updated_at = now() WHERE id = $1",
            )
            .bind(d.id)
            .bind(until)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            return Ok(Reservation::Deferred(until));
        }
    }
    let attempt: i32 = sqlx::query_scalar(
        "UPDATE deliveries SET attempts = attempts + 1, updated_at = now() WHERE id = $1 RETURNING attempts",
    )
    .bind(d.id)
    .fetch_one(&mut *tx)
    .await?;
    let attempt_id: i64 = sqlx::query_scalar(
        "INSERT INTO delivery_attempts (delivery_id, attempt, target, target_display) VALUES ($1, $2, $3, $4) RETURNING id",
    )
    .bind(d.id)
    .bind(attempt)
    .bind(&d.target)
    .bind(&d.target_display)
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(Reservation::Reserved { attempt_id, attempt })
}

pub struct Outcome<'a> {
    /// `Sent`, `FailedRetryable` or `FailedPermanent`.
    pub status: DeliveryStatus,
    pub error_code: Option<&'a str>,
    pub error_message: Option<&'a str>,
    pub error_hint: Option<&'a str>,
    pub detail: Option<&'a str>,
    pub next_attempt_at: Option<DateTime<Utc>>,
}

pub async fn finish_attempt(
    pool: &PgPool,
    delivery_id: Uuid,
    attempt_id: i64,
    o: &Outcome<'_>,
) -> Result<(), sqlx::Error> {
    let mut tx = pool.begin().await?;
    sqlx::query(
        "UPDATE delivery_attempts SET finished_at = now(), outcome = $2, error_code = $3, error_message = $4, detail = $5
         WHERE id = $1",
    )
    .bind(attempt_id)
    .bind(o.status.as_str())
    .bind(o.error_code)
    .bind(o.error_message)
    .bind(o.detail)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "UPDATE deliveries SET status = $2, locked_until = NULL, updated_at = now(),
           next_attempt_at = COALESCE($3, next_attempt_at),
           last_error_code = CASE WHEN $2 = 'sent' THEN last_error_code ELSE $4 END,
           last_error_message = CASE WHEN $2 = 'sent' THEN last_error_message ELSE $5 END,
           last_error_hint = CASE WHEN $2 = 'sent' THEN NULL ELSE $6 END
         WHERE id = $1",
    )
    .bind(delivery_id)
    .bind(o.status.as_str())
    .bind(o.next_attempt_at)
    .bind(o.error_code)
    .bind(o.error_message)
    .bind(o.error_hint)
    .execute(&mut *tx)
    .await?;
    tx.commit().await
}

/// A finished attempt whose outcome is not on the order's stream yet.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct UnrecordedAttempt {
    pub attempt_id: i64,
    pub attempt: i32,
    pub delivery_id: Uuid,
    /// `None` for a goods change: its outcome has no stream to go on.
    pub order_no: Option<String>,
    #[sqlx(rename = "type", try_from = "String")]
    pub kind: DeliveryKind,
    #[sqlx(try_from = "String")]
    pub channel: StoredChannel,
    pub target_display: String,
    pub message_text: String,
    pub extra: serde_json::Value,
    #[sqlx(try_from = "String")]
    pub outcome: DeliveryStatus,
    pub error_code: Option<String>,
    pub error_message: Option<String>,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    /// The delivery's status right after this attempt (its latest, if this is its last attempt).
    #[sqlx(try_from = "String")]
    pub delivery_status: DeliveryStatus,
}

pub async fn unrecorded_attempts(
    pool: &PgPool,
    only: Option<i64>,
    limit: i64,
) -> Result<Vec<UnrecordedAttempt>, sqlx::Error> {
    sqlx::query_as(
        "SELECT a.id AS attempt_id, a.attempt, a.delivery_id, d.order_no, d.type, d.channel, a.target_display,
                d.message_text, d.extra, a.outcome, a.error_code, a.error_message, a.started_at, a.finished_at,
                a.outcome AS delivery_status
         FROM delivery_attempts a JOIN deliveries d ON d.id = a.delivery_id
         WHERE a.finished_at IS NOT NULL AND NOT a.event_recorded AND ($1::bigint IS NULL OR a.id = $1)
         ORDER BY a.id LIMIT $2",
    )
    .bind(only)
    .bind(limit)
    .fetch_all(pool)
    .await
}

pub async fn mark_recorded(pool: &PgPool, attempt_id: i64) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE delivery_attempts SET event_recorded = true WHERE id = $1")
        .bind(attempt_id)
        .execute(pool)
        .await?;
    Ok(())
}

pub async fn get_row(pool: &PgPool, id: Uuid) -> Result<Option<DeliveryRow>, sqlx::Error> {
    sqlx::query_as(&format!("SELECT {ROW_COLS} FROM deliveries WHERE id = $1"))
        .bind(id)
        .fetch_optional(pool)
        .await
}

pub async fn view(pool: &PgPool, id: Uuid, shown: PersonalData) -> Result<Option<DeliveryView>, sqlx::Error> {
    let rows: Vec<ViewRow> = sqlx::query_as(&format!("SELECT {VIEW_COLS} FROM deliveries WHERE id = $1"))
        .bind(id)
        .fetch_all(pool)
        .await?;
    Ok(to_views(pool, rows, shown).await?.pop())
}

/// An order's deliveries, whole (the order detail is for signed-in operators).
pub async fn for_order(pool: &PgPool, order_no: &str) -> Result<Vec<DeliveryView>, sqlx::Error> {
    let rows: Vec<ViewRow> = sqlx::query_as(&format!(
        "SELECT {VIEW_COLS} FROM deliveries WHERE order_no = $1 ORDER BY created_at, id"
    ))
    .bind(order_no)
    .fetch_all(pool)
    .await?;
    to_views(pool, rows, PersonalData::Whole).await
}

#[derive(Debug, Clone, Default)]
pub struct ListFilter {
    pub status: Option<DeliveryStatus>,
    pub channel: Option<Channel>,
    pub kind: Option<DeliveryKind>,
    pub created_from: Option<DateTime<Utc>>,
    pub created_to: Option<DateTime<Utc>>,
    pub limit: i64,
    pub cursor: Option<(DateTime<Utc>, Uuid)>,
}

pub fn encode_cursor(c: &(DateTime<Utc>, Uuid)) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("d1|{}|{}", c.0.timestamp_micros(), c.1))
}

pub fn decode_cursor(s: &str) -> Option<(DateTime<Utc>, Uuid)> {
    let raw = String::from_utf8(base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(s).ok()?).ok()?;
    let mut p = raw.splitn(3, '|');
    (p.next()? == "d1").then_some(())?;
    let t = DateTime::from_timestamp_micros(p.next()?.parse().ok()?)?;
    Some((t, p.next()?.parse().ok()?))
}

/// All deliveries, newest first, message texts masked.
pub async fn list(pool: &PgPool, f: &ListFilter) -> Result<(Vec<DeliveryView>, Option<String>), sqlx::Error> {
    let mut q: QueryBuilder<Postgres> = QueryBuilder::new(format!("SELECT {VIEW_COLS} FROM deliveries WHERE true"));
    if let Some(s) = &f.status {
        q.push(" AND status = ").push_bind(s.as_str());
    }
    if let Some(c) = &f.channel {
        q.push(" AND channel = ").push_bind(c.as_str());
    }
    if let Some(k) = &f.kind {
        q.push(" AND type = ").push_bind(k.as_str());
    }
    if let Some(t) = f.created_from {
        q.push(" AND created_at >= ").push_bind(t);
    }
    if let Some(t) = f.created_to {
        q.push(" AND created_at < ").push_bind(t);
    }
    if let Some((t, id)) = f.cursor {
        q.push(" AND (created_at, id) < (")
            .push_bind(t)
            .push(", ")
            .push_bind(id)
            .push(")");
    }
    q.push(" ORDER BY created_at DESC, id DESC LIMIT ")
        .push_bind(f.limit + 1);
    let mut rows: Vec<ViewRow> = q.build_query_as().fetch_all(pool).await?;
    let next = if rows.len() as i64 > f.limit {
        rows.truncate(f.limit as usize);
        rows.last().map(|r| encode_cursor(&(r.created_at, r.id)))
    } else {
        None
    };
    Ok((to_views(pool, rows, PersonalData::Masked).await?, next))
}

pub enum ResendError {
    NotFound,
    /// Already waiting to be sent or being sent: a second click changes nothing.
    AlreadyQueued(DeliveryStatus),
    /// The delivery was resent `MAX_RESENDS` times already.
    TooManyResends(i32),
    Db(sqlx::Error),
}

impl From<sqlx::Error> for ResendError {
    fn from(e: sqlx::Error) -> Self {
        ResendError::Db(e)
    }
}

/// How many times operators may resend one delivery: each resend appends an event to the
/// order's stream, so without a cap a script could grow a stream without bound.
pub const MAX_RESENDS: i32 = 10;

/// Queues a delivery for a new attempt now, optionally to a new target. Returns the row before.
pub async fn queue_resend(
    pool: &PgPool,
    id: Uuid,
    new_target: Option<(&str, &str, Channel)>,
) -> Result<DeliveryRow, ResendError> {
    let mut tx = pool.begin().await?;
    let before: DeliveryRow = sqlx::query_as(&format!("SELECT {ROW_COLS} FROM deliveries WHERE id = $1 FOR UPDATE"))
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(ResendError::NotFound)?;
    if before.status.is_queued() {
        return Err(ResendError::AlreadyQueued(before.status));
    }
    let resends: i32 = sqlx::query_scalar("SELECT resends FROM deliveries WHERE id = $1")
        .bind(id)
        .fetch_one(&mut *tx)
        .await?;
    if resends >= MAX_RESENDS {
        return Err(ResendError::TooManyResends(resends));
    }
    let (target, display, channel) = match new_target {
        Some((t, d, c)) => (t, d, c.as_str()),
        None => (
            before.target.as_str(),
            before.target_display.as_str(),
            before.channel.as_str(),
        ),
    };
    sqlx::query(
        "UPDATE deliveries SET target = $2, target_display = $3, channel = $4, status = 'pending', next_attempt_at = now(),
           max_attempts = GREATEST(max_attempts, attempts + 1), resends = resends + 1, updated_at = now() WHERE id = $1",
    )
    .bind(id)
    .bind(target)
    .bind(display)
    .bind(channel)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(before)
}

/// How many attempts to the target started within the last minute (for tests and the console).
pub async fn attempts_in_last_minute(pool: &PgPool, target: &str) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT count(*) FROM delivery_attempts WHERE target = $1 AND started_at > now() - interval '60 seconds'",
    )
    .bind(target)
    .fetch_one(pool)
    .await
}

/// Waits (bounded) until no worker holds the delivery, so an API answer shows the attempt's
/// outcome even when a background worker, not the request, made it.
pub async fn settle(pool: &PgPool, id: Uuid, max_wait: Duration) -> Result<(), sqlx::Error> {
    let deadline = std::time::Instant::now() + max_wait;
    loop {
        // Held: being sent, due and waiting for a worker, never attempted yet, or an outcome not
        // yet on the stream.
        let held: bool = sqlx::query_scalar(
            "SELECT (d.status = 'sending' OR (d.status = 'pending' AND d.next_attempt_at <= now()))
                    OR (d.status = 'pending' AND NOT EXISTS (SELECT 1 FROM delivery_attempts a WHERE a.delivery_id = d.id))
                    OR EXISTS (SELECT 1 FROM delivery_attempts a WHERE a.delivery_id = d.id AND NOT a.event_recorded)
             FROM deliveries d WHERE d.id = $1",
        )
        .bind(id)
        .fetch_optional(pool)
        .await?
        .unwrap_or(false);
        if !held || std::time::Instant::now() >= deadline {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The delivery of `kind` the event `source_sequence` of the order created, if any.
pub async fn created_by(
    pool: &PgPool,
    order_no: &str,
    source_sequence: i64,
    kind: xyt_domain::delivery::DeliveryKind,
) -> Result<Option<Uuid>, sqlx::Error> {
    sqlx::query_scalar("SELECT id FROM deliveries WHERE order_no = $1 AND source_sequence = $2 AND type = $3")
        .bind(order_no)
        .bind(source_sequence)
        .bind(kind.as_str())
        .fetch_optional(pool)
        .await
}
