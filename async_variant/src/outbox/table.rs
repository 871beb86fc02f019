//! The outbox as a table in Incentives' database (`DIR/incentives.sqlite`),
//! with the facts it announces: what makes the outbox *transactional*.
//!
//! ```sql
//! bonuses(bonus_id PRIMARY KEY, courier, bonus_type)      -- the grants
//! performance(courier PRIMARY KEY, performance)           -- the book
//! outbox(seq PRIMARY KEY AUTOINCREMENT, kind, courier, bonus_type, bonus_id, performance)
//! ```
//!
//! [`OutboxTable::append`] writes the fact's row and its event's row in **one
//! SQLite transaction**: after a `kill -9` either both are there or neither
//! is. A bonus recorded is therefore a bonus announced — the relay publishes
//! every row still in `outbox` after a restart — and an event never announces
//! a bonus that was not recorded. The relay deletes a row only after the
//! stream acknowledged it; a crash in between publishes it again, and
//! Payments' ledger absorbs the repeat.
//!
//! An event's id is its `seq` − 1: consecutive as facts were recorded, the
//! same across a restart, so a broker that deduplicates by id still can.
//!
//! Incentives keeps its grants and its book in memory too, loaded from the
//! facts' tables at start (`common::records`, which both variants share):
//! reads stay in memory, every write goes to the table first.

use std::path::Path;

use common::CourierId;
use common::records::{self, Records};
use common::store::{self, StoreError, name_of, named, reference};
use rusqlite::{Connection, params};

use crate::events::Event;

/// The outbox's own table; the facts' tables are `common::records::SCHEMA`.
const SCHEMA: &str = "
    CREATE TABLE IF NOT EXISTS outbox (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        kind TEXT NOT NULL,
        courier INTEGER NOT NULL,
        bonus_type TEXT,
        bonus_id TEXT,
        performance TEXT
    );
";

/// The outbox's table and the facts' tables, on one connection.
#[derive(Debug)]
pub struct OutboxTable {
    connection: Connection,
    /// Rows in `outbox`, kept under the outbox's lock: `Stats.outbox` costs
    /// no query.
    rows: usize,
}

impl OutboxTable {
    /// Opens the tables in `dir`, with what a previous process committed.
    pub fn open(dir: &Path) -> Result<(OutboxTable, Records), StoreError> {
        let store = "Incentives' outbox (SQLite)";
        let (connection, records) = records::open(dir, store)?;
        let named = StoreError::naming(store);
        connection.execute_batch(SCHEMA).map_err(&named)?;
        let rows: i64 = connection
            .query_row("SELECT count(*) FROM outbox", [], |row| row.get(0))
            .map_err(&named)?;
        let table = OutboxTable {
            connection,
            rows: rows as usize,
        };
        Ok((table, records))
    }

    /// One transaction: the fact's row and its event's row, or neither.
    pub fn append(&mut self, event: &Event) -> rusqlite::Result<()> {
        let tx = store::immediate(&mut self.connection)?;
        match event {
            Event::BonusGranted {
                courier,
                bonus_type,
                bonus_id,
            } => {
                records::write_grant(&tx, bonus_id, *courier, *bonus_type)?;
                let (courier, bonus_type) = (*courier as i64, name_of(bonus_type));
                tx.execute(
                    "INSERT INTO outbox (kind, courier, bonus_type, bonus_id)
                     VALUES ('bonus', ?1, ?2, ?3)",
                    params![courier, bonus_type, bonus_id.as_str()],
                )?;
            }
            Event::PerformanceChanged {
                courier,
                performance,
            } => {
                records::write_performance(&tx, *courier, *performance)?;
                let (courier, performance) = (*courier as i64, name_of(performance));
                tx.execute(
                    "INSERT INTO outbox (kind, courier, performance)
                     VALUES ('performance', ?1, ?2)",
                    params![courier, performance],
                )?;
            }
        }
        tx.commit()?;
        self.rows += 1;
        Ok(())
    }

    pub fn len(&self) -> usize {
        self.rows
    }

    /// The id of the oldest row's event; when the table is empty, the id the
    /// next event will get (AUTOINCREMENT keeps the highest `seq` ever used in
    /// `sqlite_sequence`, also once its rows are deleted).
    pub fn oldest_id(&self) -> rusqlite::Result<u64> {
        let id: i64 = self.connection.query_row(
            "SELECT coalesce(
                 (SELECT min(seq) - 1 FROM outbox),
                 (SELECT seq FROM sqlite_sequence WHERE name = 'outbox'),
                 0)",
            [],
            |row| row.get(0),
        )?;
        Ok(id as u64)
    }

    /// The oldest `max` events, in order.
    pub fn oldest(&self, max: usize) -> rusqlite::Result<Vec<Event>> {
        let mut statement = self.connection.prepare_cached(
            "SELECT kind, courier, bonus_type, bonus_id, performance FROM outbox
             ORDER BY seq LIMIT ?1",
        )?;
        let rows = statement.query_map([max as i64], |row| {
            let courier = row.get::<_, i64>(1)? as CourierId;
            let kind: String = row.get(0)?;
            Ok(if kind == "bonus" {
                Event::BonusGranted {
                    courier,
                    bonus_type: named(row, 2)?,
                    bonus_id: reference(row, 3)?,
                }
            } else {
                Event::PerformanceChanged {
                    courier,
                    performance: named(row, 4)?,
                }
            })
        })?;
        rows.collect()
    }

    /// Deletes the oldest `count` rows, which the stream acknowledged.
    pub fn remove_oldest(&mut self, count: usize) -> rusqlite::Result<()> {
        let deleted = self.connection.execute(
            "DELETE FROM outbox WHERE seq IN (SELECT seq FROM outbox ORDER BY seq LIMIT ?1)",
            [count as i64],
        )?;
        self.rows -= deleted.min(self.rows);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use common::api::Reference;
    use common::{BonusType, Performance};

    fn bonus(n: u64) -> Event {
        Event::BonusGranted {
            courier: n,
            bonus_type: BonusType::Big,
            bonus_id: Reference::parse(&format!("b-{n}")).unwrap(),
        }
    }

    /// Facts and events committed together are both there after a `kill -9`
    /// (the table is never dropped, so never closed), with their ids.
    #[test]
    fn facts_and_their_events_survive_a_crash_together() {
        let dir = tempfile::tempdir().unwrap();
        let (mut table, records) = OutboxTable::open(dir.path()).unwrap();
        assert!(records.grants.is_empty());
        let rated = Event::PerformanceChanged {
            courier: 1,
            performance: Performance::High,
        };
        for event in [bonus(1), rated.clone(), bonus(2)] {
            table.append(&event).unwrap();
        }
        table.remove_oldest(1).unwrap();
        std::mem::forget(table);

        let (mut table, records) = OutboxTable::open(dir.path()).unwrap();
        assert_eq!(records.grants.len(), 2, "both grants, published or not");
        assert_eq!(records.performance, vec![(1, Performance::High)]);
        assert_eq!(table.len(), 2);
        assert_eq!(table.oldest_id().unwrap(), 1);
        assert_eq!(table.oldest(10).unwrap(), vec![rated, bonus(2)]);
        table.remove_oldest(2).unwrap();
        assert_eq!(table.oldest_id().unwrap(), 3, "the next id, never reused");
        table.append(&bonus(3)).unwrap();
        assert_eq!(table.oldest_id().unwrap(), 3);
    }

    /// A bonus id is a primary key: the same grant cannot be recorded twice,
    /// and the failed transaction leaves no event behind.
    #[test]
    fn a_repeated_grant_writes_neither_row() {
        let dir = tempfile::tempdir().unwrap();
        let (mut table, _) = OutboxTable::open(dir.path()).unwrap();
        table.append(&bonus(1)).unwrap();
        assert!(table.append(&bonus(1)).is_err());
        assert_eq!(table.len(), 1);
        assert_eq!(table.oldest(10).unwrap(), vec![bonus(1)]);
    }
}
