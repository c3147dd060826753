//! 用户与密钥 and the security records, for admins: users, API keys, the security log and the
//! record of who read which order's personal data.

use actix_web::http::StatusCode;
use actix_web::{delete, get, patch, post, web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use xyt_domain::access::Role;
use xyt_store::access::{self as store, ApiKey, PersonalDataRead, SecurityEvent, User};

use super::error::{ApiError, ErrorBody};
use crate::auth::accounts::{self, AccountError, NewUser, UserPatch};
use crate::state::AppState;

impl From<AccountError> for ApiError {
    fn from(e: AccountError) -> Self {
        match e {
            AccountError::Field(f, m) => ApiError::field(f, m),
            AccountError::Exists("user") => ApiError::new(StatusCode::CONFLICT, "USER_EXISTS", "用户名已存在"),
            AccountError::Exists(_) => ApiError::new(StatusCode::CONFLICT, "API_KEY_EXISTS", "同名密钥已存在"),
            AccountError::NotFound("user") => ApiError::not_found("USER_NOT_FOUND", "没有这个用户"),
            AccountError::NotFound(_) => ApiError::not_found("API_KEY_NOT_FOUND", "没有这个有效的密钥"),
            AccountError::LastAdmin => {
                ApiError::new(StatusCode::CONFLICT, "LAST_ADMIN", "不能停用或降级最后一个启用的管理员")
            }
            AccountError::Db(e) => ApiError::internal(e),
            AccountError::Hash(e) => ApiError::internal(e),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UserList {
    pub items: Vec<User>,
}

/// All users.
#[utoipa::path(
    operation_id = "listUsers",
    tag = "admin",
    responses(
        (status = 200, description = "The users", body = UserList),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Not an admin", body = ErrorBody),
    )
)]
#[get("/admin/users")]
pub async fn list_users(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(UserList {
        items: store::list_users(&state.pool).await?,
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreateUserRequest {
    /// 2–32 of `a-z 0-9 . _ -`, starting with a letter or digit.
    #[schema(pattern = "^[a-z0-9][a-z0-9._-]{1,31}$", example = "alice")]
    pub username: String,
    /// Defaults to the username.
    #[schema(max_length = 64)]
    pub display_name: Option<String>,
    pub role: Role,
    /// 10–128 characters.
    #[schema(min_length = 10, max_length = 128)]
    pub password: String,
}

/// Add a user.
#[utoipa::path(
    operation_id = "createUser",
    tag = "admin",
    request_body = CreateUserRequest,
    responses(
        (status = 201, description = "Created", body = User),
        (status = 409, description = "The username is taken", body = ErrorBody),
        (status = 422, description = "Invalid field", body = ErrorBody),
    )
)]
#[post("/admin/users")]
pub async fn create_user(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Json<CreateUserRequest>,
) -> Result<HttpResponse, ApiError> {
    let b = body.into_inner();
    let user = accounts::add_user(
        &state.pool,
        &super::operator(&req),
        NewUser {
            username: b.username,
            display_name: b.display_name,
            role: b.role.as_str().into(),
            password: b.password,
        },
    )
    .await?;
    Ok(HttpResponse::Created().json(user))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UpdateUserRequest {
    #[schema(max_length = 64)]
    pub display_name: Option<String>,
    pub role: Option<Role>,
    /// `true` disables the user and ends its sessions; `false` enables it again.
    pub disabled: Option<bool>,
    /// A new password (10–128 characters); ends the user's sessions.
    #[schema(min_length = 10, max_length = 128)]
    pub password: Option<String>,
}

/// Change a user's name, role, password, or disable it.
#[utoipa::path(
    operation_id = "updateUser",
    tag = "admin",
    params(("username" = String, Path)),
    request_body = UpdateUserRequest,
    responses(
        (status = 200, description = "Changed", body = User),
        (status = 404, description = "No such user", body = ErrorBody),
        (status = 409, description = "It would leave no enabled admin", body = ErrorBody),
        (status = 422, description = "Invalid field", body = ErrorBody),
    )
)]
#[patch("/admin/users/{username}")]
pub async fn update_user(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    body: web::Json<UpdateUserRequest>,
) -> Result<HttpResponse, ApiError> {
    let b = body.into_inner();
    let user = accounts::change_user(
        &state.pool,
        &super::operator(&req),
        &path,
        UserPatch {
            display_name: b.display_name,
            role: b.role.map(|r| r.as_str().to_string()),
            disabled: b.disabled,
            password: b.password,
        },
    )
    .await?;
    Ok(HttpResponse::Ok().json(user))
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApiKeyList {
    pub items: Vec<ApiKey>,
}

/// All API keys, live first (never the keys themselves).
#[utoipa::path(
    operation_id = "listApiKeys",
    tag = "admin",
    responses((status = 200, description = "The keys", body = ApiKeyList))
)]
#[get("/admin/api-keys")]
pub async fn list_api_keys(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(ApiKeyList {
        items: store::list_keys(&state.pool).await?,
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreateApiKeyRequest {
    #[schema(pattern = "^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$", example = "erp-sync")]
    pub name: String,
    pub role: Role,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreatedApiKey {
    /// The key, shown this once: use it as `Authorization: Bearer <key>`.
    pub key: String,
    pub api_key: ApiKey,
}

/// Create an API key; the answer is the only time the key is shown.
#[utoipa::path(
    operation_id = "createApiKey",
    tag = "admin",
    request_body = CreateApiKeyRequest,
    responses(
        (status = 201, description = "Created", body = CreatedApiKey),
        (status = 409, description = "A key with this name exists", body = ErrorBody),
        (status = 422, description = "Invalid field", body = ErrorBody),
    )
)]
#[post("/admin/api-keys")]
pub async fn create_api_key(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Json<CreateApiKeyRequest>,
) -> Result<HttpResponse, ApiError> {
    let (api_key, key) =
        accounts::create_key(&state.pool, &super::operator(&req), &body.name, body.role.as_str()).await?;
    Ok(HttpResponse::Created()
        .insert_header(("cache-control", "no-store"))
        .json(CreatedApiKey { key, api_key }))
}

/// Revoke an API key; it fails at once.
#[utoipa::path(
    operation_id = "revokeApiKey",
    tag = "admin",
    params(("name" = String, Path)),
    responses(
        (status = 200, description = "Revoked", body = ApiKey),
        (status = 404, description = "No live key by that name", body = ErrorBody),
    )
)]
#[delete("/admin/api-keys/{name}")]
pub async fn revoke_api_key(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(accounts::revoke_key(&state.pool, &super::operator(&req), &path).await?))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct LogQuery {
    /// 1 to 200 (default 50).
    #[param(value_type = Option<i64>, minimum = 1, maximum = 200)]
    pub limit: Option<String>,
    /// `nextBefore` of the previous page.
    #[param(value_type = Option<i64>)]
    pub before: Option<String>,
    /// Only reads of this order (personal-data reads).
    pub order_no: Option<String>,
}

impl LogQuery {
    fn page(&self) -> Result<(i64, Option<i64>), ApiError> {
        let mut p = super::params::Params::default();
        let limit = p.limit(&self.limit);
        let before = match self.before.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            None => None,
            Some(s) => match s.parse::<i64>() {
                Ok(n) if n > 0 => Some(n),
                _ => {
                    p.error("before", "before 必须是正整数");
                    None
                }
            },
        };
        p.finish()?;
        Ok((limit, before))
    }
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SecurityLog {
    pub items: Vec<SecurityEvent>,
    /// Pass as `before` for the next page; absent on the last page.
    pub next_before: Option<i64>,
}

/// The security log, newest first: sign-ins, failures, locks, key use, user and key changes.
#[utoipa::path(
    operation_id = "getSecurityLog",
    tag = "admin",
    params(LogQuery),
    responses(
        (status = 200, description = "A page of the log", body = SecurityLog),
        (status = 422, description = "Invalid paging", body = ErrorBody),
    )
)]
#[get("/admin/security-log")]
pub async fn security_log(state: web::Data<AppState>, query: web::Query<LogQuery>) -> Result<HttpResponse, ApiError> {
    let (limit, before) = query.page()?;
    let items = store::security_log(&state.pool, limit, before).await?;
    let next_before = (items.len() as i64 == limit)
        .then(|| items.last().map(|e| e.id))
        .flatten();
    Ok(HttpResponse::Ok().json(SecurityLog { items, next_before }))
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PersonalDataReads {
    pub items: Vec<PersonalDataRead>,
    pub next_before: Option<i64>,
}

/// Who read which order's whole personal data, newest first.
#[utoipa::path(
    operation_id = "getPersonalDataReads",
    tag = "admin",
    params(LogQuery),
    responses(
        (status = 200, description = "A page of reads", body = PersonalDataReads),
        (status = 422, description = "Invalid paging", body = ErrorBody),
    )
)]
#[get("/admin/personal-data-reads")]
pub async fn personal_data_reads(
    state: web::Data<AppState>,
    query: web::Query<LogQuery>,
) -> Result<HttpResponse, ApiError> {
    let (limit, before) = query.page()?;
    let order_no = query.order_no.as_deref().map(str::trim).filter(|s| !s.is_empty());
    let items = store::personal_reads(&state.pool, order_no, limit, before).await?;
    let next_before = (items.len() as i64 == limit)
        .then(|| items.last().map(|e| e.id))
        .flatten();
    Ok(HttpResponse::Ok().json(PersonalDataReads { items, next_before }))
}
