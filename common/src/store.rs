//! Where a service keeps its state: in memory, or in its own SQLite database.
//!
//! Each service owns one database file (`DIR/incentives.sqlite`,
//! `DIR/payments.sqlite`): the services share no table, as two services in
//! production share no database. What lives there, each beside its in-memory
//! twin, one trait with two implementations chosen at start:
//!
//! - Payments' ledger (`ledger/sqlite.rs`): a unique key on (kind, reference),
//!   so a repeated reference cannot pay twice even across a crash.
//! - sync-buffered's resend buffer (`sync_variant/src/buffer/`).
//! - Incentives' records of bonuses and performance (`records.rs`), in both
//!   variants; the async variant writes them with its outbox.
//! - The async consumer's committed position and performance copy
//!   (`async_variant/src/checkpoint.rs`).
//!
//! # Durability: WAL and `synchronous = NORMAL`
//!
//! Every database is opened in write-ahead-log mode with `synchronous =
//! NORMAL`. A commit appends to the log file and returns; the log is synced to
//! the disk at checkpoints, not at every commit. What that means for a crash:
//!
//! - **The process dies (`kill -9`, a panic):** every committed transaction
//!   survives. The log is in the operating system's page cache, which outlives
//!   the process; the next open replays it. Only a transaction still open is
//!   rolled back — what was not committed is not there.
//! - **The machine dies (power cut, kernel panic):** the last transactions
//!   committed before the crash may be lost (never half of one: the database
//!   stays consistent). `synchronous = FULL` would sync on every commit and
//!   keep them, at the price of one disk flush per transaction.
//!
//! The faults commlab injects are process faults, so NORMAL keeps everything
//! they could lose, at a fraction of FULL's cost — the usual production choice
//! for WAL databases.
//!
//! Next: `ledger.rs`, the first store, and its SQLite twin `ledger/sqlite.rs`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::types::Type;
use rusqlite::{Connection, Row, Transaction, TransactionBehavior};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::api::Reference;
use crate::faults::ServiceFaults;
use crate::internal::InternalError;

/// Where a service's state lives. Chosen at start; the in-process default is
/// memory, so that a plain run needs no disk.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase", tag = "kind")]
pub enum Storage {
    /// In the process's memory: lost with the process.
    #[default]
    Memory,
    /// In SQLite databases under `dir`, one file per service.
    Sqlite { dir: PathBuf },
}

/// How long a statement waits for a lock another connection holds on the same
/// file before it fails with `SQLITE_BUSY`. A service opens its file once per
/// store (Incentives: its records or outbox, and sync-buffered's buffer;
/// Payments: the ledger and the async consumer's checkpoint), and WAL lets one
/// writer in at a time: a write waits for another one's commit, which takes
/// microseconds. 1 s is far beyond that, and turns two processes on one file
/// by mistake into a named error rather than a hang.
const BUSY_TIMEOUT: Duration = Duration::from_secs(1);

/// The database file of `service` (`"incentives"`, `"payments"`) in `dir`.
pub fn database_path(dir: &Path, service: &str) -> PathBuf {
    dir.join(format!("{service}.sqlite"))
}

/// Opens (creating if needed) `service`'s database in `dir`, in WAL mode with
/// `synchronous = NORMAL` (see the module doc). What was committed before,
/// even by a process that was killed, is there.
pub fn open(dir: &Path, service: &str) -> rusqlite::Result<Connection> {
    let connection = Connection::open(database_path(dir, service))?;
    connection.busy_timeout(BUSY_TIMEOUT)?;
    // `journal_mode` answers with the mode now in force: a file system that
    // cannot hold a WAL (some network mounts) answers something else.
    let mode: String =
        connection.pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(rusqlite::Error::InvalidParameterName(format!(
            "{service}'s database cannot use a write-ahead log (journal_mode is {mode})"
        )));
    }
    connection.pragma_update(None, "synchronous", "NORMAL")?;
    Ok(connection)
}

/// Begins a transaction that writes: `BEGIN IMMEDIATE` takes the write lock
/// at once, waiting up to the busy timeout for another connection's writer.
/// A plain (deferred) transaction that reads first and writes later cannot
/// wait: if another connection committed in between, SQLite answers
/// `SQLITE_BUSY` ("database is locked") at the write, whatever the timeout.
pub fn immediate(connection: &mut Connection) -> rusqlite::Result<Transaction<'_>> {
    connection.transaction_with_behavior(TransactionBehavior::Immediate)
}

/// A store's failure, named for the report: which store, what SQLite said.
#[derive(Debug, thiserror::Error)]
#[error("{store}: {source}")]
pub struct StoreError {
    pub store: &'static str,
    #[source]
    pub source: rusqlite::Error,
}

impl StoreError {
    /// A closure for `map_err` that names `store`.
    pub fn naming(store: &'static str) -> impl Fn(rusqlite::Error) -> StoreError {
        move |source| StoreError { store, source }
    }
}

impl From<StoreError> for std::io::Error {
    fn from(error: StoreError) -> std::io::Error {
        std::io::Error::other(error.to_string())
    }
}

/// Records a store's failure as an internal error of the run (`faults` are
/// the service's own) and returns SQLite's reason: a broken database is never
/// a property of the design.
pub fn record_failure(
    faults: &ServiceFaults,
    store: &'static str,
    error: &rusqlite::Error,
) -> String {
    let reason = error.to_string();
    let failure = InternalError::Store {
        store,
        reason: reason.clone(),
    };
    faults.internal_errors.record(failure);
    reason
}

/// A unit enum (`BonusType`, `Performance`) as its column: the name the API
/// spells it with (`"BIG"`, `"HIGH"`).
pub fn name_of<T: Serialize>(value: T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(text)) => text,
        other => unreachable!("an enum of names serialises to a name, not {other:?}"),
    }
}

/// A column written by [`name_of`], read back.
pub fn named<T: DeserializeOwned>(row: &Row<'_>, column: usize) -> rusqlite::Result<T> {
    let name: String = row.get(column)?;
    serde_json::from_value(serde_json::Value::String(name)).map_err(|error| {
        rusqlite::Error::FromSqlConversionFailure(column, Type::Text, error.into())
    })
}

/// A bonus id's column, checked as the edge checks it.
pub fn reference(row: &Row<'_>, column: usize) -> rusqlite::Result<Reference> {
    let id: String = row.get(column)?;
    Reference::parse(&id).map_err(|error| {
        let error = format!("bonus id {id:?}: {error}");
        rusqlite::Error::FromSqlConversionFailure(column, Type::Text, error.into())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_database_is_opened_in_wal_mode_with_normal_sync() {
        let dir = tempfile::tempdir().unwrap();
        let connection = open(dir.path(), "payments").unwrap();
        let mode: String = connection
            .pragma_query_value(None, "journal_mode", |row| row.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
        // NORMAL is 1 (OFF 0, FULL 2).
        let sync: i64 = connection
            .pragma_query_value(None, "synchronous", |row| row.get(0))
            .unwrap();
        assert_eq!(sync, 1);
        assert!(database_path(dir.path(), "payments").exists());
    }

    #[test]
    fn storage_reads_as_the_contract_spells_it() {
        let sqlite: Storage = serde_json::from_str(r#"{"kind":"sqlite","dir":"/d"}"#).unwrap();
        assert_eq!(
            sqlite,
            Storage::Sqlite {
                dir: PathBuf::from("/d")
            }
        );
        let memory = serde_json::to_string(&Storage::Memory).unwrap();
        assert_eq!(memory, r#"{"kind":"memory"}"#);
    }
}
