//! The Order aggregate: one event stream per order, keyed by its `OrderNo`.
//!
//! `handle` decides, `apply` only folds. Commands that repeat what already happened (XGJ
//! retrying an intake, a second refund push) succeed without events, so callers can retry
//! anything after a crash and never do a thing twice.

pub mod actions;
mod events;
pub mod messages;
mod state;
pub mod view;

#[cfg(test)]
mod tests;

pub use actions::{ActionContext, AvailableAction, OrderAction};
pub use events::*;
pub use state::*;
pub use view::{ExceptionOverview, KeyStatus, KeyStatuses, SuggestedAction};

use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// Where an event came from, with the request that caused it. Stored as the event's metadata
/// (postgres-es keeps a string map per event).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventMeta {
    /// `xgj_virtual`, `public`, `system`, `admin:<operator>`, `api:<key name>`.
    pub source: String,
    /// `accepted`, or `rejected` for an attempt that failed (a send, say).
    pub result: String,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub processed_at: chrono::DateTime<chrono::Utc>,
    pub request_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_message: Option<String>,
}

impl EventMeta {
    pub fn accepted(
        source: impl Into<String>,
        request_id: impl Into<String>,
        created_at: chrono::DateTime<chrono::Utc>,
    ) -> Self {
        Self {
            source: source.into(),
            result: "accepted".into(),
            created_at,
            processed_at: created_at,
            request_id: request_id.into(),
            error_code: None,
            error_message: None,
        }
    }

    pub fn to_map(&self) -> HashMap<String, String> {
        let mut m = HashMap::new();
        m.insert("source".into(), self.source.clone());
        m.insert("result".into(), self.result.clone());
        m.insert(
            "createdAt".into(),
            self.created_at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
        );
        m.insert(
            "processedAt".into(),
            self.processed_at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
        );
        m.insert("requestId".into(), self.request_id.clone());
        if let Some(c) = &self.error_code {
            m.insert("errorCode".into(), c.clone());
        }
        if let Some(c) = &self.error_message {
            m.insert("errorMessage".into(), c.clone());
        }
        m
    }

    /// Reads metadata back; fields a stored event lacks come back empty rather than failing,
    /// since old events must always stay readable.
    pub fn from_map(m: &HashMap<String, String>) -> Self {
        let time = |k: &str| {
            m.get(k)
                .and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok())
                .map(|t| t.with_timezone(&chrono::Utc))
                .unwrap_or_default()
        };
        Self {
            source: m.get("source").cloned().unwrap_or_default(),
            result: m.get("result").cloned().unwrap_or_default(),
            created_at: time("createdAt"),
            processed_at: time("processedAt"),
            request_id: m.get("requestId").cloned().unwrap_or_default(),
            error_code: m.get("errorCode").cloned(),
            error_message: m.get("errorMessage").cloned(),
        }
    }
}
