//! The operator console (the built SPA in `frontend/dist`) served at `/` from the same origin as
//! the API, so the session cookie and CSRF header need no CORS.
//!
//! Every GET that no route took and that is not under a reserved prefix (`/api`, `/xgj`, `/f/`,
//! `/docs`) is the console's: an existing file is served as is (hashed `/assets/*` for a year),
//! anything else gets `index.html`, so a deep link such as `/orders/XY…` loads the app and its
//! router shows the page. Reserved prefixes keep their JSON 404.

use std::path::{Component, Path, PathBuf};

use actix_web::http::{header, Method};
use actix_web::{web, HttpRequest, HttpResponse};

use crate::state::AppState;

const CONSOLE_CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
     img-src 'self' data: blob:; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; \
     frame-ancestors 'none'";

const RESERVED: [&str; 5] = ["/api", "/xgj", "/f/", "/docs", "/healthz"];

fn reserved(path: &str) -> bool {
    RESERVED
        .iter()
        .any(|p| path == p.trim_end_matches('/') || path.starts_with(&format!("{}/", p.trim_end_matches('/'))))
}

/// The file under `root` that `path` names, refusing anything that could leave `root`.
fn file_under(root: &Path, path: &str) -> Option<PathBuf> {
    let rel = Path::new(path.trim_start_matches('/'));
    if rel.components().any(|c| !matches!(c, Component::Normal(_))) {
        return None;
    }
    let full = root.join(rel);
    full.is_file().then_some(full)
}

fn content_type(path: &Path) -> &'static str {
    match path.extension().and_then(|e| e.to_str()).unwrap_or("") {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "json" | "map" => "application/json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "webp" => "image/webp",
        "ico" => "image/x-icon",
        "woff2" => "font/woff2",
        "txt" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

/// How long a browser may keep a console file: hashed assets forever, the rest revalidated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Caching {
    Immutable,
    Revalidate,
}

async fn send(file: &Path, caching: Caching, method: &Method) -> HttpResponse {
    match tokio::fs::read(file).await {
        Ok(bytes) => {
            let mut res = HttpResponse::Ok();
            if file.extension().is_some_and(|e| e == "html") {
                // The app loads only its own scripts; antd injects its styles at run time, and
                // image previews are blob: URLs.
                res.insert_header((header::CONTENT_SECURITY_POLICY, CONSOLE_CSP));
            }
            res.content_type(content_type(file)).insert_header((
                header::CACHE_CONTROL,
                match caching {
                    Caching::Immutable => "public, max-age=31536000, immutable",
                    Caching::Revalidate => "no-cache",
                },
            ));
            if method == Method::HEAD {
                res.finish()
            } else {
                res.body(bytes)
            }
        }
        Err(e) => {
            tracing::warn!(file = %file.display(), error = %e, "console file unreadable");
            actix_web::ResponseError::error_response(&crate::api::ApiError::not_found("NOT_FOUND", "没有这个接口"))
        }
    }
}

/// The default service: the console for GETs outside the reserved prefixes, JSON 404 otherwise.
pub async fn serve(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let path = req.path();
    let head = req.method() == Method::HEAD;
    if !(req.method() == Method::GET || head) || reserved(path) {
        return crate::unmatched::not_found(req.clone()).await;
    }
    let root = &state.config.console_dir;
    if let Some(file) = file_under(root, path) {
        let caching = if path.starts_with("/assets/") {
            Caching::Immutable
        } else {
            Caching::Revalidate
        };
        return send(&file, caching, req.method()).await;
    }
    // A missing hashed asset is a stale tab after a deploy: a 404, not the app's HTML.
    if path.starts_with("/assets/") {
        return crate::unmatched::not_found(req.clone()).await;
    }
    let index = root.join("index.html");
    if index.is_file() {
        return send(&index, Caching::Revalidate, req.method()).await;
    }
    HttpResponse::NotFound()
        .content_type("text/plain; charset=utf-8")
        .body(format!(
            "控制台还没有构建:在 frontend/ 里运行 npm ci && npm run build(或 just run),或把 XYT_CONSOLE_DIR 指向构建目录(当前:{})。\n",
            root.display()
        ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reserved_prefixes_keep_their_meaning() {
        for p in [
            "/api",
            "/api/orders",
            "/xgj/goofish/x",
            "/f/tok",
            "/docs",
            "/docs/",
            "/healthz",
        ] {
            assert!(reserved(p), "{p}");
        }
        for p in ["/", "/orders/XY2026", "/apix", "/fun", "/login", "/deliveries"] {
            assert!(!reserved(p), "{p}");
        }
    }

    #[test]
    fn paths_cannot_leave_the_console_directory() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("index.html"), "x").unwrap();
        assert!(file_under(dir.path(), "/index.html").is_some());
        assert!(file_under(dir.path(), "/../index.html").is_none());
        assert!(file_under(dir.path(), "/./index.html").is_none());
        assert!(file_under(dir.path(), "/missing.js").is_none());
        assert!(file_under(dir.path(), "/").is_none());
    }
}
