//! The order-number parsers take any text without panicking, and accept only the exact shape.
#![no_main]

use libfuzzer_sys::fuzz_target;
use xyt_domain::{OrderNo, OutOrderNo};

fuzz_target!(|s: &str| {
    if let Ok(no) = OrderNo::parse(s) {
        assert_eq!(no.as_str(), s);
        assert!(s.is_ascii() && s.len() == 23 && s.starts_with("XY"), "{s:?}");
    }
    if let Ok(no) = OutOrderNo::parse(s) {
        assert!(no.as_str().starts_with("VS") && no.as_str().len() == 23);
    }
    // Through serde as well (the path and JSON both come this way).
    let _ = serde_json::from_value::<OrderNo>(serde_json::Value::String(s.to_owned()));
});
