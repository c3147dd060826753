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

use crate::deliveries::{self, NewDelivery};
use crate::views::{LatestRecord, MetaFacts, OrderDetail};
use xyt_domain::order::messages;
use xyt_domain::pricing::SeasonCalendar;
use xyt_domain::target::Target;

pub const ORDER_LIST: &str = "order_list";
pub const ORDER_DETAIL: &str = "order_detail";
pub const ORDER_EVENT_LOG: &str = "order_event_log";
/// Not a view: the deliveries that events call for, created once per (event, type).
pub const DELIVERIES: &str = "deliveries";
pub const ALL: [&str; 4] = [ORDER_LIST, ORDER_DETAIL, ORDER_EVENT_LOG, DELIVERIES];

/// How many attempts a delivery gets before it fails for good (a resend allows one more).
pub const DELIVERY_MAX_ATTEMPTS: i32 = 8;

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

fn target_of(
    kind: &'static str,
    configured: Option<String>,
    what: &str,
) -> (String, String, String, Option<(String, String, String)>) {
    match configured.as_deref().map(|t| (t, Target::parse(t, false))) {
        Some((raw, Ok(t))) => (raw.to_string(), t.display(), t.channel().as_str().to_string(), None),
        Some((raw, Err(e))) => (
            raw.to_string(),
            raw.to_string(),
            "unknown".into(),
            Some((
                "INVALID_TARGET".into(),
                e.0,
                format!("在配置中心修正{what}的目标后补发"),
            )),
        ),
        None => (
            String::new(),
            "-".into(),
            "none".into(),
            Some((
                "NO_TARGET".into(),
                format!("没有启用的{what}({kind})"),
                format!("在配置中心添加{what}后补发"),
            )),
        ),
    }
}

/// The deliveries an event calls for, with today's targets.
async fn deliveries_called_for(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    order: &Order,
    sequence: i64,
    event: &OrderEvent,
) -> anyhow::Result<Vec<NewDelivery>> {
    let Some(order_no) = order.order_no.as_ref().map(|n| n.to_string()) else {
        return Ok(vec![]);
    };
    let money = |d: Option<rust_decimal::Decimal>| d.map(|d| xyt_domain::money::round_cents(d).to_string());
    match event {
        OrderEvent::PriceCheckFailed(check) => {
            let configured: Option<String> = sqlx::query_scalar(
                "SELECT target FROM notification_targets WHERE purpose = 'price_alert' AND active ORDER BY created_at, id LIMIT 1",
            )
            .fetch_optional(&mut **tx)
            .await?;
            let (target, display, channel, unsendable) = target_of("price_alert", configured, "价格异常提醒目标");
            let text = messages::price_exception_text(&order_no);
            Ok(vec![NewDelivery {
                order_no,
                source_sequence: sequence,
                kind: "price_exception",
                channel,
                target,
                target_display: display,
                message_text_masked: text.clone(),
                message_text: text,
                extra: serde_json::json!({
                    "reason": "price_check_failed",
                    "paidAmount": money(check.paid_amount),
                    "settlementAmount": money(check.settlement_amount),
                }),
                max_attempts: DELIVERY_MAX_ATTEMPTS,
                unsendable,
            }])
        }
        OrderEvent::UserFormSubmitted(form) => {
            let group: Option<(uuid::Uuid, String)> = sqlx::query_as(
                "SELECT id, wecom_target FROM agent_groups WHERE active ORDER BY created_at, id LIMIT 1",
            )
            .fetch_optional(&mut **tx)
            .await?;
            let calendar: Option<serde_json::Value> =
                sqlx::query_scalar("SELECT value FROM settings WHERE key = 'season_calendar'")
                    .fetch_optional(&mut **tx)
                    .await?;
            let season = calendar
                .and_then(|v| serde_json::from_value::<SeasonCalendar>(v).ok())
                .map(|c| c.season_for(form.play_date).label())
                .unwrap_or("-");
            let (target, display, channel, unsendable) =
                target_of("agent_group", group.as_ref().map(|g| g.1.clone()), "代理群");
            let target_group_id = match Target::parse(&target, false) {
                Ok(Target::WecomApp { chat_id }) => Some(chat_id),
                _ => group.as_ref().map(|g| g.0.to_string()),
            };
            let (Some(text), Some(masked)) = (
                messages::user_form_group_text(order, season, false),
                messages::user_form_group_text(order, season, true),
            ) else {
                return Ok(vec![]);
            };
            Ok(vec![NewDelivery {
                order_no,
                source_sequence: sequence,
                kind: "user_form_group_push",
                channel,
                target,
                target_display: display,
                message_text: text,
                message_text_masked: masked,
                extra: serde_json::json!({ "targetGroupId": target_group_id }),
                max_attempts: DELIVERY_MAX_ATTEMPTS,
                unsendable,
            }])
        }
        OrderEvent::OrderPushRequested(r) => {
            let group: Option<String> = sqlx::query_scalar("SELECT wecom_target FROM agent_groups WHERE id::text = $1")
                .bind(&r.agent_group_id)
                .fetch_optional(&mut **tx)
                .await?;
            let (target, display, channel, unsendable) = target_of("agent_group", group, "代理群");
            let masked = messages::order_push_text(order, true).unwrap_or_else(|| r.message_text.clone());
            Ok(vec![NewDelivery {
                order_no,
                source_sequence: sequence,
                kind: "order_push",
                channel,
                target,
                target_display: display,
                message_text: r.message_text.clone(),
                message_text_masked: masked,
                extra: serde_json::json!({
                    "targetGroupId": r.target_group_id,
                    "proofSha256": order.payment_proof.as_ref().map(|p| p.sha256.clone()),
                }),
                max_attempts: DELIVERY_MAX_ATTEMPTS,
                unsendable,
            }])
        }
        OrderEvent::XgjRefundApplied(a) if a.decision == "merchant_decides" => {
            let configured: Option<String> = sqlx::query_scalar(
                "SELECT target FROM notification_targets WHERE purpose = 'price_alert' AND active ORDER BY created_at, id LIMIT 1",
            )
            .fetch_optional(&mut **tx)
            .await?;
            let (target, display, channel, unsendable) = target_of("price_alert", configured, "运营提醒目标");
            let text = messages::refund_alert_text(&order_no, a.refund_amount_cent, &a.refund_reason);
            Ok(vec![NewDelivery {
                order_no,
                source_sequence: sequence,
                kind: "refund_alert",
                channel,
                target,
                target_display: display,
                message_text_masked: text.clone(),
                message_text: text,
                extra: serde_json::json!({ "reason": "xgj_refund_after_agent_paid" }),
                max_attempts: DELIVERY_MAX_ATTEMPTS,
                unsendable,
            }])
        }
        _ => Ok(vec![]),
    }
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
        OrderEvent::PaymentConfirmed(p) => {
            facts.payment_by = Some((meta.source.clone(), meta.created_at));
            facts.latest.payment = record(format!("确认付款 ¥{}({})", p.amount, p.qr_code_label));
        }
        OrderEvent::PaymentProofUploaded(i) => {
            facts.proof_at = Some(meta.created_at);
            facts.latest.payment = record(format!("上传付款凭证({},{} 字节)", i.content_type, i.size));
        }
        OrderEvent::OrderPushRequested(r) => {
            facts.push_requested = Some((meta.source.clone(), meta.created_at));
            facts.latest.push = record(format!("请求推送到「{}」", r.agent_group_name));
        }
        OrderEvent::OrderPushedToAgent(a) => facts.latest.push = record(format!("已推送到 {}", a.notification_target)),
        OrderEvent::OrderPushFailed(_) => {
            facts.latest.push = record(format!(
                "推送失败:{}",
                meta.error_message
                    .as_deref()
                    .or(meta.error_code.as_deref())
                    .unwrap_or("-")
            ))
        }
        OrderEvent::AgentScreenshotUploaded(_) => {
            facts.screenshot_at = Some(meta.created_at);
            facts.latest.screenshot = record("上传代理截图".into());
        }
        OrderEvent::ScreenshotMatched(_) => facts.latest.screenshot = record("截图与订单匹配".into()),
        OrderEvent::ScreenshotMismatched(m) => {
            facts.latest.screenshot = record(format!("截图与订单不符:{}", m.reason_labels.join(";")))
        }
        OrderEvent::ScreenshotMatchConfirmed(n) => facts.latest.screenshot = record(format!("人工确认匹配 {}", n.note)),
        OrderEvent::ScreenshotMatchRejected(n) => facts.latest.screenshot = record(format!("驳回截图:{}", n.note)),
        OrderEvent::ProfitShareCalculated(p) => {
            facts.latest.profit_share = record(format!(
                "分润已计算:收入 ¥{} 成本 ¥{} 利润 ¥{}",
                p.revenue, p.cost, p.profit
            ))
        }
        OrderEvent::ProfitShareSettled(p) => {
            facts.latest.profit_share = record(format!("分润已结算:利润 ¥{}", p.profit))
        }
        _ => {}
    }
}

/// The fold every order view is built from: the aggregate, plus what only the metadata tells.
/// `refresh` writes the views from it and replay (`crate::replay`) answers a past moment with it.
#[derive(Default)]
pub struct Fold {
    pub order: Order,
    pub facts: MetaFacts,
}

impl Fold {
    /// Applies one event; returns what it changed in the tracked fields (before, after).
    pub fn step(&mut self, event: OrderEvent, meta: &EventMeta) -> (serde_json::Value, serde_json::Value) {
        let before = self.order.tracked_fields();
        learn(&mut self.facts, &event, meta);
        self.order.apply(event);
        diff(&before, &self.order.tracked_fields())
    }

    /// The detail as the views show it, after the events folded so far.
    pub fn detail(&self, created_at: DateTime<Utc>, updated_at: DateTime<Utc>, head: i64) -> Option<OrderDetail> {
        OrderDetail::from_order(&self.order, &self.facts, created_at, updated_at, head)
    }
}

/// Reads one stored event (its payload as the current code reads it: older versions are
/// upcast first) and its metadata.
pub fn decode(
    order_no: &str,
    sequence: i64,
    event_type: &str,
    event_version: &str,
    payload: serde_json::Value,
    metadata: serde_json::Value,
) -> anyhow::Result<(OrderEvent, EventMeta)> {
    let payload = xyt_domain::order::upcast(event_type, event_version, payload);
    let event: OrderEvent = serde_json::from_value(payload)
        .with_context(|| format!("order {order_no} event {sequence} does not deserialize"))?;
    let meta: HashMap<String, String> = serde_json::from_value(metadata).unwrap_or_default();
    Ok((event, EventMeta::from_map(&meta)))
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
            let event_type: String = r.try_get("event_type")?;
            let event_version: String = r.try_get("event_version")?;
            let (event, meta) = decode(
                order_no,
                sequence,
                &event_type,
                &event_version,
                payload.clone(),
                r.try_get("metadata")?,
            )?;
            events.push(StoredEvent {
                sequence,
                event_type,
                event_version,
                payload,
                event,
                meta,
            });
        }
        let Some(head) = events.last().map(|e| e.sequence) else {
            return Ok(0);
        };
        let created_at: DateTime<Utc> = events[0].meta.created_at;
        let updated_at: DateTime<Utc> = events.last().map(|e| e.meta.processed_at).unwrap_or(created_at);

        let log_offset = offset(ORDER_EVENT_LOG);
        let deliveries_offset = offset(DELIVERIES);
        let mut fold = Fold::default();
        for e in events {
            let calls_for = (e.sequence > deliveries_offset).then(|| e.event.clone());
            let (b, a) = fold.step(e.event, &e.meta);
            if let Some(event) = calls_for {
                for d in deliveries_called_for(&mut tx, &fold.order, e.sequence, &event).await? {
                    if deliveries::create(&mut tx, &d).await? {
                        tracing::info!(order_no, kind = d.kind, target = %d.target_display, "delivery created");
                    }
                }
            }
            if e.sequence <= log_offset {
                continue;
            }
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

        let order = &fold.order;
        if let Some(detail) = fold.detail(created_at, updated_at, head) {
            if offset(ORDER_LIST) < head {
                sqlx::query(
                    "INSERT INTO order_list (order_no, external_order_no, out_order_no, goods_no, goods_name, ticket_type,
                       play_date, paid_amount, payable_amount, status, status_label, suggested_action,
                       suggested_action_label, buyer_name_masked, phone_masked, phone_last4, unknown_goods,
                       created_at, updated_at, system_step_owed)
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
                       system_step_owed = EXCLUDED.system_step_owed",
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
                .bind(order.owes_system_step())
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
        // Deliveries stay: they are real sends, re-derived idempotently per (event, type).
        sqlx::query("TRUNCATE order_list, order_detail, order_event_log, projection_offsets")
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        self.catch_up().await
    }
}
