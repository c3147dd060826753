//! Goods: what XGJ sells (`goods_no`), mapped to a ticket type and a season label. XGJ's
//! `goods/list` and `goods/detail` answer from this table, and intake snapshots a goods into each order.

use xyt_domain::order::GoodsSnapshot;

use super::*;

/// A goods as XGJ sees it (`goods_no`), mapped to a ticket type and a season label.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = GoodsItem)]
pub struct Goods {
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

impl Goods {
    /// What an order keeps of its goods.
    pub fn snapshot(&self) -> GoodsSnapshot {
        GoodsSnapshot {
            goods_no: self.goods_no.clone(),
            goods_name: self.goods_name.clone(),
            goods_price_cent: self.price_cent,
            ticket_type: self.ticket_type.clone(),
            season_label: self.season_label.clone(),
        }
    }
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

const GOODS_COLS: &str =
    "goods_no, goods_name, goods_type, ticket_type, season_label, price_cent, stock, status, updated_at";

/// A goods' checked values, as [`save_goods`] writes them.
pub(super) struct GoodsValues {
    pub goods_name: String,
    pub ticket_type: String,
    pub season_label: String,
    pub price_cent: i64,
    pub goods_type: i16,
    pub stock: i64,
    pub status: i16,
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
fn check_goods(errors: &mut FieldErrors, input: &GoodsUpdate, goods_no: &str, current: Option<&Goods>) -> GoodsValues {
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
        ticket_type: input.ticket_type.clone(),
        season_label: input.season_label.trim().to_string(),
        price_cent: input.price_cent,
        goods_type,
        stock,
        status,
    }
}

pub async fn list_goods(pool: &PgPool) -> Result<Vec<Goods>, sqlx::Error> {
    sqlx::query_as(&format!("SELECT {GOODS_COLS} FROM goods ORDER BY goods_no"))
        .fetch_all(pool)
        .await
}

pub async fn get_goods(pool: &PgPool, goods_no: &str) -> Result<Option<Goods>, sqlx::Error> {
    sqlx::query_as(&format!("SELECT {GOODS_COLS} FROM goods WHERE goods_no = $1"))
        .bind(goods_no)
        .fetch_optional(pool)
        .await
}

/// XGJ's `goods/list`: the keyword matches the name fuzzily and the code exactly; a page and
/// the total count.
pub async fn page_goods(
    pool: &PgPool,
    keyword: Option<&str>,
    goods_type: Option<i16>,
    page_no: i64,
    page_size: i64,
) -> Result<(Vec<Goods>, i64), sqlx::Error> {
    let pattern = keyword.map(|k| format!("%{}%", k.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_")));
    let filter =
        "($1::text IS NULL OR goods_name ILIKE $2 OR goods_no = $1) AND ($3::smallint IS NULL OR goods_type = $3)";
    let count: i64 = sqlx::query_scalar(&format!("SELECT count(*) FROM goods WHERE {filter}"))
        .bind(keyword)
        .bind(&pattern)
        .bind(goods_type)
        .fetch_one(pool)
        .await?;
    let rows = sqlx::query_as(&format!(
        "SELECT {GOODS_COLS} FROM goods WHERE {filter} ORDER BY goods_no LIMIT $4 OFFSET $5"
    ))
    .bind(keyword)
    .bind(&pattern)
    .bind(goods_type)
    .bind(page_size)
    .bind((page_no - 1).max(0).saturating_mul(page_size))
    .fetch_all(pool)
    .await?;
    Ok((rows, count))
}

fn goods_not_found(goods_no: &str) -> ConfigError {
    ConfigError::NotFound {
        code: "GOODS_NOT_FOUND",
        message: format!("商品「{goods_no}」不存在"),
    }
}

/// The one place a goods row is written (created when `before` is `None`, else updated) with its
/// history row, inside the caller's transaction. `None`: a goods with that number exists already.
/// Every change of a price or stock goes through here, so whatever must follow such a change
/// (the cache's invalidation is a trigger; a sync to XGJ would go here) sees them all.
pub(super) async fn save_goods(
    tx: &mut Tx<'_>,
    goods_no: &str,
    v: &GoodsValues,
    before: Option<&Goods>,
    actor: &str,
) -> Result<Option<Goods>, sqlx::Error> {
    let sql = match before {
        None => format!(
            "INSERT INTO goods (goods_no, goods_name, ticket_type, season_label, price_cent, goods_type, stock, status)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (goods_no) DO NOTHING RETURNING {GOODS_COLS}"
        ),
        Some(_) => format!(
            "UPDATE goods SET goods_name = $2, ticket_type = $3, season_label = $4, price_cent = $5, goods_type = $6,
               stock = $7, status = $8, updated_at = now()
             WHERE goods_no = $1 RETURNING {GOODS_COLS}"
        ),
    };
    let row: Option<Goods> = sqlx::query_as(&sql)
        .bind(goods_no)
        .bind(&v.goods_name)
        .bind(&v.ticket_type)
        .bind(&v.season_label)
        .bind(v.price_cent)
        .bind(v.goods_type)
        .bind(v.stock)
        .bind(v.status)
        .fetch_optional(&mut **tx)
        .await?;
    if let Some(row) = &row {
        let action = if before.is_some() { "update" } else { "create" };
        log(tx, "goods", goods_no, action, before, Some(row), actor).await?;
        // XGJ's goods-change subscribers hear of a price or stock change in the same transaction.
        if let Some(before) = before {
            let change = crate::goods_sync::GoodsChange {
                goods_no,
                goods_type: row.goods_type,
                status: row.status,
                price_cent: (before.price_cent, row.price_cent),
                stock: (before.stock, row.stock),
            };
            crate::goods_sync::enqueue_change(tx, &change).await?;
        }
    }
    Ok(row)
}

pub async fn create_goods(pool: &PgPool, input: GoodsCreate, actor: &str) -> Result<Goods, ConfigError> {
    let (goods_no, input) = input.split();
    let mut errors = FieldErrors::new();
    check_key(&mut errors, "goodsNo", "商品编码", &goods_no, 100);
    let v = check_goods(&mut errors, &input, &goods_no, None);
    let mut tx = pool.begin().await?;
    check_ticket_type(&mut tx, &mut errors, &input.ticket_type).await?;
    invalid_unless_empty(errors)?;
    let Some(row) = save_goods(&mut tx, &goods_no, &v, None, actor).await? else {
        return Err(ConfigError::Conflict {
            code: "GOODS_EXISTS",
            message: format!("商品「{goods_no}」已存在,请修改它而不是重复添加"),
        });
    };
    tx.commit().await?;
    Ok(row)
}

pub async fn update_goods(
    pool: &PgPool,
    goods_no: &str,
    input: GoodsUpdate,
    actor: &str,
) -> Result<Goods, ConfigError> {
    let mut tx = pool.begin().await?;
    let before: Option<Goods> = sqlx::query_as(&format!(
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
    let row = save_goods(&mut tx, goods_no, &v, Some(&before), actor)
        .await?
        .ok_or_else(|| goods_not_found(goods_no))?;
    tx.commit().await?;
    Ok(row)
}

pub async fn delete_goods(pool: &PgPool, goods_no: &str, actor: &str) -> Result<Goods, ConfigError> {
    let mut tx = pool.begin().await?;
    let row: Option<Goods> = sqlx::query_as(&format!("DELETE FROM goods WHERE goods_no = $1 RETURNING {GOODS_COLS}"))
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
