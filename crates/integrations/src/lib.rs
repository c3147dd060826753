//! xyt-integrations: the outside world. XGJ (闲管家) signing and its client; WeCom, OCR and file
//! storage come later, each behind a small trait so tests can point them at local fakes.

pub mod notify;
pub mod xgj;
