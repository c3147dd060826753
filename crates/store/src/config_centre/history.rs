//! The config history: one `config_changes` row per change, written in the change's transaction.

use super::*;

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

pub(super) fn json<T: Serialize>(v: &T) -> serde_json::Value {
    serde_json::to_value(v).expect("config rows serialize")
}

pub(super) async fn log<T: Serialize>(
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

/// Deletes the row `id` of `table` (`cols` its columns, `entity` its history name) and records
/// it, in one transaction; `None` when there is no such row.
pub(super) async fn delete_by_id<T>(
    pool: &PgPool,
    table: &str,
    cols: &str,
    entity: &str,
    id: Uuid,
    actor: &str,
) -> Result<Option<T>, sqlx::Error>
where
    T: for<'r> sqlx::FromRow<'r, sqlx::postgres::PgRow> + Serialize + Send + Unpin,
{
    let mut tx = pool.begin().await?;
    let row: Option<T> = sqlx::query_as(&format!("DELETE FROM {table} WHERE id = $1 RETURNING {cols}"))
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
    if let Some(row) = &row {
        log(&mut tx, entity, &id.to_string(), "delete", Some(row), None, actor).await?;
        tx.commit().await?;
    }
    Ok(row)
}

/// Appends one row to the config history.
pub(super) async fn record_change(
    tx: &mut Tx<'_>,
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
