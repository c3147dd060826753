//! XGJ goods sync (`xgj-wecom.md` §3.1): XGJ subscribes to our goods' price and stock changes
//! (`goods/change/subscribe`, `…/unsubscribe`, `…/subscribe/list`), signed like every
//! virtual-supply call. A subscription names one goods (or, without `goods_no`, every goods) and
//! the notify_url to tell; a repeat is answered as the first and keeps one row. A price or stock
//! change in the config centre then queues a signed notice per subscriber through the deliveries
//! (see `xyt_store::goods_sync`).
//!
//! A field XGJ sent wrong (a notify_url outside the outbound rules, a bad `goods_type`) is
//! answered like every gateway refusal: HTTP 200, XGJ's envelope, `code` 1 and a `msg` naming the
//! field; nothing is stored. An unknown goods is XGJ's 1100 商品不存在.

use actix_web::{post, web, HttpRequest, HttpResponse};
use serde::Deserialize;
use xyt_domain::delivery::DeliveryKind;
use xyt_domain::target::Target;
use xyt_store::goods_sync::{self, Subscribe, SubscribeError};

use super::supply::{guarded, infra, parse_obj};
use super::XgjReply;
use crate::state::AppState;

#[derive(Debug, Deserialize)]
struct SubscriptionBody {
    goods_type: Option<i16>,
    goods_no: Option<String>,
    token: Option<String>,
    notify_url: Option<String>,
    page_no: Option<i64>,
    page_size: Option<i64>,
}

/// A refused field, answered in XGJ's envelope (HTTP 200, code 1) naming it.
struct BadField {
    field: &'static str,
    why: String,
}

fn bad_field(field: &'static str, why: impl std::fmt::Display) -> BadField {
    BadField {
        field,
        why: why.to_string(),
    }
}

impl BadField {
    fn respond(self) -> HttpResponse {
        let reply = XgjReply::err(1, format!("请求错误: {}: {}", self.field, self.why));
        tracing::warn!(field = self.field, msg = %reply.msg, "xgj goods-sync call refused");
        HttpResponse::Ok().json(reply)
    }
}

/// The body, checked: a known goods type, a goods no of sane length (empty means every goods),
/// a token of sane length.
fn checked(body: &[u8]) -> Result<SubscriptionBody, BadField> {
    let mut b: SubscriptionBody = parse_obj(body).map_err(|r| bad_field("body", r.msg))?;
    if b.goods_type.is_some_and(|t| !(1..=2).contains(&t)) {
        return Err(bad_field("goods_type", "只能是 1(直充)或 2(卡密)"));
    }
    b.goods_no = b.goods_no.filter(|g| !g.trim().is_empty());
    if b.goods_no.as_ref().is_some_and(|g| g.chars().count() > 100) {
        return Err(bad_field("goods_no", "最长 100 个字符"));
    }
    if b.token.as_ref().is_some_and(|t| t.chars().count() > 200) {
        return Err(bad_field("token", "最长 200 个字符"));
    }
    Ok(b)
}

/// Reads, verifies and checks a goods-sync call; otherwise the ready answer.
async fn read(state: &AppState, req: &HttpRequest, payload: web::Payload) -> Result<SubscriptionBody, HttpResponse> {
    let (body, _) = guarded(state, req, payload).await?;
    checked(&body).map_err(BadField::respond)
}

/// The notify_url, under the same outbound rules as every target we call (https, or http to
/// loopback only; no credentials), checked before anything is stored or sent.
fn notify_url(b: &SubscriptionBody) -> Result<String, BadField> {
    let raw = b.notify_url.as_deref().map(str::trim).unwrap_or_default();
    if raw.is_empty() {
        return Err(bad_field("notify_url", "必填"));
    }
    match Target::parse(raw, DeliveryKind::GoodsChange.url_target()) {
        Ok(Target::XgjCallback { url }) => Ok(url),
        Ok(_) => Err(bad_field("notify_url", "必须是 http(s) 地址")),
        Err(e) => Err(bad_field("notify_url", e)),
    }
}

/// 订阅商品变更: remembers (goods or every goods, notify_url, token); a repeat changes nothing
/// but the token and is answered the same.
#[utoipa::path(
    operation_id = "xgjGoodsSubscribe",
    tag = "xgj",
    params(("mch_id" = String, Query), ("timestamp" = i64, Query), ("sign" = String, Query)),
    request_body(content = Object, description = "goods_type? (1 直充, 2 卡密), goods_no? (absent: every goods), token?, notify_url"),
    responses(
        (status = 200, description = "XGJ envelope with the subscription; 1100 when the goods are unknown; code 1 naming a bad field (notify_url, goods_type, goods_no, token)", body = XgjReply),
    )
)]
#[post("/goofish/goods/change/subscribe")]
pub async fn subscribe(state: web::Data<AppState>, req: HttpRequest, payload: web::Payload) -> HttpResponse {
    let b = match read(&state, &req, payload).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    let url = match notify_url(&b) {
        Ok(u) => u,
        Err(e) => return e.respond(),
    };
    let asked = Subscribe {
        goods_no: b.goods_no.as_deref(),
        goods_type: b.goods_type,
        notify_url: &url,
        token: b.token.as_deref().unwrap_or_default(),
    };
    match goods_sync::subscribe(&state.pool, &asked).await {
        Ok((sub, created)) => {
            tracing::info!(goods_no = ?sub.goods_no, notify_url = %sub.notify_url, created, "xgj goods subscription");
            XgjReply::ok(serde_json::to_value(&sub).unwrap_or_default()).respond()
        }
        Err(SubscribeError::UnknownGoods) => XgjReply::err(
            1100,
            format!("商品不存在: {}", b.goods_no.as_deref().unwrap_or_default()),
        )
        .respond(),
        Err(SubscribeError::Db(e)) => infra(e),
    }
}

/// 取消订阅: ends the goods' (or, without `goods_no`, the every-goods) subscriptions, only the
/// one to `notify_url` when given. A repeat is answered the same.
#[utoipa::path(
    operation_id = "xgjGoodsUnsubscribe",
    tag = "xgj",
    params(("mch_id" = String, Query), ("timestamp" = i64, Query), ("sign" = String, Query)),
    request_body(content = Object, description = "goods_type?, goods_no? (absent: the every-goods subscription), token?, notify_url?"),
    responses(
        (status = 200, description = "XGJ envelope", body = XgjReply),
    )
)]
#[post("/goofish/goods/change/unsubscribe")]
pub async fn unsubscribe(state: web::Data<AppState>, req: HttpRequest, payload: web::Payload) -> HttpResponse {
    let b = match read(&state, &req, payload).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    let url = match b.notify_url.as_deref().map(str::trim).filter(|u| !u.is_empty()) {
        None => None,
        Some(_) => match notify_url(&b) {
            Ok(u) => Some(u),
            Err(e) => return e.respond(),
        },
    };
    match goods_sync::unsubscribe(&state.pool, b.goods_no.as_deref(), url.as_deref()).await {
        Ok(removed) => {
            tracing::info!(goods_no = ?b.goods_no, removed, "xgj goods unsubscribed");
            XgjReply::ok(serde_json::json!({})).respond()
        }
        Err(e) => infra(e),
    }
}

/// 订阅列表: a page of the subscriptions (only the goods' when `goods_no` is given).
#[utoipa::path(
    operation_id = "xgjGoodsSubscribeList",
    tag = "xgj",
    params(("mch_id" = String, Query), ("timestamp" = i64, Query), ("sign" = String, Query)),
    request_body(content = Object, description = "goods_type?, goods_no?, page_no (from 1), page_size (≤ 100)"),
    responses(
        (status = 200, description = "XGJ envelope with data.list and data.count", body = XgjReply),
    )
)]
#[post("/goofish/goods/change/subscribe/list")]
pub async fn subscribe_list(state: web::Data<AppState>, req: HttpRequest, payload: web::Payload) -> HttpResponse {
    let b = match read(&state, &req, payload).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    let page_no = b.page_no.unwrap_or(1);
    if page_no < 1 {
        return bad_field("page_no", "从 1 开始").respond();
    }
    let page_size = b.page_size.unwrap_or(20);
    if !(1..=100).contains(&page_size) {
        return bad_field("page_size", "在 1 到 100 之间").respond();
    }
    match goods_sync::list(&state.pool, b.goods_no.as_deref(), page_no, page_size).await {
        Ok((list, count)) => XgjReply::ok(serde_json::json!({ "list": list, "count": count })).respond(),
        Err(e) => infra(e),
    }
}
