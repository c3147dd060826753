//! WeCom app group chat (`xgj-wecom.md` §7): `appchat/send` with an access_token from
//! `gettoken`, for a chat created by the same app through `appchat/create`.
//!
//! The token is cached until `expires_in` minus five minutes (gettoken is rate-limited) behind a
//! tokio mutex, so concurrent sends wait for one fetch instead of each fetching. WeCom may
//! invalidate a token early: on 40014 or 42001 the call fetches a new token once and is retried
//! once. The token and the corp secret travel only in query strings, never into a log or an
//! error message (transport errors are reported without their URL).

use std::sync::Arc;
use std::time::{Duration, Instant};

use secrecy::{ExposeSecret, SecretString};
use serde_json::json;

use super::classify;
use super::classify::{unsupported_message, unsupported_target};
use super::http::{wecom_call, WecomReply};
use super::wecom_robot::{check_image, parts_of, send_parts};
use super::{Message, SendError, SendOk, Sender, Target};

pub const DEFAULT_BASE_URL: &str = "https://qyapi.weixin.qq.com";
pub const ENV_CORP_ID: &str = "XYT_WECOM_CORP_ID";
pub const ENV_CORP_SECRET: &str = "XYT_WECOM_CORP_SECRET";

/// appchat text and markdown content, in UTF-8 bytes.
pub const APP_TEXT_LIMIT_BYTES: usize = 2048;
/// An image uploaded as app media (WC 96484 gives 10 MB; older copies of the page said 2 MB).
pub const APP_IMAGE_MAX_BYTES: usize = 10 * 1024 * 1024;
/// A cached token is dropped this long before WeCom says it expires.
pub const TOKEN_MARGIN: Duration = Duration::from_secs(5 * 60);
/// Errcodes meaning "this access_token is no good": refetch and retry once.
const TOKEN_REJECTED: [i64; 2] = [40014, 42001];

/// A self-built app's credentials. `Debug` shows the secret as redacted.
#[derive(Debug, Clone)]
pub struct WecomAppConfig {
    /// `https://qyapi.weixin.qq.com` unless a test fake or a relay stands in.
    pub base_url: String,
    pub corp_id: String,
    pub corp_secret: SecretString,
}

impl WecomAppConfig {
    pub fn new(corp_id: impl Into<String>, corp_secret: SecretString) -> Self {
        Self {
            base_url: DEFAULT_BASE_URL.into(),
            corp_id: corp_id.into(),
            corp_secret,
        }
    }

    pub fn with_base_url(mut self, base_url: impl Into<String>) -> Self {
        self.base_url = base_url.into();
        self
    }

    /// From optional settings (e.g. the env vars): neither id nor secret means "not configured"
    /// (`Ok(None)`); only one of them is a configuration error, in Chinese.
    pub fn from_settings(
        corp_id: Option<String>,
        corp_secret: Option<SecretString>,
        base_url: Option<String>,
    ) -> Result<Option<Self>, String> {
        let corp_id = corp_id.filter(|s| !s.trim().is_empty());
        let corp_secret = corp_secret.filter(|s| !s.expose_secret().trim().is_empty());
        match (corp_id, corp_secret) {
            (None, None) => Ok(None),
            (Some(id), Some(secret)) => {
                let config = Self::new(id.trim(), secret);
                Ok(Some(match base_url.filter(|s| !s.trim().is_empty()) {
                    Some(base) => config.with_base_url(base.trim()),
                    None => config,
                }))
            }
            _ => Err(format!("{ENV_CORP_ID} 与 {ENV_CORP_SECRET} 必须同时设置(或都不设置)")),
        }
    }
}

/// Sending to a `wecom-app:` target when no app is configured.
pub fn not_configured() -> SendError {
    SendError::permanent(
        "WECOM_APP_NOT_CONFIGURED",
        "no WeCom app is configured",
        Some(format!(
            "未配置企业微信自建应用:设置环境变量 {ENV_CORP_ID}(企业 ID)和 {ENV_CORP_SECRET}(应用 Secret)后重启服务,或把通知目标改成群机器人"
        )),
    )
}

struct CachedToken {
    token: SecretString,
    fresh_until: Instant,
}

#[derive(Clone)]
pub struct WecomApp {
    http: reqwest::Client,
    base: String,
    corp_id: String,
    corp_secret: SecretString,
    token: Arc<tokio::sync::Mutex<Option<CachedToken>>>,
}

impl std::fmt::Debug for WecomApp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WecomApp")
            .field("base", &self.base)
            .field("corp_id", &self.corp_id)
            .finish_non_exhaustive()
    }
}

impl WecomApp {
    /// `http` should come from [`super::http_client`], which bounds every call.
    pub fn new(http: reqwest::Client, config: WecomAppConfig) -> Self {
        Self {
            http,
            base: config.base_url.trim_end_matches('/').to_string(),
            corp_id: config.corp_id,
            corp_secret: config.corp_secret,
            token: Arc::new(tokio::sync::Mutex::new(None)),
        }
    }

    /// The cached token, or a new one when there is none, it is near expiry, or it is `rejected`.
    async fn token(&self, rejected: Option<&SecretString>) -> Result<SecretString, SendError> {
        let mut cached = self.token.lock().await;
        if let Some(c) = cached.as_ref() {
            let is_rejected = rejected.is_some_and(|r| r.expose_secret() == c.token.expose_secret());
            if !is_rejected && Instant::now() < c.fresh_until {
                return Ok(c.token.clone());
            }
        }
        *cached = None;
        let (token, expires_in) = self.fetch_token().await?;
        *cached = Some(CachedToken {
            token: token.clone(),
            fresh_until: Instant::now() + Duration::from_secs(expires_in).saturating_sub(TOKEN_MARGIN),
        });
        Ok(token)
    }

    async fn fetch_token(&self) -> Result<(SecretString, u64), SendError> {
        let req = self.http.get(format!("{}/cgi-bin/gettoken", self.base)).query(&[
            ("corpid", self.corp_id.as_str()),
            ("corpsecret", self.corp_secret.expose_secret()),
        ]);
        let body = wecom_call(req).await?.into_result()?;
        let token = body
            .get("access_token")
            .and_then(|t| t.as_str())
            .filter(|t| !t.is_empty())
            .ok_or_else(|| classify::bad_response("gettoken answered without an access_token"))?;
        let expires_in = body
            .get("expires_in")
            .and_then(classify::json_int)
            .and_then(|s| u64::try_from(s).ok())
            .unwrap_or(7200);
        tracing::info!(expires_in, "fetched a WeCom access_token");
        Ok((SecretString::from(token), expires_in))
    }

    /// One API call with the token in its query; a rejected token is replaced and the call
    /// made once more.
    async fn call<F>(&self, make: F) -> Result<serde_json::Value, SendError>
    where
        F: Fn(&str) -> reqwest::RequestBuilder,
    {
        let token = self.token(None).await?;
        let reply: WecomReply = wecom_call(make(token.expose_secret())).await?;
        if !TOKEN_REJECTED.contains(&reply.errcode) {
            return reply.into_result();
        }
        tracing::info!(
            errcode = reply.errcode,
            "WeCom rejected the access_token; refetching once"
        );
        let token = self.token(Some(&token)).await?;
        wecom_call(make(token.expose_secret())).await?.into_result()
    }

    async fn send_to_chat(&self, body: serde_json::Value) -> Result<(), SendError> {
        let url = format!("{}/cgi-bin/appchat/send", self.base);
        self.call(|token| self.http.post(&url).query(&[("access_token", token)]).json(&body))
            .await
            .map(drop)
    }

    async fn upload_image(&self, bytes: &[u8]) -> Result<String, SendError> {
        let kind = check_image(bytes, APP_IMAGE_MAX_BYTES)?;
        let url = format!("{}/cgi-bin/media/upload", self.base);
        let body = self
            .call(|token| {
                let part = reqwest::multipart::Part::bytes(bytes.to_vec())
                    .file_name(kind.file_name())
                    .mime_str(kind.mime())
                    .expect("a static MIME type parses");
                self.http
                    .post(&url)
                    .query(&[("access_token", token), ("type", "image")])
                    .multipart(reqwest::multipart::Form::new().part("media", part))
            })
            .await?;
        body.get("media_id")
            .and_then(|m| m.as_str())
            .filter(|m| !m.is_empty())
            .map(str::to_string)
            .ok_or_else(|| classify::bad_response("media/upload answered without a media_id"))
    }
}

#[async_trait::async_trait]
impl Sender for WecomApp {
    async fn send(&self, target: &Target, message: &Message) -> Result<SendOk, SendError> {
        let Target::WecomApp { chat_id } = target else {
            return Err(unsupported_target("wecom app", target));
        };
        match message {
            Message::Text(text) => {
                let parts = parts_of(text, APP_TEXT_LIMIT_BYTES)?;
                send_parts(&parts, move |content| {
                    self.send_to_chat(json!({
                        "chatid": chat_id, "msgtype": "text", "text": {"content": content}, "safe": 0
                    }))
                })
                .await
            }
            Message::Markdown(text) => {
                let parts = parts_of(text, APP_TEXT_LIMIT_BYTES)?;
                send_parts(&parts, move |content| {
                    self.send_to_chat(json!({
                        "chatid": chat_id, "msgtype": "markdown", "markdown": {"content": content}, "safe": 0
                    }))
                })
                .await
            }
            Message::Image { bytes } => {
                let media_id = self.upload_image(bytes).await?;
                self.send_to_chat(json!({
                    "chatid": chat_id, "msgtype": "image", "image": {"media_id": media_id}, "safe": 0
                }))
                .await?;
                Ok(SendOk { detail: "ok".into() })
            }
            Message::XgjCallback(_) => Err(unsupported_message("an XGJ callback body", "a WeCom app chat")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_configure_an_app_only_when_complete() {
        assert!(WecomAppConfig::from_settings(None, None, None).unwrap().is_none());
        assert!(WecomAppConfig::from_settings(Some(" ".into()), Some("".into()), None)
            .unwrap()
            .is_none());
        let c = WecomAppConfig::from_settings(Some("ww1".into()), Some("s3cret".into()), None)
            .unwrap()
            .unwrap();
        assert_eq!((c.base_url.as_str(), c.corp_id.as_str()), (DEFAULT_BASE_URL, "ww1"));
        let c = WecomAppConfig::from_settings(Some("ww1".into()), Some("s".into()), Some("http://127.0.0.1:9".into()))
            .unwrap()
            .unwrap();
        assert_eq!(c.base_url, "http://127.0.0.1:9");
        let err = WecomAppConfig::from_settings(Some("ww1".into()), None, None).unwrap_err();
        assert!(err.contains(ENV_CORP_SECRET), "{err}");
    }

    #[test]
    fn config_and_app_do_not_print_the_secret() {
        let c = WecomAppConfig::new("ww1", "s3cret-value".into());
        assert!(!format!("{c:?}").contains("s3cret-value"));
        let app = WecomApp::new(reqwest::Client::new(), c);
        assert!(!format!("{app:?}").contains("s3cret-value"));
    }

    #[test]
    fn not_configured_names_the_env_vars() {
        let e = not_configured();
        assert_eq!(e.code, "WECOM_APP_NOT_CONFIGURED");
        assert_eq!(e.class, super::super::ErrorClass::Permanent);
        let hint = e.hint.unwrap();
        assert!(hint.contains(ENV_CORP_ID) && hint.contains(ENV_CORP_SECRET), "{hint}");
    }
}
