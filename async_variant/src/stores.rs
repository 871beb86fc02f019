//! Where the asynchronous variant's services keep their state, chosen at
//! start by [`Config::storage`] (`common::store` says what each choice keeps
//! through a crash):
//!
//! - Payments' ledger in memory, or in `DIR/payments.sqlite` with its unique
//!   key on (kind, reference) — what makes at-least-once delivery safe, now
//!   across a restart too.
//! - Incentives' outbox, grants and performance book in memory, or in
//!   `DIR/incentives.sqlite`, the fact and its event in one transaction.
//! - Payments' consumer's committed position and performance copy: in the
//!   stream (and rebuilt from it), or in `DIR/payments.sqlite`, the position
//!   and the copy in one transaction (`checkpoint.rs`).
//!
//! Next: `common/src/ledger.rs`, `outbox/table.rs`, `checkpoint.rs`.

use std::io;
use std::sync::Arc;

use common::faults::ServiceFaults;
use common::ledger::Ledger;
use common::records::Records;
use common::store::Storage;

use crate::Config;
use crate::backend::Backend;
use crate::checkpoint::Checkpoint;
use crate::outbox::{Outbox, OutboxTable};
use crate::stream::EventStream;

/// Payments' ledger as `config` asks (`common::ledger::open`).
pub(crate) fn open_ledger(
    config: &Config,
    faults: &Arc<ServiceFaults>,
) -> io::Result<Arc<dyn Ledger>> {
    common::ledger::open(&config.storage, config.idempotent, faults)
}

/// Incentives' outbox and the records it was opened with.
pub(crate) fn open_outbox(
    config: &Config,
    faults: &Arc<ServiceFaults>,
) -> io::Result<(Arc<Outbox>, Records)> {
    Ok(match &config.storage {
        Storage::Memory => (
            Arc::new(Outbox::new(config.outbox_capacity)),
            Records::default(),
        ),
        Storage::Sqlite { dir } => {
            std::fs::create_dir_all(dir)?;
            let (table, records) = OutboxTable::open(dir)?;
            let outbox = Outbox::on_table(config.outbox_capacity, table, faults.clone());
            (Arc::new(outbox), records)
        }
    })
}

/// Payments' consumer checkpoint on SQLite storage (`None` in memory: the
/// position stays in the stream), for the log `backend` carries.
pub(crate) fn open_checkpoint(
    config: &Config,
    backend: &Backend,
    faults: &Arc<ServiceFaults>,
) -> io::Result<Option<Arc<Checkpoint>>> {
    Ok(match &config.storage {
        Storage::Memory => None,
        Storage::Sqlite { dir } => {
            std::fs::create_dir_all(dir)?;
            let checkpoint = Checkpoint::open(dir, backend.log_name(), faults.clone())?;
            Some(Arc::new(checkpoint))
        }
    })
}

/// A new connection for a (re)starting consumer, committing into
/// `checkpoint` when there is one.
pub(crate) fn consumer_stream(
    backend: &Backend,
    checkpoint: Option<&Arc<Checkpoint>>,
) -> io::Result<Arc<dyn EventStream>> {
    let stream = backend.consumer_stream()?;
    Ok(match checkpoint {
        Some(checkpoint) => checkpoint.over(stream),
        None => stream,
    })
}
