//! Ticket types: what the agent sells (`初级道 3 小时`), referred to by goods and prices.

use super::*;
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

/// Whether the ticket type exists; if so it stays locked against deletion until the transaction
/// ends. An unknown one is added to `errors` against `ticketType`.
pub(super) async fn check_ticket_type(
    tx: &mut Tx<'_>,
    errors: &mut FieldErrors,
    name: &str,
) -> Result<(), sqlx::Error> {
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

/// Adds a ticket type (checked values) with its history row; `None` when it exists.
pub(super) async fn insert_ticket_type_tx(
    tx: &mut Tx<'_>,
    name: &str,
    description: &str,
    actor: &str,
) -> Result<Option<TicketType>, sqlx::Error> {
    let row: Option<TicketType> = sqlx::query_as(
        "INSERT INTO ticket_types (name, description) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING
         RETURNING name, description, updated_at",
    )
    .bind(name)
    .bind(description)
    .fetch_optional(&mut **tx)
    .await?;
    if let Some(row) = &row {
        log(tx, "ticket_type", name, "create", None, Some(row), actor).await?;
    }
    Ok(row)
}

/// The ticket type, locked for the change the caller is making.
async fn lock_ticket_type(tx: &mut Tx<'_>, name: &str) -> Result<Option<TicketType>, sqlx::Error> {
    sqlx::query_as("SELECT name, description, updated_at FROM ticket_types WHERE name = $1 FOR UPDATE")
        .bind(name)
        .fetch_optional(&mut **tx)
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
    if let Some(row) = insert_ticket_type_tx(&mut tx, name, &description, actor).await? {
        tx.commit().await?;
        return Ok((row, true));
    }
    let before = lock_ticket_type(&mut tx, name).await?;
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
    let before = lock_ticket_type(&mut tx, name).await?;
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
