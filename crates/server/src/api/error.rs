//! The one error envelope of the REST API: `{code, message, fieldErrors?, requestId}`.
//! The cause chain goes to the log, never to the client.

use std::collections::BTreeMap;

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;
use utoipa::ToSchema;

use crate::request_id;

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ErrorBody {
    /// Stable machine-readable code, e.g. `VALIDATION_FAILED`, `ORDER_NOT_FOUND`.
    pub code: String,
    /// What went wrong, for a person.
    pub message: String,
    /// Per-field messages for 422 answers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field_errors: Option<BTreeMap<String, String>>,
    /// The request id, also in the `X-Request-Id` header and the server log.
    pub request_id: String,
}

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub field_errors: Option<BTreeMap<String, String>>,
    pub request_id: String,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            field_errors: None,
            request_id: request_id::current(),
        }
    }

    pub fn not_found(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, code, message)
    }

    pub fn validation(field_errors: BTreeMap<String, String>) -> Self {
        let mut e = Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "VALIDATION_FAILED",
            "请求参数有误,请按字段提示修改",
        );
        e.field_errors = Some(field_errors);
        e
    }

    pub fn field(field: &str, message: impl Into<String>) -> Self {
        Self::validation(BTreeMap::from([(field.to_string(), message.into())]))
    }

    /// Infrastructure failure: logged with its cause, answered without it.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        let e = Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "SERVICE_UNAVAILABLE",
            "服务暂时不可用,请稍后重试",
        );
        tracing::error!(request_id = %e.request_id, error = %cause, "request failed");
        e
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}: {}", self.status, self.code, self.message)
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        HttpResponse::build(self.status).json(ErrorBody {
            code: self.code.into(),
            message: self.message.clone(),
            field_errors: self.field_errors.clone(),
            request_id: self.request_id.clone(),
        })
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(e: sqlx::Error) -> Self {
        Self::internal(e)
    }
}

/// Query, path and JSON extractor failures become 422 envelopes instead of actix's plain text.
pub fn query_error(err: actix_web::error::QueryPayloadError, _: &actix_web::HttpRequest) -> actix_web::Error {
    ApiError::field("query", err.to_string()).into()
}

pub fn json_error(err: actix_web::error::JsonPayloadError, _: &actix_web::HttpRequest) -> actix_web::Error {
    use actix_web::error::JsonPayloadError as J;
    match err {
        J::OverflowKnownLength { .. } | J::Overflow { .. } => {
            ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "PAYLOAD_TOO_LARGE", "请求体过大").into()
        }
        J::ContentType => ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "UNSUPPORTED_MEDIA_TYPE",
            "请求体必须是 application/json",
        )
        .into(),
        other => ApiError::field("body", other.to_string()).into(),
    }
}

pub fn path_error(err: actix_web::error::PathError, _: &actix_web::HttpRequest) -> actix_web::Error {
    ApiError::field("path", err.to_string()).into()
}

impl From<crate::orders_service::ServiceError> for ApiError {
    fn from(e: crate::orders_service::ServiceError) -> Self {
        use crate::orders_service::ServiceError as S;
        match e {
            S::NotFound(no) => Self::not_found("ORDER_NOT_FOUND", format!("订单 {no} 不存在")),
            S::Execute(e) => e.into(),
            S::Infra(cause) => Self::internal(cause),
        }
    }
}

impl From<xyt_store::orders::ExecuteError> for ApiError {
    fn from(e: xyt_store::orders::ExecuteError) -> Self {
        use xyt_store::orders::ExecuteError as E;
        match e {
            E::Conflict => Self::new(StatusCode::CONFLICT, "ORDER_CHANGED", "订单刚被其他人修改,请刷新后重试"),
            E::Domain(d) => d.into(),
            E::Store(cause) => Self::internal(cause),
        }
    }
}

/// Every refusal of the order, in the operator's words. No catch-all: a new refusal does not
/// compile until it has its message here.
impl From<xyt_domain::order::OrderError> for ApiError {
    fn from(d: xyt_domain::order::OrderError) -> Self {
        use xyt_domain::order::OrderError as D;
        let code = d.code();
        let conflict = |message: String| Self::new(StatusCode::CONFLICT, code, message);
        match d {
            D::NotFound => Self::not_found("ORDER_NOT_FOUND", "订单不存在"),
            D::ReasonRequired => Self::field("note", "拒绝时必须填写原因"),
            D::InvalidState { action, status } => {
                conflict(format!("订单当前为「{}」,不能执行 {action}", status.label()))
            }
            D::FormLocked(status) => conflict(format!("订单当前为「{}」,资料已不能修改", status.label())),
            D::PaymentNotConfirmed => conflict("当前还没有付款记录,先点上面的「确认付款」。".into()),
            D::PaymentAlreadyConfirmed => conflict("已确认过付款,无需重复确认".into()),
            D::NoPaymentProof => conflict("当前不满足推送条件:需要先上传付款凭证,再推送给代理处理。".into()),
            D::PushInFlight => conflict("推单正在进行中,请等待结果后再操作".into()),
            D::ProfitShareNotReady => conflict("分润尚未就绪(not_ready):订单完成后才能结算".into()),
            D::ProfitShareAlreadySettled => conflict("分润已结算".into()),
            D::AlreadyCompleted => conflict("订单已完成,不能取消".into()),
            D::OtherExternalOrder { order_no, existing, .. } => {
                conflict(format!("订单 {order_no} 已对应闲管家订单 {existing},不能再接另一笔"))
            }
            D::InvalidQuantity(q) => conflict(format!("购买数量至少为 1,收到 {q}")),
            D::MaxAmountBelowPrice {
                amount_cent,
                max_amount_cent,
            } => conflict(format!(
                "订单金额 {amount_cent} 分高于闲管家给出的上限 {max_amount_cent} 分"
            )),
            D::InvalidFeeRate(rate) => conflict(format!("平台费率必须在 0(含)到 1(不含)之间,当前为 {rate}")),
            D::AmountOverflow => conflict("订单金额超出可计算范围".into()),
            D::StalePriceCheck => conflict("买家刚修改了资料,价格校验需按新资料重做,请刷新后重试".into()),
            D::StaleScreenshot => conflict("截图刚被新的上传替换,请刷新后重试".into()),
        }
    }
}
