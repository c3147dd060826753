//! Access tables: users, sessions, API keys, sign-in throttling, the security log, personal-data
//! reads and idempotency keys. Only hashes of secrets reach this module.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{FromRow, PgPool};
use utoipa::ToSchema;
use xyt_domain::access::Role;

/// A user as listed (never the password hash).
#[derive(Debug, Clone, Serialize, FromRow, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct User {
    pub username: String,
    pub display_name: String,
    #[schema(value_type = Role)]
    pub role: String,
    pub disabled: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

const USER_COLUMNS: &str = "username, display_name, role, disabled_at IS NOT NULL AS disabled, created_at, updated_at";

#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error("already exists")]
    Exists,
    #[error("not found")]
    NotFound,
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

fn unique_violation(e: sqlx::Error) -> WriteError {
    match &e {
        sqlx::Error::Database(d) if d.code().as_deref() == Some("23505") => WriteError::Exists,
        _ => WriteError::Db(e),
    }
}

pub async fn create_user(
    pool: &PgPool,
    username: &str,
    display_name: &str,
    role: Role,
    password_hash: &str,
) -> Result<User, WriteError> {
    sqlx::query_as(&format!(
        "INSERT INTO users (username, display_name, role, password_hash) VALUES ($1, $2, $3, $4)
         RETURNING {USER_COLUMNS}"
    ))
    .bind(username)
    .bind(display_name)
    .bind(role.as_str())
    .bind(password_hash)
    .fetch_one(pool)
    .await
    .map_err(unique_violation)
}

pub async fn list_users(pool: &PgPool) -> Result<Vec<User>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {USER_COLUMNS} FROM users ORDER BY username LIMIT 1000"
    ))
    .fetch_all(pool)
    .await
}

pub async fn get_user(pool: &PgPool, username: &str) -> Result<Option<User>, sqlx::Error> {
    sqlx::query_as(&format!("SELECT {USER_COLUMNS} FROM users WHERE username = $1"))
        .bind(username)
        .fetch_optional(pool)
        .await
}

pub async fn count_users(pool: &PgPool) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT count(*) FROM users").fetch_one(pool).await
}

/// What sign-in needs: the hash, the role, whether the user may sign in.
#[derive(Debug, Clone, FromRow)]
pub struct Credentials {
    pub username: String,
    pub display_name: String,
    pub role: String,
    pub password_hash: String,
    pub disabled: bool,
}

pub async fn credentials(pool: &PgPool, username: &str) -> Result<Option<Credentials>, sqlx::Error> {
    sqlx::query_as(
        "SELECT username, display_name, role, password_hash, disabled_at IS NOT NULL AS disabled
         FROM users WHERE username = $1",
    )
    .bind(username)
    .fetch_optional(pool)
    .await
}

/// A change to a user; `None` leaves a field as it is. A new password, a disabled user or a new
/// role ends the user's sessions.
#[derive(Debug, Default, Clone)]
pub struct UserChange {
    pub display_name: Option<String>,
    pub role: Option<Role>,
    pub disabled: Option<bool>,
    pub password_hash: Option<String>,
}

pub async fn update_user(pool: &PgPool, username: &str, change: &UserChange) -> Result<User, WriteError> {
    let mut tx = pool.begin().await?;
    let user: Option<User> = sqlx::query_as(&format!(
        "UPDATE users SET
            display_name = coalesce($2, display_name),
            role = coalesce($3, role),
            disabled_at = CASE WHEN $4::boolean IS NULL THEN disabled_at
                               WHEN $4 THEN coalesce(disabled_at, now()) ELSE NULL END,
            password_hash = coalesce($5, password_hash),
            updated_at = now()
         WHERE username = $1
         RETURNING {USER_COLUMNS}"
    ))
    .bind(username)
    .bind(&change.display_name)
    .bind(change.role.map(Role::as_str))
    .bind(change.disabled)
    .bind(&change.password_hash)
    .fetch_optional(&mut *tx)
    .await?;
    let user = user.ok_or(WriteError::NotFound)?;
    if change.password_hash.is_some() || change.disabled == Some(true) || change.role.is_some() {
        sqlx::query("UPDATE sessions SET revoked_at = now() WHERE username = $1 AND revoked_at IS NULL")
            .bind(username)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(user)
}

// ---- sessions

/// The signed-in user behind a session cookie.
#[derive(Debug, Clone, FromRow)]
pub struct SessionPrincipal {
    pub session_id: uuid::Uuid,
    pub username: String,
    pub display_name: String,
    pub role: String,
    pub csrf_token: String,
    pub last_seen_at: DateTime<Utc>,
}

pub struct NewSession<'a> {
    pub id: uuid::Uuid,
    pub token_sha256: &'a [u8],
    pub username: &'a str,
    pub csrf_token: &'a str,
    pub expires_at: DateTime<Utc>,
    pub address: &'a str,
}

pub async fn create_session(pool: &PgPool, s: &NewSession<'_>) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO sessions (id, token_sha256, username, csrf_token, expires_at, address)
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(s.id)
    .bind(s.token_sha256)
    .bind(s.username)
    .bind(s.csrf_token)
    .bind(s.expires_at)
    .bind(s.address)
    .execute(pool)
    .await?;
    Ok(())
}

/// A live session: not revoked, before its absolute expiry, used within `idle`, its user enabled.
pub async fn session_principal(
    pool: &PgPool,
    token_sha256: &[u8],
    idle: std::time::Duration,
) -> Result<Option<SessionPrincipal>, sqlx::Error> {
    sqlx::query_as(
        "SELECT s.id AS session_id, u.username, u.display_name, u.role, s.csrf_token, s.last_seen_at
         FROM sessions s JOIN users u ON u.username = s.username
         WHERE s.token_sha256 = $1 AND s.revoked_at IS NULL AND s.expires_at > now()
           AND s.last_seen_at > now() - make_interval(secs => $2) AND u.disabled_at IS NULL",
    )
    .bind(token_sha256)
    .bind(idle.as_secs_f64())
    .fetch_optional(pool)
    .await
}

pub async fn touch_session(pool: &PgPool, id: uuid::Uuid) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE sessions SET last_seen_at = now() WHERE id = $1")
        .bind(id)
        .execute(pool)
        .await?;
    Ok(())
}

pub async fn revoke_session(pool: &PgPool, id: uuid::Uuid) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE sessions SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL")
        .bind(id)
        .execute(pool)
        .await?;
    Ok(())
}

// ---- API keys

#[derive(Debug, Clone, Serialize, FromRow, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApiKey {
    pub name: String,
    #[schema(value_type = Role)]
    pub role: String,
    /// The key's first characters, to recognise it.
    pub key_prefix: String,
    pub created_at: DateTime<Utc>,
    pub created_by: String,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

const KEY_COLUMNS: &str = "name, role, key_prefix, created_at, created_by, last_used_at, revoked_at";

pub async fn create_key(
    pool: &PgPool,
    name: &str,
    role: Role,
    key_sha256: &[u8],
    key_prefix: &str,
    created_by: &str,
) -> Result<ApiKey, WriteError> {
    sqlx::query_as(&format!(
        "INSERT INTO api_keys (name, role, key_sha256, key_prefix, created_by) VALUES ($1, $2, $3, $4, $5)
         RETURNING {KEY_COLUMNS}"
    ))
    .bind(name)
    .bind(role.as_str())
    .bind(key_sha256)
    .bind(key_prefix)
    .bind(created_by)
    .fetch_one(pool)
    .await
    .map_err(unique_violation)
}

pub async fn list_keys(pool: &PgPool) -> Result<Vec<ApiKey>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {KEY_COLUMNS} FROM api_keys ORDER BY revoked_at IS NOT NULL, name LIMIT 1000"
    ))
    .fetch_all(pool)
    .await
}

/// A live key by its hash.
pub async fn key_principal(pool: &PgPool, key_sha256: &[u8]) -> Result<Option<ApiKey>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {KEY_COLUMNS} FROM api_keys WHERE key_sha256 = $1 AND revoked_at IS NULL"
    ))
    .bind(key_sha256)
    .fetch_optional(pool)
    .await
}

pub async fn touch_key(pool: &PgPool, name: &str) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE api_keys SET last_used_at = now() WHERE name = $1")
        .bind(name)
        .execute(pool)
        .await?;
    Ok(())
}

/// Revokes a live key; `NotFound` when there is none by that name (or it is revoked already).
pub async fn revoke_key(pool: &PgPool, name: &str) -> Result<ApiKey, WriteError> {
    let row: Option<ApiKey> = sqlx::query_as(&format!(
        "UPDATE api_keys SET revoked_at = now() WHERE name = $1 AND revoked_at IS NULL RETURNING {KEY_COLUMNS}"
    ))
    .bind(name)
    .fetch_optional(pool)
    .await?;
    row.ok_or(WriteError::NotFound)
}

// ---- sign-in throttling

pub async fn locked_until(pool: &PgPool, username: &str) -> Result<Option<DateTime<Utc>>, sqlx::Error> {
    sqlx::query_scalar("SELECT locked_until FROM login_locks WHERE username = $1 AND locked_until > now()")
        .bind(username)
        .fetch_optional(pool)
        .await
}

/// Records a failure and answers how many the username and the address have had within `window`.
pub async fn record_failure(
    pool: &PgPool,
    username: &str,
    address: &str,
    window: std::time::Duration,
) -> Result<(i64, i64), sqlx::Error> {
    let mut tx = pool.begin().await?;
    sqlx::query("INSERT INTO login_failures (username, address) VALUES ($1, $2)")
        .bind(username)
        .bind(address)
        .execute(&mut *tx)
        .await?;
    let counts: (i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM login_failures WHERE username = $1 AND at > now() - make_interval(secs => $3)),
                (SELECT count(*) FROM login_failures WHERE address = $2 AND at > now() - make_interval(secs => $3))",
    )
    .bind(username)
    .bind(address)
    .bind(window.as_secs_f64())
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(counts)
}

pub async fn address_failures(pool: &PgPool, address: &str, window: std::time::Duration) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT count(*) FROM login_failures WHERE address = $1 AND at > now() - make_interval(secs => $2)",
    )
    .bind(address)
    .bind(window.as_secs_f64())
    .fetch_one(pool)
    .await
}

/// Locks a username until `now + duration`; the failures that led to it are cleared so the count
/// starts afresh when the lock ends.
pub async fn lock(pool: &PgPool, username: &str, duration: std::time::Duration) -> Result<(), sqlx::Error> {
    let mut tx = pool.begin().await?;
    sqlx::query(
        "INSERT INTO login_locks (username, locked_until) VALUES ($1, now() + make_interval(secs => $2))
         ON CONFLICT (username) DO UPDATE SET locked_until = EXCLUDED.locked_until",
    )
    .bind(username)
    .bind(duration.as_secs_f64())
    .execute(&mut *tx)
    .await?;
    sqlx::query("DELETE FROM login_failures WHERE username = $1")
        .bind(username)
        .execute(&mut *tx)
        .await?;
    tx.commit().await
}

pub async fn clear_failures(pool: &PgPool, username: &str) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM login_failures WHERE username = $1")
        .bind(username)
        .execute(pool)
        .await?;
    Ok(())
}

// ---- the security log

#[derive(Debug, Clone, Serialize, FromRow, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SecurityEvent {
    pub id: i64,
    pub at: DateTime<Utc>,
    /// `login_succeeded`, `login_failed`, `login_locked`, `logout`, `api_key_used`,
    /// `api_key_created`, `api_key_revoked`, `user_created`, `user_changed`.
    pub kind: String,
    pub actor: String,
    pub subject: Option<String>,
    pub address: Option<String>,
    #[schema(value_type = Object)]
    pub detail: serde_json::Value,
}

pub async fn log(
    pool: &PgPool,
    kind: &str,
    actor: &str,
    subject: Option<&str>,
    address: Option<&str>,
    detail: serde_json::Value,
) -> Result<(), sqlx::Error> {
    sqlx::query("INSERT INTO security_log (kind, actor, subject, address, detail) VALUES ($1, $2, $3, $4, $5)")
        .bind(kind)
        .bind(actor)
        .bind(subject)
        .bind(address)
        .bind(detail)
        .execute(pool)
        .await?;
    Ok(())
}

/// Newest first; `before` is the last id of the previous page.
pub async fn security_log(pool: &PgPool, limit: i64, before: Option<i64>) -> Result<Vec<SecurityEvent>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, at, kind, actor, subject, address, detail FROM security_log
         WHERE ($2::bigint IS NULL OR id < $2) ORDER BY id DESC LIMIT $1",
    )
    .bind(limit)
    .bind(before)
    .fetch_all(pool)
    .await
}

// ---- personal-data reads

#[derive(Debug, Clone, Serialize, FromRow, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PersonalDataRead {
    pub id: i64,
    pub at: DateTime<Utc>,
    pub actor: String,
    pub order_no: String,
    /// `detail`, `events` or `deliveries`.
    pub what: String,
}

pub async fn record_personal_read(pool: &PgPool, actor: &str, order_no: &str, what: &str) -> Result<(), sqlx::Error> {
    sqlx::query("INSERT INTO personal_data_reads (actor, order_no, what) VALUES ($1, $2, $3)")
        .bind(actor)
        .bind(order_no)
        .bind(what)
        .execute(pool)
        .await?;
    Ok(())
}

pub async fn personal_reads(
    pool: &PgPool,
    order_no: Option<&str>,
    limit: i64,
    before: Option<i64>,
) -> Result<Vec<PersonalDataRead>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, at, actor, order_no, what FROM personal_data_reads
         WHERE ($2::text IS NULL OR order_no = $2) AND ($3::bigint IS NULL OR id < $3)
         ORDER BY id DESC LIMIT $1",
    )
    .bind(limit)
    .bind(order_no)
    .bind(before)
    .fetch_all(pool)
    .await
}

// ---- idempotency keys

/// How long a kept answer lives, and how long a first request may run before its claim counts as
/// abandoned (a crash mid-request) and a retry may run it again.
pub const IDEMPOTENCY_TTL_SECS: f64 = 24.0 * 3600.0;
pub const IDEMPOTENCY_ABANDONED_SECS: f64 = 120.0;

#[derive(Debug)]
pub enum Claim {
    /// First use: run the request, then [`complete`] or [`release`].
    New,
    /// The same request ran before: its kept answer.
    Replay {
        status: u16,
        content_type: Option<String>,
        body: Vec<u8>,
    },
    /// The key was used for another request.
    Mismatch,
    /// The first request with this key is still running.
    InProgress,
}

#[derive(FromRow)]
struct KeptAnswer {
    fingerprint: Vec<u8>,
    status: Option<i16>,
    content_type: Option<String>,
    body: Option<Vec<u8>>,
}

pub async fn claim(pool: &PgPool, principal: &str, key: &str, fingerprint: &[u8]) -> Result<Claim, sqlx::Error> {
    // Expired or abandoned claims give way.
    sqlx::query(
        "DELETE FROM idempotency_keys WHERE principal = $1 AND key = $2
           AND (created_at < now() - make_interval(secs => $3)
                OR (status IS NULL AND created_at < now() - make_interval(secs => $4)))",
    )
    .bind(principal)
    .bind(key)
    .bind(IDEMPOTENCY_TTL_SECS)
    .bind(IDEMPOTENCY_ABANDONED_SECS)
    .execute(pool)
    .await?;
    let inserted = sqlx::query(
        "INSERT INTO idempotency_keys (principal, key, fingerprint) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
    )
    .bind(principal)
    .bind(key)
    .bind(fingerprint)
    .execute(pool)
    .await?
    .rows_affected();
    if inserted == 1 {
        return Ok(Claim::New);
    }
    let row: Option<KeptAnswer> = sqlx::query_as(
        "SELECT fingerprint, status, content_type, body FROM idempotency_keys WHERE principal = $1 AND key = $2",
    )
    .bind(principal)
    .bind(key)
    .fetch_optional(pool)
    .await?;
    Ok(match row {
        // Released between our insert and this read: treat as still running; the client retries.
        None => Claim::InProgress,
        Some(k) if k.fingerprint != fingerprint => Claim::Mismatch,
        Some(KeptAnswer { status: None, .. }) => Claim::InProgress,
        Some(KeptAnswer {
            status: Some(status),
            content_type,
            body,
            ..
        }) => Claim::Replay {
            status: status as u16,
            content_type,
            body: body.unwrap_or_default(),
        },
    })
}

pub async fn complete(
    pool: &PgPool,
    principal: &str,
    key: &str,
    status: u16,
    content_type: Option<&str>,
    body: &[u8],
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE idempotency_keys SET status = $3, content_type = $4, body = $5 WHERE principal = $1 AND key = $2",
    )
    .bind(principal)
    .bind(key)
    .bind(status as i16)
    .bind(content_type)
    .bind(body)
    .execute(pool)
    .await?;
    Ok(())
}

/// Forgets a claim whose request failed for a reason a retry may not meet (a 5xx).
pub async fn release(pool: &PgPool, principal: &str, key: &str) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM idempotency_keys WHERE principal = $1 AND key = $2 AND status IS NULL")
        .bind(principal)
        .bind(key)
        .execute(pool)
        .await?;
    Ok(())
}

/// Deletes what has expired, a bounded batch per table, so a periodic pass costs what is old,
/// not what exists. Answers how many rows went.
pub async fn purge_expired(pool: &PgPool) -> Result<u64, sqlx::Error> {
    let mut n = 0;
    for sql in [
        "DELETE FROM idempotency_keys WHERE ctid = ANY (ARRAY(SELECT ctid FROM idempotency_keys
             WHERE created_at < now() - interval '24 hours' LIMIT 1000))",
        "DELETE FROM login_failures WHERE ctid = ANY (ARRAY(SELECT ctid FROM login_failures
             WHERE at < now() - interval '1 day' LIMIT 1000))",
        "DELETE FROM login_locks WHERE locked_until < now() - interval '1 day'",
        "DELETE FROM sessions WHERE ctid = ANY (ARRAY(SELECT ctid FROM sessions
             WHERE expires_at < now() - interval '7 days' LIMIT 1000))",
    ] {
        n += sqlx::query(sql).execute(pool).await?.rows_affected();
    }
    Ok(n)
}
