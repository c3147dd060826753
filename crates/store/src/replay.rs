//! Replay: an order as it stood right after any of its events, folded by the projections' own
//! [`Fold`], with a timeline of what each event changed.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::PgPool;
use utoipa::ToSchema;

use crate::chain;
use crate::projections::{decode, Changed, Fold};
use crate::views::OrderDetail;
use xyt_domain::order::EventMeta;

/// One event of the timeline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TimelineEntry {
    pub sequence: i64,
    pub event_type: String,
    /// The version stored (older versions are read through the upcaster).
    pub event_version: String,
    /// `xgj_virtual`, `public`, `system`, `admin:<user>`, `api:<key>`.
    pub source: String,
    pub result: String,
    pub created_at: DateTime<Utc>,
    pub request_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_message: Option<String>,
    /// The tracked fields this event changed, before and after.
    #[schema(value_type = Object)]
    pub before: Changed,
    #[schema(value_type = Object)]
    pub after: Changed,
    /// The event as recorded (the inner object of the payload), with every input it decided on.
    #[schema(value_type = Object)]
    pub payload: serde_json::Value,
    /// The event's link in the order's hash chain.
    pub chain_hash: String,
}

/// The order at `at`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Replay {
    pub order_no: String,
    /// The sequence replayed to.
    pub at: i64,
    /// The order's last sequence now.
    pub last_sequence: i64,
    /// The detail exactly as `GET /api/orders/{orderNo}` showed it right after event `at`
    /// (what the API takes from today's config rather than the order's history is left out:
    /// `activeQrCode`, and `availableActions` are the order's own, not narrowed to today's config).
    pub detail: OrderDetail,
    /// Every event up to `at`, oldest first.
    pub timeline: Vec<TimelineEntry>,
}

#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    #[error("no such order")]
    NotFound,
    #[error("the order has {last} events")]
    PastEnd { last: i64 },
    #[error(transparent)]
    Db(#[from] sqlx::Error),
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

/// One event of an order's stream, folded: its record and what it changed.
pub struct Step {
    pub sequence: i64,
    pub event_type: String,
    pub event_version: String,
    pub meta: EventMeta,
    /// The tracked fields this event changed, before and after.
    pub before: Changed,
    pub after: Changed,
    /// The event as recorded (the inner object of the payload).
    pub payload: serde_json::Value,
    pub chain_hash: String,
}

/// An order's stream read and folded up to `at`: the one fold behind the replay and the event
/// log (`views::order_events`), so both always tell each event's change alike.
pub struct Folded {
    pub fold: Fold,
    /// Oldest first.
    pub steps: Vec<Step>,
    /// The order's last sequence now.
    pub last: i64,
}

/// Reads `order_no`'s events (`chain::load`, by their key: the cost of the order's own stream,
/// whatever the number of orders) and folds them up to `at` (the last event when `None`).
pub async fn fold(pool: &PgPool, order_no: &str, at: Option<i64>) -> Result<Folded, ReplayError> {
    let rows = chain::load(pool, order_no).await?;
    let Some(last) = rows.last().map(|r| r.sequence) else {
        return Err(ReplayError::NotFound);
    };
    let at = at.unwrap_or(last);
    if at > last || at < 1 {
        return Err(ReplayError::PastEnd { last });
    }
    let mut fold = Fold::default();
    let mut steps = Vec::with_capacity(rows.len());
    // The tracked fields after the last step: the next step's "before".
    let mut tracked = None;
    for row in rows.into_iter().take_while(|r| r.sequence <= at) {
        let (event, meta) = decode(
            order_no,
            row.sequence,
            &row.event_type,
            &row.event_version,
            &row.payload,
            &row.metadata,
        )?;
        let payload = row.recorded().map_err(anyhow::Error::from)?;
        let ((before, after), fields) = fold.step_from(tracked.take(), event, &meta);
        tracked = Some(fields);
        steps.push(Step {
            sequence: row.sequence,
            event_type: row.event_type,
            event_version: row.event_version,
            meta,
            before,
            after,
            payload,
            chain_hash: row.chain_hash,
        });
    }
    Ok(Folded { fold, steps, last })
}

/// Replays `order_no` to `at` (the last event when `None`).
pub async fn replay(pool: &PgPool, order_no: &str, at: Option<i64>) -> Result<Replay, ReplayError> {
    let Folded { fold, steps, last } = self::fold(pool, order_no, at).await?;
    let at = steps.last().map_or(0, |s| s.sequence);
    let created_at = steps.first().map(|s| s.meta.created_at).unwrap_or_default();
    let updated_at = steps.last().map_or(created_at, |s| s.meta.processed_at);
    let detail = fold.detail(created_at, updated_at, at).ok_or(ReplayError::NotFound)?;
    let timeline = steps
        .into_iter()
        .map(|s| TimelineEntry {
            sequence: s.sequence,
            event_type: s.event_type,
            event_version: s.event_version,
            source: s.meta.source,
            result: s.meta.result,
            created_at: s.meta.created_at,
            request_id: s.meta.request_id,
            error_code: s.meta.error_code,
            error_message: s.meta.error_message,
            before: s.before,
            after: s.after,
            payload: s.payload,
            chain_hash: s.chain_hash,
        })
        .collect();
    Ok(Replay {
        order_no: order_no.to_string(),
        at,
        last_sequence: last,
        detail,
        timeline,
    })
}
