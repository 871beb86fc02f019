//! Every variant, and every run with the same seed, is played the same
//! schedule — as the harness dispatched it (fingerprints) and as the variants
//! received it (their ledgers, read back).

mod support;

use commlab::scenario::Scenario;
use commlab::schedule::Schedule;
use commlab::suite::{RunOptions, run_suite};

fn tiny() -> Scenario {
    let fault = "\n[[fault]]\ntarget = \"payments\"\nkind = \"errors\"\nrate = 0.5\nstart = \"0.2s\"\nduration = \"0.5s\"\n";
    let text = support::tiny_scenario("same-work", "1s", fault)
        .replace("performance_rate = 0", "performance_rate = 10");
    Scenario::parse("same-work.toml", "same-work.toml", &text).unwrap()
}

/// The same seed generates the same schedule; another seed another one.
#[test]
fn schedule_is_a_function_of_the_seed() {
    let scenario = tiny();
    let first = Schedule::generate(&scenario);
    let again = Schedule::generate(&scenario);
    assert_eq!(first.requests, again.requests);
    assert_eq!(first.fingerprint, again.fingerprint);
    let mut other = scenario.clone();
    other.seed += 1;
    assert_ne!(Schedule::generate(&other).fingerprint, first.fingerprint);
    // References are numbered per operation in time order.
    let first_bonus = first.requests.iter().find_map(|r| match &r.action {
        commlab::schedule::Action::Bonus { id, .. } => Some(id.clone()),
        _ => None,
    });
    assert_eq!(first_bonus.as_deref(), Some("b-1"));
}

/// What each variant actually executed hashes to the scenario's fingerprint,
/// in two runs with the same seed; a third run with another seed differs.
#[test]
fn every_variant_executes_the_same_schedule() {
    let run = |seed: u64| {
        let options = RunOptions {
            out: support::scratch_dir("schedule"),
            quick: false,
            variants: Some(vec!["sync".to_string(), "async".to_string()]),
            ablate: None,
            seed: Some(seed),
            stream: Default::default(),
            mode: Default::default(),
            keep_data: false,
            memory_state: false,
            repeat: None,
        };
        run_suite(&[tiny()], &options).unwrap().results.remove(0)
    };
    let first = run(21);
    let second = run(21);
    let other = run(22);
    assert_eq!(first.schedule_fingerprint, second.schedule_fingerprint);
    assert_ne!(first.schedule_fingerprint, other.schedule_fingerprint);
    for results in [&first, &second, &other] {
        assert_eq!(results.variants.len(), 2);
        for v in &results.variants {
            assert_eq!(
                v.schedule_fingerprint, results.schedule_fingerprint,
                "{}",
                v.variant
            );
        }
    }
}

/// What the variants received, read back from their ledgers rather than from
/// the harness's records: with no fault, every variant pays every scheduled
/// bonus and delivery exactly once, the same money in every variant, and the
/// same again in a second run with the same seed.
#[test]
fn every_variant_receives_and_pays_the_whole_schedule() {
    let text = support::tiny_scenario("received", "1s", "");
    let scenario = Scenario::parse("received.toml", "received.toml", &text).unwrap();
    let run = || {
        let options = RunOptions {
            out: support::scratch_dir("received"),
            quick: false,
            variants: Some(vec!["sync".to_string(), "async".to_string()]),
            ablate: None,
            seed: Some(31),
            stream: Default::default(),
            mode: Default::default(),
            keep_data: false,
            memory_state: false,
            repeat: None,
        };
        run_suite(std::slice::from_ref(&scenario), &options)
            .unwrap()
            .results
            .remove(0)
    };
    let (first, second) = (run(), run());
    let scheduled = first.workload.scheduled;
    assert!(scheduled.bonus > 0 && scheduled.delivery > 0);
    let paid = first.variants[0].money.paid;
    for results in [&first, &second] {
        for v in &results.variants {
            let name = &v.variant;
            // The ledger's own count: one payout per scheduled request.
            assert_eq!(
                v.final_stats.payouts,
                scheduled.bonus + scheduled.delivery,
                "{name}"
            );
            // Matched reference by reference against the payouts read back.
            assert_eq!(v.bonuses.paid, scheduled.bonus, "{name}");
            assert_eq!(v.deliveries.paid, scheduled.delivery, "{name}");
            assert_eq!(v.bonuses.paid_twice + v.deliveries.paid_twice, 0, "{name}");
            assert_eq!(v.money.paid, paid, "{name} paid other money");
        }
    }
}
