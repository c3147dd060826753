//! Disputes: replay an order to any of its events, and check its hash chain.

use actix_web::{get, web, HttpResponse};
use serde::Deserialize;
use utoipa::IntoParams;
use xyt_domain::OrderNo;
use xyt_store::chain::{self, ChainReport};
use xyt_store::replay::{self, Replay, ReplayError};
use xyt_store::views;

use super::error::{ApiError, ErrorBody};
use crate::state::AppState;

fn not_found(order_no: &str) -> ApiError {
    ApiError::not_found("ORDER_NOT_FOUND", format!("订单 {order_no} 不存在"))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ReplayQuery {
    /// The event sequence to replay to (1 … the last); the last event when absent.
    #[param(value_type = Option<i64>, minimum = 1)]
    pub at: Option<String>,
}

/// Replays the order to `at`, masking personal data for roles that do not see it.
pub async fn replay_of(state: &AppState, order_no: &str, at: Option<&str>) -> Result<Replay, ApiError> {
    let Ok(no) = OrderNo::parse(order_no) else {
        return Err(not_found(order_no));
    };
    let at = match at.map(str::trim).filter(|s| !s.is_empty()) {
        None => None,
        Some(s) => match s.parse::<i64>() {
            Ok(n) if n >= 1 => Some(n),
            _ => return Err(ApiError::field("at", "at 必须是从 1 开始的事件序号")),
        },
    };
    match replay::replay(&state.pool, no.as_str(), at).await {
        Ok(r) => Ok(r),
        Err(ReplayError::NotFound) => Err(not_found(order_no)),
        Err(ReplayError::PastEnd { last }) => Err(ApiError::field(
            "at",
            format!("订单只有 {last} 个事件,at 必须在 1 到 {last} 之间"),
        )),
        Err(e) => Err(ApiError::internal(e)),
    }
}

/// 事件回放: the order detail exactly as it stood right after event `at`, and per event what
/// it changed.
#[utoipa::path(
    operation_id = "replayOrder",
    tag = "orders",
    params(("orderNo" = String, Path, description = "Our order number, `XY…`"), ReplayQuery),
    responses(
        (status = 200, description = "The order at `at`", body = Replay),
        (status = 404, description = "No such order", body = ErrorBody),
        (status = 422, description = "`at` is not a sequence of the order", body = ErrorBody),
    )
)]
#[get("/orders/{orderNo}/replay")]
pub async fn replay_order(
    state: web::Data<AppState>,
    req: actix_web::HttpRequest,
    path: web::Path<String>,
    query: web::Query<ReplayQuery>,
) -> Result<HttpResponse, ApiError> {
    let r = replay_of(&state, &path, query.at.as_deref()).await?;
    super::personal::answer(&state, &req, &r.order_no, "replay", &r).await
}

/// 防篡改校验: recomputes the order's hash chain and names the first event that was edited,
/// removed or inserted.
#[utoipa::path(
    operation_id = "verifyOrder",
    tag = "orders",
    params(("orderNo" = String, Path, description = "Our order number, `XY…`")),
    responses(
        (status = 200, description = "The chain's state (`ok` false names the problems)", body = ChainReport),
        (status = 404, description = "No such order", body = ErrorBody),
    )
)]
#[get("/orders/{orderNo}/verify")]
pub async fn verify_order(state: web::Data<AppState>, path: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let Ok(no) = OrderNo::parse(&path) else {
        return Err(not_found(&path));
    };
    match chain::verify_order(&state.pool, no.as_str()).await? {
        Some(report) => Ok(HttpResponse::Ok().json(report)),
        None => Err(not_found(&path)),
    }
}

/// 争议材料: a zip with `manifest.json` (the order, every event with its metadata and chain
/// hash, the deliveries with every attempt, the config each decision used, image hashes), the
/// images and a printable Chinese `report.html`. Each export is recorded (who, when, the chain
/// head and the manifest's sha256). `xyt dispute verify` checks it offline.
#[utoipa::path(
    operation_id = "exportDisputeBundle",
    tag = "orders",
    params(("orderNo" = String, Path, description = "Our order number, `XY…`")),
    responses(
        (status = 200, description = "The bundle (application/zip)", content_type = "application/zip", body = Vec<u8>),
        (status = 404, description = "No such order", body = ErrorBody),
    )
)]
#[get("/orders/{orderNo}/dispute-bundle")]
pub async fn dispute_bundle(
    state: web::Data<AppState>,
    req: actix_web::HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let Ok(no) = OrderNo::parse(&path) else {
        return Err(not_found(&path));
    };
    let who = super::operator(&req);
    // The bundle is evidence: its events must hash as stored, so it carries personal data whole
    // for every role that may export it, and the read is recorded like any whole read.
    if views::order_has_events(&state.pool, no.as_str()).await? {
        xyt_store::access::record_personal_read(&state.pool, &who, no.as_str(), "dispute-bundle").await?;
    }
    match crate::bundle::export(&state.pool, state.files.as_ref(), no.as_str(), &who).await {
        Ok(b) => Ok(HttpResponse::Ok()
            .content_type("application/zip")
            .insert_header((
                "Content-Disposition",
                format!("attachment; filename=\"dispute-{}.zip\"", no.as_str()),
            ))
            .insert_header(("X-Bundle-Manifest-Sha256", b.manifest_sha256))
            .insert_header(("X-Chain-Head", format!("{}:{}", b.head_sequence, b.head_hash)))
            .body(b.bytes)),
        Err(crate::bundle::BundleError::NotFound) => Err(not_found(&path)),
        Err(e) => Err(ApiError::internal(e)),
    }
}
