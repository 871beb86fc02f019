//! A run's data directory in process mode: the services' SQLite files, in a
//! directory of its own under the system's temporary directory, removed when
//! the run ends unless asked to keep it (to open the files with `sqlite3`).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::Context;

/// Runs started by this process so far: part of each directory's name.
static RUNS: AtomicU64 = AtomicU64::new(0);

/// The directory; removed on drop unless kept.
#[derive(Debug)]
pub struct DataDir {
    path: PathBuf,
    keep: bool,
}

impl DataDir {
    /// `$TMPDIR/commlab-PID-N`, created empty.
    pub fn create(keep: bool) -> anyhow::Result<DataDir> {
        let n = RUNS.fetch_add(1, Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!("commlab-{}-{n}", std::process::id()));
        // A directory left by an earlier process with the same pid.
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path)
            .with_context(|| format!("creating the data directory {}", path.display()))?;
        Ok(DataDir { path, keep })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for DataDir {
    fn drop(&mut self) {
        if self.keep {
            println!(
                "process mode: the services' data is kept in {}",
                self.path.display()
            );
        } else {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}
