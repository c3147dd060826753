//! The HTTP plumbing the senders share: one client with bounded timeouts, and reading a WeCom
//! reply into `(errcode, errmsg, body)` so each sender decides what a non-zero errcode means
//! (the app chat refreshes its token on 40014/42001 before classifying).

use std::time::Duration;

use super::classify;
use super::SendError;

/// Every outbound call is bounded: a hung far side must never stall the delivery worker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HttpTimeouts {
    /// TCP (and TLS) connect.
    pub connect: Duration,
    /// The whole request, from sending to the last byte of the reply.
    pub total: Duration,
}

impl Default for HttpTimeouts {
    fn default() -> Self {
        Self {
            connect: Duration::from_secs(3),
            total: Duration::from_secs(10),
        }
    }
}

/// The client every sender uses. Fails only when the TLS backend cannot start.
pub fn http_client(timeouts: HttpTimeouts) -> Result<reqwest::Client, reqwest::Error> {
    reqwest::Client::builder()
        .connect_timeout(timeouts.connect)
        .timeout(timeouts.total)
        // A webhook answering with a redirect is misconfigured; following it could carry the
        // robot key or a signed callback somewhere else.
        .redirect(reqwest::redirect::Policy::none())
        .build()
}

/// The most of a reply we read: WeCom's and XGJ's answers are a few hundred bytes; a far side
/// that streams more is cut off rather than allowed to grow our memory.
pub const MAX_REPLY_BYTES: usize = 64 * 1024;

/// Sends and reads the reply (at most [`MAX_REPLY_BYTES`]). Transport failures and non-200
/// statuses are classified here; the body of a 200 is left to the caller.
pub(crate) async fn send_and_read(req: reqwest::RequestBuilder) -> Result<String, SendError> {
    let mut resp = req.send().await.map_err(classify::from_reqwest)?;
    let status = resp.status().as_u16();
    let mut raw = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(classify::from_reqwest)? {
        if raw.len() + chunk.len() > MAX_REPLY_BYTES {
            return Err(classify::bad_response(format!(
                "reply larger than {MAX_REPLY_BYTES} bytes (HTTP {status})"
            )));
        }
        raw.extend_from_slice(&chunk);
    }
    let body = String::from_utf8_lossy(&raw).into_owned();
    match classify::http_status(status, &body) {
        Some(err) => Err(err),
        None => Ok(body),
    }
}

/// A WeCom reply that arrived with HTTP 200 and parsed as JSON with an `errcode`.
#[derive(Debug, Clone)]
pub(crate) struct WecomReply {
    pub errcode: i64,
    pub errmsg: String,
    pub body: serde_json::Value,
}

impl WecomReply {
    /// `Ok(body)` for errcode 0, otherwise the classified error.
    pub fn into_result(self) -> Result<serde_json::Value, SendError> {
        match classify::wecom_errcode(self.errcode, &self.errmsg) {
            Some(err) => Err(err),
            None => Ok(self.body),
        }
    }
}

pub(crate) async fn wecom_call(req: reqwest::RequestBuilder) -> Result<WecomReply, SendError> {
    let text = send_and_read(req).await?;
    let body: serde_json::Value = serde_json::from_str(&text)
        .map_err(|_| classify::bad_response(format!("not JSON: {}", classify::clip(&text))))?;
    let Some(errcode) = body.get("errcode").and_then(classify::json_int) else {
        return Err(classify::bad_response(format!("no errcode: {}", classify::clip(&text))));
    };
    let errmsg = body
        .get("errmsg")
        .and_then(|m| m.as_str())
        .unwrap_or_default()
        .to_string();
    Ok(WecomReply { errcode, errmsg, body })
}
