//! XGJ callbacks (`xgj-wecom.md` §3.4, §4): the order result to the order's own `notify_url`, a
//! goods change to the subscriber's. POST the compact JSON body with `mch_id`, `timestamp` and
//! the six-field `sign` (§2.1) over the exact body bytes in the query.
//!
//! Success is HTTP 200 with `code == 0`. What XGJ means by a non-zero code here is unconfirmed
//! (§9), so it is Retryable and the delivery worker's attempt limit bounds it.

use std::time::{SystemTime, UNIX_EPOCH};

use super::classify::{self, clip, unsupported_message, unsupported_target};
use super::http::send_and_read;
use super::{Message, SendError, SendOk, Sender, Target};
use crate::xgj::client::urlencode;
use crate::xgj::sign::SupplyCredentials;

#[derive(Debug, Clone)]
pub struct XgjNotifier {
    http: reqwest::Client,
    creds: SupplyCredentials,
}

impl XgjNotifier {
    /// `http` should come from [`super::http_client`], which bounds every call.
    pub fn new(http: reqwest::Client, creds: SupplyCredentials) -> Self {
        Self { http, creds }
    }

    /// The body as sent (compact JSON) and the notify_url with the signed query appended.
    pub fn signed_call(&self, notify_url: &str, body: &serde_json::Value, timestamp: i64) -> (String, Vec<u8>) {
        let body = serde_json::to_vec(body).expect("a JSON value serializes");
        let ts = timestamp.to_string();
        let sign = self.creds.supply_sign(&body, &ts, &self.creds.mch_id);
        let sep = match notify_url.rfind('?') {
            None => "?",
            Some(_) if notify_url.ends_with(['?', '&']) => "",
            Some(_) => "&",
        };
        let url = format!(
            "{notify_url}{sep}mch_id={}&timestamp={ts}&sign={sign}",
            urlencode(&self.creds.mch_id)
        );
        (url, body)
    }
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_default()
}

#[async_trait::async_trait]
impl Sender for XgjNotifier {
    async fn send(&self, target: &Target, message: &Message) -> Result<SendOk, SendError> {
        let Target::XgjCallback { url } = target else {
            return Err(unsupported_target("XGJ callback", target));
        };
        let Message::XgjCallback(body) = message else {
            return Err(unsupported_message("only an XGJ callback body", "an XGJ callback"));
        };
        let (url, body) = self.signed_call(url, body, unix_now());
        let req = self
            .http
            .post(url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body);
        let text = send_and_read(req).await?;
        let reply: serde_json::Value =
            serde_json::from_str(&text).map_err(|_| classify::bad_response(format!("not JSON: {}", clip(&text))))?;
        let Some(code) = reply.get("code").and_then(classify::json_int) else {
            return Err(classify::bad_response(format!("no code: {}", clip(&text))));
        };
        let msg = reply.get("msg").and_then(|m| m.as_str()).unwrap_or_default();
        match classify::xgj_code(code, msg) {
            Some(err) => Err(err),
            None => Ok(SendOk {
                detail: format!("xgj: code 0 {msg}").trim_end().to_string(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn notifier() -> XgjNotifier {
        XgjNotifier::new(
            reqwest::Client::new(),
            SupplyCredentials {
                app_id: "677859093659717".into(),
                app_secret: "wK63PxlOBaY9NoqMksLeZySzGIW25ifA".into(),
                mch_id: "1001".into(),
                mch_secret: "o9wl81dncmvby3ijpq7eur456zhgtaxs".into(),
            },
        )
    }

    #[test]
    fn the_signed_query_is_appended_to_the_notify_url() {
        let body = serde_json::json!({"order_no": "X1", "order_status": 20, "card_items": [{"card_pwd": "p w"}]});
        let (url, bytes) = notifier().signed_call("https://x.example/cb/tok", &body, 1724414553);
        assert_eq!(bytes, serde_json::to_vec(&body).unwrap(), "compact JSON");
        let sign = crate::xgj::sign::supply_sign(
            "677859093659717",
            "wK63PxlOBaY9NoqMksLeZySzGIW25ifA",
            &bytes,
            "1724414553",
            "1001",
            "o9wl81dncmvby3ijpq7eur456zhgtaxs",
        );
        assert_eq!(
            url,
            format!("https://x.example/cb/tok?mch_id=1001&timestamp=1724414553&sign={sign}")
        );
        let (url, _) = notifier().signed_call("https://x.example/cb?token=a", &body, 1724414553);
        assert!(url.starts_with("https://x.example/cb?token=a&mch_id=1001&"), "{url}");
        let (url, _) = notifier().signed_call("https://x.example/cb?", &body, 1724414553);
        assert!(url.starts_with("https://x.example/cb?mch_id=1001&"), "{url}");
    }
}
