//! The edge HTTP API, identical in every variant.
//!
//! Paths, JSON field names and enum spellings are the reference system's. This
//! module owns everything about the edge that does not depend on how the
//! services talk to each other, one concern per file:
//!
//! - `requests.rs`: what a client may send, strictly parsed (no unknown field,
//!   one spelling per courier id);
//! - `answers.rs`: what the services answer, and the payout key;
//! - `errors.rs`: the one error contract, `{"error", "message"}` on every `4xx`
//!   and `5xx`;
//! - `body.rs`: reading a body within a size limit and a timeout;
//! - `internal.rs`: the internal route Incentives pays bonuses by, and why it
//!   is a shared secret;
//! - `traits.rs`: what a variant implements ([`IncentivesApi`],
//!   [`PaymentsApi`]);
//! - `router.rs` and `handlers.rs`: the routes and what each does.
//!
//! Idempotency keys with their fingerprints are `common::idempotency` and the
//! ledger; the connection limits and timeouts are `common::server`.
//!
//! Next: `sync_variant/src/incentives.rs` and `async_variant/src/incentives.rs`,
//! the two implementations to read side by side.

mod answers;
mod body;
mod errors;
mod handlers;
pub mod internal;
mod requests;
mod router;
mod traits;

pub use answers::{
    Accepted, PaymentRef, Payout, PayoutKind, PayoutsView, PerformanceSource, PerformanceView,
};
pub use body::{CourierPath, StrictJson, parse_json};
pub use errors::{ApiError, MAX_MESSAGE_CHARS, MAX_QUOTED_CHARS, brief};
pub use requests::{
    BonusRequest, MAX_AMOUNT, PaymentRequest, PerformanceRequest, Reference, parse_courier,
};
pub use router::{incentives_router, payments_router};
pub use traits::{IncentivesApi, PaymentsApi};
