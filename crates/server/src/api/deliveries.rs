//! 通知投递: every message the system sends, its attempts, and a manual resend.

use actix_web::http::StatusCode;
use actix_web::{get, post, web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;
use xyt_domain::delivery::{Channel, DeliveryKind, DeliveryStatus};
use xyt_domain::order::{DeliveryResendRequested, OrderCommand};
use xyt_domain::OrderNo;
use xyt_store::deliveries::{self, DeliveryView, ListFilter, ResendError};

use super::error::{ApiError, ErrorBody};
use crate::state::AppState;

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryList {
    pub items: Vec<DeliveryView>,
    pub next_cursor: Option<String>,
}

/// An order's deliveries, oldest first, messages whole.
#[utoipa::path(
    operation_id = "getOrderDeliveries",
    tag = "deliveries",
    params(("orderNo" = String, Path, description = "Our order number, `XY…`")),
    responses(
        (status = 200, description = "The order's deliveries", body = DeliveryList),
        (status = 404, description = "No such order", body = ErrorBody),
    )
)]
#[get("/orders/{orderNo}/deliveries")]
pub async fn order_deliveries(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let not_found = || ApiError::not_found("ORDER_NOT_FOUND", format!("订单 {path} 不存在"));
    let no = OrderNo::parse(&path).map_err(|_| not_found())?;
    if !xyt_store::views::order_has_events(&state.pool, no.as_str()).await? {
        return Err(not_found());
    }
    let items = deliveries::for_order(&state.pool, no.as_str()).await?;
    let list = DeliveryList {
        items,
        next_cursor: None,
    };
    super::personal::answer(&state, &req, no.as_str(), "deliveries", &list).await
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct DeliveryQuery {
    /// `pending`, `sending`, `sent`, `failed_retryable`, `failed_permanent`.
    #[param(pattern = r"^\s*(pending|sending|sent|failed_retryable|failed_permanent)?\s*$")]
    pub status: Option<String>,
    /// `wecom_bot`, `wecom_app`, `xgj_notify`, `mock`.
    #[param(pattern = r"^\s*(wecom_bot|wecom_app|xgj_notify|mock)?\s*$")]
    pub channel: Option<String>,
    /// `price_exception`, `user_form_group_push`, `order_push`, `user_notify`, `refund_alert`,
    /// `goods_change`.
    #[serde(rename = "type")]
    #[param(
        rename = "type",
        pattern = r"^\s*(price_exception|user_form_group_push|order_push|user_notify|refund_alert|goods_change)?\s*$"
    )]
    pub kind: Option<String>,
    #[param(value_type = Option<String>, format = DateTime)]
    pub created_from: Option<String>,
    #[param(value_type = Option<String>, format = DateTime)]
    pub created_to: Option<String>,
    /// 1 to 200 (default 50).
    #[param(value_type = Option<i64>, minimum = 1, maximum = 200)]
    pub limit: Option<String>,
    pub cursor: Option<String>,
}

/// All deliveries, newest first, with personal data masked in the messages.
#[utoipa::path(
    operation_id = "listDeliveries",
    tag = "deliveries",
    params(DeliveryQuery),
    responses(
        (status = 200, description = "A page of deliveries", body = DeliveryList),
        (status = 422, description = "Invalid filter", body = ErrorBody),
    )
)]
#[get("/deliveries")]
pub async fn list_deliveries(
    state: web::Data<AppState>,
    req: HttpRequest,
    q: web::Query<DeliveryQuery>,
) -> Result<HttpResponse, ApiError> {
    let q = q.into_inner();
    let mut p = super::params::Params::default();
    let status = p.one_of("status", &q.status, DeliveryStatus::ALL, DeliveryStatus::as_str);
    let channel = p.one_of("channel", &q.channel, Channel::ALL, Channel::as_str);
    let kind = p.one_of("type", &q.kind, DeliveryKind::ALL, DeliveryKind::as_str);
    let created_from = p.time("createdFrom", &q.created_from);
    let created_to = p.time("createdTo", &q.created_to);
    let limit = p.limit(&q.limit);
    let cursor = p.cursor(&q.cursor, deliveries::decode_cursor);
    p.finish()?;
    let filter = ListFilter {
        status,
        channel,
        kind,
        created_from,
        created_to,
        limit,
        cursor,
    };
    let (items, next_cursor) = deliveries::list(&state.pool, &filter).await?;
    Ok(super::etag::json(&req, &DeliveryList { items, next_cursor }))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ResendRequest {
    /// Another target: `mock://<name>`, `wecom-app:<chatid>` or a robot webhook URL.
    pub target: Option<String>,
}

/// Sends a delivery again now, optionally to another target; the attempt and who asked are
/// recorded on the order.
#[utoipa::path(
    operation_id = "resendDelivery",
    tag = "deliveries",
    params(("id" = Uuid, Path, description = "The delivery id")),
    request_body = Option<ResendRequest>,
    responses(
        (status = 200, description = "Attempted; the delivery as it now stands", body = DeliveryView),
        (status = 404, description = "No such delivery", body = ErrorBody),
        (status = 409, description = "Already queued or being sent (DELIVERY_QUEUED), or resent too often (RESEND_LIMIT_REACHED)", body = ErrorBody),
        (status = 422, description = "Invalid target", body = ErrorBody),
    )
)]
#[post("/deliveries/{id}/resend")]
pub async fn resend_delivery(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let not_found = || ApiError::not_found("DELIVERY_NOT_FOUND", format!("投递 {path} 不存在"));
    let id: Uuid = path.parse().map_err(|_| not_found())?;
    // No body (or `null`) means "the same target"; a body that is not a ResendRequest is refused,
    // not silently read as no body.
    let body: ResendRequest = if body.iter().all(u8::is_ascii_whitespace) {
        ResendRequest::default()
    } else {
        serde_json::from_slice::<Option<ResendRequest>>(&body)
            .map_err(|e| ApiError::field("body", format!("请求体无效:{e}")))?
            .unwrap_or_default()
    };
    let row = deliveries::get_row(&state.pool, id).await?.ok_or_else(not_found)?;
    let new_target = match body.target.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
        None => None,
        Some(raw) => {
            // Only WeCom: an operator can never send an order's text and proof to a URL of their
            // choosing. XGJ's callback stays the order's own notify_url.
            let refuse = |m: String| {
                let mut e = ApiError::field("target", m);
                e.code = "TARGET_NOT_ALLOWED";
                e
            };
            if row.kind.url_target() == xyt_domain::target::UrlTarget::XgjCallback {
                return Err(refuse("闲管家回调只能发往闲管家给的 notify_url,不能改目标".into()));
            }
            let t = state.targets.parse(raw).map_err(|e| refuse(e.0))?;
            Some((raw.to_string(), t.display(), t.channel()))
        }
    };
    let before = deliveries::queue_resend(
        &state.pool,
        id,
        new_target.as_ref().map(|(t, d, c)| (t.as_str(), d.as_str(), *c)),
    )
    .await
    .map_err(|e| match e {
        ResendError::NotFound => not_found(),
        ResendError::AlreadyQueued(status) => ApiError::new(
            StatusCode::CONFLICT,
            "DELIVERY_QUEUED",
            format!("该投递已在发送队列中({status}),无需重复补发"),
        ),
        ResendError::TooManyResends(n) => ApiError::new(
            StatusCode::CONFLICT,
            "RESEND_LIMIT_REACHED",
            format!(
                "该投递已补发 {n} 次,达到上限({}次);请检查目标配置后联系管理员",
                deliveries::MAX_RESENDS
            ),
        ),
        ResendError::Db(e) => ApiError::internal(e),
    })?;
    // A goods change has no order to record the resend on; its attempts show in 通知投递.
    if let Some(order_no) = before.order_no.as_deref().and_then(|o| OrderNo::parse(o).ok()) {
        let event = DeliveryResendRequested {
            delivery_id: id.to_string(),
            notification_type: before.kind.as_str().to_string(),
            notification_target: new_target
                .as_ref()
                .map(|t| t.1.clone())
                .unwrap_or(before.target_display.clone()),
            previous_target: new_target.as_ref().map(|_| before.target_display.clone()),
        };
        let actor = crate::orders_service::Actor::new(super::operator(&req));
        state
            .service
            .run(&order_no, OrderCommand::RequestResend(event), &actor)
            .await?;
    }
    // The new attempt runs now, in this request, unless a worker took it first.
    if let Some(claimed) = deliveries::claim_one(&state.pool, id, state.delivery_worker.config.lease).await? {
        state
            .delivery_worker
            .process(claimed)
            .await
            .map_err(ApiError::internal)?;
    }
    // A worker that took it first: wait for its outcome, so the answer shows the attempt.
    deliveries::settle(&state.pool, id, state.config.settle_wait()).await?;
    let view = deliveries::view(&state.pool, id, xyt_domain::personal::PersonalData::Whole)
        .await?
        .ok_or_else(not_found)?;
    Ok(HttpResponse::Ok().json(view))
}
