//! Payments hung: bonus calls time out (504) while holding Incentives' workers; the system serves again once the hang ends.

mod support;

use std::sync::atomic::{AtomicBool, Ordering};

use common::system::{Fault, Service};
use support::{config, start, wait_until};
use sync_variant::FailurePolicy;

/// Upper bound on each client's requests while the hang lasts: enough to keep
/// workers held while the test looks, few enough to stay quick.
const MAX_REQUESTS_PER_CLIENT: usize = 50;

/// While Payments hangs, bonuses answer 504 and Incentives' workers are held by the waiting calls.
#[test]
fn payments_hang_holds_workers_and_times_out() {
    let sys = start(config(false, FailurePolicy::Fallback));
    sys.inject(Fault::Hang(Service::Payments));

    let looking = AtomicBool::new(true);
    let statuses: Vec<Vec<u16>> = std::thread::scope(|scope| {
        let clients: Vec<_> = (0..4)
            .map(|client| {
                let (sys, looking) = (&sys, &looking);
                scope.spawn(move || {
                    let mut statuses = Vec::new();
                    for i in 0..MAX_REQUESTS_PER_CLIENT {
                        if !looking.load(Ordering::Relaxed) {
                            break;
                        }
                        let id = format!("hang-{client}-{i}");
                        statuses.push(sys.grant_bonus(1, "SMALL", &id).status);
                    }
                    statuses
                })
            })
            .collect();
        wait_until("workers are held by calls to the hung Payments", || {
            let stats = sys.stats();
            stats.busy_workers > 0 && stats.in_flight_calls > 0
        });
        looking.store(false, Ordering::Relaxed);
        clients.into_iter().map(|c| c.join().unwrap()).collect()
    });

    let statuses: Vec<u16> = statuses.into_iter().flatten().collect();
    assert!(!statuses.is_empty());
    assert!(statuses.iter().all(|&s| s == 504), "{statuses:?}");

    // Once the hang ends, the workers are released and a new bonus is paid.
    sys.heal(Fault::Hang(Service::Payments));
    wait_until("a bonus succeeds after the hang", || {
        sys.grant_bonus(2, "BIG", "after-hang").status == 202
    });
    wait_until("no worker is held", || sys.stats().busy_workers == 0);
    let view = sys.payouts(2);
    assert_eq!(view.payouts.len(), 1, "{view:?}");
}
