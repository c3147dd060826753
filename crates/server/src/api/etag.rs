//! ETags for the JSON the console polls (order list, counts, detail, events, deliveries).
//!
//! The console keeps pages live by polling every second with `If-None-Match`: an unchanged
//! answer is a bodyless 304, so polling costs one indexed read and no transfer. The tag is a
//! hash of the body itself, so it changes exactly when anything shown changes, whichever
//! process (webhook, worker, another instance) made the change.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse};
use serde::Serialize;
use sha2::{Digest, Sha256};

/// Answers 200 with the JSON and its ETag, or 304 when the client already holds it.
pub fn json<T: Serialize>(req: &HttpRequest, body: &T) -> HttpResponse {
    let bytes = match serde_json::to_vec(body) {
        Ok(b) => b,
        Err(e) => return actix_web::ResponseError::error_response(&super::ApiError::internal(e)),
    };
    let digest = Sha256::digest(&bytes);
    let tag = format!(
        "\"{}\"",
        base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, &digest[..16])
    );
    let matches = req
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(',')
                .any(|t| t.trim().trim_start_matches("W/") == tag || t.trim() == "*")
        });
    let mut res = if matches {
        HttpResponse::NotModified()
    } else {
        HttpResponse::Ok()
    };
    res.insert_header((header::ETAG, tag.clone()))
        .insert_header((header::CACHE_CONTROL, "no-cache"));
    if matches {
        res.finish()
    } else {
        res.content_type("application/json").body(bytes)
    }
}
