use rust_decimal::Decimal;
use sqlx::PgPool;
use std::str::FromStr;

/// The platform fee rate (default 0.02), stored as a JSON string to keep every digit.
pub async fn fee_rate(pool: &PgPool) -> Result<Decimal, sqlx::Error> {
    let v: Option<serde_json::Value> = sqlx::query_scalar("SELECT value FROM settings WHERE key = 'fee_rate'")
        .fetch_optional(pool)
        .await?;
    Ok(v.and_then(|v| v.as_str().and_then(|s| Decimal::from_str(s).ok()))
        .unwrap_or(Decimal::new(2, 2)))
}
