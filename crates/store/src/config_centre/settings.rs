//! Single values (fee rate, play-date horizon) and the season calendar, kept in `settings`.

use super::*;

pub const DEFAULT_HORIZON_DAYS: i64 = 180;

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

async fn setting(pool: &PgPool, key: &str) -> Result<Option<serde_json::Value>, sqlx::Error> {
    sqlx::query_scalar("SELECT value FROM settings WHERE key = $1")
        .bind(key)
        .fetch_optional(pool)
        .await
}

/// The platform fee rate (default 0.02), stored as a JSON string to keep every digit.
pub async fn fee_rate(pool: &PgPool) -> Result<Decimal, sqlx::Error> {
    Ok(setting(pool, "fee_rate")
        .await?
        .and_then(|v| v.as_str().and_then(|s| s.parse::<Decimal>().ok()))
        .unwrap_or(Decimal::new(2, 2)))
}

/// How many days ahead a buyer may book (default 180).
pub async fn play_date_horizon_days(pool: &PgPool) -> Result<i64, sqlx::Error> {
    Ok(setting(pool, "play_date_horizon_days")
        .await?
        .and_then(|v| v.as_i64())
        .unwrap_or(DEFAULT_HORIZON_DAYS))
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

/// Writes a setting and its history row inside the caller's transaction.
pub(super) async fn put_setting_tx(
    tx: &mut Tx<'_>,
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

pub async fn get_settings(pool: &PgPool) -> Result<Settings, sqlx::Error> {
    Ok(Settings {
        fee_rate: fee_rate(pool).await?,
        play_date_horizon_days: play_date_horizon_days(pool).await?,
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
        put_setting_tx(&mut tx, "fee_rate", serde_json::Value::String(fee.to_string()), actor).await?;
    }
    if let Some(days) = input.play_date_horizon_days {
        put_setting_tx(&mut tx, "play_date_horizon_days", days.into(), actor).await?;
    }
    tx.commit().await?;
    Ok(get_settings(pool).await?)
}

/// Replaces the season calendar after [`SeasonCalendar::validate`].
pub async fn put_season_calendar(
    pool: &PgPool,
    calendar: &SeasonCalendar,
    actor: &str,
) -> Result<SeasonCalendar, ConfigError> {
    calendar.validate().map_err(ConfigError::Invalid)?;
    let mut tx = pool.begin().await?;
    put_setting_tx(&mut tx, "season_calendar", json(calendar), actor).await?;
    tx.commit().await?;
    Ok(calendar.clone())
}
