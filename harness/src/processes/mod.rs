//! Process mode (`commlab run --processes`): each service of a variant its
//! own process, so that a crash is `kill -9` and a hang is SIGSTOP.
//!
//! Next: `child.rs` (one supervised process).

pub mod child;
