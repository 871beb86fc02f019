//! Incentives' records in SQLite — the bonus ids it granted and every
//! courier's performance — in one place for both variants.
//!
//! ```sql
//! bonuses(bonus_id PRIMARY KEY, courier, bonus_type)      -- the grants
//! performance(courier PRIMARY KEY, performance)           -- the book
//! ```
//!
//! Incentives keeps its records in memory ([`Grants`], [`PerformanceBook`])
//! and, on SQLite storage, in these tables of `DIR/incentives.sqlite`: every
//! write goes to the table first, and a restart loads the tables into memory
//! ([`Records::into_memory`]), so that after a `kill -9` a repeated bonus id is
//! still recognised and a courier's performance still known.
//!
//! The two variants write the same rows in different transactions, and that
//! difference is the lesson:
//!
//! - **Asynchronously** the grant's row and its event's row are one
//!   transaction (`async_variant/src/outbox/table.rs` calls [`write_grant`]
//!   and [`write_performance`] inside it).
//! - **Synchronously** there is no event to write: [`RecordsTable`] commits
//!   each row alone — a grant once Payments paid it (or sync-buffered kept it
//!   for resending), a performance before the book changes.
//!
//! A bonus id is the table's primary key: a second [`write_grant`] of the
//! same id fails in the database and writes nothing.
//!
//! Next: `idempotency.rs`, the rules the grants follow in memory.

use std::path::Path;
use std::sync::{Arc, Mutex};

use rusqlite::{Connection, params};

use crate::api::{ApiError, Reference};
use crate::domain::{BonusType, CourierId, Performance, PerformanceBook, lock};
use crate::faults::ServiceFaults;
use crate::idempotency::Grants;
use crate::store::{self, StoreError, name_of, named, reference};

/// The records' tables (the outbox's transaction and [`RecordsTable`] both
/// create them: `IF NOT EXISTS`).
pub const SCHEMA: &str = "
    CREATE TABLE IF NOT EXISTS bonuses (
        bonus_id TEXT PRIMARY KEY,
        courier INTEGER NOT NULL,
        bonus_type TEXT NOT NULL
    );
    CREATE TABLE IF NOT EXISTS performance (
        courier INTEGER PRIMARY KEY,
        performance TEXT NOT NULL
    );
";

/// The name a failure of the synchronous Incentives' records is recorded under.
const STORE: &str = "Incentives' records (SQLite)";

/// Incentives' records as the tables hold them, to load at start.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Records {
    pub grants: Vec<(Reference, CourierId, BonusType)>,
    pub performance: Vec<(CourierId, Performance)>,
}

impl Records {
    /// The records in memory, as Incentives serves them: every grant done
    /// (a repeat is recognised), every performance set.
    pub fn into_memory(self) -> (PerformanceBook, Grants) {
        let (book, grants) = (PerformanceBook::default(), Grants::default());
        for (courier, performance) in self.performance {
            book.set(courier, performance);
        }
        for (bonus_id, courier, bonus) in self.grants {
            // Each id is the table's key, so each is new here.
            let _ = grants.record(&bonus_id, courier, bonus);
        }
        (book, grants)
    }
}

/// Opens Incentives' database in `dir`, creates the records' tables and
/// loads them; `store` names a failure.
pub fn open(dir: &Path, store: &'static str) -> Result<(Connection, Records), StoreError> {
    let named = StoreError::naming(store);
    let connection = store::open(dir, "incentives").map_err(&named)?;
    connection.execute_batch(SCHEMA).map_err(&named)?;
    let records = load(&connection).map_err(&named)?;
    Ok((connection, records))
}

/// Every grant and every performance the tables hold.
pub fn load(connection: &Connection) -> rusqlite::Result<Records> {
    let mut grants = connection.prepare("SELECT bonus_id, courier, bonus_type FROM bonuses")?;
    let grants = grants
        .query_map([], |row| {
            let courier = row.get::<_, i64>(1)? as CourierId;
            Ok((reference(row, 0)?, courier, named(row, 2)?))
        })?
        .collect::<rusqlite::Result<_>>()?;
    let mut performance = connection.prepare("SELECT courier, performance FROM performance")?;
    let performance = performance
        .query_map([], |row| {
            Ok((row.get::<_, i64>(0)? as CourierId, named(row, 1)?))
        })?
        .collect::<rusqlite::Result<_>>()?;
    Ok(Records {
        grants,
        performance,
    })
}

/// The grant's row, on `connection` or inside a transaction (a
/// `Transaction` derefs to its connection). A repeated id fails on the
/// primary key and writes nothing.
pub fn write_grant(
    connection: &Connection,
    bonus_id: &Reference,
    courier: CourierId,
    bonus: BonusType,
) -> rusqlite::Result<()> {
    connection.execute(
        "INSERT INTO bonuses (bonus_id, courier, bonus_type) VALUES (?1, ?2, ?3)",
        params![bonus_id.as_str(), courier as i64, name_of(bonus)],
    )?;
    Ok(())
}

/// The courier's performance row, replacing the one before.
pub fn write_performance(
    connection: &Connection,
    courier: CourierId,
    performance: Performance,
) -> rusqlite::Result<()> {
    connection.execute(
        "INSERT INTO performance (courier, performance) VALUES (?1, ?2)
         ON CONFLICT (courier) DO UPDATE SET performance = excluded.performance",
        params![courier as i64, name_of(performance)],
    )?;
    Ok(())
}

/// The synchronous Incentives' records on their own connection: each row
/// committed alone (autocommit), before the answer.
#[derive(Debug)]
pub struct RecordsTable {
    /// One writer at a time; also what keeps the book's order the table's.
    connection: Mutex<Connection>,
    /// Incentives' own: a failed write is an internal error of the run.
    faults: Arc<ServiceFaults>,
}

impl RecordsTable {
    /// Opens the tables in `dir` with what a previous process committed.
    pub fn open(
        dir: &Path,
        faults: Arc<ServiceFaults>,
    ) -> Result<(RecordsTable, Records), StoreError> {
        let (connection, records) = open(dir, STORE)?;
        let connection = Mutex::new(connection);
        Ok((RecordsTable { connection, faults }, records))
    }

    /// Writes a grant that is done. A failure is recorded and answered `503`:
    /// the client's retry with the same id finds Payments' ledger, which
    /// refuses to pay it twice.
    pub fn grant(
        &self,
        bonus_id: &Reference,
        courier: CourierId,
        bonus: BonusType,
    ) -> Result<(), ApiError> {
        let connection = lock(&self.connection);
        write_grant(&connection, bonus_id, courier, bonus).map_err(|error| self.failed(&error))
    }

    /// Writes the performance, then runs `then` (the book's change) under the
    /// same lock, so that the book and the table agree on the last value.
    /// Nothing runs when the write failed.
    pub fn set_performance(
        &self,
        courier: CourierId,
        performance: Performance,
        then: impl FnOnce(),
    ) -> Result<(), ApiError> {
        let connection = lock(&self.connection);
        write_performance(&connection, courier, performance)
            .map_err(|error| self.failed(&error))?;
        then();
        Ok(())
    }

    fn failed(&self, error: &rusqlite::Error) -> ApiError {
        let reason = store::record_failure(&self.faults, STORE, error);
        ApiError::unavailable(format!("incentives: {STORE} failed: {reason}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u64) -> Reference {
        Reference::parse(&format!("b-{n}")).unwrap()
    }

    /// What was written is loaded, as it was written, after a `kill -9`
    /// (the connection is never closed).
    #[test]
    fn what_was_written_is_loaded_after_a_crash() {
        let dir = tempfile::tempdir().unwrap();
        let faults = ServiceFaults::new("incentives", 1);
        let (table, records) = RecordsTable::open(dir.path(), faults.clone()).unwrap();
        assert_eq!(records, Records::default());
        table.grant(&id(1), 7, BonusType::Big).unwrap();
        table.grant(&id(2), 8, BonusType::Small).unwrap();
        let mut set = 0;
        table
            .set_performance(7, Performance::High, || set += 1)
            .unwrap();
        table
            .set_performance(7, Performance::Outstanding, || set += 1)
            .unwrap();
        assert_eq!(set, 2);
        std::mem::forget(table);

        let (_, mut records) = RecordsTable::open(dir.path(), faults).unwrap();
        records
            .grants
            .sort_by(|a, b| a.0.as_str().cmp(b.0.as_str()));
        let grants = vec![(id(1), 7, BonusType::Big), (id(2), 8, BonusType::Small)];
        assert_eq!(records.grants, grants);
        assert_eq!(records.performance, vec![(7, Performance::Outstanding)]);
        let (book, grants) = records.into_memory();
        assert_eq!(book.get(7), Performance::Outstanding);
        assert_eq!(grants.record(&id(1), 7, BonusType::Big), Ok(false));
        assert!(grants.record(&id(1), 7, BonusType::Small).is_err());
    }

    /// The primary key refuses a repeated grant: nothing is written, and the
    /// synchronous table answers `503` and records the failure.
    #[test]
    fn a_repeated_grant_writes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let (connection, _) = open(dir.path(), STORE).unwrap();
        write_grant(&connection, &id(1), 7, BonusType::Big).unwrap();
        assert!(write_grant(&connection, &id(1), 9, BonusType::Small).is_err());
        let grants = load(&connection).unwrap().grants;
        assert_eq!(grants, vec![(id(1), 7, BonusType::Big)]);

        let faults = ServiceFaults::new("incentives", 1);
        let (table, _) = RecordsTable::open(dir.path(), faults.clone()).unwrap();
        let refused = table.grant(&id(1), 7, BonusType::Big).unwrap_err();
        assert_eq!(refused.status.as_u16(), 503);
        assert_eq!(faults.internal_errors.count(), 1);
    }
}
