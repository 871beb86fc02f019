//! Where sync-buffered's state lives, and what an Incentives crash costs:
//! the in-memory buffer loses the bonuses it holds, the durable one resends
//! them; and the whole variant on SQLite storage pays and keeps its money.

mod support;

use std::time::Duration;

use common::Money;
use common::store::Storage;
use common::system::{Fault, Service, System};
use support::{config, start};
use sync_variant::{BufferStore, Config, FailurePolicy};

fn buffered(store: BufferStore) -> Config {
    Config {
        buffer_store: store,
        ..config(true, FailurePolicy::Fallback)
    }
}

/// Grants three bonuses while Payments is down (all buffered), crashes
/// Incentives, brings both back, and returns how many were paid.
fn crash_with_a_full_buffer(config: Config) -> (usize, u64) {
    let sys = start(config);
    sys.inject(Fault::Crash(Service::Payments));
    for n in 0..3 {
        assert_eq!(sys.grant_bonus(4, "SMALL", &format!("b-{n}")).status, 202);
    }
    assert_eq!(sys.stats().buffered, 3);
    sys.inject(Fault::Crash(Service::Incentives));
    let after_crash = sys.stats().buffered;
    sys.heal(Fault::Crash(Service::Incentives));
    sys.heal(Fault::Crash(Service::Payments));
    // Ten resend intervals: a durable buffer is drained well within them.
    let resent = || sys.payouts(4).payouts.len() == 3;
    let deadline = std::time::Instant::now() + Duration::from_secs(1);
    while !resent() && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    (sys.payouts(4).payouts.len(), after_crash)
}

/// The article's buffer lives in Incentives' memory: the crash empties it,
/// and the three bonuses answered `202` are never paid.
#[test]
fn the_memory_buffer_loses_its_bonuses_when_incentives_crashes() {
    let (paid, after_crash) = crash_with_a_full_buffer(buffered(BufferStore::Memory));
    assert_eq!(after_crash, 0, "the crash emptied the buffer");
    assert_eq!(paid, 0, "a lost bonus is never paid");
}

/// The durable buffer keeps them through the crash, and the resender pays
/// each once after the restart.
#[test]
fn the_sqlite_buffer_keeps_its_bonuses_through_the_crash() {
    let (paid, after_crash) = crash_with_a_full_buffer(buffered(BufferStore::Sqlite));
    assert_eq!(after_crash, 3, "the table kept them");
    assert_eq!(paid, 3);
}

/// The whole variant on SQLite: money reconciles, and a new system on the same
/// directory (a restart) finds every payout and refuses to pay one again.
#[test]
fn a_sqlite_variant_pays_and_keeps_its_money_across_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let on_disk = Config {
        storage: Storage::Sqlite {
            dir: dir.path().to_path_buf(),
        },
        ..buffered(BufferStore::Sqlite)
    };
    let sys = start(on_disk.clone());
    assert_eq!(sys.set_performance(9, "HIGH").status, 202);
    assert_eq!(sys.grant_bonus(9, "BIG", "b-1").status, 202);
    assert_eq!(sys.pay_delivery(9, "4.5", "d-1").status, 202);
    assert_eq!(sys.pay_delivery(9, "4.5", "d-1").status, 202, "a repeat");
    assert_eq!(sys.payouts(9).total, Money::from_cents(2200 + 495));
    assert_eq!(
        (sys.stats().payouts, sys.stats().duplicates_refused),
        (2, 1)
    );
    assert!(dir.path().join("payments.sqlite").exists());
    assert!(dir.path().join("incentives.sqlite").exists());
    drop(sys);

    let sys = start(on_disk);
    assert_eq!(sys.payouts(9).total, Money::from_cents(2200 + 495));
    assert_eq!(sys.pay_delivery(9, "4.5", "d-1").status, 202);
    assert_eq!(
        (sys.stats().payouts, sys.stats().duplicates_refused),
        (2, 2)
    );
    assert_eq!(sys.payouts(9).payouts.len(), 2, "nothing paid twice");
    assert_eq!(sys.system().internal_errors(), Vec::<String>::new());
}
