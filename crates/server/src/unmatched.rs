//! Requests no route takes: a 404, or a 405 naming the methods the path does take, in the API's
//! error envelope. The route table is the OpenAPI document's (collected from the mounted
//! services), so this sits above both.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};

use crate::api::ApiError;

/// Unknown routes answer in the same envelope; a known path with another method is a 405 with
/// the methods it takes in `Allow` (`TRACE /api/orders` was a 404).
pub async fn not_found(req: actix_web::HttpRequest) -> HttpResponse {
    let allowed = allowed_methods(req.path());
    if allowed.is_empty() {
        return ApiError::not_found("NOT_FOUND", "没有这个接口").error_response();
    }
    let allow = allowed.join(", ");
    let mut res = ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "METHOD_NOT_ALLOWED",
        format!("这个接口只接受 {allow}"),
    )
    .error_response();
    if let Ok(v) = actix_web::http::header::HeaderValue::from_str(&allow) {
        res.headers_mut().insert(actix_web::http::header::ALLOW, v);
    }
    res
}

/// Every documented path template and its methods, from the OpenAPI document (which is collected
/// from the mounted services, so it is the route table).
static ROUTES: std::sync::LazyLock<Vec<(Vec<String>, Vec<String>)>> = std::sync::LazyLock::new(|| {
    const METHODS: [&str; 8] = ["get", "put", "post", "delete", "options", "head", "patch", "trace"];
    let doc = serde_json::to_value(crate::openapi::document()).unwrap_or_default();
    let Some(paths) = doc["paths"].as_object() else {
        return Vec::new();
    };
    paths
        .iter()
        .map(|(template, item)| {
            let segments = template.split('/').map(str::to_string).collect();
            let methods = METHODS
                .iter()
                .filter(|m| item.get(**m).is_some())
                .map(|m| m.to_ascii_uppercase())
                .collect();
            (segments, methods)
        })
        .collect()
});

/// The methods of the route `path` belongs to (empty for an unknown path).
pub fn allowed_methods(path: &str) -> Vec<String> {
    let segments: Vec<&str> = path.split('/').collect();
    let matches = |template: &[String]| {
        template.len() == segments.len()
            && template.iter().zip(&segments).all(|(t, s)| {
                if t.starts_with('{') && t.ends_with('}') {
                    !s.is_empty()
                } else {
                    t == s
                }
            })
    };
    let mut out: Vec<String> = Vec::new();
    for (template, methods) in ROUTES.iter() {
        if matches(template) {
            for m in methods {
                if !out.contains(m) {
                    out.push(m.clone());
                }
            }
        }
    }
    out
}
