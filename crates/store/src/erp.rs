//! Receipts of XGJ's ERP order pushes, deduplicated on
//! (order_no, order_status, refund_status, modify_time).

use sqlx::PgPool;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushKey {
    pub order_no: String,
    pub order_status: i64,
    pub refund_status: i64,
    pub modify_time: i64,
}

pub async fn seen(pool: &PgPool, k: &PushKey) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM xgj_erp_pushes
         WHERE order_no = $1 AND order_status = $2 AND refund_status = $3 AND modify_time = $4)",
    )
    .bind(&k.order_no)
    .bind(k.order_status)
    .bind(k.refund_status)
    .bind(k.modify_time)
    .fetch_one(pool)
    .await
}

/// Records a push after it was acted on. Returns false when a concurrent copy recorded it first.
pub async fn record(
    pool: &PgPool,
    k: &PushKey,
    body: &serde_json::Value,
    matched_order_no: Option<&str>,
    action: &str,
) -> Result<bool, sqlx::Error> {
    let r = sqlx::query(
        "INSERT INTO xgj_erp_pushes (order_no, order_status, refund_status, modify_time, body, matched_order_no, action)
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING",
    )
    .bind(&k.order_no)
    .bind(k.order_status)
    .bind(k.refund_status)
    .bind(k.modify_time)
    .bind(body)
    .bind(matched_order_no)
    .bind(action)
    .execute(pool)
    .await?;
    Ok(r.rows_affected() == 1)
}
