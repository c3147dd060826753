//! Query parameters of the list endpoints, parsed field by field: every bad field is reported at
//! once in one 422, and the same field means the same thing on every list.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use super::error::ApiError;

pub const MAX_LIMIT: i64 = 200;
pub const DEFAULT_LIMIT: i64 = 50;

#[derive(Default)]
pub struct Params {
    errors: BTreeMap<String, String>,
}

fn given(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

impl Params {
    pub fn error(&mut self, field: &str, message: impl Into<String>) {
        self.errors.insert(field.into(), message.into());
    }

    /// An RFC 3339 time. Given but empty (`createdTo=`) is not a time either: refused, as the
    /// document's `date-time` format says, rather than read as "no bound".
    pub fn time(&mut self, field: &str, v: &Option<String>) -> Option<DateTime<Utc>> {
        if v.as_deref().is_some_and(|s| s.trim().is_empty()) {
            self.error(field, "必须是 RFC 3339 时间,例如 2026-03-21T11:52:54+08:00");
            return None;
        }
        let v = given(v)?;
        match DateTime::parse_from_rfc3339(v) {
            Ok(t) => Some(t.with_timezone(&Utc)),
            Err(_) => {
                self.error(field, "必须是 RFC 3339 时间,例如 2026-03-21T11:52:54+08:00");
                None
            }
        }
    }

    /// The page size, 1 to 200, 50 when absent.
    pub fn limit(&mut self, v: &Option<String>) -> i64 {
        match given(v).map(str::parse::<i64>) {
            None => DEFAULT_LIMIT,
            Some(Ok(n)) if (1..=MAX_LIMIT).contains(&n) => n,
            Some(_) => {
                self.error("limit", format!("必须是 1 到 {MAX_LIMIT} 之间的整数"));
                DEFAULT_LIMIT
            }
        }
    }

    /// An opaque keyset cursor, decoded by `decode`.
    pub fn cursor<T>(&mut self, v: &Option<String>, decode: impl FnOnce(&str) -> Option<T>) -> Option<T> {
        let v = given(v)?;
        let c = decode(v);
        if c.is_none() {
            self.error("cursor", "无效的分页游标,请从第一页重新开始");
        }
        c
    }

    /// One of a fixed set of values.
    /// One of a closed set's values, given as its string (`name`).
    pub fn one_of<T: Copy>(
        &mut self,
        field: &str,
        v: &Option<String>,
        allowed: &[T],
        name: fn(T) -> &'static str,
    ) -> Option<T> {
        let v = given(v)?;
        let found = allowed.iter().copied().find(|a| name(*a) == v);
        if found.is_none() {
            let names: Vec<&str> = allowed.iter().map(|a| name(*a)).collect();
            self.error(field, format!("可选:{}", names.join(", ")));
        }
        found
    }

    pub fn finish(self) -> Result<(), ApiError> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(ApiError::validation(self.errors))
        }
    }
}

/// An operator's `yes`/`reject` decision with its note (required to reject, at most 500 chars).
pub fn decision_with_note(decision: &str, note: Option<String>, yes: &str) -> Result<(bool, String), ApiError> {
    let note = note.unwrap_or_default();
    if note.chars().count() > 500 {
        return Err(ApiError::field("note", "最多 500 个字符"));
    }
    match decision {
        d if d == yes => Ok((true, note)),
        "reject" if note.trim().is_empty() => Err(ApiError::field("note", "拒绝时必须写明原因")),
        "reject" => Ok((false, note)),
        _ => Err(ApiError::field("decision", format!("只能是 {yes} 或 reject"))),
    }
}
