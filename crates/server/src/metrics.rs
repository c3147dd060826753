//! `GET /metrics` (Prometheus text format): request latency by route, intake and command counts
//! by outcome, projection lag, catch-up duration, delivery queue depth, worker attempts.
//!
//! Open without credentials only to a scraper on loopback that did not come through a proxy
//! (no `Forwarded`/`X-Forwarded-For`); anyone else needs an admin session or key
//! (`xyt_domain::access::need`).

use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{web, HttpRequest, HttpResponse};
use xyt_store::metrics;

use crate::state::AppState;

/// A loopback peer, with no sign of a reverse proxy in front of it.
pub fn from_local_scraper(req: &HttpRequest) -> bool {
    let proxied = req.headers().contains_key("forwarded") || req.headers().contains_key("x-forwarded-for");
    !proxied && req.peer_addr().is_some_and(|a| a.ip().is_loopback())
}

/// Times every request, labelled by its route template (never the concrete path, which would
/// carry order numbers and form tokens).
pub async fn middleware(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let started = Instant::now();
    let method = req.method().as_str().to_string();
    let res = next.call(req).await?;
    let route = res.request().match_pattern().unwrap_or_else(|| "unmatched".into());
    let status = res.status().as_u16();
    let class = match status {
        100..=199 => "1xx",
        200..=299 => "2xx",
        300..=399 => "3xx",
        400..=499 => "4xx",
        _ => "5xx",
    };
    metrics::observe(
        "xyt_http_request_duration_seconds",
        "HTTP request latency by route template, method and status class",
        &[("route", &route), ("method", &method), ("status", class)],
        started.elapsed().as_secs_f64(),
    );
    Ok(res)
}

pub async fn handler(state: web::Data<AppState>) -> HttpResponse {
    let mut out = String::new();
    metrics::render(&mut out);
    let pool = &state.pool;
    let mark = state.orders.projections().checkpoint().await;
    let lag: Result<(i64, f64), sqlx::Error> = match mark {
        Ok(m) => {
            sqlx::query_as(
                "SELECT count(*), COALESCE(EXTRACT(EPOCH FROM now() - min(recorded_at))::float8, 0)
                 FROM (SELECT recorded_at FROM events WHERE (tx, position) > ($1::text::xid8, $2)
                       ORDER BY tx, position LIMIT 100000) e",
            )
            .bind(m.tx.to_string())
            .bind(m.position)
            .fetch_one(pool)
            .await
        }
        Err(e) => Err(e),
    };
    match lag {
        Ok((events, seconds)) => {
            metrics::gauge(
                &mut out,
                "xyt_projection_lag_events",
                "Events after the catch-up mark (up to 100000; applied or not)",
                &[(String::new(), events as f64)],
            );
            metrics::gauge(
                &mut out,
                "xyt_projection_lag_seconds",
                "Age of the oldest event after the catch-up mark",
                &[(String::new(), seconds)],
            );
        }
        Err(e) => tracing::warn!(error = %e, "metrics: projection lag unavailable"),
    }
    // The queue only (the partial index `deliveries_due`): sent and failed rows are history.
    let queue: Result<Vec<(String, i64)>, sqlx::Error> = sqlx::query_as(
        "SELECT s, (SELECT count(*) FROM deliveries d WHERE d.status = s
                      AND d.status IN ('pending', 'failed_retryable', 'sending'))
         FROM unnest(ARRAY['pending', 'sending', 'failed_retryable']) s",
    )
    .fetch_all(pool)
    .await;
    match queue {
        Ok(rows) => metrics::gauge(
            &mut out,
            "xyt_delivery_queue",
            "Deliveries waiting or being sent, by status",
            &rows
                .into_iter()
                .map(|(s, n)| (format!("status=\"{s}\""), n as f64))
                .collect::<Vec<_>>(),
        ),
        Err(e) => tracing::warn!(error = %e, "metrics: delivery queue unavailable"),
    }
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(out)
}
