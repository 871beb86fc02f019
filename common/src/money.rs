//! Money in integer minor units (cents), never floating point.
//!
//! The reference system's JSON carries amounts as plain decimal numbers (`20`,
//! `5.5`). A float cannot hold `0.1` exactly, so commlab never lets one near an
//! amount: on the way in the number's *text* is parsed digit by digit (serde_json's
//! `RawValue` hands it over untouched), on the way out the text is written from the
//! integer. Anything that cannot be represented exactly — more than two decimals, a
//! sign, an exponent, more than `u64::MAX` cents — is rejected, never rounded.

use std::fmt;

use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::value::RawValue;
use thiserror::Error;

/// An amount of money in cents. Unsigned: the domain never pays a negative amount.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Money(u64);

/// Why a decimal text is not an amount.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum MoneyError {
    #[error("amount must be a plain decimal number like 20 or 5.5, got {0:?}")]
    NotDecimal(String),
    #[error("amount must not be negative, got {0:?}")]
    Negative(String),
    #[error("amount has more than two decimals: {0:?}")]
    TooPrecise(String),
    #[error("amount is too large: {0:?}")]
    Overflow(String),
}

impl Money {
    pub const ZERO: Money = Money(0);

    pub const fn from_cents(cents: u64) -> Money {
        Money(cents)
    }

    pub const fn from_units(units: u64) -> Money {
        Money(units * 100)
    }

    pub const fn cents(self) -> u64 {
        self.0
    }

    pub fn checked_add(self, other: Money) -> Option<Money> {
        self.0.checked_add(other.0).map(Money)
    }

    /// This amount raised by `percent` %, rounded half up to the cent.
    ///
    /// Rounding rule (documented in the README): the exact product
    /// `cents × (100 + percent) / 100` is rounded to the nearest cent, halves
    /// away from zero — "commercial rounding", what a payroll clerk does. Bonus
    /// amounts times the three incentives are exact and never round; delivery
    /// amounts with odd cents can (0.05 × 1.10 = 0.055 → 0.06).
    /// `None` when the result would not fit in `u64` cents.
    pub fn raised_by_percent(self, percent: u8) -> Option<Money> {
        let scaled = u128::from(self.0) * (100 + u128::from(percent));
        let rounded = (scaled + 50) / 100;
        u64::try_from(rounded).ok().map(Money)
    }

    /// Parses a JSON number's text: digits, optionally a point and one or two
    /// more digits. `"20"`, `"5.5"`, `"0.05"` are amounts; `"-1"`, `"1e3"`,
    /// `"5.555"` are not.
    pub fn parse_decimal(text: &str) -> Result<Money, MoneyError> {
        let text = text.trim();
        if text.starts_with('-') {
            return Err(MoneyError::Negative(text.to_string()));
        }
        let (whole, fraction) = match text.split_once('.') {
            Some((whole, fraction)) => (whole, fraction),
            None => (text, ""),
        };
        let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        if whole.is_empty() || !all_digits(whole) || !all_digits(fraction) {
            return Err(MoneyError::NotDecimal(text.to_string()));
        }
        if text.contains('.') && fraction.is_empty() {
            return Err(MoneyError::NotDecimal(text.to_string()));
        }
        // Trailing zeros carry no precision: 5.500 is 5.50.
        let fraction = fraction.trim_end_matches('0');
        if fraction.len() > 2 {
            return Err(MoneyError::TooPrecise(text.to_string()));
        }
        let overflow = || MoneyError::Overflow(text.to_string());
        let units: u64 = whole.parse().map_err(|_| overflow())?;
        let cents: u64 = format!("{fraction:0<2}").parse().map_err(|_| overflow())?;
        units
            .checked_mul(100)
            .and_then(|c| c.checked_add(cents))
            .map(Money)
            .ok_or_else(overflow)
    }
}

/// Shortest exact decimal: `20`, `5.5`, `0.05`.
impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (units, cents) = (self.0 / 100, self.0 % 100);
        match cents {
            0 => write!(f, "{units}"),
            c if c % 10 == 0 => write!(f, "{units}.{}", c / 10),
            c => write!(f, "{units}.{c:02}"),
        }
    }
}

impl Serialize for Money {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        // Written as a JSON number, from its exact text.
        let raw = RawValue::from_string(self.to_string()).map_err(serde::ser::Error::custom)?;
        raw.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Money {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = Box::<RawValue>::deserialize(deserializer)?;
        let text = raw.get();
        if text.starts_with('"') {
            return Err(D::Error::custom(MoneyError::NotDecimal(text.to_string())));
        }
        Money::parse_decimal(text).map_err(D::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_reference_amounts_exactly() {
        assert_eq!(Money::parse_decimal("20"), Ok(Money::from_cents(2000)));
        assert_eq!(Money::parse_decimal("5.5"), Ok(Money::from_cents(550)));
        assert_eq!(Money::parse_decimal("0.05"), Ok(Money::from_cents(5)));
        assert_eq!(Money::parse_decimal("0.1"), Ok(Money::from_cents(10)));
        assert_eq!(Money::parse_decimal("5.500"), Ok(Money::from_cents(550)));
        assert_eq!(Money::parse_decimal("0"), Ok(Money::ZERO));
    }

    #[test]
    fn rejects_what_it_cannot_hold() {
        assert!(matches!(
            Money::parse_decimal("5.555"),
            Err(MoneyError::TooPrecise(_))
        ));
        assert!(matches!(
            Money::parse_decimal("-1"),
            Err(MoneyError::Negative(_))
        ));
        assert!(matches!(
            Money::parse_decimal("-0"),
            Err(MoneyError::Negative(_))
        ));
        assert!(matches!(
            Money::parse_decimal("1e3"),
            Err(MoneyError::NotDecimal(_))
        ));
        assert!(matches!(
            Money::parse_decimal("1."),
            Err(MoneyError::NotDecimal(_))
        ));
        assert!(matches!(
            Money::parse_decimal(".5"),
            Err(MoneyError::NotDecimal(_))
        ));
        assert!(matches!(
            Money::parse_decimal("184467440737095516.16"),
            Err(MoneyError::Overflow(_))
        ));
        assert!(matches!(
            Money::parse_decimal("99999999999999999999999"),
            Err(MoneyError::Overflow(_))
        ));
        assert_eq!(
            Money::parse_decimal("184467440737095516.15"),
            Ok(Money::from_cents(u64::MAX))
        );
    }

    #[test]
    fn json_round_trip_is_exact() {
        for text in ["20", "5.5", "0.05", "22", "1234567.89"] {
            let money: Money = serde_json::from_str(text).unwrap();
            assert_eq!(serde_json::to_string(&money).unwrap(), text);
        }
        assert!(serde_json::from_str::<Money>("\"20\"").is_err());
        assert!(serde_json::from_str::<Money>("null").is_err());
        assert!(serde_json::from_str::<Money>("5.555").is_err());
    }

    #[test]
    fn rounding_is_half_up_to_the_cent() {
        assert_eq!(
            Money::from_cents(5).raised_by_percent(10),
            Some(Money::from_cents(6))
        );
        assert_eq!(
            Money::from_cents(4).raised_by_percent(10),
            Some(Money::from_cents(4))
        );
        assert_eq!(Money::from_cents(u64::MAX).raised_by_percent(10), None);
    }
}
