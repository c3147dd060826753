//! The buyer's form: any JSON body, validated as the public form endpoint does. Never panics,
//! and what it accepts has the shapes it promises.
#![no_main]

use chrono::NaiveDate;
use libfuzzer_sys::fuzz_target;
use xyt_domain::buyer::{validate, FormInput};

fuzz_target!(|data: &[u8]| {
    let Ok(input) = serde_json::from_slice::<FormInput>(data) else {
        return;
    };
    let today = NaiveDate::from_ymd_opt(2026, 11, 29).expect("a date");
    if let Ok(form) = validate(&input, today, 180) {
        assert!(form.play_date >= today && form.play_date <= today + chrono::Days::new(180));
        let name = form.name.as_str();
        assert!(!name.is_empty() && xyt_domain::text::check(name, xyt_domain::text::TextKind::SingleLine).is_ok());
        assert!(xyt_domain::text::check(form.certificate_no.as_str(), xyt_domain::text::TextKind::SingleLine).is_ok());
    }
});
