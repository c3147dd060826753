//! Sends signed calls the way XGJ does: compact JSON body, query `mch_id`, `timestamp`, `sign`
//! (virtual supply) or `appid`, `timestamp`, `sign` (ERP push). Used by the demo loader, by
//! `xyt xgj send-test-order` and by the tests, so that all of them go through the real gateway.

use super::sign::SupplyCredentials;

#[derive(Debug, Clone)]
pub struct SignedCall {
    pub url: String,
    pub body: Vec<u8>,
}

#[derive(Debug, Clone)]
pub struct XgjSupplyClient {
    http: reqwest::Client,
    /// The gateway base, e.g. `http://127.0.0.1:8080/xgj`.
    base: String,
    creds: SupplyCredentials,
}

impl XgjSupplyClient {
    pub fn new(base: impl Into<String>, creds: SupplyCredentials) -> Self {
        Self {
            http: reqwest::Client::new(),
            base: base.into().trim_end_matches('/').to_string(),
            creds,
        }
    }

    /// The gateway base URL.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// A virtual-supply call (`/goofish/...`) signed at `timestamp`.
    pub fn supply_call(&self, path: &str, body: &serde_json::Value, timestamp: i64) -> SignedCall {
        let body = serde_json::to_vec(body).expect("a JSON value serializes");
        let ts = timestamp.to_string();
        let sign = self.creds.supply_sign(&body, &ts, &self.creds.mch_id);
        SignedCall {
            url: format!(
                "{}{}?mch_id={}&timestamp={ts}&sign={sign}",
                self.base,
                path,
                urlencode(&self.creds.mch_id)
            ),
            body,
        }
    }

    /// An ERP order push (`/erp/order-push`) signed at `timestamp`.
    pub fn erp_call(&self, path: &str, body: &serde_json::Value, timestamp: i64) -> SignedCall {
        let body = serde_json::to_vec(body).expect("a JSON value serializes");
        let ts = timestamp.to_string();
        let sign = self.creds.erp_sign(&body, &ts);
        SignedCall {
            url: format!(
                "{}{}?appid={}&timestamp={ts}&sign={sign}",
                self.base,
                path,
                urlencode(&self.creds.app_id)
            ),
            body,
        }
    }

    pub async fn send(&self, call: &SignedCall) -> Result<serde_json::Value, reqwest::Error> {
        self.http
            .post(&call.url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(call.body.clone())
            .send()
            .await?
            .error_for_status()?
            .json()
            .await
    }
}

pub(crate) fn urlencode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => out.push(b as char),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}
