//! How the relay and the consumer wait after the stream refused them: one
//! policy, defined once, because both face the same outage.
//!
//! The pause starts short — a broker back from a short blip is used at once —
//! and doubles up to a ceiling, so that a stream that stays down sees at most a
//! few attempts a second from each. A *full* stream never drains (the log is
//! never trimmed, `stream.rs`), so against it the relay settles at one attempt
//! per [`MAX_BACKOFF`]; the events wait in the outbox, and once the outbox is
//! full too Incentives answers `503`. Production
//! would add jitter so that many clients do not retry in step; here there is
//! one relay and one consumer.
//!
//! Next: `outbox.rs` and `consumer.rs` use it.

use std::time::Duration;

/// The first pause after the stream could not be reached or refused a batch.
pub(crate) const FIRST_BACKOFF: Duration = Duration::from_millis(5);

/// The longest pause between retries: work resumes at most this long after
/// the stream is back, and a down stream sees ≤ 5 attempts a second.
pub(crate) const MAX_BACKOFF: Duration = Duration::from_millis(200);

/// The pause after `current`: doubled, at most [`MAX_BACKOFF`].
pub(crate) fn next_backoff(current: Duration) -> Duration {
    (current * 2).min(MAX_BACKOFF)
}
