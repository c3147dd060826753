//! Projections: the order list and the order detail, derived from the events, and the deliveries
//! the events call for. (The event log is folded from the events when it is read: `replay`.)
//!
//! `refresh(order)` folds the order's whole stream (streams are short: tens of events) and, in
//! one transaction under a per-order advisory lock, writes the views when they are behind,
//! together with the last sequence they applied, and creates the deliveries of the events after
//! the deliveries' own offset. It is idempotent, so the live path (after a command) and the
//! catch-up path (at start-up and every few seconds) are the same code, and running it twice or
//! concurrently never doubles anything. Batches of orders share one transaction and one
//! statement for every table (`refresh_many`, the catch-up, `rebuild`).
//!
//! The catch-up reads only the events after its high-water mark over (inserting transaction,
//! position): see migration `catch_up_checkpoint` for why that order never skips a late commit.

use std::collections::{BTreeMap, HashMap};
use xyt_domain::personal::PersonalData;

use anyhow::Context;
use chrono::{DateTime, NaiveDate, Utc};
use cqrs_es::Aggregate;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use sqlx::PgPool;
use xyt_domain::order::{EventMeta, Order, OrderEvent};
use xyt_domain::personal::{mask_name, mask_phone};

use crate::deliveries::{self, DeliveryKind, NewDelivery, StoredChannel};
use crate::views::{LatestRecord, MetaFacts, OrderDetail};
use xyt_domain::order::messages;
use xyt_domain::pricing::SeasonCalendar;
use xyt_domain::target::Target;

/// Every view the refresh writes, declared once: the refresh, the rebuild's truncate and
/// `--verify`'s scratch tables all read this list. They are written together, by one statement,
/// so they share one offset per order (`view_offsets`). The deliveries that events call for are
/// not a view (they are real sends, which a rebuild keeps): their offset is kept apart
/// (`delivery_offsets`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Projection {
    OrderList,
    OrderDetail,
}

impl Projection {
    pub const ALL: [Projection; 2] = [Projection::OrderList, Projection::OrderDetail];

    /// The view's table among `tables`, and the key that names one of its rows.
    fn view(self, tables: &Tables) -> (&'static str, &'static str) {
        match self {
            Projection::OrderList => (tables.list, "order_no"),
            Projection::OrderDetail => (tables.detail, "order_no"),
        }
    }
}

/// The deliveries' offsets: live only (a scratch rebuild creates no deliveries).
const DELIVERY_OFFSETS: &str = "delivery_offsets";

/// `LOCK TABLE` of everything a refresh writes and a rebuild empties, always in this one order:
/// a refresh that runs inside a command's transaction (after its events) and a rebuild's
/// truncate then queue behind each other instead of each holding what the other waits for.
fn lock_views(mode: &str) -> String {
    let views: Vec<&str> = Projection::ALL.iter().map(|p| p.view(&LIVE).0).collect();
    format!(
        "LOCK TABLE {}, {DELIVERY_OFFSETS}, {}, order_fold_snapshots IN {mode} MODE",
        LIVE.offsets,
        views.join(", ")
    )
}

/// The last sequence one order's views, and its deliveries, applied (0: none yet).
#[derive(Debug, Clone, Copy, Default)]
struct Offsets {
    views: i64,
    deliveries: i64,
}

/// How many attempts a delivery gets before it fails for good (a resend allows one more).
pub const DELIVERY_MAX_ATTEMPTS: i32 = 8;

#[derive(Clone)]
pub struct Projections {
    pool: PgPool,
}

struct StoredEvent {
    sequence: i64,
    event: OrderEvent,
    meta: EventMeta,
}

/// Tracked fields (by name) and their values: those an event changed, before or after it.
pub type Changed = BTreeMap<String, String>;

fn diff(before: &BTreeMap<&'static str, String>, after: &BTreeMap<&'static str, String>) -> (Changed, Changed) {
    let changed = |from: &BTreeMap<&'static str, String>, to: &BTreeMap<&'static str, String>| -> Changed {
        from.iter()
            .filter(|(k, v)| to.get(*k) != Some(*v))
            .map(|(k, v)| ((*k).to_string(), v.clone()))
            .collect()
    };
    (changed(before, after), changed(after, before))
}

/// Where a delivery goes, as the configuration names it today.
struct DeliveryTarget {
    /// As configured (empty when nothing is).
    target: String,
    display: String,
    channel: StoredChannel,
    /// (code, message, hint) when it cannot be sent.
    unsendable: Option<(String, String, String)>,
}

fn target_of(kind: &'static str, configured: Option<String>, what: &str) -> DeliveryTarget {
    match configured
        .as_deref()
        .map(|t| (t, Target::parse(t, xyt_domain::target::UrlTarget::WecomRobot)))
    {
        Some((raw, Ok(t))) => DeliveryTarget {
            target: raw.to_string(),
            display: t.display(),
            channel: StoredChannel::Target(t.channel()),
            unsendable: None,
        },
        Some((raw, Err(e))) => DeliveryTarget {
            target: raw.to_string(),
            display: raw.to_string(),
            channel: StoredChannel::Invalid,
            unsendable: Some((
                "INVALID_TARGET".into(),
                e.0,
                format!("在配置中心修正{what}的目标后补发"),
            )),
        },
        None => DeliveryTarget {
            target: String::new(),
            display: "-".into(),
            channel: StoredChannel::Unconfigured,
            unsendable: Some((
                "NO_TARGET".into(),
                format!("没有启用的{what}({kind})"),
                format!("在配置中心添加{what}后补发"),
            )),
        },
    }
}

/// The operators' alert target (the first active `price_alert` notification target): price
/// exceptions and refund alerts both go there.
async fn ops_alert_target(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    what: &str,
) -> Result<DeliveryTarget, sqlx::Error> {
    let configured: Option<String> = sqlx::query_scalar(
        "SELECT target FROM notification_targets WHERE purpose = 'price_alert' AND active ORDER BY created_at, id LIMIT 1",
    )
    .fetch_optional(&mut **tx)
    .await?;
    Ok(target_of("price_alert", configured, what))
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
            let DeliveryTarget {
                target,
                display,
                channel,
                unsendable,
            } = ops_alert_target(tx, "价格异常提醒目标").await?;
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
            let DeliveryTarget {
                target,
                display,
                channel,
                unsendable,
            } = target_of("agent_group", group.as_ref().map(|g| g.1.clone()), "代理群");
            let target_group_id = match Target::parse(&target, xyt_domain::target::UrlTarget::WecomRobot) {
                Ok(Target::WecomApp { chat_id }) => Some(chat_id),
                _ => group.as_ref().map(|g| g.0.to_string()),
            };
            let (Some(text), Some(masked)) = (
                messages::user_form_group_text(order, season, PersonalData::Whole),
                messages::user_form_group_text(order, season, PersonalData::Masked),
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
            let DeliveryTarget {
                target,
                display,
                channel,
                unsendable,
            } = target_of("agent_group", group, "代理群");
            let masked =
                messages::order_push_text(order, PersonalData::Masked).unwrap_or_else(|| r.message_text.clone());
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
            let DeliveryTarget {
                target,
                display,
                channel,
                unsendable,
            } = ops_alert_target(tx, "运营提醒目标").await?;
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
        // Every other event calls for no delivery (listed, so a new event is decided here).
        OrderEvent::XgjVirtualOrderReceived(_)
        | OrderEvent::XgjVirtualCardOrderCreated(_)
        | OrderEvent::PriceCheckPassed(_)
        | OrderEvent::ManualReviewApproved(_)
        | OrderEvent::ManualReviewRejected(_)
        | OrderEvent::OrderCancelled(_)
        | OrderEvent::UserPriceExceptionNotified(_)
        | OrderEvent::UserFormGroupPushed(_)
        | OrderEvent::UserFormGroupPushFailed(_)
        | OrderEvent::DeliveryResendRequested(_)
        | OrderEvent::PaymentConfirmed(_)
        | OrderEvent::PaymentProofUploaded(_)
        | OrderEvent::OrderPushedToAgent(_)
        | OrderEvent::OrderPushFailed(_)
        | OrderEvent::AgentScreenshotUploaded(_)
        | OrderEvent::ScreenshotOcrCompleted(_)
        | OrderEvent::ScreenshotMatched(_)
        | OrderEvent::ScreenshotMismatched(_)
        | OrderEvent::ScreenshotMatchConfirmed(_)
        | OrderEvent::ScreenshotMatchRejected(_)
        | OrderEvent::UserNotified(_)
        | OrderEvent::UserNotifyFailed(_)
        | OrderEvent::ProfitShareCalculated(_)
        | OrderEvent::ProfitShareSettled(_)
        | OrderEvent::XgjRefundApplied(_)
        | OrderEvent::XgjRefundNotified(_)
        | OrderEvent::RefundAlertNotified(_) => Ok(vec![]),
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
        OrderEvent::XgjVirtualOrderReceived(_)
        | OrderEvent::XgjVirtualCardOrderCreated(_)
        | OrderEvent::OrderCancelled(_)
        | OrderEvent::UserPriceExceptionNotified(_)
        | OrderEvent::UserFormGroupPushed(_)
        | OrderEvent::UserFormGroupPushFailed(_)
        | OrderEvent::DeliveryResendRequested(_)
        | OrderEvent::ScreenshotOcrCompleted(_)
        | OrderEvent::UserNotified(_)
        | OrderEvent::UserNotifyFailed(_)
        | OrderEvent::XgjRefundApplied(_)
        | OrderEvent::XgjRefundNotified(_)
        | OrderEvent::RefundAlertNotified(_) => {}
    }
}

/// Where the views are written: the live tables, or scratch copies (`xyt rebuild-views --verify`).
#[derive(Debug, Clone, Copy)]
pub struct Tables {
    pub list: &'static str,
    pub detail: &'static str,
    /// The views' offsets.
    pub offsets: &'static str,
    /// Whether events create the deliveries they call for (never into scratch tables).
    pub deliveries: bool,
    /// Whether long streams keep a snapshot of their fold (never for scratch tables).
    pub snapshots: bool,
    /// Whether the view rows written are new: a rebuild's batches, after its truncate (or into
    /// fresh scratch tables). They are then inserted without `ON CONFLICT` checks. A command's
    /// refresh meanwhile takes the order's advisory lock and writes its offsets with its rows,
    /// so the batch then finds the order current and writes nothing for it.
    pub fresh: bool,
}

pub const LIVE: Tables = Tables {
    list: "order_list",
    detail: "order_detail",
    offsets: "view_offsets",
    deliveries: true,
    snapshots: true,
    fresh: false,
};

pub const SCRATCH: Tables = Tables {
    list: "verify_order_list",
    detail: "verify_order_detail",
    offsets: "verify_view_offsets",
    deliveries: false,
    snapshots: false,
    fresh: false,
};

/// A stream this long keeps a snapshot of its fold, renewed every `SNAPSHOT_EVERY` events, so
/// that a refresh reads only the events after it. Short streams (nearly all) never write one.
pub const SNAPSHOT_MIN_EVENTS: i64 = 16;
pub const SNAPSHOT_EVERY: i64 = 8;
/// Bumped whenever `Fold` or the aggregate's `apply` changes what a fold means: snapshots of
/// another version are ignored (and `rebuild-views` drops them all).
const FOLD_VERSION: i32 = 1;

/// One row of `order_list`.
struct OrderListRow {
    order_no: String,
    external_order_no: Option<String>,
    out_order_no: Option<String>,
    goods_no: Option<String>,
    goods_name: Option<String>,
    ticket_type: Option<String>,
    play_date: Option<NaiveDate>,
    paid_amount: Option<Decimal>,
    payable_amount: Option<Decimal>,
    status: &'static str,
    status_label: String,
    suggested_action: &'static str,
    suggested_action_label: String,
    buyer_name_masked: Option<String>,
    phone_masked: Option<String>,
    phone_last4: Option<String>,
    unknown_goods: bool,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    system_step_owed: bool,
}

/// One row of `order_detail`: the detail document, serialized once.
struct OrderDetailRow {
    order_no: String,
    form_token: Option<String>,
    doc: String,
    updated_at: DateTime<Utc>,
}

fn order_list_row(order: &Order, detail: &OrderDetail) -> OrderListRow {
    let form = order.form.as_ref();
    OrderListRow {
        order_no: detail.order_no.clone(),
        external_order_no: detail.external_order_no.clone(),
        out_order_no: detail.out_order_no.clone(),
        goods_no: detail.goods_no.clone(),
        goods_name: detail.goods_name.clone(),
        ticket_type: detail.ticket_type.clone(),
        play_date: detail.play_date,
        paid_amount: detail.paid_amount,
        payable_amount: detail.payable_amount,
        status: detail.status.as_str(),
        status_label: detail.status_label.clone(),
        suggested_action: detail.suggested_action.as_str(),
        suggested_action_label: detail.suggested_action_label.clone(),
        buyer_name_masked: form.map(|f| mask_name(f.name.as_str())),
        phone_masked: form.map(|f| mask_phone(f.phone.as_str())),
        phone_last4: form.map(|f| {
            let p = f.phone.as_str();
            p[p.len().saturating_sub(4)..].to_string()
        }),
        unknown_goods: detail.unknown_goods,
        created_at: detail.created_at,
        updated_at: detail.updated_at,
        system_step_owed: order.owes_system_step(),
    }
}

fn order_detail_row(order: &Order, detail: &OrderDetail) -> anyhow::Result<OrderDetailRow> {
    Ok(OrderDetailRow {
        order_no: detail.order_no.clone(),
        form_token: order.form_token.clone(),
        doc: serde_json::to_string(detail)?,
        updated_at: detail.updated_at,
    })
}

/// Creates the deliveries one event calls for (once per (event, type)).
async fn create_deliveries(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    order_no: &str,
    order: &Order,
    sequence: i64,
    event: &OrderEvent,
) -> anyhow::Result<()> {
    for d in deliveries_called_for(tx, order, sequence, event).await? {
        if deliveries::create(tx, &d).await? {
            tracing::info!(order_no, kind = d.kind.as_str(), target = %d.target_display, "delivery created");
        }
    }
    Ok(())
}

/// The rows a batch of orders writes, gathered so that each table takes one statement.
#[derive(Default)]
struct Rows {
    list: Vec<OrderListRow>,
    detail: Vec<OrderDetailRow>,
    offsets: Vec<OffsetRow>,
    delivery_offsets: Vec<OffsetRow>,
    snapshots: Vec<SnapshotRow>,
}

/// The version an order's views (or its deliveries) reached.
struct OffsetRow {
    order_no: String,
    version: i64,
}

/// An order's fold up to `sequence`, serialized (`Folded`).
struct SnapshotRow {
    order_no: String,
    sequence: i64,
    fold_version: i32,
    state: String,
}

/// What a batch did: orders whose views were written, events read and folded, orders left out
/// because their events could not be read (logged; the rest of the batch is not held up by them).
#[derive(Debug, Default, Clone, Copy)]
pub struct BatchOutcome {
    pub orders: usize,
    pub events: usize,
    pub failed: usize,
}

/// An order's fold up to `sequence`: empty at 0, or as a snapshot kept it.
#[derive(Default, Serialize, Deserialize)]
struct Folded {
    sequence: i64,
    /// When the order's first event, and its last folded one, happened.
    created_at: Option<DateTime<Utc>>,
    updated_at: Option<DateTime<Utc>>,
    fold: Fold,
}

/// What the refresh reads of one order: where its fold starts and the events after that.
struct Stream {
    start: Folded,
    events: Vec<StoredEvent>,
}

type Streams = BTreeMap<String, Result<Stream, anyhow::Error>>;

/// The usable snapshots of `order_nos`: of this fold's version, and no further than the
/// deliveries (which replay each event, where the views need only the fold's end) have applied.
async fn load_snapshots(
    conn: &mut sqlx::PgConnection,
    tables: Tables,
    order_nos: &[String],
    offsets: &HashMap<String, Offsets>,
) -> Result<HashMap<String, Folded>, sqlx::Error> {
    // How far the deliveries have applied: a snapshot past that is no use.
    let replayed = |o: &Offsets| if tables.deliveries { o.deliveries } else { i64::MAX };
    // Only streams already this long can have one: new orders and a rebuild ask nothing more.
    let candidates: Vec<&String> = order_nos
        .iter()
        .filter(|o| offsets.get(*o).is_some_and(|o| replayed(o) >= SNAPSHOT_MIN_EVENTS))
        .collect();
    if !tables.snapshots || candidates.is_empty() {
        return Ok(HashMap::new());
    }
    let rows: Vec<(String, i64, String)> = sqlx::query_as(
        "SELECT order_no, sequence, state::text FROM order_fold_snapshots WHERE order_no = ANY($1) AND fold_version = $2",
    )
    .bind(candidates)
    .bind(FOLD_VERSION)
    .fetch_all(&mut *conn)
    .await?;
    let mut out = HashMap::new();
    for (order_no, sequence, state) in rows {
        if offsets.get(&order_no).map_or(0, replayed) < sequence {
            continue;
        }
        match serde_json::from_str::<Folded>(&state) {
            Ok(f) if f.sequence == sequence => {
                out.insert(order_no, f);
            }
            Ok(_) | Err(_) => tracing::warn!(order_no, "fold snapshot unreadable: folding the whole stream"),
        }
    }
    Ok(out)
}

async fn load_streams(
    conn: &mut sqlx::PgConnection,
    order_nos: &[String],
    mut starts: HashMap<String, Folded>,
) -> anyhow::Result<Streams> {
    let after: Vec<i64> = order_nos
        .iter()
        .map(|o| starts.get(o).map_or(0, |f| f.sequence))
        .collect();
    // Sorted here, not by the database: a batch's payloads outgrow `work_mem`, and a sort
    // there would spill them to a temporary file.
    let mut rows: Vec<(String, i64, String, String, String, String)> = sqlx::query_as(
        "SELECT e.aggregate_id, e.sequence, e.event_type, e.event_version, e.payload::text, e.metadata::text
         FROM unnest($2::text[], $3::bigint[]) AS f(order_no, after)
         JOIN events e ON e.aggregate_type = $1 AND e.aggregate_id = f.order_no AND e.sequence > f.after",
    )
    .bind(Order::TYPE)
    .bind(order_nos)
    .bind(&after)
    .fetch_all(&mut *conn)
    .await?;
    rows.sort_unstable_by(|a, b| (&a.0, a.1).cmp(&(&b.0, b.1)));
    let mut streams: Streams = BTreeMap::new();
    for (order_no, sequence, event_type, event_version, payload, metadata) in rows {
        let entry = streams.entry(order_no.clone()).or_insert_with(|| {
            Ok(Stream {
                start: starts.remove(&order_no).unwrap_or_default(),
                events: vec![],
            })
        });
        let Ok(stream) = entry else { continue };
        match decode(&order_no, sequence, &event_type, &event_version, &payload, &metadata) {
            Ok((event, meta)) => stream.events.push(StoredEvent { sequence, event, meta }),
            Err(e) => *entry = Err(e),
        }
    }
    // Orders with nothing after their snapshot.
    for (order_no, start) in starts {
        streams.insert(order_no, Ok(Stream { start, events: vec![] }));
    }
    Ok(streams)
}

/// Folds one order's stream and gathers the rows of every view that is behind; creates the
/// deliveries its new events call for. Returns the version reached.
async fn fold(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    tables: Tables,
    order_no: &str,
    stream: Stream,
    offsets: Offsets,
    rows: &mut Rows,
) -> anyhow::Result<i64> {
    let Stream { start, events } = stream;
    let Folded {
        sequence: from,
        created_at,
        updated_at,
        fold: mut f,
    } = start;
    let head = events.last().map_or(from, |e| e.sequence);
    if head == 0 {
        return Ok(0);
    }
    let created_at = created_at
        .or(events.first().map(|e| e.meta.created_at))
        .unwrap_or_default();
    let updated_at = events
        .last()
        .map(|e| e.meta.processed_at)
        .or(updated_at)
        .unwrap_or(created_at);
    let deliveries_offset = if tables.deliveries {
        offsets.deliveries
    } else {
        i64::MAX
    };
    for e in events {
        let StoredEvent { sequence, event, meta } = e;
        if sequence <= deliveries_offset {
            f.apply(event, &meta);
            continue;
        }
        let cloned = event.clone();
        f.apply(event, &meta);
        create_deliveries(tx, order_no, &f.order, sequence, &cloned).await?;
    }
    if offsets.views < head {
        if let Some(detail) = f.detail(created_at, updated_at, head) {
            rows.list.push(order_list_row(&f.order, &detail));
            rows.detail.push(order_detail_row(&f.order, &detail)?);
        }
        rows.offsets.push(OffsetRow {
            order_no: order_no.to_string(),
            version: head,
        });
    }
    if tables.deliveries && offsets.deliveries < head {
        rows.delivery_offsets.push(OffsetRow {
            order_no: order_no.to_string(),
            version: head,
        });
    }
    if tables.snapshots && head >= SNAPSHOT_MIN_EVENTS && head - from >= SNAPSHOT_EVERY {
        let state = serde_json::to_string(&Folded {
            sequence: head,
            created_at: Some(created_at),
            updated_at: Some(updated_at),
            fold: f,
        })?;
        rows.snapshots.push(SnapshotRow {
            order_no: order_no.to_string(),
            sequence: head,
            fold_version: FOLD_VERSION,
            state,
        });
    }
    Ok(head)
}

/// One statement that writes a whole batch: each table's rows travel as one typed array per
/// column, inserted by a data-modifying `WITH` part of their own, so a command's views (and a
/// rebuild's batch) cost one round trip whatever the number of tables and rows.
#[derive(Default)]
pub(crate) struct BatchWrite {
    parts: Vec<String>,
    args: sqlx::postgres::PgArguments,
    bound: usize,
    /// The part every insert after it depends on (`guard`).
    guard: Option<usize>,
}

impl BatchWrite {
    /// Binds one value; returns its placeholder, `$n`.
    pub(crate) fn bind<T>(&mut self, value: T) -> Result<String, sqlx::Error>
    where
        for<'q> T: sqlx::Encode<'q, sqlx::Postgres> + sqlx::Type<sqlx::Postgres> + Send,
    {
        use sqlx::Arguments;
        self.args.add(value).map_err(sqlx::Error::Encode)?;
        self.bound += 1;
        Ok(format!("${}", self.bound))
    }

    /// A data-modifying statement with `RETURNING` that every insert added after it depends
    /// on: they write only when it returned a row, and [`Self::execute`] answers whether it did.
    pub(crate) fn guard(&mut self, statement: String) {
        self.guard = Some(self.parts.len());
        self.parts.push(format!("w{} AS ({statement})", self.parts.len()));
    }

    /// Binds one column's values; returns its placeholder, `$n::type[]` (json and jsonb travel
    /// as text, parsed once in the database; `jsonb::json` is stored as json in jsonb's
    /// normalised spelling).
    pub(crate) fn array<T>(&mut self, values: Vec<T>, ty: &str) -> Result<String, sqlx::Error>
    where
        for<'q> Vec<T>: sqlx::Encode<'q, sqlx::Postgres> + sqlx::Type<sqlx::Postgres>,
        T: Send,
    {
        let placeholder = self.bind(values)?;
        let ty = if ty.starts_with("json") { "text" } else { ty };
        Ok(format!("{placeholder}::{ty}[]"))
    }

    /// `INSERT INTO table (columns) SELECT select FROM unnest(arrays) … on_conflict`.
    pub(crate) fn insert(&mut self, table: &str, columns: &[(&str, &str)], arrays: Vec<String>, on_conflict: &str) {
        let names: Vec<&str> = columns.iter().map(|c| c.0).collect();
        let select: Vec<String> = columns
            .iter()
            .map(|(name, ty)| {
                if ty.starts_with("json") {
                    format!("{name}::{ty}")
                } else {
                    name.to_string()
                }
            })
            .collect();
        let guarded = self
            .guard
            .map(|g| format!("WHERE EXISTS (SELECT 1 FROM w{g})"))
            .unwrap_or_default();
        self.parts.push(format!(
            "w{n} AS (INSERT INTO {table} ({names}) SELECT {select} FROM unnest({arrays}) AS r({names}) {guarded} \
             {on_conflict})",
            n = self.parts.len(),
            names = names.join(", "),
            select = select.join(", "),
            arrays = arrays.join(", "),
        ));
    }

    /// Runs the statement; answers whether its guard returned a row (true without a guard).
    pub(crate) async fn execute(self, conn: &mut sqlx::PgConnection) -> Result<bool, sqlx::Error> {
        if self.parts.is_empty() {
            return Ok(true);
        }
        let answer = match self.guard {
            Some(g) => format!("EXISTS (SELECT 1 FROM w{g})"),
            None => "true".into(),
        };
        let sql = format!("WITH {} SELECT {answer}", self.parts.join(", "));
        sqlx::query_scalar_with(&sql, self.args).fetch_one(conn).await
    }
}

/// Binds `rows` to a [`BatchWrite`] as one array per field, typed as `columns` says (the fields
/// are named in the columns' order); returns the placeholders.
macro_rules! arrays {
    ($write:expr, $columns:expr, $rows:expr; $($field:ident),+ $(,)?) => {{
        let rows = $rows;
        $(let mut $field = Vec::with_capacity(rows.len());)+
        for r in rows {
            $($field.push(r.$field);)+
        }
        let mut types = $columns.iter().map(|c| c.1);
        vec![$($write.array($field, types.next().unwrap_or("text"))?),+]
    }};
}

/// How a view's rows keyed by order are written: replacing what the order had, or plainly
/// inserted when they are new (a rebuild's batches, `Tables::fresh`).
fn upsert(tables: Tables, columns: &[(&str, &str)]) -> String {
    if tables.fresh {
        String::new()
    } else {
        upsert_all("order_no", columns)
    }
}

fn upsert_all(key: &str, columns: &[(&str, &str)]) -> String {
    let set: Vec<String> = columns
        .iter()
        .filter(|c| c.0 != key)
        .map(|c| format!("{0} = EXCLUDED.{0}", c.0))
        .collect();
    format!("ON CONFLICT ({key}) DO UPDATE SET {}", set.join(", "))
}

const LIST_COLUMNS: [(&str, &str); 20] = [
    ("order_no", "text"),
    ("external_order_no", "text"),
    ("out_order_no", "text"),
    ("goods_no", "text"),
    ("goods_name", "text"),
    ("ticket_type", "text"),
    ("play_date", "date"),
    ("paid_amount", "numeric"),
    ("payable_amount", "numeric"),
    ("status", "text"),
    ("status_label", "text"),
    ("suggested_action", "text"),
    ("suggested_action_label", "text"),
    ("buyer_name_masked", "text"),
    ("phone_masked", "text"),
    ("phone_last4", "text"),
    ("unknown_goods", "boolean"),
    ("created_at", "timestamptz"),
    ("updated_at", "timestamptz"),
    ("system_step_owed", "boolean"),
];

const DETAIL_COLUMNS: [(&str, &str); 4] = [
    ("order_no", "text"),
    ("form_token", "text"),
    ("doc", "json"),
    ("updated_at", "timestamptz"),
];

const OFFSET_COLUMNS: [(&str, &str); 2] = [("order_no", "text"), ("version", "bigint")];

const SNAPSHOT_COLUMNS: [(&str, &str); 4] = [
    ("order_no", "text"),
    ("sequence", "bigint"),
    ("fold_version", "integer"),
    ("state", "jsonb"),
];

/// Writes every view row of a batch (and the offsets and snapshots) in one statement.
async fn write(tx: &mut sqlx::Transaction<'_, sqlx::Postgres>, tables: Tables, rows: Rows) -> Result<(), sqlx::Error> {
    let mut w = BatchWrite::default();
    write_into(&mut w, tables, rows)?;
    w.execute(tx).await.map(drop)
}

/// Adds the parts that write a batch's view rows (and the offsets and snapshots) to `w` (whose
/// writer holds the view tables' lock already: `lock_views`).
fn write_into(w: &mut BatchWrite, tables: Tables, rows: Rows) -> Result<(), sqlx::Error> {
    if !rows.list.is_empty() {
        let a = arrays!(w, LIST_COLUMNS, rows.list; order_no, external_order_no, out_order_no, goods_no,
            goods_name, ticket_type, play_date, paid_amount, payable_amount, status, status_label, suggested_action,
            suggested_action_label, buyer_name_masked, phone_masked, phone_last4, unknown_goods, created_at,
            updated_at, system_step_owed);
        w.insert(tables.list, &LIST_COLUMNS, a, &upsert(tables, &LIST_COLUMNS));
    }
    if !rows.detail.is_empty() {
        let a = arrays!(w, DETAIL_COLUMNS, rows.detail; order_no, form_token, doc, updated_at);
        w.insert(tables.detail, &DETAIL_COLUMNS, a, &upsert(tables, &DETAIL_COLUMNS));
    }
    // Offsets only move forward. A rebuild's batch inserts the views' offsets fresh; the
    // deliveries' (which a rebuild keeps, as they are real sends) are upserted still.
    let forward = |table: &str| {
        format!("ON CONFLICT (order_no) DO UPDATE SET version = GREATEST({table}.version, EXCLUDED.version)")
    };
    if !rows.offsets.is_empty() {
        let a = arrays!(w, OFFSET_COLUMNS, rows.offsets; order_no, version);
        let on_conflict = if tables.fresh {
            String::new()
        } else {
            forward(tables.offsets)
        };
        w.insert(tables.offsets, &OFFSET_COLUMNS, a, &on_conflict);
    }
    if !rows.delivery_offsets.is_empty() {
        let a = arrays!(w, OFFSET_COLUMNS, rows.delivery_offsets; order_no, version);
        w.insert(DELIVERY_OFFSETS, &OFFSET_COLUMNS, a, &forward(DELIVERY_OFFSETS));
    }
    if !rows.snapshots.is_empty() {
        let a = arrays!(w, SNAPSHOT_COLUMNS, rows.snapshots; order_no, sequence, fold_version, state);
        w.insert(
            "order_fold_snapshots",
            &SNAPSHOT_COLUMNS,
            a,
            "ON CONFLICT (order_no) DO UPDATE
               SET sequence = EXCLUDED.sequence, fold_version = EXCLUDED.fold_version, state = EXCLUDED.state
               WHERE order_fold_snapshots.sequence < EXCLUDED.sequence
                  OR order_fold_snapshots.fold_version <> EXCLUDED.fold_version",
        );
    }
    Ok(())
}

/// How a command's transaction begins, in one round trip: the view tables' lock, taken before
/// anything else in one order (`lock_views`), so that a rebuild's truncate and a command queue
/// instead of deadlocking; and the savepoint its views sit behind (a view that cannot be written
/// is rolled back to it, and the events appended again alone). A query without arguments goes
/// by the simple protocol, which runs all three.
pub(crate) fn begin_command() -> String {
    // The lock first: one taken after the savepoint would be let go by a rollback to it.
    format!("BEGIN; {}; SAVEPOINT views", lock_views("ROW EXCLUSIVE"))
}

/// After views that failed: back to the savepoint `begin_command` set, and the events (and a
/// claim guarding them) appended alone. Answers whether the guard held.
async fn append_alone(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    events: impl Fn(&mut BatchWrite) -> Result<(), sqlx::Error>,
) -> Result<bool, sqlx::Error> {
    let conn: &mut sqlx::PgConnection = tx;
    sqlx::Executor::execute(conn, "ROLLBACK TO SAVEPOINT views").await?;
    let mut w = BatchWrite::default();
    events(&mut w)?;
    w.execute(tx).await
}

/// Whether an append failed because another command took the events' sequence numbers first.
pub(crate) fn is_events_conflict(e: &sqlx::Error) -> bool {
    e.as_database_error()
        .is_some_and(|d| d.code().is_some_and(|c| c == "23505") && d.constraint() == Some("events_pkey"))
}

/// The locks a refresh takes before it reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Locks {
    /// None: scratch tables that nothing else writes.
    None,
    /// Each order's advisory lock; the caller holds the view tables' lock already.
    Orders,
    /// Each order's advisory lock, then the view tables' lock (`lock_views`).
    OrdersAndViews,
}

/// The offsets of `order_nos` (none stored: 0), by one index probe per order and table (`= ANY`
/// of a thousand keys may be planned as a scan of the whole table, which made a rebuild cost the
/// square of the order count). The deliveries' are read only where `tables` create them.
async fn read_offsets<'e>(
    db: impl sqlx::PgExecutor<'e>,
    tables: Tables,
    order_nos: &[String],
) -> Result<HashMap<String, Offsets>, sqlx::Error> {
    let deliveries = if tables.deliveries {
        format!("(SELECT d.version FROM {DELIVERY_OFFSETS} d WHERE d.order_no = k.order_no)")
    } else {
        "NULL::bigint".into()
    };
    let stored: Vec<(String, Option<i64>, Option<i64>)> = sqlx::query_as(&format!(
        "SELECT k.order_no, (SELECT v.version FROM {} v WHERE v.order_no = k.order_no), {deliveries}
         FROM unnest($1::text[]) AS k(order_no)",
        tables.offsets
    ))
    .bind(order_nos)
    .fetch_all(db)
    .await?;
    Ok(stored
        .into_iter()
        .map(|(order_no, views, deliveries)| {
            let o = Offsets {
                views: views.unwrap_or(0),
                deliveries: deliveries.unwrap_or(0),
            };
            (order_no, o)
        })
        .collect())
}

/// Brings the views of a batch of orders up to their last events, in the caller's transaction,
/// under `locks` (each order's advisory lock sorted, so batches never deadlock).
async fn refresh_in(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    tables: Tables,
    order_nos: &[String],
    locks: Locks,
) -> anyhow::Result<(BatchOutcome, Vec<(String, i64)>)> {
    let mut sorted: Vec<String> = order_nos.to_vec();
    sorted.sort();
    sorted.dedup();
    if locks != Locks::None {
        sqlx::query(
            "SELECT count(pg_advisory_xact_lock(hashtextextended('order-views:' || o, 7)))
             FROM (SELECT o FROM unnest($1::text[]) o ORDER BY o) s",
        )
        .bind(&sorted)
        .execute(&mut **tx)
        .await?;
    }
    if locks == Locks::OrdersAndViews {
        sqlx::query(&lock_views("ROW EXCLUSIVE")).execute(&mut **tx).await?;
    }
    let offsets = read_offsets(&mut **tx, tables, &sorted).await?;
    let starts = load_snapshots(tx, tables, &sorted, &offsets).await?;
    let streams = load_streams(tx, &sorted, starts).await?;
    let mut rows = Rows::default();
    let mut outcome = BatchOutcome::default();
    let mut heads = Vec::with_capacity(streams.len());
    for (order_no, stream) in streams {
        match stream {
            Ok(stream) => {
                outcome.events += stream.events.len();
                let o = offsets.get(&order_no).copied().unwrap_or_default();
                let head = fold(tx, tables, &order_no, stream, o, &mut rows).await?;
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

/// Whether a command's views came along with its commit.
#[derive(Debug)]
pub enum ViewRefresh {
    Done,
    /// They failed and were rolled back to their savepoint: the events still commit, and the
    /// catch-up heals the views.
    Failed(anyhow::Error),
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

/// What `rebuild` writes: the live views (replacing them), or scratch copies compared with the
/// live views (`xyt rebuild-views --verify`, which leaves the live views alone).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RebuildMode {
    Replace,
    Verify,
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
/// Orders per rebuild batch. Each batch holds an advisory lock per order until it commits, in
/// PostgreSQL's shared lock table (`max_locks_per_transaction` × `max_connections` entries,
/// 6,400 by default): two batches in flight take 2,000. Batches of 3,000 measured 5% faster,
/// but would leave too little of it for the commands running meanwhile; 10,000 ran out of
/// shared memory.
const REBUILD_BATCH: i64 = 1000;

/// The fold every order view is built from: the aggregate, plus what only the metadata tells.
/// `refresh` writes the views from it and replay (`crate::replay`) answers a past moment with it.
#[derive(Default, Serialize, Deserialize)]
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

    /// Applies one event; returns what it changed in the tracked fields (before, after), and
    /// the tracked fields after it. `before` is what the previous step returned, if any (a
    /// stream's events in a row then compute the fields once each).
    pub(crate) fn step_from(
        &mut self,
        before: Option<BTreeMap<&'static str, String>>,
        event: OrderEvent,
        meta: &EventMeta,
    ) -> ((Changed, Changed), BTreeMap<&'static str, String>) {
        let before = before.unwrap_or_else(|| self.order.tracked_fields());
        self.apply(event, meta);
        let after = self.order.tracked_fields();
        (diff(&before, &after), after)
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
    payload: &str,
    metadata: &str,
) -> anyhow::Result<(OrderEvent, EventMeta)> {
    // Read straight into the event when it is stored at the current version (nearly always):
    // a rebuild decodes millions.
    let event: Result<OrderEvent, serde_json::Error> =
        if event_version == xyt_domain::order::current_version(event_type) {
            serde_json::from_str(payload)
        } else {
            serde_json::from_str(payload)
                .and_then(|p| serde_json::from_value(xyt_domain::order::upcast(event_type, event_version, p)))
        };
    let event = event.with_context(|| format!("order {order_no} event {sequence} does not deserialize"))?;
    let meta: HashMap<String, String> = serde_json::from_str(metadata).unwrap_or_default();
    Ok((event, EventMeta::from_map(&meta)))
}

/// (scratch, live) for every table `--verify` rebuilds into.
fn scratch_tables() -> Vec<(&'static str, &'static str)> {
    Projection::ALL
        .iter()
        .map(|p| (p.view(&SCRATCH).0, p.view(&LIVE).0))
        .chain([(SCRATCH.offsets, LIVE.offsets)])
        .collect()
}

impl Projections {
    pub fn new(pool: PgPool) -> Self {
        Self { pool }
    }

    /// Brings every view of one order up to its last event. Returns the version reached.
    pub async fn refresh(&self, order_no: &str) -> anyhow::Result<i64> {
        let mut tx = self.pool.begin().await?;
        let (outcome, heads) = Box::pin(refresh_in(
            &mut tx,
            LIVE,
            &[order_no.to_string()],
            Locks::OrdersAndViews,
        ))
        .await?;
        tx.commit().await?;
        if outcome.failed > 0 {
            anyhow::bail!("order {order_no}: its events could not be read (see the log)");
        }
        Ok(heads.first().map(|h| h.1).unwrap_or(0))
    }

    /// Appends a command's events to an order's stream and brings its views up to date, in the
    /// command's transaction (begun by [`begin_command`]): `events` adds the events' part. When
    /// the views fail, the transaction is rolled back to its savepoint and the events appended
    /// alone (the catch-up heals the views). An error here is the events' own (another command
    /// took their sequence numbers: `events_pkey`) or the transaction's.
    pub(crate) async fn append(
        &self,
        tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
        order_no: &str,
        events: impl Fn(&mut BatchWrite) -> Result<(), sqlx::Error>,
    ) -> Result<ViewRefresh, sqlx::Error> {
        let mut w = BatchWrite::default();
        events(&mut w)?;
        w.execute(tx).await?;
        let refreshed = match Box::pin(refresh_in(tx, LIVE, &[order_no.to_string()], Locks::Orders)).await {
            Ok((outcome, _)) if outcome.failed > 0 => {
                anyhow::anyhow!("order {order_no}: its events could not be read (see the log)")
            }
            Ok(_) => return Ok(ViewRefresh::Done),
            Err(e) => e,
        };
        append_alone(tx, events).await?;
        Ok(ViewRefresh::Failed(refreshed))
    }

    /// A new order's first events and its views, in the command's transaction (begun by
    /// [`begin_command`]) and in one statement: `events` adds the events' part (after a guard,
    /// when the order's number is claimed in the same statement), and the views are folded from
    /// the events as decided (nothing of the order can be stored before they commit, and no
    /// other refresh can see them, so nothing is read). As in [`Self::append`], views that fail
    /// leave the events appended alone. Answers whether the guard held (the order was written).
    pub(crate) async fn append_new_order(
        &self,
        tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
        order_no: &str,
        decided: &[cqrs_es::EventEnvelope<Order>],
        events: impl Fn(&mut BatchWrite) -> Result<(), sqlx::Error>,
    ) -> Result<(bool, ViewRefresh), sqlx::Error> {
        let stream = Stream {
            start: Folded::default(),
            events: decided
                .iter()
                .map(|e| StoredEvent {
                    sequence: e.sequence as i64,
                    event: e.payload.clone(),
                    meta: EventMeta::from_map(&e.metadata),
                })
                .collect(),
        };
        let mut rows = Rows::default();
        let folded = Box::pin(fold(tx, LIVE, order_no, stream, Offsets::default(), &mut rows)).await;
        let failed = match folded {
            Err(e) => e,
            Ok(_) => {
                let mut w = BatchWrite::default();
                events(&mut w)?;
                match write_into(&mut w, LIVE, rows) {
                    Err(e) => e.into(),
                    Ok(()) => match w.execute(tx).await {
                        Ok(written) => return Ok((written, ViewRefresh::Done)),
                        Err(e) if is_events_conflict(&e) => return Err(e),
                        Err(e) => e.into(),
                    },
                }
            }
        };
        let written = append_alone(tx, events).await?;
        Ok((written, ViewRefresh::Failed(failed)))
    }

    /// Brings the views of many orders up to date in one transaction. Orders whose events
    /// cannot be read are logged and counted, never holding up the rest.
    pub async fn refresh_many(&self, order_nos: &[String]) -> anyhow::Result<BatchOutcome> {
        let mut tx = self.pool.begin().await?;
        let (outcome, _) = Box::pin(refresh_in(&mut tx, LIVE, order_nos, Locks::OrdersAndViews)).await?;
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
        let applied = read_offsets(&self.pool, LIVE, &order_nos).await?;
        let mut lagging: Vec<String> = heads
            .into_iter()
            .filter(|(o, head)| applied.get(o).is_none_or(|a| a.views.min(a.deliveries) < *head))
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
        self.rebuild(RebuildMode::Replace, &mut |_| {}).await?;
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
    pub async fn rebuild(
        &self,
        mode: RebuildMode,
        on_progress: &mut dyn FnMut(&Progress),
    ) -> anyhow::Result<RebuildReport> {
        let verify = mode == RebuildMode::Verify;
        let tables = Tables {
            fresh: true,
            ..if verify { SCRATCH } else { LIVE }
        };
        // Indexes an earlier rebuild that stopped half way left dropped.
        self.restore_indexes().await?;
        if verify {
            for (scratch, live) in scratch_tables() {
                sqlx::query(&format!("DROP TABLE IF EXISTS {scratch}"))
                    .execute(&self.pool)
                    .await?;
                sqlx::query(&format!("CREATE UNLOGGED TABLE {scratch} (LIKE {live} INCLUDING ALL)"))
                    .execute(&self.pool)
                    .await?;
            }
        } else {
            let mut tx = self.pool.begin().await?;
            sqlx::query(&lock_views("ACCESS EXCLUSIVE")).execute(&mut *tx).await?;
            // Deliveries stay (they are real sends), and so do their offsets: the events that
            // called for them are not asked again.
            let views: Vec<&str> = Projection::ALL.iter().map(|p| p.view(&LIVE).0).collect();
            sqlx::query(&format!(
                "TRUNCATE {}, {}, order_fold_snapshots",
                views.join(", "),
                LIVE.offsets
            ))
            .execute(&mut *tx)
            .await?;
            // The emptied views' secondary indexes: built once at the end (`restore_indexes`)
            // instead of kept up to date row by row. Primary keys and constraints stay (a
            // command's refresh meanwhile upserts by primary key), and so does every index of
            // the offsets, which each batch reads by order.
            let dropped: Vec<(String, String)> = sqlx::query_as(
                "SELECT c.relname::text, pg_get_indexdef(i.indexrelid) FROM pg_index i
                 JOIN pg_class c ON c.oid = i.indexrelid
                 WHERE i.indrelid = ANY($1::text[]::regclass[]) AND NOT i.indisprimary
                   AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid)
                 ORDER BY 1",
            )
            .bind(&views)
            .fetch_all(&mut *tx)
            .await?;
            for (name, definition) in dropped {
                sqlx::query("INSERT INTO rebuild_dropped_indexes (name, definition) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING")
                    .bind(&name)
                    .bind(definition)
                    .execute(&mut *tx)
                    .await?;
                sqlx::query(&format!("DROP INDEX \"{name}\"")).execute(&mut *tx).await?;
            }
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
                            // One round trip begins the batch's transaction with its settings:
                            // - its views need not wait for the disk: a crash loses at most the last
                            //   batches, views and offsets together, which the catch-up (or the next
                            //   rebuild) applies again;
                            // - its rows travel as arrays that `unnest` holds in a tuplestore, which
                            //   beyond `work_mem` (4 MB by default) spills to a temporary file;
                            // - each order's offsets and events are read by index: without fresh
                            //   statistics (the offsets table was just emptied, the scratch one is
                            //   new, and both grow by millions of rows) the planner joined a batch's
                            //   keys by scanning the whole offsets table, a rebuild that cost the
                            //   square of the orders (1,749 scans of up to 1.8M rows at 1M orders).
                            let mut tx = pool
                                .begin_with(
                                    "BEGIN; SET LOCAL synchronous_commit = off; SET LOCAL work_mem = '64MB'; \
                                     SET LOCAL enable_seqscan = off; SET LOCAL enable_hashjoin = off; \
                                     SET LOCAL enable_mergejoin = off",
                                )
                                .await?;
                            let (outcome, _) = Box::pin(refresh_in(
                                &mut tx,
                                tables,
                                &order_nos,
                                if verify { Locks::None } else { Locks::OrdersAndViews },
                            ))
                            .await?;
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
        if !verify {
            self.restore_indexes().await?;
        }
        if verify {
            report.differences = self.differences().await?;
            for (scratch, _) in scratch_tables() {
                sqlx::query(&format!("DROP TABLE IF EXISTS {scratch}"))
                    .execute(&self.pool)
                    .await?;
            }
        }
        Ok(report)
    }

    /// Builds the view indexes a replace rebuild dropped (`rebuild_dropped_indexes`), each once,
    /// in one transaction that holds the views in SHARE mode (taken in `lock_views`' order): a
    /// command's refresh meanwhile waits for the builds instead of writing around them.
    async fn restore_indexes(&self) -> anyhow::Result<()> {
        let mut tx = self.pool.begin().await?;
        let dropped: Vec<(String, String)> =
            sqlx::query_as("SELECT name, definition FROM rebuild_dropped_indexes ORDER BY name")
                .fetch_all(&mut *tx)
                .await?;
        if dropped.is_empty() {
            return Ok(());
        }
        sqlx::query(&lock_views("SHARE")).execute(&mut *tx).await?;
        sqlx::query("SET LOCAL maintenance_work_mem = '256MB'")
            .execute(&mut *tx)
            .await?;
        for (name, definition) in dropped {
            let exists: bool = sqlx::query_scalar("SELECT to_regclass(quote_ident($1)) IS NOT NULL")
                .bind(&name)
                .fetch_one(&mut *tx)
                .await?;
            if !exists {
                sqlx::query(&definition).execute(&mut *tx).await?;
            }
        }
        sqlx::query("DELETE FROM rebuild_dropped_indexes")
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Every row that differs between the live views and the scratch copies.
    async fn differences(&self) -> anyhow::Result<Vec<Difference>> {
        let mut out = vec![];
        for p in Projection::ALL {
            let ((live, key), (scratch, _)) = (p.view(&LIVE), p.view(&SCRATCH));
            // json has no equality: its columns are compared as jsonb (by value, not spelling).
            let columns: String = sqlx::query_scalar(
                "SELECT string_agg(quote_ident(column_name) || CASE WHEN data_type = 'json' THEN '::jsonb' ELSE '' END,
                                   ', ' ORDER BY ordinal_position)
                 FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = $1",
            )
            .bind(live)
            .fetch_one(&self.pool)
            .await?;
            let rows: Vec<(String, String)> = sqlx::query_as(&format!(
                "WITH only_live AS (SELECT {key} AS k FROM
                                      (SELECT {columns} FROM {live} EXCEPT ALL SELECT {columns} FROM {scratch}) d),
                      only_scratch AS (SELECT {key} AS k FROM
                                      (SELECT {columns} FROM {scratch} EXCEPT ALL SELECT {columns} FROM {live}) d)
                 SELECT k, CASE WHEN k IN (SELECT k FROM only_scratch) THEN 'differs' ELSE 'missing' END FROM only_live
                 UNION ALL
                 SELECT k, 'extra' FROM only_scratch WHERE k NOT IN (SELECT k FROM only_live)
                 ORDER BY 1"
            ))
            .fetch_all(&self.pool)
            .await?;
            out.extend(rows.into_iter().map(|(k, kind)| Difference {
                table: live,
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
