//! The read models as the admin API returns them, and the queries that read them.

use std::collections::BTreeMap;

use base64::Engine;
use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use sqlx::{PgPool, Postgres, QueryBuilder};
use utoipa::ToSchema;
use xyt_domain::buyer::{CertificateType, Gender};
use xyt_domain::order::{ExceptionOverview, Order, OrderStatus, SuggestedAction};
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
#[derive(Debug, Clone, Default)]
pub struct MetaFacts {
    pub form_submitted_at: Option<DateTime<Utc>>,
    pub price_checked_at: Option<DateTime<Utc>>,
    pub latest: LatestRecords,
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
            key_statuses: o
                .key_statuses()
                .into_iter()
                .map(|k| KeyStatusView {
                    stage: k.stage.into(),
                    stage_label: k.stage_label.into(),
                    status: k.status.into(),
                    status_label: k.status_label.into(),
                })
                .collect(),
            exception_overview: o.exception_overview(),
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
            created_at,
            updated_at,
            version,
        })
    }
}

/// One entry of 事件流.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema, sqlx::FromRow)]
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
    #[sqlx(json)]
    pub before: BTreeMap<String, String>,
    /// Order fields after the event, only those it changed.
    #[sqlx(json)]
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
        let order_no = parts.next()?.to_string();
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

pub async fn order_detail(pool: &PgPool, order_no: &str) -> Result<Option<OrderDetail>, sqlx::Error> {
    let doc: Option<sqlx::types::Json<OrderDetail>> =
        sqlx::query_scalar("SELECT doc FROM order_detail WHERE order_no = $1")
            .bind(order_no)
            .fetch_optional(pool)
            .await?;
    Ok(doc.map(|d| d.0))
}

/// The event log, newest first.
pub async fn order_events(pool: &PgPool, order_no: &str) -> Result<Vec<OrderEventEntry>, sqlx::Error> {
    sqlx::query_as(
        "SELECT sequence, event_type, event_version, source, result, created_at, processed_at, request_id,
                error_code, error_message, before, after, payload
         FROM order_event_log WHERE order_no = $1 ORDER BY sequence DESC",
    )
    .bind(order_no)
    .fetch_all(pool)
    .await
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

/// Orders whose form awaits its price check (the sweep's work list).
pub async fn orders_with_pending_price_check(pool: &PgPool, limit: i64) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar("SELECT order_no FROM order_list WHERE price_check_pending ORDER BY order_no LIMIT $1")
        .bind(limit)
        .fetch_all(pool)
        .await
}
