//! Where the synchronous variant's services keep their state, chosen at start
//! by [`Config::storage`] and [`Config::buffer_store`] (`common::store` says
//! what each choice keeps through a crash):
//!
//! - Payments' ledger: in memory, or in `DIR/payments.sqlite`.
//! - Incentives' records of bonuses and performance: in memory, or also in
//!   `DIR/incentives.sqlite` (`common::records`), loaded at start.
//! - sync-buffered's resend buffer: in memory (the article's workaround, lost
//!   when Incentives crashes) or in `DIR/incentives.sqlite`. A durable buffer
//!   with memory storage (the in-process default) gets a fresh temporary
//!   directory, removed at shutdown: durable across a crash within the run,
//!   gone after it.
//!
//! Next: `buffer.rs`, and `common/src/ledger.rs`.

use std::io;
use std::path::Path;
use std::sync::Arc;

use common::faults::ServiceFaults;
use common::ledger::Ledger;
use common::records::{Records, RecordsTable};
use common::store::Storage;
use tempfile::TempDir;

use crate::Config;
use crate::buffer::{BufferStore, MemoryQueue, Queue, ResendBuffer, SqliteQueue};

/// Payments' ledger as `config` asks (`common::ledger::open`).
pub(crate) fn ledger(config: &Config, faults: &Arc<ServiceFaults>) -> io::Result<Arc<dyn Ledger>> {
    common::ledger::open(&config.storage, config.idempotent, faults)
}

/// Incentives' records as a previous process left them, and the table to
/// write them to (`None`, and nothing to load, in memory).
pub(crate) fn records(
    config: &Config,
    faults: &Arc<ServiceFaults>,
) -> io::Result<(Records, Option<RecordsTable>)> {
    Ok(match &config.storage {
        Storage::Memory => (Records::default(), None),
        Storage::Sqlite { dir } => {
            std::fs::create_dir_all(dir)?;
            let (table, records) = RecordsTable::open(dir, faults.clone())?;
            (records, Some(table))
        }
    })
}

/// sync-buffered's resend buffer (`None` in the other variants), and the
/// temporary directory a durable buffer with memory storage lives in: the
/// caller drops it after the services stopped, which removes it.
pub(crate) fn buffer(
    config: &Config,
    faults: &Arc<ServiceFaults>,
) -> io::Result<(Option<Arc<ResendBuffer>>, Option<TempDir>)> {
    if !config.buffered {
        return Ok((None, None));
    }
    let mut temp_dir = None;
    let queue: Box<dyn Queue> = match (config.buffer_store, &config.storage) {
        (BufferStore::Memory, _) => Box::new(MemoryQueue::default()),
        (BufferStore::Sqlite, Storage::Sqlite { dir }) => {
            std::fs::create_dir_all(dir)?;
            durable(dir)?
        }
        (BufferStore::Sqlite, Storage::Memory) => {
            let dir = tempfile::Builder::new()
                .prefix("commlab-buffer-")
                .tempdir()?;
            let queue = durable(dir.path())?;
            temp_dir = Some(dir);
            queue
        }
    };
    let buffer = ResendBuffer::new(queue, config.buffer_capacity, faults.clone());
    Ok((Some(Arc::new(buffer)), temp_dir))
}

fn durable(dir: &Path) -> io::Result<Box<dyn Queue>> {
    Ok(Box::new(SqliteQueue::open(dir)?))
}
