//! Order identifiers: `XY` / `VS` + UTC `yyyyMMddHHmmssSSS` + 4 chars of `[0-9A-Z]`.

use chrono::{DateTime, Utc};
use rand::Rng;
use serde::{Deserialize, Serialize};
use std::fmt;

const SUFFIX_ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";

fn generate(prefix: &str, at: DateTime<Utc>, rng: &mut impl Rng) -> String {
    let mut s = String::with_capacity(23);
    s.push_str(prefix);
    s.push_str(&at.format("%Y%m%d%H%M%S%3f").to_string());
    for _ in 0..4 {
        s.push(SUFFIX_ALPHABET[rng.gen_range(0..SUFFIX_ALPHABET.len())] as char);
    }
    s
}

/// Checked by characters, never by byte offsets: the input is whatever a client typed, and a
/// multi-byte character must be refused, not sliced through (which panics).
fn well_formed(prefix: &str, s: &str) -> bool {
    // Every accepted character is ASCII, so after this check bytes and characters agree.
    if !s.is_ascii() || s.len() != 23 || !s.starts_with(prefix) {
        return false;
    }
    let (stamp, suffix) = s.as_bytes()[2..].split_at(17);
    stamp.iter().all(u8::is_ascii_digit)
        && suffix.iter().all(|b| SUFFIX_ALPHABET.contains(b))
        && std::str::from_utf8(stamp).is_ok_and(|t| chrono::NaiveDateTime::parse_from_str(t, "%Y%m%d%H%M%S%3f").is_ok())
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Error)]
#[error("not a valid {kind}: expected {prefix} + yyyyMMddHHmmssSSS + 4 chars of [0-9A-Z]")]
pub struct IdParseError {
    kind: &'static str,
    prefix: &'static str,
}

use thiserror::Error;

macro_rules! id_type {
    ($name:ident, $prefix:literal, $kind:literal) => {
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            pub fn generate(at: DateTime<Utc>, rng: &mut impl Rng) -> Self {
                Self(generate($prefix, at, rng))
            }
            pub fn parse(s: &str) -> Result<Self, IdParseError> {
                if well_formed($prefix, s) {
                    Ok(Self(s.to_owned()))
                } else {
                    Err(IdParseError {
                        kind: $kind,
                        prefix: $prefix,
                    })
                }
            }
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
        impl TryFrom<String> for $name {
            type Error = IdParseError;
            fn try_from(s: String) -> Result<Self, Self::Error> {
                Self::parse(&s)
            }
        }
        impl From<$name> for String {
            fn from(v: $name) -> String {
                v.0
            }
        }
    };
}

id_type!(OrderNo, "XY", "order number");
id_type!(OutOrderNo, "VS", "virtual card order number");

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn generated_numbers_have_the_seed_format() {
        let at = Utc.with_ymd_and_hms(2026, 3, 21, 3, 51, 47).unwrap() + chrono::Duration::milliseconds(663);
        let no = OrderNo::generate(at, &mut rand::thread_rng());
        assert!(no.as_str().starts_with("XY20260321035147663"), "{no}");
        assert_eq!(no.as_str().len(), 23);
        assert_eq!(OrderNo::parse(no.as_str()).unwrap(), no);
        let vs = OutOrderNo::generate(at, &mut rand::thread_rng());
        assert!(vs.as_str().starts_with("VS20260321035147663"));
    }

    #[test]
    fn the_seed_order_numbers_parse() {
        assert!(OrderNo::parse("XY20260321035147663EN6S").is_ok());
        assert!(OutOrderNo::parse("VS20260321035147718K6ZJ").is_ok());
    }

    #[test]
    fn malformed_numbers_are_refused() {
        for bad in [
            "",
            "XY2026032103514766EN6S",
            "VS20260321035147663EN6S",
            "XY20261321035147663EN6S",
            "XY20260321035147663en6s",
            "XY20260321035147663EN6S1",
            "XY20260321035147663EN6Ś",
            // 23 bytes with a two-byte character across byte 19: once a panic.
            "XY0000000000000000\u{e9}abc",
            "XY000000000000000\u{e9}0abc",
            "XY20260321035147663E\u{e9}S",
            "\u{e9}Y20260321035147663EN6",
            "XY20260321035147663EN\u{0}S",
        ] {
            assert!(OrderNo::parse(bad).is_err(), "{bad} accepted");
        }
    }
}
