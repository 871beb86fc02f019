//! The async variant on SQLite storage: the outbox row is committed with the
//! bonus it announces, so what Incentives recorded and did not publish before
//! it stopped is published after the restart — and paid exactly once.

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
