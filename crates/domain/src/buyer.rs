//! The buyer's ticket form (买家资料): the public form behind the order's card link.
//!
//! Parse at the edge: the raw post ([`FormInput`], all strings) goes through [`validate`] once,
//! and what comes out ([`BuyerForm`]) is made of types that can only hold checked values
//! ([`PersonName`], [`PhoneNumber`], [`CertificateNo`], [`CertificateType`], [`Gender`]).
//! A `BuyerForm` is exactly the payload of the `user_form_submitted` event.
//!
//! Bad input is refused field by field: the error map is keyed by the camelCase field name (see
//! [`fields`]) with one Chinese message per field, and every field is checked, so the buyer sees
//! all their mistakes at once.
//!
//! Name, phone and ID number are personal data: their `Debug` output is masked, and they have no
//! `Display`, so `{}` cannot print them whole by accident. Whole values come only from `as_str()`.
//!
//! Deserializing a `BuyerForm` (or one of the newtypes) does NOT re-validate: it exists to read
//! back stored events, which are facts (the seed's stored payload carries an ID number that fails
//! the check digit, and replay must still read it). Untrusted input must go through [`validate`].

use std::collections::BTreeMap;
use std::fmt;

use chrono::{Days, NaiveDate};
use serde::{Deserialize, Serialize};

use crate::personal::{mask_certificate, mask_name, mask_phone};

/// The error map's keys: the camelCase field names of the form.
pub mod fields {
    pub const NAME: &str = "name";
    pub const PHONE_COUNTRY_CODE: &str = "phoneCountryCode";
    pub const PHONE: &str = "phone";
    pub const CERTIFICATE_TYPE: &str = "certificateType";
    pub const CERTIFICATE_NO: &str = "certificateNo";
    pub const GENDER: &str = "gender";
    pub const BIRTHDAY: &str = "birthday";
    pub const PLAY_DATE: &str = "playDate";
}

/// Used when the buyer leaves the country code blank.
pub const DEFAULT_PHONE_COUNTRY_CODE: &str = "+86";

/// Any raw field longer than this (in bytes) is refused before it is looked at, so a huge post
/// costs nothing. No valid value comes near it (the longest is a 50-character name).
const MAX_RAW_BYTES: usize = 1024;

/// Longer raw values are shown in `Debug` as their size only.
const MAX_DEBUG_BYTES: usize = 64;

/// The earliest birth date accepted, from an ID number or the birthday field.
const EARLIEST_BIRTHDAY: NaiveDate = match NaiveDate::from_ymd_opt(1900, 1, 1) {
    Some(d) => d,
    None => panic!("1900-01-01 is a date"),
};

// ---------------------------------------------------------------------------------------------
// Raw input
// ---------------------------------------------------------------------------------------------

/// Raw input as posted (all strings, any may be missing or blank).
#[derive(Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct FormInput {
    pub name: Option<String>,
    pub phone_country_code: Option<String>,
    pub phone: Option<String>,
    pub certificate_type: Option<String>,
    pub certificate_no: Option<String>,
    pub gender: Option<String>,
    pub birthday: Option<String>,
    pub play_date: Option<String>,
}

impl fmt::Debug for FormInput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let masked = |v: &Option<String>, mask: fn(&str) -> String| {
            v.as_deref().map(|s| {
                if s.len() > MAX_DEBUG_BYTES {
                    too_big(s)
                } else {
                    mask(s.trim())
                }
            })
        };
        let plain = |v: &Option<String>| {
            v.as_deref().map(|s| {
                if s.len() > MAX_DEBUG_BYTES {
                    too_big(s)
                } else {
                    s.to_owned()
                }
            })
        };
        f.debug_struct("FormInput")
            .field("name", &masked(&self.name, mask_name))
            .field("phone_country_code", &plain(&self.phone_country_code))
            .field("phone", &masked(&self.phone, mask_phone))
            .field("certificate_type", &plain(&self.certificate_type))
            .field("certificate_no", &masked(&self.certificate_no, mask_certificate))
            .field("gender", &plain(&self.gender))
            .field("birthday", &masked(&self.birthday, mask_birthday))
            .field("play_date", &plain(&self.play_date))
            .finish()
    }
}

fn too_big(s: &str) -> String {
    format!("<{} bytes>", s.len())
}

fn mask_birthday(_: &str) -> String {
    "****-**-**".to_owned()
}

// ---------------------------------------------------------------------------------------------
// The validated form
// ---------------------------------------------------------------------------------------------

/// The validated form; exactly the payload of the `user_form_submitted` event, e.g.
/// `{"name":"马上到","phone":"18852341234","gender":null,"birthday":null,"playDate":"2026-03-23",
/// "certificateNo":"320911198804223314","certificateType":"id_card","phoneCountryCode":"+86"}`.
///
/// `gender` and `birthday` are kept as the buyer sent them: for an `id_card` they are optional and
/// never derived from the number (if given, they agree with it).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BuyerForm {
    pub name: PersonName,
    /// `+` and 1–4 digits, e.g. `+86`.
    pub phone_country_code: String,
    /// Digits only, without the country code.
    pub phone: PhoneNumber,
    pub certificate_type: CertificateType,
    pub certificate_no: CertificateNo,
    pub gender: Option<Gender>,
    pub birthday: Option<NaiveDate>,
    pub play_date: NaiveDate,
}

impl fmt::Debug for BuyerForm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BuyerForm")
            .field("name", &self.name)
            .field("phone_country_code", &self.phone_country_code)
            .field("phone", &self.phone)
            .field("certificate_type", &self.certificate_type)
            .field("certificate_no", &self.certificate_no)
            .field("gender", &self.gender)
            .field("birthday", &self.birthday.map(|_| mask_birthday("")))
            .field("play_date", &self.play_date)
            .finish()
    }
}

/// The buyer's name: trimmed, inner whitespace collapsed to one space, 1–50 characters, no
/// control or invisible characters.
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PersonName(String);

impl PersonName {
    pub const MAX_CHARS: usize = 50;

    pub fn parse(raw: &str) -> Result<Self, String> {
        let too_long = || format!("姓名不能超过 {} 个字符", Self::MAX_CHARS);
        if raw.len() > MAX_RAW_BYTES {
            return Err(too_long());
        }
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            return Err("请填写姓名".into());
        }
        let mut out = String::with_capacity(trimmed.len());
        let mut count = 0usize;
        let mut pending_space = false;
        for c in trimmed.chars() {
            if c.is_control() || is_invisible(c) {
                return Err("姓名不能包含换行、制表符等控制字符或不可见字符".into());
            }
            if c.is_whitespace() {
                pending_space = true;
                continue;
            }
            if pending_space {
                out.push(' ');
                count += 1;
                pending_space = false;
            }
            out.push(c);
            count += 1;
            if count > Self::MAX_CHARS {
                return Err(too_long());
            }
        }
        Ok(Self(out))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// `马上到` → `马**`.
    pub fn masked(&self) -> String {
        mask_name(&self.0)
    }
}

impl fmt::Debug for PersonName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("PersonName").field(&self.masked()).finish()
    }
}

/// Zero-width and bidirectional-override characters: invisible, and able to make a name look
/// like another one.
fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}'
            | '\u{200B}'..='\u{200F}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{2064}'
            | '\u{2066}'..='\u{2069}'
            | '\u{FEFF}'
    )
}

/// A phone number, digits only, without the country code.
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PhoneNumber(String);

impl PhoneNumber {
    /// Checks `raw` (spaces and dashes ignored) against the rules of `country_code`, a code as
    /// accepted for `phoneCountryCode` (e.g. `+86`). Taiwan numbers written with the trunk `0`
    /// (`0912…`) are stored without it.
    pub fn parse(country_code: &str, raw: &str) -> Result<Self, String> {
        let digits = phone_digits(raw)?;
        let d = digits.as_bytes();
        let ok = |v: bool, msg: &str| if v { Ok(()) } else { Err(msg.to_owned()) };
        let digits = match country_code {
            "+86" => {
                ok(
                    d.len() == 11 && d[0] == b'1' && (b'3'..=b'9').contains(&d[1]),
                    "中国大陆手机号应为 11 位数字,以 13–19 开头",
                )?;
                digits
            }
            "+852" => {
                ok(d.len() == 8, "香港手机号应为 8 位数字")?;
                digits
            }
            "+853" => {
                ok(d.len() == 8, "澳门手机号应为 8 位数字")?;
                digits
            }
            "+886" => {
                let local = if d.len() == 10 && d.starts_with(b"09") {
                    &digits[1..]
                } else {
                    &digits[..]
                };
                ok(
                    local.len() == 9 && local.starts_with('9'),
                    "台湾手机号应为以 9 开头的 9 位数字(或以 09 开头的 10 位数字)",
                )?;
                local.to_owned()
            }
            other => {
                let code_digits = other.bytes().filter(u8::is_ascii_digit).count();
                ok(
                    (5..=15).contains(&d.len()) && code_digits + d.len() <= 15,
                    "手机号应为 5–15 位数字,且连同国家/地区区号不超过 15 位",
                )?;
                digits
            }
        };
        Ok(Self(digits))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// `18852341234` → `188****1234`.
    pub fn masked(&self) -> String {
        mask_phone(&self.0)
    }
}

impl fmt::Debug for PhoneNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("PhoneNumber").field(&self.masked()).finish()
    }
}

/// The phone's digits with spaces and dashes removed; refuses blanks and anything else.
fn phone_digits(raw: &str) -> Result<String, String> {
    if raw.len() > MAX_RAW_BYTES {
        return Err("手机号过长".into());
    }
    let digits: String = raw.chars().filter(|c| !c.is_whitespace() && *c != '-').collect();
    if digits.is_empty() {
        return Err("请填写手机号".into());
    }
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err("手机号只能包含数字(可用空格或短横线分隔),不要填写国家/地区区号".into());
    }
    Ok(digits)
}

/// `+` followed by 1–4 digits, the first not `0`.
fn parse_country_code(raw: &str) -> Result<String, String> {
    let ok = raw
        .strip_prefix('+')
        .is_some_and(|d| (1..=4).contains(&d.len()) && d.bytes().all(|b| b.is_ascii_digit()) && !d.starts_with('0'));
    if ok {
        Ok(raw.to_owned())
    } else {
        Err("国家/地区区号格式不正确,应为 + 加 1–4 位数字,例如 +86".into())
    }
}

/// 证件类型.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CertificateType {
    IdCard,
    Passport,
    HkMacauPermit,
    TaiwanPermit,
}

impl CertificateType {
    pub const ALL: [CertificateType; 4] = [
        CertificateType::IdCard,
        CertificateType::Passport,
        CertificateType::HkMacauPermit,
        CertificateType::TaiwanPermit,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            CertificateType::IdCard => "id_card",
            CertificateType::Passport => "passport",
            CertificateType::HkMacauPermit => "hk_macau_permit",
            CertificateType::TaiwanPermit => "taiwan_permit",
        }
    }

    pub const fn label(self) -> &'static str {
        match self {
            CertificateType::IdCard => "内地身份证",
            CertificateType::Passport => "护照",
            CertificateType::HkMacauPermit => "港澳居民来往内地通行证",
            CertificateType::TaiwanPermit => "台湾居民来往大陆通行证",
        }
    }

    /// The wire name (`id_card`, …), surrounding blanks and ASCII case ignored.
    pub fn parse(s: &str) -> Option<Self> {
        let s = s.trim();
        Self::ALL.into_iter().find(|t| t.as_str().eq_ignore_ascii_case(s))
    }

    /// Only the mainland ID number carries the birth date and gender; the others need them given.
    pub const fn requires_gender_and_birthday(self) -> bool {
        !matches!(self, CertificateType::IdCard)
    }
}

/// 性别.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Gender {
    Male,
    Female,
}

impl Gender {
    pub const fn as_str(self) -> &'static str {
        match self {
            Gender::Male => "male",
            Gender::Female => "female",
        }
    }

    pub const fn label(self) -> &'static str {
        match self {
            Gender::Male => "男",
            Gender::Female => "女",
        }
    }

    /// `male`/`female`, `M`/`F`, `男`/`女`; surrounding blanks and ASCII case ignored.
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "male" | "m" | "男" => Some(Gender::Male),
            "female" | "f" | "女" => Some(Gender::Female),
            _ => None,
        }
    }
}

/// A certificate number in its normal form: spaces removed, letters uppercase.
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct CertificateNo(String);

impl CertificateNo {
    /// Checks `raw` against the format of `kind`. For an `id_card` that includes the GB 11643
    /// check digit and the birth date in it, which must be real, not after `today` and not before
    /// 1900-01-01.
    pub fn parse(kind: CertificateType, raw: &str, today: NaiveDate) -> Result<Self, String> {
        parse_certificate(kind, raw, today).map(|(no, _)| no)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// `320911198804223314` → `3209**********3314`.
    pub fn masked(&self) -> String {
        mask_certificate(&self.0)
    }
}

impl fmt::Debug for CertificateNo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("CertificateNo").field(&self.masked()).finish()
    }
}

/// What a mainland ID number says about its holder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct IdCardFacts {
    birthday: NaiveDate,
    gender: Gender,
}

fn parse_certificate(
    kind: CertificateType,
    raw: &str,
    today: NaiveDate,
) -> Result<(CertificateNo, Option<IdCardFacts>), String> {
    if raw.len() > MAX_RAW_BYTES {
        return Err("证件号码过长".into());
    }
    let no: String = raw
        .chars()
        .filter(|c| !c.is_whitespace())
        .map(|c| c.to_ascii_uppercase())
        .collect();
    if no.is_empty() {
        return Err("请填写证件号码".into());
    }
    let b = no.as_bytes();
    let all_digits = |s: &[u8]| s.iter().all(u8::is_ascii_digit);
    let facts = match kind {
        CertificateType::IdCard => Some(check_id_card(b, today)?),
        CertificateType::Passport => {
            let ok = (5..=20).contains(&b.len())
                && b.iter().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
                && b.iter().any(u8::is_ascii_digit);
            if !ok {
                return Err("护照号码应为 5–20 位字母或数字,且至少包含一位数字".into());
            }
            None
        }
        CertificateType::HkMacauPermit => {
            let ok = matches!(b.first(), Some(b'H' | b'M')) && matches!(b.len(), 9 | 11) && all_digits(&b[1..]);
            if !ok {
                return Err("港澳居民来往内地通行证号码应为 H 或 M 开头,后接 8 位或 10 位数字".into());
            }
            None
        }
        CertificateType::TaiwanPermit => {
            if !(matches!(b.len(), 8 | 10) && all_digits(b)) {
                return Err("台湾居民来往大陆通行证号码应为 8 位或 10 位数字".into());
            }
            None
        }
    };
    Ok((CertificateNo(no), facts))
}

/// GB 11643-1999: 6-digit region, 8-digit birth date, 3-digit sequence (odd for men), check char.
fn check_id_card(b: &[u8], today: NaiveDate) -> Result<IdCardFacts, String> {
    const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    const CHECK: &[u8; 11] = b"10X98765432";

    let well_formed =
        b.len() == 18 && b[..17].iter().all(u8::is_ascii_digit) && (b[17].is_ascii_digit() || b[17] == b'X');
    if !well_formed {
        return Err("身份证号应为 18 位:17 位数字加 1 位校验码(数字或 X)".into());
    }
    let digit = |i: usize| u32::from(b[i] - b'0');
    let number = |r: std::ops::Range<usize>| r.fold(0u32, |n, i| n * 10 + digit(i));

    let birthday = NaiveDate::from_ymd_opt(number(6..10) as i32, number(10..12), number(12..14))
        .ok_or_else(|| "身份证号中的出生日期(第 7–14 位)不是有效日期".to_owned())?;
    if birthday > today {
        return Err("身份证号中的出生日期(第 7–14 位)晚于今天".into());
    }
    if birthday < EARLIEST_BIRTHDAY {
        return Err("身份证号中的出生日期(第 7–14 位)早于 1900-01-01".into());
    }

    let sum: u32 = WEIGHTS.iter().enumerate().map(|(i, w)| w * digit(i)).sum();
    if b[17] != CHECK[(sum % 11) as usize] {
        return Err("身份证号校验位不正确,请核对号码".into());
    }

    let gender = if digit(16) % 2 == 1 {
        Gender::Male
    } else {
        Gender::Female
    };
    Ok(IdCardFacts { birthday, gender })
}

// ---------------------------------------------------------------------------------------------
// Dates
// ---------------------------------------------------------------------------------------------

enum DateError {
    Format,
    NotADate,
}

/// Strictly `YYYY-MM-DD` (chrono alone would also take `2026-3-5`).
fn parse_ymd(s: &str) -> Result<NaiveDate, DateError> {
    let b = s.as_bytes();
    let shape = b.len() == 10
        && b.iter().enumerate().all(|(i, c)| {
            if i == 4 || i == 7 {
                *c == b'-'
            } else {
                c.is_ascii_digit()
            }
        });
    if !shape {
        return Err(DateError::Format);
    }
    let n = |r: std::ops::Range<usize>| b[r].iter().fold(0u32, |n, c| n * 10 + u32::from(c - b'0'));
    NaiveDate::from_ymd_opt(n(0..4) as i32, n(5..7), n(8..10)).ok_or(DateError::NotADate)
}

fn parse_birthday(raw: &str, today: NaiveDate) -> Result<NaiveDate, String> {
    let d = parse_ymd(raw).map_err(|e| match e {
        DateError::Format => "出生日期格式应为 YYYY-MM-DD,例如 1988-04-22".to_owned(),
        DateError::NotADate => "出生日期不是有效日期".to_owned(),
    })?;
    if d > today {
        return Err("出生日期不能晚于今天".into());
    }
    if d < EARLIEST_BIRTHDAY {
        return Err("出生日期不能早于 1900-01-01".into());
    }
    Ok(d)
}

/// The last bookable day; a negative horizon counts as 0 (today only).
fn last_play_date(today: NaiveDate, horizon_days: i64) -> NaiveDate {
    let days = u64::try_from(horizon_days).unwrap_or(0);
    today.checked_add_days(Days::new(days)).unwrap_or(NaiveDate::MAX)
}

fn parse_play_date(raw: &str, today: NaiveDate, horizon_days: i64) -> Result<NaiveDate, String> {
    let d = parse_ymd(raw).map_err(|e| match e {
        DateError::Format => "游玩日期格式应为 YYYY-MM-DD,例如 2026-03-23".to_owned(),
        DateError::NotADate => "游玩日期不是有效日期".to_owned(),
    })?;
    if d < today {
        return Err(format!("游玩日期不能早于今天({today})"));
    }
    let last = last_play_date(today, horizon_days);
    if d > last {
        return Err(format!(
            "游玩日期不能晚于 {last}(只能预订今天起 {} 天内的日期)",
            horizon_days.max(0)
        ));
    }
    Ok(d)
}

// ---------------------------------------------------------------------------------------------
// validate
// ---------------------------------------------------------------------------------------------

/// The trimmed value, or `None` when missing or blank.
fn given(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

#[derive(Default)]
struct Errors(BTreeMap<String, String>);

impl Errors {
    /// Records the first error of a field; later ones for the same field are dropped.
    fn fail(&mut self, field: &str, msg: impl Into<String>) {
        self.0.entry(field.to_owned()).or_insert_with(|| msg.into());
    }

    fn take<T>(&mut self, field: &str, r: Result<T, String>) -> Option<T> {
        r.map_err(|msg| self.fail(field, msg)).ok()
    }
}

/// Validates the buyer's form. `today` is the caller's date in Asia/Shanghai; the play date may be
/// from `today` to `today + horizon_days`. On refusal, every field in error is in the map (keyed
/// by camelCase field name, see [`fields`]) with a Chinese message.
pub fn validate(input: &FormInput, today: NaiveDate, horizon_days: i64) -> Result<BuyerForm, BTreeMap<String, String>> {
    use fields::*;
    let mut errors = Errors::default();

    let name = errors.take(NAME, PersonName::parse(input.name.as_deref().unwrap_or("")));

    let country_code = match given(&input.phone_country_code) {
        None => Some(DEFAULT_PHONE_COUNTRY_CODE.to_owned()),
        Some(raw) if raw.len() > MAX_RAW_BYTES => {
            errors.fail(PHONE_COUNTRY_CODE, "国家/地区区号过长");
            None
        }
        Some(raw) => errors.take(PHONE_COUNTRY_CODE, parse_country_code(raw)),
    };
    let raw_phone = input.phone.as_deref().unwrap_or("");
    let phone = match &country_code {
        Some(code) => errors.take(PHONE, PhoneNumber::parse(code, raw_phone)),
        // Without a valid country code only the basics can be checked.
        None => {
            let _ = errors.take(PHONE, phone_digits(raw_phone));
            None
        }
    };

    let certificate_type = match given(&input.certificate_type) {
        None => {
            errors.fail(CERTIFICATE_TYPE, "请选择证件类型");
            None
        }
        Some(raw) => {
            let t = CertificateType::parse(raw);
            if t.is_none() {
                let allowed: Vec<String> = CertificateType::ALL
                    .iter()
                    .map(|t| format!("{}({})", t.as_str(), t.label()))
                    .collect();
                errors.fail(CERTIFICATE_TYPE, format!("证件类型无效,可选:{}", allowed.join("、")));
            }
            t
        }
    };
    let (certificate_no, id_facts) = match (certificate_type, given(&input.certificate_no)) {
        (_, None) => {
            errors.fail(CERTIFICATE_NO, "请填写证件号码");
            (None, None)
        }
        (Some(kind), Some(raw)) => match errors.take(CERTIFICATE_NO, parse_certificate(kind, raw, today)) {
            Some((no, facts)) => (Some(no), facts),
            None => (None, None),
        },
        // The type is in error already; the number cannot be checked without it.
        (None, Some(_)) => (None, None),
    };

    let gender_raw = given(&input.gender);
    let gender = gender_raw.and_then(|raw| {
        let g = if raw.len() > MAX_RAW_BYTES {
            None
        } else {
            Gender::parse(raw)
        };
        if g.is_none() {
            errors.fail(GENDER, "性别只能是男或女(male / female)");
        }
        g
    });
    let birthday_raw = given(&input.birthday);
    let birthday = birthday_raw.and_then(|raw| errors.take(BIRTHDAY, parse_birthday(raw, today)));

    if let Some(kind) = certificate_type.filter(|k| k.requires_gender_and_birthday()) {
        if gender_raw.is_none() {
            errors.fail(GENDER, format!("使用{}时请选择性别", kind.label()));
        }
        if birthday_raw.is_none() {
            errors.fail(BIRTHDAY, format!("使用{}时请填写出生日期", kind.label()));
        }
    }
    if let Some(facts) = id_facts {
        if gender.is_some_and(|g| g != facts.gender) {
            errors.fail(GENDER, "性别与身份证号不符");
        }
        if birthday.is_some_and(|d| d != facts.birthday) {
            errors.fail(BIRTHDAY, "出生日期与身份证号不符");
        }
    }

    let play_date = match given(&input.play_date) {
        None => {
            errors.fail(PLAY_DATE, "请选择游玩日期");
            None
        }
        Some(raw) => errors.take(PLAY_DATE, parse_play_date(raw, today, horizon_days)),
    };

    match (name, country_code, phone, certificate_type, certificate_no, play_date) {
        (
            Some(name),
            Some(phone_country_code),
            Some(phone),
            Some(certificate_type),
            Some(certificate_no),
            Some(play_date),
        ) if errors.0.is_empty() => Ok(BuyerForm {
            name,
            phone_country_code,
            phone,
            certificate_type,
            certificate_no,
            gender,
            birthday,
            play_date,
        }),
        _ => {
            debug_assert!(!errors.0.is_empty(), "a missing value always records an error");
            Err(errors.0)
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------------

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    const HORIZON: i64 = 90;

    fn date(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    /// The seed's "today".
    fn today() -> NaiveDate {
        date("2026-11-29")
    }

    fn s(v: &str) -> Option<String> {
        Some(v.to_owned())
    }

    /// A valid mainland-ID form (the seed's, corrected and moved into the horizon).
    fn good() -> FormInput {
        FormInput {
            name: s("马上到"),
            phone_country_code: s("+86"),
            phone: s("18852341234"),
            certificate_type: s("id_card"),
            certificate_no: s("320911198804223314"),
            gender: None,
            birthday: None,
            play_date: s("2026-12-05"),
        }
    }

    /// A valid form for a certificate type that needs gender and birthday.
    fn good_with(kind: &str, no: &str) -> FormInput {
        FormInput {
            certificate_type: s(kind),
            certificate_no: s(no),
            gender: s("female"),
            birthday: s("1990-01-01"),
            ..good()
        }
    }

    fn ok(input: &FormInput) -> BuyerForm {
        match validate(input, today(), HORIZON) {
            Ok(f) => f,
            Err(e) => panic!("expected the form to pass, got {e:?}"),
        }
    }

    fn err(input: &FormInput) -> BTreeMap<String, String> {
        match validate(input, today(), HORIZON) {
            Ok(f) => panic!("expected the form to be refused, got {f:?}"),
            Err(e) => e,
        }
    }

    fn keys(e: &BTreeMap<String, String>) -> Vec<&str> {
        e.keys().map(String::as_str).collect()
    }

    /// Refused on exactly `field`, with a message.
    fn refused_on(input: &FormInput, field: &str) -> String {
        let e = err(input);
        assert_eq!(keys(&e), [field], "{e:?}");
        let msg = e[field].clone();
        assert!(!msg.is_empty());
        msg
    }

    fn id(no: &str) -> FormInput {
        FormInput {
            certificate_no: s(no),
            ..good()
        }
    }

    fn phone(code: &str, no: &str) -> FormInput {
        FormInput {
            phone_country_code: s(code),
            phone: s(no),
            ..good()
        }
    }

    // --- the seed ------------------------------------------------------------------------------

    #[test]
    fn the_seed_form_is_refused_on_certificate_no_and_play_date_in_one_answer() {
        let seed = FormInput {
            certificate_no: s("320911198804223310"),
            play_date: s("2026-03-23"),
            ..good()
        };
        let e = err(&seed);
        assert_eq!(keys(&e), ["certificateNo", "playDate"], "{e:?}");
        assert!(e["certificateNo"].contains("校验位"), "{e:?}");
        assert!(e["playDate"].contains("2026-11-29"), "{e:?}");
    }

    #[test]
    fn the_corrected_seed_form_is_accepted_and_serializes_to_the_seed_payload_keys() {
        let form = ok(&good());
        let json = serde_json::to_value(&form).unwrap();
        let seed: serde_json::Value = serde_json::from_str(
            r#"{"name":"马上到","phone":"18852341234","gender":null,"birthday":null,"playDate":"2026-03-23",
                "certificateNo":"320911198804223314","certificateType":"id_card","phoneCountryCode":"+86"}"#,
        )
        .unwrap();
        let key_set = |v: &serde_json::Value| v.as_object().unwrap().keys().cloned().collect::<BTreeSet<_>>();
        assert_eq!(key_set(&json), key_set(&seed));
        assert_eq!(
            json,
            serde_json::json!({
                "name": "马上到", "phone": "18852341234", "gender": null, "birthday": null,
                "playDate": "2026-12-05", "certificateNo": "320911198804223314",
                "certificateType": "id_card", "phoneCountryCode": "+86"
            })
        );
    }

    #[test]
    fn the_stored_seed_payload_reads_back_without_revalidation_and_round_trips() {
        let stored = r#"{"name":"马上到","phone":"18852341234","gender":null,"birthday":null,"playDate":"2026-03-23",
            "certificateNo":"320911198804223310","certificateType":"id_card","phoneCountryCode":"+86"}"#;
        let form: BuyerForm = serde_json::from_str(stored).unwrap();
        assert_eq!(form.certificate_no.as_str(), "320911198804223310");
        assert_eq!(form.play_date, date("2026-03-23"));
        assert_eq!(form.gender, None);
        assert_eq!(form.birthday, None);
        let again: BuyerForm = serde_json::from_value(serde_json::to_value(&form).unwrap()).unwrap();
        assert_eq!(again, form);
    }

    #[test]
    fn malformed_stored_payloads_are_errors_not_panics() {
        assert!(serde_json::from_str::<BuyerForm>(r#"{"name":1}"#).is_err());
        assert!(serde_json::from_str::<BuyerForm>("{}").is_err());
        assert!(serde_json::from_str::<CertificateType>(r#""driving_licence""#).is_err());
        assert!(serde_json::from_str::<Gender>(r#""M""#).is_err());
    }

    #[test]
    fn an_empty_form_reports_every_required_field_at_once() {
        let e = err(&FormInput::default());
        assert_eq!(
            keys(&e),
            ["certificateNo", "certificateType", "name", "phone", "playDate"],
            "{e:?}"
        );
        assert_eq!(e["name"], "请填写姓名");
        assert_eq!(e["phone"], "请填写手机号");
        assert_eq!(e["certificateType"], "请选择证件类型");
        assert_eq!(e["certificateNo"], "请填写证件号码");
        assert_eq!(e["playDate"], "请选择游玩日期");
    }

    #[test]
    fn a_form_wrong_everywhere_reports_every_field_at_once() {
        let bad = FormInput {
            name: s("  "),
            phone_country_code: s("86"),
            phone: s("abc"),
            certificate_type: s("passport"),
            certificate_no: s("ABCDE"),
            gender: s("x"),
            birthday: s("1988/04/22"),
            play_date: s("tomorrow"),
        };
        let e = err(&bad);
        // Every field but the (valid) certificate type.
        assert_eq!(
            keys(&e),
            [
                "birthday",
                "certificateNo",
                "gender",
                "name",
                "phone",
                "phoneCountryCode",
                "playDate"
            ],
            "{e:?}"
        );
    }

    // --- name ----------------------------------------------------------------------------------

    #[test]
    fn a_name_is_trimmed_and_inner_whitespace_collapsed() {
        let f = ok(&FormInput {
            name: s("\n  Anne  \u{3000}  Marie Smith \n"),
            ..good()
        });
        assert_eq!(f.name.as_str(), "Anne Marie Smith");
        assert_eq!(ok(&good()).name.as_str(), "马上到");
    }

    #[test]
    fn a_blank_or_missing_name_is_refused() {
        assert_eq!(
            refused_on(
                &FormInput {
                    name: s("   "),
                    ..good()
                },
                "name"
            ),
            "请填写姓名"
        );
        assert_eq!(refused_on(&FormInput { name: None, ..good() }, "name"), "请填写姓名");
    }

    #[test]
    fn a_name_of_fifty_characters_is_accepted_and_fifty_one_refused() {
        // 50 Chinese characters are 150 bytes: the limit counts characters.
        let fifty = "张".repeat(50);
        assert_eq!(
            ok(&FormInput {
                name: Some(fifty.clone()),
                ..good()
            })
            .name
            .as_str(),
            fifty
        );
        let msg = refused_on(
            &FormInput {
                name: Some("张".repeat(51)),
                ..good()
            },
            "name",
        );
        assert!(msg.contains("50"), "{msg}");
    }

    #[test]
    fn a_ten_kilobyte_name_is_refused_with_a_message() {
        let msg = refused_on(
            &FormInput {
                name: Some("马".repeat(10 * 1024 / 3 + 1)),
                ..good()
            },
            "name",
        );
        assert_eq!(msg, "姓名不能超过 50 个字符");
        let msg = refused_on(
            &FormInput {
                name: Some("a".repeat(10 * 1024)),
                ..good()
            },
            "name",
        );
        assert_eq!(msg, "姓名不能超过 50 个字符");
    }

    #[test]
    fn a_name_with_control_or_invisible_characters_is_refused() {
        for bad in [
            "马\t上到",
            "马\n上到",
            "马\u{7}上到",
            "马\u{202E}上到",
            "马\u{200B}上到",
            "马\u{FEFF}上到",
        ] {
            let msg = refused_on(&FormInput { name: s(bad), ..good() }, "name");
            assert!(msg.contains("控制字符"), "{bad:?}: {msg}");
        }
        // Middle dot names (阿卜杜·热合曼) and hyphens are fine.
        assert_eq!(
            ok(&FormInput {
                name: s("阿卜杜·热合曼"),
                ..good()
            })
            .name
            .as_str(),
            "阿卜杜·热合曼"
        );
        assert_eq!(
            ok(&FormInput {
                name: s("Anne-Marie O'Neil"),
                ..good()
            })
            .name
            .as_str(),
            "Anne-Marie O'Neil"
        );
    }

    // --- phone ---------------------------------------------------------------------------------

    #[test]
    fn the_country_code_defaults_to_plus_86_when_absent_or_blank() {
        for code in [None, s(""), s("   ")] {
            let f = ok(&FormInput {
                phone_country_code: code,
                ..good()
            });
            assert_eq!(f.phone_country_code, "+86");
        }
        assert_eq!(ok(&phone(" +86 ", "18852341234")).phone_country_code, "+86");
    }

    #[test]
    fn a_malformed_country_code_is_refused() {
        for code in ["86", "+", "+12345", "+8a", "++86", "+086", "＋86"] {
            let e = err(&phone(code, "18852341234"));
            assert_eq!(keys(&e), ["phoneCountryCode"], "{code}: {e:?}");
        }
        // The phone is still checked for the basics.
        let e = err(&phone("86", "abc"));
        assert_eq!(keys(&e), ["phone", "phoneCountryCode"], "{e:?}");
    }

    #[test]
    fn a_mainland_mobile_is_eleven_digits_starting_13_to_19() {
        for good_no in ["13012345678", "19912345678", "188 5234 1234", "188-5234-1234"] {
            assert_eq!(ok(&phone("+86", good_no)).phone.as_str().len(), 11, "{good_no}");
        }
        assert_eq!(ok(&phone("+86", "188-5234 1234")).phone.as_str(), "18852341234");
        for bad in [
            "12852341234",
            "10852341234",
            "28852341234",
            "1885234123",
            "188523412345",
            "02152341234",
        ] {
            let msg = refused_on(&phone("+86", bad), "phone");
            assert!(msg.contains("11 位"), "{bad}: {msg}");
        }
    }

    #[test]
    fn a_phone_with_letters_or_a_plus_is_refused() {
        for bad in [
            "1885234123a",
            "+8618852341234",
            "188.5234.1234",
            "１８８５２３４１２３４",
        ] {
            let msg = refused_on(&phone("+86", bad), "phone");
            assert!(msg.contains("只能包含数字"), "{bad}: {msg}");
        }
        assert_eq!(refused_on(&phone("+86", " - "), "phone"), "请填写手机号");
    }

    #[test]
    fn hong_kong_and_macau_phones_have_eight_digits() {
        assert_eq!(ok(&phone("+852", "5123 4567")).phone.as_str(), "51234567");
        assert_eq!(ok(&phone("+853", "66123456")).phone.as_str(), "66123456");
        refused_on(&phone("+852", "5123456"), "phone");
        refused_on(&phone("+852", "512345678"), "phone");
        refused_on(&phone("+853", "6612345"), "phone");
    }

    #[test]
    fn a_taiwan_phone_has_nine_digits_starting_9_and_a_leading_0_is_dropped() {
        assert_eq!(ok(&phone("+886", "912345678")).phone.as_str(), "912345678");
        assert_eq!(ok(&phone("+886", "0912-345-678")).phone.as_str(), "912345678");
        refused_on(&phone("+886", "812345678"), "phone");
        refused_on(&phone("+886", "91234567"), "phone");
        refused_on(&phone("+886", "0812345678"), "phone");
        refused_on(&phone("+886", "00912345678"), "phone");
    }

    #[test]
    fn other_country_codes_take_5_to_15_digits_within_e164() {
        assert_eq!(ok(&phone("+1", "202-555-0123")).phone.as_str(), "2025550123");
        assert_eq!(ok(&phone("+44", "7911 123456")).phone.as_str(), "7911123456");
        assert_eq!(ok(&phone("+7", "12345")).phone.as_str(), "12345");
        assert_eq!(ok(&phone("+1", "12345678901234")).phone.as_str().len(), 14);
        refused_on(&phone("+1", "1234"), "phone");
        // +1234 and 12 digits make 16 digits, over E.164's 15.
        refused_on(&phone("+1234", "123456789012"), "phone");
        assert_eq!(ok(&phone("+1234", "12345678901")).phone.as_str().len(), 11);
    }

    // --- certificate type ----------------------------------------------------------------------

    #[test]
    fn an_unknown_certificate_type_is_refused_listing_the_allowed_ones() {
        let e = err(&FormInput {
            certificate_type: s("driving_licence"),
            ..good()
        });
        // The number cannot be checked without a type: only the type is in error.
        assert_eq!(keys(&e), ["certificateType"], "{e:?}");
        for t in CertificateType::ALL {
            assert!(e["certificateType"].contains(t.as_str()), "{e:?}");
            assert!(e["certificateType"].contains(t.label()), "{e:?}");
        }
    }

    #[test]
    fn a_missing_certificate_type_is_refused() {
        assert_eq!(
            refused_on(
                &FormInput {
                    certificate_type: s(" "),
                    ..good()
                },
                "certificateType"
            ),
            "请选择证件类型"
        );
    }

    #[test]
    fn certificate_types_have_wire_names_and_chinese_labels() {
        let expected = [
            (CertificateType::IdCard, "id_card", "内地身份证"),
            (CertificateType::Passport, "passport", "护照"),
            (
                CertificateType::HkMacauPermit,
                "hk_macau_permit",
                "港澳居民来往内地通行证",
            ),
            (CertificateType::TaiwanPermit, "taiwan_permit", "台湾居民来往大陆通行证"),
        ];
        for (t, wire, label) in expected {
            assert_eq!(t.as_str(), wire);
            assert_eq!(t.label(), label);
            assert_eq!(CertificateType::parse(wire), Some(t));
            assert_eq!(CertificateType::parse(&format!(" {} ", wire.to_uppercase())), Some(t));
            assert_eq!(serde_json::to_value(t).unwrap(), serde_json::json!(wire));
            assert_eq!(
                serde_json::from_value::<CertificateType>(serde_json::json!(wire)).unwrap(),
                t
            );
        }
        assert_eq!(CertificateType::parse("idcard"), None);
        assert_eq!(CertificateType::parse(""), None);
    }

    // --- id_card -------------------------------------------------------------------------------

    #[test]
    fn a_valid_id_card_is_accepted() {
        assert_eq!(
            ok(&id("320911198804223314")).certificate_no.as_str(),
            "320911198804223314"
        );
        assert_eq!(
            ok(&id("11010519491231002X")).certificate_no.as_str(),
            "11010519491231002X"
        );
        assert_eq!(
            ok(&id(" 320911 19880422 3314 ")).certificate_no.as_str(),
            "320911198804223314"
        );
    }

    #[test]
    fn an_id_card_with_a_wrong_check_digit_is_refused() {
        let msg = refused_on(&id("320911198804223310"), "certificateNo");
        assert_eq!(msg, "身份证号校验位不正确,请核对号码");
    }

    #[test]
    fn an_id_card_with_an_off_by_one_check_digit_is_refused() {
        for bad in [
            "320911198804223313",
            "320911198804223315",
            "110105194912310029",
            "110105194912310020",
        ] {
            let msg = refused_on(&id(bad), "certificateNo");
            assert!(msg.contains("校验位"), "{bad}: {msg}");
        }
    }

    #[test]
    fn an_id_card_ending_in_lowercase_x_is_accepted_and_stored_uppercase() {
        assert_eq!(
            ok(&id("11010519491231002x")).certificate_no.as_str(),
            "11010519491231002X"
        );
    }

    #[test]
    fn an_id_card_with_an_impossible_birth_date_is_refused() {
        // 1999-02-30, with the check digit right, so only the date fails.
        let msg = refused_on(&id("110105199902300015"), "certificateNo");
        assert!(msg.contains("出生日期") && msg.contains("不是有效日期"), "{msg}");
    }

    #[test]
    fn an_id_card_born_in_the_future_or_before_1900_is_refused() {
        let msg = refused_on(&id("110105202701010016"), "certificateNo");
        assert!(msg.contains("晚于今天"), "{msg}");
        let msg = refused_on(&id("110105189912310015"), "certificateNo");
        assert!(msg.contains("1900-01-01"), "{msg}");
        // 1900-01-01 itself is fine.
        ok(&id("11010519000101001X"));
    }

    #[test]
    fn an_id_card_of_the_wrong_shape_is_refused() {
        for bad in [
            "32091119880422331",
            "3209111988042233144",
            "32091119880422331A",
            "X20911198804223314",
            "３２０９１１１９８８０４２２３３１４",
        ] {
            let msg = refused_on(&id(bad), "certificateNo");
            assert!(msg.contains("18 位"), "{bad}: {msg}");
        }
    }

    #[test]
    fn an_id_card_needs_no_gender_or_birthday_and_derives_none() {
        let f = ok(&good());
        assert_eq!(f.gender, None);
        assert_eq!(f.birthday, None);
    }

    #[test]
    fn a_gender_or_birthday_that_agrees_with_the_id_card_is_kept() {
        // 320911198804223314: born 1988-04-22, 17th digit 1 (odd): male.
        let f = ok(&FormInput {
            gender: s("男"),
            birthday: s("1988-04-22"),
            ..good()
        });
        assert_eq!(f.gender, Some(Gender::Male));
        assert_eq!(f.birthday, Some(date("1988-04-22")));
        // 11010519491231002X: 17th digit 2 (even): female.
        let f = ok(&FormInput {
            gender: s("F"),
            ..id("11010519491231002X")
        });
        assert_eq!(f.gender, Some(Gender::Female));
    }

    #[test]
    fn a_gender_or_birthday_that_disagrees_with_the_id_card_is_refused() {
        let e = err(&FormInput {
            gender: s("female"),
            birthday: s("1988-04-23"),
            ..good()
        });
        assert_eq!(keys(&e), ["birthday", "gender"], "{e:?}");
        assert_eq!(e["gender"], "性别与身份证号不符");
        assert_eq!(e["birthday"], "出生日期与身份证号不符");
    }

    #[test]
    fn an_invalid_id_card_does_not_also_blame_gender_and_birthday() {
        let e = err(&FormInput {
            gender: s("female"),
            birthday: s("1970-01-01"),
            ..id("320911198804223310")
        });
        assert_eq!(keys(&e), ["certificateNo"], "{e:?}");
    }

    // --- passport ------------------------------------------------------------------------------

    #[test]
    fn a_passport_number_is_uppercased_with_spaces_removed() {
        assert_eq!(
            ok(&good_with("passport", "e 1234 5678")).certificate_no.as_str(),
            "E12345678"
        );
        assert_eq!(
            ok(&good_with("passport", "G12345678")).certificate_no.as_str(),
            "G12345678"
        );
        assert_eq!(ok(&good_with("passport", "12345")).certificate_no.as_str(), "12345");
        assert_eq!(
            ok(&good_with("passport", "AB1234567890CDEFGHIJ"))
                .certificate_no
                .as_str()
                .len(),
            20
        );
    }

    #[test]
    fn a_passport_number_of_the_wrong_shape_is_refused() {
        for bad in [
            "ABCDEFGH",
            "E123",
            "AB1234567890CDEFGHIJK",
            "E1234-5678",
            "E１２３４５６７８",
        ] {
            let msg = refused_on(&good_with("passport", bad), "certificateNo");
            assert!(msg.contains("护照"), "{bad}: {msg}");
        }
    }

    #[test]
    fn a_passport_or_permit_requires_gender_and_birthday() {
        for (kind, no) in [
            ("passport", "E12345678"),
            ("hk_macau_permit", "H12345678"),
            ("taiwan_permit", "12345678"),
        ] {
            let e = err(&FormInput {
                gender: None,
                birthday: s(" "),
                ..good_with(kind, no)
            });
            assert_eq!(keys(&e), ["birthday", "gender"], "{kind}: {e:?}");
            let label = CertificateType::parse(kind).unwrap().label();
            assert!(e["gender"].contains(label) && e["birthday"].contains(label), "{e:?}");
            let f = ok(&good_with(kind, no));
            assert_eq!(f.gender, Some(Gender::Female));
            assert_eq!(f.birthday, Some(date("1990-01-01")));
        }
    }

    // --- hk_macau_permit -----------------------------------------------------------------------

    #[test]
    fn a_hong_kong_macau_permit_is_h_or_m_and_8_or_10_digits() {
        assert_eq!(
            ok(&good_with("hk_macau_permit", "H12345678")).certificate_no.as_str(),
            "H12345678"
        );
        assert_eq!(
            ok(&good_with("hk_macau_permit", "m1234567890")).certificate_no.as_str(),
            "M1234567890"
        );
        for bad in [
            "H1234567",
            "H123456789",
            "K12345678",
            "12345678",
            "HH2345678",
            "H123456789012",
        ] {
            let msg = refused_on(&good_with("hk_macau_permit", bad), "certificateNo");
            assert!(msg.contains("H 或 M"), "{bad}: {msg}");
        }
    }

    // --- taiwan_permit -------------------------------------------------------------------------

    #[test]
    fn a_taiwan_permit_is_8_or_10_digits() {
        assert_eq!(
            ok(&good_with("taiwan_permit", "12345678")).certificate_no.as_str(),
            "12345678"
        );
        assert_eq!(
            ok(&good_with("taiwan_permit", "1234567890")).certificate_no.as_str(),
            "1234567890"
        );
        for bad in ["1234567", "123456789", "12345678901", "1234567(B)", "T12345678"] {
            let msg = refused_on(&good_with("taiwan_permit", bad), "certificateNo");
            assert!(msg.contains("8 位或 10 位"), "{bad}: {msg}");
        }
    }

    // --- gender --------------------------------------------------------------------------------

    #[test]
    fn gender_accepts_wire_names_letters_and_chinese_case_insensitively() {
        for (raw, g) in [
            ("male", Gender::Male),
            ("MALE", Gender::Male),
            ("m", Gender::Male),
            ("M", Gender::Male),
            ("男", Gender::Male),
            ("female", Gender::Female),
            ("Female", Gender::Female),
            ("f", Gender::Female),
            (" F ", Gender::Female),
            ("女", Gender::Female),
        ] {
            assert_eq!(Gender::parse(raw), Some(g), "{raw}");
        }
        assert_eq!(Gender::Male.label(), "男");
        assert_eq!(Gender::Female.label(), "女");
        assert_eq!(
            serde_json::to_value(Gender::Female).unwrap(),
            serde_json::json!("female")
        );
        assert_eq!(
            ok(&FormInput {
                gender: s("M"),
                ..good()
            })
            .gender,
            Some(Gender::Male)
        );
    }

    #[test]
    fn an_unknown_gender_is_refused() {
        for bad in ["x", "unknown", "男性别", "mm"] {
            let msg = refused_on(
                &FormInput {
                    gender: s(bad),
                    ..good()
                },
                "gender",
            );
            assert!(msg.contains("男或女"), "{bad}: {msg}");
        }
    }

    // --- birthday ------------------------------------------------------------------------------

    #[test]
    fn a_birthday_is_a_real_past_date_in_yyyy_mm_dd() {
        let with = |b: &str| FormInput {
            birthday: s(b),
            ..good_with("passport", "E12345678")
        };
        assert_eq!(ok(&with("1900-01-01")).birthday, Some(date("1900-01-01")));
        assert_eq!(ok(&with("2026-11-29")).birthday, Some(date("2026-11-29")));
        for (bad, words) in [
            ("1988/04/22", "YYYY-MM-DD"),
            ("1988-4-22", "YYYY-MM-DD"),
            ("19880422", "YYYY-MM-DD"),
            ("+1988-04-22", "YYYY-MM-DD"),
            ("1999-02-30", "不是有效日期"),
            ("1988-13-01", "不是有效日期"),
            ("2026-11-30", "晚于今天"),
            ("1899-12-31", "1900-01-01"),
        ] {
            let msg = refused_on(&with(bad), "birthday");
            assert!(msg.contains(words), "{bad}: {msg}");
        }
    }

    // --- playDate ------------------------------------------------------------------------------

    #[test]
    fn the_play_date_runs_from_today_to_the_horizon() {
        let with = |d: &str| FormInput {
            play_date: s(d),
            ..good()
        };
        assert_eq!(ok(&with("2026-11-29")).play_date, date("2026-11-29"));
        // 2026-11-29 + 90 days.
        assert_eq!(ok(&with("2027-02-27")).play_date, date("2027-02-27"));
        let msg = refused_on(&with("2026-11-28"), "playDate");
        assert_eq!(msg, "游玩日期不能早于今天(2026-11-29)");
        let msg = refused_on(&with("2027-02-28"), "playDate");
        assert!(msg.contains("2027-02-27") && msg.contains("90"), "{msg}");
    }

    #[test]
    fn a_missing_or_malformed_play_date_is_refused() {
        let with = |d: Option<String>| FormInput { play_date: d, ..good() };
        assert_eq!(refused_on(&with(None), "playDate"), "请选择游玩日期");
        assert_eq!(refused_on(&with(s("")), "playDate"), "请选择游玩日期");
        assert!(refused_on(&with(s("2026-12-5")), "playDate").contains("YYYY-MM-DD"));
        assert!(refused_on(&with(s("2027-02-29")), "playDate").contains("不是有效日期"));
    }

    #[test]
    fn an_extreme_horizon_does_not_panic() {
        let form = FormInput {
            play_date: s("9999-12-31"),
            ..good()
        };
        assert!(validate(&form, today(), i64::MAX).is_ok());
        // A negative horizon counts as 0: today only.
        let today_only = FormInput {
            play_date: s("2026-11-29"),
            ..good()
        };
        assert!(validate(&today_only, today(), -5).is_ok());
        let e = validate(
            &FormInput {
                play_date: s("2026-11-30"),
                ..good()
            },
            today(),
            -5,
        )
        .unwrap_err();
        assert_eq!(keys(&e), ["playDate"]);
        assert!(validate(&good(), NaiveDate::MAX, HORIZON).is_err());
    }

    // --- size ----------------------------------------------------------------------------------

    #[test]
    fn oversized_fields_are_refused_with_a_message() {
        let big = "1".repeat(10 * 1024);
        let e = err(&FormInput {
            phone_country_code: Some(format!("+{big}")),
            phone: Some(big.clone()),
            certificate_no: Some(big.clone()),
            gender: Some(big.clone()),
            birthday: Some(big.clone()),
            play_date: Some(big.clone()),
            certificate_type: Some(big.clone()),
            name: Some(big),
        });
        // An unknown type leaves the number unchecked; every other field is in error.
        assert_eq!(
            keys(&e),
            [
                "birthday",
                "certificateType",
                "gender",
                "name",
                "phone",
                "phoneCountryCode",
                "playDate"
            ],
            "{e:?}"
        );
        assert!(e.values().all(|m| m.chars().count() < 200), "{e:?}");
        for kind in ["id_card", "passport", "hk_macau_permit", "taiwan_permit"] {
            let msg = refused_on(
                &FormInput {
                    certificate_no: Some("1".repeat(10 * 1024)),
                    ..good_with(kind, "")
                },
                "certificateNo",
            );
            assert_eq!(msg, "证件号码过长");
        }
    }

    // --- masking -------------------------------------------------------------------------------

    #[test]
    fn debug_output_never_contains_the_full_name_phone_or_id() {
        let f = ok(&FormInput {
            gender: s("男"),
            birthday: s("1988-04-22"),
            ..good()
        });
        let out = format!("{f:?} {f:#?}");
        for whole in ["马上到", "18852341234", "320911198804223314", "1988-04-22"] {
            assert!(!out.contains(whole), "{whole} leaked: {out}");
        }
        assert!(
            out.contains("马**") && out.contains("188****1234") && out.contains("3209**********3314"),
            "{out}"
        );
        assert!(out.contains("2026-12-05"), "the play date is not personal: {out}");

        let raw = FormInput {
            birthday: s("1988-04-22"),
            ..good()
        };
        let out = format!("{raw:?} {raw:#?}");
        for whole in ["马上到", "18852341234", "320911198804223314", "1988-04-22"] {
            assert!(!out.contains(whole), "{whole} leaked: {out}");
        }
        assert!(out.contains("马**") && out.contains("188****1234"), "{out}");

        let huge = FormInput {
            name: Some("马".repeat(5000)),
            ..good()
        };
        let out = format!("{huge:?}");
        assert!(out.contains("<15000 bytes>") && out.len() < 500, "{out}");
    }

    #[test]
    fn each_newtype_has_as_str_masked_and_a_masked_debug() {
        let f = ok(&good());
        assert_eq!(f.name.as_str(), "马上到");
        assert_eq!(f.name.masked(), "马**");
        assert_eq!(format!("{:?}", f.name), r#"PersonName("马**")"#);
        assert_eq!(f.phone.as_str(), "18852341234");
        assert_eq!(f.phone.masked(), "188****1234");
        assert_eq!(format!("{:?}", f.phone), r#"PhoneNumber("188****1234")"#);
        assert_eq!(f.certificate_no.as_str(), "320911198804223314");
        assert_eq!(f.certificate_no.masked(), "3209**********3314");
        assert_eq!(
            format!("{:?}", f.certificate_no),
            r#"CertificateNo("3209**********3314")"#
        );
    }

    #[test]
    fn the_newtype_parsers_can_be_used_on_their_own() {
        assert_eq!(PersonName::parse(" 马  上到 ").unwrap().as_str(), "马 上到");
        assert_eq!(
            PhoneNumber::parse("+86", "188 5234 1234").unwrap().as_str(),
            "18852341234"
        );
        assert!(PhoneNumber::parse("+86", "1885234123").is_err());
        let no = CertificateNo::parse(CertificateType::IdCard, "11010519491231002x", today()).unwrap();
        assert_eq!(no.as_str(), "11010519491231002X");
        assert!(CertificateNo::parse(CertificateType::IdCard, "320911198804223310", today()).is_err());
    }
}
