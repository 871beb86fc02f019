//! Each edge operation on each variant, without faults: one request at a
//! time from the harness's client (async reqwest on its own runtime), read
//! against the bare hop in `benches/floor.rs`.
//!
//! For the asynchronous variant a bonus's `202` comes before its payment:
//! this measures the edge answer. How fast bonuses get *paid* is a throughput
//! question, answered by `src/bin/throughput.rs` ("async: bonus → paid").
//!
//! Run: `cargo bench -p commlab-benches --bench edge`.

use std::time::Duration;

use commlab_benches::driver::settle;
use commlab_benches::edge::{EdgeOp, start_variant};
use commlab_benches::floor::{async_client, client_runtime};
use commlab_benches::sequential::async_round_trips;
use common::system::Variant;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

fn edge(c: &mut Criterion) {
    let runtime = client_runtime(1).expect("a client runtime");
    let client = async_client().expect("an async client");
    for variant in [Variant::Sync, Variant::Async] {
        let system = start_variant(variant).expect("the variant starts");
        let mut group = c.benchmark_group(format!("edge_{variant}"));
        group
            .warm_up_time(Duration::from_secs(1))
            .measurement_time(Duration::from_secs(3))
            .sample_size(30)
            .throughput(Throughput::Elements(1));
        for op in EdgeOp::ALL {
            let target = op.target(&*system);
            group.bench_function(op.name(), |b| {
                b.iter_custom(|iters| async_round_trips(&runtime, &client, &target, iters))
            });
            // The async consumer pays what the bench left behind; let it
            // finish before the next bench, so no bench measures another's work.
            settle(Some(&*system));
        }
        group.finish();
        system.shutdown();
    }
}

criterion_group!(benches, edge);
criterion_main!(benches);
