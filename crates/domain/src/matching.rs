//! Does the agent's ticket screenshot belong to this order? Pure functions over OCR text.
//!
//! Strategy, in two steps:
//!
//! 1. [`extract_fields`] finds labelled values in the text. OCR text is noisy, so the text is first
//!    normalised (full-width forms to half-width, look-alike colons and asterisks unified) and the
//!    labels are matched with any whitespace between their characters. At each position the
//!    longest known label wins, and non-field labels (证件类型, 手机, 入园人数, …) are known too, so
//!    `证件号码` is not read as `证件号` + `码` and a value stops where the next label begins. A
//!    label with nothing after it takes its value from the next line (table layouts). A value
//!    right after a colon is preferred to one after a bare label, so a heading such as
//!    `门票预订成功` does not win over `门票:初级道 3 小时`.
//! 2. [`match_screenshot`] compares what was found with what the order expects. Each field is
//!    either agreed, different or missing, and low OCR confidence is a reason of its own: any
//!    reason sends the order to an operator's re-review (待复核), never silently on.
//!
//! Names and ID numbers are personal data: the comparisons carry them masked, and the `Debug`
//! output of the types here masks them too.

use std::fmt;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::personal::{mask_certificate, mask_name};

/// Below this the OCR engine is unsure enough that a person must look.
pub const MIN_CONFIDENCE: f32 = 0.6;

/// Fewer visible characters than this in a masked ID number prove nothing.
const MIN_VISIBLE_ID_CHARS: usize = 4;

/// The matcher reads at most this many characters of OCR text: a booking confirmation is a
/// screenful (a few hundred characters); whatever a crafted image makes the engine read beyond
/// this is ignored, so a field found only there counts as missing and a person looks.
pub const MAX_OCR_CHARS: usize = 20_000;
/// ... at most this many lines of it ...
pub const MAX_OCR_LINES: usize = 400;
/// ... and at most this many labels.
pub const MAX_LABELS: usize = 200;
/// A value longer than this is no name, ID number, date or ticket type.
const MAX_VALUE_CHARS: usize = 200;

/// What [`extract_fields`] read from a screenshot's text.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExtractedFields {
    pub name: Option<String>,
    /// As shown, possibly masked: `3209**********3314`, `320911********3314`.
    pub certificate_no: Option<String>,
    pub play_date: Option<NaiveDate>,
    pub ticket_type: Option<String>,
}

impl fmt::Debug for ExtractedFields {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ExtractedFields")
            .field("name", &self.name.as_deref().map(mask_name))
            .field("certificate_no", &self.certificate_no.as_deref().map(mask_certificate))
            .field("play_date", &self.play_date)
            .field("ticket_type", &self.ticket_type)
            .finish()
    }
}

/// What the order says the ticket must show.
#[derive(Clone, PartialEq, Eq)]
pub struct Expected {
    pub name: String,
    pub certificate_no: String,
    pub play_date: NaiveDate,
    pub ticket_type: String,
}

impl fmt::Debug for Expected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Expected")
            .field("name", &mask_name(&self.name))
            .field("certificate_no", &mask_certificate(&self.certificate_no))
            .field("play_date", &self.play_date)
            .field("ticket_type", &self.ticket_type)
            .finish()
    }
}

/// Why a screenshot did not match.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MatchReason {
    NameMismatch,
    NameMissing,
    CertificateMismatch,
    CertificateMissing,
    PlayDateMismatch,
    PlayDateMissing,
    TicketTypeMismatch,
    TicketTypeMissing,
    LowConfidence,
}

impl MatchReason {
    pub fn label(self) -> &'static str {
        match self {
            MatchReason::NameMismatch => "姓名不一致",
            MatchReason::NameMissing => "截图中未识别到姓名",
            MatchReason::CertificateMismatch => "证件号不一致",
            MatchReason::CertificateMissing => "截图中未识别到证件号",
            MatchReason::PlayDateMismatch => "游玩日期不一致",
            MatchReason::PlayDateMissing => "截图中未识别到游玩日期",
            MatchReason::TicketTypeMismatch => "票种不一致",
            MatchReason::TicketTypeMissing => "截图中未识别到票种",
            MatchReason::LowConfidence => "识别置信度过低,需人工核对",
        }
    }
}

/// One field, side by side. Names and ID numbers are masked on both sides.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct FieldComparison {
    /// `name`, `certificateNo`, `playDate`, `ticketType`.
    pub field: String,
    pub expected: String,
    pub found: Option<String>,
    pub ok: bool,
}

/// The verdict recorded in `screenshot_matched` / `screenshot_mismatched`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MatchOutcome {
    pub matched: bool,
    pub comparisons: Vec<FieldComparison>,
    pub reasons: Vec<MatchReason>,
    pub confidence: f32,
}

/// Compares a screenshot's fields with the order. `matched` iff there is no reason against it.
pub fn match_screenshot(found: &ExtractedFields, confidence: f32, expected: &Expected) -> MatchOutcome {
    let mut comparisons = Vec::with_capacity(4);
    let mut reasons = Vec::new();
    // `ok` is None when the field was not found; the pair is (reason if missing, if different).
    let mut compare = |field: &str,
                       expected: String,
                       found: Option<String>,
                       ok: Option<bool>,
                       (missing, mismatch): (MatchReason, MatchReason)| {
        match ok {
            None => reasons.push(missing),
            Some(false) => reasons.push(mismatch),
            Some(true) => {}
        }
        comparisons.push(FieldComparison {
            field: field.into(),
            expected,
            found,
            ok: ok == Some(true),
        });
    };

    compare(
        "name",
        mask_name(&expected.name),
        found.name.as_deref().map(mask_name),
        found.name.as_deref().map(|n| name_key(n) == name_key(&expected.name)),
        (MatchReason::NameMissing, MatchReason::NameMismatch),
    );
    compare(
        "certificateNo",
        mask_certificate(&expected.certificate_no),
        found.certificate_no.as_deref().map(mask_certificate),
        found
            .certificate_no
            .as_deref()
            .map(|c| certificate_agrees(c, &expected.certificate_no)),
        (MatchReason::CertificateMissing, MatchReason::CertificateMismatch),
    );
    compare(
        "playDate",
        expected.play_date.format("%Y-%m-%d").to_string(),
        found.play_date.map(|d| d.format("%Y-%m-%d").to_string()),
        found.play_date.map(|d| d == expected.play_date),
        (MatchReason::PlayDateMissing, MatchReason::PlayDateMismatch),
    );
    compare(
        "ticketType",
        expected.ticket_type.clone(),
        found.ticket_type.clone(),
        found
            .ticket_type
            .as_deref()
            .map(|t| ticket_type_agrees(t, &expected.ticket_type)),
        (MatchReason::TicketTypeMissing, MatchReason::TicketTypeMismatch),
    );

    // NaN or out of range from an engine must not slip past the threshold or break the JSON.
    let confidence = if confidence.is_finite() {
        confidence.clamp(0.0, 1.0)
    } else {
        0.0
    };
    if confidence < MIN_CONFIDENCE {
        reasons.push(MatchReason::LowConfidence);
    }
    MatchOutcome {
        matched: reasons.is_empty(),
        comparisons,
        reasons,
        confidence,
    }
}

/// Whitespace-free, one middle dot, case-folded: `阿卜杜 • 热合曼` = `阿卜杜·热合曼`.
fn name_key(name: &str) -> String {
    name.chars()
        .filter(|c| !c.is_whitespace())
        .map(|c| if is_middle_dot(c) { '·' } else { c })
        .flat_map(char::to_lowercase)
        .collect()
}

/// Equal ignoring case, or masked with `*` where every visible character agrees in place.
fn certificate_agrees(found: &str, expected: &str) -> bool {
    let found: Vec<char> = found.chars().filter(|c| !c.is_whitespace()).collect();
    let expected: Vec<char> = expected.chars().filter(|c| !c.is_whitespace()).collect();
    if found.len() != expected.len() || found.is_empty() {
        return false;
    }
    let visible = found.iter().filter(|&&c| c != '*').count();
    if visible < found.len() && visible < MIN_VISIBLE_ID_CHARS {
        return false;
    }
    found
        .iter()
        .zip(&expected)
        .all(|(f, e)| *f == '*' || f.eq_ignore_ascii_case(e))
}

/// The expected type appears in what was found, spaces and case aside.
fn ticket_type_agrees(found: &str, expected: &str) -> bool {
    let key = |s: &str| -> String {
        normalize(s)
            .chars()
            .filter(|c| !c.is_whitespace())
            .flat_map(char::to_lowercase)
            .collect()
    };
    let (found, expected) = (key(found), key(expected));
    !expected.is_empty() && found.contains(&expected)
}

// ---------------------------------------------------------------------------------------------
// extraction

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    Name,
    Certificate,
    PlayDate,
    TicketType,
    /// A label we know but do not extract: it only ends the value before it.
    Other,
}

/// Every label we know. At a position the longest match wins.
const LABELS: &[(&str, Field)] = &[
    ("姓名", Field::Name),
    ("游客姓名", Field::Name),
    ("入园人", Field::Name),
    ("入园人姓名", Field::Name),
    ("出行人", Field::Name),
    ("出行人姓名", Field::Name),
    ("取票人", Field::Name),
    ("取票人姓名", Field::Name),
    ("证件号", Field::Certificate),
    ("证件号码", Field::Certificate),
    ("身份证", Field::Certificate),
    ("身份证号", Field::Certificate),
    ("身份证号码", Field::Certificate),
    ("游玩日期", Field::PlayDate),
    ("游玩日", Field::PlayDate),
    ("使用日期", Field::PlayDate),
    ("入园日期", Field::PlayDate),
    ("出行日期", Field::PlayDate),
    ("票种", Field::TicketType),
    ("票种名称", Field::TicketType),
    ("产品", Field::TicketType),
    ("产品名称", Field::TicketType),
    ("门票", Field::TicketType),
    ("门票名称", Field::TicketType),
    ("门票类型", Field::TicketType),
    ("商品", Field::TicketType),
    ("商品名称", Field::TicketType),
    ("证件类型", Field::Other),
    ("入园人数", Field::Other),
    ("出行人数", Field::Other),
    ("手机", Field::Other),
    ("手机号", Field::Other),
    ("电话", Field::Other),
    ("联系人", Field::Other),
    ("联系电话", Field::Other),
    ("性别", Field::Other),
    ("出生日期", Field::Other),
    ("订单号", Field::Other),
    ("订单编号", Field::Other),
    ("数量", Field::Other),
    ("金额", Field::Other),
    ("实付", Field::Other),
    ("下单时间", Field::Other),
    ("预订时间", Field::Other),
    ("支付时间", Field::Other),
    ("有效期", Field::Other),
    ("备注", Field::Other),
    ("取票方式", Field::Other),
];

/// Separators OCR may put between a label and its value.
fn is_separator(c: char) -> bool {
    c.is_whitespace()
        || matches!(
            c,
            ':' | ';' | '.' | ',' | '、' | '|' | '=' | '_' | '-' | '~' | '>' | '。' | '，'
        )
}

fn is_middle_dot(c: char) -> bool {
    matches!(c, '·' | '•' | '・' | '‧' | '∙' | '⋅')
}

/// Full-width forms to ASCII, look-alike colons, asterisks and dashes unified.
fn normalize(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
            '\u{3000}' | '\u{00A0}' => ' ',
            '∶' | '︰' | '﹕' | '꞉' => ':',
            '∗' | '✱' | '✲' | '⁎' | '﹡' => '*',
            _ => c,
        })
        .collect()
}

/// The label starting at `chars[i]`, whitespace allowed between its characters: `(end, field)`.
fn label_at(chars: &[char], i: usize) -> Option<(usize, Field)> {
    let mut best: Option<(usize, usize, Field)> = None; // (label length, end, field)
    for &(label, field) in LABELS {
        let mut j = i;
        let mut ok = true;
        for (k, lc) in label.chars().enumerate() {
            if k > 0 {
                while j < chars.len() && chars[j].is_whitespace() {
                    j += 1;
                }
            }
            if chars.get(j) != Some(&lc) {
                ok = false;
                break;
            }
            j += 1;
        }
        let len = label.chars().count();
        if ok && best.is_none_or(|(best_len, _, _)| len > best_len) {
            best = Some((len, j, field));
        }
    }
    best.map(|(_, end, field)| (end, field))
}

/// One line of normalised text with its labels found once: `labels[i]` is the label starting at
/// `chars[i]` and `next[i]` where the first label at or after `i` starts (or the line's end), so
/// "where does this value stop" is a lookup, not a scan.
struct Line {
    chars: Vec<char>,
    labels: Vec<Option<(usize, Field)>>,
    next: Vec<usize>,
}

impl Line {
    fn new(chars: Vec<char>) -> Self {
        let labels: Vec<_> = (0..chars.len()).map(|i| label_at(&chars, i)).collect();
        let mut next = vec![chars.len(); chars.len() + 1];
        for i in (0..chars.len()).rev() {
            next[i] = if labels[i].is_some() { i } else { next[i + 1] };
        }
        Self { chars, labels, next }
    }

    fn is_blank(&self) -> bool {
        self.chars.iter().all(|c| c.is_whitespace())
    }

    /// `chars[from..next label]`, at most [`MAX_VALUE_CHARS`] of it.
    fn value(&self, from: usize) -> String {
        let stop = self.next[from.min(self.chars.len())];
        self.chars[from.min(stop)..stop].iter().take(MAX_VALUE_CHARS).collect()
    }
}

/// A labelled value: its text (the rest of the line up to the next label, or the next line when
/// that is empty) and whether the label ended in a colon.
struct Candidate {
    field: Field,
    value: String,
    after_colon: bool,
}

/// The text the matcher reads, capped (see [`MAX_OCR_CHARS`]) and split into lines.
fn capped_lines(text: &str) -> Vec<Line> {
    let head: String = text.chars().take(MAX_OCR_CHARS).collect();
    normalize(&head)
        .lines()
        .take(MAX_OCR_LINES)
        .map(|l| Line::new(l.chars().collect()))
        .collect()
}

/// Linear in the (capped) text: every label is found once per position, a value ends at a
/// looked-up position, the next non-blank line is looked up too, and values are cut at
/// [`MAX_VALUE_CHARS`]. At most [`MAX_LABELS`] labels are read.
fn candidates(text: &str) -> Vec<Candidate> {
    let lines = capped_lines(text);
    // next_filled[n]: the first non-blank line after line n.
    let mut next_filled = vec![None; lines.len()];
    for n in (0..lines.len().saturating_sub(1)).rev() {
        next_filled[n] = if lines[n + 1].is_blank() {
            next_filled[n + 1]
        } else {
            Some(n + 1)
        };
    }
    let mut out = Vec::new();
    let mut labels_seen = 0;
    'lines: for (n, line) in lines.iter().enumerate() {
        let chars = &line.chars;
        let mut i = 0;
        while i < chars.len() {
            let Some((end, field)) = line.labels[i] else {
                i = line.next[i + 1].max(i + 1);
                continue;
            };
            labels_seen += 1;
            if labels_seen > MAX_LABELS {
                break 'lines;
            }
            let start = (end..chars.len())
                .find(|&j| !is_separator(chars[j]))
                .unwrap_or(chars.len());
            let after_colon = chars[end..start].iter().any(|&c| matches!(c, ':' | ';'));
            let stop = line.next[start];
            let mut value = line.value(start);
            if value.trim().is_empty() {
                // Table layouts put the value on the next non-empty line, unless that is a label.
                if let Some(next) = next_filled[n].map(|m| &lines[m]) {
                    let s = next
                        .chars
                        .iter()
                        .position(|c| !is_separator(*c))
                        .unwrap_or(next.chars.len());
                    value = next.value(s);
                }
            }
            if field != Field::Other {
                out.push(Candidate {
                    field,
                    value,
                    after_colon,
                });
            }
            i = stop.max(i + 1);
        }
    }
    // Stable: within each kind, text order is kept.
    out.sort_by_key(|c| !c.after_colon);
    out
}

/// Reads the order fields from a screenshot's OCR text. See the module docs.
pub fn extract_fields(text: &str) -> ExtractedFields {
    let mut fields = ExtractedFields::default();
    for c in candidates(text) {
        match c.field {
            Field::Name if fields.name.is_none() => fields.name = parse_name(&c.value),
            Field::Certificate if fields.certificate_no.is_none() => {
                fields.certificate_no = parse_certificate(&c.value)
            }
            Field::PlayDate if fields.play_date.is_none() => fields.play_date = parse_date(&c.value),
            Field::TicketType if fields.ticket_type.is_none() => fields.ticket_type = parse_ticket_type(&c.value),
            _ => {}
        }
    }
    fields
}

/// Chinese characters, Latin letters and a middle dot, whitespace dropped, up to anything else.
fn parse_name(value: &str) -> Option<String> {
    let name: String = value
        .chars()
        .filter(|c| !c.is_whitespace())
        .take_while(|&c| is_han(c) || c.is_ascii_alphabetic() || is_middle_dot(c))
        .map(|c| if is_middle_dot(c) { '·' } else { c })
        .collect();
    let name = name.trim_matches('·').to_string();
    (!name.is_empty() && name.chars().count() <= 40).then_some(name)
}

fn is_han(c: char) -> bool {
    matches!(c as u32, 0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xF900..=0xFAFF | 0x20000..=0x2FA1F)
}

/// Letters, digits and `*`; pieces split by OCR spaces are joined up to an ID card's 18.
fn parse_certificate(value: &str) -> Option<String> {
    let is_id_char = |c: char| c.is_ascii_alphanumeric() || c == '*';
    let mut token = String::new();
    for piece in value.split_whitespace() {
        let run: String = piece.chars().take_while(|&c| is_id_char(c)).collect();
        if run.is_empty() || (!token.is_empty() && token.len() + run.len() > 18) {
            break;
        }
        token.push_str(&run);
        if run.len() < piece.chars().count() || token.len() >= 18 {
            break;
        }
    }
    if token.len() < 6 || !token.chars().any(|c| c.is_ascii_digit() || c == '*') {
        return None;
    }
    Some(fix_id_card_ocr(token))
}

/// In an 18-character mainland ID, letters OCR confuses with digits are the digits.
fn fix_id_card_ocr(token: String) -> String {
    if token.len() != 18 {
        return token;
    }
    let fixed: String = token
        .chars()
        .enumerate()
        .map(|(i, c)| match c {
            'O' | 'o' | 'D' => '0',
            'I' | 'l' | 'i' => '1',
            'x' if i == 17 => 'X',
            _ => c,
        })
        .collect();
    let body_ok = fixed[..17].chars().all(|c| c.is_ascii_digit() || c == '*');
    let last_ok = fixed[17..].chars().all(|c| c.is_ascii_digit() || c == 'X' || c == '*');
    if body_ok && last_ok {
        fixed
    } else {
        token
    }
}

/// The first date: `2027-01-10`, `2027/1/10`, `2027.01.10`, `2027年1月10日`, `20270110`.
fn parse_date(value: &str) -> Option<NaiveDate> {
    let chars: Vec<char> = value.chars().filter(|c| !c.is_whitespace()).collect();
    let digits = |from: usize, max: usize| -> (u32, usize) {
        let n = chars[from..]
            .iter()
            .take(max)
            .take_while(|c| c.is_ascii_digit())
            .count();
        let v = chars[from..from + n]
            .iter()
            .fold(0, |acc, c| acc * 10 + c.to_digit(10).unwrap_or(0));
        (v, n)
    };
    let is_sep = |c: Option<&char>| matches!(c, Some('-' | '/' | '.' | '年' | '月' | '—' | '–' | '‐'));
    for i in 0..chars.len() {
        if i > 0 && chars[i - 1].is_ascii_digit() {
            continue;
        }
        let (_, run_len) = digits(i, 9);
        if run_len == 8 {
            let (y, _) = digits(i, 4);
            let (m, _) = digits(i + 4, 2);
            let (d, _) = digits(i + 6, 2);
            if let Some(date) = plausible_date(y, m, d) {
                return Some(date);
            }
            continue;
        }
        if run_len != 4 || !is_sep(chars.get(i + 4)) {
            continue;
        }
        let (y, _) = digits(i, 4);
        let (m, m_len) = digits(i + 5, 2);
        let at = i + 5 + m_len;
        if m_len == 0 || chars.get(at + 1).is_none_or(|c| !c.is_ascii_digit()) || !is_sep(chars.get(at)) {
            continue;
        }
        let (d, d_len) = digits(at + 1, 2);
        if chars.get(at + 1 + d_len).is_some_and(|c| c.is_ascii_digit()) {
            continue;
        }
        if let Some(date) = plausible_date(y, m, d) {
            return Some(date);
        }
    }
    None
}

fn plausible_date(y: u32, m: u32, d: u32) -> Option<NaiveDate> {
    if !(1990..=2199).contains(&y) {
        return None;
    }
    NaiveDate::from_ymd_opt(y as i32, m, d)
}

/// The rest of the value, whitespace collapsed, separators trimmed.
fn parse_ticket_type(value: &str) -> Option<String> {
    let t = value.split_whitespace().collect::<Vec<_>>().join(" ");
    let t = t.trim_matches(|c: char| is_separator(c)).to_string();
    (!t.is_empty() && t.chars().count() <= 100).then_some(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    fn expected() -> Expected {
        Expected {
            name: "马上到".into(),
            certificate_no: "320911198804223314".into(),
            play_date: date(2027, 1, 10),
            ticket_type: "初级道3小时".into(),
        }
    }

    fn found(name: &str, cert: &str, play: NaiveDate, ticket: &str) -> ExtractedFields {
        ExtractedFields {
            name: Some(name.into()),
            certificate_no: Some(cert.into()),
            play_date: Some(play),
            ticket_type: Some(ticket.into()),
        }
    }

    fn good() -> ExtractedFields {
        found("马上到", "320911198804223314", date(2027, 1, 10), "初级道 3 小时")
    }

    const BOOKING: &str = "预订成功\n姓名:马上到\n证件号:320911198804223314\n游玩日期:2027-01-10\n票种:初级道 3 小时";

    // --- extraction -----------------------------------------------------------------------------

    #[test]
    fn a_clean_booking_confirmation_gives_every_field() {
        let f = extract_fields(BOOKING);
        assert_eq!(
            f,
            found("马上到", "320911198804223314", date(2027, 1, 10), "初级道 3 小时")
        );
    }

    #[test]
    fn noisy_ocr_text_with_full_width_colons_parses() {
        let text = "  预 订 成 功 \r\n 游客姓名 ： 马 上 到\n证件号码：３２０９１１１９８８０４２２３３１４\n\
                    使用日期∶ 2027 年 1 月 10 日（周日）\n产品名称 ：初级道  3 小时 ";
        let f = extract_fields(text);
        assert_eq!(
            f,
            found("马上到", "320911198804223314", date(2027, 1, 10), "初级道 3 小时")
        );
    }

    #[test]
    fn every_date_form_is_read() {
        for (text, want) in [
            ("游玩日期:2027-01-10", date(2027, 1, 10)),
            ("游玩日期:2027/01/10", date(2027, 1, 10)),
            ("游玩日期:2027/1/9", date(2027, 1, 9)),
            ("游玩日期:2027.12.31", date(2027, 12, 31)),
            ("入园日期:2027年1月10日", date(2027, 1, 10)),
            ("游玩日:20270110", date(2027, 1, 10)),
            ("使用日期 2027 - 01 - 10 全天", date(2027, 1, 10)),
        ] {
            assert_eq!(extract_fields(text).play_date, Some(want), "{text}");
        }
        assert_eq!(extract_fields("游玩日期:2027-13-40").play_date, None);
        assert_eq!(extract_fields("游玩日期:待定").play_date, None);
    }

    #[test]
    fn masked_id_numbers_are_read_as_shown() {
        assert_eq!(
            extract_fields("证件号:3209**********3314").certificate_no.as_deref(),
            Some("3209**********3314")
        );
        assert_eq!(
            extract_fields("身份证：320911＊＊＊＊＊＊＊＊3314")
                .certificate_no
                .as_deref(),
            Some("320911********3314")
        );
    }

    #[test]
    fn an_id_number_split_by_ocr_spaces_is_joined() {
        let f = extract_fields("身份证号 3209 1119 8804 2233 14 手机 18852341234");
        assert_eq!(f.certificate_no.as_deref(), Some("320911198804223314"));
    }

    #[test]
    fn letters_ocr_mistakes_for_digits_in_an_id_card_are_fixed() {
        let f = extract_fields("证件号:32O9lll98804223314");
        assert_eq!(f.certificate_no.as_deref(), Some("320911198804223314"));
        // A passport keeps its letters.
        assert_eq!(
            extract_fields("证件号:E12345678").certificate_no.as_deref(),
            Some("E12345678")
        );
    }

    #[test]
    fn the_id_type_line_is_not_taken_for_the_id_number() {
        let f = extract_fields("证件类型:身份证\n证件号码:320911198804223314");
        assert_eq!(f.certificate_no.as_deref(), Some("320911198804223314"));
    }

    #[test]
    fn several_fields_on_one_line_are_separated_at_the_next_label() {
        let f = extract_fields("姓名:马上到 证件号:320911198804223314 游玩日期:2027-01-10 手机:18852341234");
        assert_eq!(f.name.as_deref(), Some("马上到"));
        assert_eq!(f.certificate_no.as_deref(), Some("320911198804223314"));
        assert_eq!(f.play_date, Some(date(2027, 1, 10)));
        let f = extract_fields("姓名马上到证件号320911198804223314");
        assert_eq!(f.name.as_deref(), Some("马上到"));
        assert_eq!(f.certificate_no.as_deref(), Some("320911198804223314"));
    }

    #[test]
    fn a_value_on_the_line_below_its_label_is_read() {
        let f = extract_fields("入园人\n马上到\n游玩日期\n2027-01-10\n门票\n初级道 3 小时");
        assert_eq!(f.name.as_deref(), Some("马上到"));
        assert_eq!(f.play_date, Some(date(2027, 1, 10)));
        assert_eq!(f.ticket_type.as_deref(), Some("初级道 3 小时"));
    }

    #[test]
    fn a_heading_with_a_label_word_loses_to_a_labelled_value() {
        let f = extract_fields("门票预订成功\n商品:初级道 3 小时");
        assert_eq!(f.ticket_type.as_deref(), Some("初级道 3 小时"));
    }

    #[test]
    fn the_head_count_is_not_taken_for_a_name() {
        let f = extract_fields("入园人数:1\n入园人:马上到");
        assert_eq!(f.name.as_deref(), Some("马上到"));
    }

    #[test]
    fn names_with_a_middle_dot_and_latin_names_are_read() {
        assert_eq!(
            extract_fields("姓名:阿卜杜 • 热合曼").name.as_deref(),
            Some("阿卜杜·热合曼")
        );
        assert_eq!(
            extract_fields("姓名: ZHANG SAN 18852341234").name.as_deref(),
            Some("ZHANGSAN")
        );
    }

    #[test]
    fn text_without_labels_gives_nothing() {
        assert_eq!(extract_fields(""), ExtractedFields::default());
        assert_eq!(
            extract_fields("预订成功\n感谢您的购买 2027-01-10"),
            ExtractedFields::default()
        );
    }

    // --- matching -------------------------------------------------------------------------------

    #[test]
    fn the_right_screenshot_matches() {
        let m = match_screenshot(&good(), 0.93, &expected());
        assert!(m.matched, "{m:?}");
        assert!(m.reasons.is_empty());
        assert_eq!(m.confidence, 0.93);
        assert!(m.comparisons.iter().all(|c| c.ok));
        let fields: Vec<&str> = m.comparisons.iter().map(|c| c.field.as_str()).collect();
        assert_eq!(fields, ["name", "certificateNo", "playDate", "ticketType"]);
    }

    #[test]
    fn another_buyers_name_is_a_name_mismatch() {
        let mut f = good();
        f.name = Some("李四".into());
        let m = match_screenshot(&f, 0.95, &expected());
        assert!(!m.matched);
        assert_eq!(m.reasons, [MatchReason::NameMismatch]);
    }

    #[test]
    fn names_are_compared_without_whitespace() {
        let mut f = good();
        f.name = Some(" 马 上到 ".into());
        assert!(match_screenshot(&f, 0.95, &expected()).matched);
    }

    #[test]
    fn a_wrong_play_date_is_a_play_date_mismatch() {
        let mut f = good();
        f.play_date = Some(date(2027, 1, 11));
        let m = match_screenshot(&f, 0.95, &expected());
        assert_eq!(m.reasons, [MatchReason::PlayDateMismatch]);
        let c = &m.comparisons[2];
        assert_eq!(
            (c.expected.as_str(), c.found.as_deref(), c.ok),
            ("2027-01-10", Some("2027-01-11"), false)
        );
    }

    #[test]
    fn a_masked_id_number_is_accepted() {
        for masked in [
            "3209**********3314",
            "320911********3314",
            "320911198804223314",
            "32091119880422331X",
        ] {
            let mut f = good();
            f.certificate_no = Some(masked.into());
            let mut e = expected();
            if masked.ends_with('X') {
                e.certificate_no = "32091119880422331x".into();
            }
            assert!(match_screenshot(&f, 0.95, &e).matched, "{masked}");
        }
    }

    #[test]
    fn a_masked_id_number_with_a_wrong_visible_digit_is_refused() {
        for wrong in [
            "3209**********3315",
            "3208**********3314",
            "320911********331",
            "320911198804223315",
        ] {
            let mut f = good();
            f.certificate_no = Some(wrong.into());
            let m = match_screenshot(&f, 0.95, &expected());
            assert_eq!(m.reasons, [MatchReason::CertificateMismatch], "{wrong}");
        }
    }

    #[test]
    fn an_id_number_masked_almost_entirely_proves_nothing() {
        let mut f = good();
        f.certificate_no = Some("3****************4".into());
        assert_eq!(
            match_screenshot(&f, 0.95, &expected()).reasons,
            [MatchReason::CertificateMismatch]
        );
        f.certificate_no = Some("*".repeat(18));
        assert_eq!(
            match_screenshot(&f, 0.95, &expected()).reasons,
            [MatchReason::CertificateMismatch]
        );
    }

    #[test]
    fn the_ticket_type_matches_when_the_expected_type_is_in_what_was_read() {
        let mut f = good();
        f.ticket_type = Some("万龙滑雪场 初级道 3 小时 成人票".into());
        assert!(match_screenshot(&f, 0.95, &expected()).matched);
        f.ticket_type = Some("中级道 3 小时".into());
        assert_eq!(
            match_screenshot(&f, 0.95, &expected()).reasons,
            [MatchReason::TicketTypeMismatch]
        );
    }

    #[test]
    fn missing_fields_are_reasons_of_their_own() {
        let m = match_screenshot(&ExtractedFields::default(), 0.95, &expected());
        assert!(!m.matched);
        assert_eq!(
            m.reasons,
            [
                MatchReason::NameMissing,
                MatchReason::CertificateMissing,
                MatchReason::PlayDateMissing,
                MatchReason::TicketTypeMissing,
            ]
        );
        assert!(m.comparisons.iter().all(|c| c.found.is_none() && !c.ok));
    }

    #[test]
    fn low_confidence_sends_even_a_perfect_match_to_review() {
        let m = match_screenshot(&good(), 0.59, &expected());
        assert!(!m.matched);
        assert_eq!(m.reasons, [MatchReason::LowConfidence]);
        assert!(match_screenshot(&good(), MIN_CONFIDENCE, &expected()).matched);
        let m = match_screenshot(&good(), f32::NAN, &expected());
        assert_eq!(
            (m.reasons.as_slice(), m.confidence),
            ([MatchReason::LowConfidence].as_slice(), 0.0)
        );
    }

    #[test]
    fn comparisons_mask_names_and_id_numbers() {
        let m = match_screenshot(&good(), 0.95, &expected());
        assert_eq!(m.comparisons[0].expected, "马**");
        assert_eq!(m.comparisons[0].found.as_deref(), Some("马**"));
        assert_eq!(m.comparisons[1].expected, "3209**********3314");
        assert_eq!(m.comparisons[1].found.as_deref(), Some("3209**********3314"));
        let json = serde_json::to_string(&m).unwrap();
        assert!(
            !json.contains("马上到") && !json.contains("320911198804223314"),
            "{json}"
        );
        assert!(!format!("{:?} {:?}", good(), expected()).contains("320911198804223314"));
    }

    #[test]
    fn the_outcome_round_trips_through_json_in_camel_case() {
        let mut f = good();
        f.play_date = None;
        let m = match_screenshot(&f, 0.8, &expected());
        let json = serde_json::to_value(&m).unwrap();
        assert_eq!(json["reasons"], serde_json::json!(["play_date_missing"]));
        assert_eq!(json["comparisons"][2]["field"], "playDate");
        let back: MatchOutcome = serde_json::from_value(json).unwrap();
        assert_eq!(back, m);
        let fields = serde_json::to_value(extract_fields(BOOKING)).unwrap();
        assert_eq!(fields["certificateNo"], "320911198804223314");
        assert_eq!(fields["playDate"], "2027-01-10");
    }

    // --- hostile text ---------------------------------------------------------------------------

    /// The shape that once kept a request worker busy for about 45 minutes: a label repeated
    /// 20,000 times, then a 200,000-character line (about 500 KB). Linear now; the time is
    /// measured in the hardening report, the test only shows it finishes and reads nothing
    /// silly.
    #[test]
    fn a_500_kb_adversarial_ocr_text_is_read_in_linear_time() {
        let long_line = "马".repeat(100_000) + &"a".repeat(100_000);
        for labels in [
            "姓名".repeat(20_000),
            "姓名\n".repeat(20_000),
            "姓名:\n\n".repeat(20_000),
        ] {
            let text = format!("{labels}\n{long_line}");
            assert!(text.len() >= 500_000, "{}", text.len());
            let f = extract_fields(&text);
            // Whatever it read is bounded by the caps, and no label's value runs on for ever.
            assert!(f.name.as_deref().is_none_or(|n| n.chars().count() <= 40), "{f:?}");
            let m = match_screenshot(&f, 0.99, &expected());
            assert!(!m.matched);
        }
        // Labels only, with the value line far below: the next-line lookup is not a scan each.
        let text = format!("{}{}\n马上到", "姓名 ".repeat(20_000), "\n".repeat(200_000));
        let _ = extract_fields(&text);
        // Whitespace inside labels (allowed between their characters) cannot be made quadratic.
        let text = format!("{}名", "姓 ".repeat(200_000));
        let _ = extract_fields(&text);
    }

    #[test]
    fn text_beyond_the_caps_is_not_read() {
        let padding = "x".repeat(MAX_OCR_CHARS);
        assert_eq!(
            extract_fields(&format!("{padding}\n{BOOKING}")),
            ExtractedFields::default()
        );
        let lines = "\n".repeat(MAX_OCR_LINES);
        assert_eq!(extract_fields(&format!("{lines}{BOOKING}")), ExtractedFields::default());
        let labels = "电话:1 ".repeat(MAX_LABELS);
        assert_eq!(
            extract_fields(&format!("{labels}\n{BOOKING}")),
            ExtractedFields::default()
        );
        // Within the caps the same booking reads in full.
        let labels = "电话:1 ".repeat(MAX_LABELS - 10);
        assert_eq!(extract_fields(&format!("{labels}\n{BOOKING}")), extract_fields(BOOKING));
    }

    #[test]
    fn a_long_value_is_cut_not_copied_whole() {
        let text = format!("票种:{}", "初".repeat(50_000));
        // Longer than any ticket type: not taken, and not 50,000 characters copied per label.
        assert_eq!(extract_fields(&text).ticket_type, None);
    }

    #[test]
    fn the_ocr_text_of_the_booking_matches_the_order_end_to_end() {
        let m = match_screenshot(&extract_fields(BOOKING), 0.9, &expected());
        assert!(m.matched, "{m:?}");
        assert_eq!(MatchReason::LowConfidence.label(), "识别置信度过低,需人工核对");
    }
}
