//! Bulkheads: defends against one kind of work holding every thread that
//! another kind needs — the cycle that deadlocks the plain sync variant.
//!
//! Without bulkheads each service has one pool. A bonus holds an Incentives
//! worker while it waits for Payments, and Payments, to pay it, asks Incentives
//! for the courier's performance — which needs *another* Incentives worker. When
//! bonuses hold them all, the lookups wait behind the bonuses that wait for the
//! lookups, until call timeouts break the cycle (`wrk` on 16 connections: 72
//! requests/s instead of thousands).
//!
//! With bulkheads each service has a second, separate bounded pool for the
//! work that never calls out, the kind its peer depends on:
//!
//! | service | main pool (may call the peer) | bulkhead pool (never calls out) |
//! | --- | --- | --- |
//! | Incentives | bonuses | the performance book: Payments' lookups and the edge's updates |
//! | Payments | deliveries | bonus payments, which Incentives' bonuses wait on |
//!
//! So a bonus waiting on Payments can never starve the lookup Payments needs,
//! and a flood of deliveries cannot starve the payments of bonuses. The
//! ship's-hull image is Nygard's (*Release It!*).

use std::io;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use serde::{Deserialize, Serialize};

use crate::pool::{Pool, Process};
use crate::shedding::Discipline;

/// The bulkhead pools' size, in each service.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct BulkheadConfig {
    /// Workers of the second pool. Default 8: its work is a map read or
    /// write, or one payment, microseconds each; 8 absorbs bursts while the
    /// main pool keeps its 16.
    pub workers: usize,
    /// Its queue (FIFO; with shedding on, shedding's LIFO bound applies).
    /// Default 32, 4 × its workers like the main pool's.
    pub queue: usize,
}

impl Default for BulkheadConfig {
    fn default() -> BulkheadConfig {
        BulkheadConfig {
            workers: 8,
            queue: 32,
        }
    }
}

/// How one pool is shaped: workers, queue and its order.
#[derive(Clone, Copy, Debug)]
pub struct PoolShape {
    pub workers: usize,
    pub queue: usize,
    pub discipline: Discipline,
}

/// A service's pools: `main` for its edge work, `side` for the work that
/// never calls out — the same pool as `main` without bulkheads.
#[derive(Clone, Debug)]
pub struct Pools {
    pub main: Arc<Pool>,
    pub side: Arc<Pool>,
    separate: bool,
}

impl Pools {
    /// Starts the main pool and, when `side` is given, the bulkhead pool.
    pub fn start(
        names: [&'static str; 2],
        main: PoolShape,
        side: Option<PoolShape>,
        process: &Arc<Process>,
    ) -> io::Result<Pools> {
        let start = |name, shape: PoolShape| {
            Pool::start(
                name,
                shape.workers,
                shape.queue,
                shape.discipline,
                process.clone(),
            )
            .map(Arc::new)
        };
        let main_pool = start(names[0], main)?;
        let (side_pool, separate) = match side {
            Some(shape) => (start(names[1], shape)?, true),
            None => (main_pool.clone(), false),
        };
        Ok(Pools {
            main: main_pool,
            side: side_pool,
            separate,
        })
    }

    fn each(&self) -> impl Iterator<Item = &Arc<Pool>> {
        std::iter::once(&self.main).chain(self.separate.then_some(&self.side))
    }

    pub fn busy(&self) -> u64 {
        self.each().map(|p| p.busy()).sum()
    }

    /// Jobs waiting for a worker, over the pools.
    pub fn queued(&self) -> u64 {
        self.each().map(|p| p.queued()).sum()
    }

    /// Requests shed and queued jobs expired, over the pools.
    pub fn shed_and_expired(&self) -> (u64, u64) {
        self.each().fold((0, 0), |(s, e), p| {
            let c = p.counters();
            (
                s + c.shed.load(Ordering::Relaxed),
                e + c.expired.load(Ordering::Relaxed),
            )
        })
    }

    /// Stops every pool (from a plain thread).
    pub fn stop(&self) {
        self.each().for_each(|p| p.stop());
    }
}
