//! The durable resend buffer: a table in Incentives' database
//! (`DIR/incentives.sqlite`), so that a bonus accepted with `202` outlives a
//! crash of Incentives and is resent after the restart.
//!
//! ```sql
//! resend_buffer(seq PRIMARY KEY AUTOINCREMENT, courier, amount_cents, bonus_id)
//! ```
//!
//! `seq` keeps the order bonuses were accepted in (AUTOINCREMENT never reuses
//! a number, even after the front rows were deleted). A bonus is in the table
//! once its insert committed — before the client gets its `202` — and leaves
//! it only after Payments took it: a crash between the two resends it, and
//! Payments' ledger refuses the repeat.
//!
//! The number of rows is kept beside the connection, under the same lock, so
//! that `Stats.buffered` (read many times a second) costs no query.

use std::path::Path;
use std::sync::Mutex;

use common::api::Reference;
use common::domain::lock;
use common::store::{self, StoreError};
use common::{CourierId, Money};
use rusqlite::{Connection, OptionalExtension, params};

use super::{KeepError, Queue, UnpaidBonus};

const SCHEMA: &str = "
    CREATE TABLE IF NOT EXISTS resend_buffer (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        courier INTEGER NOT NULL,
        amount_cents INTEGER NOT NULL,
        bonus_id TEXT NOT NULL
    );
";

/// The buffer's table, and how many rows it holds.
#[derive(Debug)]
pub struct SqliteQueue {
    inner: Mutex<(Connection, usize)>,
}

impl SqliteQueue {
    /// Opens the buffer in `dir`, with every bonus a previous process left.
    pub fn open(dir: &Path) -> Result<SqliteQueue, StoreError> {
        let named = StoreError::naming("Incentives' resend buffer (SQLite)");
        let connection = store::open(dir, "incentives").map_err(&named)?;
        connection.execute_batch(SCHEMA).map_err(&named)?;
        let rows: i64 = connection
            .query_row("SELECT count(*) FROM resend_buffer", [], |row| row.get(0))
            .map_err(&named)?;
        Ok(SqliteQueue {
            inner: Mutex::new((connection, rows as usize)),
        })
    }
}

impl Queue for SqliteQueue {
    fn push(&self, bonus: UnpaidBonus, capacity: usize) -> Result<(), KeepError> {
        let mut inner = lock(&self.inner);
        let (connection, rows) = &mut *inner;
        if *rows >= capacity {
            return Err(KeepError::Full { capacity });
        }
        connection
            .execute(
                "INSERT INTO resend_buffer (courier, amount_cents, bonus_id) VALUES (?1, ?2, ?3)",
                params![
                    bonus.courier as i64,
                    bonus.amount.cents() as i64,
                    bonus.bonus_id.as_str()
                ],
            )
            .map_err(|error| KeepError::Store(error.to_string()))?;
        *rows += 1;
        Ok(())
    }

    fn len(&self) -> usize {
        lock(&self.inner).1
    }

    fn front(&self) -> Result<Option<UnpaidBonus>, String> {
        let inner = lock(&self.inner);
        let row: Option<(i64, i64, String)> = inner
            .0
            .query_row(
                "SELECT courier, amount_cents, bonus_id FROM resend_buffer ORDER BY seq LIMIT 1",
                [],
                |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
            )
            .optional()
            .map_err(|error| error.to_string())?;
        let Some((courier, cents, bonus_id)) = row else {
            return Ok(None);
        };
        let bonus_id = Reference::parse(&bonus_id)
            .map_err(|error| format!("bonus id {bonus_id:?} in the table: {error}"))?;
        Ok(Some(UnpaidBonus {
            courier: courier as CourierId,
            amount: Money::from_cents(cents as u64),
            bonus_id,
        }))
    }

    fn pop_front(&self) -> Result<(), String> {
        let mut inner = lock(&self.inner);
        let (connection, rows) = &mut *inner;
        let deleted = connection
            .execute(
                "DELETE FROM resend_buffer WHERE seq = (SELECT min(seq) FROM resend_buffer)",
                [],
            )
            .map_err(|error| error.to_string())?;
        *rows -= deleted.min(*rows);
        Ok(())
    }

    /// The table is on disk: a crash of the process loses nothing.
    fn lose(&self) -> usize {
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bonus(n: u64) -> UnpaidBonus {
        UnpaidBonus {
            courier: n,
            amount: Money::from_units(n),
            bonus_id: Reference::parse(&format!("b-{n}")).unwrap(),
        }
    }

    #[test]
    fn what_was_buffered_survives_a_crash_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let queue = SqliteQueue::open(dir.path()).unwrap();
        for n in 1..=3 {
            queue.push(bonus(n), 10).unwrap();
        }
        queue.pop_front().unwrap();
        assert_eq!(queue.lose(), 0);
        // kill -9: never dropped, never closed.
        std::mem::forget(queue);

        let queue = SqliteQueue::open(dir.path()).unwrap();
        assert_eq!(queue.len(), 2);
        assert_eq!(queue.front().unwrap(), Some(bonus(2)));
        queue.pop_front().unwrap();
        assert_eq!(queue.front().unwrap(), Some(bonus(3)));
        queue.pop_front().unwrap();
        assert_eq!(queue.front().unwrap(), None);
        assert_eq!(queue.len(), 0);
    }

    #[test]
    fn a_full_table_refuses() {
        let dir = tempfile::tempdir().unwrap();
        let queue = SqliteQueue::open(dir.path()).unwrap();
        queue.push(bonus(1), 1).unwrap();
        assert!(matches!(
            queue.push(bonus(2), 1),
            Err(KeepError::Full { capacity: 1 })
        ));
        assert_eq!(queue.len(), 1);
    }
}
