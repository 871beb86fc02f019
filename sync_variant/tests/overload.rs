//! A starved pool: when every worker is held by a blocked call, further requests are refused at once (503 overloaded), never queued without bound.

mod support;

use std::time::Duration;

use common::system::{Fault, Service};
use support::{config, start, wait_until};
use sync_variant::{Config, FailurePolicy};

/// Two workers held by calls to a hung Payments, no queue: a bonus and even a performance lookup are refused; after the hang, service resumes.
#[test]
fn held_workers_refuse_new_requests_until_the_hang_ends() {
    let sys = start(Config {
        workers: 2,
        queue: 0,
        // Long enough that the two calls are still held while the test looks;
        // the test never waits for it to pass.
        call_timeout: Duration::from_secs(5),
        ..config(false, FailurePolicy::Fallback)
    });
    sys.inject(Fault::Hang(Service::Payments));

    std::thread::scope(|scope| {
        let held: Vec<_> = ["held-1", "held-2"]
            .map(|id| {
                let sys = &sys;
                scope.spawn(move || sys.grant_bonus(1, "SMALL", id).status)
            })
            .into_iter()
            .collect();
        wait_until("both Incentives workers are held", || {
            sys.stats().busy_workers == 2
        });

        let refused = sys.grant_bonus(1, "SMALL", "refused");
        assert_eq!(refused.status, 503, "{refused:?}");
        assert_eq!(refused.body["error"], "overloaded", "{refused:?}");
        // Thread-per-request: a lookup that makes no call needs a worker too.
        let lookup = sys.get(&sys.incentives_url("/incentives/performance/1"));
        assert_eq!(lookup.status, 503, "{lookup:?}");
        assert_eq!(lookup.body["error"], "overloaded", "{lookup:?}");

        sys.heal(Fault::Hang(Service::Payments));
        for call in held {
            // Paid (202) once Payments wakes up, or timed out (504); either
            // way the worker is released.
            let status = call.join().unwrap();
            assert!(status == 202 || status == 504, "{status}");
        }
    });

    wait_until("a bonus succeeds after the hang", || {
        sys.grant_bonus(2, "BIG", "after-hang").status == 202
    });
    assert_eq!(sys.payouts(2).payouts.len(), 1);
    assert_eq!(sys.stats().payouts, sys.payouts(1).payouts.len() as u64 + 1);
}
