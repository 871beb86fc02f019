//! The durable consumer's side: a pull consumer named `payments` with
//! explicit acknowledgement. `read` fetches and keeps the log's order (a
//! broker redelivers a dead consumer's events *after* events it had not yet
//! delivered: later ones are held until the gap comes back); `commit`
//! acknowledges every delivered message before the consumer's position —
//! after the ledger recorded each payout, never before. Part of `jetstream/`.

use std::time::Duration;

use async_nats::jetstream::Message;
use async_nats::jetstream::consumer::{PullConsumer, pull};
use common::domain::lock;

use super::log::{Delivered, JetStreamLog};
use super::wire::{decode, offset_of};
use crate::CONSUMER_NAME;
use crate::stream::{Record, StreamError};

impl JetStreamLog {
    fn durable(&self) -> Result<PullConsumer, StreamError> {
        if let Some(consumer) = lock(&self.durable).as_ref() {
            return Ok(consumer.clone());
        }
        let consumer = self.block(Duration::ZERO, async {
            self.stream()
                .await?
                .get_consumer::<pull::Config>(CONSUMER_NAME)
                .await
                .map_err(|_| StreamError::Unavailable)
        })?;
        *lock(&self.durable) = Some(consumer.clone());
        Ok(consumer)
    }

    /// The run of held messages from `from` on, in order, at most `max`.
    fn in_order(delivered: &Delivered, from: u64, max: usize) -> Vec<u64> {
        let mut run = Vec::new();
        for (&offset, _) in delivered.messages.range(from..) {
            if offset != from + run.len() as u64 || run.len() == max {
                break;
            }
            run.push(offset);
        }
        run
    }

    /// Fetches a batch into `delivered`; a redelivery of what was already
    /// acknowledged is acknowledged again at once, not processed.
    fn fetch_into_delivered(&self, max: usize, wait: Duration) -> Result<(), StreamError> {
        let consumer = self.durable()?;
        let messages = self.fetch(&consumer, max, wait)?;
        let mut delivered = lock(&self.delivered);
        let mut redundant = Vec::new();
        for message in messages {
            let Some(offset) = offset_of(&message) else {
                continue;
            };
            if offset < delivered.acked_below {
                redundant.push(message);
            } else {
                // A redelivery replaces the earlier delivery's handle.
                delivered.messages.insert(offset, message);
            }
        }
        drop(delivered);
        if !redundant.is_empty() {
            let _ = self.block(Duration::ZERO, async {
                for message in &redundant {
                    let _ = message.ack().await;
                }
                Ok(())
            });
        }
        Ok(())
    }

    /// [`EventStream::read`](crate::stream::EventStream::read): records only
    /// in sequence from `from`.
    pub(super) fn read_in_order(
        &self,
        from: u64,
        max: usize,
        wait: Duration,
    ) -> Result<Vec<Record>, StreamError> {
        self.check_up()?;
        if Self::in_order(&lock(&self.delivered), from, max).is_empty() {
            self.fetch_into_delivered(max, wait)?;
        }
        let delivered = lock(&self.delivered);
        let run = Self::in_order(&delivered, from, max);
        if run.is_empty() && delivered.messages.range(from..).next().is_some() {
            // Later events are here, `from` is not: it awaits redelivery.
            return Err(StreamError::AwaitingRedelivery { offset: from });
        }
        run.iter()
            .map(|offset| decode(*offset, &delivered.messages[offset]))
            .collect()
    }

    /// [`EventStream::commit`](crate::stream::EventStream::commit): explicit
    /// acknowledgement of each message before `next_offset`.
    pub(super) fn acknowledge_below(&self, next_offset: u64) -> Result<(), StreamError> {
        let done: Vec<Message> = {
            let mut delivered = lock(&self.delivered);
            let later = delivered.messages.split_off(&next_offset);
            let done = std::mem::replace(&mut delivered.messages, later);
            delivered.acked_below = delivered.acked_below.max(next_offset);
            done.into_values().collect()
        };
        // An acknowledgement lost to a broker crash means a redelivery, which
        // the ledger refuses.
        self.block(Duration::ZERO, async {
            for message in &done {
                message.ack().await.map_err(|_| StreamError::Unavailable)?;
            }
            self.client
                .flush()
                .await
                .map_err(|_| StreamError::Unavailable)
        })
    }

    /// [`EventStream::committed`](crate::stream::EventStream::committed): the
    /// durable consumer's ack floor.
    pub(super) fn ack_floor(&self, consumer: &str) -> Result<u64, StreamError> {
        let info = self.block(Duration::ZERO, async {
            self.stream()
                .await?
                .consumer_info(consumer)
                .await
                .map_err(|_| StreamError::Unavailable)
        })?;
        let next = info.ack_floor.stream_sequence;
        let mut delivered = lock(&self.delivered);
        delivered.acked_below = delivered.acked_below.max(next);
        Ok(next)
    }
}
