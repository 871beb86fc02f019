//! The event log on NATS JetStream: the same [`EventStream`] as the in-process
//! log, on a real broker in another process (`--stream nats`).
//!
//! What a reader sees in code, method by method (the trait's doc in
//! `stream.rs` maps them):
//!
//! - **One JetStream stream per running system**, file storage, one subject,
//!   *interest* retention: an event is removed once the durable consumer has
//!   acknowledged it, so the stream holds the backlog, not the history, and a
//!   `commlab serve` runs for as long as it is left running. Its size limit
//!   is `max_messages` (the backlog) with `DiscardPolicy::New`: a full stream
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
//! - **The copy's rebuild** reads a compacted source: a second stream with
//!   one subject per courier and one message per subject, which the consumer
//!   writes before each commit (`copy.rs`, which says why). A trimmed log
//!   cannot be replayed from the start; `replay` (`rebuild.rs`) still reads
//!   what the stream holds from any offset.
//!
//! Every call blocks the calling thread (the relay's, the consumer's) on a
//! small tokio runtime shared by the system's connections, bounded by
//! [`REQUEST_TIMEOUT`]; a broker that does not answer is `Unavailable`.
//!
//! The files: this one creates the stream and opens connections;
//! `log.rs` is one connection and its calls to the broker; `publish.rs` the
//! relay's side, `consume.rs` the durable consumer's, `rebuild.rs` the
//! copy's replay; `wire.rs` how an event travels.
//!
//! Next: `nats_server.rs` starts a private server; `lib.rs` picks the backend.

mod consume;
mod copy;
mod log;
mod partition;
mod publish;
mod rebuild;
mod wire;

pub use log::JetStreamLog;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_nats::jetstream::consumer::{AckPolicy, DeliverPolicy, pull};
use async_nats::jetstream::stream::{
    Config as StreamSettings, DiscardPolicy, RetentionPolicy, StorageType,
};
use async_nats::jetstream::{self, Context};
use tokio::runtime::Runtime;

use crate::CONSUMER_NAME;
use crate::pause::Pause;
use log::Delivered;
use partition::Cuttable;

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
    /// The stream's name when processes share it (`commlab service`);
    /// `None` (the default): a name of its own, unique on the broker.
    pub name: Option<String>,
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
            name: None,
        }
    }

    /// The same on the stream called `name` (its streams and subjects are
    /// named from it): every process that opens that name meets on it.
    pub fn named(self, name: &str) -> NatsSettings {
        NatsSettings {
            name: Some(name.to_string()),
            ..self
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
    names: Names,
    /// Set by the simulated outage on a broker the harness does not own.
    down: Arc<AtomicBool>,
    /// The simulated hang on such a broker (`pause.rs`).
    hang: Arc<Pause>,
    /// The proxy the relay's and the consumer's connections go through,
    /// which the partition cuts (`partition.rs`).
    link: Cuttable,
    server_version: String,
}

impl JetStreamBackend {
    /// Connects, creates a fresh stream (unique name: a user's server may hold
    /// others) and the durable consumer — or, given a name, the stream of that
    /// name: creating an existing stream or consumer with the same settings
    /// is JetStream's no-op, so two processes meet on it. Fails at once if
    /// the broker is not there — except for a named stream, which an earlier
    /// start created: then its connections wait for the broker.
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
        let unique = settings.name.clone().unwrap_or_else(|| {
            format!(
                "{}_{}_{}",
                std::process::id(),
                NEXT.fetch_add(1, Ordering::Relaxed),
                SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .map_or(0, |d| d.as_millis())
            )
        });
        let names = Names {
            stream: format!("COMMLAB_{unique}"),
            subject: format!("commlab.{unique}.events"),
            copy_stream: format!("COMMLAB_{unique}_COPY"),
            copy_subjects: format!("commlab.{unique}.copy"),
        };
        let created = runtime.block_on(async {
            let client = connect_once(&settings.url).await?;
            create_streams(&context(client.clone()), &names, &settings)
                .await
                .map_err(error)?;
            Ok::<_, NatsError>(client.server_info().version)
        });
        let server_version = match (created, &settings.name) {
            (Ok(version), _) => version,
            // A named stream is shared by a system's processes, and its first
            // start created it. A service restarted while the broker is down
            // (a crash during a stream outage) starts anyway, as a deployed
            // service does: its connections retry until the broker is back,
            // and meanwhile Incentives' outbox holds what it records.
            (Err(unreachable), Some(_)) => format!("unknown ({})", unreachable.what),
            (Err(unreachable), None) => return Err(unreachable),
        };
        let link = Cuttable::start(&runtime, &settings.url)
            .map_err(|e| error(format!("starting the partition proxy: {e}")))?;
        Ok(JetStreamBackend {
            settings,
            link,
            runtime: Arc::new(runtime),
            names,
            down: Arc::new(AtomicBool::new(false)),
            hang: Arc::new(Pause::default()),
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
                    .connect(self.link.url().as_str()),
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
            stream_name: self.names.stream.clone(),
            subject: self.names.subject.clone(),
            copy_stream: self.names.copy_stream.clone(),
            copy_subjects: self.names.copy_subjects.clone(),
            down: self.down.clone(),
            hang: self.hang.clone(),
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

    /// The simulated hang, for a broker the harness does not own (a private
    /// server is stopped with SIGSTOP instead): every call waits for the
    /// heal, up to [`REQUEST_TIMEOUT`], as it would for a stopped server.
    pub fn set_hung(&self, hung: bool) {
        self.hang.set(hung);
    }

    /// Cuts (`true`) or heals the relay's and the consumer's connections to
    /// the broker: a real partition, on any broker (`partition.rs`).
    pub fn set_partitioned(&self, cut: bool) {
        self.link.set_cut(cut);
    }

    /// Deletes the stream (best effort, bounded): a user's server keeps no
    /// trace of a finished run.
    pub fn delete(&self) {
        let connection = self.connect();
        if let Ok(log) = connection {
            let _ = self.runtime.block_on(async {
                tokio::time::timeout(REQUEST_TIMEOUT, async {
                    let _ = log.js.delete_stream(&self.names.stream).await;
                    let _ = log.js.delete_stream(&self.names.copy_stream).await;
                })
                .await
            });
        }
    }
}

/// The names of one system's streams and subjects on the broker (unique: a
/// user's server may hold others).
#[derive(Debug)]
struct Names {
    stream: String,
    subject: String,
    copy_stream: String,
    /// The prefix of the per-courier subjects: `<copy_subjects>.<courier>`.
    copy_subjects: String,
}

/// The event stream with its durable consumer, and the copy's compacted
/// source (`copy.rs`).
async fn create_streams(
    js: &Context,
    names: &Names,
    settings: &NatsSettings,
) -> Result<(), String> {
    let stream = js
        .create_stream(StreamSettings {
            name: names.stream.clone(),
            subjects: vec![names.subject.clone()],
            storage: StorageType::File,
            // Trimmed as the consumer acknowledges: what is kept is the backlog.
            retention: RetentionPolicy::Interest,
            max_messages: i64::try_from(settings.capacity).unwrap_or(i64::MAX),
            discard: DiscardPolicy::New,
            duplicate_window: DEDUP_WINDOW,
            ..Default::default()
        })
        .await
        .map_err(|e| format!("creating the stream: {e}"))?;
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
        .map_err(|e| format!("creating the durable consumer: {e}"))?;
    js.create_stream(StreamSettings {
        name: names.copy_stream.clone(),
        subjects: vec![format!("{}.*", names.copy_subjects)],
        storage: StorageType::File,
        // One value per courier: the latest.
        max_messages_per_subject: 1,
        ..Default::default()
    })
    .await
    .map_err(|e| format!("creating the copy's stream: {e}"))?;
    Ok(())
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
        let client = connect_once(url).await?;
        let info = client.server_info();
        if !info.jetstream {
            return Err(error(
                "JetStream is not enabled (start it with `-js`)".to_string(),
            ));
        }
        Ok(info.version)
    })
}

/// One connection attempt, bounded: a broker that is not there, or does not
/// answer, is an error at once (no reconnecting in the background).
async fn connect_once(url: &str) -> Result<async_nats::Client, NatsError> {
    let error = |what: String| NatsError {
        url: url.to_string(),
        what,
    };
    tokio::time::timeout(
        REQUEST_TIMEOUT * 3,
        async_nats::ConnectOptions::new()
            .connection_timeout(REQUEST_TIMEOUT)
            .connect(url),
    )
    .await
    .map_err(|_| error("no answer".to_string()))?
    .map_err(|e| error(format!("cannot connect: {e}")))
}

fn context(client: async_nats::Client) -> Context {
    jetstream::ContextBuilder::new()
        .timeout(REQUEST_TIMEOUT)
        .build(client)
}
