//! The facts Incentives publishes: what replaces the synchronous design's two
//! HTTP calls.
//!
//! In the synchronous variant Incentives *tells Payments to pay* (`POST /payments`)
//! and Payments *asks Incentives* for a performance. Here Incentives only says
//! what happened — a bonus was granted, a performance changed — and Payments
//! decides what that means for money. Incentives holds no payment code at all,
//! and Payments owns every piece of information a payout needs.
//!
//! Both kinds of event travel in **one ordered log** (`stream.rs`). That
//! order is what pays a bonus with the performance the courier had *when the
//! bonus was granted*: every `PerformanceChanged` published before a
//! `BonusGranted` is applied to Payments' copy before the bonus is paid, however
//! late Payments gets to it. Two separate topics would lose that guarantee.
//!
//! Next: `outbox.rs` (how events leave Incentives) and
//! `consumer.rs` (how Payments applies them).

use common::api::Reference;
use common::{BonusType, CourierId, Performance};

/// One fact, as it travels on the stream.
///
/// Size: 40 bytes on a 64-bit target (checked by a test in `tests/stream.rs`):
/// the bonus id's `String` header (24) + the courier id (8) + one byte of enum
/// plus padding; the variant tag hides in `BonusType`'s unused values. A
/// `BonusGranted` also owns the id's text on the heap (1–64 bytes, see
/// [`Reference`]). A production system would put a serialised form (JSON,
/// protobuf) on the wire; in process the value itself is the message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// Incentives granted a bonus. Payments pays `bonus_type.amount()`, raised by
    /// the courier's performance as of this point in the log, once per
    /// `bonus_id`.
    BonusGranted {
        courier: CourierId,
        bonus_type: BonusType,
        bonus_id: Reference,
    },
    /// Incentives recorded a courier's performance. Payments updates its copy.
    PerformanceChanged {
        courier: CourierId,
        performance: Performance,
    },
}

impl Event {
    /// Bytes this event owns on the heap, beyond its own `size_of`: the bonus id's
    /// text. (`Reference` is built with `to_string`, whose capacity equals its
    /// length; the allocator rounds each block up a little more, which is not
    /// counted here.)
    pub fn heap_bytes(&self) -> usize {
        match self {
            Event::BonusGranted { bonus_id, .. } => bonus_id.as_str().len(),
            Event::PerformanceChanged { .. } => 0,
        }
    }
}
