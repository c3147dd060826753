//! The guard in front of every route, and the security headers on every answer.

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::middleware::Next;
use actix_web::{web, HttpMessage, ResponseError};
use xyt_domain::access::{need, Need, Role};
use xyt_store::access as store;

use super::{sha256, Principal, Who, CSRF_HEADER, SESSION_COOKIE};
use crate::api::ApiError;
use crate::state::AppState;

fn unauthenticated(message: &str) -> ApiError {
    ApiError::new(StatusCode::UNAUTHORIZED, "UNAUTHENTICATED", message)
}

fn forbidden(code: &'static str, message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::FORBIDDEN, code, message)
}

fn refuse<B>(req: ServiceRequest, e: ApiError) -> ServiceResponse<EitherBody<B>> {
    req.into_response(e.error_response()).map_into_right_body()
}

/// Whether the request's `Origin`, when it has one, is ours.
pub fn origin_allowed(req: &actix_web::HttpRequest, state: &AppState) -> bool {
    match req.headers().get(header::ORIGIN) {
        None => true,
        Some(o) => o
            .to_str()
            .is_ok_and(|o| o.eq_ignore_ascii_case(&super::origin_of(&state.config.public_base_url))),
    }
}

fn is_read(method: &actix_web::http::Method) -> bool {
    matches!(method.as_str(), "GET" | "HEAD" | "OPTIONS")
}

/// Who is behind the request's credentials, if anyone. A bearer key wins over a cookie.
async fn authenticate(req: &ServiceRequest, state: &AppState) -> Result<Principal, ApiError> {
    if let Some(h) = req.headers().get(header::AUTHORIZATION) {
        let key = h
            .to_str()
            .ok()
            .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
            .map(str::trim)
            .filter(|k| !k.is_empty() && k.len() <= 200)
            .ok_or_else(|| unauthenticated("Authorization 头必须是 Bearer <API 密钥>"))?;
        let row = store::key_principal(&state.pool, &sha256(key))
            .await?
            .ok_or_else(|| unauthenticated("API 密钥无效或已吊销"))?;
        let role = Role::parse(&row.role).ok_or_else(|| ApiError::internal("api key with an unknown role"))?;
        let now = chrono::Utc::now();
        // Each use is recorded: the key's last use always, the security log at most once a
        // minute per key, so a busy integration does not write a log row per call.
        if row.last_used_at.is_none_or(|t| now - t > chrono::Duration::seconds(60)) {
            store::touch_key(&state.pool, &row.name).await?;
            store::log(
                &state.pool,
                "api_key_used",
                &format!("api:{}", row.name),
                Some(&row.name),
                Some(&super::client_address(req.request())),
                serde_json::json!({"method": req.method().as_str(), "path": req.path()}),
            )
            .await?;
        }
        return Ok(Principal {
            who: Who::Key { name: row.name },
            role,
            session: None,
        });
    }
    let Some(cookie) = req.cookie(SESSION_COOKIE) else {
        return Err(unauthenticated("请先登录"));
    };
    let s = store::session_principal(&state.pool, &sha256(cookie.value()), state.auth.session_idle)
        .await?
        .ok_or_else(|| unauthenticated("登录已过期,请重新登录"))?;
    if chrono::Utc::now() - s.last_seen_at > chrono::Duration::seconds(60) {
        store::touch_session(&state.pool, s.session_id).await?;
    }
    let role = Role::parse(&s.role).ok_or_else(|| ApiError::internal("user with an unknown role"))?;
    Ok(Principal {
        who: Who::User {
            username: s.username,
            display_name: s.display_name,
        },
        role,
        session: Some((s.session_id, s.csrf_token)),
    })
}

/// Authenticates and authorizes by [`need`]; nothing reaches a guarded handler otherwise.
pub async fn guard(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    let needed = need(req.method().as_str(), req.path());
    let Some(state) = req.app_data::<web::Data<AppState>>().cloned() else {
        return Ok(next.call(req).await?.map_into_left_body());
    };
    if req.path() == "/metrics" && crate::metrics::from_local_scraper(req.request()) {
        return Ok(next.call(req).await?.map_into_left_body());
    }
    if needed == Need::Nothing {
        // Sign-in from a foreign page (login CSRF) is refused like any foreign write.
        if req.path() == "/api/auth/login" && !origin_allowed(req.request(), &state) {
            return Ok(refuse(req, forbidden("ORIGIN_NOT_ALLOWED", "请求来源不被允许")));
        }
        return Ok(next.call(req).await?.map_into_left_body());
    }
    let principal = match authenticate(&req, &state).await {
        Ok(p) => p,
        Err(e) => return Ok(refuse(req, e)),
    };
    if !principal.role.allows(needed) {
        let msg = format!("当前角色({})无权执行此操作", principal.role.label());
        return Ok(refuse(req, forbidden("FORBIDDEN", msg)));
    }
    if let Some((_, csrf)) = &principal.session {
        if !is_read(req.method()) {
            if !origin_allowed(req.request(), &state) {
                return Ok(refuse(req, forbidden("ORIGIN_NOT_ALLOWED", "请求来源不被允许")));
            }
            let sent = req
                .headers()
                .get(CSRF_HEADER)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            if !super::same_secret(sent, csrf) {
                return Ok(refuse(
                    req,
                    forbidden("CSRF_FAILED", "缺少或错误的 X-CSRF-Token,请刷新页面后重试"),
                ));
            }
        }
    }
    req.extensions_mut().insert(principal);
    Ok(next.call(req).await?.map_into_left_body())
}

/// `nosniff`, no referrer and no framing on every answer; a handler's own CSP (the buyer's page,
/// files) is kept and gains `frame-ancestors 'none'` when it lacks it.
pub async fn security_headers(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let mut res = next.call(req).await?;
    let h = res.headers_mut();
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    let csp = match h.get(header::CONTENT_SECURITY_POLICY).and_then(|v| v.to_str().ok()) {
        Some(own) if own.contains("frame-ancestors") => None,
        Some(own) => HeaderValue::from_str(&format!("{own}; frame-ancestors 'none'")).ok(),
        None => Some(HeaderValue::from_static("frame-ancestors 'none'")),
    };
    if let Some(csp) = csp {
        h.insert(header::CONTENT_SECURITY_POLICY, csp);
    }
    Ok(res)
}
