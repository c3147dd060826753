//! Sign-in for the console: `POST /api/auth/login`, `POST /api/auth/logout`, `GET /api/auth/me`.
//!
//! Every failure answers the same 401 and message, whether the username exists, the password is
//! wrong, the user is disabled or locked; an unknown username is checked against a dummy hash so
//! it takes as long as a wrong password. Five failures for a username within 15 minutes lock it
//! for 15 minutes; an address with too many failures gets 429.

use actix_web::cookie::{time, Cookie, SameSite};
use actix_web::http::StatusCode;
use actix_web::{get, post, web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;
use xyt_domain::access::Role;
use xyt_store::access as store;

use super::error::{ApiError, ErrorBody};
use crate::auth::{self, Principal, Who, SESSION_COOKIE};
use crate::state::AppState;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LoginRequest {
    #[schema(example = "admin", max_length = 64)]
    pub username: String,
    #[schema(max_length = 1024)]
    pub password: String,
}

/// The signed-in caller.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Me {
    /// The username, or the API key's name.
    pub username: String,
    pub display_name: String,
    pub role: Role,
    /// The role in Chinese, for the header.
    pub role_label: String,
    /// Send as `X-CSRF-Token` with every state-changing request of this session; absent for an API key.
    pub csrf_token: Option<String>,
}

impl Me {
    fn of(p: &Principal) -> Self {
        let (username, display_name) = match &p.who {
            Who::User { username, display_name } => (username.clone(), display_name.clone()),
            Who::Key { name } => (name.clone(), format!("API 密钥 {name}")),
        };
        Me {
            username,
            display_name,
            role: p.role,
            role_label: p.role.label().into(),
            csrf_token: p.session.as_ref().map(|(_, c)| c.clone()),
        }
    }
}

const LOGIN_FAILED: &str = "用户名或密码错误,或尝试次数过多已暂时锁定";

fn login_failed() -> ApiError {
    ApiError::new(StatusCode::UNAUTHORIZED, "LOGIN_FAILED", LOGIN_FAILED)
}

/// Sign in; sets the session cookie.
#[utoipa::path(
    operation_id = "login",
    tag = "auth",
    request_body = LoginRequest,
    responses(
        (status = 200, description = "Signed in; the `xyt_session` cookie is set", body = Me),
        (status = 401, description = "Wrong username or password, disabled or locked (one answer for all)", body = ErrorBody),
        (status = 403, description = "The request came from a foreign origin", body = ErrorBody),
        (status = 422, description = "Missing field", body = ErrorBody),
        (status = 429, description = "Too many failures from this address", body = ErrorBody),
    )
)]
#[post("/auth/login")]
pub async fn login(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Json<LoginRequest>,
) -> Result<HttpResponse, ApiError> {
    let cfg = &state.auth;
    let address = auth::client_address(&req);
    let LoginRequest { username, password } = body.into_inner();
    // The throttle key is the name as typed (bounded), known or not, so a lock reveals nothing.
    let username: String = username.trim().to_lowercase().chars().take(64).collect();
    let log_failure = |reason: &'static str| {
        store::log(
            &state.pool,
            "login_failed",
            &username,
            Some(&username),
            Some(&address),
            json!({ "reason": reason }),
        )
    };
    if store::address_failures(&state.pool, &address, cfg.lock_window).await? >= cfg.address_limit {
        log_failure("address_limit").await?;
        return Err(ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "TOO_MANY_ATTEMPTS",
            "登录失败次数过多,请稍后再试",
        ));
    }
    let locked = store::locked_until(&state.pool, &username).await?.is_some();
    let creds = store::credentials(&state.pool, &username).await?;
    let hash = creds
        .as_ref()
        .map(|c| c.password_hash.clone())
        .unwrap_or_else(|| auth::dummy_hash().to_string());
    let password: String = password.chars().take(1024).collect();
    let matches = tokio::task::spawn_blocking(move || auth::verify_password(&password, &hash))
        .await
        .map_err(ApiError::internal)?;
    let user = match creds {
        Some(c) if matches && !locked && !c.disabled => c,
        other => {
            let reason = match (&other, locked) {
                (_, true) => "locked",
                (None, _) => "unknown_user",
                (Some(c), _) if c.disabled => "disabled",
                _ => "wrong_password",
            };
            log_failure(reason).await?;
            if !locked {
                let (for_user, _) = store::record_failure(&state.pool, &username, &address, cfg.lock_window).await?;
                if for_user >= cfg.lock_after {
                    store::lock(&state.pool, &username, cfg.lock_for).await?;
                    store::log(
                        &state.pool,
                        "login_locked",
                        &username,
                        Some(&username),
                        Some(&address),
                        json!({"failures": for_user, "minutes": cfg.lock_for.as_secs() / 60}),
                    )
                    .await?;
                }
            }
            return Err(login_failed());
        }
    };
    store::clear_failures(&state.pool, &username).await?;
    let token = auth::random_token();
    let csrf = auth::random_token();
    let id = uuid::Uuid::new_v4();
    let absolute = cfg.session_absolute;
    store::create_session(
        &state.pool,
        &store::NewSession {
            id,
            token_sha256: &auth::sha256(&token),
            username: &user.username,
            csrf_token: &csrf,
            expires_at: chrono::Utc::now() + chrono::Duration::from_std(absolute).unwrap_or(chrono::Duration::days(7)),
            address: &address,
        },
    )
    .await?;
    store::log(
        &state.pool,
        "login_succeeded",
        &format!("admin:{}", user.username),
        Some(&user.username),
        Some(&address),
        json!({}),
    )
    .await?;
    let role = Role::parse(&user.role).ok_or_else(|| ApiError::internal("user with an unknown role"))?;
    let principal = Principal {
        who: Who::User {
            username: user.username,
            display_name: user.display_name,
        },
        role,
        session: Some((id, csrf)),
    };
    let cookie = Cookie::build(SESSION_COOKIE, token)
        .path("/")
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(state.config.public_base_url.starts_with("https://"))
        .max_age(time::Duration::seconds(absolute.as_secs() as i64))
        .finish();
    Ok(HttpResponse::Ok()
        .insert_header(("cache-control", "no-store"))
        .cookie(cookie)
        .json(Me::of(&principal)))
}

fn principal(req: &HttpRequest) -> Result<Principal, ApiError> {
    Principal::of(req).ok_or_else(|| ApiError::new(StatusCode::UNAUTHORIZED, "UNAUTHENTICATED", "请先登录"))
}

/// Sign out: ends the session and clears the cookie.
#[utoipa::path(
    operation_id = "logout",
    tag = "auth",
    responses(
        (status = 204, description = "Signed out"),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Missing or wrong X-CSRF-Token, or a foreign Origin", body = ErrorBody),
    )
)]
#[post("/auth/logout")]
pub async fn logout(state: web::Data<AppState>, req: HttpRequest) -> Result<HttpResponse, ApiError> {
    let p = principal(&req)?;
    if let Some((id, _)) = &p.session {
        store::revoke_session(&state.pool, *id).await?;
        store::log(
            &state.pool,
            "logout",
            &p.source(),
            None,
            Some(&auth::client_address(&req)),
            json!({}),
        )
        .await?;
    }
    let mut gone = Cookie::build(SESSION_COOKIE, "")
        .path("/")
        .http_only(true)
        .same_site(SameSite::Strict)
        .finish();
    gone.make_removal();
    Ok(HttpResponse::NoContent().cookie(gone).finish())
}

/// The signed-in user (or API key), its role and the session's CSRF token.
#[utoipa::path(
    operation_id = "me",
    tag = "auth",
    responses(
        (status = 200, description = "The caller", body = Me),
        (status = 401, description = "Not signed in", body = ErrorBody),
    )
)]
#[get("/auth/me")]
pub async fn me(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    let p = principal(&req)?;
    Ok(HttpResponse::Ok()
        .insert_header(("cache-control", "no-store"))
        .json(Me::of(&p)))
}
