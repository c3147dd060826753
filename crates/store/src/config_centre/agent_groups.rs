//! Agent groups (代理群): where orders are pushed.

use super::*;
/// An agent's WeCom group (代理群): where orders are pushed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AgentGroup {
    pub id: Uuid,
    pub name: String,
    /// `mock://<name>`, `wecom-app:<chatid>` or a robot webhook `https://` URL (its key masked
    /// once saved: send the masked value back unchanged to keep the key).
    #[serde(serialize_with = "xyt_domain::target::serialize_masked")]
    pub wecom_target: String,
    pub active: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AgentGroupInput {
    /// 1–100 characters, unique.
    pub name: String,
    /// `mock://<name>`, `wecom-app:<chatid>` (1–32 letters or digits) or an `https://` URL.
    pub wecom_target: String,
    /// Default true on create; kept on update when left out.
    pub active: Option<bool>,
}

pub(super) const GROUP_COLS: &str = "id, name, wecom_target, active, created_at, updated_at";

fn check_group(input: &AgentGroupInput) -> Result<String, ConfigError> {
    let mut errors = FieldErrors::new();
    let name = check_text(&mut errors, "name", "群名称", &input.name, 100, true);
    if let Err(m) = validate_target(&input.wecom_target) {
        errors.insert("wecomTarget".into(), m);
    }
    invalid_unless_empty(errors)?;
    Ok(name)
}

fn group_name_taken(name: &str) -> ConfigError {
    ConfigError::Conflict {
        code: "AGENT_GROUP_NAME_TAKEN",
        message: format!("已有名为「{name}」的代理群"),
    }
}

fn group_not_found(id: Uuid) -> ConfigError {
    ConfigError::NotFound {
        code: "AGENT_GROUP_NOT_FOUND",
        message: format!("代理群 {id} 不存在"),
    }
}

pub async fn list_agent_groups(pool: &PgPool) -> Result<Vec<AgentGroup>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {GROUP_COLS} FROM agent_groups ORDER BY created_at, id"
    ))
    .fetch_all(pool)
    .await
}

pub async fn get_agent_group(pool: &PgPool, id: Uuid) -> Result<Option<AgentGroup>, sqlx::Error> {
    sqlx::query_as(&format!("SELECT {GROUP_COLS} FROM agent_groups WHERE id = $1"))
        .bind(id)
        .fetch_optional(pool)
        .await
}

/// Adds a group (checked name) with its history row; `None` when the name is taken.
pub(super) async fn insert_agent_group_tx(
    tx: &mut Tx<'_>,
    name: &str,
    wecom_target: &str,
    active: bool,
    actor: &str,
) -> Result<Option<AgentGroup>, sqlx::Error> {
    let row: Option<AgentGroup> = sqlx::query_as(&format!(
        "INSERT INTO agent_groups (id, name, wecom_target, active) VALUES ($1, $2, $3, $4)
         ON CONFLICT (name) DO NOTHING RETURNING {GROUP_COLS}"
    ))
    .bind(Uuid::new_v4())
    .bind(name)
    .bind(wecom_target)
    .bind(active)
    .fetch_optional(&mut **tx)
    .await?;
    if let Some(row) = &row {
        log(tx, "agent_group", &row.id.to_string(), "create", None, Some(row), actor).await?;
    }
    Ok(row)
}

pub async fn create_agent_group(pool: &PgPool, input: AgentGroupInput, actor: &str) -> Result<AgentGroup, ConfigError> {
    let name = check_group(&input)?;
    let mut tx = pool.begin().await?;
    let active = input.active.unwrap_or(true);
    let Some(row) = insert_agent_group_tx(&mut tx, &name, &input.wecom_target, active, actor).await? else {
        return Err(group_name_taken(&name));
    };
    tx.commit().await?;
    Ok(row)
}

pub async fn update_agent_group(
    pool: &PgPool,
    id: Uuid,
    input: AgentGroupInput,
    actor: &str,
) -> Result<AgentGroup, ConfigError> {
    let name = check_group(&input)?;
    let mut tx = pool.begin().await?;
    let before: Option<AgentGroup> = sqlx::query_as(&format!(
        "SELECT {GROUP_COLS} FROM agent_groups WHERE id = $1 FOR UPDATE"
    ))
    .bind(id)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(before) = before else {
        return Err(group_not_found(id));
    };
    let row: AgentGroup = sqlx::query_as(&format!(
        "UPDATE agent_groups SET name = $2, wecom_target = $3, active = $4, updated_at = now() WHERE id = $1
         RETURNING {GROUP_COLS}"
    ))
    .bind(id)
    .bind(&name)
    .bind(&input.wecom_target)
    .bind(input.active.unwrap_or(before.active))
    .fetch_one(&mut *tx)
    .await
    .map_err(|e| {
        if is_unique_violation(&e) {
            group_name_taken(&name)
        } else {
            e.into()
        }
    })?;
    log(
        &mut tx,
        "agent_group",
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

pub async fn delete_agent_group(pool: &PgPool, id: Uuid, actor: &str) -> Result<AgentGroup, ConfigError> {
    delete_by_id(pool, "agent_groups", GROUP_COLS, "agent_group", id, actor)
        .await?
        .ok_or_else(|| group_not_found(id))
}
