//! WeCom group robot (`xgj-wecom.md` §6): POST JSON to the target's whole webhook URL, so a test
//! fake or a relay can stand in for `qyapi.weixin.qq.com`. No access_token; the key in the URL is
//! the only credential, so the URL never goes into a log or an error message.
//!
//! Text over 2048 bytes (markdown over 4096) is split at line boundaries into numbered parts sent
//! in order; the first failure stops the rest and says how many parts already went out.

use base64::Engine as _;
use serde_json::json;

use super::classify::{unsupported_message, unsupported_target};
use super::http::wecom_call;
use super::{Message, SendError, SendOk, Sender, Target};
use crate::xgj::sign::md5_hex;

/// WeCom's limits, in UTF-8 bytes.
pub const TEXT_LIMIT_BYTES: usize = 2048;
pub const MARKDOWN_LIMIT_BYTES: usize = 4096;
/// A robot image, before base64.
pub const ROBOT_IMAGE_MAX_BYTES: usize = 2 * 1024 * 1024;

/// The smallest limit `split_for_limit` accepts: room for a `(NN/NN) ` prefix and a few chars.
pub const MIN_SPLIT_LIMIT: usize = 32;

#[derive(Debug, Clone)]
pub struct WecomRobot {
    http: reqwest::Client,
}

impl WecomRobot {
    /// `http` should come from [`super::http_client`], which bounds every call.
    pub fn new(http: reqwest::Client) -> Self {
        Self { http }
    }

    async fn post(&self, url: &str, body: serde_json::Value) -> Result<(), SendError> {
        wecom_call(self.http.post(url).json(&body))
            .await?
            .into_result()
            .map(drop)
    }
}

#[async_trait::async_trait]
impl Sender for WecomRobot {
    async fn send(&self, target: &Target, message: &Message) -> Result<SendOk, SendError> {
        let Target::WecomRobot { url } = target else {
            return Err(unsupported_target("wecom robot", target));
        };
        match message {
            Message::Text(text) => {
                let parts = parts_of(text, TEXT_LIMIT_BYTES)?;
                send_parts(&parts, move |content| {
                    self.post(url, json!({"msgtype": "text", "text": {"content": content}}))
                })
                .await
            }
            Message::Markdown(text) => {
                let parts = parts_of(text, MARKDOWN_LIMIT_BYTES)?;
                send_parts(&parts, move |content| {
                    self.post(url, json!({"msgtype": "markdown", "markdown": {"content": content}}))
                })
                .await
            }
            Message::Image { bytes } => {
                check_image(bytes, ROBOT_IMAGE_MAX_BYTES)?;
                let body = json!({
                    "msgtype": "image",
                    "image": {
                        "base64": base64::engine::general_purpose::STANDARD.encode(bytes),
                        "md5": md5_hex(bytes),
                    }
                });
                self.post(url, body).await?;
                Ok(SendOk { detail: "ok".into() })
            }
            Message::XgjCallback(_) => Err(unsupported_message("an XGJ callback body", "a WeCom robot")),
        }
    }
}

/// Splits `text` into parts of at most `limit_bytes` UTF-8 bytes each.
///
/// - Empty text gives no parts; text that fits gives itself, unchanged.
/// - Otherwise lines are packed greedily, each part prefixed `(i/n) ` (the prefix counts toward
///   the limit) and stripped of the line break it ended on. A single line longer than a part is
///   cut at a char boundary, never inside a UTF-8 char. Parts that would hold only whitespace
///   (blank lines at a cut) are dropped.
///
/// # Panics
/// If `limit_bytes < MIN_SPLIT_LIMIT` (the prefix alone would not fit).
pub fn split_for_limit(text: &str, limit_bytes: usize) -> Vec<String> {
    assert!(
        limit_bytes >= MIN_SPLIT_LIMIT,
        "split limit {limit_bytes} < {MIN_SPLIT_LIMIT}"
    );
    if text.is_empty() {
        return Vec::new();
    }
    if text.len() <= limit_bytes {
        return vec![text.to_string()];
    }
    // The prefix's width depends on the part count, which depends on the room the prefix leaves:
    // budget for `digits`-wide numbers, and widen until the count fits.
    let mut digits = 1;
    loop {
        let prefix_max = "(/) ".len() + 2 * digits;
        let chunks = pack_lines(text, limit_bytes - prefix_max);
        let n = chunks.len();
        if n <= 1 {
            return chunks;
        }
        if decimal_digits(n) <= digits {
            return chunks
                .into_iter()
                .enumerate()
                .map(|(i, c)| format!("({}/{n}) {c}", i + 1))
                .collect();
        }
        digits = decimal_digits(n);
    }
}

fn decimal_digits(n: usize) -> usize {
    n.to_string().len()
}

fn pack_lines(text: &str, budget: usize) -> Vec<String> {
    let mut chunks = Vec::new();
    let mut cur = String::new();
    for line in text.split_inclusive('\n') {
        if cur.len() + line.len() <= budget {
            cur.push_str(line);
            continue;
        }
        if !cur.is_empty() {
            chunks.push(std::mem::take(&mut cur));
        }
        let mut rest = line;
        while rest.len() > budget {
            let cut = floor_char_boundary(rest, budget);
            chunks.push(rest[..cut].to_string());
            rest = &rest[cut..];
        }
        cur.push_str(rest);
    }
    if !cur.is_empty() {
        chunks.push(cur);
    }
    chunks
        .into_iter()
        .map(|c| {
            let c = c.strip_suffix('\n').unwrap_or(&c);
            c.strip_suffix('\r').unwrap_or(c).to_string()
        })
        .filter(|c| !c.trim().is_empty())
        .collect()
}

/// The largest char boundary at or below `at` (`at` < `s.len()`, and at least 4 so a boundary
/// above 0 exists).
fn floor_char_boundary(s: &str, at: usize) -> usize {
    let mut i = at;
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// The parts of a text message, refusing one with nothing to send (WeCom answers 44004).
pub(crate) fn parts_of(text: &str, limit: usize) -> Result<Vec<String>, SendError> {
    if text.trim().is_empty() {
        return Err(SendError::permanent(
            "EMPTY_MESSAGE",
            "message text is empty",
            Some("通知内容为空:检查通知模板".into()),
        ));
    }
    Ok(split_for_limit(text, limit))
}

/// Sends the parts in order and stops at the first failure, whose message then says how many
/// parts already went out (a retry of the whole message repeats those).
pub(crate) async fn send_parts<'a, F, Fut>(parts: &'a [String], mut send_one: F) -> Result<SendOk, SendError>
where
    F: FnMut(&'a str) -> Fut,
    Fut: std::future::Future<Output = Result<(), SendError>>,
{
    let total = parts.len();
    for (sent, part) in parts.iter().enumerate() {
        if let Err(mut err) = send_one(part).await {
            if total > 1 {
                err.message = format!(
                    "{} (part {} of {total} failed; {sent} sent before it)",
                    err.message,
                    sent + 1
                );
            }
            return Err(err);
        }
    }
    Ok(SendOk {
        detail: if total == 1 {
            "ok".into()
        } else {
            format!("ok: {total} parts")
        },
    })
}

/// Refuses, before sending, what WeCom would refuse: only JPEG and PNG, at most `max_bytes`.
pub(crate) fn check_image(bytes: &[u8], max_bytes: usize) -> Result<ImageKind, SendError> {
    if bytes.len() > max_bytes {
        return Err(SendError::permanent(
            "IMAGE_TOO_LARGE",
            format!("image is {} bytes, the limit is {max_bytes}", bytes.len()),
            Some(format!("图片超过 {} MB:压缩后再发送", max_bytes / (1024 * 1024))),
        ));
    }
    ImageKind::sniff(bytes).ok_or_else(|| {
        SendError::permanent(
            "IMAGE_FORMAT",
            "image is neither JPEG nor PNG",
            Some("企业微信只接受 JPG 或 PNG 图片:转换格式后再发送".into()),
        )
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ImageKind {
    Jpeg,
    Png,
}

impl ImageKind {
    fn sniff(bytes: &[u8]) -> Option<Self> {
        if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
            Some(Self::Jpeg)
        } else if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
            Some(Self::Png)
        } else {
            None
        }
    }

    pub fn file_name(self) -> &'static str {
        match self {
            Self::Jpeg => "image.jpg",
            Self::Png => "image.png",
        }
    }

    pub fn mime(self) -> &'static str {
        match self {
            Self::Jpeg => "image/jpeg",
            Self::Png => "image/png",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every part within the limit, numbered `(i/n) ` in order, and the parts' bodies put back
    /// together give the text (line breaks at the cuts aside).
    fn assert_parts(text: &str, limit: usize, parts: &[String]) {
        let n = parts.len();
        assert!(n >= 2, "expected a split, got {n} part(s)");
        let mut joined = String::new();
        for (i, p) in parts.iter().enumerate() {
            assert!(p.len() <= limit, "part {} is {} bytes > {limit}", i + 1, p.len());
            let prefix = format!("({}/{n}) ", i + 1);
            let body = p
                .strip_prefix(&prefix)
                .unwrap_or_else(|| panic!("part {} lacks {prefix:?}", i + 1));
            assert!(!body.is_empty());
            joined.push_str(body);
        }
        let strip = |s: &str| s.replace(['\n', '\r'], "");
        assert_eq!(strip(&joined), strip(text));
    }

    #[test]
    fn empty_text_has_no_parts() {
        assert!(split_for_limit("", 2048).is_empty());
    }

    #[test]
    fn text_that_fits_exactly_is_one_unprefixed_part() {
        let text = "a".repeat(2048);
        assert_eq!(split_for_limit(&text, 2048), vec![text.clone()]);
        let cjk = "票".repeat(682) + "ab"; // 682 * 3 + 2 = 2048 bytes
        assert_eq!(cjk.len(), 2048);
        assert_eq!(split_for_limit(&cjk, 2048), vec![cjk.clone()]);
    }

    #[test]
    fn one_byte_over_the_limit_splits_in_two() {
        let text = format!("{}\n{}", "a".repeat(1500), "b".repeat(548)); // 2049 bytes
        let parts = split_for_limit(&text, 2048);
        assert_eq!(
            parts,
            vec![
                format!("(1/2) {}", "a".repeat(1500)),
                format!("(2/2) {}", "b".repeat(548))
            ]
        );
    }

    #[test]
    fn cjk_lines_split_at_line_boundaries() {
        let line = "订单 XY2024 出票成功,证件号 110101********1234,请尽快核对。"; // mixed widths
        let text: String = (0..120).map(|i| format!("{i:03} {line}\n")).collect();
        assert!(text.len() > 5000);
        let parts = split_for_limit(&text, 2048);
        assert_parts(&text, 2048, &parts);
        // Every part holds whole lines: each body starts with a line number.
        for p in &parts {
            let body = p.split_once(") ").unwrap().1;
            assert!(body.as_bytes()[..3].iter().all(u8::is_ascii_digit), "{body:?}");
            assert!(!body.ends_with('\n'));
        }
    }

    #[test]
    fn one_huge_line_is_cut_at_char_boundaries() {
        let text = "闲管家".repeat(2000); // 18000 bytes, no line break
        let parts = split_for_limit(&text, 2048);
        assert_parts(&text, 2048, &parts);
        assert_eq!(parts.len(), 9);
        for p in &parts[..parts.len() - 1] {
            assert!(p.len() > 2048 - 3, "cuts fill the part: {}", p.len());
        }
    }

    #[test]
    fn a_huge_line_among_short_ones_keeps_the_order() {
        let text = format!("head\n{}\ntail", "x".repeat(5000));
        let parts = split_for_limit(&text, 2048);
        assert_parts(&text, 2048, &parts);
        assert!(parts[0].starts_with("(1/4) head"), "{:?}", &parts[0][..20]);
        assert!(parts.last().unwrap().ends_with("tail"));
    }

    #[test]
    fn ten_or_more_parts_widen_the_prefix_within_the_limit() {
        let text: String = (0..200).map(|i| format!("line {i}\n")).collect();
        let parts = split_for_limit(&text, 40);
        assert!(parts.len() >= 10);
        assert_parts(&text, 40, &parts);
        assert!(parts[9].starts_with(&format!("(10/{}) ", parts.len())));
    }

    #[test]
    fn blank_lines_at_a_cut_do_not_make_empty_parts() {
        let text = format!("{}\n\n\n\n{}", "a".repeat(2040), "b".repeat(100));
        let parts = split_for_limit(&text, 2048);
        assert_parts(&text, 2048, &parts);
        assert_eq!(parts.len(), 2);
    }

    #[test]
    fn images_must_be_small_jpeg_or_png() {
        let png = b"\x89PNG\r\n\x1a\nrest".to_vec();
        let jpeg = vec![0xFF, 0xD8, 0xFF, 0xE0, 0, 0];
        assert_eq!(check_image(&png, 100).unwrap(), ImageKind::Png);
        assert_eq!(check_image(&jpeg, 100).unwrap(), ImageKind::Jpeg);
        assert_eq!(check_image(b"GIF89a....", 100).unwrap_err().code, "IMAGE_FORMAT");
        let big = [png.clone(), vec![0; 100]].concat();
        let err = check_image(&big, 100).unwrap_err();
        assert_eq!(
            (err.code.as_str(), err.class),
            ("IMAGE_TOO_LARGE", super::super::ErrorClass::Permanent)
        );
    }
}
