//! The virtual-supply endpoints XGJ calls (`xgj-wecom.md` §3.1).

use actix_web::http::header::ContentType;
use actix_web::{post, web, HttpRequest, HttpResponse};
use serde::Deserialize;
use xyt_store::config_centre::{self, Goods};
use xyt_store::intake;

use super::{intake as order_intake, read_capped, verify_supply, BodyError, XgjReply};
use crate::state::AppState;

/// Reads and verifies a call; on failure the ready XGJ answer.
pub(super) async fn guarded(
    state: &AppState,
    req: &HttpRequest,
    payload: web::Payload,
) -> Result<(Vec<u8>, String), HttpResponse> {
    let body = match read_capped(payload, state.config.xgj_max_body_bytes).await {
        Ok(b) => b,
        Err(BodyError::TooLarge) => {
            return Err(XgjReply::err(
                1,
                format!("请求错误: 请求体超过 {} 字节", state.config.xgj_max_body_bytes),
            )
            .respond())
        }
        Err(BodyError::Broken) => return Err(XgjReply::err(1, "请求错误: 请求体读取失败").respond()),
    };
    let now = chrono::Utc::now().timestamp();
    let mch_id = verify_supply(&state.config, req.query_string(), &body, now).map_err(|r| r.respond())?;
    if let Some(field) = super::control_char_field(&body) {
        let reply = if req.path().ends_with("/purchase/create") {
            XgjReply::bad_params(field)
        } else {
            XgjReply::err(1, format!("请求错误: {field}"))
        };
        return Err(reply.respond());
    }
    Ok((body, mch_id))
}

/// Bodies of the non-order calls: empty and `{}` both mean "no fields".
pub(super) fn parse_obj<T: for<'de> Deserialize<'de>>(body: &[u8]) -> Result<T, XgjReply> {
    let body = if body.iter().all(u8::is_ascii_whitespace) {
        b"{}".as_slice()
    } else {
        body
    };
    let v: serde_json::Value =
        serde_json::from_slice(body).map_err(|_| XgjReply::err(1, "请求错误: 请求体不是合法的 JSON"))?;
    serde_path_to_error::deserialize(v).map_err(|e| {
        let path = e.path().to_string();
        XgjReply::err(1, format!("请求错误: {path}: {}", e.into_inner()))
    })
}

pub(super) fn infra(e: impl std::fmt::Display) -> HttpResponse {
    tracing::error!(error = %e, "xgj call failed");
    XgjReply::system_error().respond()
}

/// 创建卡密订单. Answers `order_status` 20 with the buyer's form link as the card's `card_pwd`;
/// idempotent on `order_no`.
#[utoipa::path(
    operation_id = "xgjPurchaseCreate",
    tag = "xgj",
    params(
        ("mch_id" = String, Query, description = "Our merchant id (货源 AppKey)"),
        ("timestamp" = i64, Query, description = "Unix seconds; accepted from 300 s old to 5 s ahead"),
        ("sign" = String, Query, description = "md5(app_id,app_secret,md5(body),timestamp,mch_id,mch_secret)"),
    ),
    request_body(content = Object, description = "XGJ's body: order_no, goods_no, buy_quantity, notify_url, biz_order_no, product_id?, product_sku?, item_id?, max_amount?"),
    responses((status = 200, description = "XGJ envelope; `code` 0 on success", body = XgjReply))
)]
#[post("/goofish/order/purchase/create")]
pub async fn purchase_create(state: web::Data<AppState>, req: HttpRequest, payload: web::Payload) -> HttpResponse {
    let (body, mch_id) = match guarded(&state, &req, payload).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    match order_intake::purchase_create(&state, &mch_id, &body).await {
        order_intake::Answer::Kept(text) => HttpResponse::Ok().content_type(ContentType::json()).body(text),
        order_intake::Answer::Refused(r) => r.respond(),
    }
}

/// 平台信息: our app id (XGJ's AppKey) and the features we support.
#[utoipa::path(
    operation_id = "xgjOpenInfo",
    tag = "xgj",
    params(("mch_id" = String, Query), ("timestamp" = i64, Query), ("sign" = String, Query)),
    responses((status = 200, description = "XGJ envelope", body = XgjReply))
)]
#[post("/goofish/open/info")]
pub async fn open_info(state: web::Data<AppState>, req: HttpRequest, payload: web::Payload) -> HttpResponse {
    if let Err(r) = guarded(&state, &req, payload).await {
        return r;
    }
    let app_id: i64 = state.config.xgj.app_id.parse().unwrap_or_default();
    XgjReply::ok(serde_json::json!({
        "app_id": app_id,
        "features": {
            "is_support_order_refund": false,
            "is_support_goods_notify": true,
            "is_support_loss_purchase": false,
        }
    }))
    .respond()
}

/// 商户信息: our balance in cents.
#[utoipa::path(
    operation_id = "xgjUserInfo",
    tag = "xgj",
    params(("mch_id" = String, Query), ("timestamp" = i64, Query), ("sign" = String, Query)),
    responses((status = 200, description = "XGJ envelope", body = XgjReply))
)]
#[post("/goofish/user/info")]
pub async fn user_info(state: web::Data<AppState>, req: HttpRequest, payload: web::Payload) -> HttpResponse {
    if let Err(r) = guarded(&state, &req, payload).await {
        return r;
    }
    XgjReply::ok(serde_json::json!({ "balance": state.config.xgj_balance_cent })).respond()
}

#[derive(Debug, Deserialize)]
struct GoodsListBody {
    keyword: Option<String>,
    goods_type: Option<i16>,
    page_no: Option<i64>,
    page_size: Option<i64>,
}

fn goods_json(g: &Goods) -> serde_json::Value {
    serde_json::json!({
        "goods_no": g.goods_no,
        "goods_type": g.goods_type,
        "goods_name": g.goods_name,
        "price": g.price_cent,
        "stock": g.stock,
        "status": g.status,
        "update_time": g.updated_at.timestamp(),
    })
}

/// 商品列表: our goods config, the keyword matching names fuzzily and codes exactly.
#[utoipa::path(
    operation_id = "xgjGoodsList",
    tag = "xgj",
    params(("mch_id" = String, Query), ("timestamp" = i64, Query), ("sign" = String, Query)),
    request_body(content = Object, description = "keyword?, goods_type? (1 直充, 2 卡密), page_no, page_size (≤ 100)"),
    responses((status = 200, description = "XGJ envelope with data.list and data.count", body = XgjReply))
)]
#[post("/goofish/goods/list")]
pub async fn goods_list(state: web::Data<AppState>, req: HttpRequest, payload: web::Payload) -> HttpResponse {
    let (body, _) = match guarded(&state, &req, payload).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let b: GoodsListBody = match parse_obj(&body) {
        Ok(b) => b,
        Err(r) => return r.respond(),
    };
    let page_no = b.page_no.unwrap_or(1);
    let page_size = b.page_size.unwrap_or(20);
    if page_no < 1 || !(1..=100).contains(&page_size) {
        return XgjReply::err(1, "请求错误: page_no 从 1 开始,page_size 在 1 到 100 之间").respond();
    }
    if b.goods_type.is_some_and(|t| !(1..=2).contains(&t)) {
        return XgjReply::err(1, "请求错误: goods_type 只能是 1 或 2").respond();
    }
    let keyword = b.keyword.as_deref().map(str::trim).filter(|k| !k.is_empty());
    match config_centre::page_goods(&state.pool, keyword, b.goods_type, page_no, page_size).await {
        Ok((list, count)) => {
            XgjReply::ok(serde_json::json!({ "list": list.iter().map(goods_json).collect::<Vec<_>>(), "count": count }))
                .respond()
        }
        Err(e) => infra(e),
    }
}

#[derive(Debug, Deserialize)]
struct GoodsDetailBody {
    goods_type: Option<i16>,
    goods_no: String,
}

/// 商品详情.
#[utoipa::path(
    operation_id = "xgjGoodsDetail",
    tag = "xgj",
    params(("mch_id" = String, Query), ("timestamp" = i64, Query), ("sign" = String, Query)),
    request_body(content = Object, description = "goods_type, goods_no"),
    responses((status = 200, description = "XGJ envelope; 1100 when the goods are unknown", body = XgjReply))
)]
#[post("/goofish/goods/detail")]
pub async fn goods_detail(state: web::Data<AppState>, req: HttpRequest, payload: web::Payload) -> HttpResponse {
    let (body, _) = match guarded(&state, &req, payload).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let b: GoodsDetailBody = match parse_obj(&body) {
        Ok(b) => b,
        Err(r) => return r.respond(),
    };
    match state.config_cache.goods(&b.goods_no).await {
        Ok(Some(g)) if b.goods_type.is_none_or(|t| t == g.goods_type) => XgjReply::ok(goods_json(&g)).respond(),
        Ok(_) => XgjReply::err(1100, "商品不存在").respond(),
        Err(e) => infra(e),
    }
}

#[derive(Debug, Deserialize)]
struct OrderDetailBody {
    #[allow(dead_code)]
    order_type: Option<i64>,
    order_no: Option<String>,
    out_order_no: Option<String>,
}

/// 订单查询: the answer we gave for the order (`order_no` wins over `out_order_no`).
#[utoipa::path(
    operation_id = "xgjOrderDetail",
    tag = "xgj",
    params(("mch_id" = String, Query), ("timestamp" = i64, Query), ("sign" = String, Query)),
    request_body(content = Object, description = "order_type, order_no and/or out_order_no"),
    responses((status = 200, description = "XGJ envelope; 1200 when the order is unknown", body = XgjReply))
)]
#[post("/goofish/order/detail")]
pub async fn order_detail(state: web::Data<AppState>, req: HttpRequest, payload: web::Payload) -> HttpResponse {
    let (body, _) = match guarded(&state, &req, payload).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let b: OrderDetailBody = match parse_obj(&body) {
        Ok(b) => b,
        Err(r) => return r.respond(),
    };
    let kept = match (
        b.order_no.as_deref().filter(|s| !s.is_empty()),
        b.out_order_no.as_deref().filter(|s| !s.is_empty()),
    ) {
        (Some(no), _) => intake::find(&state.pool, no).await.map(|i| i.and_then(|i| i.answer)),
        (None, Some(out)) => intake::answer_for_out_order_no(&state.pool, out).await,
        (None, None) => return XgjReply::err(1, "请求错误: 需要 order_no 或 out_order_no").respond(),
    };
    match kept {
        Ok(Some(text)) => HttpResponse::Ok().content_type(ContentType::json()).body(text),
        Ok(None) => XgjReply::err(1200, "订单不存在").respond(),
        Err(e) => infra(e),
    }
}
