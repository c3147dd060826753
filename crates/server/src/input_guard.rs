//! One gate for text under `/api`: the path, every query parameter and every string of a JSON
//! body are checked against `xyt_domain::text` before any handler runs, so a NUL byte (which
//! PostgreSQL refuses) or another control character is answered with a 422 naming the field
//! (a 404 for the path: nothing is named so) instead of reaching the database. Multipart text fields and XGJ bodies use the same rule
//! where they are read.

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::header::CONTENT_TYPE;
use actix_web::http::StatusCode;
use actix_web::middleware::Next;
use actix_web::web::{Bytes, BytesMut};
use actix_web::{HttpMessage, ResponseError};
use futures::StreamExt;
use xyt_domain::text::{check, check_json, ControlChar, TextKind};

use crate::api::error::ApiError;

/// The largest JSON body under `/api` (the `JsonConfig` limit).
pub const JSON_LIMIT: usize = 64 * 1024;

fn refused(field: &str, bad: ControlChar) -> ApiError {
    let field = if field.is_empty() { "body" } else { field };
    let mut e = ApiError::field(field, bad.to_string());
    e.code = "CONTROL_CHARACTER";
    e
}

fn is_json(req: &ServiceRequest) -> bool {
    let Some(ct) = req.headers().get(CONTENT_TYPE).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let essence = ct.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    essence == "application/json" || essence.ends_with("+json")
}

/// The path and query of `req`: the first refused character, as an answer.
pub fn check_path_and_query(path: &str, query: &str) -> Result<(), ApiError> {
    let decoded = percent_encoding::percent_decode_str(path).decode_utf8_lossy();
    // No resource is named with a control character: a 404, as for any unknown id, with the
    // reason under `path` (and nothing of it reaches a query).
    check(&decoded, TextKind::SingleLine).map_err(|bad| {
        let mut e = ApiError::not_found("NOT_FOUND", "路径中含有控制字符,没有这样的资源");
        e.field_errors = Some([("path".to_string(), bad.to_string())].into());
        e
    })?;
    // Unparseable queries are left to the handler's own extractor and its message.
    if let Ok(pairs) = serde_urlencoded::from_str::<Vec<(String, String)>>(query) {
        for (key, value) in &pairs {
            let name: String = key.chars().filter(|c| !c.is_control()).collect();
            check(key, TextKind::SingleLine).map_err(|bad| refused(&name, bad))?;
            check(value, TextKind::SingleLine).map_err(|bad| refused(&name, bad))?;
        }
    }
    Ok(())
}

/// JSON has one kind of number: `2.0` is the integer 2 (as JSON Schema's `integer` says), but
/// serde refuses it for an integer field. Whole floats in the i64 range become integers; true
/// if any did.
fn integral_floats_to_integers(v: &mut serde_json::Value) -> bool {
    use serde_json::Value;
    match v {
        Value::Number(n) if n.is_f64() => match n.as_f64() {
            Some(f) if f.fract() == 0.0 && f >= i64::MIN as f64 && f < i64::MAX as f64 => {
                *v = Value::from(f as i64);
                true
            }
            _ => false,
        },
        Value::Array(items) => items
            .iter_mut()
            .fold(false, |changed, i| integral_floats_to_integers(i) | changed),
        Value::Object(map) => map
            .values_mut()
            .fold(false, |changed, i| integral_floats_to_integers(i) | changed),
        _ => false,
    }
}

pub async fn middleware(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    if !req.path().starts_with("/api/") {
        return next.call(req).await.map(ServiceResponse::map_into_left_body);
    }
    let answer = |req: ServiceRequest, e: ApiError| {
        let (http, _) = req.into_parts();
        Ok(ServiceResponse::new(http, e.error_response()).map_into_right_body())
    };
    if let Err(e) = check_path_and_query(req.path(), req.query_string()) {
        return answer(req, e);
    }
    if is_json(&req) {
        let mut payload = req.take_payload();
        let mut body = BytesMut::new();
        while let Some(chunk) = payload.next().await {
            let chunk = chunk?;
            if body.len() + chunk.len() > JSON_LIMIT {
                let e = ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "PAYLOAD_TOO_LARGE", "请求体过大");
                return answer(req, e);
            }
            body.extend_from_slice(&chunk);
        }
        let mut body: Bytes = body.freeze();
        // Not JSON at all: the handler's extractor answers with its own message.
        if let Ok(mut v) = serde_json::from_slice::<serde_json::Value>(&body) {
            if let Err((field, bad)) = check_json(&v) {
                return answer(req, refused(&field, bad));
            }
            if integral_floats_to_integers(&mut v) {
                body = serde_json::to_vec(&v).map(Bytes::from).unwrap_or(body);
            }
        }
        req.set_payload(Payload::from(body));
    }
    next.call(req).await.map(ServiceResponse::map_into_left_body)
}
