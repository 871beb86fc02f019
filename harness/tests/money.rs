//! Money reconciliation on a run where nothing goes wrong.

mod support;

use commlab::scenario::Scenario;
use commlab::suite::{RunOptions, run_suite};

/// A fault-free run pays every request exactly once with the right amount, on
/// every variant. (No performance updates during the run: with them, the
/// asynchronous copy may legitimately be a few milliseconds behind for a
/// delivery, which reconciliation counts as stale — a measurement, not a bug,
/// and not deterministic enough for a test.)
#[test]
fn fault_free_run_pays_everything_once_at_the_right_amount() {
    let text = support::tiny_scenario("fault-free", "1.5s", "");
    let scenario = Scenario::parse("fault-free.toml", "fault-free.toml", &text).unwrap();
    let options = RunOptions {
        out: support::scratch_dir("money"),
        quick: false,
        variants: None,
        ablate: None,
        seed: None,
        stream: Default::default(),
        mode: Default::default(),
        keep_data: false,
        memory_state: false,
        repeat: None,
    };
    let outcome = run_suite(&[scenario], &options).unwrap();
    let results = &outcome.results[0];
    let scheduled = results.workload.scheduled;
    assert!(scheduled.bonus > 0 && scheduled.delivery > 0);
    assert_eq!(results.variants.len(), 4);
    for v in &results.variants {
        let name = &v.variant;
        for (outcome, count) in [
            (&v.bonuses, scheduled.bonus),
            (&v.deliveries, scheduled.delivery),
        ] {
            assert_eq!(outcome.accepted, count, "{name}: every request accepted");
            assert_eq!(outcome.paid, count, "{name}: every request paid");
            assert_eq!(outcome.lost, 0, "{name}");
            assert_eq!(outcome.paid_twice, 0, "{name}");
            assert_eq!(outcome.under_paid, 0, "{name}");
            assert_eq!(outcome.stale, 0, "{name}");
            assert_eq!(outcome.repriced, 0, "{name}");
        }
        assert_eq!(v.money.paid, v.money.owed, "{name}: paid to the cent");
        assert!(v.money.paid.cents() > 0);
        assert!(!v.interrupted);
        assert!(v.evidence.ok, "{name}: {:?}", v.evidence.reasons);
        assert_eq!(outcome_rows(v), v.final_stats.payouts, "{name}");
    }
}

/// Payout rows the reconciler matched: one per paid request here.
fn outcome_rows(v: &commlab::results::VariantResults) -> u64 {
    v.bonuses.paid + v.deliveries.paid
}
