//! XGJ's refund calls (`xgj-wecom.md` §3.5): 自动撤单 (`refund/apply`) and the refund notice
//! (`refund/notify`). Both are signed like every virtual-supply call, find the order by XGJ's
//! `order_no` (or our `out_order_no`), record each step as an event with source `xgj_virtual`,
//! and answer a repeat exactly as the first call, from the order's recorded decision.

use actix_web::{post, web, HttpRequest, HttpResponse};
use chrono::Utc;
use serde::Deserialize;
use serde_json::json;
use xyt_domain::order::{OrderCommand, OrderError, XgjRefundApplied, XgjRefundNotified};
use xyt_domain::OrderNo;
use xyt_store::intake;
use xyt_store::orders::ExecuteError;

use super::supply::{guarded, infra, parse_obj};
use super::XgjReply;
use crate::orders_service::{Actor, ServiceError};
use crate::state::AppState;

#[derive(Debug, Deserialize)]
struct RefundBody {
    order_no: Option<String>,
    out_order_no: Option<String>,
    #[allow(dead_code)]
    order_type: Option<i64>,
    refund_amount: Option<i64>,
    refund_reason: Option<String>,
    refund_scene: Option<String>,
    apply_time: Option<i64>,
    refund_time: Option<i64>,
}

enum Found {
    Order(OrderNo),
    Unknown,
}

async fn find_order(state: &AppState, b: &RefundBody) -> Result<Found, String> {
    let by_external = match b.order_no.as_deref().filter(|s| !s.is_empty()) {
        Some(no) => intake::find(&state.pool, no)
            .await
            .map_err(|e| e.to_string())?
            .map(|i| i.order_no),
        None => None,
    };
    let order_no = match (by_external, b.out_order_no.as_deref().filter(|s| !s.is_empty())) {
        (Some(o), _) => Some(o),
        (None, Some(out)) => intake::order_no_for_out_order_no(&state.pool, out)
            .await
            .map_err(|e| e.to_string())?,
        (None, None) => None,
    };
    Ok(match order_no.and_then(|o| OrderNo::parse(&o).ok()) {
        Some(no) => Found::Order(no),
        None => Found::Unknown,
    })
}

fn xgj() -> Actor {
    Actor::new("xgj_virtual")
}

/// The order had no events yet (taken in, never written): XGJ hears it does not exist.
fn unknown(e: &ServiceError) -> bool {
    matches!(e, ServiceError::Execute(ExecuteError::Domain(OrderError::NotFound)))
}

/// 自动撤单: before the agent is paid we agree and cancel the order; after, we refuse with a
/// non-zero code (the only `result` XGJ documents is `agree`), so the merchant decides in XGJ,
/// and operators get a `refund_alert` delivery.
#[utoipa::path(
    operation_id = "xgjRefundApply",
    tag = "xgj",
    params(("mch_id" = String, Query), ("timestamp" = i64, Query), ("sign" = String, Query)),
    request_body(content = Object, description = "order_no, order_type, out_order_no, biz_order_no, refund_type, refund_amount, refund_reason, refund_scene, apply_time, notify_url"),
    responses((status = 200, description = "XGJ envelope: `data.result` `agree`; 1200 unknown order; 1 when the merchant must decide", body = XgjReply))
)]
#[post("/goofish/order/refund/apply")]
pub async fn refund_apply(state: web::Data<AppState>, req: HttpRequest, payload: web::Payload) -> HttpResponse {
    let (body, _) = match guarded(&state, &req, payload).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let b: RefundBody = match parse_obj(&body) {
        Ok(b) => b,
        Err(r) => return r.respond(),
    };
    let raw: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
    let order_no = match find_order(&state, &b).await {
        Ok(Found::Order(o)) => o,
        Ok(Found::Unknown) => return XgjReply::err(1200, "订单不存在").respond(),
        Err(e) => return infra(e),
    };
    let now = Utc::now();
    let apply = XgjRefundApplied {
        request: raw,
        refund_amount_cent: b.refund_amount,
        refund_reason: b.refund_reason.clone().unwrap_or_default(),
        refund_scene: b.refund_scene.clone().unwrap_or_default(),
        decision: String::new(),
        decided_at: now.timestamp(),
    };
    let command = OrderCommand::ApplyXgjRefund { apply, at: now };
    let ran = match state.service.run(&order_no, command, &xgj()).await {
        Ok(ran) => ran,
        Err(e) if unknown(&e) => return XgjReply::err(1200, "订单不存在").respond(),
        Err(e) => return infra(e),
    };
    let Some(decided) = ran.order().refund_apply.clone() else {
        return infra("no refund decision after refund/apply");
    };
    if decided.decision == "agree" {
        XgjReply::ok(json!({
            "result": "agree",
            "remark": "代理未付款,已撤单",
            "refund_data": {
                "apply_time": decided.request.get("apply_time").cloned().unwrap_or(json!(b.apply_time)),
                "refund_status": 20,
                "refund_amount": decided.refund_amount_cent,
                "refund_time": decided.decided_at,
            }
        }))
        .respond()
    } else {
        XgjReply::err(1, "代理已付款出票,不能自动撤单,请商家人工处理").respond()
    }
}

/// XGJ's notice that a refund went through: recorded, and the order cancelled (unless it
/// already ended). Answered in this call's own envelope.
#[utoipa::path(
    operation_id = "xgjRefundNotify",
    tag = "xgj",
    params(("mch_id" = String, Query), ("timestamp" = i64, Query), ("sign" = String, Query)),
    request_body(content = Object, description = "order_no, order_type, out_order_no, biz_order_no, refund_type, refund_amount, refund_reason, refund_scene, refund_time"),
    responses((status = 200, description = "`{\"result\":\"success\",\"msg\":\"接收成功\"}`; `result` `fail` otherwise", body = Object))
)]
#[post("/goofish/order/refund/notify")]
pub async fn refund_notify(state: web::Data<AppState>, req: HttpRequest, payload: web::Payload) -> HttpResponse {
    let fail = |msg: &str| {
        tracing::warn!(msg, "xgj refund/notify refused");
        HttpResponse::Ok().json(json!({"result": "fail", "msg": msg}))
    };
    let (body, _) = match guarded(&state, &req, payload).await {
        Ok(v) => v,
        Err(_) => return fail("签名错误"),
    };
    let b: RefundBody = match parse_obj(&body) {
        Ok(b) => b,
        Err(r) => return fail(&r.msg),
    };
    let raw: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
    let order_no = match find_order(&state, &b).await {
        Ok(Found::Order(o)) => o,
        Ok(Found::Unknown) => return fail("订单不存在"),
        Err(e) => {
            tracing::error!(error = %e, "refund/notify failed");
            return fail("系统异常");
        }
    };
    let notice = XgjRefundNotified {
        request: raw,
        refund_amount_cent: b.refund_amount,
        refund_reason: b.refund_reason.clone().unwrap_or_default(),
        refund_time: b.refund_time,
    };
    let command = OrderCommand::RecordXgjRefund { notice, at: Utc::now() };
    match state.service.run(&order_no, command, &xgj()).await {
        Ok(_) => HttpResponse::Ok().json(json!({"result": "success", "msg": "接收成功"})),
        Err(e) if unknown(&e) => fail("订单不存在"),
        Err(e) => {
            tracing::error!(error = %e, "refund/notify failed");
            fail("系统异常")
        }
    }
}
