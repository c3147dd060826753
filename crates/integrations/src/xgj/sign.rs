//! The signatures of `xgj-wecom.md` §2.
//!
//! Virtual supply (XGJ ⇄ our gateway), six fields:
//! `md5("app_id,app_secret,md5(body),timestamp,mch_id,mch_secret")`.
//! ERP open platform (and XGJ's order push to us), four fields:
//! `md5("appKey,md5(body),timestamp,appSecret")`.
//! Always over the exact body bytes on the wire, never a re-serialization.

use md5::{Digest, Md5};
use secrecy::{ExposeSecret, SecretString};
use subtle::ConstantTimeEq;

pub fn md5_hex(bytes: &[u8]) -> String {
    hex::encode(Md5::digest(bytes))
}

pub fn supply_sign(
    app_id: &str,
    app_secret: &str,
    body: &[u8],
    timestamp: &str,
    mch_id: &str,
    mch_secret: &str,
) -> String {
    let s = format!(
        "{app_id},{app_secret},{},{timestamp},{mch_id},{mch_secret}",
        md5_hex(body)
    );
    md5_hex(s.as_bytes())
}

pub fn erp_sign(app_key: &str, app_secret: &str, body: &[u8], timestamp: &str) -> String {
    let s = format!("{app_key},{},{timestamp},{app_secret}", md5_hex(body));
    md5_hex(s.as_bytes())
}

/// Compares hex signatures in constant time (case-insensitively, as some senders upper-case).
pub fn sign_eq(expected: &str, given: &str) -> bool {
    let given = given.to_ascii_lowercase();
    expected.len() == given.len() && bool::from(expected.as_bytes().ct_eq(given.as_bytes()))
}

/// The credentials of the virtual-supply gateway. Secrets never print.
#[derive(Clone)]
pub struct SupplyCredentials {
    pub app_id: String,
    pub app_secret: SecretString,
    pub mch_id: String,
    pub mch_secret: SecretString,
}

impl std::fmt::Debug for SupplyCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SupplyCredentials")
            .field("app_id", &self.app_id)
            .field("app_secret", &"***")
            .field("mch_id", &self.mch_id)
            .field("mch_secret", &"***")
            .finish()
    }
}

impl SupplyCredentials {
    pub fn supply_sign(&self, body: &[u8], timestamp: &str, mch_id: &str) -> String {
        supply_sign(
            &self.app_id,
            self.app_secret.expose_secret(),
            body,
            timestamp,
            mch_id,
            self.mch_secret.expose_secret(),
        )
    }

    /// The ERP order push is signed with the same app id (appKey) and app secret.
    pub fn erp_sign(&self, body: &[u8], timestamp: &str) -> String {
        erp_sign(&self.app_id, self.app_secret.expose_secret(), body, timestamp)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_md5_matches_the_xgj_doc_vector() {
        assert_eq!(
            md5_hex(br#"{"goods_type":1,"goods_no":"12344532"}"#),
            "9b8030f5097d5ed123405b003dd247c5"
        );
        assert_eq!(md5_hex(b"{}"), "99914b932bd37a50b983c5e7c90ae93b");
        assert_eq!(md5_hex(b""), "d41d8cd98f00b204e9800998ecf8427e");
    }

    #[test]
    fn supply_sign_matches_the_recomputed_vectors() {
        let body = br#"{"goods_type":1,"goods_no":"12344532"}"#;
        let (app_id, app_secret, ts, mch_secret) = (
            "677859093659717",
            "wK63PxlOBaY9NoqMksLeZySzGIW25ifA",
            "1724414553",
            "o9wl81dncmvby3ijpq7eur456zhgtaxs",
        );
        assert_eq!(
            supply_sign(app_id, app_secret, body, ts, "1001", mch_secret),
            "fda5954f48ab32b3b271c84450440ead"
        );
        assert_eq!(
            supply_sign(app_id, app_secret, body, ts, "100", mch_secret),
            "f8677927fd8421a75718e8cfaaf92221"
        );
    }

    #[test]
    fn erp_sign_matches_the_official_example() {
        let body = br#"{"product_id":"219530767978565"}"#;
        assert_eq!(md5_hex(body), "2608f2139cca8755cabf25209251e549");
        assert_eq!(
            erp_sign(
                "203413189371893",
                "o9wl81dncmvby3ijpq7eur456zhgtaxs",
                body,
                "1636087298"
            ),
            "c26c8a48809141f3dd80bd9b9ddb41ea"
        );
    }

    #[test]
    fn signatures_compare_exactly() {
        let s = md5_hex(b"x");
        assert!(sign_eq(&s, &s));
        assert!(sign_eq(&s, &s.to_uppercase()));
        assert!(!sign_eq(&s, &s[..31]));
        assert!(!sign_eq(&s, &md5_hex(b"y")));
    }

    #[test]
    fn credentials_do_not_print_secrets() {
        let c = SupplyCredentials {
            app_id: "a".into(),
            app_secret: "topsecret".into(),
            mch_id: "m".into(),
            mch_secret: "alsosecret".into(),
        };
        let d = format!("{c:?}");
        assert!(!d.contains("topsecret") && !d.contains("alsosecret"), "{d}");
    }
}
