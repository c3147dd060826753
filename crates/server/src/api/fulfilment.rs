//! The second half of an order: 代付 (payment and proof), 推单 (push to the agent group),
//! the agent's screenshot and its review, the profit share, and cancellation.

use actix_web::http::StatusCode;
use actix_web::{post, web, HttpRequest, HttpResponse};
use chrono::Utc;
use rust_decimal::Decimal;
use serde::Deserialize;
use utoipa::ToSchema;
use xyt_domain::order::{messages, EventMeta, OrderCommand, OrderPushRequested, PaymentConfirmed};
use xyt_domain::target::Target;
use xyt_domain::OrderNo;
use xyt_store::orders::OnConflict;
use xyt_store::views::{self, OrderDetail};

use super::error::{ApiError, ErrorBody};
use super::orders::detail_or_404;
use crate::state::AppState;

fn meta(req: &HttpRequest) -> EventMeta {
    EventMeta::accepted(super::operator(req), crate::request_id::current(), Utc::now())
}

/// An operator's `yes`/`reject` decision with its note (required to reject, at most 500 chars).
pub fn decision_with_note(decision: &str, note: Option<String>, yes: &str) -> Result<(bool, String), ApiError> {
    let note = note.unwrap_or_default();
    if note.chars().count() > 500 {
        return Err(ApiError::field("note", "最多 500 个字符"));
    }
    match decision {
        d if d == yes => Ok((true, note)),
        "reject" if note.trim().is_empty() => Err(ApiError::field("note", "拒绝时必须写明原因")),
        "reject" => Ok((false, note)),
        _ => Err(ApiError::field("decision", format!("只能是 {yes} 或 reject"))),
    }
}

/// Runs an operator's command (re-decided on the new state if the order changed meanwhile) and
/// answers with the order as it now stands.
pub async fn run(
    state: &AppState,
    req: &HttpRequest,
    order_no: &str,
    command: OrderCommand,
) -> Result<OrderDetail, ApiError> {
    let detail = detail_or_404(state, order_no).await?;
    let no = OrderNo::parse(&detail.order_no).map_err(ApiError::internal)?;
    state
        .orders
        .execute(&no, command, &meta(req), OnConflict::Retry)
        .await?;
    crate::pipeline::run_owed_steps(state, &no, &crate::request_id::current()).await;
    detail_or_404(state, &detail.order_no).await
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
    let amount: Decimal = body
        .amount
        .trim()
        .parse()
        .ok()
        .filter(|a: &Decimal| *a > Decimal::ZERO && a.scale() <= 2 && *a < Decimal::new(10_000_000, 0))
        .ok_or_else(|| ApiError::field("amount", "金额必须是大于 0、最多两位小数的数字,例如 426.00"))?;
    let qr = views::active_qr_code(&state.pool).await?.ok_or_else(|| {
        ApiError::new(
            StatusCode::CONFLICT,
            "NO_ACTIVE_QR_CODE",
            "当前还没有生效二维码。请先到配置中心上传或登记二维码。",
        )
    })?;
    let mut amount = amount;
    amount.rescale(2);
    let command = OrderCommand::ConfirmPayment(PaymentConfirmed {
        amount,
        qr_code_id: qr.id,
        qr_code_label: qr.label,
        paid_at: Utc::now(),
    });
    Ok(HttpResponse::Ok().json(run(&state, &req, &path, command).await?))
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
    let group: Option<(uuid::Uuid, String, String)> = match &group_id {
        Some(id) => {
            let id: uuid::Uuid = id
                .trim()
                .parse()
                .map_err(|_| ApiError::field("agentGroupId", "代理群不存在"))?;
            sqlx::query_as("SELECT id, name, wecom_target FROM agent_groups WHERE id = $1 AND active")
                .bind(id)
                .fetch_optional(&state.pool)
                .await?
        }
        None => {
            sqlx::query_as(
                "SELECT id, name, wecom_target FROM agent_groups WHERE active ORDER BY created_at, id LIMIT 1",
            )
            .fetch_optional(&state.pool)
            .await?
        }
    };
    let detail = detail_or_404(&state, &path).await?;
    // A named group that is not there is a bad field; no active group at all is the config's
    // state (as NO_ACTIVE_QR_CODE for a payment), not the request's fault.
    let (gid, name, target) = match (group, &group_id) {
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
    let no = OrderNo::parse(&detail.order_no).map_err(ApiError::internal)?;
    let order = state.orders.load(&no).await?;
    let text = messages::order_push_text(&order, false)
        .ok_or_else(|| ApiError::new(StatusCode::CONFLICT, "NO_USER_FORM", "买家还没有提交资料,不能推单"))?;
    let parsed = Target::parse(&target, false).ok();
    let command = OrderCommand::RequestPush(OrderPushRequested {
        agent_group_id: gid.to_string(),
        agent_group_name: name,
        target_group_id: match &parsed {
            Some(Target::WecomApp { chat_id }) => Some(chat_id.clone()),
            _ => Some(gid.to_string()),
        },
        notification_target: parsed.map(|t| t.display()).unwrap_or(target),
        message_text: text,
    });
    let committed = state
        .orders
        .execute(&no, command, &meta(&req), OnConflict::Retry)
        .await?;
    // The push delivery was created with the event; send it now rather than at the next poll.
    if let Some(seq) = committed.first().map(|e| e.sequence as i64) {
        let id: Option<uuid::Uuid> = sqlx::query_scalar(
            "SELECT id FROM deliveries WHERE order_no = $1 AND source_sequence = $2 AND type = 'order_push'",
        )
        .bind(no.as_str())
        .bind(seq)
        .fetch_optional(&state.pool)
        .await?;
        if let Some(id) = id {
            if let Some(row) =
                xyt_store::deliveries::claim_one(&state.pool, id, state.delivery_worker.config.lease).await?
            {
                state.delivery_worker.process(row).await.map_err(ApiError::internal)?;
            }
            xyt_store::deliveries::settle(&state.pool, id, state.config.settle_wait()).await?;
        }
    }
    Ok(HttpResponse::Ok().json(detail_or_404(&state, no.as_str()).await?))
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
    Ok(HttpResponse::Ok().json(run(&state, &req, &path, OrderCommand::ReviewScreenshot { confirm, note }).await?))
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
    Ok(HttpResponse::Ok().json(run(&state, &req, &path, OrderCommand::SettleProfitShare).await?))
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
    Ok(HttpResponse::Ok().json(run(&state, &req, &path, OrderCommand::Cancel { reason, at: Utc::now() }).await?))
}
