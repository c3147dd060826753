//! The config centre: goods, ticket types, the price table, settings (fee rate, play-date horizon,
//! season calendar), payment QR codes, agent groups and notification targets, each change
//! recorded with who made it and when.
//!
//! Strategy:
//! - Every write runs in one transaction together with its `config_changes` row(s), so the
//!   history can neither miss a change nor record one that was rolled back.
//! - A row being changed is read `FOR UPDATE` first: that read is the history's "before", and it
//!   makes concurrent writers queue instead of overwriting each other unseen. A row referred to
//!   (the ticket type of a goods or a price) is read `FOR SHARE`, so deleting it waits for the
//!   writer and then sees the new reference.
//! - Inputs are checked here, not only at the HTTP edge, so every caller gets the same rules.
//!   Errors are keyed by the camelCase field the client sent, with Chinese messages.
//! - Payment QR codes: at most one is active (a partial unique index), and activating one
//!   deactivates the other in the same transaction under one advisory lock, so readers never see
//!   two, and two concurrent activations queue instead of tripping the index.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use sqlx::{PgPool, Postgres, Transaction};
use utoipa::ToSchema;
use uuid::Uuid;
use xyt_domain::pricing::{SeasonCalendar, SeasonType};

use crate::config::{self, record_change};

pub type FieldErrors = BTreeMap<String, String>;

/// Why a config write was refused.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// Bad input, by field.
    #[error("invalid config: {0:?}")]
    Invalid(FieldErrors),
    #[error("{code}: {message}")]
    NotFound { code: &'static str, message: String },
    /// Refused because of what is stored (a duplicate, a reference still in use).
    #[error("{code}: {message}")]
    Conflict { code: &'static str, message: String },
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

impl ConfigError {
    fn field(field: &str, message: impl Into<String>) -> Self {
        ConfigError::Invalid(BTreeMap::from([(field.to_string(), message.into())]))
    }
}

fn invalid_unless_empty(errors: FieldErrors) -> Result<(), ConfigError> {
    if errors.is_empty() {
        Ok(())
    } else {
        Err(ConfigError::Invalid(errors))
    }
}

// ---------------------------------------------------------------------------------------------
// Field rules
// ---------------------------------------------------------------------------------------------

/// Goods prices are below 10^9 cents (¥10,000,000).
pub const MAX_PRICE_CENT: i64 = 1_000_000_000;
/// The play-date horizon: how many days ahead a buyer may book.
pub const HORIZON_DAYS: std::ops::RangeInclusive<i64> = 1..=730;
/// What a notification target may be for. New purposes are added here as features need them, so
/// that a typo is refused instead of silently never being used.
pub const NOTIFICATION_PURPOSES: [(&str, &str); 1] = [("price_alert", "价格异常提醒")];

fn has_control(s: &str) -> bool {
    s.chars().any(char::is_control)
}

/// A key (goods no, ticket type name): exactly as given, since XGJ and the goods match it
/// byte for byte; so surrounding blanks are refused rather than trimmed.
fn check_key(errors: &mut FieldErrors, field: &str, what: &str, value: &str, max: usize) {
    let n = value.chars().count();
    let msg = if n == 0 || value.trim().is_empty() {
        Some(format!("{what}不能为空"))
    } else if n > max {
        Some(format!("{what}最长 {max} 个字符,当前 {n} 个"))
    } else if value.trim() != value {
        Some(format!("{what}首尾不能有空格"))
    } else if has_control(value) {
        Some(format!("{what}不能包含控制字符"))
    } else {
        None
    };
    if let Some(m) = msg {
        errors.insert(field.into(), m);
    }
}

/// A display text: trimmed, then 1..=max characters (`min_one`) or 0..=max.
fn check_text(errors: &mut FieldErrors, field: &str, what: &str, value: &str, max: usize, min_one: bool) -> String {
    let v = value.trim().to_string();
    let n = v.chars().count();
    if min_one && n == 0 {
        errors.insert(field.into(), format!("{what}不能为空"));
    } else if n > max {
        errors.insert(field.into(), format!("{what}最长 {max} 个字符,当前 {n} 个"));
    } else if has_control(&v) {
        errors.insert(field.into(), format!("{what}不能包含控制字符"));
    }
    v
}

/// A money amount as a decimal string: non-negative, at most two places, below 10^12.
pub fn parse_amount(s: &str) -> Result<Decimal, String> {
    xyt_domain::money::parse_amount(s, &xyt_domain::money::CONFIG_RANGE).map_err(|e| e.to_string())
}

/// The platform fee rate: a decimal string in [0, 1), at most 6 places.
pub fn parse_fee_rate(s: &str) -> Result<Decimal, String> {
    let s = s.trim();
    let (int, frac) = s.split_once('.').unwrap_or((s, ""));
    let digits = |p: &str| p.bytes().all(|b| b.is_ascii_digit());
    if s.starts_with('-') {
        return Err("费率不能为负数,应在 0(含)到 1(不含)之间".into());
    }
    if int.is_empty() || !digits(int) || !digits(frac) || (s.contains('.') && frac.is_empty()) {
        return Err(format!("费率必须是小数,例如 \"0.02\" 表示 2%;收到 \"{s}\""));
    }
    if frac.len() > 6 {
        return Err("费率最多 6 位小数".into());
    }
    let d: Decimal = s.parse().map_err(|_| format!("费率不是有效的数字:\"{s}\""))?;
    if d >= Decimal::ONE {
        return Err("费率应在 0(含)到 1(不含)之间,例如 \"0.02\" 表示 2%".into());
    }
    Ok(d.normalize())
}

/// Where a WeCom message may go: `mock://<name>` (recorded, never sent), `wecom-app:<chatid>`
/// (1–32 letters or digits), or a robot webhook URL over `https://` (plain `http://` only to a
/// loopback host, for local fakes and relays). One rule for the config centre and for resends:
/// [`xyt_domain::target::Target::parse`].
pub fn validate_target(s: &str) -> Result<(), String> {
    if s.trim() != s || s.is_empty() {
        return Err(if s.trim().is_empty() {
            "目标不能为空".into()
        } else {
            "目标首尾不能有空格".into()
        });
    }
    xyt_domain::target::Target::parse(s, false).map(|_| ()).map_err(|e| e.0)
}

// ---------------------------------------------------------------------------------------------
// Rows and inputs
// ---------------------------------------------------------------------------------------------

/// A goods as XGJ sees it (`goods_no`), mapped to a ticket type and a season label.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct GoodsItem {
    /// XGJ's goods no (商品编码), e.g. `初级道 3 小时-淡季`.
    pub goods_no: String,
    pub goods_name: String,
    /// 1 直充, 2 卡密.
    pub goods_type: i16,
    pub ticket_type: String,
    /// 淡季 / 平季 / 旺季.
    pub season_label: String,
    /// The price the buyer pays, in cents.
    pub price_cent: i64,
    pub stock: i64,
    /// 1 在架, 2 下架.
    pub status: i16,
    pub updated_at: DateTime<Utc>,
}

/// A new goods.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GoodsCreate {
    /// 1–100 characters, no surrounding blanks.
    pub goods_no: String,
    /// Defaults to the goods no.
    pub goods_name: Option<String>,
    /// An existing ticket type.
    pub ticket_type: String,
    /// 淡季, 平季 or 旺季.
    pub season_label: String,
    /// 0 ≤ price < 10^9.
    pub price_cent: i64,
    /// 1 直充, 2 卡密 (default 2).
    #[schema(minimum = 1, maximum = 2)]
    pub goods_type: Option<i16>,
    /// Default 9999.
    pub stock: Option<i64>,
    /// 1 在架, 2 下架 (default 1).
    #[schema(minimum = 1, maximum = 2)]
    pub status: Option<i16>,
}

/// A goods' new values. Optional fields left out keep their current values.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GoodsUpdate {
    pub goods_name: Option<String>,
    pub ticket_type: String,
    pub season_label: String,
    pub price_cent: i64,
    #[schema(minimum = 1, maximum = 2)]
    pub goods_type: Option<i16>,
    pub stock: Option<i64>,
    #[schema(minimum = 1, maximum = 2)]
    pub status: Option<i16>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TicketType {
    /// E.g. `初级道 3 小时`.
    pub name: String,
    pub description: String,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TicketTypeInput {
    /// At most 500 characters.
    #[serde(default)]
    pub description: Option<String>,
}

/// One cell of the price table: what the agent charges us for a ticket type in a season.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PriceEntry {
    pub ticket_type: String,
    pub season: SeasonType,
    /// 淡季 / 平季 / 旺季.
    pub season_label: String,
    /// Yuan, two places, as a string.
    #[schema(value_type = String, example = "426.00")]
    pub settlement_amount: Decimal,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PriceInput {
    /// Yuan as a decimal string, at most two places, not negative: `"426.00"`.
    #[schema(example = "426.00")]
    pub settlement_amount: String,
}

/// Single values.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Settings {
    /// Platform fee rate, a decimal string in [0, 1); default `"0.02"`.
    #[schema(value_type = String, example = "0.02")]
    pub fee_rate: Decimal,
    /// How many days ahead a play date may be (1–730).
    pub play_date_horizon_days: i64,
}

/// New setting values; those left out are kept.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SettingsInput {
    /// A decimal string in [0, 1), e.g. `"0.02"`.
    #[schema(example = "0.02")]
    pub fee_rate: Option<String>,
    /// 1 to 730.
    #[schema(minimum = 1, maximum = 730)]
    pub play_date_horizon_days: Option<i64>,
}

/// A payment QR code (收款码), without its image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct QrCode {
    pub id: Uuid,
    pub label: String,
    /// `image/png`, `image/jpeg` or `image/webp`, decided from the bytes.
    pub content_type: String,
    /// Lowercase hex SHA-256 of the image.
    pub sha256: String,
    /// Bytes.
    pub size: i32,
    /// Exactly one code is active once any exists.
    pub active: bool,
    pub created_at: DateTime<Utc>,
    pub created_by: String,
}

/// A checked image to store as a QR code. The caller has decided the content type from the bytes.
#[derive(Debug, Clone)]
pub struct NewQrCode {
    pub label: String,
    pub content_type: String,
    pub image: Vec<u8>,
    /// `Some(true)`: becomes the active code; `Some(false)`: stored inactive; `None`: active when
    /// no code is active yet.
    pub active: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QrImage {
    pub content_type: String,
    pub image: Vec<u8>,
}

/// An agent's WeCom group (代理群): where orders are pushed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AgentGroup {
    pub id: Uuid,
    pub name: String,
    /// `mock://<name>`, `wecom-app:<chatid>` or a robot webhook `https://` URL (its key masked
    /// once saved: send the masked value back unchanged to keep the key).
    #[serde(serialize_with = "xyt_domain::target::serialize_masked")]
    pub wecom_target: String,
    pub active: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AgentGroupInput {
    /// 1–100 characters, unique.
    pub name: String,
    /// `mock://<name>`, `wecom-app:<chatid>` (1–32 letters or digits) or an `https://` URL.
    pub wecom_target: String,
    /// Default true on create; kept on update when left out.
    pub active: Option<bool>,
}

/// Where the system's own messages go (the 【订单异常】 price alerts, ...).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct NotificationTarget {
    pub id: Uuid,
    /// `price_alert` (价格异常提醒).
    pub purpose: String,
    pub name: String,
    /// `mock://<name>`, `wecom-app:<chatid>` or a robot webhook `https://` URL (its key masked
    /// once saved: send the masked value back unchanged to keep the key).
    #[serde(serialize_with = "xyt_domain::target::serialize_masked")]
    pub target: String,
    pub active: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NotificationTargetInput {
    /// `price_alert`.
    pub purpose: String,
    /// 1–100 characters.
    pub name: String,
    /// `mock://<name>`, `wecom-app:<chatid>` (1–32 letters or digits) or an `https://` URL.
    pub target: String,
    /// Default true on create; kept on update when left out.
    pub active: Option<bool>,
}

/// One row of the config history.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConfigChange {
    pub id: i64,
    /// `goods`, `ticket_type`, `price`, `setting`, `qr_code`, `agent_group`, `notification_target`.
    pub entity: String,
    /// The changed row's key (goods no, name, `ticketType/season`, setting key, id).
    pub entity_key: String,
    /// `create`, `update`, `delete`, `activate`, `deactivate`.
    pub action: String,
    /// The row before the change (absent on create).
    pub before: Option<serde_json::Value>,
    /// The row after the change (absent on delete).
    pub after: Option<serde_json::Value>,
    /// Who: `admin:<operator>`, `system:demo`, ...
    pub actor: String,
    pub changed_at: DateTime<Utc>,
}

pub const ENTITIES: [&str; 7] = [
    "goods",
    "ticket_type",
    "price",
    "setting",
    "qr_code",
    "agent_group",
    "notification_target",
];

// ---------------------------------------------------------------------------------------------
// History helpers
// ---------------------------------------------------------------------------------------------

type Tx<'a> = Transaction<'a, Postgres>;

fn json<T: Serialize>(v: &T) -> serde_json::Value {
    serde_json::to_value(v).expect("config rows serialize")
}

async fn log<T: Serialize>(
    tx: &mut Tx<'_>,
    entity: &str,
    key: &str,
    action: &str,
    before: Option<&T>,
    after: Option<&T>,
    actor: &str,
) -> Result<(), sqlx::Error> {
    record_change(tx, entity, key, action, before.map(json), after.map(json), actor).await
}

fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if d.code().as_deref() == Some("23505"))
}

/// Whether the ticket type exists; if so it stays locked against deletion until the transaction
/// ends. An unknown one is added to `errors` against `ticketType`.
async fn check_ticket_type(tx: &mut Tx<'_>, errors: &mut FieldErrors, name: &str) -> Result<(), sqlx::Error> {
    if name.is_empty() || errors.contains_key("ticketType") {
        return Ok(());
    }
    let found: Option<String> = sqlx::query_scalar("SELECT name FROM ticket_types WHERE name = $1 FOR SHARE")
        .bind(name)
        .fetch_optional(&mut **tx)
        .await?;
    if found.is_none() {
        errors.insert("ticketType".into(), format!("票种「{name}」不存在,请先在票种中添加"));
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Goods
// ---------------------------------------------------------------------------------------------

const GOODS_COLS: &str =
    "goods_no, goods_name, goods_type, ticket_type, season_label, price_cent, stock, status, updated_at";

struct GoodsValues {
    goods_name: String,
    season_label: String,
    goods_type: i16,
    stock: i64,
    status: i16,
}

impl GoodsCreate {
    fn split(self) -> (String, GoodsUpdate) {
        let update = GoodsUpdate {
            goods_name: self.goods_name,
            ticket_type: self.ticket_type,
            season_label: self.season_label,
            price_cent: self.price_cent,
            goods_type: self.goods_type,
            stock: self.stock,
            status: self.status,
        };
        (self.goods_no, update)
    }
}

/// Checks a goods' values; optional ones left out come from `current` (an update) or the
/// defaults (a new goods, named after its goods no).
fn check_goods(
    errors: &mut FieldErrors,
    input: &GoodsUpdate,
    goods_no: &str,
    current: Option<&GoodsItem>,
) -> GoodsValues {
    let goods_name = match &input.goods_name {
        Some(n) => check_text(errors, "goodsName", "商品名称", n, 200, true),
        None => current.map_or(goods_no, |c| &c.goods_name).to_string(),
    };
    if input.ticket_type.is_empty() {
        errors.insert("ticketType".into(), "票种不能为空".into());
    }
    if SeasonType::from_label(&input.season_label).is_none() {
        errors.insert("seasonLabel".into(), "季节必须是 淡季、平季 或 旺季".into());
    }
    if input.price_cent < 0 {
        errors.insert("priceCent".into(), "价格不能为负数".into());
    } else if input.price_cent >= MAX_PRICE_CENT {
        errors.insert("priceCent".into(), "价格必须小于 1,000,000,000 分(1000 万元)".into());
    }
    let goods_type = input.goods_type.unwrap_or(current.map_or(2, |c| c.goods_type));
    if !matches!(goods_type, 1 | 2) {
        errors.insert("goodsType".into(), "商品类型只能是 1(直充)或 2(卡密)".into());
    }
    let stock = input.stock.unwrap_or(current.map_or(9999, |c| c.stock));
    if stock < 0 {
        errors.insert("stock".into(), "库存不能为负数".into());
    }
    let status = input.status.unwrap_or(current.map_or(1, |c| c.status));
    if !matches!(status, 1 | 2) {
        errors.insert("status".into(), "状态只能是 1(在架)或 2(下架)".into());
    }
    GoodsValues {
        goods_name,
        season_label: input.season_label.trim().to_string(),
        goods_type,
        stock,
        status,
    }
}

pub async fn list_goods(pool: &PgPool) -> Result<Vec<GoodsItem>, sqlx::Error> {
    sqlx::query_as(&format!("SELECT {GOODS_COLS} FROM goods ORDER BY goods_no"))
        .fetch_all(pool)
        .await
}

pub async fn get_goods(pool: &PgPool, goods_no: &str) -> Result<Option<GoodsItem>, sqlx::Error> {
    sqlx::query_as(&format!("SELECT {GOODS_COLS} FROM goods WHERE goods_no = $1"))
        .bind(goods_no)
        .fetch_optional(pool)
        .await
}

fn goods_not_found(goods_no: &str) -> ConfigError {
    ConfigError::NotFound {
        code: "GOODS_NOT_FOUND",
        message: format!("商品「{goods_no}」不存在"),
    }
}

pub async fn create_goods(pool: &PgPool, input: GoodsCreate, actor: &str) -> Result<GoodsItem, ConfigError> {
    let (goods_no, input) = input.split();
    let mut errors = FieldErrors::new();
    check_key(&mut errors, "goodsNo", "商品编码", &goods_no, 100);
    let v = check_goods(&mut errors, &input, &goods_no, None);
    let mut tx = pool.begin().await?;
    check_ticket_type(&mut tx, &mut errors, &input.ticket_type).await?;
    invalid_unless_empty(errors)?;
    let row: Option<GoodsItem> = sqlx::query_as(&format!(
        "INSERT INTO goods (goods_no, goods_name, ticket_type, season_label, price_cent, goods_type, stock, status)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (goods_no) DO NOTHING RETURNING {GOODS_COLS}"
    ))
    .bind(&goods_no)
    .bind(&v.goods_name)
    .bind(&input.ticket_type)
    .bind(&v.season_label)
    .bind(input.price_cent)
    .bind(v.goods_type)
    .bind(v.stock)
    .bind(v.status)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(row) = row else {
        return Err(ConfigError::Conflict {
            code: "GOODS_EXISTS",
            message: format!("商品「{goods_no}」已存在,请修改它而不是重复添加"),
        });
    };
    log(&mut tx, "goods", &row.goods_no, "create", None, Some(&row), actor).await?;
    tx.commit().await?;
    Ok(row)
}

pub async fn update_goods(
    pool: &PgPool,
    goods_no: &str,
    input: GoodsUpdate,
    actor: &str,
) -> Result<GoodsItem, ConfigError> {
    let mut tx = pool.begin().await?;
    let before: Option<GoodsItem> = sqlx::query_as(&format!(
        "SELECT {GOODS_COLS} FROM goods WHERE goods_no = $1 FOR UPDATE"
    ))
    .bind(goods_no)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(before) = before else {
        return Err(goods_not_found(goods_no));
    };
    let mut errors = FieldErrors::new();
    let v = check_goods(&mut errors, &input, goods_no, Some(&before));
    check_ticket_type(&mut tx, &mut errors, &input.ticket_type).await?;
    invalid_unless_empty(errors)?;
    let row: GoodsItem = sqlx::query_as(&format!(
        "UPDATE goods SET goods_name = $2, ticket_type = $3, season_label = $4, price_cent = $5, goods_type = $6,
           stock = $7, status = $8, updated_at = now()
         WHERE goods_no = $1 RETURNING {GOODS_COLS}"
    ))
    .bind(goods_no)
    .bind(&v.goods_name)
    .bind(&input.ticket_type)
    .bind(&v.season_label)
    .bind(input.price_cent)
    .bind(v.goods_type)
    .bind(v.stock)
    .bind(v.status)
    .fetch_one(&mut *tx)
    .await?;
    log(&mut tx, "goods", goods_no, "update", Some(&before), Some(&row), actor).await?;
    tx.commit().await?;
    Ok(row)
}

pub async fn delete_goods(pool: &PgPool, goods_no: &str, actor: &str) -> Result<GoodsItem, ConfigError> {
    let mut tx = pool.begin().await?;
    let row: Option<GoodsItem> =
        sqlx::query_as(&format!("DELETE FROM goods WHERE goods_no = $1 RETURNING {GOODS_COLS}"))
            .bind(goods_no)
            .fetch_optional(&mut *tx)
            .await?;
    let Some(row) = row else {
        return Err(goods_not_found(goods_no));
    };
    log(&mut tx, "goods", goods_no, "delete", Some(&row), None, actor).await?;
    tx.commit().await?;
    Ok(row)
}

// ---------------------------------------------------------------------------------------------
// Ticket types
// ---------------------------------------------------------------------------------------------

pub async fn list_ticket_types(pool: &PgPool) -> Result<Vec<TicketType>, sqlx::Error> {
    sqlx::query_as("SELECT name, description, updated_at FROM ticket_types ORDER BY name")
        .fetch_all(pool)
        .await
}

pub async fn get_ticket_type(pool: &PgPool, name: &str) -> Result<Option<TicketType>, sqlx::Error> {
    sqlx::query_as("SELECT name, description, updated_at FROM ticket_types WHERE name = $1")
        .bind(name)
        .fetch_optional(pool)
        .await
}

/// Creates the ticket type or updates its description. `true` when it was created.
pub async fn put_ticket_type(
    pool: &PgPool,
    name: &str,
    input: TicketTypeInput,
    actor: &str,
) -> Result<(TicketType, bool), ConfigError> {
    let mut errors = FieldErrors::new();
    check_key(&mut errors, "name", "票种名称", name, 100);
    let description = check_text(
        &mut errors,
        "description",
        "说明",
        input.description.as_deref().unwrap_or(""),
        500,
        false,
    );
    invalid_unless_empty(errors)?;
    let mut tx = pool.begin().await?;
    // Insert-or-lock: a concurrent creator makes the insert wait and then do nothing, and the
    // locked read below sees its row, so the history says create once and update after it.
    let created: Option<TicketType> = sqlx::query_as(
        "INSERT INTO ticket_types (name, description) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING
         RETURNING name, description, updated_at",
    )
    .bind(name)
    .bind(&description)
    .fetch_optional(&mut *tx)
    .await?;
    if let Some(row) = created {
        log(&mut tx, "ticket_type", name, "create", None, Some(&row), actor).await?;
        tx.commit().await?;
        return Ok((row, true));
    }
    let before: Option<TicketType> =
        sqlx::query_as("SELECT name, description, updated_at FROM ticket_types WHERE name = $1 FOR UPDATE")
            .bind(name)
            .fetch_optional(&mut *tx)
            .await?;
    let Some(before) = before else {
        return Err(ConfigError::Conflict {
            code: "CONFIG_CHANGED",
            message: "票种刚被其他人删除,请刷新后重试".into(),
        });
    };
    let row: TicketType = sqlx::query_as(
        "UPDATE ticket_types SET description = $2, updated_at = now() WHERE name = $1
         RETURNING name, description, updated_at",
    )
    .bind(name)
    .bind(&description)
    .fetch_one(&mut *tx)
    .await?;
    log(&mut tx, "ticket_type", name, "update", Some(&before), Some(&row), actor).await?;
    tx.commit().await?;
    Ok((row, false))
}

/// Deletes a ticket type no goods uses; its price-table entries go with it (each recorded).
pub async fn delete_ticket_type(pool: &PgPool, name: &str, actor: &str) -> Result<TicketType, ConfigError> {
    let mut tx = pool.begin().await?;
    let before: Option<TicketType> =
        sqlx::query_as("SELECT name, description, updated_at FROM ticket_types WHERE name = $1 FOR UPDATE")
            .bind(name)
            .fetch_optional(&mut *tx)
            .await?;
    let Some(before) = before else {
        return Err(ConfigError::NotFound {
            code: "TICKET_TYPE_NOT_FOUND",
            message: format!("票种「{name}」不存在"),
        });
    };
    let users: Vec<String> = sqlx::query_scalar("SELECT goods_no FROM goods WHERE ticket_type = $1 ORDER BY goods_no")
        .bind(name)
        .fetch_all(&mut *tx)
        .await?;
    if !users.is_empty() {
        let shown: Vec<&str> = users.iter().take(5).map(String::as_str).collect();
        return Err(ConfigError::Conflict {
            code: "TICKET_TYPE_IN_USE",
            message: format!(
                "票种「{name}」仍被 {} 个商品使用({}{}),请先修改或删除这些商品",
                users.len(),
                shown.join("、"),
                if users.len() > shown.len() { " 等" } else { "" }
            ),
        });
    }
    let prices = price_rows(&mut tx, Some(name), true).await?;
    for p in &prices {
        sqlx::query("DELETE FROM price_table WHERE ticket_type = $1 AND season = $2")
            .bind(name)
            .bind(p.season.as_str())
            .execute(&mut *tx)
            .await?;
        log(
            &mut tx,
            "price",
            &price_key(name, p.season),
            "delete",
            Some(p),
            None,
            actor,
        )
        .await?;
    }
    sqlx::query("DELETE FROM ticket_types WHERE name = $1")
        .bind(name)
        .execute(&mut *tx)
        .await?;
    log(&mut tx, "ticket_type", name, "delete", Some(&before), None, actor).await?;
    tx.commit().await?;
    Ok(before)
}

// ---------------------------------------------------------------------------------------------
// Price table
// ---------------------------------------------------------------------------------------------

fn price_key(ticket_type: &str, season: SeasonType) -> String {
    format!("{ticket_type}/{season}")
}

type PriceRow = (String, String, Decimal, DateTime<Utc>);

fn to_entry((ticket_type, season, settlement_amount, updated_at): PriceRow) -> PriceEntry {
    let season = SeasonType::parse(&season).unwrap_or(SeasonType::Mid); // the CHECK constraint allows no other
    PriceEntry {
        ticket_type,
        season,
        season_label: season.label().to_string(),
        settlement_amount,
        updated_at,
    }
}

const PRICE_ORDER: &str = "ORDER BY ticket_type, CASE season WHEN 'low' THEN 0 WHEN 'mid' THEN 1 ELSE 2 END";

async fn price_rows(tx: &mut Tx<'_>, ticket_type: Option<&str>, lock: bool) -> Result<Vec<PriceEntry>, sqlx::Error> {
    let rows: Vec<PriceRow> = sqlx::query_as(&format!(
        "SELECT ticket_type, season, settlement_amount, updated_at FROM price_table
         WHERE $1::text IS NULL OR ticket_type = $1 {PRICE_ORDER} {}",
        if lock { "FOR UPDATE" } else { "" }
    ))
    .bind(ticket_type)
    .fetch_all(&mut **tx)
    .await?;
    Ok(rows.into_iter().map(to_entry).collect())
}

pub async fn list_prices(pool: &PgPool) -> Result<Vec<PriceEntry>, sqlx::Error> {
    let rows: Vec<PriceRow> = sqlx::query_as(&format!(
        "SELECT ticket_type, season, settlement_amount, updated_at FROM price_table {PRICE_ORDER}"
    ))
    .fetch_all(pool)
    .await?;
    Ok(rows.into_iter().map(to_entry).collect())
}

/// A season from the path: the wire name (`low`) or the label (`淡季`).
pub fn parse_season(s: &str) -> Result<SeasonType, ConfigError> {
    SeasonType::parse(s)
        .or_else(|| SeasonType::from_label(s))
        .ok_or_else(|| ConfigError::field("season", "季节必须是 low / mid / high(淡季 / 平季 / 旺季)"))
}

/// Sets one settlement amount. `true` when the entry was created.
pub async fn put_price(
    pool: &PgPool,
    ticket_type: &str,
    season: SeasonType,
    input: PriceInput,
    actor: &str,
) -> Result<(PriceEntry, bool), ConfigError> {
    let mut errors = FieldErrors::new();
    let amount = parse_amount(&input.settlement_amount)
        .map_err(|m| errors.insert("settlementAmount".into(), m))
        .ok();
    let key = price_key(ticket_type, season);
    let mut tx = pool.begin().await?;
    check_ticket_type(&mut tx, &mut errors, ticket_type).await?;
    invalid_unless_empty(errors)?;
    let amount = amount.expect("checked above");
    let created: Option<PriceRow> = sqlx::query_as(
        "INSERT INTO price_table (ticket_type, season, settlement_amount) VALUES ($1, $2, $3)
         ON CONFLICT (ticket_type, season) DO NOTHING
         RETURNING ticket_type, season, settlement_amount, updated_at",
    )
    .bind(ticket_type)
    .bind(season.as_str())
    .bind(amount)
    .fetch_optional(&mut *tx)
    .await?;
    if let Some(row) = created {
        let row = to_entry(row);
        log(&mut tx, "price", &key, "create", None, Some(&row), actor).await?;
        tx.commit().await?;
        return Ok((row, true));
    }
    let before: Option<PriceRow> = sqlx::query_as(
        "SELECT ticket_type, season, settlement_amount, updated_at FROM price_table
         WHERE ticket_type = $1 AND season = $2 FOR UPDATE",
    )
    .bind(ticket_type)
    .bind(season.as_str())
    .fetch_optional(&mut *tx)
    .await?;
    let Some(before) = before.map(to_entry) else {
        return Err(ConfigError::Conflict {
            code: "CONFIG_CHANGED",
            message: "结算价刚被其他人删除,请刷新后重试".into(),
        });
    };
    let row: PriceRow = sqlx::query_as(
        "UPDATE price_table SET settlement_amount = $3, updated_at = now() WHERE ticket_type = $1 AND season = $2
         RETURNING ticket_type, season, settlement_amount, updated_at",
    )
    .bind(ticket_type)
    .bind(season.as_str())
    .bind(amount)
    .fetch_one(&mut *tx)
    .await?;
    let row = to_entry(row);
    log(&mut tx, "price", &key, "update", Some(&before), Some(&row), actor).await?;
    tx.commit().await?;
    Ok((row, false))
}

pub async fn delete_price(
    pool: &PgPool,
    ticket_type: &str,
    season: SeasonType,
    actor: &str,
) -> Result<PriceEntry, ConfigError> {
    let mut tx = pool.begin().await?;
    let row: Option<PriceRow> = sqlx::query_as(
        "DELETE FROM price_table WHERE ticket_type = $1 AND season = $2
         RETURNING ticket_type, season, settlement_amount, updated_at",
    )
    .bind(ticket_type)
    .bind(season.as_str())
    .fetch_optional(&mut *tx)
    .await?;
    let Some(row) = row.map(to_entry) else {
        return Err(ConfigError::NotFound {
            code: "PRICE_NOT_FOUND",
            message: format!("票种「{ticket_type}」{}没有结算价", season.label()),
        });
    };
    log(
        &mut tx,
        "price",
        &price_key(ticket_type, season),
        "delete",
        Some(&row),
        None,
        actor,
    )
    .await?;
    tx.commit().await?;
    Ok(row)
}

// ---------------------------------------------------------------------------------------------
// Settings and the season calendar
// ---------------------------------------------------------------------------------------------

pub async fn get_settings(pool: &PgPool) -> Result<Settings, sqlx::Error> {
    Ok(Settings {
        fee_rate: config::fee_rate(pool).await?,
        play_date_horizon_days: config::play_date_horizon_days(pool).await?,
    })
}

/// Changes the settings given, all or none.
pub async fn put_settings(pool: &PgPool, input: SettingsInput, actor: &str) -> Result<Settings, ConfigError> {
    let mut errors = FieldErrors::new();
    if input.fee_rate.is_none() && input.play_date_horizon_days.is_none() {
        errors.insert("body".into(), "请至少提供 feeRate 或 playDateHorizonDays".into());
    }
    let fee = match input.fee_rate.as_deref().map(parse_fee_rate) {
        Some(Err(m)) => {
            errors.insert("feeRate".into(), m);
            None
        }
        Some(Ok(d)) => Some(d),
        None => None,
    };
    if let Some(days) = input.play_date_horizon_days {
        if !HORIZON_DAYS.contains(&days) {
            errors.insert(
                "playDateHorizonDays".into(),
                format!(
                    "可预订天数必须在 {} 到 {} 之间",
                    HORIZON_DAYS.start(),
                    HORIZON_DAYS.end()
                ),
            );
        }
    }
    invalid_unless_empty(errors)?;
    let mut tx = pool.begin().await?;
    if let Some(fee) = fee {
        config::put_setting_tx(&mut tx, "fee_rate", serde_json::Value::String(fee.to_string()), actor).await?;
    }
    if let Some(days) = input.play_date_horizon_days {
        config::put_setting_tx(&mut tx, "play_date_horizon_days", days.into(), actor).await?;
    }
    tx.commit().await?;
    Ok(get_settings(pool).await?)
}

pub async fn get_season_calendar(pool: &PgPool) -> Result<SeasonCalendar, sqlx::Error> {
    config::season_calendar(pool).await
}

/// Replaces the season calendar after [`SeasonCalendar::validate`].
pub async fn put_season_calendar(
    pool: &PgPool,
    calendar: &SeasonCalendar,
    actor: &str,
) -> Result<SeasonCalendar, ConfigError> {
    calendar.validate().map_err(ConfigError::Invalid)?;
    let mut tx = pool.begin().await?;
    config::put_setting_tx(&mut tx, "season_calendar", json(calendar), actor).await?;
    tx.commit().await?;
    Ok(calendar.clone())
}

// ---------------------------------------------------------------------------------------------
// Payment QR codes
// ---------------------------------------------------------------------------------------------

/// Serialises every change of which QR code is active ("xyt_qr" as a number).
const QR_LOCK: i64 = 0x7879_745f_7172;
const QR_COLS: &str = "id, label, content_type, sha256, size, active, created_at, created_by";

pub async fn list_qr_codes(pool: &PgPool) -> Result<Vec<QrCode>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {QR_COLS} FROM payment_qr_codes ORDER BY active DESC, created_at DESC, id"
    ))
    .fetch_all(pool)
    .await
}

pub async fn get_qr_code(pool: &PgPool, id: Uuid) -> Result<Option<QrCode>, sqlx::Error> {
    sqlx::query_as(&format!("SELECT {QR_COLS} FROM payment_qr_codes WHERE id = $1"))
        .bind(id)
        .fetch_optional(pool)
        .await
}

pub async fn qr_image(pool: &PgPool, id: Uuid) -> Result<Option<QrImage>, sqlx::Error> {
    let row: Option<(String, Vec<u8>)> =
        sqlx::query_as("SELECT content_type, image FROM payment_qr_codes WHERE id = $1")
            .bind(id)
            .fetch_optional(pool)
            .await?;
    Ok(row.map(|(content_type, image)| QrImage { content_type, image }))
}

fn qr_not_found(id: Uuid) -> ConfigError {
    ConfigError::NotFound {
        code: "QR_CODE_NOT_FOUND",
        message: format!("收款码 {id} 不存在"),
    }
}

/// Deactivates the active code (recording it), under the QR lock the caller holds.
async fn deactivate_active(tx: &mut Tx<'_>, actor: &str) -> Result<(), sqlx::Error> {
    let before: Option<QrCode> = sqlx::query_as(&format!(
        "SELECT {QR_COLS} FROM payment_qr_codes WHERE active FOR UPDATE"
    ))
    .fetch_optional(&mut **tx)
    .await?;
    if let Some(before) = before {
        let after: QrCode = sqlx::query_as(&format!(
            "UPDATE payment_qr_codes SET active = false WHERE id = $1 RETURNING {QR_COLS}"
        ))
        .bind(before.id)
        .fetch_one(&mut **tx)
        .await?;
        log(
            tx,
            "qr_code",
            &before.id.to_string(),
            "deactivate",
            Some(&before),
            Some(&after),
            actor,
        )
        .await?;
    }
    Ok(())
}

async fn insert_qr_tx(tx: &mut Tx<'_>, new: &NewQrCode, label: &str, actor: &str) -> Result<QrCode, sqlx::Error> {
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(QR_LOCK)
        .execute(&mut **tx)
        .await?;
    let any_active: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM payment_qr_codes WHERE active)")
        .fetch_one(&mut **tx)
        .await?;
    let active = new.active.unwrap_or(!any_active);
    if active {
        deactivate_active(tx, actor).await?;
    }
    // The hash and size are computed by PostgreSQL from the very bytes it stores.
    let row: QrCode = sqlx::query_as(&format!(
        "INSERT INTO payment_qr_codes (id, label, content_type, sha256, size, image, active, created_by)
         VALUES ($1, $2, $3, encode(sha256($4), 'hex'), octet_length($4), $4, $5, $6) RETURNING {QR_COLS}"
    ))
    .bind(Uuid::new_v4())
    .bind(label)
    .bind(&new.content_type)
    .bind(&new.image)
    .bind(active)
    .bind(actor)
    .fetch_one(&mut **tx)
    .await?;
    log(tx, "qr_code", &row.id.to_string(), "create", None, Some(&row), actor).await?;
    Ok(row)
}

/// Stores a QR code image (already checked by the caller), activating it as [`NewQrCode::active`]
/// says.
pub async fn insert_qr_code(pool: &PgPool, new: NewQrCode, actor: &str) -> Result<QrCode, ConfigError> {
    let mut errors = FieldErrors::new();
    let label = check_text(&mut errors, "label", "名称", &new.label, 100, true);
    if !matches!(new.content_type.as_str(), "image/png" | "image/jpeg" | "image/webp") {
        errors.insert("file".into(), "只接受 PNG、JPEG、WebP 图片".into());
    }
    invalid_unless_empty(errors)?;
    let mut tx = pool.begin().await?;
    let row = insert_qr_tx(&mut tx, &new, &label, actor).await?;
    tx.commit().await?;
    Ok(row)
}

/// Makes `id` the one active code; the previous one is deactivated in the same transaction.
pub async fn activate_qr_code(pool: &PgPool, id: Uuid, actor: &str) -> Result<QrCode, ConfigError> {
    let mut tx = pool.begin().await?;
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(QR_LOCK)
        .execute(&mut *tx)
        .await?;
    let before: Option<QrCode> = sqlx::query_as(&format!(
        "SELECT {QR_COLS} FROM payment_qr_codes WHERE id = $1 FOR UPDATE"
    ))
    .bind(id)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(before) = before else {
        return Err(qr_not_found(id));
    };
    if before.active {
        return Ok(before);
    }
    deactivate_active(&mut tx, actor).await?;
    let row: QrCode = sqlx::query_as(&format!(
        "UPDATE payment_qr_codes SET active = true WHERE id = $1 RETURNING {QR_COLS}"
    ))
    .bind(id)
    .fetch_one(&mut *tx)
    .await?;
    log(
        &mut tx,
        "qr_code",
        &id.to_string(),
        "activate",
        Some(&before),
        Some(&row),
        actor,
    )
    .await?;
    tx.commit().await?;
    Ok(row)
}

// ---------------------------------------------------------------------------------------------
// Agent groups
// ---------------------------------------------------------------------------------------------

const GROUP_COLS: &str = "id, name, wecom_target, active, created_at, updated_at";

fn check_group(input: &AgentGroupInput) -> Result<String, ConfigError> {
    let mut errors = FieldErrors::new();
    let name = check_text(&mut errors, "name", "群名称", &input.name, 100, true);
    if let Err(m) = validate_target(&input.wecom_target) {
        errors.insert("wecomTarget".into(), m);
    }
    invalid_unless_empty(errors)?;
    Ok(name)
}

fn group_name_taken(name: &str) -> ConfigError {
    ConfigError::Conflict {
        code: "AGENT_GROUP_NAME_TAKEN",
        message: format!("已有名为「{name}」的代理群"),
    }
}

fn group_not_found(id: Uuid) -> ConfigError {
    ConfigError::NotFound {
        code: "AGENT_GROUP_NOT_FOUND",
        message: format!("代理群 {id} 不存在"),
    }
}

pub async fn list_agent_groups(pool: &PgPool) -> Result<Vec<AgentGroup>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {GROUP_COLS} FROM agent_groups ORDER BY created_at, id"
    ))
    .fetch_all(pool)
    .await
}

pub async fn get_agent_group(pool: &PgPool, id: Uuid) -> Result<Option<AgentGroup>, sqlx::Error> {
    sqlx::query_as(&format!("SELECT {GROUP_COLS} FROM agent_groups WHERE id = $1"))
        .bind(id)
        .fetch_optional(pool)
        .await
}

pub async fn create_agent_group(pool: &PgPool, input: AgentGroupInput, actor: &str) -> Result<AgentGroup, ConfigError> {
    let name = check_group(&input)?;
    let mut tx = pool.begin().await?;
    let row: Option<AgentGroup> = sqlx::query_as(&format!(
        "INSERT INTO agent_groups (id, name, wecom_target, active) VALUES ($1, $2, $3, $4)
         ON CONFLICT (name) DO NOTHING RETURNING {GROUP_COLS}"
    ))
    .bind(Uuid::new_v4())
    .bind(&name)
    .bind(&input.wecom_target)
    .bind(input.active.unwrap_or(true))
    .fetch_optional(&mut *tx)
    .await?;
    let Some(row) = row else {
        return Err(group_name_taken(&name));
    };
    log(
        &mut tx,
        "agent_group",
        &row.id.to_string(),
        "create",
        None,
        Some(&row),
        actor,
    )
    .await?;
    tx.commit().await?;
    Ok(row)
}

pub async fn update_agent_group(
    pool: &PgPool,
    id: Uuid,
    input: AgentGroupInput,
    actor: &str,
) -> Result<AgentGroup, ConfigError> {
    let name = check_group(&input)?;
    let mut tx = pool.begin().await?;
    let before: Option<AgentGroup> = sqlx::query_as(&format!(
        "SELECT {GROUP_COLS} FROM agent_groups WHERE id = $1 FOR UPDATE"
    ))
    .bind(id)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(before) = before else {
        return Err(group_not_found(id));
    };
    let row: AgentGroup = sqlx::query_as(&format!(
        "UPDATE agent_groups SET name = $2, wecom_target = $3, active = $4, updated_at = now() WHERE id = $1
         RETURNING {GROUP_COLS}"
    ))
    .bind(id)
    .bind(&name)
    .bind(&input.wecom_target)
    .bind(input.active.unwrap_or(before.active))
    .fetch_one(&mut *tx)
    .await
    .map_err(|e| {
        if is_unique_violation(&e) {
            group_name_taken(&name)
        } else {
            e.into()
        }
    })?;
    log(
        &mut tx,
        "agent_group",
        &id.to_string(),
        "update",
        Some(&before),
        Some(&row),
        actor,
    )
    .await?;
    tx.commit().await?;
    Ok(row)
}

pub async fn delete_agent_group(pool: &PgPool, id: Uuid, actor: &str) -> Result<AgentGroup, ConfigError> {
    let mut tx = pool.begin().await?;
    let row: Option<AgentGroup> = sqlx::query_as(&format!(
        "DELETE FROM agent_groups WHERE id = $1 RETURNING {GROUP_COLS}"
    ))
    .bind(id)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(row) = row else {
        return Err(group_not_found(id));
    };
    log(
        &mut tx,
        "agent_group",
        &id.to_string(),
        "delete",
        Some(&row),
        None,
        actor,
    )
    .await?;
    tx.commit().await?;
    Ok(row)
}

// ---------------------------------------------------------------------------------------------
// Notification targets
// ---------------------------------------------------------------------------------------------

const TARGET_COLS: &str = "id, purpose, name, target, active, created_at, updated_at";

fn check_notification_target(input: &NotificationTargetInput) -> Result<String, ConfigError> {
    let mut errors = FieldErrors::new();
    if !NOTIFICATION_PURPOSES.iter().any(|(p, _)| *p == input.purpose) {
        let all: Vec<String> = NOTIFICATION_PURPOSES.iter().map(|(p, l)| format!("{p}({l})")).collect();
        errors.insert("purpose".into(), format!("用途无效,可选:{}", all.join("、")));
    }
    let name = check_text(&mut errors, "name", "名称", &input.name, 100, true);
    if let Err(m) = validate_target(&input.target) {
        errors.insert("target".into(), m);
    }
    invalid_unless_empty(errors)?;
    Ok(name)
}

fn target_not_found(id: Uuid) -> ConfigError {
    ConfigError::NotFound {
        code: "NOTIFICATION_TARGET_NOT_FOUND",
        message: format!("通知目标 {id} 不存在"),
    }
}

pub async fn list_notification_targets(pool: &PgPool) -> Result<Vec<NotificationTarget>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {TARGET_COLS} FROM notification_targets ORDER BY purpose, created_at, id"
    ))
    .fetch_all(pool)
    .await
}

pub async fn get_notification_target(pool: &PgPool, id: Uuid) -> Result<Option<NotificationTarget>, sqlx::Error> {
    sqlx::query_as(&format!("SELECT {TARGET_COLS} FROM notification_targets WHERE id = $1"))
        .bind(id)
        .fetch_optional(pool)
        .await
}

pub async fn create_notification_target(
    pool: &PgPool,
    input: NotificationTargetInput,
    actor: &str,
) -> Result<NotificationTarget, ConfigError> {
    let name = check_notification_target(&input)?;
    let mut tx = pool.begin().await?;
    let row: NotificationTarget = sqlx::query_as(&format!(
        "INSERT INTO notification_targets (id, purpose, name, target, active) VALUES ($1, $2, $3, $4, $5)
         RETURNING {TARGET_COLS}"
    ))
    .bind(Uuid::new_v4())
    .bind(&input.purpose)
    .bind(&name)
    .bind(&input.target)
    .bind(input.active.unwrap_or(true))
    .fetch_one(&mut *tx)
    .await?;
    log(
        &mut tx,
        "notification_target",
        &row.id.to_string(),
        "create",
        None,
        Some(&row),
        actor,
    )
    .await?;
    tx.commit().await?;
    Ok(row)
}

pub async fn update_notification_target(
    pool: &PgPool,
    id: Uuid,
    input: NotificationTargetInput,
    actor: &str,
) -> Result<NotificationTarget, ConfigError> {
    let name = check_notification_target(&input)?;
    let mut tx = pool.begin().await?;
    let before: Option<NotificationTarget> = sqlx::query_as(&format!(
        "SELECT {TARGET_COLS} FROM notification_targets WHERE id = $1 FOR UPDATE"
    ))
    .bind(id)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(before) = before else {
        return Err(target_not_found(id));
    };
    let row: NotificationTarget = sqlx::query_as(&format!(
        "UPDATE notification_targets SET purpose = $2, name = $3, target = $4, active = $5, updated_at = now()
         WHERE id = $1 RETURNING {TARGET_COLS}"
    ))
    .bind(id)
    .bind(&input.purpose)
    .bind(&name)
    .bind(&input.target)
    .bind(input.active.unwrap_or(before.active))
    .fetch_one(&mut *tx)
    .await?;
    log(
        &mut tx,
        "notification_target",
        &id.to_string(),
        "update",
        Some(&before),
        Some(&row),
        actor,
    )
    .await?;
    tx.commit().await?;
    Ok(row)
}

pub async fn delete_notification_target(
    pool: &PgPool,
    id: Uuid,
    actor: &str,
) -> Result<NotificationTarget, ConfigError> {
    let mut tx = pool.begin().await?;
    let row: Option<NotificationTarget> = sqlx::query_as(&format!(
        "DELETE FROM notification_targets WHERE id = $1 RETURNING {TARGET_COLS}"
    ))
    .bind(id)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(row) = row else {
        return Err(target_not_found(id));
    };
    log(
        &mut tx,
        "notification_target",
        &id.to_string(),
        "delete",
        Some(&row),
        None,
        actor,
    )
    .await?;
    tx.commit().await?;
    Ok(row)
}

// ---------------------------------------------------------------------------------------------
// History
// ---------------------------------------------------------------------------------------------

/// The config history, newest first: `limit` rows older than `before_id` (keyset on the id).
pub async fn list_changes(
    pool: &PgPool,
    entity: Option<&str>,
    limit: i64,
    before_id: Option<i64>,
) -> Result<Vec<ConfigChange>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, entity, entity_key, action, before, after, actor, changed_at FROM config_changes
         WHERE ($1::text IS NULL OR entity = $1) AND ($2::bigint IS NULL OR id < $2)
         ORDER BY id DESC LIMIT $3",
    )
    .bind(entity)
    .bind(before_id)
    .bind(limit)
    .fetch_all(pool)
    .await
}

// ---------------------------------------------------------------------------------------------
// Demo
// ---------------------------------------------------------------------------------------------

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
/// Serialises demo loads, so two at once cannot both find the tables empty.
const DEMO_LOCK: i64 = 0x7879_745f_6465_6d6f;

/// Fills the config centre with the demo values, each part only when it is still empty (a
/// setting: never changed since the migrations), as `system:demo`, in one transaction.
pub async fn load_demo(pool: &PgPool, qr_png: &[u8]) -> Result<(), sqlx::Error> {
    let mut tx = pool.begin().await?;
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(DEMO_LOCK)
        .execute(&mut *tx)
        .await?;
    let empty = |table: &str| format!("SELECT NOT EXISTS (SELECT 1 FROM {table})");
    let never_changed = "SELECT NOT EXISTS (SELECT 1 FROM config_changes WHERE entity = 'setting' AND entity_key = $1)";

    if sqlx::query_scalar::<_, bool>(&empty("ticket_types"))
        .fetch_one(&mut *tx)
        .await?
    {
        let row: TicketType = sqlx::query_as(
            "INSERT INTO ticket_types (name, description) VALUES ($1, '') RETURNING name, description, updated_at",
        )
        .bind(DEMO_TICKET_TYPE)
        .fetch_one(&mut *tx)
        .await?;
        log(
            &mut tx,
            "ticket_type",
            DEMO_TICKET_TYPE,
            "create",
            None,
            Some(&row),
            DEMO_ACTOR,
        )
        .await?;
    }
    if sqlx::query_scalar::<_, bool>(&empty("price_table"))
        .fetch_one(&mut *tx)
        .await?
    {
        for (season, amount) in DEMO_PRICES {
            let amount = parse_amount(amount).expect("demo amounts parse");
            let row: PriceRow = sqlx::query_as(
                "INSERT INTO price_table (ticket_type, season, settlement_amount) VALUES ($1, $2, $3)
                 RETURNING ticket_type, season, settlement_amount, updated_at",
            )
            .bind(DEMO_TICKET_TYPE)
            .bind(season.as_str())
            .bind(amount)
            .fetch_one(&mut *tx)
            .await?;
            let key = price_key(DEMO_TICKET_TYPE, season);
            log(&mut tx, "price", &key, "create", None, Some(&to_entry(row)), DEMO_ACTOR).await?;
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
            config::put_setting_tx(&mut tx, key, value, DEMO_ACTOR).await?;
        }
    }
    if sqlx::query_scalar::<_, bool>(&empty("payment_qr_codes"))
        .fetch_one(&mut *tx)
        .await?
    {
        let qr = NewQrCode {
            label: DEMO_QR_LABEL.into(),
            content_type: "image/png".into(),
            image: qr_png.to_vec(),
            active: Some(true),
        };
        insert_qr_tx(&mut tx, &qr, DEMO_QR_LABEL, DEMO_ACTOR).await?;
    }
    if sqlx::query_scalar::<_, bool>(&empty("agent_groups"))
        .fetch_one(&mut *tx)
        .await?
    {
        let (name, target) = DEMO_AGENT_GROUP;
        let row: AgentGroup = sqlx::query_as(&format!(
            "INSERT INTO agent_groups (id, name, wecom_target) VALUES ($1, $2, $3) RETURNING {GROUP_COLS}"
        ))
        .bind(Uuid::new_v4())
        .bind(name)
        .bind(target)
        .fetch_one(&mut *tx)
        .await?;
        log(
            &mut tx,
            "agent_group",
            &row.id.to_string(),
            "create",
            None,
            Some(&row),
            DEMO_ACTOR,
        )
        .await?;
    }
    if sqlx::query_scalar::<_, bool>(&empty("notification_targets"))
        .fetch_one(&mut *tx)
        .await?
    {
        let (purpose, name, target) = DEMO_NOTIFICATION_TARGET;
        let row: NotificationTarget = sqlx::query_as(&format!(
            "INSERT INTO notification_targets (id, purpose, name, target) VALUES ($1, $2, $3, $4) RETURNING {TARGET_COLS}"
        ))
        .bind(Uuid::new_v4())
        .bind(purpose)
        .bind(name)
        .bind(target)
        .fetch_one(&mut *tx)
        .await?;
        log(
            &mut tx,
            "notification_target",
            &row.id.to_string(),
            "create",
            None,
            Some(&row),
            DEMO_ACTOR,
        )
        .await?;
    }
    tx.commit().await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_are_non_negative_decimal_strings_with_at_most_two_places() {
        assert_eq!(parse_amount("426").unwrap().to_string(), "426.00");
        assert_eq!(parse_amount("426.5").unwrap().to_string(), "426.50");
        assert_eq!(parse_amount("0.01").unwrap().to_string(), "0.01");
        assert_eq!(parse_amount(" 380.00 ").unwrap().to_string(), "380.00");
        for bad in [
            "-1",
            "-0.01",
            "abc",
            "",
            "1.",
            ".5",
            "1.234",
            "1e5",
            "1,000",
            "+3",
            "NaN",
            "1234567890123",
        ] {
            assert!(parse_amount(bad).is_err(), "{bad}");
        }
        assert!(parse_amount("-5").unwrap_err().contains("负数"));
        assert!(parse_amount("1.234").unwrap_err().contains("两位小数"));
    }

    #[test]
    fn the_fee_rate_is_in_zero_inclusive_to_one_exclusive() {
        assert_eq!(parse_fee_rate("0.02").unwrap().to_string(), "0.02");
        assert_eq!(parse_fee_rate("0.020").unwrap().to_string(), "0.02");
        assert_eq!(parse_fee_rate("0").unwrap().to_string(), "0");
        assert_eq!(parse_fee_rate("0.999999").unwrap().to_string(), "0.999999");
        for bad in ["1", "1.0", "-0.01", "abc", "", "0.1234567", "2", "0.5%"] {
            assert!(parse_fee_rate(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn targets_are_mock_wecom_app_or_https_with_http_only_on_loopback() {
        for ok in [
            "mock://agent-group/default",
            "wecom-app:wrOgAAAA1234",
            "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=abc",
            "https://relay.example.com:8443/hook",
            "http://127.0.0.1:4567/cgi-bin/webhook/send?key=x",
            "http://localhost:9000/x",
            "http://[::1]:9000/x",
        ] {
            assert_eq!(validate_target(ok), Ok(()), "{ok}");
        }
        for bad in [
            "",
            " mock://x",
            "mock://",
            "wecom-app:",
            "wecom-app:has space",
            "wecom-app:0123456789012345678901234567890123",
            "wecom-app:中文",
            "ftp://x",
            "http://example.com/hook",
            "http://10.0.0.1/hook",
            "http://127.0.0.1@evil.example/hook",
            "https://",
            "https://exa mple.com",
            "https://host:99999/",
            "javascript:alert(1)",
        ] {
            assert!(validate_target(bad).is_err(), "{bad}");
        }
    }
}
