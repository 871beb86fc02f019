//! The floors every other benchmark is divided by: one bare HTTP round trip
//! with each client the variants use, and one bare hand-off through the
//! channel type the stream rings its doorbell with.
//!
//! Run: `cargo bench -p commlab-benches --bench floor`; then
//! `cargo run -p commlab-benches --bin ratios` for the table.

use std::time::Duration;

use commlab_benches::floor::{FloorServer, async_client, blocking_client, client_runtime};
use commlab_benches::pipeline::{channel_round_trip, channel_throughput};
use commlab_benches::sequential::{async_round_trips, blocking_round_trip};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

/// Short measurements, so that the whole `cargo bench` takes minutes on 2
/// cores; 30 samples of ~100 ms each keep the 95 % interval within a few
/// percent on a quiet machine.
fn configure(c: &mut Criterion) -> criterion::BenchmarkGroup<'_, criterion::measurement::WallTime> {
    let mut group = c.benchmark_group("floor");
    group
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(30);
    group
}

fn floor(c: &mut Criterion) {
    let server = FloorServer::start().expect("the floor server starts");
    let target = server.target();
    let runtime = client_runtime(1).expect("a client runtime");
    let client = async_client().expect("an async client");
    let blocking = blocking_client().expect("a blocking client");

    let mut group = configure(c);
    group.throughput(Throughput::Elements(1));
    group.bench_function("http_async_client", |b| {
        b.iter_custom(|iters| async_round_trips(&runtime, &client, &target, iters))
    });
    group.bench_function("http_blocking_client", |b| {
        b.iter(|| blocking_round_trip(&blocking, target.get(0)))
    });
    group.bench_function("channel_handoff", |b| b.iter_custom(channel_throughput));
    group.bench_function("channel_round_trip", |b| b.iter_custom(channel_round_trip));
    group.finish();

    drop(blocking);
    server.stop();
}

criterion_group!(benches, floor);
criterion_main!(benches);
