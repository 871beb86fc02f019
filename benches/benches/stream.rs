//! The asynchronous variant's in-process stream, publish → consume across two
//! threads: per event in batches of 1, 64 and 1024, and the round trip of a
//! single event (what one bonus waits for on an idle system). Read against
//! the channel floors in `benches/floor.rs`.
//!
//! Run: `cargo bench -p commlab-benches --bench stream`.

use std::time::Duration;

use commlab_benches::pipeline::{stream_round_trip, stream_throughput};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

/// The batch sizes: one event per call (the relay under a trickle), 64 (a
/// typical relay/consumer batch), 1024 (a backlog being drained).
const BATCHES: [usize; 3] = [1, 64, 1024];

fn stream(c: &mut Criterion) {
    let mut group = c.benchmark_group("stream");
    group
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(30)
        .throughput(Throughput::Elements(1));
    for batch in BATCHES {
        group.bench_function(format!("batch_{batch}"), |b| {
            b.iter_custom(|events| stream_throughput(events, batch))
        });
    }
    group.bench_function("round_trip", |b| b.iter_custom(stream_round_trip));
    group.finish();
}

criterion_group!(benches, stream);
criterion_main!(benches);
