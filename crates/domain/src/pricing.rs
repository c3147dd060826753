//! Seasons and the price check.
//!
//! The play date picks a season from the season calendar; the ticket type and that season pick the
//! settlement price (what the agent charges us) from the price table. [`check_price`] then decides,
//! from inputs it records in full, whether the order's payable amount covers the settlement price.
//!
//! Pure: no clock, no configuration lookup. The caller resolves the season and the settlement price
//! and hands them in, so the recorded [`PriceCheck`] explains the decision years later whatever the
//! calendar or price table says by then.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use chrono::{Datelike, NaiveDate};
use rust_decimal::Decimal;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::money::{payable, round_cents};

// ---------------------------------------------------------------------------------------------
// Season
// ---------------------------------------------------------------------------------------------

/// 季节: 淡季 / 平季 / 旺季. Wire names `low` / `mid` / `high`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SeasonType {
    Low,
    Mid,
    High,
}

impl SeasonType {
    pub const ALL: [SeasonType; 3] = [SeasonType::Low, SeasonType::Mid, SeasonType::High];

    /// The wire name: `low` / `mid` / `high`.
    pub const fn as_str(self) -> &'static str {
        match self {
            SeasonType::Low => "low",
            SeasonType::Mid => "mid",
            SeasonType::High => "high",
        }
    }

    /// The Chinese label the goods config and the pages use.
    pub const fn label(self) -> &'static str {
        match self {
            SeasonType::Low => "淡季",
            SeasonType::Mid => "平季",
            SeasonType::High => "旺季",
        }
    }

    /// From the wire name (`low` / `mid` / `high`).
    pub fn parse(s: &str) -> Option<SeasonType> {
        SeasonType::ALL.into_iter().find(|t| t.as_str() == s)
    }

    /// From the Chinese label (淡季 / 平季 / 旺季), surrounding whitespace ignored.
    pub fn from_label(label: &str) -> Option<SeasonType> {
        let label = label.trim();
        SeasonType::ALL.into_iter().find(|t| t.label() == label)
    }
}

impl fmt::Display for SeasonType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

// ---------------------------------------------------------------------------------------------
// MonthDay
// ---------------------------------------------------------------------------------------------

/// A day of the year without the year, on the wire as `"MM-DD"`.
///
/// `02-29` is a valid month-day: a rule naming it applies only in leap years. Deserialising checks
/// only the `MM-DD` shape, so an out-of-range value such as `02-30` reaches
/// [`SeasonCalendar::validate`], which reports it against its field; [`MonthDay::new`] and
/// [`FromStr`] check the range too.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MonthDay {
    pub month: u32,
    pub day: u32,
}

/// Days per month in a leap year, so that 02-29 has a place of its own.
const LEAP_MONTH_DAYS: [u32; 12] = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
/// Number of distinct month-days (02-29 included).
const DAYS_IN_CALENDAR: u32 = 366;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MonthDayError {
    #[error("日期格式应为 MM-DD:{0}")]
    Format(String),
    #[error("不存在的日期:{0:02}-{1:02}")]
    OutOfRange(u32, u32),
}

impl MonthDay {
    /// A checked month-day (02-29 allowed).
    pub fn new(month: u32, day: u32) -> Result<MonthDay, MonthDayError> {
        let md = MonthDay { month, day };
        if md.is_valid() {
            Ok(md)
        } else {
            Err(MonthDayError::OutOfRange(month, day))
        }
    }

    /// The month-day of a date.
    pub fn of(date: NaiveDate) -> MonthDay {
        MonthDay {
            month: date.month(),
            day: date.day(),
        }
    }

    pub fn is_valid(self) -> bool {
        (1..=12).contains(&self.month) && self.day >= 1 && self.day <= LEAP_MONTH_DAYS[(self.month - 1) as usize]
    }

    /// 0-based position in a 366-day year (01-01 → 0, 02-29 → 59, 03-01 → 60, 12-31 → 365);
    /// `None` when the month-day does not exist.
    pub fn day_index(self) -> Option<u32> {
        if !self.is_valid() {
            return None;
        }
        let before: u32 = LEAP_MONTH_DAYS[..(self.month - 1) as usize].iter().sum();
        Some(before + self.day - 1)
    }

    /// Parses the `MM-DD` shape (two digits, a dash, two digits) without checking the range.
    fn parse_shape(s: &str) -> Result<MonthDay, MonthDayError> {
        let bytes = s.as_bytes();
        let shaped = bytes.len() == 5
            && bytes[2] == b'-'
            && bytes[..2].iter().all(u8::is_ascii_digit)
            && bytes[3..].iter().all(u8::is_ascii_digit);
        if !shaped {
            return Err(MonthDayError::Format(s.to_string()));
        }
        let month = s[..2].parse().map_err(|_| MonthDayError::Format(s.to_string()))?;
        let day = s[3..].parse().map_err(|_| MonthDayError::Format(s.to_string()))?;
        Ok(MonthDay { month, day })
    }
}

impl fmt::Display for MonthDay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02}-{:02}", self.month, self.day)
    }
}

impl FromStr for MonthDay {
    type Err = MonthDayError;

    fn from_str(s: &str) -> Result<MonthDay, MonthDayError> {
        let md = MonthDay::parse_shape(s)?;
        MonthDay::new(md.month, md.day)
    }
}

impl Serialize for MonthDay {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for MonthDay {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<MonthDay, D::Error> {
        let s = String::deserialize(deserializer)?;
        MonthDay::parse_shape(&s).map_err(serde::de::Error::custom)
    }
}

// ---------------------------------------------------------------------------------------------
// Season calendar
// ---------------------------------------------------------------------------------------------

/// The most rules a calendar may hold.
pub const MAX_SEASON_RULES: usize = 200;

/// One line of the season calendar. Both ends are inclusive.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum SeasonRule {
    /// Every year from `from` to `to`; wraps the year end when `from` comes after `to`
    /// (`12-24` → `01-03` covers Dec 24–31 and Jan 1–3).
    Recurring {
        #[schema(value_type = String, example = "12-24")]
        from: MonthDay,
        #[schema(value_type = String, example = "01-03")]
        to: MonthDay,
        season: SeasonType,
    },
    /// Exactly these dates. Wins over a recurring rule for the days it covers.
    Dated {
        from: NaiveDate,
        to: NaiveDate,
        season: SeasonType,
    },
}

impl SeasonRule {
    pub fn season(&self) -> SeasonType {
        match self {
            SeasonRule::Recurring { season, .. } | SeasonRule::Dated { season, .. } => *season,
        }
    }

    /// Whether the rule covers `date`. A rule with a nonexistent month-day covers nothing.
    pub fn contains(&self, date: NaiveDate) -> bool {
        match *self {
            SeasonRule::Dated { from, to, .. } => from <= date && date <= to,
            SeasonRule::Recurring { from, to, .. } => {
                let Some(day) = MonthDay::of(date).day_index() else {
                    return false;
                };
                recurring_segments(from, to).iter().any(|&(a, b)| a <= day && day <= b)
            }
        }
    }

    fn describe(&self) -> String {
        match self {
            SeasonRule::Recurring { from, to, season } => {
                format!("每年 {from} 至 {to} {}", season.label())
            }
            SeasonRule::Dated { from, to, season } => {
                format!("{from} 至 {to} {}", season.label())
            }
        }
    }
}

/// The day-index ranges (inclusive, within `0..366`) a recurring rule covers: one range, or two
/// when it wraps the year end. Empty when either end does not exist.
fn recurring_segments(from: MonthDay, to: MonthDay) -> Vec<(u32, u32)> {
    match (from.day_index(), to.day_index()) {
        (Some(a), Some(b)) if a <= b => vec![(a, b)],
        (Some(a), Some(b)) => vec![(a, DAYS_IN_CALENDAR - 1), (0, b)],
        _ => Vec::new(),
    }
}

fn segments_overlap(x: &[(u32, u32)], y: &[(u32, u32)]) -> bool {
    x.iter().any(|&(a, b)| y.iter().any(|&(c, d)| a <= d && c <= b))
}

/// 季节日历: which season each play date falls in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SeasonCalendar {
    /// The season of a date no rule covers.
    pub default: SeasonType,
    pub rules: Vec<SeasonRule>,
}

impl SeasonCalendar {
    /// The calendar the demo and the tests run on: 平季 by default, 旺季 over New Year every year,
    /// 旺季 for the 2027 Spring Festival and 淡季 for March 2027.
    pub fn demo() -> SeasonCalendar {
        let date = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).expect("valid demo date");
        SeasonCalendar {
            default: SeasonType::Mid,
            rules: vec![
                SeasonRule::Recurring {
                    from: MonthDay { month: 12, day: 24 },
                    to: MonthDay { month: 1, day: 3 },
                    season: SeasonType::High,
                },
                SeasonRule::Dated {
                    from: date(2027, 2, 5),
                    to: date(2027, 2, 20),
                    season: SeasonType::High,
                },
                SeasonRule::Dated {
                    from: date(2027, 3, 1),
                    to: date(2027, 3, 31),
                    season: SeasonType::Low,
                },
            ],
        }
    }

    /// The season of `date`: a dated rule covering it wins, then a recurring rule, then the
    /// default. (A valid calendar has at most one rule of each kind covering any date; otherwise
    /// the first in order wins.)
    pub fn season_for(&self, date: NaiveDate) -> SeasonType {
        let dated = self
            .rules
            .iter()
            .find(|r| matches!(r, SeasonRule::Dated { .. }) && r.contains(date));
        let recurring = || {
            self.rules
                .iter()
                .find(|r| matches!(r, SeasonRule::Recurring { .. }) && r.contains(date))
        };
        dated.or_else(recurring).map_or(self.default, SeasonRule::season)
    }

    /// Checks the calendar before it is saved. Errors are keyed by field (`rules`, `rules[2].to`,
    /// `rules[1]`) with Chinese messages: at most [`MAX_SEASON_RULES`] rules; month-days must
    /// exist; a dated rule must not end before it starts; no two dated rules and no two recurring
    /// rules may share a day. A dated rule may overlap a recurring one: that is how an exception to
    /// the yearly pattern is written.
    pub fn validate(&self) -> Result<(), BTreeMap<String, String>> {
        let mut errors = BTreeMap::new();

        if self.rules.len() > MAX_SEASON_RULES {
            errors.insert(
                "rules".to_string(),
                format!("季节规则最多 {MAX_SEASON_RULES} 条,当前 {} 条", self.rules.len()),
            );
        }

        // Per-rule checks; remember which rules are sound enough to compare for overlaps.
        let mut sound = vec![true; self.rules.len()];
        for (i, rule) in self.rules.iter().enumerate() {
            match rule {
                SeasonRule::Recurring { from, to, .. } => {
                    for (field, md) in [("from", from), ("to", to)] {
                        if !md.is_valid() {
                            errors.insert(format!("rules[{i}].{field}"), format!("不存在的日期:{md}"));
                            sound[i] = false;
                        }
                    }
                }
                SeasonRule::Dated { from, to, .. } => {
                    if from > to {
                        errors.insert(format!("rules[{i}].to"), format!("结束日期 {to} 早于开始日期 {from}"));
                        sound[i] = false;
                    }
                }
            }
        }

        // Pairwise overlaps within each kind; reported on the later rule.
        for j in 0..self.rules.len() {
            if !sound[j] {
                continue;
            }
            for (i, earlier) in self.rules[..j].iter().enumerate() {
                if !sound[i] {
                    continue;
                }
                let overlap = match (earlier, &self.rules[j]) {
                    (SeasonRule::Dated { from: a, to: b, .. }, SeasonRule::Dated { from: c, to: d, .. }) => {
                        a <= d && c <= b
                    }
                    (SeasonRule::Recurring { from: a, to: b, .. }, SeasonRule::Recurring { from: c, to: d, .. }) => {
                        segments_overlap(&recurring_segments(*a, *b), &recurring_segments(*c, *d))
                    }
                    _ => false,
                };
                if overlap {
                    errors
                        .entry(format!("rules[{j}]"))
                        .or_insert_with(|| format!("与第 {} 条规则({})日期重叠", i + 1, earlier.describe()));
                }
            }
        }

        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Price check
// ---------------------------------------------------------------------------------------------

/// Why a price check failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PriceCheckReason {
    /// 应付金额低于结算价.
    PayableBelowSettlement,
    /// 商品季节与游玩日季节不符.
    SeasonMismatch,
    /// 商品未配置: no ticket type or no paid amount.
    UnknownGoods,
    /// 没有结算价 for the ticket type in the play date's season.
    NoSettlementPrice,
}

impl PriceCheckReason {
    pub const fn as_str(self) -> &'static str {
        match self {
            PriceCheckReason::PayableBelowSettlement => "payable_below_settlement",
            PriceCheckReason::SeasonMismatch => "season_mismatch",
            PriceCheckReason::UnknownGoods => "unknown_goods",
            PriceCheckReason::NoSettlementPrice => "no_settlement_price",
        }
    }

    pub const fn label(self) -> &'static str {
        match self {
            PriceCheckReason::PayableBelowSettlement => "应付金额低于结算价",
            PriceCheckReason::SeasonMismatch => "商品季节与游玩日季节不符",
            PriceCheckReason::UnknownGoods => "商品未配置",
            PriceCheckReason::NoSettlementPrice => "没有结算价",
        }
    }
}

impl fmt::Display for PriceCheckReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Everything the price check decides on, resolved by the caller.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PriceCheckInput {
    pub play_date: NaiveDate,
    /// `None` for unknown goods.
    pub ticket_type: Option<String>,
    /// The season label configured on the goods (淡季 / 平季 / 旺季).
    pub goods_season_label: Option<String>,
    /// `None` for unknown goods.
    pub paid_amount: Option<Decimal>,
    pub fee_rate: Decimal,
    /// From the season calendar for `play_date`.
    pub season_type: SeasonType,
    /// From the price table for (`ticket_type`, `season_type`); `None` when there is none.
    pub settlement_amount: Option<Decimal>,
}

/// The decision with all its inputs, as recorded in `price_check_passed` / `price_check_failed`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PriceCheck {
    pub passed: bool,
    pub play_date: NaiveDate,
    pub season_type: SeasonType,
    pub ticket_type: Option<String>,
    pub goods_season_label: Option<String>,
    #[schema(value_type = Option<String>, example = "3.20")]
    pub paid_amount: Option<Decimal>,
    #[schema(value_type = String, example = "0.02")]
    pub fee_rate: Decimal,
    /// paid × (1 − fee rate), half-up to cents (应付代下单金额).
    #[schema(value_type = Option<String>, example = "3.14")]
    pub payable_amount: Option<Decimal>,
    #[schema(value_type = Option<String>, example = "426.00")]
    pub settlement_amount: Option<Decimal>,
    /// Empty iff `passed`; always in the order unknown_goods, no_settlement_price,
    /// season_mismatch, payable_below_settlement.
    pub reasons: Vec<PriceCheckReason>,
}

impl PriceCheck {
    /// The Chinese labels of the reasons, in order.
    pub fn reason_labels(&self) -> Vec<&'static str> {
        self.reasons.iter().map(|r| r.label()).collect()
    }
}

/// A rate keeps its own precision but shows at least two places (`0.02`, `0.025`).
fn normalize_rate(rate: Decimal) -> Decimal {
    let mut r = rate.normalize();
    if r.scale() < 2 {
        r.rescale(2);
    }
    r
}

/// Decides the price check. Fails, with every reason that applies, when the goods are unknown
/// (no ticket type or no paid amount), when there is no settlement price, when the goods'
/// season label is not the play date's season (an unrecognised label counts as a mismatch), or
/// when the payable amount is below the settlement price.
pub fn check_price(input: PriceCheckInput) -> PriceCheck {
    let PriceCheckInput {
        play_date,
        ticket_type,
        goods_season_label,
        paid_amount,
        fee_rate,
        season_type,
        settlement_amount,
    } = input;

    let paid_amount = paid_amount.map(round_cents);
    let settlement_amount = settlement_amount.map(round_cents);
    let fee_rate = normalize_rate(fee_rate);
    let payable_amount = paid_amount.map(|paid| payable(paid, fee_rate));

    let mut reasons = Vec::new();
    if ticket_type.is_none() || paid_amount.is_none() {
        reasons.push(PriceCheckReason::UnknownGoods);
    }
    if settlement_amount.is_none() {
        reasons.push(PriceCheckReason::NoSettlementPrice);
    }
    if let Some(label) = &goods_season_label {
        if SeasonType::from_label(label) != Some(season_type) {
            reasons.push(PriceCheckReason::SeasonMismatch);
        }
    }
    if let (Some(payable), Some(settlement)) = (payable_amount, settlement_amount) {
        if payable < settlement {
            reasons.push(PriceCheckReason::PayableBelowSettlement);
        }
    }

    PriceCheck {
        passed: reasons.is_empty(),
        play_date,
        season_type,
        ticket_type,
        goods_season_label,
        paid_amount,
        fee_rate,
        payable_amount,
        settlement_amount,
        reasons,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    fn md(month: u32, day: u32) -> MonthDay {
        MonthDay { month, day }
    }

    fn recurring(from: MonthDay, to: MonthDay, season: SeasonType) -> SeasonRule {
        SeasonRule::Recurring { from, to, season }
    }

    fn dated(from: NaiveDate, to: NaiveDate, season: SeasonType) -> SeasonRule {
        SeasonRule::Dated { from, to, season }
    }

    fn calendar(rules: Vec<SeasonRule>) -> SeasonCalendar {
        SeasonCalendar {
            default: SeasonType::Mid,
            rules,
        }
    }

    fn seed_input() -> PriceCheckInput {
        PriceCheckInput {
            play_date: d(2026, 3, 23),
            ticket_type: Some("初级道 3 小时".to_string()),
            goods_season_label: Some("淡季".to_string()),
            paid_amount: Some(dec!(3.20)),
            fee_rate: dec!(0.02),
            season_type: SeasonCalendar::demo().season_for(d(2026, 3, 23)),
            settlement_amount: Some(dec!(426)),
        }
    }

    fn passing_input() -> PriceCheckInput {
        PriceCheckInput {
            play_date: d(2026, 3, 23),
            ticket_type: Some("初级道 3 小时".to_string()),
            goods_season_label: Some("平季".to_string()),
            paid_amount: Some(dec!(450.00)),
            fee_rate: dec!(0.02),
            season_type: SeasonType::Mid,
            settlement_amount: Some(dec!(426.00)),
        }
    }

    // --- seasons -------------------------------------------------------------------------------

    #[test]
    fn season_type_names_and_labels_round_trip() {
        for t in SeasonType::ALL {
            assert_eq!(SeasonType::parse(t.as_str()), Some(t));
            assert_eq!(SeasonType::from_label(t.label()), Some(t));
            assert_eq!(serde_json::to_string(&t).unwrap(), format!("\"{}\"", t.as_str()));
        }
        assert_eq!(SeasonType::from_label("淡季"), Some(SeasonType::Low));
        assert_eq!(SeasonType::from_label("平季"), Some(SeasonType::Mid));
        assert_eq!(SeasonType::from_label("旺季"), Some(SeasonType::High));
        assert_eq!(SeasonType::from_label("春季"), None);
        assert_eq!(SeasonType::parse("Mid"), None);
    }

    #[test]
    fn month_day_reads_and_writes_mm_dd_and_knows_february_29() {
        assert_eq!("12-24".parse::<MonthDay>(), Ok(md(12, 24)));
        assert_eq!("02-29".parse::<MonthDay>(), Ok(md(2, 29)));
        assert!("02-30".parse::<MonthDay>().is_err());
        assert!("13-01".parse::<MonthDay>().is_err());
        assert!("1-3".parse::<MonthDay>().is_err());
        assert_eq!(serde_json::to_string(&md(1, 3)).unwrap(), "\"01-03\"");
        assert_eq!(serde_json::from_str::<MonthDay>("\"01-03\"").unwrap(), md(1, 3));
        assert!(serde_json::from_str::<MonthDay>("\"0103\"").is_err());
        assert_eq!(md(2, 28).day_index(), Some(58));
        assert_eq!(md(2, 29).day_index(), Some(59));
        assert_eq!(md(3, 1).day_index(), Some(60));
        assert_eq!(md(12, 31).day_index(), Some(365));
        assert_eq!(md(2, 30).day_index(), None);
    }

    #[test]
    fn season_for_follows_the_demo_calendar_on_each_boundary() {
        let cal = SeasonCalendar::demo();
        let cases = [
            (d(2026, 12, 23), SeasonType::Mid),
            (d(2026, 12, 24), SeasonType::High),
            (d(2027, 1, 3), SeasonType::High),
            (d(2027, 1, 4), SeasonType::Mid),
            (d(2027, 2, 4), SeasonType::Mid),
            (d(2027, 2, 5), SeasonType::High),
            (d(2027, 2, 20), SeasonType::High),
            (d(2027, 2, 21), SeasonType::Mid),
            (d(2027, 3, 1), SeasonType::Low),
            (d(2027, 3, 31), SeasonType::Low),
            (d(2027, 4, 1), SeasonType::Mid),
            (d(2028, 3, 1), SeasonType::Mid),
            (d(2028, 12, 31), SeasonType::High),
            (d(2026, 3, 23), SeasonType::Mid),
        ];
        for (date, want) in cases {
            assert_eq!(cal.season_for(date), want, "{date}");
        }
    }

    #[test]
    fn a_dated_rule_wins_over_a_recurring_one() {
        let cal = calendar(vec![
            recurring(md(12, 24), md(1, 3), SeasonType::High),
            dated(d(2026, 12, 31), d(2027, 1, 1), SeasonType::Low),
        ]);
        assert_eq!(cal.season_for(d(2026, 12, 30)), SeasonType::High);
        assert_eq!(cal.season_for(d(2026, 12, 31)), SeasonType::Low);
        assert_eq!(cal.season_for(d(2027, 1, 1)), SeasonType::Low);
        assert_eq!(cal.season_for(d(2027, 1, 2)), SeasonType::High);
        assert!(cal.validate().is_ok());
    }

    #[test]
    fn a_february_29_rule_applies_only_in_leap_years() {
        let cal = calendar(vec![recurring(md(2, 29), md(2, 29), SeasonType::High)]);
        assert_eq!(cal.season_for(d(2028, 2, 29)), SeasonType::High);
        assert_eq!(cal.season_for(d(2028, 2, 28)), SeasonType::Mid);
        assert_eq!(cal.season_for(d(2028, 3, 1)), SeasonType::Mid);
        assert_eq!(cal.season_for(d(2027, 2, 28)), SeasonType::Mid);
        assert_eq!(cal.season_for(d(2027, 3, 1)), SeasonType::Mid);
        assert!(cal.validate().is_ok());
    }

    #[test]
    fn validate_accepts_the_demo_calendar() {
        assert_eq!(SeasonCalendar::demo().validate(), Ok(()));
    }

    #[test]
    fn validate_refuses_overlapping_dated_rules() {
        let cal = calendar(vec![
            dated(d(2027, 2, 5), d(2027, 2, 20), SeasonType::High),
            dated(d(2027, 2, 20), d(2027, 3, 5), SeasonType::Low),
        ]);
        let errors = cal.validate().unwrap_err();
        assert!(errors["rules[1]"].contains("重叠"), "{errors:?}");
        assert_eq!(errors.len(), 1);

        let touching = calendar(vec![
            dated(d(2027, 2, 5), d(2027, 2, 20), SeasonType::High),
            dated(d(2027, 2, 21), d(2027, 3, 5), SeasonType::Low),
        ]);
        assert!(touching.validate().is_ok());
    }

    #[test]
    fn validate_refuses_overlapping_recurring_rules() {
        let cal = calendar(vec![
            recurring(md(7, 1), md(8, 31), SeasonType::High),
            recurring(md(8, 31), md(9, 10), SeasonType::Low),
        ]);
        let errors = cal.validate().unwrap_err();
        assert!(errors["rules[1]"].contains("重叠"), "{errors:?}");

        let adjacent = calendar(vec![
            recurring(md(7, 1), md(8, 31), SeasonType::High),
            recurring(md(9, 1), md(9, 10), SeasonType::Low),
        ]);
        assert!(adjacent.validate().is_ok());
    }

    #[test]
    fn validate_refuses_recurring_rules_overlapping_across_the_year_end() {
        let cal = calendar(vec![
            recurring(md(12, 20), md(1, 5), SeasonType::High),
            recurring(md(1, 1), md(1, 10), SeasonType::Low),
        ]);
        let errors = cal.validate().unwrap_err();
        assert!(errors.contains_key("rules[1]"), "{errors:?}");

        let both_wrap = calendar(vec![
            recurring(md(12, 20), md(1, 5), SeasonType::High),
            recurring(md(12, 31), md(1, 1), SeasonType::Low),
        ]);
        assert!(both_wrap.validate().is_err());

        let clear = calendar(vec![
            recurring(md(12, 20), md(1, 5), SeasonType::High),
            recurring(md(1, 6), md(12, 19), SeasonType::Low),
        ]);
        assert!(clear.validate().is_ok());
    }

    #[test]
    fn validate_treats_february_29_as_a_day_of_its_own() {
        let around = calendar(vec![
            recurring(md(2, 1), md(2, 28), SeasonType::Low),
            recurring(md(2, 29), md(2, 29), SeasonType::High),
            recurring(md(3, 1), md(3, 31), SeasonType::Low),
        ]);
        assert!(around.validate().is_ok());

        let clash = calendar(vec![
            recurring(md(2, 1), md(2, 29), SeasonType::Low),
            recurring(md(2, 29), md(3, 10), SeasonType::High),
        ]);
        assert!(clash.validate().is_err());
    }

    #[test]
    fn validate_allows_a_dated_rule_over_a_recurring_one() {
        let cal = calendar(vec![
            recurring(md(2, 1), md(2, 28), SeasonType::Low),
            dated(d(2027, 2, 5), d(2027, 2, 20), SeasonType::High),
        ]);
        assert!(cal.validate().is_ok());
    }

    #[test]
    fn validate_refuses_a_dated_rule_ending_before_it_starts() {
        let cal = calendar(vec![
            recurring(md(7, 1), md(8, 31), SeasonType::High),
            dated(d(2027, 1, 1), d(2027, 12, 31), SeasonType::Low),
            dated(d(2027, 3, 10), d(2027, 3, 1), SeasonType::Low),
        ]);
        let errors = cal.validate().unwrap_err();
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(errors["rules[2].to"].contains("早于"), "{errors:?}");
    }

    #[test]
    fn validate_refuses_month_days_that_do_not_exist() {
        let cal = calendar(vec![
            recurring(md(2, 30), md(3, 10), SeasonType::Low),
            recurring(md(4, 1), md(13, 1), SeasonType::High),
        ]);
        let errors = cal.validate().unwrap_err();
        assert!(errors["rules[0].from"].contains("02-30"), "{errors:?}");
        assert!(errors["rules[1].to"].contains("13-01"), "{errors:?}");
        assert_eq!(errors.len(), 2);
    }

    #[test]
    fn validate_refuses_more_than_200_rules() {
        let start = d(2030, 1, 1);
        let rules = (0..201)
            .map(|i| {
                let day = start + chrono::Days::new(i);
                dated(day, day, SeasonType::High)
            })
            .collect();
        let errors = calendar(rules).validate().unwrap_err();
        assert!(errors["rules"].contains("200"), "{errors:?}");
        assert_eq!(errors.len(), 1);
    }

    #[test]
    fn season_calendar_json_round_trips_with_kind_tags() {
        let cal = SeasonCalendar::demo();
        let json = serde_json::to_value(&cal).unwrap();
        assert_eq!(json["default"], "mid");
        assert_eq!(json["rules"][0]["kind"], "recurring");
        assert_eq!(json["rules"][0]["from"], "12-24");
        assert_eq!(json["rules"][0]["to"], "01-03");
        assert_eq!(json["rules"][0]["season"], "high");
        assert_eq!(json["rules"][1]["kind"], "dated");
        assert_eq!(json["rules"][1]["from"], "2027-02-05");
        let back: SeasonCalendar = serde_json::from_value(json).unwrap();
        assert_eq!(back, cal);
    }

    #[test]
    fn an_out_of_range_month_day_deserialises_and_is_reported_by_validate() {
        let cal: SeasonCalendar = serde_json::from_str(
            r#"{"default":"mid","rules":[{"kind":"recurring","from":"02-30","to":"03-01","season":"low"}]}"#,
        )
        .unwrap();
        assert!(cal.validate().unwrap_err().contains_key("rules[0].from"));
    }

    // --- price check ---------------------------------------------------------------------------

    #[test]
    fn the_seed_order_fails_on_season_and_payable_below_settlement() {
        let check = check_price(seed_input());
        assert!(!check.passed);
        assert_eq!(check.season_type, SeasonType::Mid);
        assert_eq!(
            check.reasons,
            vec![
                PriceCheckReason::SeasonMismatch,
                PriceCheckReason::PayableBelowSettlement
            ]
        );
        assert_eq!(
            check.reason_labels(),
            vec!["商品季节与游玩日季节不符", "应付金额低于结算价"]
        );
        assert_eq!(check.payable_amount.unwrap().to_string(), "3.14");

        let json = serde_json::to_string(&check).unwrap();
        for part in [
            r#""playDate":"2026-03-23""#,
            r#""seasonType":"mid""#,
            r#""ticketType":"初级道 3 小时""#,
            r#""goodsSeasonLabel":"淡季""#,
            r#""paidAmount":"3.20""#,
            r#""feeRate":"0.02""#,
            r#""payableAmount":"3.14""#,
            r#""settlementAmount":"426.00""#,
            r#""reasons":["season_mismatch","payable_below_settlement"]"#,
            r#""passed":false"#,
        ] {
            assert!(json.contains(part), "{part} not in {json}");
        }
    }

    #[test]
    fn a_mid_season_goods_paying_450_passes_against_426() {
        let check = check_price(passing_input());
        assert!(check.passed);
        assert!(check.reasons.is_empty());
        assert_eq!(check.payable_amount.unwrap().to_string(), "441.00");
        assert_eq!(check.settlement_amount.unwrap().to_string(), "426.00");
    }

    #[test]
    fn payable_equal_to_settlement_passes() {
        let check = check_price(PriceCheckInput {
            settlement_amount: Some(dec!(441)),
            ..passing_input()
        });
        assert!(check.passed);
    }

    #[test]
    fn payable_below_settlement_alone_fails() {
        let check = check_price(PriceCheckInput {
            settlement_amount: Some(dec!(441.01)),
            ..passing_input()
        });
        assert!(!check.passed);
        assert_eq!(check.reasons, vec![PriceCheckReason::PayableBelowSettlement]);
    }

    #[test]
    fn season_mismatch_alone_fails() {
        let check = check_price(PriceCheckInput {
            goods_season_label: Some("旺季".to_string()),
            ..passing_input()
        });
        assert_eq!(check.reasons, vec![PriceCheckReason::SeasonMismatch]);
        assert!(!check.passed);
    }

    #[test]
    fn an_unrecognised_season_label_counts_as_a_mismatch() {
        let check = check_price(PriceCheckInput {
            goods_season_label: Some("春季".to_string()),
            ..passing_input()
        });
        assert_eq!(check.reasons, vec![PriceCheckReason::SeasonMismatch]);
    }

    #[test]
    fn no_season_label_on_the_goods_is_not_a_mismatch() {
        let check = check_price(PriceCheckInput {
            goods_season_label: None,
            ..passing_input()
        });
        assert!(check.passed);
    }

    #[test]
    fn unknown_goods_alone_fails_without_a_ticket_type() {
        let check = check_price(PriceCheckInput {
            ticket_type: None,
            ..passing_input()
        });
        assert_eq!(check.reasons, vec![PriceCheckReason::UnknownGoods]);
    }

    #[test]
    fn unknown_goods_alone_fails_without_a_paid_amount() {
        let check = check_price(PriceCheckInput {
            paid_amount: None,
            ..passing_input()
        });
        assert_eq!(check.reasons, vec![PriceCheckReason::UnknownGoods]);
        assert_eq!(check.payable_amount, None);
    }

    #[test]
    fn no_settlement_price_alone_fails() {
        let check = check_price(PriceCheckInput {
            settlement_amount: None,
            ..passing_input()
        });
        assert_eq!(check.reasons, vec![PriceCheckReason::NoSettlementPrice]);
        assert!(!check.passed);
    }

    #[test]
    fn every_reason_together_comes_in_the_fixed_order() {
        let check = check_price(PriceCheckInput {
            ticket_type: None,
            paid_amount: None,
            settlement_amount: None,
            goods_season_label: Some("淡季".to_string()),
            ..passing_input()
        });
        assert_eq!(
            check.reasons,
            vec![
                PriceCheckReason::UnknownGoods,
                PriceCheckReason::NoSettlementPrice,
                PriceCheckReason::SeasonMismatch,
            ]
        );

        let check = check_price(PriceCheckInput {
            ticket_type: None,
            goods_season_label: Some("旺季".to_string()),
            settlement_amount: Some(dec!(500)),
            ..passing_input()
        });
        assert_eq!(
            check.reasons,
            vec![
                PriceCheckReason::UnknownGoods,
                PriceCheckReason::SeasonMismatch,
                PriceCheckReason::PayableBelowSettlement,
            ]
        );
    }

    #[test]
    fn amounts_are_recorded_with_two_places() {
        let check = check_price(PriceCheckInput {
            paid_amount: Some(dec!(3.2)),
            settlement_amount: Some(dec!(426)),
            fee_rate: dec!(0.020),
            ..seed_input()
        });
        assert_eq!(check.paid_amount.unwrap().to_string(), "3.20");
        assert_eq!(check.settlement_amount.unwrap().to_string(), "426.00");
        assert_eq!(check.fee_rate.to_string(), "0.02");
        assert_eq!(check.payable_amount.unwrap().to_string(), "3.14");
    }

    #[test]
    fn reason_wire_names_and_labels() {
        let all = [
            (
                PriceCheckReason::PayableBelowSettlement,
                "payable_below_settlement",
                "应付金额低于结算价",
            ),
            (
                PriceCheckReason::SeasonMismatch,
                "season_mismatch",
                "商品季节与游玩日季节不符",
            ),
            (PriceCheckReason::UnknownGoods, "unknown_goods", "商品未配置"),
            (PriceCheckReason::NoSettlementPrice, "no_settlement_price", "没有结算价"),
        ];
        for (reason, wire, label) in all {
            assert_eq!(reason.as_str(), wire);
            assert_eq!(reason.label(), label);
            assert_eq!(serde_json::to_string(&reason).unwrap(), format!("\"{wire}\""));
        }
    }

    #[test]
    fn price_check_json_round_trips() {
        for check in [check_price(seed_input()), check_price(passing_input())] {
            let json = serde_json::to_string(&check).unwrap();
            let back: PriceCheck = serde_json::from_str(&json).unwrap();
            assert_eq!(back, check);
            assert_eq!(serde_json::to_string(&back).unwrap(), json);
        }
        let input = seed_input();
        let json = serde_json::to_string(&input).unwrap();
        assert_eq!(serde_json::from_str::<PriceCheckInput>(&json).unwrap(), input);
    }
}
