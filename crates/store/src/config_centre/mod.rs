//! The config centre: goods, ticket types, the price table, settings (fee rate, play-date horizon,
//! season calendar), payment QR codes, agent groups and notification targets, each change
//! recorded with who made it and when.
//!
//! One file per entity (its row type, input types, reads and writes), plus `history` (the
//! `config_changes` rows every write adds), `demo` (the one demo loader) and [`cache`] (the
//! order path's reads from memory). A new entity: a file here, its table in a migration, its
//! name in [`ENTITIES`], its routes in `crates/server/src/api/config/`.
//!
//! Strategy:
//! - Every write runs in one transaction together with its `config_changes` row(s), so the
//!   history can neither miss a change nor record one that was rolled back.
//! - A row being changed is read `FOR UPDATE` first: that read is the history's "before", and it
//!   makes concurrent writers queue instead of overwriting each other unseen. A row referred to
//!   (the ticket type of a goods or a price) is read `FOR SHARE`, so deleting it waits for the
//!   writer and then sees the new reference.
//! - Inputs are checked here, not only at the HTTP edge, so every caller gets the same rules.
//!   Errors are keyed by the camelCase field the client sent, with Chinese messages.
//! - Payment QR codes: at most one is active (a partial unique index), and activating one
//!   deactivates the other in the same transaction under one advisory lock, so readers never see
//!   two, and two concurrent activations queue instead of tripping the index.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use sqlx::{PgPool, Postgres, Transaction};
use utoipa::ToSchema;
use uuid::Uuid;
use xyt_domain::pricing::{SeasonCalendar, SeasonType};

mod agent_groups;
pub mod cache;
mod demo;
mod goods;
mod history;
mod payment_qr;
mod price_table;
mod settings;
mod targets;
mod ticket_types;

pub use agent_groups::*;
pub use demo::*;
pub use goods::*;
pub use history::*;
pub use payment_qr::*;
pub use price_table::*;
pub use settings::*;
pub use targets::*;
pub use ticket_types::*;

type Tx<'a> = Transaction<'a, Postgres>;

pub type FieldErrors = BTreeMap<String, String>;

/// Why a config write was refused.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// Bad input, by field.
    #[error("invalid config: {0:?}")]
    Invalid(FieldErrors),
    #[error("{code}: {message}")]
    NotFound { code: &'static str, message: String },
    /// Refused because of what is stored (a duplicate, a reference still in use).
    #[error("{code}: {message}")]
    Conflict { code: &'static str, message: String },
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

impl ConfigError {
    fn field(field: &str, message: impl Into<String>) -> Self {
        ConfigError::Invalid(BTreeMap::from([(field.to_string(), message.into())]))
    }
}

fn invalid_unless_empty(errors: FieldErrors) -> Result<(), ConfigError> {
    if errors.is_empty() {
        Ok(())
    } else {
        Err(ConfigError::Invalid(errors))
    }
}

// ---------------------------------------------------------------------------------------------
// Field rules
// ---------------------------------------------------------------------------------------------

/// Goods prices are below 10^9 cents (¥10,000,000).
pub const MAX_PRICE_CENT: i64 = 1_000_000_000;
/// The play-date horizon: how many days ahead a buyer may book.
pub const HORIZON_DAYS: std::ops::RangeInclusive<i64> = 1..=730;
/// What a notification target may be for. New purposes are added here as features need them, so
/// that a typo is refused instead of silently never being used.
pub const NOTIFICATION_PURPOSES: [(&str, &str); 1] = [("price_alert", "价格异常提醒")];

fn has_control(s: &str) -> bool {
    s.chars().any(char::is_control)
}

/// A key (goods no, ticket type name): exactly as given, since XGJ and the goods match it
/// byte for byte; so surrounding blanks are refused rather than trimmed.
fn check_key(errors: &mut FieldErrors, field: &str, what: &str, value: &str, max: usize) {
    let n = value.chars().count();
    let msg = if n == 0 || value.trim().is_empty() {
        Some(format!("{what}不能为空"))
    } else if n > max {
        Some(format!("{what}最长 {max} 个字符,当前 {n} 个"))
    } else if value.trim() != value {
        Some(format!("{what}首尾不能有空格"))
    } else if has_control(value) {
        Some(format!("{what}不能包含控制字符"))
    } else {
        None
    };
    if let Some(m) = msg {
        errors.insert(field.into(), m);
    }
}

/// A display text: trimmed, then 1..=max characters (`min_one`) or 0..=max.
fn check_text(errors: &mut FieldErrors, field: &str, what: &str, value: &str, max: usize, min_one: bool) -> String {
    let v = value.trim().to_string();
    let n = v.chars().count();
    if min_one && n == 0 {
        errors.insert(field.into(), format!("{what}不能为空"));
    } else if n > max {
        errors.insert(field.into(), format!("{what}最长 {max} 个字符,当前 {n} 个"));
    } else if has_control(&v) {
        errors.insert(field.into(), format!("{what}不能包含控制字符"));
    }
    v
}

/// A money amount as a decimal string: non-negative, at most two places, below 10^12.
pub fn parse_amount(s: &str) -> Result<Decimal, String> {
    xyt_domain::money::parse_amount(s, &xyt_domain::money::CONFIG_RANGE).map_err(|e| e.to_string())
}

/// The platform fee rate: a decimal string in [0, 1), at most 6 places.
pub fn parse_fee_rate(s: &str) -> Result<Decimal, String> {
    let s = s.trim();
    let (int, frac) = s.split_once('.').unwrap_or((s, ""));
    let digits = |p: &str| p.bytes().all(|b| b.is_ascii_digit());
    if s.starts_with('-') {
        return Err("费率不能为负数,应在 0(含)到 1(不含)之间".into());
    }
    if int.is_empty() || !digits(int) || !digits(frac) || (s.contains('.') && frac.is_empty()) {
        return Err(format!("费率必须是小数,例如 \"0.02\" 表示 2%;收到 \"{s}\""));
    }
    if frac.len() > 6 {
        return Err("费率最多 6 位小数".into());
    }
    let d: Decimal = s.parse().map_err(|_| format!("费率不是有效的数字:\"{s}\""))?;
    if d >= Decimal::ONE {
        return Err("费率应在 0(含)到 1(不含)之间,例如 \"0.02\" 表示 2%".into());
    }
    Ok(d.normalize())
}

/// Where a WeCom message may go: `mock://<name>` (recorded, never sent), `wecom-app:<chatid>`
/// (1–32 letters or digits), or a robot webhook URL over `https://` (plain `http://` only to a
/// loopback host, for local fakes and relays). One rule for the config centre and for resends:
/// [`xyt_domain::target::Target::parse`].
pub fn validate_target(s: &str) -> Result<(), String> {
    if s.trim() != s || s.is_empty() {
        return Err(if s.trim().is_empty() {
            "目标不能为空".into()
        } else {
            "目标首尾不能有空格".into()
        });
    }
    xyt_domain::target::Target::parse(s, xyt_domain::target::UrlTarget::WecomRobot)
        .map(|_| ())
        .map_err(|e| e.0)
}

fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if d.code().as_deref() == Some("23505"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_are_non_negative_decimal_strings_with_at_most_two_places() {
        assert_eq!(parse_amount("426").unwrap().to_string(), "426.00");
        assert_eq!(parse_amount("426.5").unwrap().to_string(), "426.50");
        assert_eq!(parse_amount("0.01").unwrap().to_string(), "0.01");
        assert_eq!(parse_amount(" 380.00 ").unwrap().to_string(), "380.00");
        for bad in [
            "-1",
            "-0.01",
            "abc",
            "",
            "1.",
            ".5",
            "1.234",
            "1e5",
            "1,000",
            "+3",
            "NaN",
            "1234567890123",
        ] {
            assert!(parse_amount(bad).is_err(), "{bad}");
        }
        assert!(parse_amount("-5").unwrap_err().contains("负数"));
        assert!(parse_amount("1.234").unwrap_err().contains("两位小数"));
    }

    #[test]
    fn the_fee_rate_is_in_zero_inclusive_to_one_exclusive() {
        assert_eq!(parse_fee_rate("0.02").unwrap().to_string(), "0.02");
        assert_eq!(parse_fee_rate("0.020").unwrap().to_string(), "0.02");
        assert_eq!(parse_fee_rate("0").unwrap().to_string(), "0");
        assert_eq!(parse_fee_rate("0.999999").unwrap().to_string(), "0.999999");
        for bad in ["1", "1.0", "-0.01", "abc", "", "0.1234567", "2", "0.5%"] {
            assert!(parse_fee_rate(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn targets_are_mock_wecom_app_or_https_with_http_only_on_loopback() {
        for ok in [
            "mock://agent-group/default",
            "wecom-app:wrOgAAAA1234",
            "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=abc",
            "https://relay.example.com:8443/hook",
            "http://127.0.0.1:4567/cgi-bin/webhook/send?key=x",
            "http://localhost:9000/x",
            "http://[::1]:9000/x",
        ] {
            assert_eq!(validate_target(ok), Ok(()), "{ok}");
        }
        for bad in [
            "",
            " mock://x",
            "mock://",
            "wecom-app:",
            "wecom-app:has space",
            "wecom-app:0123456789012345678901234567890123",
            "wecom-app:中文",
            "ftp://x",
            "http://example.com/hook",
            "http://10.0.0.1/hook",
            "http://127.0.0.1@evil.example/hook",
            "https://",
            "https://exa mple.com",
            "https://host:99999/",
            "javascript:alert(1)",
        ] {
            assert!(validate_target(bad).is_err(), "{bad}");
        }
    }
}
