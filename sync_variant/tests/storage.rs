//! Where sync-buffered's state lives, and what an Incentives crash costs:
//! the in-memory buffer loses the bonuses it holds, the durable one resends
//! them; the whole variant on SQLite storage pays and keeps its money; and
//! Incentives' records of bonuses and performance survive its crash.

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
    // The listeners bind again asynchronously: wait, or a read races them.
    sys.wait_until_serving();
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

fn on_disk(dir: &std::path::Path, config: Config) -> Config {
    Config {
        storage: Storage::Sqlite {
            dir: dir.to_path_buf(),
        },
        ..config
    }
}

/// Incentives' records outlive a `kill -9` (the system is forgotten, its
/// database never closed): after the restart a repeated bonus id is answered
/// `202` without calling Payments — which is down, so a new id fails — a
/// reused one is `409`, and the performance is the one set.
#[test]
fn incentives_records_survive_a_crash() {
    let dir = tempfile::tempdir().unwrap();
    let on_disk = on_disk(dir.path(), config(false, FailurePolicy::Fallback));
    let sys = start(on_disk.clone());
    assert_eq!(sys.set_performance(3, "OUTSTANDING").status, 202);
    assert_eq!(sys.grant_bonus(3, "BIG", "b-1").status, 202);
    assert_eq!(sys.grant_bonus(3, "SMALL", "b-2").status, 202);
    assert_eq!(sys.payouts(3).total, Money::from_cents(2400 + 600));
    std::mem::forget(sys);

    let sys = start(on_disk);
    sys.inject(Fault::Crash(Service::Payments));
    assert_eq!(sys.grant_bonus(3, "BIG", "b-1").status, 202, "recognised");
    assert_eq!(sys.grant_bonus(3, "SMALL", "b-2").status, 202, "recognised");
    assert_eq!(sys.grant_bonus(3, "SMALL", "b-1").status, 409);
    let new = sys.grant_bonus(3, "BIG", "b-3").status;
    assert!(new >= 500, "a new id calls the crashed Payments: {new}");
    let performance = sys.get(&sys.incentives_url("/incentives/performance/3"));
    assert_eq!(performance.body["performance"], "OUTSTANDING");
    sys.heal(Fault::Crash(Service::Payments));
    sys.wait_until_serving();
    assert_eq!(sys.payouts(3).payouts.len(), 2, "nothing paid twice");
    assert_eq!(sys.stats().payouts, 2);
    assert_eq!(sys.system().internal_errors(), Vec::<String>::new());
}

/// The records and the durable buffer are two connections to one file
/// (`incentives.sqlite`): both write, both are there after the restart.
#[test]
fn the_records_and_the_durable_buffer_share_incentives_database() {
    let dir = tempfile::tempdir().unwrap();
    let on_disk = on_disk(dir.path(), buffered(BufferStore::Sqlite));
    let sys = start(on_disk.clone());
    assert_eq!(sys.set_performance(4, "HIGH").status, 202);
    sys.inject(Fault::Crash(Service::Payments));
    for id in ["b-1", "b-2"] {
        assert_eq!(sys.grant_bonus(4, "SMALL", id).status, 202);
    }
    assert_eq!(sys.stats().buffered, 2);
    assert_eq!(sys.system().internal_errors(), Vec::<String>::new());
    drop(sys);

    let sys = start(on_disk);
    support::wait_until("the buffer is resent", || sys.payouts(4).payouts.len() == 2);
    assert_eq!(sys.payouts(4).total, Money::from_cents(2 * 550));
    // A repeat is recognised by the records, not buffered again.
    sys.inject(Fault::Crash(Service::Payments));
    assert_eq!(sys.grant_bonus(4, "SMALL", "b-1").status, 202);
    assert_eq!(sys.stats().buffered, 0);
    assert_eq!(sys.system().internal_errors(), Vec::<String>::new());
}
