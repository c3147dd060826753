//! The screenshot matcher over any OCR text: never panics, bounded output, and a match needs
//! every field.
#![no_main]

use chrono::NaiveDate;
use libfuzzer_sys::fuzz_target;
use xyt_domain::matching::{extract_fields, match_screenshot, Expected};

fuzz_target!(|text: &str| {
    let fields = extract_fields(text);
    if let Some(name) = &fields.name {
        assert!(name.chars().count() <= 40);
    }
    if let Some(t) = &fields.ticket_type {
        assert!(t.chars().count() <= 100);
    }
    let expected = Expected {
        name: "马上到".into(),
        certificate_no: "320911198804223314".into(),
        play_date: NaiveDate::from_ymd_opt(2027, 1, 10).expect("a date"),
        ticket_type: "初级道3小时".into(),
    };
    let m = match_screenshot(&fields, 0.9, &expected);
    assert_eq!(m.matched, m.reasons.is_empty());
    if m.matched {
        assert!(fields.name.is_some() && fields.certificate_no.is_some());
        assert!(fields.play_date.is_some() && fields.ticket_type.is_some());
    }
});
