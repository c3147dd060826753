//! Money is `Decimal` with two places; XGJ and the goods config count in cents.

use rust_decimal::{Decimal, RoundingStrategy};

/// Cents to yuan with exactly two decimal places.
pub fn from_cents(cents: i64) -> Decimal {
    Decimal::new(cents, 2)
}

/// Yuan to cents, rounding half-up (away from zero) at the cent.
pub fn to_cents(amount: Decimal) -> i64 {
    let rounded = round_cents(amount) * Decimal::ONE_HUNDRED;
    i64::try_from(rounded.mantissa() / 10i128.pow(rounded.scale())).unwrap_or(i64::MAX)
}

/// Half-up rounding to cents, always keeping two places (`3.1` → `3.10`).
pub fn round_cents(amount: Decimal) -> Decimal {
    let mut r = amount.round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero);
    r.rescale(2);
    r
}

/// 应付代下单金额: paid × (1 − fee rate), half-up to cents.
pub fn payable(paid: Decimal, fee_rate: Decimal) -> Decimal {
    round_cents(paid * (Decimal::ONE - fee_rate))
}

/// The amounts an input may take: from `min` (inclusive or not) to below `below`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AmountRange {
    pub min: Decimal,
    pub min_inclusive: bool,
    pub below: Decimal,
}

/// What an operator pays the agent: more than 0, below 10,000,000 yuan.
pub const PAYMENT_RANGE: AmountRange = AmountRange {
    min: Decimal::ZERO,
    min_inclusive: false,
    below: Decimal::from_parts(10_000_000, 0, 0, false, 0),
};

/// A configured amount (a settlement price): 0 or more, below 10^12 yuan.
pub const CONFIG_RANGE: AmountRange = AmountRange {
    min: Decimal::ZERO,
    min_inclusive: true,
    below: Decimal::from_parts(3_567_587_328, 232, 0, false, 0),
};

/// Why a typed amount is refused; the message is the one shown to the person who typed it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AmountError {
    #[error("金额不能为负数")]
    Negative,
    #[error("金额必须是数字,最多两位小数,例如 \"426.00\";收到 \"{0}\"")]
    NotANumber(String),
    #[error("金额最多两位小数(精确到分)")]
    TooManyPlaces,
    #[error("金额过大")]
    TooLarge,
    #[error("金额太小")]
    TooSmall,
}

/// The one parser of typed money: digits, optionally a point and one or two more, within
/// `range`; the result has exactly two places.
pub fn parse_amount(s: &str, range: &AmountRange) -> Result<Decimal, AmountError> {
    let s = s.trim();
    if s.starts_with('-') {
        return Err(AmountError::Negative);
    }
    let (int, frac) = s.split_once('.').unwrap_or((s, ""));
    let digits = |p: &str| p.bytes().all(|b| b.is_ascii_digit());
    if int.is_empty() || !digits(int) || !digits(frac) || (s.contains('.') && frac.is_empty()) {
        return Err(AmountError::NotANumber(s.to_string()));
    }
    if frac.len() > 2 {
        return Err(AmountError::TooManyPlaces);
    }
    // 28 digits is where Decimal ends; anything that long is out of every range anyway.
    if int.trim_start_matches('0').len() > 20 {
        return Err(AmountError::TooLarge);
    }
    let mut d: Decimal = s.parse().map_err(|_| AmountError::NotANumber(s.to_string()))?;
    if d >= range.below {
        return Err(AmountError::TooLarge);
    }
    if d < range.min || (d == range.min && !range.min_inclusive) {
        return Err(AmountError::TooSmall);
    }
    d.rescale(2);
    Ok(d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    #[test]
    fn cents_round_trip_with_two_places() {
        assert_eq!(from_cents(320).to_string(), "3.20");
        assert_eq!(to_cents(dec!(3.20)), 320);
        assert_eq!(to_cents(dec!(426)), 42600);
        assert_eq!(round_cents(dec!(3.136)).to_string(), "3.14");
        assert_eq!(round_cents(dec!(0.005)).to_string(), "0.01");
        assert_eq!(round_cents(dec!(3.1)).to_string(), "3.10");
    }

    #[test]
    fn one_parser_each_range_its_own_bounds() {
        for (s, want) in [
            ("426", "426.00"),
            ("426.5", "426.50"),
            ("0.01", "0.01"),
            (" 380.00 ", "380.00"),
        ] {
            assert_eq!(parse_amount(s, &PAYMENT_RANGE).unwrap().to_string(), want);
            assert_eq!(parse_amount(s, &CONFIG_RANGE).unwrap().to_string(), want);
        }
        assert_eq!(parse_amount("0", &CONFIG_RANGE).unwrap().to_string(), "0.00");
        assert_eq!(parse_amount("0", &PAYMENT_RANGE), Err(AmountError::TooSmall));
        assert_eq!(
            parse_amount("9999999.99", &PAYMENT_RANGE).unwrap().to_string(),
            "9999999.99"
        );
        assert_eq!(parse_amount("10000000", &PAYMENT_RANGE), Err(AmountError::TooLarge));
        assert_eq!(
            parse_amount("999999999999.99", &CONFIG_RANGE).unwrap().to_string(),
            "999999999999.99"
        );
        assert_eq!(parse_amount("1000000000000", &CONFIG_RANGE), Err(AmountError::TooLarge));
        assert_eq!(parse_amount("-1", &CONFIG_RANGE), Err(AmountError::Negative));
        assert_eq!(parse_amount("1.001", &PAYMENT_RANGE), Err(AmountError::TooManyPlaces));
        for bad in ["", "abc", "1e3", "1.", ".5", "+5", "1_0", "1,5", "１２"] {
            assert!(
                matches!(parse_amount(bad, &CONFIG_RANGE), Err(AmountError::NotANumber(_))),
                "{bad}"
            );
        }
        assert_eq!(parse_amount(&"9".repeat(40), &CONFIG_RANGE), Err(AmountError::TooLarge));
    }

    #[test]
    fn payable_amount_of_the_seed_is_3_14() {
        assert_eq!(payable(dec!(3.20), dec!(0.02)).to_string(), "3.14");
        assert_eq!(payable(dec!(450.00), dec!(0.02)).to_string(), "441.00");
        assert_eq!(payable(dec!(0.25), dec!(0.02)).to_string(), "0.25");
    }
}
