//! `Idempotency-Key` on every authenticated POST: the first answer (status and body) is kept per
//! caller and key for 24 hours; a repeat with the same request gets it again and runs nothing; the
//! same key with another request gets 422; a repeat while the first still runs gets 409. An answer
//! of 5xx is not kept, so a retry after an outage runs again.

use actix_web::body::{to_bytes, BoxBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::middleware::Next;
use actix_web::web::{self, BytesMut};
use actix_web::{HttpMessage, HttpResponse, ResponseError};
use futures::StreamExt;
use sha2::{Digest, Sha256};
use xyt_store::access::{self as store, Claim};

use super::Principal;
use crate::api::ApiError;
use crate::state::AppState;

pub const HEADER: &str = "idempotency-key";
/// Upper bound on a body read here: above every route's own cap (uploads: 10 MB).
const MAX_BODY: usize = 12 * 1024 * 1024;

fn key_of(req: &ServiceRequest) -> Result<Option<String>, ApiError> {
    let Some(v) = req.headers().get(HEADER) else {
        return Ok(None);
    };
    match v.to_str() {
        Ok(k) if (1..=128).contains(&k.len()) && k.bytes().all(|b| (0x21..=0x7e).contains(&b)) => Ok(Some(k.into())),
        _ => Err(ApiError::field(
            "Idempotency-Key",
            "Idempotency-Key 为 1–128 个可见 ASCII 字符",
        )),
    }
}

fn answer(req: ServiceRequest, e: ApiError) -> ServiceResponse<BoxBody> {
    req.into_response(e.error_response())
}

pub async fn middleware(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let principal = req.extensions().get::<Principal>().cloned();
    let (Some(principal), true) = (principal, req.method() == actix_web::http::Method::POST) else {
        return Ok(next.call(req).await?.map_into_boxed_body());
    };
    let key = match key_of(&req) {
        Ok(Some(k)) => k,
        Ok(None) => return Ok(next.call(req).await?.map_into_boxed_body()),
        Err(e) => return Ok(answer(req, e)),
    };
    let Some(state) = req.app_data::<web::Data<AppState>>().cloned() else {
        return Ok(next.call(req).await?.map_into_boxed_body());
    };
    // The request's fingerprint: method, path, query, content type and body.
    let mut payload = req.take_payload();
    let mut body = BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk?;
        if body.len() + chunk.len() > MAX_BODY {
            return Ok(answer(
                req,
                ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "PAYLOAD_TOO_LARGE", "请求体过大"),
            ));
        }
        body.extend_from_slice(&chunk);
    }
    let body = body.freeze();
    let mut h = Sha256::new();
    h.update(req.method().as_str());
    h.update([0]);
    h.update(req.uri().to_string());
    h.update([0]);
    if let Some(ct) = req.headers().get(header::CONTENT_TYPE) {
        // A multipart boundary differs per send; the parts themselves are in the body.
        let ct = ct.to_str().unwrap_or("");
        h.update(ct.split(';').next().unwrap_or("").trim());
    }
    h.update([0]);
    h.update(&body);
    let fingerprint = h.finalize().to_vec();
    let scope = principal.idempotency_scope();
    match store::claim(&state.pool, &scope, &key, &fingerprint).await {
        Err(e) => return Ok(answer(req, ApiError::internal(e))),
        Ok(Claim::Mismatch) => {
            return Ok(answer(
                req,
                ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "IDEMPOTENCY_KEY_REUSED",
                    "这个 Idempotency-Key 已用于另一个请求",
                ),
            ))
        }
        Ok(Claim::InProgress) => {
            return Ok(answer(
                req,
                ApiError::new(
                    StatusCode::CONFLICT,
                    "IDEMPOTENCY_KEY_IN_PROGRESS",
                    "同一请求正在处理中,请稍后重试",
                ),
            ))
        }
        Ok(Claim::Replay {
            status,
            content_type,
            body,
        }) => {
            let mut res = HttpResponse::build(StatusCode::from_u16(status).unwrap_or(StatusCode::OK));
            if let Some(ct) = content_type {
                res.insert_header((header::CONTENT_TYPE, ct));
            }
            res.insert_header(("idempotency-replayed", "true"));
            return Ok(req.into_response(res.body(body)));
        }
        Ok(Claim::New) => {}
    }
    req.set_payload(Payload::from(body));
    let res = match next.call(req).await {
        Ok(r) => r,
        Err(e) => {
            let _ = store::release(&state.pool, &scope, &key).await;
            return Err(e);
        }
    };
    let status = res.status();
    let (http_req, res) = res.into_parts();
    let (res, body) = res.into_parts();
    let bytes = match to_bytes(body).await {
        Ok(b) => b,
        Err(_) => {
            let _ = store::release(&state.pool, &scope, &key).await;
            return Ok(ServiceResponse::new(
                http_req,
                ApiError::internal("response body could not be read").error_response(),
            ));
        }
    };
    if status.is_server_error() {
        let _ = store::release(&state.pool, &scope, &key).await;
    } else {
        let ct = res
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        if let Err(e) = store::complete(&state.pool, &scope, &key, status.as_u16(), ct.as_deref(), &bytes).await {
            tracing::warn!(error = %e, "idempotency: the answer could not be kept");
        }
    }
    let mut res = res.set_body(BoxBody::new(bytes));
    res.headers_mut().insert(
        HeaderName::from_static("idempotency-replayed"),
        HeaderValue::from_static("false"),
    );
    Ok(ServiceResponse::new(http_req, res))
}
