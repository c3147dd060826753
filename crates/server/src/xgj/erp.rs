//! XGJ's ERP order push (`xgj-wecom.md` §3.3): four-field signature, answer
//! `{"result":"success"}`, deduplicated on (order_no, order_status, refund_status, modify_time).
//!
//! A refund or a closed trade on a known order cancels it (source `xgj_virtual`). Anything we
//! cannot act on (an unknown order, a state we ignore) is recorded and answered success: XGJ
//! retries failures only 3 times, and an error loop would help no one. The receipt is written
//! after the action, and the action is idempotent, so a crash in between is healed by the retry.

use actix_web::{post, web, HttpRequest, HttpResponse};
use chrono::Utc;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use xyt_domain::order::{OrderCommand, OrderError, XgjTradeChange};
use xyt_domain::OrderNo;
use xyt_integrations::xgj::sign::sign_eq;
use xyt_store::erp::{self, PushKey};
use xyt_store::intake;
use xyt_store::orders::ExecuteError;

use super::{freshness, read_capped, single_params, Freshness};
use crate::orders_service::{Actor, ServiceError};
use crate::state::AppState;

#[derive(Debug, Serialize, ToSchema)]
pub struct ErpReply {
    /// `success` when received; anything else makes XGJ retry.
    pub result: String,
    pub msg: String,
}

fn reply(ok: bool, msg: impl Into<String>) -> HttpResponse {
    let msg = msg.into();
    if !ok {
        tracing::warn!(msg = %msg, "erp push refused");
    }
    HttpResponse::Ok().json(ErpReply {
        result: if ok { "success" } else { "fail" }.into(),
        msg,
    })
}

#[derive(Debug, Deserialize)]
struct PushBody {
    order_no: String,
    order_status: i64,
    refund_status: i64,
    modify_time: i64,
}

/// What a push means for our order: a cancellation reason, or nothing to do.
fn cancellation(b: &PushBody) -> Option<&'static str> {
    match (b.order_status, b.refund_status) {
        (_, 5) => Some("闲鱼买家退款成功"),
        (23, _) => Some("闲鱼订单已退款"),
        (24, _) => Some("闲鱼交易关闭"),
        _ => None,
    }
}

/// 订单推送通知 from the XGJ open platform.
#[utoipa::path(
    operation_id = "xgjErpOrderPush",
    tag = "xgj",
    params(
        ("appid" = String, Query, description = "XGJ AppKey"),
        ("timestamp" = i64, Query, description = "Unix seconds"),
        ("sign" = String, Query, description = "md5(appKey,md5(body),timestamp,appSecret)"),
    ),
    request_body(content = Object, description = "seller_id, user_name, order_no, order_type, order_status, refund_status, modify_time"),
    responses((status = 200, description = "`result` success when received", body = ErpReply))
)]
#[post("/erp/order-push")]
pub async fn order_push(state: web::Data<AppState>, req: HttpRequest, payload: web::Payload) -> HttpResponse {
    let Ok(body) = read_capped(payload, state.config.xgj_max_body_bytes).await else {
        return reply(false, "请求体过大或读取失败");
    };
    let params = match single_params(req.query_string(), &["appid", "timestamp", "sign"]) {
        Ok(p) => p,
        Err(m) => return reply(false, format!("签名错误: {m}")),
    };
    let (appid, timestamp, sign) = (&params[0], &params[1], &params[2]);
    if *appid != state.config.xgj.app_id {
        return reply(false, "appid 不匹配");
    }
    if !matches!(freshness(timestamp, Utc::now().timestamp()), Freshness::Fresh) {
        return reply(false, "时间戳已超过有效期");
    }
    if !sign_eq(&state.config.xgj.erp_sign(&body, timestamp), sign) {
        return reply(false, "签名错误");
    }
    let raw: serde_json::Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(_) => return reply(false, "请求体不是合法的 JSON"),
    };
    if let Err((field, bad)) = xyt_domain::text::check_json(&raw) {
        return reply(false, format!("参数错误: {field}: {bad}"));
    }
    let b: PushBody = match serde_path_to_error::deserialize(raw.clone()) {
        Ok(b) => b,
        Err(e) => return reply(false, format!("参数错误: {e}")),
    };
    let key = PushKey {
        order_no: b.order_no.clone(),
        order_status: b.order_status,
        refund_status: b.refund_status,
        modify_time: b.modify_time,
    };
    match erp::seen(&state.pool, &key).await {
        Ok(true) => return reply(true, "接收成功(重复推送)"),
        Ok(false) => {}
        Err(e) => {
            tracing::error!(error = %e, "erp push lookup failed");
            return reply(false, "系统繁忙");
        }
    }
    let matched = match intake::order_no_for(&state.pool, &b.order_no).await {
        Ok(m) => m.and_then(|m| OrderNo::parse(&m).ok()),
        Err(e) => {
            tracing::error!(error = %e, "erp push lookup failed");
            return reply(false, "系统繁忙");
        }
    };
    let action = match (&matched, cancellation(&b)) {
        (None, _) => "unknown_order",
        (Some(_), None) => "recorded",
        (Some(order_no), Some(reason)) => {
            let now = Utc::now();
            let command = OrderCommand::CancelByXgj {
                reason: reason.into(),
                trade: XgjTradeChange {
                    order_status: b.order_status,
                    refund_status: b.refund_status,
                    modify_time: b.modify_time,
                },
                at: now,
            };
            match state
                .service
                .run(order_no, command, &Actor::at("xgj_virtual", now))
                .await
            {
                Ok(ran) if ran.events.is_empty() => "already_cancelled",
                Ok(_) => "cancelled",
                Err(ServiceError::Execute(ExecuteError::Domain(OrderError::AlreadyCompleted))) => "ignored_completed",
                // Taken in but its events never written (a crash mid-intake): nothing to cancel yet.
                Err(ServiceError::Execute(ExecuteError::Domain(OrderError::NotFound))) => "unknown_order",
                Err(e) => {
                    tracing::error!(order_no = %order_no, error = %e, "erp push cancel failed; XGJ will retry");
                    return reply(false, "系统繁忙");
                }
            }
        }
    };
    if let Err(e) = erp::record(&state.pool, &key, &raw, matched.as_ref().map(|m| m.as_str()), action).await {
        tracing::error!(error = %e, "erp push receipt failed; XGJ will retry");
        return reply(false, "系统繁忙");
    }
    tracing::info!(xianyu_order_no = %b.order_no, action, "erp push received");
    reply(true, "接收成功")
}
