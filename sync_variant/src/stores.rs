//! Where the synchronous variant's services keep their state, chosen at start
//! by [`Config::storage`] and [`Config::buffer_store`] (`common::store` says
//! what each choice keeps through a crash):
//!
//! - Payments' ledger: in memory, or in `DIR/payments.sqlite`.
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

use common::edges::Edges;
use common::ledger::{Ledger, MemoryLedger, SqliteLedger};
use common::store::Storage;
use tempfile::TempDir;

use crate::Config;
use crate::buffer::{BufferStore, MemoryQueue, Queue, ResendBuffer, SqliteQueue};

/// The stores one run of the variant uses.
#[derive(Debug)]
pub(crate) struct Stores {
    pub ledger: Arc<dyn Ledger>,
    /// `Some` in sync-buffered only.
    pub buffer: Option<Arc<ResendBuffer>>,
    /// The durable buffer's directory when the storage is memory; removed
    /// when dropped, after the services stopped.
    pub temp_dir: Option<TempDir>,
}

/// Opens every store `config` asks for; what a previous process committed
/// under the same directory is there.
pub(crate) fn open(config: &Config, edges: &Edges) -> io::Result<Stores> {
    let ledger: Arc<dyn Ledger> = match &config.storage {
        Storage::Memory => Arc::new(MemoryLedger::new(config.idempotent)),
        Storage::Sqlite { dir } => {
            std::fs::create_dir_all(dir)?;
            let faults = edges.payments_faults.clone();
            Arc::new(SqliteLedger::open(dir, config.idempotent, faults)?)
        }
    };
    let mut temp_dir = None;
    let buffer = if config.buffered {
        let queue: Box<dyn Queue> = match (config.buffer_store, &config.storage) {
            (BufferStore::Memory, _) => Box::new(MemoryQueue::default()),
            (BufferStore::Sqlite, Storage::Sqlite { dir }) => durable(dir)?,
            (BufferStore::Sqlite, Storage::Memory) => {
                let dir = tempfile::Builder::new()
                    .prefix("commlab-buffer-")
                    .tempdir()?;
                let queue = durable(dir.path())?;
                temp_dir = Some(dir);
                queue
            }
        };
        let faults = edges.incentives_faults.clone();
        Some(Arc::new(ResendBuffer::new(
            queue,
            config.buffer_capacity,
            faults,
        )))
    } else {
        None
    };
    Ok(Stores {
        ledger,
        buffer,
        temp_dir,
    })
}

fn durable(dir: &Path) -> io::Result<Box<dyn Queue>> {
    Ok(Box::new(SqliteQueue::open(dir)?))
}
