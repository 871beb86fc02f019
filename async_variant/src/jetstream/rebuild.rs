//! The copy's rebuild: the subject replayed from any offset by an ephemeral
//! consumer that acknowledges nothing and touches no durable position — as a
//! JetStream user replays a stream. Part of `jetstream/`; why a replay rather
//! than a key-value bucket is in `mod.rs`.

use std::time::Duration;

use async_nats::jetstream::consumer::{AckPolicy, DeliverPolicy, pull};
use common::domain::lock;

use super::REPLAY_IDLE;
use super::log::JetStreamLog;
use super::wire::{decode, offset_of};
use crate::stream::{Record, StreamError};

impl JetStreamLog {
    /// [`EventStream::replay`](crate::stream::EventStream::replay): the
    /// replay consumer is kept while the caller reads on from where it
    /// stopped, and made anew for any other offset.
    pub(super) fn replay_from(
        &self,
        from: u64,
        max: usize,
        wait: Duration,
    ) -> Result<Vec<Record>, StreamError> {
        let current = lock(&self.replay)
            .as_ref()
            .filter(|(next, _)| *next == from)
            .map(|(_, consumer)| consumer.clone());
        let consumer = match current {
            Some(consumer) => consumer,
            None => self.block(Duration::ZERO, async {
                self.stream()
                    .await?
                    .create_consumer(pull::Config {
                        ack_policy: AckPolicy::None,
                        deliver_policy: DeliverPolicy::ByStartSequence {
                            start_sequence: from + 1,
                        },
                        inactive_threshold: REPLAY_IDLE,
                        ..Default::default()
                    })
                    .await
                    .map_err(|_| StreamError::Unavailable)
            })?,
        };
        let messages = self.fetch(&consumer, max, wait)?;
        let records = messages
            .iter()
            .filter_map(|m| offset_of(m).map(|offset| (offset, m)))
            .map(|(offset, m)| decode(offset, m))
            .collect::<Result<Vec<_>, _>>()?;
        let next = records.last().map_or(from, |r| r.offset + 1);
        *lock(&self.replay) = Some((next, consumer));
        Ok(records)
    }
}
