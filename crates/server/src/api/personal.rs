//! Personal data by role. An order's detail, raw events and whole messages show the buyer's name,
//! phone, certificate number and form link whole only to roles that need them (operators and
//! admins), and each such read is recorded; everyone else gets the same answer with every one of
//! those values masked wherever it appears (payloads, message texts, OCR readings).

use actix_web::{HttpRequest, HttpResponse};
use serde::Serialize;
use xyt_domain::personal::Redactor;
use xyt_store::chain;

use super::error::ApiError;
use crate::auth::Principal;
use crate::state::AppState;

/// Every personal value the order has held: each submitted form and its card's token, read
/// from the recorded events (nothing folded).
async fn redactor(state: &AppState, order_no: &str) -> Result<Redactor, ApiError> {
    let mut r = Redactor::default();
    for e in chain::load(&state.pool, order_no).await? {
        let p = e.recorded().map_err(ApiError::internal)?;
        if let Some(token) = p.get("formToken").and_then(|v| v.as_str()) {
            r.secret(token);
        }
        if e.event_type != "user_form_submitted" {
            continue;
        }
        let form = p;
        if let Some(v) = form.get("name").and_then(|v| v.as_str()) {
            r.name(v);
        }
        if let Some(v) = form.get("phone").and_then(|v| v.as_str()) {
            r.phone(v);
        }
        if let Some(v) = form.get("certificateNo").and_then(|v| v.as_str()) {
            r.certificate(v);
        }
    }
    Ok(r)
}

/// Answers `value` whole to a role that sees personal data (recording the read as `what`), and
/// masked to any other.
pub async fn answer<T: Serialize>(
    state: &AppState,
    req: &HttpRequest,
    order_no: &str,
    what: &str,
    value: &T,
) -> Result<HttpResponse, ApiError> {
    let principal = Principal::of(req);
    match principal {
        Some(p) if p.role.sees_personal_data() => {
            // With an ETag, so the console can poll: a 304 hands nothing over, so only an
            // answer with a body is recorded as a read.
            let tagged = super::etag::Tagged::of(value)?;
            if !tagged.is_fresh(req) {
                xyt_store::access::record_personal_read(&state.pool, &p.source(), order_no, what).await?;
            }
            Ok(tagged.respond(req))
        }
        _ => {
            let mut v = serde_json::to_value(value).map_err(ApiError::internal)?;
            redactor(state, order_no).await?.json(&mut v);
            Ok(super::etag::json(req, &v))
        }
    }
}
