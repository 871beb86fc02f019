//! Load shedding: defends against a queue that serves everyone too late.
//!
//! A pool's queue decides who waits and who is refused when requests arrive
//! faster than workers free up. The plain variant's queue is FIFO: under
//! overload every request waits behind all the others, and once the wait
//! exceeds what clients will tolerate, *every* answer is too late — the pool
//! is busy and useless, the metastable state of the overload scenario.
//!
//! With shedding on, the queue is a **bounded LIFO**: the newest request is
//! served first, and when the queue is full the *oldest* waiting request is
//! refused `503 overloaded` to make room. Under overload the requests that are
//! served are the ones whose callers are still waiting (most budget left),
//! and the ones refused are those least likely to be answered in time anyway;
//! together with deadlines (`deadline.rs`), which drop what has expired, the
//! pool never spends a worker on a request nobody waits for. When there is no
//! overload the queue is empty and the order does not matter. Facebook's
//! "adaptive LIFO" (Maurer, *Fail at Scale*, 2015) does the same.
//!
//! Why this and not an adaptive concurrency limit (Netflix's
//! `concurrency-limits`, gradient/Vegas): a limit that adapts to latency needs
//! a latency target and a smoothing window to tune, and on a 2-core machine
//! shared with a load generator latency moves with CPU contention, not only
//! with the pool — the limit would chase noise. A LIFO with a bound has one
//! knob, needs no measurement, and cannot shrink throughput on the happy path.
//!
//! The same queue with FIFO order is what every plain pool uses (`pool.rs`).

use std::collections::VecDeque;
use std::sync::{Condvar, Mutex};

use common::domain::lock;
use serde::{Deserialize, Serialize};

/// The shedding mechanism's parameters.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SheddingConfig {
    /// Requests each pool keeps waiting, newest first. Default 16, one per
    /// worker: a request further back would wait at least two service times,
    /// and the plain variant's 64 is what lets its queue fill with requests
    /// whose clients are gone.
    pub queue: usize,
}

impl Default for SheddingConfig {
    fn default() -> SheddingConfig {
        SheddingConfig { queue: 16 }
    }
}

/// Which waiting request a worker takes next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Discipline {
    /// First come, first served; a full queue refuses the newcomer.
    Fifo,
    /// Newest first; a full queue refuses its oldest to take the newcomer.
    Lifo,
}

/// What [`JobQueue::push`] did.
#[derive(Debug)]
pub enum Pushed<T> {
    Queued,
    /// FIFO and full: the new item is refused (returned).
    Refused(T),
    /// LIFO and full: the new item is queued and the oldest was pushed out
    /// (returned, to be answered `503`).
    Evicted(T),
    /// The queue is closed: the item is returned.
    Closed(T),
}

/// A bounded queue of work shared by a pool's workers.
pub struct JobQueue<T> {
    state: Mutex<State<T>>,
    ready: Condvar,
    capacity: usize,
    discipline: Discipline,
}

struct State<T> {
    items: VecDeque<T>,
    /// Workers blocked in `pop`: each can take one item beyond `capacity`
    /// (a queue of 0 still hands work to an idle worker).
    idle: usize,
    closed: bool,
}

impl<T> std::fmt::Debug for JobQueue<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JobQueue")
            .field("queued", &lock(&self.state).items.len())
            .field("capacity", &self.capacity)
            .field("discipline", &self.discipline)
            .finish()
    }
}

impl<T> JobQueue<T> {
    pub fn new(capacity: usize, discipline: Discipline) -> JobQueue<T> {
        JobQueue {
            state: Mutex::new(State {
                items: VecDeque::new(),
                idle: 0,
                closed: false,
            }),
            ready: Condvar::new(),
            capacity,
            discipline,
        }
    }

    pub fn push(&self, item: T) -> Pushed<T> {
        let mut state = lock(&self.state);
        if state.closed {
            return Pushed::Closed(item);
        }
        let room = self.capacity + state.idle;
        let outcome = if state.items.len() < room {
            Pushed::Queued
        } else {
            match (self.discipline, state.items.pop_front()) {
                (Discipline::Lifo, Some(oldest)) => Pushed::Evicted(oldest),
                (_, Some(front)) => {
                    state.items.push_front(front);
                    return Pushed::Refused(item);
                }
                (_, None) => return Pushed::Refused(item),
            }
        };
        state.items.push_back(item);
        drop(state);
        self.ready.notify_one();
        outcome
    }

    /// Items waiting for a worker.
    pub fn len(&self) -> usize {
        lock(&self.state).items.len()
    }

    /// Blocks until there is an item (taken by the discipline's order) or the
    /// queue is closed (`None`).
    pub fn pop(&self) -> Option<T> {
        let mut state = lock(&self.state);
        loop {
            let next = match self.discipline {
                Discipline::Fifo => state.items.pop_front(),
                Discipline::Lifo => state.items.pop_back(),
            };
            if next.is_some() {
                return next;
            }
            if state.closed {
                return None;
            }
            state.idle += 1;
            state = self.ready.wait(state).unwrap_or_else(|e| e.into_inner());
            state.idle -= 1;
        }
    }

    /// Closes the queue and wakes every idle worker, which then exits. Items
    /// still queued are returned to the caller (dropping one drops its answer).
    pub fn close(&self) -> Vec<T> {
        let mut state = lock(&self.state);
        state.closed = true;
        let left = state.items.drain(..).collect();
        drop(state);
        self.ready.notify_all();
        left
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fifo_refuses_the_newcomer_and_serves_in_order() {
        let q = JobQueue::new(2, Discipline::Fifo);
        assert!(matches!(q.push(1), Pushed::Queued));
        assert!(matches!(q.push(2), Pushed::Queued));
        assert!(matches!(q.push(3), Pushed::Refused(3)));
        assert_eq!(q.pop(), Some(1));
        assert_eq!(q.pop(), Some(2));
    }

    #[test]
    fn lifo_serves_the_newest_and_pushes_out_the_oldest() {
        let q = JobQueue::new(2, Discipline::Lifo);
        q.push(1);
        q.push(2);
        assert!(matches!(q.push(3), Pushed::Evicted(1)));
        assert_eq!(q.pop(), Some(3));
        assert_eq!(q.pop(), Some(2));
        assert!(q.close().is_empty());
        assert_eq!(q.pop(), None);
        assert!(matches!(q.push(4), Pushed::Closed(4)));
    }
}
