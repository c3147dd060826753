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

/// Where a message goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    WecomRobot { url: String },
    WecomApp { chat_id: String },
    XgjCallback { url: String },
    Mock { name: String },
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct TargetError(pub String);

impl Target {
    /// Parses a configured target. `xgj_callback` says whether an `http(s)://` URL is an XGJ
    /// callback (the order's `notify_url`) rather than a WeCom robot webhook.
    pub fn parse(s: &str, xgj_callback: bool) -> Result<Self, TargetError> {
        let s = s.trim();
        if let Some(name) = s.strip_prefix("mock://") {
            if name.is_empty() || name.len() > 200 {
                return Err(TargetError("mock:// 后需要名称".into()));
            }
            return Ok(Target::Mock { name: name.into() });
        }
        if let Some(id) = s.strip_prefix("wecom-app:") {
            if id.is_empty() || id.len() > 32 || !id.bytes().all(|b| b.is_ascii_alphanumeric()) {
                return Err(TargetError("wecom-app: 后需要 1–32 位字母或数字的 chatid".into()));
            }
            return Ok(Target::WecomApp { chat_id: id.into() });
        }
        let lower = s.to_ascii_lowercase();
        if (lower.starts_with("https://") || lower.starts_with("http://"))
            && s.len() <= 2048
            && !s.contains(char::is_whitespace)
        {
            return Ok(if xgj_callback {
                Target::XgjCallback { url: s.into() }
            } else {
                Target::WecomRobot { url: s.into() }
            });
        }
        Err(TargetError(
            "目标必须是 mock://名称、wecom-app:chatid 或 http(s) 地址".into(),
        ))
    }

    pub fn channel(&self) -> Channel {
        match self {
            Target::WecomRobot { .. } => Channel::WecomBot,
            Target::WecomApp { .. } => Channel::WecomApp,
            Target::XgjCallback { .. } => Channel::XgjNotify,
            Target::Mock { .. } => Channel::Mock,
        }
    }

    /// The target as stored and shown, with a robot's key masked (it is the robot's only credential).
    pub fn display(&self) -> String {
        match self {
            Target::WecomRobot { url } => match url.split_once("key=") {
                Some((head, key)) => {
                    let tail: String = key
                        .chars()
                        .rev()
                        .take(4)
                        .collect::<Vec<_>>()
                        .into_iter()
                        .rev()
                        .collect();
                    format!("{head}key=****{tail}")
                }
                None => url.clone(),
            },
            Target::WecomApp { chat_id } => format!("wecom-app:{chat_id}"),
            Target::XgjCallback { url } => url.clone(),
            Target::Mock { name } => format!("mock://{name}"),
        }
    }
}

/// The channel of a target, as the delivery rows name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    WecomBot,
    WecomApp,
    XgjNotify,
    Mock,
}

impl Channel {
    pub const fn as_str(self) -> &'static str {
        match self {
            Channel::WecomBot => "wecom_bot",
            Channel::WecomApp => "wecom_app",
            Channel::XgjNotify => "xgj_notify",
            Channel::Mock => "mock",
        }
    }
}

/// What to send.
#[derive(Debug, Clone, PartialEq)]
pub enum Message {
    /// Plain text (WeCom: at most 2048 bytes per message; longer text is split).
    Text(String),
    /// WeCom markdown (at most 4096 bytes per message).
    Markdown(String),
    /// An image (JPEG or PNG, at most 2 MB before base64 for a robot).
    Image { bytes: Vec<u8> },
    /// The body of an XGJ order-result callback, signed and POSTed to the order's notify_url.
    XgjOrderResult(serde_json::Value),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_parse_by_their_form() {
        assert_eq!(
            Target::parse("mock://wecom-bot/default", false).unwrap().channel(),
            Channel::Mock
        );
        assert_eq!(
            Target::parse("wecom-app:10891352157802033", false).unwrap().channel(),
            Channel::WecomApp
        );
        let robot = Target::parse("https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=abcd-1234", false).unwrap();
        assert_eq!(robot.channel(), Channel::WecomBot);
        assert_eq!(
            robot.display(),
            "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=****1234"
        );
        assert_eq!(
            Target::parse("https://open.goofish.pro/cb/x", true).unwrap().channel(),
            Channel::XgjNotify
        );
        for bad in [
            "",
            "mock://",
            "wecom-app:",
            "wecom-app:has space",
            "ftp://x",
            "wecom-app:0123456789012345678901234567890123",
        ] {
            assert!(Target::parse(bad, false).is_err(), "{bad}");
        }
    }
}
