//! The domain both variants implement: bonus types, performance levels, what
//! a delivery pays, and the one rule that turns them into an amount.
//!
//! The figures are the reference system's (`shared/seed/REFERENCE.md`). What is
//! *not* in the reference — the base pay per delivery, the default performance of a
//! courier nobody has rated — is decided here, once, for both variants.

use std::collections::HashMap;
use std::sync::Mutex;

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::money::Money;

/// A courier's id, as it appears in the URL path (`/incentives/bonuses/42`).
pub type CourierId = u64;

/// What a delivery pays before any incentive: 4.50. The reference system does not
/// say; the harness pays every delivery this amount so that money can be
/// reconciled to the cent.
pub const BASE_DELIVERY_PAY: Money = Money::from_cents(450);

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum BonusType {
    Small,
    Average,
    Big,
}

impl BonusType {
    pub const ALL: [BonusType; 3] = [BonusType::Small, BonusType::Average, BonusType::Big];

    /// SMALL = 5, AVERAGE = 10, BIG = 20, as in the reference.
    pub const fn amount(self) -> Money {
        match self {
            BonusType::Small => Money::from_units(5),
            BonusType::Average => Money::from_units(10),
            BonusType::Big => Money::from_units(20),
        }
    }
}

/// A courier's performance. A courier nobody has rated is `Normal`: both variants
/// answer `{"incentive": 0.0}` for them, so "never rated" is not a failure.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Performance {
    #[default]
    Normal,
    High,
    Outstanding,
}

impl Performance {
    pub const ALL: [Performance; 3] = [
        Performance::Normal,
        Performance::High,
        Performance::Outstanding,
    ];

    /// NORMAL = +0 %, HIGH = +10 %, OUTSTANDING = +20 %.
    pub const fn incentive_percent(self) -> u8 {
        match self {
            Performance::Normal => 0,
            Performance::High => 10,
            Performance::Outstanding => 20,
        }
    }

    /// The reference's wire form of the incentive: `0.0`, `0.1`, `0.2`.
    pub fn incentive_json(self) -> Box<RawValue> {
        let text = match self {
            Performance::Normal => "0.0",
            Performance::High => "0.1",
            Performance::Outstanding => "0.2",
        };
        RawValue::from_string(text.to_string()).expect("a JSON number")
    }

    /// Reads the incentive back from its wire form, exactly (no float compare).
    pub fn from_incentive_text(text: &str) -> Option<Performance> {
        let cents = Money::parse_decimal(text).ok()?.cents();
        Performance::ALL
            .into_iter()
            .find(|p| u64::from(p.incentive_percent()) == cents)
    }
}

/// What an amount becomes once the courier's incentive is applied.
/// `None` only on overflow, which the edge API has already made impossible for
/// amounts it accepted (see [`crate::api::MAX_AMOUNT`]).
pub fn adjusted_amount(amount: Money, performance: Performance) -> Option<Money> {
    amount.raised_by_percent(performance.incentive_percent())
}

/// Incentives' record of every courier's performance. Both variants' Incentives
/// keep one; it stands for Incentives' database, so it survives every fault.
#[derive(Debug, Default)]
pub struct PerformanceBook {
    by_courier: Mutex<HashMap<CourierId, Performance>>,
}

impl PerformanceBook {
    pub fn set(&self, courier: CourierId, performance: Performance) {
        lock(&self.by_courier).insert(courier, performance);
    }

    pub fn get(&self, courier: CourierId) -> Performance {
        lock(&self.by_courier)
            .get(&courier)
            .copied()
            .unwrap_or_default()
    }
}

/// Locks a mutex, carrying on past a thread that panicked while holding it: the
/// data here is plain values, never left half-written.
pub fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn every_bonus_times_every_performance() {
        // (bonus, performance, cents paid): the table the README shows.
        let table = [
            (BonusType::Small, Performance::Normal, 500),
            (BonusType::Small, Performance::High, 550),
            (BonusType::Small, Performance::Outstanding, 600),
            (BonusType::Average, Performance::Normal, 1000),
            (BonusType::Average, Performance::High, 1100),
            (BonusType::Average, Performance::Outstanding, 1200),
            (BonusType::Big, Performance::Normal, 2000),
            (BonusType::Big, Performance::High, 2200),
            (BonusType::Big, Performance::Outstanding, 2400),
        ];
        for (bonus, performance, cents) in table {
            assert_eq!(
                adjusted_amount(bonus.amount(), performance),
                Some(Money::from_cents(cents)),
                "{bonus:?} × {performance:?}"
            );
        }
    }

    #[test]
    fn delivery_pay_per_performance() {
        let paid: Vec<u64> = Performance::ALL
            .iter()
            .map(|&p| adjusted_amount(BASE_DELIVERY_PAY, p).unwrap().cents())
            .collect();
        // 4.50, 4.95, 5.40
        assert_eq!(paid, [450, 495, 540]);
    }

    #[test]
    fn incentive_wire_form_round_trips() {
        for p in Performance::ALL {
            assert_eq!(
                Performance::from_incentive_text(p.incentive_json().get()),
                Some(p)
            );
        }
        assert_eq!(
            Performance::from_incentive_text("0.10"),
            Some(Performance::High)
        );
        assert_eq!(Performance::from_incentive_text("0.15"), None);
    }

    #[test]
    fn enum_spellings_match_the_reference() {
        assert_eq!(serde_json::to_string(&BonusType::Big).unwrap(), "\"BIG\"");
        assert_eq!(
            serde_json::from_str::<Performance>("\"OUTSTANDING\"").unwrap(),
            Performance::Outstanding
        );
        assert!(serde_json::from_str::<BonusType>("\"HUGE\"").is_err());
    }

    proptest! {
        /// Any amount the edge accepts, raised by any incentive, stays a valid,
        /// non-decreasing amount that never overflows.
        #[test]
        fn adjusted_amounts_never_overflow(cents in 0..=crate::api::MAX_AMOUNT.cents(), p in 0usize..3) {
            let amount = Money::from_cents(cents);
            let adjusted = adjusted_amount(amount, Performance::ALL[p]).expect("fits");
            prop_assert!(adjusted >= amount);
            prop_assert!(adjusted.cents() <= cents + cents / 5 + 1);
        }

        /// Unbounded amounts either raise correctly or report overflow; they never wrap.
        #[test]
        fn raising_never_wraps(cents in any::<u64>(), percent in 0u8..=20) {
            match Money::from_cents(cents).raised_by_percent(percent) {
                Some(m) => prop_assert!(m.cents() >= cents),
                None => prop_assert!(u128::from(cents) * (100 + u128::from(percent)) / 100 > u128::from(u64::MAX)),
            }
        }

        /// Every text with at most two decimals parses to exactly its value.
        #[test]
        fn decimal_text_parses_exactly(units in 0u64..1_000_000_000, cents in 0u64..100) {
            let text = format!("{units}.{cents:02}");
            prop_assert_eq!(Money::parse_decimal(&text), Ok(Money::from_cents(units * 100 + cents)));
        }
    }
}
