//! The event log on NATS JetStream: the same [`EventStream`] as the in-process
//! log, on a real broker in another process (`--stream nats`).
//!
//! What a reader sees in code, method by method (the trait's doc in
//! `stream.rs` maps them):
//!
//! - **One JetStream stream per running system**, file storage, one subject.
//!   Its size limit is `max_messages` with `DiscardPolicy::New`: a full stream
//!   refuses (`StreamError::Full`), it never drops an unread event.
//! - **publish**: one JetStream publish per event with `Nats-Msg-Id` set to
//!   the event's id in Incentives' outbox. When the relay retries a batch
//!   whose acknowledgement it lost, the broker's dedup window (2 minutes)
//!   stores each event once and answers with its first sequence.
//! - **read / commit**: a *durable pull consumer* named `payments` with
//!   explicit acknowledgement. `read` fetches; `commit` acknowledges every
//!   delivered message before the consumer's position — after the ledger
//!   recorded each payout, never before. An event delivered and never
//!   acknowledged (the consumer died) is redelivered by the broker when its
//!   `ack_wait` expires; at most `max_ack_pending` events are out unacknowledged.
//! - **Order.** A broker redelivers a dead consumer's events *after* events it
//!   had not yet delivered. Payments pays a bonus with the performance of its
//!   place in the log, so `read` keeps the log's order: it returns events only
//!   in sequence from the consumer's position, and holds later ones (at most
//!   `max_ack_pending`) until the gap is redelivered
//!   (`StreamError::AwaitingRedelivery`, for up to one `ack_wait`).
//! - **The copy's rebuild** replays the subject from the start with an
//!   ephemeral consumer that acknowledges nothing (`replay`), as a JetStream
//!   user would. Chosen over a key-value bucket with one entry per courier
//!   because the copy must be rebuilt *as of the committed position*, and the
//!   log is exactly that; a bucket holds only the latest value. The price: the
//!   log cannot be trimmed (see the README's limits).
//!
//! Every call blocks the calling thread (the relay's, the consumer's) on a
//! small tokio runtime shared by the system's connections, bounded by
//! [`REQUEST_TIMEOUT`]; a broker that does not answer is `Unavailable`.
//!
//! Next: `nats_server.rs` starts a private server; `lib.rs` picks the backend.

use std::collections::BTreeMap;
use std::ops::Range;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use async_nats::jetstream::consumer::{AckPolicy, DeliverPolicy, PullConsumer, pull};
use async_nats::jetstream::message::PublishMessage;
use async_nats::jetstream::stream::{Config as StreamSettings, DiscardPolicy, StorageType};
use async_nats::jetstream::{self, Context, Message};
use common::api::Reference;
use common::domain::lock;
use common::{BonusType, CourierId, Performance};
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use tokio::runtime::Runtime;

use crate::CONSUMER_NAME;
use crate::events::Event;
use crate::stream::{EventStream, Record, StreamCounters, StreamError};

/// The longest any one call waits for the broker (beyond a read's own wait).
/// A loopback round trip takes ~0.1 ms; 1 s tells a dead or paused broker from
/// a busy one, and keeps the relay and the consumer responsive to shutdown.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(1);

/// The broker's dedup window for `Nats-Msg-Id` (JetStream's default): a
/// retried publish is stored once if it comes within 2 minutes of the first.
/// The relay retries within `MAX_BACKOFF` (200 ms).
const DEDUP_WINDOW: Duration = Duration::from_secs(120);

/// How long an ephemeral replay consumer lives unused before the broker
/// removes it.
const REPLAY_IDLE: Duration = Duration::from_secs(10);

/// The JetStream settings of one system, with their defaults in
/// [`NatsSettings::new`].
#[derive(Clone, Debug)]
pub struct NatsSettings {
    /// `nats://HOST:PORT`.
    pub url: String,
    /// After this, a delivered and unacknowledged event is redelivered.
    pub ack_wait: Duration,
    /// At most this many events delivered and not yet acknowledged.
    pub max_ack_pending: i64,
    /// The stream's size limit (events), as the in-process log's capacity.
    pub capacity: usize,
}

impl NatsSettings {
    /// Defaults: `ack_wait` 2 s — forty commit intervals (50 ms), so a live
    /// consumer's events are never redelivered, yet a dead one's come back
    /// within a scenario's fault window; `max_ack_pending` 8192 — 32 of the
    /// consumer's batches, several commit intervals at the highest rates
    /// measured, and the bound on what `read` holds back while it waits for a
    /// redelivery.
    pub fn new(url: impl Into<String>, capacity: usize) -> NatsSettings {
        NatsSettings {
            url: url.into(),
            ack_wait: Duration::from_secs(2),
            max_ack_pending: 8192,
            capacity,
        }
    }
}

/// Why the JetStream backend could not start: the broker is not there, or
/// refused to create the stream.
#[derive(Debug, thiserror::Error)]
#[error("NATS JetStream at {url}: {what}")]
pub struct NatsError {
    pub url: String,
    pub what: String,
}

/// One system's stream on a broker: names it, creates and deletes it, and
/// opens connections to it.
#[derive(Debug)]
pub struct JetStreamBackend {
    settings: NatsSettings,
    runtime: Arc<Runtime>,
    stream_name: String,
    subject: String,
    /// Set by the simulated outage on a broker the harness does not own.
    down: Arc<AtomicBool>,
    server_version: String,
}

impl JetStreamBackend {
    /// Connects, creates a fresh stream (unique name: a user's server may hold
    /// others) and the durable consumer. Fails at once if the broker is not
    /// there.
    pub fn create(settings: NatsSettings) -> Result<JetStreamBackend, NatsError> {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let error = |what: String| NatsError {
            url: settings.url.clone(),
            what,
        };
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("jetstream-client")
            .enable_all()
            .build()
            .map_err(|e| error(format!("starting its client runtime: {e}")))?;
        let unique = format!(
            "{}_{}_{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed),
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_millis())
        );
        let stream_name = format!("COMMLAB_{unique}");
        let subject = format!("commlab.{unique}.events");
        let server_version = runtime.block_on(async {
            let client = tokio::time::timeout(
                REQUEST_TIMEOUT * 3,
                async_nats::ConnectOptions::new()
                    .connection_timeout(REQUEST_TIMEOUT)
                    .connect(settings.url.as_str()),
            )
            .await
            .map_err(|_| error("no answer".to_string()))?
            .map_err(|e| error(format!("cannot connect: {e}")))?;
            let js = context(client.clone());
            let stream = js
                .create_stream(StreamSettings {
                    name: stream_name.clone(),
                    subjects: vec![subject.clone()],
                    storage: StorageType::File,
                    max_messages: i64::try_from(settings.capacity).unwrap_or(i64::MAX),
                    discard: DiscardPolicy::New,
                    duplicate_window: DEDUP_WINDOW,
                    ..Default::default()
                })
                .await
                .map_err(|e| error(format!("creating the stream: {e}")))?;
            stream
                .create_consumer(pull::Config {
                    durable_name: Some(CONSUMER_NAME.to_string()),
                    ack_policy: AckPolicy::Explicit,
                    ack_wait: settings.ack_wait,
                    max_ack_pending: settings.max_ack_pending,
                    deliver_policy: DeliverPolicy::All,
                    ..Default::default()
                })
                .await
                .map_err(|e| error(format!("creating the durable consumer: {e}")))?;
            Ok::<_, NatsError>(client.server_info().version)
        })?;
        Ok(JetStreamBackend {
            settings,
            runtime: Arc::new(runtime),
            stream_name,
            subject,
            down: Arc::new(AtomicBool::new(false)),
            server_version,
        })
    }

    /// The broker's version, as it announced itself.
    pub fn server_version(&self) -> &str {
        &self.server_version
    }

    /// A new connection to the stream. The relay and Payments share one; the
    /// consumer gets its own, so that its crash drops exactly its connection.
    /// Connects in the background: a broker that is down now is reached when
    /// it is back.
    pub fn connect(&self) -> Result<JetStreamLog, NatsError> {
        let client = self
            .runtime
            .block_on(
                async_nats::ConnectOptions::new()
                    .connection_timeout(REQUEST_TIMEOUT)
                    .retry_on_initial_connect()
                    // Back within 50–250 ms of a restarted broker, not the
                    // client's default of up to seconds.
                    .reconnect_delay_callback(|attempts| {
                        Duration::from_millis(50 * attempts.clamp(1, 5) as u64)
                    })
                    .connect(self.settings.url.as_str()),
            )
            .map_err(|e| NatsError {
                url: self.settings.url.clone(),
                what: format!("cannot connect: {e}"),
            })?;
        // The context spawns its acknowledgement task on this runtime.
        let _inside = self.runtime.enter();
        Ok(JetStreamLog {
            runtime: self.runtime.clone(),
            js: context(client.clone()),
            client,
            stream_name: self.stream_name.clone(),
            subject: self.subject.clone(),
            down: self.down.clone(),
            durable: Mutex::new(None),
            delivered: Mutex::new(Delivered::default()),
            replay: Mutex::new(None),
            head: AtomicU64::new(0),
            full_refusals: AtomicU64::new(0),
            capacity: self.settings.capacity,
        })
    }

    /// The simulated outage, for a broker the harness does not own (a
    /// private server is killed instead): every call of every connection
    /// fails `Unavailable`; nothing stored is touched.
    pub fn set_down(&self, down: bool) {
        self.down.store(down, Ordering::Relaxed);
    }

    /// Deletes the stream (best effort, bounded): a user's server keeps no
    /// trace of a finished run.
    pub fn delete(&self) {
        let connection = self.connect();
        if let Ok(log) = connection {
            let name = self.stream_name.clone();
            let _ = self.runtime.block_on(async {
                tokio::time::timeout(REQUEST_TIMEOUT, log.js.delete_stream(name)).await
            });
        }
    }
}

/// Connects to `url` once and returns the server's version: checks a user's
/// server before a run, so that a wrong address fails at once and by name.
pub fn probe(url: &str) -> Result<String, NatsError> {
    let error = |what: String| NatsError {
        url: url.to_string(),
        what,
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| error(format!("starting its client runtime: {e}")))?;
    runtime.block_on(async {
        let client = tokio::time::timeout(
            REQUEST_TIMEOUT * 3,
            async_nats::ConnectOptions::new()
                .connection_timeout(REQUEST_TIMEOUT)
                .connect(url),
        )
        .await
        .map_err(|_| error("no answer".to_string()))?
        .map_err(|e| error(format!("cannot connect: {e}")))?;
        let info = client.server_info();
        if !info.jetstream {
            return Err(error(
                "JetStream is not enabled (start it with `-js`)".to_string(),
            ));
        }
        Ok(info.version)
    })
}

fn context(client: async_nats::Client) -> Context {
    jetstream::ContextBuilder::new()
        .timeout(REQUEST_TIMEOUT)
        .build(client)
}

/// Messages the durable consumer delivered and this connection has not yet
/// acknowledged, by offset.
#[derive(Default)]
struct Delivered {
    messages: BTreeMap<u64, Message>,
    /// Every offset below this was acknowledged: a redelivery of one is
    /// acknowledged again at once, not processed.
    acked_below: u64,
}

/// One connection to one system's stream.
pub struct JetStreamLog {
    runtime: Arc<Runtime>,
    client: async_nats::Client,
    js: Context,
    stream_name: String,
    subject: String,
    down: Arc<AtomicBool>,
    durable: Mutex<Option<PullConsumer>>,
    delivered: Mutex<Delivered>,
    /// The replay consumer and the next offset it will deliver.
    replay: Mutex<Option<(u64, PullConsumer)>>,
    /// The head as last seen (publish acknowledgements, stream info).
    head: AtomicU64,
    full_refusals: AtomicU64,
    capacity: usize,
}

impl std::fmt::Debug for JetStreamLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JetStreamLog")
            .field("stream", &self.stream_name)
            .field("head", &self.head)
            .finish_non_exhaustive()
    }
}

/// An event as it travels: JSON, so that `nats stream view` shows it.
#[derive(Serialize, Deserialize)]
#[serde(tag = "type")]
enum Wire {
    BonusGranted {
        courier: CourierId,
        bonus_type: BonusType,
        bonus_id: String,
    },
    PerformanceChanged {
        courier: CourierId,
        performance: Performance,
    },
}

fn encode(event: &Event) -> Vec<u8> {
    let wire = match event {
        Event::BonusGranted {
            courier,
            bonus_type,
            bonus_id,
        } => Wire::BonusGranted {
            courier: *courier,
            bonus_type: *bonus_type,
            bonus_id: bonus_id.as_str().to_string(),
        },
        Event::PerformanceChanged {
            courier,
            performance,
        } => Wire::PerformanceChanged {
            courier: *courier,
            performance: *performance,
        },
    };
    // Serialising plain fields into a Vec cannot fail.
    serde_json::to_vec(&wire).unwrap_or_default()
}

fn decode(offset: u64, message: &Message) -> Result<Record, StreamError> {
    let undecodable = StreamError::Undecodable { offset };
    let event = match serde_json::from_slice(&message.payload).map_err(|_| undecodable.clone())? {
        Wire::BonusGranted {
            courier,
            bonus_type,
            bonus_id,
        } => Event::BonusGranted {
            courier,
            bonus_type,
            bonus_id: Reference::parse(&bonus_id).map_err(|_| undecodable.clone())?,
        },
        Wire::PerformanceChanged {
            courier,
            performance,
        } => Event::PerformanceChanged {
            courier,
            performance,
        },
    };
    // The broker's publish time, on this process's monotonic clock.
    let published_at = message
        .info()
        .ok()
        .and_then(|info| {
            let published_ns = u128::try_from(info.published.unix_timestamp_nanos()).ok()?;
            let now_ns = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .ok()?
                .as_nanos();
            let age = Duration::from_nanos(now_ns.saturating_sub(published_ns) as u64);
            Instant::now().checked_sub(age)
        })
        .unwrap_or_else(Instant::now);
    Ok(Record {
        offset,
        published_at,
        event,
    })
}

/// The message's offset: its stream sequence − 1.
fn offset_of(message: &Message) -> Option<u64> {
    message.info().ok().map(|info| info.stream_sequence - 1)
}

impl JetStreamLog {
    fn check_up(&self) -> Result<(), StreamError> {
        match self.down.load(Ordering::Relaxed) {
            true => Err(StreamError::Unavailable),
            false => Ok(()),
        }
    }

    /// Runs `call` on the runtime, bounded by `REQUEST_TIMEOUT + extra`.
    fn block<T>(
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

    fn durable(&self) -> Result<PullConsumer, StreamError> {
        if let Some(consumer) = lock(&self.durable).as_ref() {
            return Ok(consumer.clone());
        }
        let consumer = self.block(Duration::ZERO, async {
            let stream = self
                .js
                .get_stream(&self.stream_name)
                .await
                .map_err(|_| StreamError::Unavailable)?;
            stream
                .get_consumer::<pull::Config>(CONSUMER_NAME)
                .await
                .map_err(|_| StreamError::Unavailable)
        })?;
        *lock(&self.durable) = Some(consumer.clone());
        Ok(consumer)
    }

    /// Up to `max` messages from `consumer`, waiting at most `wait` for one.
    fn fetch(
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

    /// The run of held messages from `from` on, in order, at most `max`.
    fn in_order(&self, delivered: &Delivered, from: u64, max: usize) -> Vec<u64> {
        let mut run = Vec::new();
        for (&offset, _) in delivered.messages.range(from..) {
            if offset != from + run.len() as u64 || run.len() == max {
                break;
            }
            run.push(offset);
        }
        run
    }
}

impl EventStream for JetStreamLog {
    fn publish(&self, events: &[Event]) -> Result<Range<u64>, StreamError> {
        // Without outbox ids (a caller outside the relay): ids from the head.
        let first_id = self.head.load(Ordering::Relaxed);
        self.publish_identified(first_id, events)
    }

    fn publish_identified(
        &self,
        first_id: u64,
        events: &[Event],
    ) -> Result<Range<u64>, StreamError> {
        let acks = self.block(Duration::ZERO, async {
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
        let (sequences, full) = acks;
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

    fn read(&self, from: u64, max: usize, wait: Duration) -> Result<Vec<Record>, StreamError> {
        self.check_up()?;
        let held = self.in_order(&lock(&self.delivered), from, max);
        if held.is_empty() {
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
            // Already processed and acknowledged once: acknowledge again.
            if !redundant.is_empty() {
                let _ = self.block(Duration::ZERO, async {
                    for message in &redundant {
                        let _ = message.ack().await;
                    }
                    Ok(())
                });
            }
        }
        let delivered = lock(&self.delivered);
        let run = self.in_order(&delivered, from, max);
        if run.is_empty() && delivered.messages.range(from..).next().is_some() {
            // Later events are here, `from` is not: it awaits redelivery.
            return Err(StreamError::AwaitingRedelivery { offset: from });
        }
        run.iter()
            .map(|offset| decode(*offset, &delivered.messages[offset]))
            .collect()
    }

    fn commit(&self, _consumer: &str, next_offset: u64) -> Result<(), StreamError> {
        let done: Vec<Message> = {
            let mut delivered = lock(&self.delivered);
            let later = delivered.messages.split_off(&next_offset);
            let done = std::mem::replace(&mut delivered.messages, later);
            delivered.acked_below = delivered.acked_below.max(next_offset);
            done.into_values().collect()
        };
        // Explicit acknowledgement of each message; an acknowledgement lost
        // to a broker crash means a redelivery, which the ledger refuses.
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

    fn committed(&self, consumer: &str) -> Result<u64, StreamError> {
        let info = self.block(Duration::ZERO, async {
            let stream = self
                .js
                .get_stream(&self.stream_name)
                .await
                .map_err(|_| StreamError::Unavailable)?;
            stream
                .consumer_info(consumer)
                .await
                .map_err(|_| StreamError::Unavailable)
        })?;
        let next = info.ack_floor.stream_sequence;
        let mut delivered = lock(&self.delivered);
        delivered.acked_below = delivered.acked_below.max(next);
        Ok(next)
    }

    fn head(&self) -> Result<u64, StreamError> {
        let info = self.block(Duration::ZERO, async {
            let stream = self
                .js
                .get_stream(&self.stream_name)
                .await
                .map_err(|_| StreamError::Unavailable)?;
            stream
                .get_info()
                .await
                .map_err(|_| StreamError::Unavailable)
        })?;
        let head = info.state.last_sequence;
        self.head.fetch_max(head, Ordering::Relaxed);
        Ok(head)
    }

    fn replay(&self, from: u64, max: usize, wait: Duration) -> Result<Vec<Record>, StreamError> {
        let current = lock(&self.replay)
            .as_ref()
            .filter(|(next, _)| *next == from)
            .map(|(_, consumer)| consumer.clone());
        let consumer = match current {
            Some(consumer) => consumer,
            None => self.block(Duration::ZERO, async {
                let stream = self
                    .js
                    .get_stream(&self.stream_name)
                    .await
                    .map_err(|_| StreamError::Unavailable)?;
                stream
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
