//! An XGJ virtual-supply call: query string and body as sent. The gate never panics, a call it
//! lets through has the right signature, and a purchase body it accepts carries no control
//! character (nothing the database would refuse).
#![no_main]

use libfuzzer_sys::fuzz_target;
use secrecy::SecretString;
use xyt_integrations::xgj::gate::{parse_purchase_body, single_params, verify_supply};
use xyt_integrations::xgj::SupplyCredentials;

const NOW: i64 = 1_774_065_300;

fn creds() -> SupplyCredentials {
    SupplyCredentials {
        app_id: "677859093659717".into(),
        app_secret: SecretString::from("fuzz-app-secret"),
        mch_id: "xy-ticket-mvp-001".into(),
        mch_secret: SecretString::from("fuzz-mch-secret"),
    }
}

fuzz_target!(|data: &[u8]| {
    // The first line is the query, the rest the body.
    let split = data.iter().position(|&b| b == b'\n').unwrap_or(data.len());
    let query = String::from_utf8_lossy(&data[..split]);
    let body = data.get(split + 1..).unwrap_or_default();
    let creds = creds();

    if let Ok(mch_id) = verify_supply(&creds, &query, body, NOW) {
        let p = single_params(&query, &["mch_id", "timestamp", "sign"]).expect("verified");
        assert_eq!(mch_id, creds.mch_id);
        assert_eq!(p[2], creds.supply_sign(body, &p[1], &p[0]));
    }
    // The same body, properly signed: the gate must let it through, whatever the body is.
    let ts = NOW.to_string();
    let sign = creds.supply_sign(body, &ts, &creds.mch_id);
    let signed = format!("mch_id={}&timestamp={ts}&sign={sign}", creds.mch_id);
    assert_eq!(
        verify_supply(&creds, &signed, body, NOW).as_deref(),
        Ok(creds.mch_id.as_str())
    );

    if let Ok((raw, typed)) = parse_purchase_body(body) {
        assert!(xyt_domain::text::check_json(&raw).is_ok());
        assert!((1..=9999).contains(&typed.buy_quantity));
        assert!(!typed.order_no.contains('\0') && !typed.notify_url.contains('\0'));
    }
    let _ = xyt_integrations::xgj::erp_sign("677859093659717", "fuzz-app-secret", body, &query);
});
