//! The XGJ (闲管家) gateway under `/xgj`: the virtual-supply endpoints XGJ calls
//! (`/xgj/goofish/...`, six-field signature) and the ERP order push (`/xgj/erp/order-push`,
//! four-field signature).
//!
//! Every answer is in XGJ's own envelope (`{code,msg,data}`, or `{result,msg}` for the ERP push),
//! with HTTP 200: XGJ reads codes, not HTTP statuses; a refused field is named in `msg`. The raw
//! body is read under a cap and the signature checked over those exact bytes before any JSON is
//! parsed.

pub mod erp;
pub mod goods_sync;
pub mod intake;
pub mod refund;
pub mod supply;

use actix_web::{web, HttpResponse};
use futures::StreamExt;
use serde::Serialize;
use utoipa::ToSchema;

use crate::env_config::EnvConfig;

pub use xyt_integrations::xgj::gate::{freshness, single_params, Freshness, MAX_AGE_SECS, MAX_AHEAD_SECS};

/// XGJ's virtual-supply envelope.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct XgjReply {
    /// 0 on success; XGJ's error codes otherwise (401 签名错误, 408 时间戳已超过有效期, 1100 商品不存在,
    /// 1200 订单不存在, 1201 下单参数错误, 1202 下单金额低于成本价, 500 系统异常, ...).
    pub code: i64,
    pub msg: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub data: Option<serde_json::Value>,
}

impl XgjReply {
    pub fn ok(data: serde_json::Value) -> Self {
        Self {
            code: 0,
            msg: "OK".into(),
            data: Some(data),
        }
    }

    pub fn err(code: i64, msg: impl Into<String>) -> Self {
        Self {
            code,
            msg: msg.into(),
            data: None,
        }
    }

    pub fn bad_params(detail: impl std::fmt::Display) -> Self {
        Self::err(1201, format!("下单参数错误: {detail}"))
    }

    pub fn system_error() -> Self {
        Self::err(500, "系统异常")
    }

    pub fn respond(&self) -> HttpResponse {
        if self.code != 0 {
            tracing::warn!(code = self.code, msg = %self.msg, "xgj call refused");
        }
        HttpResponse::Ok().json(self)
    }
}

pub enum BodyError {
    TooLarge,
    Broken,
}

/// Reads the body up to `cap` bytes. A larger body is drained (within reason, so the client
/// still reads our answer) and refused.
pub async fn read_capped(mut payload: web::Payload, cap: usize) -> Result<Vec<u8>, BodyError> {
    let mut buf = Vec::new();
    let mut too_large = false;
    let mut seen = 0usize;
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|_| BodyError::Broken)?;
        seen += chunk.len();
        if too_large || buf.len() + chunk.len() > cap {
            too_large = true;
            buf.clear();
            if seen > cap.saturating_mul(64).max(16 << 20) {
                break;
            }
            continue;
        }
        buf.extend_from_slice(&chunk);
    }
    if too_large {
        Err(BodyError::TooLarge)
    } else {
        Ok(buf)
    }
}

/// A body whose JSON carries a NUL or another control character in any string: the field it is
/// in, for XGJ's error message. Nothing such reaches the database (PostgreSQL refuses NUL).
pub fn control_char_field(body: &[u8]) -> Option<String> {
    let v: serde_json::Value = serde_json::from_slice(body).ok()?;
    xyt_domain::text::check_json(&v)
        .err()
        .map(|(field, bad)| format!("{}: {bad}", if field.is_empty() { "body" } else { &field }))
}

/// Checks a virtual-supply call: query `mch_id`, `timestamp`, `sign` once each, our merchant,
/// a fresh timestamp, and the six-field signature over the raw body. Returns the `mch_id`.
pub fn verify_supply(config: &EnvConfig, query: &str, body: &[u8], now: i64) -> Result<String, XgjReply> {
    xyt_integrations::xgj::gate::verify_supply(&config.xgj, query, body, now).map_err(|r| XgjReply::err(r.code, r.msg))
}

pub fn scope() -> utoipa_actix_web::scope::Scope<
    impl actix_web::dev::ServiceFactory<
        actix_web::dev::ServiceRequest,
        Config = (),
        Response = actix_web::dev::ServiceResponse,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    utoipa_actix_web::scope::scope("/xgj")
        .service(supply::purchase_create)
        .service(supply::open_info)
        .service(supply::user_info)
        .service(supply::goods_list)
        .service(supply::goods_detail)
        .service(supply::order_detail)
        .service(goods_sync::subscribe)
        .service(goods_sync::unsubscribe)
        .service(goods_sync::subscribe_list)
        .service(refund::refund_apply)
        .service(refund::refund_notify)
        .service(erp::order_push)
}
