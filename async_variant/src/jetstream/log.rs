//! One connection to one system's stream, and its calls to the broker: each
//! blocks the calling thread (the relay's, the consumer's) on the system's
//! small tokio runtime, bounded by [`REQUEST_TIMEOUT`]. The
//! [`EventStream`] methods are in the files of their concern: `publish.rs`,
//! `consume.rs`, `rebuild.rs`, `copy.rs`. Part of `jetstream/`.

use std::collections::BTreeMap;
use std::ops::Range;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_nats::jetstream::consumer::PullConsumer;
use async_nats::jetstream::stream::Stream;
use async_nats::jetstream::{Context, Message};
use common::{CourierId, Performance};
use futures_util::StreamExt;
use tokio::runtime::Runtime;

use super::REQUEST_TIMEOUT;
use crate::events::Event;
use crate::pause::Pause;
use crate::stream::{EventStream, Record, StreamCounters, StreamError};

/// Messages the durable consumer delivered and this connection has not yet
/// acknowledged, by offset.
#[derive(Default)]
pub(super) struct Delivered {
    pub(super) messages: BTreeMap<u64, Message>,
    /// Every offset below this was acknowledged: a redelivery of one is
    /// acknowledged again at once, not processed.
    pub(super) acked_below: u64,
}

/// One connection to one system's stream.
pub struct JetStreamLog {
    pub(super) runtime: Arc<Runtime>,
    pub(super) client: async_nats::Client,
    pub(super) js: Context,
    pub(super) stream_name: String,
    pub(super) subject: String,
    /// The compacted source of the copy (`copy.rs`): its stream and the
    /// prefix of its per-courier subjects.
    pub(super) copy_stream: String,
    pub(super) copy_subjects: String,
    pub(super) down: Arc<AtomicBool>,
    pub(super) hang: Arc<Pause>,
    pub(super) durable: Mutex<Option<PullConsumer>>,
    pub(super) delivered: Mutex<Delivered>,
    /// The replay consumer and the next offset it will deliver.
    pub(super) replay: Mutex<Option<(u64, PullConsumer)>>,
    /// The head as last seen (publish acknowledgements, stream info).
    pub(super) head: AtomicU64,
    pub(super) full_refusals: AtomicU64,
    pub(super) capacity: usize,
}

impl std::fmt::Debug for JetStreamLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JetStreamLog")
            .field("stream", &self.stream_name)
            .field("head", &self.head)
            .finish_non_exhaustive()
    }
}

impl JetStreamLog {
    /// The stream's name on the broker: what a committed position is an
    /// offset in (`checkpoint.rs`).
    pub fn stream_name(&self) -> &str {
        &self.stream_name
    }

    /// A simulated outage fails at once; a simulated hang waits (`pause.rs`).
    pub(super) fn check_up(&self) -> Result<(), StreamError> {
        match self.down.load(Ordering::Relaxed) {
            true => Err(StreamError::Unavailable),
            false => self.hang.wait_out(),
        }
    }

    /// Runs `call` on the runtime, bounded by `REQUEST_TIMEOUT + extra`: the
    /// one way every call here reaches the broker.
    pub(super) fn block<T>(
        &self,
        extra: Duration,
        call: impl Future<Output = Result<T, StreamError>>,
    ) -> Result<T, StreamError> {
        self.check_up()?;
        // The timer is made inside the runtime, which drives it.
        self.runtime
            .block_on(async { tokio::time::timeout(REQUEST_TIMEOUT + extra, call).await })
            .map_err(|_| StreamError::Unavailable)?
    }

    /// This system's stream on the broker (inside [`block`](Self::block)).
    pub(super) async fn stream(&self) -> Result<Stream, StreamError> {
        self.js
            .get_stream(&self.stream_name)
            .await
            .map_err(|_| StreamError::Unavailable)
    }

    /// Up to `max` messages from `consumer`, waiting at most `wait` for one.
    pub(super) fn fetch(
        &self,
        consumer: &PullConsumer,
        max: usize,
        wait: Duration,
    ) -> Result<Vec<Message>, StreamError> {
        self.block(wait, async {
            let mut batch = consumer
                .fetch()
                .max_messages(max)
                .expires(wait.max(Duration::from_millis(10)))
                .messages()
                .await
                .map_err(|_| StreamError::Unavailable)?;
            let mut messages = Vec::new();
            while let Some(message) = batch.next().await {
                messages.push(message.map_err(|_| StreamError::Unavailable)?);
            }
            Ok(messages)
        })
    }

    /// The stream's last sequence, asked of the broker.
    fn head_now(&self) -> Result<u64, StreamError> {
        let info = self.block(Duration::ZERO, async {
            self.stream()
                .await?
                .get_info()
                .await
                .map_err(|_| StreamError::Unavailable)
        })?;
        let head = info.state.last_sequence;
        self.head.fetch_max(head, Ordering::Relaxed);
        Ok(head)
    }
}

impl EventStream for JetStreamLog {
    fn publish(&self, events: &[Event]) -> Result<Range<u64>, StreamError> {
        // Without outbox ids (a caller outside the relay): ids from the head.
        let first_id = self.head.load(Ordering::Relaxed);
        self.publish_batch(first_id, events)
    }

    fn publish_identified(
        &self,
        first_id: u64,
        events: &[Event],
    ) -> Result<Range<u64>, StreamError> {
        self.publish_batch(first_id, events)
    }

    fn read(&self, from: u64, max: usize, wait: Duration) -> Result<Vec<Record>, StreamError> {
        self.read_in_order(from, max, wait)
    }

    fn commit(&self, _consumer: &str, next_offset: u64) -> Result<(), StreamError> {
        self.acknowledge_below(next_offset)
    }

    fn committed(&self, consumer: &str) -> Result<u64, StreamError> {
        self.ack_floor(consumer)
    }

    fn head(&self) -> Result<u64, StreamError> {
        self.head_now()
    }

    fn replay(&self, from: u64, max: usize, wait: Duration) -> Result<Vec<Record>, StreamError> {
        self.replay_from(from, max, wait)
    }

    fn save_copy(&self, changed: &[(CourierId, Performance)]) -> Result<(), StreamError> {
        self.save_changed(changed)
    }

    fn saved_copy(&self) -> Result<Option<Vec<(CourierId, Performance)>>, StreamError> {
        self.load_saved().map(Some)
    }

    fn known_head(&self) -> Option<u64> {
        match self.down.load(Ordering::Relaxed) {
            true => None,
            false => Some(self.head.load(Ordering::Relaxed)),
        }
    }

    fn counters(&self) -> StreamCounters {
        StreamCounters {
            published: self.head.load(Ordering::Relaxed),
            // The broker keeps the bytes, on disk: not counted here.
            retained_bytes: 0,
            full_refusals: self.full_refusals.load(Ordering::Relaxed),
        }
    }
}
