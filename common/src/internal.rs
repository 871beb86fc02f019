//! Internal errors: failures of a variant's own machinery, not of its design —
//! a listener that cannot bind its address again after a crash, a consumer
//! that cannot restart, a bonus a resender had to drop.
//!
//! Such a failure must never show up in a report as a property of a design
//! ("lost", "never drained"). So a library crate never only prints it: a
//! failure a caller can see is returned to that caller (`System::heal` returns
//! it), and a failure in background work, which has no caller, is recorded
//! here, counted in `Stats::internal_errors` and named by
//! `System::internal_errors`. The harness marks a run with any of them as not
//! evidence (`harness/src/results.rs`).
//!
//! Production would page someone, or move the item to a dead-letter table;
//! here counting is enough, because a run with one is void anyway.

use std::net::SocketAddr;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::domain::lock;

/// Reasons kept per service. The count goes on past it; the first few
/// reasons say what went wrong, a thousand copies of one would not say more.
const KEPT_REASONS: usize = 16;

/// One failure of a variant's machinery.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum InternalError {
    /// After a crash fault ended, the service could not listen again.
    #[error("{service} could not bind {addr} again after a crash: {reason}")]
    Rebind {
        service: &'static str,
        addr: SocketAddr,
        reason: String,
    },
    /// After a consumer crash ended, Payments' consumer did not start again.
    #[error("Payments' consumer could not restart: {0}")]
    ConsumerRestart(String),
    /// The stream (a broker process) could not be stopped or started again
    /// for a stream-down fault.
    #[error("the stream could not be brought {direction}: {reason}")]
    StreamSwitch {
        direction: &'static str,
        reason: String,
    },
    /// The resender dropped a buffered bonus Payments refused as malformed.
    #[error("Incentives dropped bonus {bonus_id} from its resend buffer: {reason}")]
    BonusDropped { bonus_id: String, reason: String },
    /// A service's database failed (`common::store`): a write was refused
    /// (nothing was recorded) or a read answered nothing.
    #[error("{store} failed: {reason}")]
    Store { store: &'static str, reason: String },
}

/// A service's record of its internal errors. Shared by its threads.
#[derive(Debug, Default)]
pub struct InternalErrors {
    count: AtomicU64,
    kept: Mutex<Vec<InternalError>>,
}

impl InternalErrors {
    pub fn record(&self, error: InternalError) {
        self.count.fetch_add(1, Ordering::Relaxed);
        let mut kept = lock(&self.kept);
        if kept.len() < KEPT_REASONS {
            kept.push(error);
        }
    }

    pub fn count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }

    /// The first few, as text.
    pub fn reasons(&self) -> Vec<String> {
        lock(&self.kept).iter().map(ToString::to_string).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_every_error_and_keeps_the_first_reasons() {
        let errors = InternalErrors::default();
        for n in 0..20 {
            errors.record(InternalError::ConsumerRestart(format!("attempt {n}")));
        }
        assert_eq!(errors.count(), 20);
        let reasons = errors.reasons();
        assert_eq!(reasons.len(), KEPT_REASONS);
        assert_eq!(
            reasons[0],
            "Payments' consumer could not restart: attempt 0"
        );
    }
}
