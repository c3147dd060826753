//! Projections: the order list, the order detail and the event log, derived from the events.
//!
//! `refresh(order)` folds the order's whole stream (streams are short: tens of events) and, in
//! one transaction under a per-order advisory lock, writes every view that is behind, together
//! with the last sequence each one applied. It is idempotent, so the live path (after a command)
//! and the catch-up path (at start-up and every few seconds) are the same code, and running it
//! twice or concurrently never doubles anything.

use std::collections::{BTreeMap, HashMap};

use anyhow::Context;
use chrono::{DateTime, Utc};
use cqrs_es::Aggregate;
use sqlx::{PgPool, Row};
use xyt_domain::order::{EventMeta, Order, OrderEvent};
use xyt_domain::personal::{mask_name, mask_phone};

use crate::views::{LatestRecord, MetaFacts, OrderDetail};

pub const ORDER_LIST: &str = "order_list";
pub const ORDER_DETAIL: &str = "order_detail";
pub const ORDER_EVENT_LOG: &str = "order_event_log";
pub const ALL: [&str; 3] = [ORDER_LIST, ORDER_DETAIL, ORDER_EVENT_LOG];

#[derive(Clone)]
pub struct Projections {
    pool: PgPool,
}

struct StoredEvent {
    sequence: i64,
    event_type: String,
    event_version: String,
    payload: serde_json::Value,
    event: OrderEvent,
    meta: EventMeta,
}

fn diff(
    before: &BTreeMap<&'static str, String>,
    after: &BTreeMap<&'static str, String>,
) -> (serde_json::Value, serde_json::Value) {
    let mut b = serde_json::Map::new();
    let mut a = serde_json::Map::new();
    for k in before.keys().chain(after.keys()) {
        let (x, y) = (before.get(k), after.get(k));
        if x != y {
            if let Some(x) = x {
                b.insert((*k).into(), x.clone().into());
            }
            if let Some(y) = y {
                a.insert((*k).into(), y.clone().into());
            }
        }
    }
    (b.into(), a.into())
}

/// Facts only the metadata knows: when the form came, who reviewed.
fn learn(facts: &mut MetaFacts, event: &OrderEvent, meta: &EventMeta) {
    let record = |summary: String| {
        Some(LatestRecord {
            summary,
            by: meta.source.clone(),
            at: meta.created_at,
        })
    };
    match event {
        OrderEvent::UserFormSubmitted(_) => facts.form_submitted_at = Some(meta.created_at),
        OrderEvent::PriceCheckPassed(_) | OrderEvent::PriceCheckFailed(_) => {
            facts.price_checked_at = Some(meta.created_at)
        }
        OrderEvent::ManualReviewApproved(e) => {
            facts.latest.review = record(if e.note.is_empty() {
                "人工审核通过".into()
            } else {
                format!("人工审核通过:{}", e.note)
            })
        }
        OrderEvent::ManualReviewRejected(e) => facts.latest.review = record(format!("人工审核拒绝:{}", e.reason)),
        OrderEvent::XgjVirtualOrderReceived(_)
        | OrderEvent::XgjVirtualCardOrderCreated(_)
        | OrderEvent::OrderCancelled(_) => {}
    }
}

impl Projections {
    pub fn new(pool: PgPool) -> Self {
        Self { pool }
    }

    /// Brings every view of one order up to its last event. Returns the version reached.
    pub async fn refresh(&self, order_no: &str) -> anyhow::Result<i64> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 7))")
            .bind(format!("order-views:{order_no}"))
            .execute(&mut *tx)
            .await?;
        let offsets: HashMap<String, i64> =
            sqlx::query("SELECT projection, version FROM projection_offsets WHERE order_no = $1")
                .bind(order_no)
                .fetch_all(&mut *tx)
                .await?
                .into_iter()
                .map(|r| (r.get::<String, _>(0), r.get::<i64, _>(1)))
                .collect();
        let offset = |p: &str| offsets.get(p).copied().unwrap_or(0);

        let rows = sqlx::query(
            "SELECT sequence, event_type, event_version, payload, metadata FROM events
             WHERE aggregate_type = $1 AND aggregate_id = $2 ORDER BY sequence",
        )
        .bind(Order::TYPE)
        .bind(order_no)
        .fetch_all(&mut *tx)
        .await?;
        let mut events = Vec::with_capacity(rows.len());
        for r in rows {
            let payload: serde_json::Value = r.try_get("payload")?;
            let sequence: i64 = r.try_get("sequence")?;
            let event: OrderEvent = serde_json::from_value(payload.clone())
                .with_context(|| format!("order {order_no} event {sequence} does not deserialize"))?;
            let meta: HashMap<String, String> = serde_json::from_value(r.try_get("metadata")?).unwrap_or_default();
            events.push(StoredEvent {
                sequence,
                event_type: r.try_get("event_type")?,
                event_version: r.try_get("event_version")?,
                payload,
                event,
                meta: EventMeta::from_map(&meta),
            });
        }
        let Some(head) = events.last().map(|e| e.sequence) else {
            return Ok(0);
        };
        let created_at: DateTime<Utc> = events[0].meta.created_at;
        let updated_at: DateTime<Utc> = events.last().map(|e| e.meta.processed_at).unwrap_or(created_at);

        let log_offset = offset(ORDER_EVENT_LOG);
        let mut order = Order::default();
        let mut facts = MetaFacts::default();
        for e in events {
            let before = order.tracked_fields();
            learn(&mut facts, &e.event, &e.meta);
            order.apply(e.event);
            if e.sequence <= log_offset {
                continue;
            }
            let after = order.tracked_fields();
            let (b, a) = diff(&before, &after);
            // The stored payload is `{ "<event name>": {...} }`; the log shows the inner object.
            let payload = e.payload.get(&e.event_type).cloned().unwrap_or(e.payload);
            sqlx::query(
                "INSERT INTO order_event_log (order_no, sequence, event_type, event_version, source, result,
                   created_at, processed_at, request_id, error_code, error_message, before, after, payload)
                 VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14) ON CONFLICT DO NOTHING",
            )
            .bind(order_no)
            .bind(e.sequence)
            .bind(&e.event_type)
            .bind(&e.event_version)
            .bind(&e.meta.source)
            .bind(&e.meta.result)
            .bind(e.meta.created_at)
            .bind(e.meta.processed_at)
            .bind(&e.meta.request_id)
            .bind(&e.meta.error_code)
            .bind(&e.meta.error_message)
            .bind(b)
            .bind(a)
            .bind(payload)
            .execute(&mut *tx)
            .await?;
        }

        if let Some(detail) = OrderDetail::from_order(&order, &facts, created_at, updated_at, head) {
            if offset(ORDER_LIST) < head {
                sqlx::query(
                    "INSERT INTO order_list (order_no, external_order_no, out_order_no, goods_no, goods_name, ticket_type,
                       play_date, paid_amount, payable_amount, status, status_label, suggested_action,
                       suggested_action_label, buyer_name_masked, phone_masked, phone_last4, unknown_goods,
                       created_at, updated_at, price_check_pending)
                     VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17,$18,$19,$20)
                     ON CONFLICT (order_no) DO UPDATE SET external_order_no = EXCLUDED.external_order_no,
                       out_order_no = EXCLUDED.out_order_no, goods_no = EXCLUDED.goods_no,
                       goods_name = EXCLUDED.goods_name, ticket_type = EXCLUDED.ticket_type,
                       play_date = EXCLUDED.play_date, paid_amount = EXCLUDED.paid_amount,
                       payable_amount = EXCLUDED.payable_amount, status = EXCLUDED.status,
                       status_label = EXCLUDED.status_label, suggested_action = EXCLUDED.suggested_action,
                       suggested_action_label = EXCLUDED.suggested_action_label,
                       buyer_name_masked = EXCLUDED.buyer_name_masked, phone_masked = EXCLUDED.phone_masked,
                       phone_last4 = EXCLUDED.phone_last4, unknown_goods = EXCLUDED.unknown_goods,
                       created_at = EXCLUDED.created_at, updated_at = EXCLUDED.updated_at,
                       price_check_pending = EXCLUDED.price_check_pending",
                )
                .bind(&detail.order_no)
                .bind(&detail.external_order_no)
                .bind(&detail.out_order_no)
                .bind(&detail.goods_no)
                .bind(&detail.goods_name)
                .bind(&detail.ticket_type)
                .bind(detail.play_date)
                .bind(detail.paid_amount)
                .bind(detail.payable_amount)
                .bind(detail.status.as_str())
                .bind(&detail.status_label)
                .bind(detail.suggested_action.as_str())
                .bind(&detail.suggested_action_label)
                .bind(order.form.as_ref().map(|f| mask_name(f.name.as_str())))
                .bind(order.form.as_ref().map(|f| mask_phone(f.phone.as_str())))
                .bind(order.form.as_ref().map(|f| {
                    let p = f.phone.as_str();
                    p[p.len().saturating_sub(4)..].to_string()
                }))
                .bind(detail.unknown_goods)
                .bind(created_at)
                .bind(updated_at)
                .bind(order.price_check_pending)
                .execute(&mut *tx)
                .await?;
            }
            if offset(ORDER_DETAIL) < head {
                sqlx::query(
                    "INSERT INTO order_detail (order_no, form_token, doc, updated_at) VALUES ($1, $2, $3, $4)
                     ON CONFLICT (order_no) DO UPDATE SET form_token = EXCLUDED.form_token, doc = EXCLUDED.doc,
                       updated_at = EXCLUDED.updated_at",
                )
                .bind(&detail.order_no)
                .bind(&order.form_token)
                .bind(sqlx::types::Json(&detail))
                .bind(updated_at)
                .execute(&mut *tx)
                .await?;
            }
        }
        for p in ALL {
            sqlx::query(
                "INSERT INTO projection_offsets (projection, order_no, version) VALUES ($1, $2, $3)
                 ON CONFLICT (projection, order_no) DO UPDATE SET version = GREATEST(projection_offsets.version, EXCLUDED.version)",
            )
            .bind(p)
            .bind(order_no)
            .bind(head)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(head)
    }

    /// Orders whose events run ahead of any of their views.
    pub async fn lagging_orders(&self, limit: i64) -> Result<Vec<String>, sqlx::Error> {
        sqlx::query_scalar(
            "SELECT e.aggregate_id FROM events e
             WHERE e.aggregate_type = $1
             GROUP BY e.aggregate_id
             HAVING max(e.sequence) > COALESCE((
                 SELECT CASE WHEN count(*) < $2 THEN 0 ELSE min(p.version) END
                 FROM projection_offsets p WHERE p.order_no = e.aggregate_id), 0)
             LIMIT $3",
        )
        .bind(Order::TYPE)
        .bind(ALL.len() as i64)
        .bind(limit)
        .fetch_all(&self.pool)
        .await
    }

    /// Applies whatever the views miss. Returns how many orders it refreshed. One order that
    /// fails (say, an event this build cannot read) is logged and skipped, never blocking the rest.
    pub async fn catch_up(&self) -> anyhow::Result<usize> {
        let mut refreshed = 0;
        let mut failed = std::collections::HashSet::new();
        loop {
            let lagging: Vec<String> = self
                .lagging_orders(500 + failed.len() as i64)
                .await?
                .into_iter()
                .filter(|o| !failed.contains(o))
                .collect();
            if lagging.is_empty() {
                return Ok(refreshed);
            }
            for order_no in lagging {
                match self.refresh(&order_no).await {
                    Ok(_) => refreshed += 1,
                    Err(e) => {
                        tracing::error!(order_no = %order_no, error = format!("{e:#}"), "view refresh failed");
                        failed.insert(order_no);
                    }
                }
            }
        }
    }

    /// Drops every view and rebuilds it from the events (`xyt rebuild-views`).
    pub async fn rebuild_all(&self) -> anyhow::Result<usize> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("TRUNCATE order_list, order_detail, order_event_log, projection_offsets")
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        self.catch_up().await
    }
}
