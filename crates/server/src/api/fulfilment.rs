//! The second half of an order: 代付 (payment and proof), 推单 (push to the agent group),
//! the agent's screenshot and its review, the profit share, and cancellation.

use actix_web::http::StatusCode;
use actix_web::{post, web, HttpRequest, HttpResponse};
use chrono::Utc;
use serde::Deserialize;
use utoipa::ToSchema;
use xyt_domain::delivery::DeliveryKind;
use xyt_domain::money::{parse_amount, PAYMENT_RANGE};
use xyt_domain::order::{messages, OrderCommand, PaymentConfirmed};
use xyt_store::config_centre;
use xyt_store::views::{self, OrderDetail};

use super::error::{ApiError, ErrorBody};
use super::params::decision_with_note;
use crate::orders_service::Actor;
use crate::state::AppState;

/// The signed-in operator, in this request.
fn operator(req: &HttpRequest) -> Actor {
    Actor::new(super::operator(req))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PaymentRequest {
    /// What was paid to the agent, yuan, e.g. `"426.00"`.
    #[schema(value_type = String, example = "426.00")]
    pub amount: String,
}

/// 确认付款: records the payment made by scanning the active QR code.
#[utoipa::path(
    operation_id = "confirmPayment",
    tag = "fulfilment",
    params(("orderNo" = String, Path)),
    request_body = PaymentRequest,
    responses(
        (status = 200, description = "Confirmed", body = OrderDetail),
        (status = 404, description = "No such order", body = ErrorBody),
        (status = 409, description = "Wrong state, already confirmed, or no active QR code", body = ErrorBody),
        (status = 422, description = "Invalid amount", body = ErrorBody),
    )
)]
#[post("/orders/{orderNo}/payment")]
pub async fn confirm_payment(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    body: web::Json<PaymentRequest>,
) -> Result<HttpResponse, ApiError> {
    let amount = parse_amount(&body.amount, &PAYMENT_RANGE)
        .map_err(|_| ApiError::field("amount", "金额必须是大于 0、最多两位小数的数字,例如 426.00"))?;
    let qr = views::active_qr_code(&state.pool).await?.ok_or_else(|| {
        ApiError::new(
            StatusCode::CONFLICT,
            "NO_ACTIVE_QR_CODE",
            "当前还没有生效二维码。请先到配置中心上传或登记二维码。",
        )
    })?;
    let command = OrderCommand::ConfirmPayment(PaymentConfirmed {
        amount,
        qr_code_id: qr.id,
        qr_code_label: qr.label,
        paid_at: Utc::now(),
    });
    Ok(HttpResponse::Ok().json(state.service.command(&path, command, &operator(&req)).await?))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PushRequest {
    /// Another agent group than the default (the first active one).
    pub agent_group_id: Option<String>,
}

/// 推送代理群: sends the order, the buyer's details and the payment proof to the agent group.
/// The send runs now; its outcome (`order_pushed_to_agent` / `order_push_failed`) is on the order.
#[utoipa::path(
    operation_id = "pushToAgent",
    tag = "fulfilment",
    params(("orderNo" = String, Path)),
    request_body = PushRequest,
    responses(
        (status = 200, description = "Pushed or failed; see the order's push and deliveries", body = OrderDetail),
        (status = 404, description = "No such order", body = ErrorBody),
        (status = 409, description = "No payment proof, wrong state, a push under way, or no active agent group to push to (`NO_AGENT_GROUP`)", body = ErrorBody),
        (status = 422, description = "`agentGroupId` names no active agent group", body = ErrorBody),
    )
)]
#[post("/orders/{orderNo}/push")]
pub async fn push_to_agent(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    body: Option<web::Json<PushRequest>>,
) -> Result<HttpResponse, ApiError> {
    let group_id = body
        .and_then(|b| b.into_inner().agent_group_id)
        .filter(|g| !g.trim().is_empty());
    let group = match &group_id {
        Some(id) => {
            let id: uuid::Uuid = id
                .trim()
                .parse()
                .map_err(|_| ApiError::field("agentGroupId", "代理群不存在"))?;
            config_centre::get_agent_group(&state.pool, id)
                .await?
                .filter(|g| g.active)
        }
        None => config_centre::list_agent_groups(&state.pool)
            .await?
            .into_iter()
            .find(|g| g.active),
    };
    let current = state.service.current(&path).await?;
    // A named group that is not there is a bad field; no active group at all is the config's
    // state (as NO_ACTIVE_QR_CODE for a payment), not the request's fault.
    let group = match (group, &group_id) {
        (Some(g), _) => g,
        (None, Some(_)) => return Err(ApiError::field("agentGroupId", "代理群不存在或已停用")),
        (None, None) => {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "NO_AGENT_GROUP",
                "没有可用的代理群,请先到配置中心添加代理群。",
            ))
        }
    };
    let request = messages::push_request(current.order(), &group.id.to_string(), &group.name, &group.wecom_target)
        .ok_or_else(|| ApiError::new(StatusCode::CONFLICT, "NO_USER_FORM", "买家还没有提交资料,不能推单"))?;
    let ran = state
        .service
        .run_on(current, OrderCommand::RequestPush(request), &operator(&req))
        .await?;
    // The push delivery was created with the event; it is sent now rather than at the next poll.
    state.service.send_now(&ran, DeliveryKind::OrderPush).await?;
    Ok(HttpResponse::Ok().json(state.service.detail(ran.current.order_no().as_str()).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ScreenshotReviewRequest {
    /// `confirm` (the screenshot is right after all) or `reject` (ask the agent for a new one).
    pub decision: String,
    /// Required to reject.
    pub note: Option<String>,
}

/// 复核截图匹配: confirm a mismatched screenshot, or reject it and ask for a new one.
#[utoipa::path(
    operation_id = "reviewScreenshot",
    tag = "fulfilment",
    params(("orderNo" = String, Path)),
    request_body = ScreenshotReviewRequest,
    responses(
        (status = 200, description = "Reviewed", body = OrderDetail),
        (status = 404, description = "No such order", body = ErrorBody),
        (status = 409, description = "Not waiting for a screenshot review", body = ErrorBody),
        (status = 422, description = "Invalid decision or missing note", body = ErrorBody),
    )
)]
#[post("/orders/{orderNo}/screenshot/review")]
pub async fn review_screenshot(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    body: web::Json<ScreenshotReviewRequest>,
) -> Result<HttpResponse, ApiError> {
    let (confirm, note) = decision_with_note(&body.decision, body.note.clone(), "confirm")?;
    let command = OrderCommand::ReviewScreenshot { confirm, note };
    Ok(HttpResponse::Ok().json(state.service.command(&path, command, &operator(&req)).await?))
}

/// 结算分润.
#[utoipa::path(
    operation_id = "settleProfitShare",
    tag = "fulfilment",
    params(("orderNo" = String, Path)),
    responses(
        (status = 200, description = "Settled", body = OrderDetail),
        (status = 404, description = "No such order", body = ErrorBody),
        (status = 409, description = "Not ready (order not completed) or already settled", body = ErrorBody),
    )
)]
#[post("/orders/{orderNo}/profit-share/settle")]
pub async fn settle_profit_share(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let command = OrderCommand::SettleProfitShare;
    Ok(HttpResponse::Ok().json(state.service.command(&path, command, &operator(&req)).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CancelRequest {
    /// Up to 500 characters, not blank.
    #[schema(pattern = r"\S", max_length = 500)]
    pub reason: String,
}

/// 取消订单, any time before completion.
#[utoipa::path(
    operation_id = "cancelOrder",
    tag = "fulfilment",
    params(("orderNo" = String, Path)),
    request_body = CancelRequest,
    responses(
        (status = 200, description = "Cancelled", body = OrderDetail),
        (status = 404, description = "No such order", body = ErrorBody),
        (status = 409, description = "Completed or already cancelled", body = ErrorBody),
        (status = 422, description = "Missing reason", body = ErrorBody),
    )
)]
#[post("/orders/{orderNo}/cancel")]
pub async fn cancel_order(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    body: web::Json<CancelRequest>,
) -> Result<HttpResponse, ApiError> {
    let reason = body.reason.trim().to_string();
    if reason.is_empty() || reason.chars().count() > 500 {
        return Err(ApiError::field("reason", "请填写取消原因(最多 500 个字符)"));
    }
    let command = OrderCommand::Cancel { reason, at: Utc::now() };
    Ok(HttpResponse::Ok().json(state.service.command(&path, command, &operator(&req)).await?))
}
