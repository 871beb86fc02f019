//! The seam between the shared edge and a variant: what each service does
//! behind its routes. Implemented once per variant — read
//! `sync_variant/src/incentives.rs` beside `async_variant/src/incentives.rs`.

use std::future::Future;

use super::answers::{PaymentRef, PayoutsView};
use super::errors::ApiError;
use super::requests::Reference;
use crate::domain::{BonusType, CourierId, Performance};
use crate::money::Money;

/// Incentives' behaviour behind the edge. Implemented once per variant.
pub trait IncentivesApi: Clone + Send + Sync + 'static {
    /// Grants a bonus once per `bonus_id`. A repeat of the same grant is
    /// answered like the first; the same id with another courier or bonus
    /// type is a `409` (`common::idempotency`).
    fn grant_bonus(
        &self,
        courier: CourierId,
        bonus: BonusType,
        bonus_id: Reference,
    ) -> impl Future<Output = Result<(), ApiError>> + Send;

    fn set_performance(
        &self,
        courier: CourierId,
        performance: Performance,
    ) -> impl Future<Output = Result<(), ApiError>> + Send;

    fn performance(
        &self,
        courier: CourierId,
    ) -> impl Future<Output = Result<Performance, ApiError>> + Send;
}

/// Payments' behaviour behind the edge. Implemented once per variant.
pub trait PaymentsApi: Clone + Send + Sync + 'static {
    /// Whether Incentives pays bonuses through Payments' internal HTTP route
    /// (`internal.rs`). The synchronous designs do; the asynchronous one pays
    /// bonuses from its consumer and has no such route at all.
    const PAYS_BONUSES_OVER_HTTP: bool = true;

    /// Pays `amount` adjusted by the courier's performance, once per reference.
    /// A reference paid before with another courier or amount is a `409`.
    fn pay(
        &self,
        courier: CourierId,
        amount: Money,
        reference: PaymentRef,
    ) -> impl Future<Output = Result<(), ApiError>> + Send;

    fn payouts(&self, courier: CourierId) -> impl Future<Output = PayoutsView> + Send;
}
