//! What the services answer: the `202` body, the payouts view, the performance
//! view, and the payout key ([`PaymentRef`]) the ledger pays once.
//!
//! These are plain data, serialised with the reference system's field names.

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use super::requests::Reference;
use crate::domain::{CourierId, Performance};
use crate::money::Money;

/// Answer of `GET /incentives/performance/{courierId}`: `{"incentive": 0.1, ...}`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PerformanceView {
    pub courier_id: CourierId,
    pub performance: Performance,
    pub incentive: Box<RawValue>,
}

/// What a payout pays for. With the reference it forms the key that makes a
/// repeated request pay once.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PayoutKind {
    Bonus,
    Delivery,
}

/// The key of a payout: a bonus id or a delivery id.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PaymentRef {
    pub kind: PayoutKind,
    pub id: Reference,
}

impl PaymentRef {
    pub fn bonus(id: Reference) -> PaymentRef {
        PaymentRef {
            kind: PayoutKind::Bonus,
            id,
        }
    }

    pub fn delivery(id: Reference) -> PaymentRef {
        PaymentRef {
            kind: PayoutKind::Delivery,
            id,
        }
    }

    /// The key as a client wrote it: `bonusId "b-3"`, `deliveryId "d-1"`.
    pub fn describe(&self) -> String {
        let field = match self.kind {
            PayoutKind::Bonus => "bonusId",
            PayoutKind::Delivery => "deliveryId",
        };
        format!("{field} {:?}", self.id.as_str())
    }
}

/// Where the performance behind a payout came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PerformanceSource {
    /// Asked Incentives just now (synchronous).
    Live,
    /// Read from Payments' own copy, built from events (asynchronous).
    Cached,
    /// Incentives could not be asked; paid at +0 % (the reference's silent fallback).
    Fallback,
}

/// One line of `GET /payments/{courierId}`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Payout {
    pub kind: PayoutKind,
    pub reference: String,
    pub amount_asked: Money,
    pub performance: Performance,
    pub incentive_percent: u8,
    pub amount_paid: Money,
    pub performance_source: PerformanceSource,
    /// How old the performance used was, in ms: 0 when asked live, the copy's
    /// lag behind the stream when cached, absent for a fallback.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub performance_age_ms: Option<u64>,
    /// When it was paid: wall-clock microseconds since the Unix epoch.
    pub paid_at_us: u64,
}

/// Answer of `GET /payments/{courierId}`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PayoutsView {
    pub courier_id: CourierId,
    pub payouts: Vec<Payout>,
    pub total: Money,
}

/// Body of every `202`.
#[derive(Debug, Serialize, Deserialize)]
pub struct Accepted {
    pub status: String,
    pub reference: String,
}
