//! Projections: the order list, the order detail and the event log, derived from the events.
//!
//! `refresh(order)` folds the order's whole stream (streams are short: tens of events) and, in
//! one transaction under a per-order advisory lock, writes every view that is behind, together
//! with the last sequence each one applied. It is idempotent, so the live path (after a command)
//! and the catch-up path (at start-up and every few seconds) are the same code, and running it
//! twice or concurrently never doubles anything. Batches of orders share one transaction and
//! one statement per table (`refresh_many`, the catch-up, `rebuild`).
//!
//! The catch-up reads only the events after its high-water mark over (inserting transaction,
//! position): see migration `catch_up_checkpoint` for why that order never skips a late commit.

use std::collections::{BTreeMap, HashMap};

use anyhow::Context;
use chrono::{DateTime, Utc};
use cqrs_es::Aggregate;
use sqlx::{PgPool, Row};
use xyt_domain::order::{EventMeta, Order, OrderEvent};
use xyt_domain::personal::{mask_name, mask_phone};

use crate::deliveries::{self, DeliveryKind, NewDelivery, StoredChannel};
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
) -> (String, String, StoredChannel, Option<(String, String, String)>) {
    match configured.as_deref().map(|t| (t, Target::parse(t, false))) {
        Some((raw, Ok(t))) => (raw.to_string(), t.display(), StoredChannel::Target(t.channel()), None),
        Some((raw, Err(e))) => (
            raw.to_string(),
            raw.to_string(),
            StoredChannel::Invalid,
            Some((
                "INVALID_TARGET".into(),
                e.0,
                format!("在配置中心修正{what}的目标后补发"),
            )),
        ),
        None => (
            String::new(),
            "-".into(),
            StoredChannel::Unconfigured,
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
                order_no: Some(order_no),
                goods_no: None,
                source_sequence: sequence,
                kind: DeliveryKind::PriceException,
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
                order_no: Some(order_no),
                goods_no: None,
                source_sequence: sequence,
                kind: DeliveryKind::UserFormGroupPush,
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
                order_no: Some(order_no),
                goods_no: None,
                source_sequence: sequence,
                kind: DeliveryKind::OrderPush,
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
                order_no: Some(order_no),
                goods_no: None,
                source_sequence: sequence,
                kind: DeliveryKind::RefundAlert,
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

/// Where the views are written: the live tables, or scratch copies (`xyt rebuild-views --verify`).
#[derive(Debug, Clone, Copy)]
pub struct Tables {
    pub list: &'static str,
    pub detail: &'static str,
    pub log: &'static str,
    pub offsets: &'static str,
    /// Whether events create the deliveries they call for (never into scratch tables).
    pub deliveries: bool,
}

pub const LIVE: Tables = Tables {
    list: "order_list",
    detail: "order_detail",
    log: "order_event_log",
    offsets: "projection_offsets",
    deliveries: true,
};

pub const SCRATCH: Tables = Tables {
    list: "verify_order_list",
    detail: "verify_order_detail",
    log: "verify_order_event_log",
    offsets: "verify_projection_offsets",
    deliveries: false,
};

const LIST_COLUMNS: [&str; 20] = [
    "order_no",
    "external_order_no",
    "out_order_no",
    "goods_no",
    "goods_name",
    "ticket_type",
    "play_date",
    "paid_amount",
    "payable_amount",
    "status",
    "status_label",
    "suggested_action",
    "suggested_action_label",
    "buyer_name_masked",
    "phone_masked",
    "phone_last4",
    "unknown_goods",
    "created_at",
    "updated_at",
    "system_step_owed",
];
const DETAIL_COLUMNS: [&str; 4] = ["order_no", "form_token", "doc", "updated_at"];
const LOG_COLUMNS: [&str; 14] = [
    "order_no",
    "sequence",
    "event_type",
    "event_version",
    "source",
    "result",
    "created_at",
    "processed_at",
    "request_id",
    "error_code",
    "error_message",
    "before",
    "after",
    "payload",
];

/// Timestamps as PostgreSQL stores them (microseconds, truncated as sqlx does when it binds).
fn ts(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

/// `INSERT INTO t (cols) SELECT cols FROM jsonb_populate_recordset(null::t, $1)`: one statement
/// writes a whole batch of rows, whatever the batch's size.
fn bulk_insert(table: &str, columns: &[&str], on_conflict: &str) -> String {
    let cols = columns.join(", ");
    format!("INSERT INTO {table} ({cols}) SELECT {cols} FROM jsonb_populate_recordset(null::{table}, $1) {on_conflict}")
}

fn upsert_all(key: &str, columns: &[&str]) -> String {
    let set: Vec<String> = columns
        .iter()
        .filter(|c| **c != key)
        .map(|c| format!("{c} = EXCLUDED.{c}"))
        .collect();
    format!("ON CONFLICT ({key}) DO UPDATE SET {}", set.join(", "))
}

/// The rows a batch of orders writes, gathered so that each table takes one statement.
#[derive(Default)]
struct Rows {
    list: Vec<serde_json::Value>,
    detail: Vec<serde_json::Value>,
    log: Vec<serde_json::Value>,
    offset_projection: Vec<&'static str>,
    offset_order: Vec<String>,
    offset_version: Vec<i64>,
}

/// What a batch did: orders whose views were written, events folded, orders left out because
/// their events could not be read (logged; the rest of the batch is not held up by them).
#[derive(Debug, Default, Clone, Copy)]
pub struct BatchOutcome {
    pub orders: usize,
    pub events: usize,
    pub failed: usize,
}

type Streams = BTreeMap<String, Result<Vec<StoredEvent>, anyhow::Error>>;

async fn load_streams(conn: &mut sqlx::PgConnection, order_nos: &[String]) -> anyhow::Result<Streams> {
    let rows = sqlx::query(
        "SELECT aggregate_id, sequence, event_type, event_version, payload, metadata FROM events
         WHERE aggregate_type = $1 AND aggregate_id = ANY($2) ORDER BY aggregate_id, sequence",
    )
    .bind(Order::TYPE)
    .bind(order_nos)
    .fetch_all(&mut *conn)
    .await?;
    let mut streams: Streams = BTreeMap::new();
    for r in rows {
        let order_no: String = r.try_get("aggregate_id")?;
        let sequence: i64 = r.try_get("sequence")?;
        let payload: serde_json::Value = r.try_get("payload")?;
        let entry = streams.entry(order_no.clone()).or_insert_with(|| Ok(vec![]));
        let Ok(events) = entry else { continue };
        let event_type: String = r.try_get("event_type")?;
        let event_version: String = r.try_get("event_version")?;
        let (event, meta) = match decode(
            &order_no,
            sequence,
            &event_type,
            &event_version,
            payload.clone(),
            r.try_get("metadata")?,
        ) {
            Ok(decoded) => decoded,
            Err(e) => {
                *entry = Err(e);
                continue;
            }
        };
        events.push(StoredEvent {
            sequence,
            event_type,
            event_version,
            payload,
            event,
            meta,
        });
    }
    Ok(streams)
}

/// Folds one order's stream and gathers the rows of every view that is behind.
async fn fold(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    tables: Tables,
    order_no: &str,
    events: Vec<StoredEvent>,
    offsets: &HashMap<&str, i64>,
    rows: &mut Rows,
) -> anyhow::Result<i64> {
    let offset = |p: &str| offsets.get(p).copied().unwrap_or(0);
    let Some(head) = events.last().map(|e| e.sequence) else {
        return Ok(0);
    };
    let created_at: DateTime<Utc> = events[0].meta.created_at;
    let updated_at: DateTime<Utc> = events.last().map(|e| e.meta.processed_at).unwrap_or(created_at);
    let log_offset = offset(ORDER_EVENT_LOG);
    let deliveries_offset = if tables.deliveries {
        offset(DELIVERIES)
    } else {
        i64::MAX
    };
    let mut f = Fold::default();
    for e in events {
        // The log's before/after only where the log is behind: a rebuild folds millions of events.
        let before = (e.sequence > log_offset).then(|| f.order.tracked_fields());
        let calls_for = (e.sequence > deliveries_offset).then(|| e.event.clone());
        f.apply(e.event, &e.meta);
        let order = &f.order;
        if let Some(event) = calls_for {
            for d in deliveries_called_for(tx, order, e.sequence, &event).await? {
                if deliveries::create(tx, &d).await? {
                    tracing::info!(order_no, kind = d.kind.as_str(), target = %d.target_display, "delivery created");
                }
            }
        }
        let Some(before) = before else { continue };
        let after = order.tracked_fields();
        let (b, a) = diff(&before, &after);
        // The stored payload is `{ "<event name>": {...} }`; the log shows the inner object.
        let payload = e.payload.get(&e.event_type).cloned().unwrap_or(e.payload);
        rows.log.push(serde_json::json!({
            "order_no": order_no,
            "sequence": e.sequence,
            "event_type": e.event_type,
            "event_version": e.event_version,
            "source": e.meta.source,
            "result": e.meta.result,
            "created_at": ts(e.meta.created_at),
            "processed_at": ts(e.meta.processed_at),
            "request_id": e.meta.request_id,
            "error_code": e.meta.error_code,
            "error_message": e.meta.error_message,
            "before": b,
            "after": a,
            "payload": payload,
        }));
    }
    let order = &f.order;
    if let Some(detail) = f.detail(created_at, updated_at, head) {
        if offset(ORDER_LIST) < head {
            let money = |d: Option<rust_decimal::Decimal>| d.map(|d| d.to_string());
            rows.list.push(serde_json::json!({
                "order_no": detail.order_no,
                "external_order_no": detail.external_order_no,
                "out_order_no": detail.out_order_no,
                "goods_no": detail.goods_no,
                "goods_name": detail.goods_name,
                "ticket_type": detail.ticket_type,
                "play_date": detail.play_date,
                "paid_amount": money(detail.paid_amount),
                "payable_amount": money(detail.payable_amount),
                "status": detail.status.as_str(),
                "status_label": detail.status_label,
                "suggested_action": detail.suggested_action.as_str(),
                "suggested_action_label": detail.suggested_action_label,
                "buyer_name_masked": order.form.as_ref().map(|f| mask_name(f.name.as_str())),
                "phone_masked": order.form.as_ref().map(|f| mask_phone(f.phone.as_str())),
                "phone_last4": order.form.as_ref().map(|f| {
                    let p = f.phone.as_str();
                    p[p.len().saturating_sub(4)..].to_string()
                }),
                "unknown_goods": detail.unknown_goods,
                "created_at": ts(created_at),
                "updated_at": ts(updated_at),
                "system_step_owed": order.owes_system_step(),
            }));
        }
        if offset(ORDER_DETAIL) < head {
            rows.detail.push(serde_json::json!({
                "order_no": detail.order_no,
                "form_token": order.form_token,
                "doc": serde_json::to_value(&detail)?,
                "updated_at": ts(updated_at),
            }));
        }
    }
    for p in ALL {
        if offset(p) < head {
            rows.offset_projection.push(p);
            rows.offset_order.push(order_no.to_string());
            rows.offset_version.push(head);
        }
    }
    Ok(head)
}

async fn write(tx: &mut sqlx::Transaction<'_, sqlx::Postgres>, tables: Tables, rows: Rows) -> Result<(), sqlx::Error> {
    if !rows.log.is_empty() {
        sqlx::query(&bulk_insert(tables.log, &LOG_COLUMNS, "ON CONFLICT DO NOTHING"))
            .bind(serde_json::Value::Array(rows.log))
            .execute(&mut **tx)
            .await?;
    }
    if !rows.list.is_empty() {
        sqlx::query(&bulk_insert(
            tables.list,
            &LIST_COLUMNS,
            &upsert_all("order_no", &LIST_COLUMNS),
        ))
        .bind(serde_json::Value::Array(rows.list))
        .execute(&mut **tx)
        .await?;
    }
    if !rows.detail.is_empty() {
        sqlx::query(&bulk_insert(
            tables.detail,
            &DETAIL_COLUMNS,
            &upsert_all("order_no", &DETAIL_COLUMNS),
        ))
        .bind(serde_json::Value::Array(rows.detail))
        .execute(&mut **tx)
        .await?;
    }
    if !rows.offset_order.is_empty() {
        let offsets = tables.offsets;
        sqlx::query(&format!(
            "INSERT INTO {offsets} (projection, order_no, version)
             SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[])
             ON CONFLICT (projection, order_no) DO UPDATE SET version = GREATEST({offsets}.version, EXCLUDED.version)"
        ))
        .bind(rows.offset_projection)
        .bind(rows.offset_order)
        .bind(rows.offset_version)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

/// Brings the views of a batch of orders up to their last events, in the caller's transaction.
/// With `lock`, each order's advisory lock is taken first (sorted, so batches never deadlock).
async fn refresh_in(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    tables: Tables,
    order_nos: &[String],
    lock: bool,
) -> anyhow::Result<(BatchOutcome, Vec<(String, i64)>)> {
    let mut sorted: Vec<String> = order_nos.to_vec();
    sorted.sort();
    sorted.dedup();
    if lock {
        sqlx::query(
            "SELECT count(pg_advisory_xact_lock(hashtextextended('order-views:' || o, 7)))
             FROM (SELECT o FROM unnest($1::text[]) o ORDER BY o) s",
        )
        .bind(&sorted)
        .execute(&mut **tx)
        .await?;
    }
    let mut offsets: HashMap<String, HashMap<&'static str, i64>> = HashMap::new();
    for r in sqlx::query(&format!(
        "SELECT projection, order_no, version FROM {} WHERE order_no = ANY($1)",
        tables.offsets
    ))
    .bind(&sorted)
    .fetch_all(&mut **tx)
    .await?
    {
        let p: String = r.get(0);
        if let Some(p) = ALL.iter().find(|a| **a == p) {
            offsets.entry(r.get(1)).or_default().insert(p, r.get(2));
        }
    }
    let streams = load_streams(tx, &sorted).await?;
    let mut rows = Rows::default();
    let mut outcome = BatchOutcome::default();
    let mut heads = Vec::with_capacity(streams.len());
    let none = HashMap::new();
    for (order_no, stream) in streams {
        match stream {
            Ok(events) => {
                outcome.events += events.len();
                let head = fold(
                    tx,
                    tables,
                    &order_no,
                    events,
                    offsets.get(&order_no).unwrap_or(&none),
                    &mut rows,
                )
                .await?;
                outcome.orders += 1;
                heads.push((order_no, head));
            }
            Err(e) => {
                tracing::error!(order_no = %order_no, error = format!("{e:#}"), "view refresh failed");
                outcome.failed += 1;
            }
        }
    }
    write(tx, tables, rows).await?;
    Ok((outcome, heads))
}

/// Progress of a rebuild, for a progress bar.
#[derive(Debug, Clone, Copy)]
pub struct Progress {
    pub orders: usize,
    pub events: usize,
    pub total_orders: usize,
    pub total_events: usize,
    pub elapsed: std::time::Duration,
}

/// One row that differs between a live view and its rebuilt copy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Difference {
    pub table: &'static str,
    pub key: String,
    /// `differs` (in both, not equal), `missing` (only live) or `extra` (only rebuilt).
    pub kind: &'static str,
}

#[derive(Debug, Default)]
pub struct RebuildReport {
    pub orders: usize,
    pub events: usize,
    pub failed: usize,
    pub differences: Vec<Difference>,
}

/// How far the catch-up has safely applied: every event at or below it is in the views.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Checkpoint {
    pub tx: i64,
    pub position: i64,
}

const CATCH_UP: &str = "catch_up";
const CATCH_UP_BATCH: i64 = 5000;
const REBUILD_BATCH: i64 = 1000;

/// The fold every order view is built from: the aggregate, plus what only the metadata tells.
/// `refresh` writes the views from it and replay (`crate::replay`) answers a past moment with it.
#[derive(Default)]
pub struct Fold {
    pub order: Order,
    pub facts: MetaFacts,
}

impl Fold {
    /// Applies one event.
    pub fn apply(&mut self, event: OrderEvent, meta: &EventMeta) {
        learn(&mut self.facts, &event, meta);
        self.order.apply(event);
    }

    /// Applies one event; returns what it changed in the tracked fields (before, after).
    pub fn step(&mut self, event: OrderEvent, meta: &EventMeta) -> (serde_json::Value, serde_json::Value) {
        let before = self.order.tracked_fields();
        self.apply(event, meta);
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
        let (outcome, heads) = refresh_in(&mut tx, LIVE, &[order_no.to_string()], true).await?;
        tx.commit().await?;
        if outcome.failed > 0 {
            anyhow::bail!("order {order_no}: its events could not be read (see the log)");
        }
        Ok(heads.first().map(|h| h.1).unwrap_or(0))
    }

    /// [`Self::refresh`] in the caller's transaction: the views commit with the events.
    pub async fn refresh_in_tx(
        &self,
        tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
        order_no: &str,
    ) -> anyhow::Result<()> {
        let (outcome, _) = refresh_in(tx, LIVE, &[order_no.to_string()], true).await?;
        if outcome.failed > 0 {
            anyhow::bail!("order {order_no}: its events could not be read (see the log)");
        }
        Ok(())
    }

    /// Brings the views of many orders up to date in one transaction. Orders whose events
    /// cannot be read are logged and counted, never holding up the rest.
    pub async fn refresh_many(&self, order_nos: &[String]) -> anyhow::Result<BatchOutcome> {
        let mut tx = self.pool.begin().await?;
        let (outcome, _) = refresh_in(&mut tx, LIVE, order_nos, true).await?;
        tx.commit().await?;
        Ok(outcome)
    }

    pub async fn checkpoint(&self) -> Result<Checkpoint, sqlx::Error> {
        Ok(
            sqlx::query_as::<_, (i64, i64)>("SELECT tx, position FROM projection_checkpoint WHERE name = $1")
                .bind(CATCH_UP)
                .fetch_optional(&self.pool)
                .await?
                .map(|(tx, position)| Checkpoint { tx, position })
                .unwrap_or_default(),
        )
    }

    async fn save_checkpoint(&self, c: Checkpoint) -> Result<(), sqlx::Error> {
        // Several processes may run the catch-up: the mark only moves forward.
        sqlx::query(
            "INSERT INTO projection_checkpoint (name, tx, position) VALUES ($1, $2, $3)
             ON CONFLICT (name) DO UPDATE SET tx = EXCLUDED.tx, position = EXCLUDED.position
             WHERE (projection_checkpoint.tx, projection_checkpoint.position) < (EXCLUDED.tx, EXCLUDED.position)",
        )
        .bind(CATCH_UP)
        .bind(c.tx)
        .bind(c.position)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The events after `from` (up to `limit`, in (tx, position) order): the orders among them
    /// whose views are behind, and how far the mark may safely move (only over events whose
    /// transaction is older than every transaction still in flight).
    async fn scan(&self, from: Checkpoint, limit: i64) -> Result<(Vec<String>, Checkpoint, usize), sqlx::Error> {
        let rows: Vec<(i64, i64, String, String, i64, i64)> = sqlx::query_as(
            // (The output column must not be called `tx`: ORDER BY would sort by it, not walk
            // the index.)
            "SELECT e.tx::text::bigint AS txid, e.position, e.aggregate_type, e.aggregate_id, e.sequence,
                    pg_snapshot_xmin(pg_current_snapshot())::text::bigint AS xmin
             FROM events e WHERE (e.tx, e.position) > ($1::text::xid8, $2)
             ORDER BY e.tx, e.position LIMIT $3",
        )
        .bind(from.tx.to_string())
        .bind(from.position)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        let mut safe = from;
        let mut heads: HashMap<String, i64> = HashMap::new();
        for (tx, position, aggregate_type, order_no, sequence, xmin) in &rows {
            if tx < xmin && safe.tx <= *tx {
                safe = Checkpoint {
                    tx: *tx,
                    position: *position,
                };
            }
            if aggregate_type == Order::TYPE {
                let h = heads.entry(order_no.clone()).or_default();
                *h = (*h).max(*sequence);
            }
        }
        if heads.is_empty() {
            return Ok((vec![], safe, rows.len()));
        }
        let order_nos: Vec<String> = heads.keys().cloned().collect();
        let applied: HashMap<String, (i64, i64)> = sqlx::query_as::<_, (String, i64, i64)>(
            "SELECT order_no, min(version), count(*) FROM projection_offsets WHERE order_no = ANY($1) GROUP BY order_no",
        )
        .bind(&order_nos)
        .fetch_all(&self.pool)
        .await?
        .into_iter()
        .map(|(o, v, n)| (o, (v, n)))
        .collect();
        let mut lagging: Vec<String> = heads
            .into_iter()
            .filter(|(o, head)| match applied.get(o) {
                Some((min, n)) => *n < ALL.len() as i64 || min < head,
                None => true,
            })
            .map(|(o, _)| o)
            .collect();
        lagging.sort();
        Ok((lagging, safe, rows.len()))
    }

    /// Orders whose events run ahead of any of their views, among the events after the mark.
    pub async fn lagging_orders(&self, limit: i64) -> Result<Vec<String>, sqlx::Error> {
        let (mut lagging, _, _) = self.scan(self.checkpoint().await?, CATCH_UP_BATCH).await?;
        lagging.truncate(limit.max(0) as usize);
        Ok(lagging)
    }

    /// Applies whatever the views miss among the events after the mark, then moves the mark.
    /// An idle pass is one indexed read that finds nothing. Returns how many orders it refreshed.
    pub async fn catch_up(&self) -> anyhow::Result<usize> {
        let mut from = self.checkpoint().await?;
        let mut refreshed = 0;
        loop {
            let (lagging, safe, seen) = self.scan(from, CATCH_UP_BATCH).await?;
            for chunk in lagging.chunks(500) {
                let outcome = self.refresh_many(chunk).await?;
                refreshed += outcome.orders;
            }
            if safe > from {
                self.save_checkpoint(safe).await?;
            }
            // Stop at the end, or where transactions still in flight keep the mark from moving
            // (the visible events beyond it were applied above and are looked at again next pass).
            if (seen as i64) < CATCH_UP_BATCH || safe == from {
                return Ok(refreshed);
            }
            from = safe;
        }
    }

    /// Drops every view and rebuilds it from the events (`xyt rebuild-views`).
    pub async fn rebuild_all(&self) -> anyhow::Result<usize> {
        self.rebuild(false, &mut |_| {}).await?;
        // A running server's catch-up may have rebuilt some orders meanwhile (the batch then
        // finds them current): count the orders whose views are back, whoever rebuilt them.
        let rebuilt: i64 = sqlx::query_scalar("SELECT count(*) FROM order_list")
            .fetch_one(&self.pool)
            .await?;
        Ok(usize::try_from(rebuilt).unwrap_or_default())
    }

    /// Rebuilds the views in batches of orders taken in the order they began (by position,
    /// through an index), each batch folded in memory and written with one statement per table.
    /// With `verify`, rebuilds into scratch tables instead and reports every row that differs
    /// from the live views (the live views are left untouched).
    pub async fn rebuild(&self, verify: bool, on_progress: &mut dyn FnMut(&Progress)) -> anyhow::Result<RebuildReport> {
        let tables = if verify { SCRATCH } else { LIVE };
        if verify {
            for (scratch, live) in [
                (SCRATCH.list, LIVE.list),
                (SCRATCH.detail, LIVE.detail),
                (SCRATCH.log, LIVE.log),
                (SCRATCH.offsets, LIVE.offsets),
            ] {
                sqlx::query(&format!("DROP TABLE IF EXISTS {scratch}"))
                    .execute(&self.pool)
                    .await?;
                sqlx::query(&format!("CREATE UNLOGGED TABLE {scratch} (LIKE {live} INCLUDING ALL)"))
                    .execute(&self.pool)
                    .await?;
            }
        } else {
            let mut tx = self.pool.begin().await?;
            // Deliveries stay (they are real sends), and so do their offsets: the events that
            // called for them are not asked again.
            sqlx::query("TRUNCATE order_list, order_detail, order_event_log")
                .execute(&mut *tx)
                .await?;
            sqlx::query("DELETE FROM projection_offsets WHERE projection <> $1")
                .bind(DELIVERIES)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
        }
        let total_events: i64 = sqlx::query_scalar("SELECT count(*) FROM events")
            .fetch_one(&self.pool)
            .await?;
        let total_orders: i64 = sqlx::query_scalar("SELECT count(*) FROM events WHERE sequence = 1")
            .fetch_one(&self.pool)
            .await?;
        let started = std::time::Instant::now();
        let mut report = RebuildReport::default();
        let mut last = 0i64;
        // Two batches in flight: one folds in this process while the database writes the other.
        let mut running: tokio::task::JoinSet<anyhow::Result<BatchOutcome>> = tokio::task::JoinSet::new();
        let jobs = std::env::var("XYT_REBUILD_JOBS")
            .ok()
            .and_then(|v| v.parse::<usize>().ok())
            .unwrap_or(2)
            .max(1);
        let mut more = true;
        while more || !running.is_empty() {
            if more && running.len() < jobs {
                let batch: Vec<(String, i64)> = sqlx::query_as(
                    "SELECT aggregate_id, position FROM events
                     WHERE sequence = 1 AND position > $1 AND aggregate_type = $2 ORDER BY position LIMIT $3",
                )
                .bind(last)
                .bind(Order::TYPE)
                .bind(REBUILD_BATCH)
                .fetch_all(&self.pool)
                .await?;
                match batch.last().map(|b| b.1) {
                    None => more = false,
                    Some(end) => {
                        last = end;
                        let order_nos: Vec<String> = batch.into_iter().map(|b| b.0).collect();
                        let pool = self.pool.clone();
                        running.spawn(async move {
                            let mut tx = pool.begin().await?;
                            let (outcome, _) = refresh_in(&mut tx, tables, &order_nos, !verify).await?;
                            tx.commit().await?;
                            Ok(outcome)
                        });
                    }
                }
                continue;
            }
            let Some(done) = running.join_next().await else { break };
            let outcome = done??;
            report.orders += outcome.orders;
            report.events += outcome.events;
            report.failed += outcome.failed;
            on_progress(&Progress {
                orders: report.orders,
                events: report.events,
                total_orders: total_orders as usize,
                total_events: total_events as usize,
                elapsed: started.elapsed(),
            });
        }
        if verify {
            report.differences = self.differences().await?;
            for scratch in [SCRATCH.list, SCRATCH.detail, SCRATCH.log, SCRATCH.offsets] {
                sqlx::query(&format!("DROP TABLE IF EXISTS {scratch}"))
                    .execute(&self.pool)
                    .await?;
            }
        }
        Ok(report)
    }

    /// Every row that differs between the live views and the scratch copies.
    async fn differences(&self) -> anyhow::Result<Vec<Difference>> {
        let mut out = vec![];
        for (table, live, scratch, key) in [
            ("order_list", LIVE.list, SCRATCH.list, "order_no"),
            ("order_detail", LIVE.detail, SCRATCH.detail, "order_no"),
            ("order_event_log", LIVE.log, SCRATCH.log, "order_no || '#' || sequence"),
        ] {
            let rows: Vec<(String, String)> = sqlx::query_as(&format!(
                "WITH only_live AS (SELECT {key} AS k FROM (SELECT * FROM {live} EXCEPT ALL SELECT * FROM {scratch}) d),
                      only_scratch AS (SELECT {key} AS k FROM (SELECT * FROM {scratch} EXCEPT ALL SELECT * FROM {live}) d)
                 SELECT k, CASE WHEN k IN (SELECT k FROM only_scratch) THEN 'differs' ELSE 'missing' END FROM only_live
                 UNION ALL
                 SELECT k, 'extra' FROM only_scratch WHERE k NOT IN (SELECT k FROM only_live)
                 ORDER BY 1"
            ))
            .fetch_all(&self.pool)
            .await?;
            out.extend(rows.into_iter().map(|(k, kind)| Difference {
                table,
                key: k,
                kind: match kind.as_str() {
                    "differs" => "differs",
                    "missing" => "missing",
                    _ => "extra",
                },
            }));
        }
        Ok(out)
    }
}
