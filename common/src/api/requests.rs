//! What a client may send: the request bodies, the references that make a
//! request safe to repeat, and the courier id in a path.
//!
//! Everything here is strict, because a lenient parser silently changes what
//! a client asked for: an unknown (or misspelt) field is refused rather than
//! ignored — `"bonusID"` must not lose the client's idempotency key — and a
//! courier id has exactly one spelling (`42`, never `+42`, `042` or `%3442`).
//! Errors quote what was sent by a short prefix (`errors::brief`).

use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Deserialize, Deserializer, Serialize};

use super::errors::{ApiError, brief};
use crate::domain::{BonusType, CourierId, Performance};
use crate::money::Money;

/// The largest amount `POST /payments` accepts: 1,000,000.00. Bounding it keeps
/// every adjusted amount and every courier's total far from `u64` overflow.
pub const MAX_AMOUNT: Money = Money::from_cents(100_000_000);

/// The longest reference: 64 characters, enough for a UUID with a prefix.
const MAX_REFERENCE_CHARS: usize = 64;

/// A client reference: a bonus id or a delivery id. 1–64 characters of
/// `A–Z a–z 0–9 . _ : -`, so it is safe in logs, URLs and reports.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct Reference(String);

impl Reference {
    pub fn parse(text: &str) -> Result<Reference, String> {
        let ok_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | ':' | '-');
        if text.is_empty() || text.len() > MAX_REFERENCE_CHARS || !text.chars().all(ok_char) {
            return Err(format!(
                "reference must be 1-64 characters of A-Z a-z 0-9 . _ : -, got {}",
                brief(text)
            ));
        }
        Ok(Reference(text.to_string()))
    }

    /// A fresh reference for a request that came without one. Unique within the
    /// process; a client that wants retries to be safe must send its own.
    pub fn generated(prefix: &str) -> Reference {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        Reference(format!("{prefix}-{}", NEXT.fetch_add(1, Ordering::Relaxed)))
    }

    /// The reference a performance update is answered with.
    pub(crate) fn for_performance(courier: CourierId) -> Reference {
        Reference(format!("performance-{courier}"))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl<'de> Deserialize<'de> for Reference {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Reference::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// Body of `POST /incentives/bonuses/{courierId}`.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BonusRequest {
    pub bonus_type: BonusType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bonus_id: Option<Reference>,
}

/// Body of `POST /incentives/performance/{courierId}`.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PerformanceRequest {
    pub performance: Performance,
}

/// Body of `POST /payments` (a delivery: `deliveryId`) and of Payments'
/// internal bonus route (`bonusId`, see `internal.rs`). The edge refuses a
/// `bonusId`: from outside, only deliveries are paid.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PaymentRequest {
    pub courier_id: CourierId,
    pub amount: Money,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivery_id: Option<Reference>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bonus_id: Option<Reference>,
}

impl PaymentRequest {
    /// The amount, or a `400` when it is above [`MAX_AMOUNT`].
    pub fn checked_amount(&self) -> Result<Money, ApiError> {
        if self.amount > MAX_AMOUNT {
            return Err(ApiError::bad_request(format!(
                "amount {} is above the limit of {MAX_AMOUNT}",
                self.amount
            )));
        }
        Ok(self.amount)
    }
}

/// The longest courier id: `u64::MAX` has 20 digits.
const MAX_COURIER_DIGITS: usize = 20;

/// The `{courierId}` path segment, as sent (not percent-decoded): canonical
/// decimal — digits only, no sign, no leading zero (`0` itself is fine) —
/// that fits a `u64`. One spelling per courier, so `+42`, `042` and `%3442`
/// cannot reach courier 42's records under another name.
pub fn parse_courier(segment: &str) -> Result<CourierId, ApiError> {
    let refuse = || {
        ApiError::bad_request(format!(
            "courierId must be a non-negative integer in canonical decimal (no sign, no leading zeros), got {}",
            brief(segment)
        ))
    };
    let digits = !segment.is_empty() && segment.bytes().all(|b| b.is_ascii_digit());
    let leading_zero = segment.len() > 1 && segment.starts_with('0');
    if !digits || leading_zero || segment.len() > MAX_COURIER_DIGITS {
        return Err(refuse());
    }
    segment.parse().map_err(|_| refuse())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_are_validated() {
        assert!(Reference::parse("b-17").is_ok());
        assert!(Reference::parse("").is_err());
        assert!(Reference::parse("has space").is_err());
        assert!(Reference::parse(&"x".repeat(65)).is_err());
    }

    #[test]
    fn payment_request_reads_reference_field_names() {
        let req: PaymentRequest =
            serde_json::from_str(r#"{"courierId": 7, "amount": 5.5, "deliveryId": "d-1"}"#)
                .unwrap();
        assert_eq!(req.courier_id, 7);
        assert_eq!(req.amount, Money::from_cents(550));
        assert_eq!(req.delivery_id.unwrap().as_str(), "d-1");
        assert!(
            serde_json::from_str::<PaymentRequest>(r#"{"courierId": 7, "amount": -1}"#).is_err()
        );
    }

    #[test]
    fn a_misspelt_field_is_refused_by_name() {
        let error =
            serde_json::from_str::<BonusRequest>(r#"{"bonusType":"SMALL","bonusID":"k-1"}"#)
                .unwrap_err();
        assert!(error.to_string().contains("bonusID"), "{error}");
    }

    #[test]
    fn courier_ids_have_one_spelling() {
        assert_eq!(parse_courier("42"), Ok(42));
        assert_eq!(parse_courier("0"), Ok(0));
        assert_eq!(parse_courier("18446744073709551615"), Ok(u64::MAX));
        for alias in [
            "+42",
            "042",
            "%3442",
            "-1",
            "",
            "4 2",
            "18446744073709551616",
            "00",
        ] {
            assert!(parse_courier(alias).is_err(), "{alias:?} accepted");
        }
    }
}
