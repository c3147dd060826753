//! The read models as the admin API returns them, and the queries that read them.

use std::collections::BTreeMap;

use base64::Engine;
use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use sqlx::{PgPool, Postgres, QueryBuilder};
use utoipa::ToSchema;
use xyt_domain::buyer::{CertificateType, Gender};
use xyt_domain::order::{ActionContext, AvailableAction, ExceptionOverview, Order, OrderStatus, SuggestedAction};
use xyt_domain::pricing::PriceCheck;

/// One row of the order list. Personal data is masked here.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema, sqlx::FromRow)]
#[serde(rename_all = "camelCase")]
pub struct OrderListItem {
    pub order_no: String,
    pub external_order_no: Option<String>,
    pub out_order_no: Option<String>,
    pub goods_no: Option<String>,
    pub goods_name: Option<String>,
    pub ticket_type: Option<String>,
    pub play_date: Option<NaiveDate>,
    /// 支付金额, yuan with two decimals.
    #[schema(value_type = Option<String>, example = "3.20")]
    pub paid_amount: Option<Decimal>,
    /// 应付代下单金额.
    #[schema(value_type = Option<String>, example = "3.14")]
    pub payable_amount: Option<Decimal>,
    #[sqlx(try_from = "String")]
    pub status: StatusCode,
    pub status_label: String,
    #[sqlx(try_from = "String")]
    pub suggested_action: ActionCode,
    pub suggested_action_label: String,
    /// Masked (`马**`).
    pub buyer_name: Option<String>,
    /// Masked (`188****1234`).
    pub phone: Option<String>,
    pub unknown_goods: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Wrappers so that sqlx can read the text columns into the domain enums.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(transparent)]
#[schema(value_type = OrderStatus)]
pub struct StatusCode(pub OrderStatus);

impl TryFrom<String> for StatusCode {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        OrderStatus::parse(&s)
            .map(StatusCode)
            .ok_or_else(|| format!("unknown status {s}"))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(transparent)]
#[schema(value_type = SuggestedAction)]
pub struct ActionCode(pub SuggestedAction);

impl TryFrom<String> for ActionCode {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        serde_json::from_value(serde_json::Value::String(s.clone()))
            .map(ActionCode)
            .map_err(|_| format!("unknown action {s}"))
    }
}

/// One stage of 关键状态.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct KeyStatusView {
    /// `review`, `payment`, `push`, `screenshot_match`, `user_notification`, `profit_share`.
    pub stage: String,
    pub stage_label: String,
    pub status: String,
    pub status_label: String,
}

/// 用户表单: the buyer's latest submission, whole (the detail is for signed-in operators only;
/// lists and logs show it masked).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UserFormView {
    pub name: String,
    pub phone_country_code: String,
    pub phone: String,
    pub certificate_type: CertificateType,
    pub certificate_type_label: String,
    pub certificate_no: String,
    pub gender: Option<Gender>,
    pub birthday: Option<NaiveDate>,
    pub play_date: NaiveDate,
    pub submitted_at: Option<DateTime<Utc>>,
    /// How many times the buyer submitted the form.
    pub submissions: u32,
}

/// The latest price check with its labels.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PriceCheckView {
    #[serde(flatten)]
    pub check: PriceCheck,
    /// 淡季/平季/旺季 of the play date.
    pub season_label: String,
    pub reason_labels: Vec<String>,
    pub checked_at: Option<DateTime<Utc>>,
}

/// One 最新记录 line: what happened, who did it, when.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LatestRecord {
    pub summary: String,
    /// The event's source (`admin:<operator>`, `system`, ...).
    pub by: String,
    pub at: DateTime<Utc>,
}

/// 最新记录: the latest review, payment, push, screenshot and profit share (absent until they happen).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LatestRecords {
    pub review: Option<LatestRecord>,
    pub payment: Option<LatestRecord>,
    pub push: Option<LatestRecord>,
    pub screenshot: Option<LatestRecord>,
    pub profit_share: Option<LatestRecord>,
}

/// What the projection learns from event metadata rather than from the aggregate.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct MetaFacts {
    pub form_submitted_at: Option<DateTime<Utc>>,
    pub price_checked_at: Option<DateTime<Utc>>,
    pub latest: LatestRecords,
    pub payment_by: Option<(String, DateTime<Utc>)>,
    pub proof_at: Option<DateTime<Utc>>,
    pub screenshot_at: Option<DateTime<Utc>>,
    pub push_requested: Option<(String, DateTime<Utc>)>,
}

/// An uploaded image (付款凭证, 代理截图), served by the admin API at `url`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ImageView {
    pub file_id: String,
    pub sha256: String,
    pub content_type: String,
    pub size: i64,
    pub width: u32,
    pub height: u32,
    /// `/api/files/{sha256}`.
    pub url: String,
    pub uploaded_at: Option<DateTime<Utc>>,
}

impl ImageView {
    fn of(img: &xyt_domain::order::StoredImage, at: Option<DateTime<Utc>>) -> Self {
        Self {
            file_id: img.file_id.clone(),
            sha256: img.sha256.clone(),
            content_type: img.content_type.clone(),
            size: img.size,
            width: img.width,
            height: img.height,
            url: format!("/api/files/{}", img.sha256),
            uploaded_at: at,
        }
    }
}

/// 代付: the confirmed payment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PaymentView {
    #[schema(value_type = String, example = "426.00")]
    pub amount: Decimal,
    pub qr_code_id: String,
    pub qr_code_label: String,
    pub paid_at: DateTime<Utc>,
    pub confirmed_by: Option<String>,
}

/// 推单: the latest push to an agent group.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PushView {
    pub agent_group_id: String,
    pub agent_group_name: String,
    pub target: String,
    /// `requested`, `pushed`, `failed`.
    pub status: String,
    pub requested_by: Option<String>,
    pub requested_at: Option<DateTime<Utc>>,
}

/// 截图上传 + OCR: what was read and how it compares with the order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ScreenshotView {
    pub image: ImageView,
    /// `reading`, `matched`, `mismatched`, `confirmed`, `rejected`.
    pub status: String,
    pub ocr_engine: Option<String>,
    pub ocr_text: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub ocr_fields: Option<serde_json::Value>,
    pub confidence: Option<f32>,
    #[schema(value_type = Option<Object>)]
    pub comparisons: Option<serde_json::Value>,
    pub reasons: Vec<String>,
    pub reason_labels: Vec<String>,
}

/// 分润.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProfitShareView {
    /// `not_ready`, `ready`, `settled`.
    pub status: String,
    #[schema(value_type = Option<String>)]
    pub revenue: Option<Decimal>,
    #[schema(value_type = Option<String>)]
    pub cost: Option<Decimal>,
    #[schema(value_type = Option<String>)]
    pub profit: Option<Decimal>,
    pub cost_basis: Option<String>,
}

/// The active payment QR code, read live (configuration, not order history).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ActiveQrCode {
    pub id: String,
    pub label: String,
    /// `/api/config/qr-codes/{id}/image`.
    pub image_url: String,
}

/// The order detail (订单详情): the overview fields of the seed page and what the order needs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OrderDetail {
    pub order_no: String,
    /// 外部订单号: XGJ's order_no.
    pub external_order_no: Option<String>,
    pub biz_order_no: Option<String>,
    /// Our virtual card order number (`VS…`).
    pub out_order_no: Option<String>,
    pub goods_no: Option<String>,
    pub goods_name: Option<String>,
    pub ticket_type: Option<String>,
    /// The goods' season label (淡季/平季/旺季) as configured at intake.
    pub season_label: Option<String>,
    /// 游玩日, once the buyer has given it.
    pub play_date: Option<NaiveDate>,
    pub buy_quantity: i64,
    #[schema(value_type = Option<String>, example = "3.20")]
    pub paid_amount: Option<Decimal>,
    #[schema(value_type = Option<String>, example = "0.02")]
    pub fee_rate: Option<Decimal>,
    #[schema(value_type = Option<String>, example = "3.14")]
    pub payable_amount: Option<Decimal>,
    pub status: OrderStatus,
    pub status_label: String,
    pub suggested_action: SuggestedAction,
    pub suggested_action_label: String,
    pub key_statuses: Vec<KeyStatusView>,
    pub exception_overview: Option<ExceptionOverview>,
    /// 订单操作: every operator action with whether it is possible now and, if not, why
    /// (decided by the domain from the order and the configuration, so the console never
    /// re-derives a rule).
    #[serde(default)]
    pub available_actions: Vec<AvailableAction>,
    pub unknown_goods: bool,
    /// The buyer's form link handed to XGJ as the card.
    pub form_link: Option<String>,
    pub notify_url: Option<String>,
    pub virtual_order_status: Option<i64>,
    pub cancel_reason: Option<String>,
    pub user_form: Option<UserFormView>,
    /// A form was submitted and its price check is still to be recorded.
    pub price_check_pending: bool,
    pub price_check: Option<PriceCheckView>,
    pub latest_records: LatestRecords,
    pub payment: Option<PaymentView>,
    pub payment_proof: Option<ImageView>,
    pub push: Option<PushView>,
    pub screenshot: Option<ScreenshotView>,
    /// `not_started`, `notified`, `failed`.
    pub user_notification_status: String,
    pub profit_share: ProfitShareView,
    /// The QR code to pay with now; absent when none is active (当前还没有生效二维码).
    #[serde(default)]
    pub active_qr_code: Option<ActiveQrCode>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// The last event sequence this view reflects.
    pub version: i64,
}

impl OrderDetail {
    pub fn from_order(
        o: &Order,
        facts: &MetaFacts,
        created_at: DateTime<Utc>,
        updated_at: DateTime<Utc>,
        version: i64,
    ) -> Option<Self> {
        let status = o.status?;
        let action = o.suggested_action();
        let stages = o.key_status();
        Some(Self {
            order_no: o.order_no.as_ref()?.to_string(),
            external_order_no: o.external_order_no.clone(),
            biz_order_no: o.biz_order_no.clone(),
            out_order_no: o.out_order_no.as_ref().map(|n| n.to_string()),
            goods_no: o.goods_no.clone(),
            goods_name: o.goods.as_ref().map(|g| g.goods_name.clone()),
            ticket_type: o.ticket_type.clone(),
            season_label: o.season_label.clone(),
            play_date: o.form.as_ref().map(|f| f.play_date),
            buy_quantity: o.buy_quantity,
            paid_amount: o.paid_amount,
            fee_rate: o.fee_rate,
            payable_amount: o.payable_amount,
            status,
            status_label: status.label().into(),
            suggested_action: action,
            suggested_action_label: action.label().into(),
            key_statuses: stages
                .clone()
                .into_vec()
                .into_iter()
                .map(|k| KeyStatusView {
                    stage: k.stage.into(),
                    stage_label: k.stage_label.into(),
                    status: k.status.into(),
                    status_label: k.status_label.into(),
                })
                .collect(),
            exception_overview: o.exception_overview(),
            available_actions: o.available_actions(&ActionContext::ORDER_ONLY),
            unknown_goods: o.unknown_goods,
            form_link: o.form_link.clone(),
            notify_url: o.notify_url.clone(),
            virtual_order_status: o.virtual_order_status,
            cancel_reason: o.cancel_reason.clone(),
            user_form: o.form.as_ref().map(|f| UserFormView {
                name: f.name.as_str().into(),
                phone_country_code: f.phone_country_code.clone(),
                phone: f.phone.as_str().into(),
                certificate_type: f.certificate_type,
                certificate_type_label: f.certificate_type.label().into(),
                certificate_no: f.certificate_no.as_str().into(),
                gender: f.gender,
                birthday: f.birthday,
                play_date: f.play_date,
                submitted_at: facts.form_submitted_at,
                submissions: o.form_submissions,
            }),
            price_check_pending: o.price_check_pending,
            price_check: o.price_check.as_ref().map(|c| PriceCheckView {
                season_label: c.season_type.label().into(),
                reason_labels: c.reason_labels().into_iter().map(String::from).collect(),
                check: c.clone(),
                checked_at: facts.price_checked_at,
            }),
            latest_records: facts.latest.clone(),
            payment: o.payment.as_ref().map(|p| PaymentView {
                amount: p.amount,
                qr_code_id: p.qr_code_id.clone(),
                qr_code_label: p.qr_code_label.clone(),
                paid_at: p.paid_at,
                confirmed_by: facts.payment_by.as_ref().map(|b| b.0.clone()),
            }),
            payment_proof: o.payment_proof.as_ref().map(|i| ImageView::of(i, facts.proof_at)),
            push: o.push_request.as_ref().map(|r| PushView {
                agent_group_id: r.agent_group_id.clone(),
                agent_group_name: r.agent_group_name.clone(),
                target: r.notification_target.clone(),
                status: stages.push.status.to_string(),
                requested_by: facts.push_requested.as_ref().map(|p| p.0.clone()),
                requested_at: facts.push_requested.as_ref().map(|p| p.1),
            }),
            screenshot: o.screenshot.as_ref().map(|i| ScreenshotView {
                image: ImageView::of(i, facts.screenshot_at),
                status: stages.screenshot_match.status.to_string(),
                ocr_engine: o.ocr.as_ref().map(|r| r.engine.clone()),
                ocr_text: o.ocr.as_ref().map(|r| r.text.clone()),
                ocr_fields: o.ocr.as_ref().map(|r| r.fields.clone()),
                confidence: o.ocr.as_ref().map(|r| r.confidence),
                comparisons: o.screenshot_match.as_ref().map(|m| m.comparisons.clone()),
                reasons: o
                    .screenshot_match
                    .as_ref()
                    .map(|m| m.reasons.clone())
                    .unwrap_or_default(),
                reason_labels: o
                    .screenshot_match
                    .as_ref()
                    .map(|m| m.reason_labels.clone())
                    .unwrap_or_default(),
            }),
            user_notification_status: stages.user_notification.status.to_string(),
            profit_share: ProfitShareView {
                status: stages.profit_share.status.to_string(),
                revenue: o.profit_share.as_ref().map(|p| p.revenue),
                cost: o.profit_share.as_ref().map(|p| p.cost),
                profit: o.profit_share.as_ref().map(|p| p.profit),
                cost_basis: o.profit_share.as_ref().map(|p| p.cost_basis.clone()),
            },
            active_qr_code: None,
            created_at,
            updated_at,
            version,
        })
    }
}

/// One entry of 事件流.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OrderEventEntry {
    pub sequence: i64,
    /// The stable event name, e.g. `xgj_virtual_order_received`.
    pub event_type: String,
    pub event_version: String,
    /// `xgj_virtual`, `public`, `system`, `admin:<operator>`, `api:<key name>`.
    pub source: String,
    /// `accepted` or `rejected`.
    pub result: String,
    pub created_at: DateTime<Utc>,
    pub processed_at: DateTime<Utc>,
    pub request_id: String,
    pub error_code: Option<String>,
    pub error_message: Option<String>,
    /// Order fields before the event, only those it changed.
    pub before: BTreeMap<String, String>,
    /// Order fields after the event, only those it changed.
    pub after: BTreeMap<String, String>,
    /// The raw event payload.
    #[schema(value_type = Object)]
    pub payload: serde_json::Value,
}

#[derive(Debug, Clone, Default)]
pub struct ListFilter {
    pub status: Option<OrderStatus>,
    pub keyword: Option<String>,
    pub created_from: Option<DateTime<Utc>>,
    pub created_to: Option<DateTime<Utc>>,
    pub limit: i64,
    pub cursor: Option<Cursor>,
}

/// Keyset position: the last row of the previous page, in (created_at desc, order_no desc).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    pub created_at: DateTime<Utc>,
    pub order_no: String,
}

impl Cursor {
    pub fn encode(&self) -> String {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!(
            "v1|{}|{}",
            self.created_at.timestamp_micros(),
            self.order_no
        ))
    }

    pub fn decode(s: &str) -> Option<Self> {
        let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(s).ok()?;
        let raw = String::from_utf8(raw).ok()?;
        let mut parts = raw.splitn(3, '|');
        if parts.next()? != "v1" {
            return None;
        }
        let micros: i64 = parts.next()?.parse().ok()?;
        // Only a well-formed order number is bound into the query (never a NUL or junk).
        let order_no = xyt_domain::OrderNo::parse(parts.next()?).ok()?.to_string();
        Some(Self {
            created_at: DateTime::from_timestamp_micros(micros)?,
            order_no,
        })
    }
}

const LIST_COLS: &str = "order_no, external_order_no, out_order_no, goods_no, goods_name, ticket_type, play_date,
    paid_amount, payable_amount, status, status_label, suggested_action, suggested_action_label,
    buyer_name_masked AS buyer_name, phone_masked AS phone, unknown_goods, created_at, updated_at";

pub async fn list_orders(pool: &PgPool, f: &ListFilter) -> Result<(Vec<OrderListItem>, Option<Cursor>), sqlx::Error> {
    let mut q: QueryBuilder<Postgres> = QueryBuilder::new(format!("SELECT {LIST_COLS} FROM order_list WHERE true"));
    if let Some(s) = f.status {
        q.push(" AND status = ").push_bind(s.as_str());
    }
    push_filters(&mut q, f);
    if let Some(c) = &f.cursor {
        q.push(" AND (created_at, order_no) < (")
            .push_bind(c.created_at)
            .push(", ")
            .push_bind(c.order_no.clone())
            .push(")");
    }
    q.push(" ORDER BY created_at DESC, order_no DESC LIMIT ")
        .push_bind(f.limit + 1);
    let mut rows: Vec<OrderListItem> = q.build_query_as().fetch_all(pool).await?;
    let next = if rows.len() as i64 > f.limit {
        rows.truncate(f.limit as usize);
        rows.last().map(|r| Cursor {
            created_at: r.created_at,
            order_no: r.order_no.clone(),
        })
    } else {
        None
    };
    Ok((rows, next))
}

/// The keyword and creation-time conditions shared by the list and its per-status counts.
fn push_filters(q: &mut QueryBuilder<'_, Postgres>, f: &ListFilter) {
    if let Some(k) = f.keyword.as_deref().map(str::trim).filter(|k| !k.is_empty()) {
        q.push(" AND (order_no = ").push_bind(k.to_uppercase());
        q.push(" OR external_order_no = ").push_bind(k.to_string());
        if k.len() == 4 && k.bytes().all(|b| b.is_ascii_digit()) {
            q.push(" OR phone_last4 = ").push_bind(k.to_string());
        }
        q.push(")");
    }
    if let Some(t) = f.created_from {
        q.push(" AND created_at >= ").push_bind(t);
    }
    if let Some(t) = f.created_to {
        q.push(" AND created_at < ").push_bind(t);
    }
}

/// Orders per status (wire name) under the list's keyword and time filters.
pub async fn count_orders_by_status(
    pool: &PgPool,
    f: &ListFilter,
) -> Result<std::collections::HashMap<String, i64>, sqlx::Error> {
    let mut q: QueryBuilder<Postgres> = QueryBuilder::new("SELECT status, count(*) FROM order_list WHERE true");
    push_filters(&mut q, f);
    q.push(" GROUP BY status");
    let rows: Vec<(String, i64)> = q.build_query_as().fetch_all(pool).await?;
    Ok(rows.into_iter().collect())
}

/// Whether an agent group is active (推单 needs one).
pub async fn has_active_agent_group(pool: &PgPool) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM agent_groups WHERE active)")
        .fetch_one(pool)
        .await
}

pub async fn order_detail(pool: &PgPool, order_no: &str) -> Result<Option<OrderDetail>, sqlx::Error> {
    let doc: Option<sqlx::types::Json<OrderDetail>> =
        sqlx::query_scalar("SELECT doc FROM order_detail WHERE order_no = $1")
            .bind(order_no)
            .fetch_optional(pool)
            .await?;
    Ok(doc.map(|d| d.0))
}

/// The event log, newest first: each event's record and what it changed, folded from the
/// order's stream as it is read (the replay's own fold: `replay::fold`), so it is never behind
/// the events. Empty for an order with none.
pub async fn order_events(pool: &PgPool, order_no: &str) -> anyhow::Result<Vec<OrderEventEntry>> {
    let steps = match crate::replay::fold(pool, order_no, None).await {
        Ok(folded) => folded.steps,
        Err(crate::replay::ReplayError::NotFound) => return Ok(vec![]),
        Err(e) => return Err(e.into()),
    };
    Ok(steps
        .into_iter()
        .rev()
        .map(|s| OrderEventEntry {
            sequence: s.sequence,
            event_type: s.event_type,
            event_version: s.event_version,
            source: s.meta.source,
            result: s.meta.result,
            created_at: s.meta.created_at,
            processed_at: s.meta.processed_at,
            request_id: s.meta.request_id,
            error_code: s.meta.error_code,
            error_message: s.meta.error_message,
            before: s.before,
            after: s.after,
            payload: s.payload,
        })
        .collect())
}

/// Whether any event exists for the order (the views may lag behind the event store).
pub async fn order_has_events(pool: &PgPool, order_no: &str) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM events WHERE aggregate_type = 'Order' AND aggregate_id = $1)")
        .bind(order_no)
        .fetch_one(pool)
        .await
}

/// The order behind a buyer's form link.
pub async fn order_no_for_form_token(pool: &PgPool, token: &str) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar("SELECT order_no FROM order_detail WHERE form_token = $1")
        .bind(token)
        .fetch_optional(pool)
        .await
}

/// The active payment QR code, if any.
pub async fn active_qr_code(pool: &PgPool) -> Result<Option<ActiveQrCode>, sqlx::Error> {
    let row: Option<(uuid::Uuid, String)> = sqlx::query_as("SELECT id, label FROM payment_qr_codes WHERE active")
        .fetch_optional(pool)
        .await?;
    Ok(row.map(|(id, label)| ActiveQrCode {
        id: id.to_string(),
        label,
        image_url: format!("/api/config/qr-codes/{id}/image"),
    }))
}
