//! 创建卡密订单: take a paid order in and answer XGJ with the buyer's form link as the card.
//!
//! Idempotent on XGJ's `order_no`, whatever happens in between:
//! 1. the goods and `max_amount` are checked (1202 leaves nothing behind);
//! 2. the intake command is decided in memory on a new order number, and the answer built from
//!    the order it would leave;
//! 3. one statement claims the number for the `order_no` with that answer and, only if the claim
//!    is new, appends both intake events and writes the order's views: all of it or nothing.
//!    Concurrent copies wait for it and get the answer kept; a repeat, now or a week later, gets
//!    the same bytes;
//! 4. a claim with no answer (left by older code, which claimed first and answered last) is
//!    completed by running the command on the claimed number: it does nothing when the order
//!    exists, so the retry finishes the work instead of redoing it, and the first answer kept
//!    wins.

use base64::Engine;
use chrono::Utc;
use rand::RngCore;
use xyt_domain::order::{OrderCommand, OrderError, TakeInXgjOrder, XgjPurchase};
use xyt_domain::{OrderNo, OutOrderNo};
use xyt_store::intake::{self, NewClaim};
use xyt_store::orders::ExecuteError;

use super::XgjReply;
use crate::orders_service::{Actor, ServiceError};
use crate::state::AppState;

pub use xyt_integrations::xgj::gate::PurchaseBody;

pub fn parse_body(body: &[u8]) -> Result<(serde_json::Value, PurchaseBody), XgjReply> {
    xyt_integrations::xgj::gate::parse_purchase_body(body).map_err(XgjReply::bad_params)
}

/// 144 random bits, URL-safe: the buyer's form link must not be guessable.
pub fn new_form_token() -> String {
    let mut bytes = [0u8; 18];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

pub enum Answer {
    /// The kept answer body, exactly as first sent.
    Kept(String),
    Refused(XgjReply),
}

pub async fn purchase_create(state: &AppState, mch_id: &str, body: &[u8]) -> Answer {
    let (mut raw, p) = match parse_body(body) {
        Ok(v) => v,
        Err(r) => return Answer::Refused(r),
    };
    let answer = match take_in(state, mch_id, &mut raw, p).await {
        Ok(kept) => Answer::Kept(kept),
        Err(r) => Answer::Refused(r),
    };
    let outcome = match &answer {
        Answer::Kept(_) => "answered",
        Answer::Refused(_) => "refused",
    };
    xyt_store::metrics::inc(
        "xyt_intake_total",
        "XGJ purchase/create calls by outcome (answered includes repeats answered from the kept answer)",
        &[("outcome", outcome)],
    );
    answer
}

/// A repeated call, answered with the answer kept for the first.
fn repeated(external_order_no: &str, kept: String) -> String {
    tracing::info!(
        external_order_no,
        "repeated purchase/create answered with the kept answer"
    );
    xyt_store::metrics::inc(
        "xyt_intake_repeats_total",
        "XGJ purchase/create repeats answered from the kept answer",
        &[],
    );
    kept
}

async fn take_in(
    state: &AppState,
    mch_id: &str,
    raw: &mut serde_json::Value,
    p: PurchaseBody,
) -> Result<String, XgjReply> {
    let pool = &state.pool;
    let infra = |e: &dyn std::fmt::Display| {
        tracing::error!(error = %e, "purchase/create failed");
        XgjReply::system_error()
    };
    let goods = state.config_cache.goods(&p.goods_no).await.map_err(|e| infra(&e))?;
    let quantity = i64::from(p.buy_quantity);
    let now = Utc::now();
    // Refuse before claiming anything: a refused order must leave no trace. A repeat of a call
    // answered before the price changed still gets its kept answer.
    if let (Some(g), Some(max)) = (&goods, p.max_amount) {
        if g.price_cent.checked_mul(quantity).is_none_or(|a| a > max) {
            let existing = intake::find(pool, &p.order_no).await.map_err(|e| infra(&e))?;
            if let Some(kept) = existing.and_then(|i| i.answer) {
                return Ok(repeated(&p.order_no, kept));
            }
            return Err(XgjReply::err(1202, "下单金额低于成本价"));
        }
    }
    let fee_rate = state.config_cache.fee_rate().await.map_err(|e| infra(&e))?;
    let token = new_form_token();
    if let Some(obj) = raw.as_object_mut() {
        obj.insert("mchId".into(), mch_id.into());
    }
    let out_order_no = OutOrderNo::generate(now, &mut rand::thread_rng());
    let command = |order_no: &OrderNo| {
        OrderCommand::TakeInXgjOrder(Box::new(TakeInXgjOrder {
            order_no: order_no.clone(),
            out_order_no: out_order_no.clone(),
            form_link: format!("{}/f/{token}", state.config.public_base_url),
            form_token: token.clone(),
            request: raw.clone(),
            purchase: XgjPurchase {
                order_no: p.order_no.clone(),
                goods_no: p.goods_no.clone(),
                buy_quantity: quantity,
                notify_url: p.notify_url.clone(),
                biz_order_no: p.biz_order_no.clone(),
                max_amount: p.max_amount,
            },
            goods: goods.as_ref().map(|g| g.snapshot()),
            fee_rate,
            received_at: now,
        }))
    };
    let actor = Actor::at("xgj_virtual", now);
    // The order is decided first, in memory, so that its answer is known before anything is
    // written: the claim, the answer, the events and the views are then one statement.
    let candidate = OrderNo::generate(now, &mut rand::thread_rng());
    let decided = state
        .service
        .decide_new(&candidate, command(&candidate), &actor)
        .map_err(refused)?;
    let text = answer_text(decided.order()).map_err(|e| infra(&e))?;
    let claim = NewClaim {
        external_order_no: &p.order_no,
        biz_order_no: &p.biz_order_no,
        answer: &text,
    };
    if state
        .service
        .commit_claimed(decided, &claim, &actor)
        .await
        .map_err(|e| infra(&e))?
        .is_some()
    {
        if goods.is_none() {
            tracing::warn!(external_order_no = %p.order_no, goods_no = %p.goods_no, "unknown goods: order taken in for manual review");
        }
        return Ok(text);
    }
    // Claimed by an earlier or concurrent call (waited for): a new statement sees its commit.
    let claim = intake::find(pool, &p.order_no)
        .await
        .map_err(|e| infra(&e))?
        .ok_or_else(|| infra(&"the order's claim is gone"))?;
    if let Some(kept) = claim.answer {
        return Ok(repeated(&p.order_no, kept));
    }
    // Claimed with no answer kept: an earlier call (by older code, or one that failed after
    // its claim) left its work unfinished. The command completes it, or finds it done and
    // changes nothing; either way the answer comes from the state it leaves.
    let order_no = OrderNo::parse(&claim.order_no).map_err(|e| infra(&e))?;
    let ran = state
        .service
        .run(&order_no, command(&order_no), &actor)
        .await
        .map_err(refused)?;
    let text = answer_text(ran.order()).map_err(|e| infra(&e))?;
    intake::keep_answer(pool, &p.order_no, &text)
        .await
        .map_err(|e| infra(&e))
}

/// A refusal of the intake command in XGJ's terms; anything else is a system error.
fn refused(e: ServiceError) -> XgjReply {
    match e {
        ServiceError::Execute(ExecuteError::Domain(OrderError::MaxAmountBelowPrice { .. })) => {
            XgjReply::err(1202, "下单金额低于成本价")
        }
        ServiceError::Execute(ExecuteError::Domain(e @ OrderError::InvalidQuantity(_))) => XgjReply::bad_params(e),
        e => {
            tracing::error!(error = %e, "purchase/create failed");
            XgjReply::system_error()
        }
    }
}

/// XGJ's answer for an order as taken in: its card order, with the buyer's form link as the card.
fn answer_text(order: &xyt_domain::order::Order) -> Result<String, String> {
    let (Some(out_order_no), Some(link), Some(external)) =
        (&order.out_order_no, &order.form_link, &order.external_order_no)
    else {
        return Err("the order has no card order after intake".into());
    };
    let answer = XgjReply::ok(serde_json::json!({
        "out_order_no": out_order_no.as_str(),
        "order_no": external,
        "order_status": order.virtual_order_status.unwrap_or(20),
        "order_amount": order.order_amount_cent,
        "order_time": order.order_time,
        "end_time": order.order_time,
        "card_items": [{ "card_pwd": link }],
        "remark": "请打开链接填写出票资料",
    }));
    serde_json::to_string(&answer).map_err(|e| e.to_string())
}
