//! A request id for every request: taken from `X-Request-Id` when it is sane, else a new UUID.
//! It is returned in the response header and in error bodies, stored in event metadata, and
//! carried by the log span, so one id ties a complaint to the log lines and the events.

use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::HttpMessage;
use tracing::Instrument;

pub const HEADER: &str = "x-request-id";

tokio::task_local! {
    static REQUEST_ID: String;
}

#[derive(Debug, Clone)]
pub struct RequestId(pub String);

/// The id of the request being handled (`-` outside a request).
pub fn current() -> String {
    REQUEST_ID.try_with(|id| id.clone()).unwrap_or_else(|_| "-".into())
}

fn sane(v: &str) -> bool {
    (1..=64).contains(&v.len()) && v.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b))
}

/// The path as the access log shows it: the buyer's form token (the only credential of the card
/// link) never reaches a log line.
pub fn loggable_path(path: &str) -> String {
    for prefix in ["/f/", "/api/public/forms/"] {
        if let Some(rest) = path.strip_prefix(prefix) {
            let tail = rest.find('/').map(|i| &rest[i..]).unwrap_or("");
            return format!("{prefix}****{tail}");
        }
    }
    path.to_string()
}

pub async fn middleware(
    req: ServiceRequest,
    next: actix_web::middleware::Next<impl actix_web::body::MessageBody + 'static>,
) -> Result<ServiceResponse<impl actix_web::body::MessageBody>, actix_web::Error> {
    let id = req
        .headers()
        .get(HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|v| sane(v))
        .map(str::to_string)
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    req.extensions_mut().insert(RequestId(id.clone()));
    let span = tracing::info_span!("http", request_id = %id, method = %req.method(), path = %loggable_path(req.path()));
    let started = std::time::Instant::now();
    let mut res = REQUEST_ID
        .scope(id.clone(), next.call(req).instrument(span.clone()))
        .await?;
    let status = res.status().as_u16();
    span.in_scope(|| tracing::info!(status, elapsed_ms = started.elapsed().as_millis() as u64, "request"));
    if let Ok(v) = HeaderValue::from_str(&id) {
        res.headers_mut().insert(HeaderName::from_static(HEADER), v);
    }
    Ok(res)
}

#[cfg(test)]
mod tests {
    #[test]
    fn form_tokens_never_reach_the_log() {
        assert_eq!(super::loggable_path("/f/abcDEF123"), "/f/****");
        assert_eq!(
            super::loggable_path("/api/public/forms/abc/x"),
            "/api/public/forms/****/x"
        );
        assert_eq!(super::loggable_path("/api/orders"), "/api/orders");
    }
}
