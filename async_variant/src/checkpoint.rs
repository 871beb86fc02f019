//! The consumer's committed position and its performance copy in Payments'
//! own database (`DIR/payments.sqlite`), on SQLite storage.
//!
//! ```sql
//! consumer_position(log, consumer, position)   PRIMARY KEY (log, consumer)
//! performance_copy(log, courier, performance)  PRIMARY KEY (log, courier)
//! ```
//!
//! In memory the position lives in the stream (the in-process log's map, a
//! JetStream consumer's ack floor) and the copy is rebuilt from the stream
//! (`consumer.rs`). On SQLite storage Payments keeps both itself, as a
//! consumer that must survive `kill -9` does in production:
//! [`CheckpointedStream`] wraps the consumer's connection and changes three
//! calls.
//!
//! - **commit** writes the position *and* the copy's changed couriers in one
//!   SQLite transaction, then forwards the commit to the stream (JetStream
//!   acknowledges, so its interest retention still trims). The copy in the
//!   table is therefore exactly the copy as of the position beside it —
//!   never ahead, never behind, whatever moment the process is killed at.
//! - **committed** answers the larger of the table's position and the
//!   stream's. The table's is ahead when the process died between the
//!   transaction and the forward; the forward is then made here, so the
//!   broker acknowledges at once the events it redelivers below it
//!   (`jetstream/consume.rs`: below `acked_below` a redelivery is acked, not
//!   processed).
//! - **save_copy** only stages the changes for the next commit; **saved_copy**
//!   answers the table's copy (`Some`, even empty: no replay needed).
//!
//! Why the position and the copy are keyed by the **log**: a position is an
//! offset in one log. The in-process log dies with its process, and a new one
//! starts at offset 0 again; a position kept from the old one would skip the
//! new log's first events. Each log has a name (a JetStream stream's, or one
//! the in-process log makes unique to itself), and opening the checkpoint
//! forgets the rows of every other log. A broker's stream and the data
//! directory go together: a directory per run, as the harness gives.
//!
//! Next: `consumer.rs`, which commits; `stores.rs`, which wires this.

use std::ops::Range;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::domain::lock;
use common::faults::ServiceFaults;
use common::store::{self, StoreError, name_of, named};
use common::{CourierId, Performance};
use rusqlite::{Connection, OptionalExtension, params};

use crate::events::Event;
use crate::stream::{EventStream, Record, StreamCounters, StreamError};

const SCHEMA: &str = "
    CREATE TABLE IF NOT EXISTS consumer_position (
        log TEXT NOT NULL,
        consumer TEXT NOT NULL,
        position INTEGER NOT NULL,
        PRIMARY KEY (log, consumer)
    );
    CREATE TABLE IF NOT EXISTS performance_copy (
        log TEXT NOT NULL,
        courier INTEGER NOT NULL,
        performance TEXT NOT NULL,
        PRIMARY KEY (log, courier)
    );
";

/// The name failures are recorded under.
const STORE: &str = "Payments' consumer checkpoint (SQLite)";

/// The tables, on Payments' connection for them; shared by every life of the
/// consumer (a restarted consumer wraps its new stream connection with it).
#[derive(Debug)]
pub struct Checkpoint {
    connection: Mutex<Connection>,
    /// The log the rows belong to.
    log: String,
    /// Payments' own: a failure of the table is an internal error of the run.
    faults: Arc<ServiceFaults>,
}

impl Checkpoint {
    /// Opens the tables in `dir` for the log called `log`, forgetting what
    /// they held for any other log.
    pub fn open(
        dir: &Path,
        log: &str,
        faults: Arc<ServiceFaults>,
    ) -> Result<Checkpoint, StoreError> {
        let named = StoreError::naming(STORE);
        let mut connection = store::open(dir, "payments").map_err(&named)?;
        connection.execute_batch(SCHEMA).map_err(&named)?;
        let tx = store::immediate(&mut connection).map_err(&named)?;
        tx.execute("DELETE FROM consumer_position WHERE log <> ?1", [log])
            .map_err(&named)?;
        tx.execute("DELETE FROM performance_copy WHERE log <> ?1", [log])
            .map_err(&named)?;
        tx.commit().map_err(&named)?;
        Ok(Checkpoint {
            connection: Mutex::new(connection),
            log: log.to_string(),
            faults,
        })
    }

    /// The consumer's connection `inner`, with its position and copy kept here.
    pub fn over(self: &Arc<Self>, inner: Arc<dyn EventStream>) -> Arc<dyn EventStream> {
        Arc::new(CheckpointedStream {
            inner,
            checkpoint: self.clone(),
            staged: Mutex::new(Vec::new()),
            copy_behind: AtomicBool::new(false),
        })
    }

    /// One transaction: the position (never lowered) and the changed couriers.
    fn write(
        &self,
        consumer: &str,
        position: u64,
        changed: &[(CourierId, Performance)],
    ) -> rusqlite::Result<()> {
        let mut connection = lock(&self.connection);
        let tx = store::immediate(&mut connection)?;
        tx.execute(
            "INSERT INTO consumer_position (log, consumer, position) VALUES (?1, ?2, ?3)
             ON CONFLICT (log, consumer)
             DO UPDATE SET position = max(position, excluded.position)",
            params![self.log, consumer, position as i64],
        )?;
        for (courier, performance) in changed {
            tx.execute(
                "INSERT INTO performance_copy (log, courier, performance) VALUES (?1, ?2, ?3)
                 ON CONFLICT (log, courier) DO UPDATE SET performance = excluded.performance",
                params![self.log, *courier as i64, name_of(performance)],
            )?;
        }
        tx.commit()
    }

    /// The committed position (0 when this log has none yet).
    fn position(&self, consumer: &str) -> rusqlite::Result<u64> {
        let position: Option<i64> = lock(&self.connection)
            .query_row(
                "SELECT position FROM consumer_position WHERE log = ?1 AND consumer = ?2",
                params![self.log, consumer],
                |row| row.get(0),
            )
            .optional()?;
        Ok(position.map_or(0, |p| p as u64))
    }

    /// The copy as of the committed position, by courier.
    fn copy(&self) -> rusqlite::Result<Vec<(CourierId, Performance)>> {
        let connection = lock(&self.connection);
        let mut statement = connection.prepare(
            "SELECT courier, performance FROM performance_copy WHERE log = ?1 ORDER BY courier",
        )?;
        let rows = statement.query_map([&self.log], |row| {
            Ok((row.get::<_, i64>(0)? as CourierId, named(row, 1)?))
        })?;
        rows.collect()
    }

    /// A failed table is recorded, and is to the consumer a stream that did
    /// not answer: it backs off and tries again.
    fn failed(&self, error: &rusqlite::Error) -> StreamError {
        store::record_failure(&self.faults, STORE, error);
        StreamError::Unavailable
    }
}

/// One consumer life's connection to the stream, committing into the
/// [`Checkpoint`]. What it stages dies with it, as the consumer's memory does.
#[derive(Debug)]
pub struct CheckpointedStream {
    inner: Arc<dyn EventStream>,
    checkpoint: Arc<Checkpoint>,
    /// The copy's changes since the last commit ([`EventStream::save_copy`]).
    staged: Mutex<Vec<(CourierId, Performance)>>,
    /// The stream's position was ahead of the table's at start (a stream
    /// committed by a consumer without this table): the table's copy is behind
    /// it, so the copy comes from the stream, as in memory.
    copy_behind: AtomicBool,
}

impl EventStream for CheckpointedStream {
    /// The table first, then the stream: after a crash in between, the
    /// table's position is ahead, and [`committed`](Self::committed) forwards it.
    fn commit(&self, consumer: &str, next_offset: u64) -> Result<(), StreamError> {
        let changed = lock(&self.staged).clone();
        let checkpoint = &self.checkpoint;
        checkpoint
            .write(consumer, next_offset, &changed)
            .map_err(|error| checkpoint.failed(&error))?;
        lock(&self.staged).clear();
        self.inner.commit(consumer, next_offset)
    }

    fn committed(&self, consumer: &str) -> Result<u64, StreamError> {
        let theirs = self.inner.committed(consumer)?;
        let checkpoint = &self.checkpoint;
        let ours = checkpoint
            .position(consumer)
            .map_err(|error| checkpoint.failed(&error))?;
        if ours > theirs {
            self.inner.commit(consumer, ours)?;
        }
        self.copy_behind.store(theirs > ours, Ordering::Relaxed);
        Ok(ours.max(theirs))
    }

    /// Staged for the next commit: `changed` is everything the consumer
    /// changed since its last successful commit, so it replaces the stage.
    fn save_copy(&self, changed: &[(CourierId, Performance)]) -> Result<(), StreamError> {
        *lock(&self.staged) = changed.to_vec();
        Ok(())
    }

    fn saved_copy(&self) -> Result<Option<Vec<(CourierId, Performance)>>, StreamError> {
        if self.copy_behind.load(Ordering::Relaxed) {
            return self.inner.saved_copy();
        }
        let checkpoint = &self.checkpoint;
        let copy = checkpoint
            .copy()
            .map_err(|error| checkpoint.failed(&error))?;
        Ok(Some(copy))
    }

    fn publish(&self, events: &[Event]) -> Result<Range<u64>, StreamError> {
        self.inner.publish(events)
    }

    fn publish_identified(
        &self,
        first_id: u64,
        events: &[Event],
    ) -> Result<Range<u64>, StreamError> {
        self.inner.publish_identified(first_id, events)
    }

    fn read(&self, from: u64, max: usize, wait: Duration) -> Result<Vec<Record>, StreamError> {
        self.inner.read(from, max, wait)
    }

    fn replay(&self, from: u64, max: usize, wait: Duration) -> Result<Vec<Record>, StreamError> {
        self.inner.replay(from, max, wait)
    }

    fn head(&self) -> Result<u64, StreamError> {
        self.inner.head()
    }

    fn known_head(&self) -> Option<u64> {
        self.inner.known_head()
    }

    fn counters(&self) -> StreamCounters {
        self.inner.counters()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::CONSUMER_NAME as NAME;
    use crate::stream::InMemoryStream;
    use common::BonusType;
    use common::api::Reference;

    fn log_of(events: u64) -> Arc<InMemoryStream> {
        let stream = Arc::new(InMemoryStream::new(100));
        let bonus = |n: u64| Event::BonusGranted {
            courier: n,
            bonus_type: BonusType::Small,
            bonus_id: Reference::parse(&format!("b-{n}")).unwrap(),
        };
        stream
            .publish(&(0..events).map(bonus).collect::<Vec<_>>())
            .unwrap();
        stream
    }

    fn open(dir: &Path, log: &str) -> Arc<Checkpoint> {
        let faults = ServiceFaults::new("payments", 1);
        Arc::new(Checkpoint::open(dir, log, faults).unwrap())
    }

    /// The process dies after the table's transaction and before the
    /// stream's commit: the restart resumes from the table's position, with
    /// the copy as of it, and brings the stream up to it.
    #[test]
    fn a_position_ahead_of_the_stream_wins_with_its_copy() {
        let dir = tempfile::tempdir().unwrap();
        let log = log_of(10);
        let stream = open(dir.path(), "log-a").over(log.clone());
        assert_eq!(stream.committed(NAME), Ok(0));
        assert_eq!(stream.saved_copy(), Ok(Some(vec![])));
        stream.save_copy(&[(1, Performance::High)]).unwrap();
        stream.commit(NAME, 4).unwrap();
        assert_eq!(log.committed(NAME), Ok(4), "forwarded to the stream");
        stream.save_copy(&[(2, Performance::Outstanding)]).unwrap();
        log.set_down(true);
        assert!(
            stream.commit(NAME, 7).is_err(),
            "the stream's commit failed"
        );
        log.set_down(false);
        drop(stream); // the consumer dies

        let stream = open(dir.path(), "log-a").over(log.clone());
        assert_eq!(stream.committed(NAME), Ok(7), "the table's position");
        assert_eq!(log.committed(NAME), Ok(7), "the stream brought up to it");
        let copy = vec![(1, Performance::High), (2, Performance::Outstanding)];
        assert_eq!(stream.saved_copy(), Ok(Some(copy)));
        stream.commit(NAME, 5).unwrap();
        assert_eq!(stream.committed(NAME), Ok(7), "never lowered");
    }

    /// What a dead consumer staged is not committed by its successor, and a
    /// new log on the same directory starts from nothing.
    #[test]
    fn staged_changes_die_with_the_consumer_and_other_logs_are_forgotten() {
        let dir = tempfile::tempdir().unwrap();
        let checkpoint = open(dir.path(), "log-a");
        let log = log_of(10);
        let first = checkpoint.over(log.clone());
        first.save_copy(&[(1, Performance::High)]).unwrap();
        drop(first);
        let second = checkpoint.over(log.clone());
        second.commit(NAME, 3).unwrap();
        assert_eq!(second.saved_copy(), Ok(Some(vec![])));

        let stream = open(dir.path(), "log-b").over(log_of(2));
        assert_eq!(stream.committed(NAME), Ok(0));
        assert_eq!(stream.saved_copy(), Ok(Some(vec![])));
    }
}
