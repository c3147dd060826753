//! Users and API keys: one set of functions behind both `xyt user …`/`xyt api-key …` and
//! `/api/admin/…`, each validating its input and recording itself in the security log.

use serde_json::json;
use xyt_domain::access::{check_password, parse_display_name, KeyName, Role, Username};
use xyt_store::access::{self as store, ApiKey, User, UserChange, WriteError};
use xyt_store::PgPool;

#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    /// Bad input: the field and a message for a person.
    #[error("{0}: {1}")]
    Field(&'static str, String),
    #[error("{0} already exists")]
    Exists(&'static str),
    #[error("no such {0}")]
    NotFound(&'static str),
    /// The change would leave no enabled admin.
    #[error("the last enabled admin cannot be disabled or demoted")]
    LastAdmin,
    #[error(transparent)]
    Db(#[from] sqlx::Error),
    #[error("password hashing failed: {0}")]
    Hash(String),
}

/// A store refusal, for `what` (`user`, `api key`).
fn stored(what: &'static str) -> impl Fn(WriteError) -> AccountError {
    move |e| match e {
        WriteError::Exists => AccountError::Exists(what),
        WriteError::NotFound => AccountError::NotFound(what),
        WriteError::Db(e) => AccountError::Db(e),
    }
}

fn role(field: &'static str, s: &str) -> Result<Role, AccountError> {
    Role::parse(s.trim()).ok_or_else(|| AccountError::Field(field, "角色必须是 admin、operator 或 auditor".into()))
}

async fn hash(password: String) -> Result<String, AccountError> {
    check_password(&password).map_err(|m| AccountError::Field("password", m.into()))?;
    tokio::task::spawn_blocking(move || super::hash_password(&password))
        .await
        .map_err(|e| AccountError::Hash(e.to_string()))?
        .map_err(AccountError::Hash)
}

pub struct NewUser {
    pub username: String,
    pub display_name: Option<String>,
    pub role: String,
    pub password: String,
}

pub async fn add_user(pool: &PgPool, actor: &str, input: NewUser) -> Result<User, AccountError> {
    let username = Username::parse(&input.username).map_err(|m| AccountError::Field("username", m.into()))?;
    let role = role("role", &input.role)?;
    let display_name = match input.display_name.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        Some(d) => parse_display_name(d).map_err(|m| AccountError::Field("displayName", m.into()))?,
        None => username.as_str().to_string(),
    };
    let password_hash = hash(input.password).await?;
    let user = store::create_user(pool, username.as_str(), &display_name, role, &password_hash)
        .await
        .map_err(stored("user"))?;
    store::log(
        pool,
        "user_created",
        actor,
        Some(username.as_str()),
        None,
        json!({"role": role.as_str(), "displayName": display_name}),
    )
    .await?;
    Ok(user)
}

/// A change to a user; absent fields stay.
#[derive(Debug, Default)]
pub struct UserPatch {
    pub display_name: Option<String>,
    pub role: Option<String>,
    pub disabled: Option<bool>,
    pub password: Option<String>,
}

pub async fn change_user(pool: &PgPool, actor: &str, username: &str, patch: UserPatch) -> Result<User, AccountError> {
    let current = store::get_user(pool, username)
        .await?
        .ok_or(AccountError::NotFound("user"))?;
    let mut change = UserChange {
        display_name: match patch.display_name.as_deref() {
            Some(d) => Some(parse_display_name(d).map_err(|m| AccountError::Field("displayName", m.into()))?),
            None => None,
        },
        role: match patch.role.as_deref() {
            Some(r) => Some(role("role", r)?),
            None => None,
        },
        disabled: patch.disabled,
        password_hash: None,
    };
    let demotes = change.role.is_some_and(|r| r != Role::Admin) || change.disabled == Some(true);
    if current.role == Role::Admin.as_str() && !current.disabled && demotes {
        let admins: i64 = sqlx::query_scalar("SELECT count(*) FROM users WHERE role = 'admin' AND disabled_at IS NULL")
            .fetch_one(pool)
            .await?;
        if admins <= 1 {
            return Err(AccountError::LastAdmin);
        }
    }
    if let Some(p) = patch.password {
        change.password_hash = Some(hash(p).await?);
    }
    let user = store::update_user(pool, username, &change)
        .await
        .map_err(stored("user"))?;
    store::log(
        pool,
        "user_changed",
        actor,
        Some(username),
        None,
        json!({
            "displayName": change.display_name,
            "role": change.role.map(Role::as_str),
            "disabled": change.disabled,
            "passwordChanged": change.password_hash.is_some(),
        }),
    )
    .await?;
    Ok(user)
}

/// Creates a key and answers it whole, the only time it is ever shown.
pub async fn create_key(
    pool: &PgPool,
    actor: &str,
    name: &str,
    role_name: &str,
) -> Result<(ApiKey, String), AccountError> {
    let name = KeyName::parse(name).map_err(|m| AccountError::Field("name", m.into()))?;
    let role = role("role", role_name)?;
    let key = super::new_api_key();
    let row = store::create_key(pool, name.as_str(), role, &super::sha256(&key), &key[..8], actor)
        .await
        .map_err(stored("api key"))?;
    store::log(
        pool,
        "api_key_created",
        actor,
        Some(name.as_str()),
        None,
        json!({"role": role.as_str()}),
    )
    .await?;
    Ok((row, key))
}

pub async fn revoke_key(pool: &PgPool, actor: &str, name: &str) -> Result<ApiKey, AccountError> {
    let row = store::revoke_key(pool, name.trim()).await.map_err(stored("api key"))?;
    store::log(pool, "api_key_revoked", actor, Some(&row.name), None, json!({})).await?;
    Ok(row)
}
