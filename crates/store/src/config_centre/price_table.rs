//! The price table: the settlement amount the agent charges per ticket type and season.

use super::*;
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

pub(super) fn price_key(ticket_type: &str, season: SeasonType) -> String {
    format!("{ticket_type}/{season}")
}

pub(super) type PriceRow = (String, String, Decimal, DateTime<Utc>);

pub(super) fn to_entry((ticket_type, season, settlement_amount, updated_at): PriceRow) -> PriceEntry {
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

pub(super) async fn price_rows(
    tx: &mut Tx<'_>,
    ticket_type: Option<&str>,
    lock: bool,
) -> Result<Vec<PriceEntry>, sqlx::Error> {
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

/// What the agent charges for `ticket_type` in `season`, if the table says.
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

/// Adds a settlement amount (checked) with its history row; `None` when the cell has one.
pub(super) async fn insert_price_tx(
    tx: &mut Tx<'_>,
    ticket_type: &str,
    season: SeasonType,
    amount: Decimal,
    actor: &str,
) -> Result<Option<PriceEntry>, sqlx::Error> {
    let row: Option<PriceRow> = sqlx::query_as(
        "INSERT INTO price_table (ticket_type, season, settlement_amount) VALUES ($1, $2, $3)
         ON CONFLICT (ticket_type, season) DO NOTHING
         RETURNING ticket_type, season, settlement_amount, updated_at",
    )
    .bind(ticket_type)
    .bind(season.as_str())
    .bind(amount)
    .fetch_optional(&mut **tx)
    .await?;
    let row = row.map(to_entry);
    if let Some(row) = &row {
        log(
            tx,
            "price",
            &price_key(ticket_type, season),
            "create",
            None,
            Some(row),
            actor,
        )
        .await?;
    }
    Ok(row)
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
    if let Some(row) = insert_price_tx(&mut tx, ticket_type, season, amount, actor).await? {
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
