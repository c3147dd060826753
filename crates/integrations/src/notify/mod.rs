//! Sending messages: the channels behind one trait.
//!
//! A target string names where a message goes: a WeCom group robot is its whole webhook URL
//! (`https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=...`, so a test fake or a self-hosted
//! relay can stand in), an app chat is `wecom-app:<chatid>`, an XGJ callback is the order's
//! `notify_url`, and a demo target is `mock://<name>` (recorded, never sent anywhere).
//!
//! Senders only send and classify the outcome; retries, back-off and rate limits are the
//! delivery worker's business (it sees every process's attempts in the database).

use serde::{Deserialize, Serialize};

pub use xyt_domain::target::{Channel, Target, TargetError};

pub mod classify;
mod http;
pub mod mock;
pub mod senders;
pub mod wecom_app;
pub mod wecom_robot;
pub mod xgj_notify;

pub use http::{http_client, HttpTimeouts};
pub use mock::MockSender;
pub use senders::{Senders, SendersConfig};
pub use wecom_app::{WecomApp, WecomAppConfig};
pub use wecom_robot::{split_for_limit, WecomRobot};
pub use xgj_notify::XgjNotifier;

/// What to send.
#[derive(Debug, Clone, PartialEq)]
pub enum Message {
    /// Plain text (WeCom: at most 2048 bytes per message; longer text is split).
    Text(String),
    /// WeCom markdown (at most 4096 bytes per message).
    Markdown(String),
    /// An image (JPEG or PNG, at most 2 MB before base64 for a robot).
    Image { bytes: Vec<u8> },
    /// The body of an XGJ callback (an order result, a goods change), signed and POSTed to the
    /// notify_url XGJ gave us.
    XgjCallback(serde_json::Value),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendOk {
    /// What the far side said (e.g. `ok`, or how many parts were sent).
    pub detail: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorClass {
    /// Worth another attempt later (network, HTTP 5xx, busy, rate limited).
    Retryable,
    /// Will fail again until someone fixes the configuration.
    Permanent,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct SendError {
    pub class: ErrorClass,
    /// Stable code, e.g. `WECOM_60020`, `HTTP_503`, `NETWORK`, `TIMEOUT`, `XGJ_1`.
    pub code: String,
    /// What the far side said, verbatim (WeCom's errmsg, say).
    pub message: String,
    /// In Chinese, what the operator must fix (e.g. add the server's IP to 企业可信IP).
    pub hint: Option<String>,
}

impl SendError {
    pub fn permanent(code: impl Into<String>, message: impl Into<String>, hint: Option<String>) -> Self {
        Self {
            class: ErrorClass::Permanent,
            code: code.into(),
            message: message.into(),
            hint,
        }
    }

    pub fn retryable(code: impl Into<String>, message: impl Into<String>, hint: Option<String>) -> Self {
        Self {
            class: ErrorClass::Retryable,
            code: code.into(),
            message: message.into(),
            hint,
        }
    }

    pub fn is_retryable(&self) -> bool {
        self.class == ErrorClass::Retryable
    }
}

#[async_trait::async_trait]
pub trait Sender: Send + Sync {
    async fn send(&self, target: &Target, message: &Message) -> Result<SendOk, SendError>;
}
