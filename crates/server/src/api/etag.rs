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

/// A JSON body and its strong ETag.
pub struct Tagged {
    pub bytes: Vec<u8>,
    pub tag: String,
}

impl Tagged {
    pub fn of<T: Serialize>(body: &T) -> Result<Self, super::ApiError> {
        let bytes = serde_json::to_vec(body).map_err(super::ApiError::internal)?;
        let digest = Sha256::digest(&bytes);
        let tag = format!(
            "\"{}\"",
            base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, &digest[..16])
        );
        Ok(Self { bytes, tag })
    }

    /// Whether the client already holds exactly this body (`If-None-Match`).
    pub fn is_fresh(&self, req: &HttpRequest) -> bool {
        req.headers()
            .get(header::IF_NONE_MATCH)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| {
                v.split(',')
                    .map(str::trim)
                    .any(|t| t == "*" || t.trim_start_matches("W/") == self.tag)
            })
    }

    /// 304 when the client holds it, else 200 with the body.
    pub fn respond(self, req: &HttpRequest) -> HttpResponse {
        let fresh = self.is_fresh(req);
        let mut res = if fresh {
            HttpResponse::NotModified()
        } else {
            HttpResponse::Ok()
        };
        res.insert_header((header::ETAG, self.tag))
            .insert_header((header::CACHE_CONTROL, "no-cache"));
        if fresh {
            res.finish()
        } else {
            res.content_type("application/json").body(self.bytes)
        }
    }
}

/// Answers 200 with the JSON and its ETag, or 304 when the client already holds it.
pub fn json<T: Serialize>(req: &HttpRequest, body: &T) -> HttpResponse {
    match Tagged::of(body) {
        Ok(t) => t.respond(req),
        Err(e) => actix_web::ResponseError::error_response(&e),
    }
}
