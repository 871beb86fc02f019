//! Payments' ledger in SQLite: the same rules as [`MemoryLedger`], kept in a
//! table that survives `kill -9` (`common::store` says what WAL and
//! `synchronous = NORMAL` keep).
//!
//! ```sql
//! payouts(seq PRIMARY KEY, courier, kind, reference, amount_asked_cents, record)
//! UNIQUE (kind, reference)        -- only with idempotency: the lesson mode has none
//! ledger_counts(made, duplicates_refused)
//! ```
//!
//! What makes a reference pay once is the **unique key** on (kind,
//! reference), not this code's check: a second insert of the same key fails
//! inside the database, whichever process or restart attempts it. The check
//! before the insert, in the same transaction, only chooses the answer (a
//! repeat, or a conflict naming the first request). The counts are updated
//! in the payout's own transaction, so they always agree with the table.
//!
//! `record` is the payout exactly as `GET /payments/{courierId}` shows it
//! (JSON), so both ledgers answer byte for byte alike; the columns beside it
//! are the keys the database checks and searches.
//!
//! [`MemoryLedger`]: super::MemoryLedger

use std::path::Path;
use std::sync::{Arc, Mutex};

use rusqlite::{Connection, OptionalExtension, Transaction, params};

use super::{AppliedPerformance, Ledger, PayOutcome, payout, view};
use crate::api::{PaymentRef, Payout, PayoutsView};
use crate::domain::{CourierId, adjusted_amount, lock};
use crate::faults::ServiceFaults;
use crate::money::Money;
use crate::store::{self, StoreError};

const SCHEMA: &str = "
    CREATE TABLE IF NOT EXISTS payouts (
        seq INTEGER PRIMARY KEY,
        courier INTEGER NOT NULL,
        kind TEXT NOT NULL,
        reference TEXT NOT NULL,
        amount_asked_cents INTEGER NOT NULL,
        record TEXT NOT NULL
    );
    CREATE INDEX IF NOT EXISTS payouts_by_courier ON payouts (courier, seq);
    CREATE TABLE IF NOT EXISTS ledger_counts (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        made INTEGER NOT NULL,
        duplicates_refused INTEGER NOT NULL
    );
    INSERT OR IGNORE INTO ledger_counts VALUES (1, 0, 0);
";

/// The key that makes a reference pay once.
const UNIQUE_KEY: &str =
    "CREATE UNIQUE INDEX IF NOT EXISTS payouts_once ON payouts (kind, reference)";

/// The name failures are recorded under.
const STORE: &str = "Payments' ledger (SQLite)";

/// The ledger in `DIR/payments.sqlite`.
#[derive(Debug)]
pub struct SqliteLedger {
    /// One connection, one writer at a time: SQLite serialises writers anyway.
    connection: Mutex<Connection>,
    idempotent: bool,
    /// Payments' own: a failure of the database is an internal error of the
    /// run, never a property of the design.
    faults: Arc<ServiceFaults>,
}

impl SqliteLedger {
    /// Opens the ledger in `dir`, with what was committed before. Refuses a
    /// file that has the unique key when `idempotent` is off: that ledger
    /// could not pay a repeat, and the lesson would silently not happen.
    pub fn open(
        dir: &Path,
        idempotent: bool,
        faults: Arc<ServiceFaults>,
    ) -> Result<SqliteLedger, StoreError> {
        let named = StoreError::naming(STORE);
        let connection = store::open(dir, "payments").map_err(&named)?;
        connection.execute_batch(SCHEMA).map_err(&named)?;
        if idempotent {
            connection.execute_batch(UNIQUE_KEY).map_err(&named)?;
        } else if has_unique_key(&connection).map_err(&named)? {
            let message = "the file has the unique key on (kind, reference); \
                           the lesson without idempotency needs a fresh data dir";
            return Err(named(rusqlite::Error::InvalidParameterName(message.into())));
        }
        Ok(SqliteLedger {
            connection: Mutex::new(connection),
            idempotent,
            faults,
        })
    }

    fn record_failure(&self, error: &rusqlite::Error) -> String {
        store::record_failure(&self.faults, STORE, error)
    }

    /// One transaction: the check, the insert and the counts, or nothing.
    fn pay_in(
        &self,
        tx: Transaction<'_>,
        courier: CourierId,
        amount: Money,
        reference: &PaymentRef,
        record: Payout,
    ) -> rusqlite::Result<PayOutcome> {
        let kind = kind_text(reference);
        let id = reference.id.as_str();
        if self.idempotent {
            let first: Option<(i64, i64)> = tx
                .query_row(
                    "SELECT courier, amount_asked_cents FROM payouts
                     WHERE kind = ?1 AND reference = ?2",
                    params![kind, id],
                    |row| Ok((row.get(0)?, row.get(1)?)),
                )
                .optional()?;
            if let Some((first_courier, first_cents)) = first {
                let (first_courier, first_amount) = (
                    first_courier as CourierId,
                    Money::from_cents(first_cents as u64),
                );
                if (first_courier, first_amount) != (courier, amount) {
                    return Ok(PayOutcome::Conflict {
                        reference: reference.clone(),
                        courier: first_courier,
                        amount: first_amount,
                    });
                }
                tx.execute(
                    "UPDATE ledger_counts SET duplicates_refused = duplicates_refused + 1",
                    [],
                )?;
                tx.commit()?;
                return Ok(PayOutcome::AlreadyPaid);
            }
        }
        let paid = record.amount_paid;
        let json = serde_json::to_string(&record).expect("a payout always serialises");
        tx.execute(
            "INSERT INTO payouts (courier, kind, reference, amount_asked_cents, record)
             VALUES (?1, ?2, ?3, ?4, ?5)",
            params![courier as i64, kind, id, amount.cents() as i64, json],
        )?;
        tx.execute("UPDATE ledger_counts SET made = made + 1", [])?;
        tx.commit()?;
        Ok(PayOutcome::Paid(paid))
    }

    fn read_payouts(&self, courier: CourierId) -> rusqlite::Result<Vec<Payout>> {
        let connection = lock(&self.connection);
        let mut statement = connection
            .prepare_cached("SELECT record FROM payouts WHERE courier = ?1 ORDER BY seq")?;
        let rows = statement.query_map([courier as i64], |row| row.get::<_, String>(0))?;
        let mut payouts = Vec::new();
        for json in rows {
            let json = json?;
            let payout = serde_json::from_str(&json).map_err(|error| {
                rusqlite::Error::FromSqlConversionFailure(
                    0,
                    rusqlite::types::Type::Text,
                    error.into(),
                )
            })?;
            payouts.push(payout);
        }
        Ok(payouts)
    }

    fn read_counts(&self) -> rusqlite::Result<(u64, u64)> {
        let connection = lock(&self.connection);
        connection.query_row(
            "SELECT made, duplicates_refused FROM ledger_counts",
            [],
            |row| Ok((row.get::<_, i64>(0)? as u64, row.get::<_, i64>(1)? as u64)),
        )
    }
}

impl Ledger for SqliteLedger {
    fn pay(
        &self,
        courier: CourierId,
        amount: Money,
        reference: &PaymentRef,
        applied: AppliedPerformance,
    ) -> PayOutcome {
        // As in memory: the edge caps amounts, so this refusal is a guard.
        let Some(paid) = adjusted_amount(amount, applied.performance) else {
            return PayOutcome::Overflow;
        };
        let record = payout(reference, amount, applied, paid);
        let mut connection = lock(&self.connection);
        // IMMEDIATE: the write lock at BEGIN, waiting out another writer on
        // the file (`store::immediate`).
        let outcome = store::immediate(&mut connection)
            .and_then(|tx| self.pay_in(tx, courier, amount, reference, record));
        drop(connection);
        outcome.unwrap_or_else(|error| PayOutcome::Failed(self.record_failure(&error)))
    }

    /// A failed read answers no payouts, and is an internal error of the run:
    /// the reconciliation that read it is not evidence.
    fn payouts(&self, courier: CourierId) -> PayoutsView {
        let payouts = self.read_payouts(courier).unwrap_or_else(|error| {
            self.record_failure(&error);
            Vec::new()
        });
        view(courier, payouts)
    }

    fn counts(&self) -> (u64, u64) {
        self.read_counts().unwrap_or_else(|error| {
            self.record_failure(&error);
            (0, 0)
        })
    }
}

fn kind_text(reference: &PaymentRef) -> &'static str {
    match reference.kind {
        crate::api::PayoutKind::Bonus => "bonus",
        crate::api::PayoutKind::Delivery => "delivery",
    }
}

fn has_unique_key(connection: &Connection) -> rusqlite::Result<bool> {
    connection.query_row(
        "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name = 'payouts_once'",
        [],
        |row| row.get::<_, i64>(0).map(|n| n > 0),
    )
}
