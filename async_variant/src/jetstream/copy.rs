//! The compacted source of Payments' copy of performance, so that the event
//! stream can be trimmed and a lost copy still rebuilt.
//!
//! The event stream keeps only what the durable consumer has not yet
//! acknowledged (`RetentionPolicy::Interest`, `mod.rs`): a replay from offset
//! 0 is no longer possible. Instead the consumer saves, before each commit,
//! the performance of every courier that changed since the last one, to a
//! second stream with one subject per courier (`…copy.<courier>`) and
//! `max_messages_per_subject = 1`: the broker keeps one value per courier,
//! the latest. A rebuild reads the last message of each subject.
//!
//! Why a per-subject stream and not a key-value bucket: a bucket *is* such a
//! stream (`KV_<bucket>`, history 1), behind an API that needs the client's
//! `kv` feature; the stream itself shows what the broker does, with the
//! calls this backend already makes. Why saved by the consumer at commit and
//! not by the relay at publish: the copy must be rebuilt *as of the
//! committed position* — a value saved at publish could be ahead of it, and
//! a bonus redelivered after the crash would be paid with a performance
//! granted after it. Saved before the commit, the source is never behind the
//! committed position; if the commit then fails it is ahead by what was
//! processed, which is re-applied in order and whose bonuses the ledger
//! already paid. Part of `jetstream/`.

use std::time::Duration;

use async_nats::jetstream::consumer::{AckPolicy, DeliverPolicy, PullConsumer, pull};
use common::{CourierId, Performance};

use super::log::JetStreamLog;
use super::{REPLAY_IDLE, REQUEST_TIMEOUT};
use crate::stream::StreamError;

/// Messages per fetch of the saved copy: a few thousand couriers in a few
/// round trips.
const LOAD_BATCH: usize = 1024;

impl JetStreamLog {
    /// [`EventStream::save_copy`](crate::stream::EventStream::save_copy):
    /// one message per changed courier, each acknowledged by the broker.
    pub(super) fn save_changed(
        &self,
        changed: &[(CourierId, Performance)],
    ) -> Result<(), StreamError> {
        if changed.is_empty() {
            return Ok(());
        }
        self.block(Duration::ZERO, async {
            let mut pending = Vec::with_capacity(changed.len());
            for (courier, performance) in changed {
                // A unit enum as JSON ("HIGH") cannot fail to serialise.
                let payload = serde_json::to_vec(performance).unwrap_or_default();
                let subject = format!("{}.{courier}", self.copy_subjects);
                let ack = self
                    .js
                    .publish(subject, payload.into())
                    .await
                    .map_err(|_| StreamError::Unavailable)?;
                pending.push(ack);
            }
            for ack in pending {
                ack.await.map_err(|_| StreamError::Unavailable)?;
            }
            Ok(())
        })
    }

    /// [`EventStream::saved_copy`](crate::stream::EventStream::saved_copy):
    /// the last value of every courier's subject.
    pub(super) fn load_saved(&self) -> Result<Vec<(CourierId, Performance)>, StreamError> {
        let (consumer, expected) = self.block(Duration::ZERO, async {
            let consumer: PullConsumer = self
                .js
                .get_stream(&self.copy_stream)
                .await
                .map_err(|_| StreamError::Unavailable)?
                .create_consumer(pull::Config {
                    ack_policy: AckPolicy::None,
                    deliver_policy: DeliverPolicy::LastPerSubject,
                    // The broker needs the subjects a last-per-subject
                    // consumer reads named.
                    filter_subject: format!("{}.*", self.copy_subjects),
                    inactive_threshold: REPLAY_IDLE,
                    ..Default::default()
                })
                .await
                .map_err(|_| StreamError::Unavailable)?;
            let info = consumer
                .get_info()
                .await
                .map_err(|_| StreamError::Unavailable)?;
            Ok((consumer, info.num_pending))
        })?;
        let mut saved = Vec::new();
        // Bounded: every pass adds at least one value or returns.
        while (saved.len() as u64) < expected {
            let messages = self.fetch(&consumer, LOAD_BATCH, REQUEST_TIMEOUT)?;
            if messages.is_empty() {
                return Err(StreamError::Unavailable);
            }
            for message in &messages {
                let courier = message.subject.as_str().rsplit('.').next();
                let courier = courier.and_then(|c| c.parse().ok());
                let performance = serde_json::from_slice(&message.payload).ok();
                let (Some(courier), Some(performance)) = (courier, performance) else {
                    return Err(StreamError::Undecodable {
                        offset: message.info().map_or(0, |i| i.stream_sequence),
                    });
                };
                saved.push((courier, performance));
            }
        }
        Ok(saved)
    }
}
