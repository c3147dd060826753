//! The goods config: what XGJ's `goods/list` and `goods/detail` answer from, and what intake
//! snapshots into each order.

use chrono::{DateTime, Utc};
use sqlx::PgPool;
use xyt_domain::order::GoodsSnapshot;

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Goods {
    pub goods_no: String,
    pub goods_name: String,
    pub goods_type: i16,
    pub ticket_type: String,
    pub season_label: String,
    pub price_cent: i64,
    pub stock: i64,
    pub status: i16,
    pub updated_at: DateTime<Utc>,
}

impl Goods {
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

#[derive(Debug, Clone)]
pub struct NewGoods {
    pub goods_no: String,
    pub goods_name: String,
    pub ticket_type: String,
    pub season_label: String,
    pub price_cent: i64,
}

const COLS: &str = "goods_no, goods_name, goods_type, ticket_type, season_label, price_cent, stock, status, updated_at";

pub async fn get(pool: &PgPool, goods_no: &str) -> Result<Option<Goods>, sqlx::Error> {
    sqlx::query_as(&format!("SELECT {COLS} FROM goods WHERE goods_no = $1"))
        .bind(goods_no)
        .fetch_optional(pool)
        .await
}

/// XGJ's list semantics: the keyword matches the name fuzzily and the code exactly.
pub async fn list(
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
        "SELECT {COLS} FROM goods WHERE {filter} ORDER BY goods_no LIMIT $4 OFFSET $5"
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

pub async fn upsert(pool: &PgPool, g: &NewGoods) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO goods (goods_no, goods_name, ticket_type, season_label, price_cent)
         VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (goods_no) DO UPDATE SET goods_name = EXCLUDED.goods_name,
           ticket_type = EXCLUDED.ticket_type, season_label = EXCLUDED.season_label,
           price_cent = EXCLUDED.price_cent, updated_at = now()",
    )
    .bind(&g.goods_no)
    .bind(&g.goods_name)
    .bind(&g.ticket_type)
    .bind(&g.season_label)
    .bind(g.price_cent)
    .execute(pool)
    .await?;
    Ok(())
}
