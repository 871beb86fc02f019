//! The async variant on SQLite storage: the outbox row is committed with the
//! bonus it announces, so what Incentives recorded and did not publish before
//! it stopped is published after the restart — and paid exactly once; and
//! Payments' consumer commits its position and copy into its own database.

use common::Money;
use common::store::Storage;
use common::system::{Fault, System};
use testkit::{Running, wait_until};

fn on_disk(dir: &std::path::Path) -> Running<async_variant::AsyncSystem> {
    let config = async_variant::Config {
        storage: Storage::Sqlite {
            dir: dir.to_path_buf(),
        },
        ..async_variant::Config::default()
    };
    Running::new(async_variant::start(config).expect("the variant starts"))
}

#[test]
fn unpublished_events_are_published_after_a_restart_and_paid_once() {
    let dir = tempfile::tempdir().unwrap();
    let first = on_disk(dir.path());
    assert_eq!(first.grant_bonus(5, "SMALL", "b-0").status, 202);
    wait_until("the first bonus is paid", || {
        first.payouts(5).payouts.len() == 1
    });
    first.inject(Fault::StreamDown);
    assert_eq!(first.set_performance(5, "HIGH").status, 202);
    for n in 1..=4 {
        assert_eq!(first.grant_bonus(5, "SMALL", &format!("b-{n}")).status, 202);
    }
    assert_eq!(
        first.stats().outbox,
        5,
        "nothing published while the stream is down"
    );
    // Stopped with its outbox full; the in-memory stream dies with it.
    drop(first);

    let second = on_disk(dir.path());
    wait_until("every recorded bonus is paid", || {
        second.stats().outbox == 0 && second.payouts(5).payouts.len() == 5
    });
    let view = second.payouts(5);
    // b-0 at +0 %, b-1..4 at +10 %: the performance event came first.
    assert_eq!(view.total, Money::from_cents(500 + 4 * 550));
    assert_eq!(second.stats().payouts, 5);
    // The grants came back with the table: a repeat is not published again.
    assert_eq!(second.grant_bonus(5, "SMALL", "b-3").status, 202);
    assert_eq!(second.grant_bonus(5, "BIG", "b-3").status, 409);
    let performance = second.get(&second.incentives_url("/incentives/performance/5"));
    assert_eq!(performance.body["performance"], "HIGH");
    assert_eq!(second.system().internal_errors(), Vec::<String>::new());
}

/// The consumer's position and copy as Payments' database holds them:
/// `(position, performance of courier)`.
fn checkpoint(dir: &std::path::Path, courier: u64) -> (u64, Option<String>) {
    let db = rusqlite::Connection::open(dir.join("payments.sqlite")).unwrap();
    let position: i64 = db
        .query_row("SELECT position FROM consumer_position", [], |row| {
            row.get(0)
        })
        .unwrap_or(0);
    let performance = db
        .query_row(
            "SELECT performance FROM performance_copy WHERE courier = ?1",
            [courier as i64],
            |row| row.get(0),
        )
        .ok();
    (position as u64, performance)
}

/// On SQLite storage the consumer commits its position and its copy into
/// `payments.sqlite`, together; after a crash (no final commit, the copy
/// lost) it resumes from there: nothing is redelivered, the copy is back,
/// and no bonus is paid twice.
#[test]
fn the_consumer_resumes_from_its_position_in_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let running = on_disk(dir.path());
    assert_eq!(running.set_performance(5, "HIGH").status, 202);
    for n in 1..=3 {
        assert_eq!(
            running.grant_bonus(5, "SMALL", &format!("b-{n}")).status,
            202
        );
    }
    wait_until("the four events are committed in SQLite", || {
        checkpoint(dir.path(), 5) == (4, Some("HIGH".to_string()))
    });
    running.inject(Fault::ConsumerCrash);
    assert_eq!(running.grant_bonus(5, "BIG", "b-4").status, 202);
    running.heal(Fault::ConsumerCrash);
    wait_until("the bonus granted during the crash is paid", || {
        running.payouts(5).payouts.len() == 4
    });
    // b-1..3 at +10 % before the crash; b-4 at +10 % from the copy read
    // back from SQLite.
    assert_eq!(running.payouts(5).total, Money::from_cents(3 * 550 + 2200));
    let stats = running.stats();
    assert_eq!((stats.payouts, stats.duplicates_refused), (4, 0));
    wait_until("the new position is committed", || {
        checkpoint(dir.path(), 5).0 == 5
    });
    assert_eq!(running.system().internal_errors(), Vec::<String>::new());
}
