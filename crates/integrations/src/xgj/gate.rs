//! What the XGJ gateway checks before it acts, as pure functions (the server wraps them in XGJ's
//! envelopes; the fuzz targets call them directly): the query parameters, the timestamp, the
//! six-field signature over the raw body, and the purchase body.

use serde::Deserialize;

use super::sign::{sign_eq, SupplyCredentials};

/// Timestamps are accepted from this many seconds old ...
pub const MAX_AGE_SECS: i64 = 300;
/// ... to this many seconds ahead (clock skew).
pub const MAX_AHEAD_SECS: i64 = 5;

/// The query parameters, each of `names` required exactly once.
pub fn single_params(query: &str, names: &[&str]) -> Result<Vec<String>, String> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query).map_err(|_| "查询参数无法解析".to_string())?;
    names
        .iter()
        .map(|name| {
            let mut values = pairs.iter().filter(|(k, _)| k == name).map(|(_, v)| v);
            match (values.next(), values.next()) {
                (None, _) => Err(format!("缺少参数 {name}")),
                (Some(_), Some(_)) => Err(format!("参数 {name} 重复")),
                (Some(v), None) => Ok(v.clone()),
            }
        })
        .collect()
}

pub enum Freshness {
    Fresh,
    Invalid,
    Stale,
}

pub fn freshness(timestamp: &str, now: i64) -> Freshness {
    match timestamp.parse::<i64>() {
        Err(_) => Freshness::Invalid,
        Ok(ts) if ts < now.saturating_sub(MAX_AGE_SECS) || ts > now.saturating_add(MAX_AHEAD_SECS) => Freshness::Stale,
        Ok(_) => Freshness::Fresh,
    }
}

/// XGJ's code and message for a refused call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub code: i64,
    pub msg: String,
}

fn refuse(code: i64, msg: impl Into<String>) -> Refusal {
    Refusal { code, msg: msg.into() }
}

/// Checks a virtual-supply call: query `mch_id`, `timestamp`, `sign` once each, our merchant,
/// a fresh timestamp, and the six-field signature over the raw body. Returns the `mch_id`.
pub fn verify_supply(creds: &SupplyCredentials, query: &str, body: &[u8], now: i64) -> Result<String, Refusal> {
    let params =
        single_params(query, &["mch_id", "timestamp", "sign"]).map_err(|m| refuse(401, format!("签名错误: {m}")))?;
    let (mch_id, timestamp, sign) = (&params[0], &params[1], &params[2]);
    if *mch_id != creds.mch_id {
        return Err(refuse(1000, "商户不存在"));
    }
    match freshness(timestamp, now) {
        Freshness::Invalid => return Err(refuse(408, "时间戳无效")),
        Freshness::Stale => return Err(refuse(408, "时间戳已超过有效期")),
        Freshness::Fresh => {}
    }
    let expected = creds.supply_sign(body, timestamp, mch_id);
    if !sign_eq(&expected, sign) {
        return Err(refuse(401, "签名错误"));
    }
    Ok(mch_id.clone())
}

/// XGJ's purchase body; integer fields must be JSON integers ("闲管家所有参数都是强校验").
#[derive(Debug, Deserialize)]
pub struct PurchaseBody {
    pub order_no: String,
    pub goods_no: String,
    pub buy_quantity: i32,
    pub max_amount: Option<i64>,
    pub notify_url: String,
    pub biz_order_no: String,
    pub product_id: Option<i64>,
    pub product_sku: Option<i64>,
    pub item_id: Option<i64>,
}

/// The purchase body, raw and typed, or what is wrong with it (for 1201 下单参数错误). A string
/// with a control character anywhere is refused too: nothing reaches the database it refuses.
pub fn parse_purchase_body(body: &[u8]) -> Result<(serde_json::Value, PurchaseBody), String> {
    let raw: serde_json::Value = serde_json::from_slice(body).map_err(|_| "请求体不是合法的 JSON".to_string())?;
    if !raw.is_object() {
        return Err("请求体必须是 JSON 对象".into());
    }
    if let Err((field, bad)) = xyt_domain::text::check_json(&raw) {
        return Err(format!("{field}: {bad}"));
    }
    let typed: PurchaseBody = serde_path_to_error::deserialize(raw.clone()).map_err(|e| {
        let path = e.path().to_string();
        format!("{path}: {}", e.into_inner())
    })?;
    let text = |name: &str, v: &str, max: usize| -> Result<(), String> {
        if v.trim().is_empty() || v.chars().count() > max {
            return Err(format!("{name} 必须是 1 到 {max} 个字符"));
        }
        Ok(())
    };
    text("order_no", &typed.order_no, 64)?;
    text("biz_order_no", &typed.biz_order_no, 64)?;
    text("goods_no", &typed.goods_no, 100)?;
    text("notify_url", &typed.notify_url, 1024)?;
    if !(typed.notify_url.starts_with("https://") || typed.notify_url.starts_with("http://")) {
        return Err("notify_url 必须是 http(s) 地址".into());
    }
    if !(1..=9999).contains(&typed.buy_quantity) {
        return Err("buy_quantity 必须在 1 到 9999 之间".into());
    }
    if typed.max_amount.is_some_and(|m| m < 0) {
        return Err("max_amount 不能为负数".into());
    }
    Ok((raw, typed))
}
