//! The load generator and the stream pipelines do the work they claim, on real
//! sockets and threads. Outcomes only (counts), never timings.

use std::time::Duration;

use commlab_benches::driver::Driver;
use commlab_benches::floor::FloorServer;
use commlab_benches::pipeline::{
    channel_round_trip, channel_throughput, stream_round_trip, stream_throughput,
};

/// Every scheduled request of a gentle step is sent and answered `2xx`.
#[test]
fn a_gentle_step_on_the_floor_is_answered_in_full() {
    let server = FloorServer::start().unwrap();
    let driver = Driver::new(1).unwrap();
    let step = driver.step(&server.target(), 400.0, Duration::from_millis(500));
    server.stop();
    assert_eq!(step.scheduled, 200);
    assert_eq!(step.ok, 200, "{step:?}");
    assert_eq!((step.failed, step.shed, step.unfinished), (0, 0, 0));
    assert_eq!(step.latency_us.len(), 200);
}

/// A step against a closed port fails every request instead of hanging.
#[test]
fn a_step_against_nothing_fails_every_request() {
    let server = FloorServer::start().unwrap();
    let target = server.target();
    server.stop();
    std::thread::sleep(Duration::from_millis(100));
    let driver = Driver::new(1).unwrap();
    let step = driver.step(&target, 200.0, Duration::from_millis(250));
    assert_eq!(step.ok, 0);
    assert_eq!(step.failed + step.unfinished, step.scheduled);
}

/// The pipelines move every event (they panic if one goes missing) for each
/// batch size, including a last batch that is not full.
#[test]
fn pipelines_deliver_every_event() {
    for batch in [1, 64, 1024] {
        stream_throughput(5_000, batch);
    }
    channel_throughput(5_000);
    stream_round_trip(200);
    channel_round_trip(200);
}

/// No request leaves before its scheduled time: the dispatcher hands each one
/// to the runtime early (`load/clock.rs`), and its task must wait out the rest.
/// Checked request by request on what the engine recorded, at a rate where
/// most hand-offs are early.
#[test]
fn no_request_is_sent_before_its_scheduled_time() {
    use std::sync::atomic::{AtomicBool, AtomicU64};
    use std::time::Instant;

    use commlab::load::engine::{self, Limits, Shot};

    let server = FloorServer::start().unwrap();
    let posts = server.target().posts();
    let runtime = commlab::load::runtime(1).unwrap();
    // 500 requests, one every 700 µs: more than the hand-off's lead apart.
    let shots: Vec<Shot> = (0..500)
        .map(|n| Shot {
            at_us: 1_000 + n * 700,
            post: n as usize % posts.len(),
        })
        .collect();
    let limits = Limits {
        connections: 16,
        max_in_flight: 256,
    };
    let (never, dispatched) = (AtomicBool::new(false), AtomicU64::new(0));
    let records = engine::play(
        runtime.handle(),
        posts,
        &shots,
        Instant::now(),
        limits,
        &never,
        &dispatched,
    );
    server.stop();
    for (shot, record) in shots.iter().zip(&records) {
        let record = record.expect("every shot is dispatched");
        assert!(record.is_success(), "{record:?}");
        assert!(
            record.sent_us >= shot.at_us,
            "sent at {} µs, due at {} µs",
            record.sent_us,
            shot.at_us
        );
    }
}
