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
    fn payable_amount_of_the_seed_is_3_14() {
        assert_eq!(payable(dec!(3.20), dec!(0.02)).to_string(), "3.14");
        assert_eq!(payable(dec!(450.00), dec!(0.02)).to_string(), "441.00");
        assert_eq!(payable(dec!(0.25), dec!(0.02)).to_string(), "0.25");
    }
}
