//! The relay's side: one JetStream publish per event, each with
//! `Nats-Msg-Id` set to the event's id in Incentives' outbox, so that a batch
//! retried after a lost acknowledgement is stored once within the broker's
//! dedup window. Part of `jetstream/`.

use std::ops::Range;
use std::sync::atomic::Ordering;
use std::time::Duration;

use async_nats::jetstream::message::PublishMessage;

use super::log::JetStreamLog;
use super::wire::encode;
use crate::events::Event;
use crate::stream::StreamError;

impl JetStreamLog {
    /// Publishes `events` with ids `first_id…` and returns their offsets (a
    /// prefix of them: the caller keeps the rest). `Full` when the stream's
    /// limit refused the first, `Unavailable` when the broker did not answer.
    pub(super) fn publish_batch(
        &self,
        first_id: u64,
        events: &[Event],
    ) -> Result<Range<u64>, StreamError> {
        let (sequences, full) = self.block(Duration::ZERO, async {
            // Send all, then await the acknowledgements in order: one round
            // trip for the batch, not one per event.
            let mut pending = Vec::with_capacity(events.len());
            for (i, event) in events.iter().enumerate() {
                let message = PublishMessage::build()
                    .payload(encode(event).into())
                    .message_id(format!("{}-{}", self.stream_name, first_id + i as u64));
                match self.js.send_publish(self.subject.clone(), message).await {
                    Ok(ack) => pending.push(ack),
                    Err(_) => break,
                }
            }
            let mut sequences = Vec::with_capacity(pending.len());
            let mut full = false;
            for ack in pending {
                match ack.await {
                    Ok(ack) => sequences.push(ack.sequence),
                    Err(error) => {
                        full = error.to_string().contains("maximum messages");
                        break;
                    }
                }
            }
            Ok((sequences, full))
        })?;
        let (Some(&first), Some(&last)) = (sequences.first(), sequences.last()) else {
            if full {
                self.full_refusals.fetch_add(1, Ordering::Relaxed);
                return Err(StreamError::Full {
                    capacity: self.capacity,
                });
            }
            return Err(StreamError::Unavailable);
        };
        self.head.fetch_max(last, Ordering::Relaxed);
        Ok(first - 1..last)
    }
}
