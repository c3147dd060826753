//! xyt-integrations: the outside world. XGJ (闲管家) signing and its client, the message senders,
//! uploaded-file checks and storage, and OCR engines, each behind a small trait so tests can point
//! them at local fakes.

pub mod files;
pub mod notify;
pub mod ocr;
pub mod xgj;
