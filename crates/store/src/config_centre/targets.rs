//! Notification targets: where the system's own messages go.

use super::*;
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

pub(super) const TARGET_COLS: &str = "id, purpose, name, target, active, created_at, updated_at";

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
    let input = NotificationTargetInput { name, ..input };
    let row = insert_notification_target_tx(&mut tx, &input, actor).await?;
    tx.commit().await?;
    Ok(row)
}

/// Adds a target (checked input) with its history row.
pub(super) async fn insert_notification_target_tx(
    tx: &mut Tx<'_>,
    input: &NotificationTargetInput,
    actor: &str,
) -> Result<NotificationTarget, sqlx::Error> {
    let row: NotificationTarget = sqlx::query_as(&format!(
        "INSERT INTO notification_targets (id, purpose, name, target, active) VALUES ($1, $2, $3, $4, $5)
         RETURNING {TARGET_COLS}"
    ))
    .bind(Uuid::new_v4())
    .bind(&input.purpose)
    .bind(&input.name)
    .bind(&input.target)
    .bind(input.active.unwrap_or(true))
    .fetch_one(&mut **tx)
    .await?;
    log(
        tx,
        "notification_target",
        &row.id.to_string(),
        "create",
        None,
        Some(&row),
        actor,
    )
    .await?;
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
    delete_by_id(
        pool,
        "notification_targets",
        TARGET_COLS,
        "notification_target",
        id,
        actor,
    )
    .await?
    .ok_or_else(|| target_not_found(id))
}
