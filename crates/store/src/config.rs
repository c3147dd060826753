//! Reads of the config centre that the order pipeline needs (the price check, the form). The
//! config centre's own API (writes, history) sits on the same tables.

use rust_decimal::Decimal;
use sqlx::PgPool;
use xyt_domain::pricing::{SeasonCalendar, SeasonType};

pub const DEFAULT_HORIZON_DAYS: i64 = 180;

async fn setting(pool: &PgPool, key: &str) -> Result<Option<serde_json::Value>, sqlx::Error> {
    sqlx::query_scalar("SELECT value FROM settings WHERE key = $1")
        .bind(key)
        .fetch_optional(pool)
        .await
}

/// The season calendar; an unreadable stored calendar (never written by the API, which
/// validates) falls back to "everything mid" and says so in the log.
pub async fn season_calendar(pool: &PgPool) -> Result<SeasonCalendar, sqlx::Error> {
    let fallback = || SeasonCalendar {
        default: SeasonType::Mid,
        rules: vec![],
    };
    Ok(match setting(pool, "season_calendar").await? {
        None => fallback(),
        Some(v) => serde_json::from_value(v).unwrap_or_else(|e| {
            tracing::error!(error = %e, "stored season calendar does not parse; using the default");
            fallback()
        }),
    })
}

pub async fn play_date_horizon_days(pool: &PgPool) -> Result<i64, sqlx::Error> {
    Ok(setting(pool, "play_date_horizon_days")
        .await?
        .and_then(|v| v.as_i64())
        .unwrap_or(DEFAULT_HORIZON_DAYS))
}

pub async fn settlement_amount(
    pool: &PgPool,
    ticket_type: &str,
    season: SeasonType,
) -> Result<Option<Decimal>, sqlx::Error> {
    sqlx::query_scalar("SELECT settlement_amount FROM price_table WHERE ticket_type = $1 AND season = $2")
        .bind(ticket_type)
        .bind(season.as_str())
        .fetch_optional(pool)
        .await
}

/// Writes a setting and its history row in one transaction.
pub async fn put_setting(pool: &PgPool, key: &str, value: &serde_json::Value, actor: &str) -> Result<(), sqlx::Error> {
    let mut tx = pool.begin().await?;
    put_setting_tx(&mut tx, key, value.clone(), actor).await?;
    tx.commit().await
}

/// Writes a setting and its history row inside the caller's transaction.
pub async fn put_setting_tx(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    key: &str,
    value: serde_json::Value,
    actor: &str,
) -> Result<(), sqlx::Error> {
    let before: Option<serde_json::Value> = sqlx::query_scalar("SELECT value FROM settings WHERE key = $1 FOR UPDATE")
        .bind(key)
        .fetch_optional(&mut **tx)
        .await?;
    sqlx::query(
        "INSERT INTO settings (key, value, updated_at, updated_by) VALUES ($1, $2, now(), $3)
         ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, updated_at = now(), updated_by = EXCLUDED.updated_by",
    )
    .bind(key)
    .bind(&value)
    .bind(actor)
    .execute(&mut **tx)
    .await?;
    let action = if before.is_some() { "update" } else { "create" };
    record_change(tx, "setting", key, action, before, Some(value), actor).await
}

/// The platform fee rate (default 0.02), stored as a JSON string to keep every digit.
pub async fn fee_rate(pool: &PgPool) -> Result<Decimal, sqlx::Error> {
    Ok(setting(pool, "fee_rate")
        .await?
        .and_then(|v| v.as_str().and_then(|s| s.parse::<Decimal>().ok()))
        .unwrap_or(Decimal::new(2, 2)))
}

/// Appends one row to the config history.
pub async fn record_change(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    entity: &str,
    key: &str,
    action: &str,
    before: Option<serde_json::Value>,
    after: Option<serde_json::Value>,
    actor: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO config_changes (entity, entity_key, action, before, after, actor) VALUES ($1,$2,$3,$4,$5,$6)",
    )
    .bind(entity)
    .bind(key)
    .bind(action)
    .bind(before)
    .bind(after)
    .bind(actor)
    .execute(&mut **tx)
    .await?;
    Ok(())
}
