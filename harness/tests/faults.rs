//! The seed fixes which requests a flaky service fails: every variant, played
//! the same schedule, has the same deliveries refused by an injected fault.

mod support;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use commlab::load::Outcome;
use commlab::run::run_variant;
use commlab::scenario::Scenario;
use commlab::schedule::{Action, Schedule};
use common::system::Variant;

/// Payments fails 30 % of its requests from 0.3 s to 1.3 s of a 1.5 s run.
fn flaky() -> Scenario {
    let fault = "\n[[fault]]\ntarget = \"payments\"\nkind = \"errors\"\nrate = 0.3\nstart = \"0.3s\"\nduration = \"1s\"\n";
    let text = support::tiny_scenario("flaky", "1.5s", fault)
        .replace("performance_rate = 0", "performance_rate = 10");
    Scenario::parse("flaky.toml", "flaky.toml", &text).unwrap()
}

/// Deliveries go from the client straight to Payments in every variant, so
/// the fault applies to them identically: the refused ones must be the same.
/// (Bonuses reach Payments as a call in one design and as an event in the
/// other, and the sync variants refuse their own; they are not compared.)
#[test]
fn every_variant_has_the_same_deliveries_refused() {
    let scenario = flaky();
    let schedule = Schedule::generate(&scenario);
    let runtime = commlab::load::runtime(1).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let mut refused_by_variant = Vec::new();
    for variant in Variant::ALL {
        let spec = variants::VariantSpec::preset(variant);
        let run = run_variant(
            &runtime,
            &scenario,
            &schedule,
            &spec,
            &stop,
            &Default::default(),
        )
        .unwrap();
        assert!(
            run.results.evidence.ok,
            "{variant}: {:?}",
            run.results.evidence.reasons
        );
        let refused: BTreeSet<String> = schedule
            .requests
            .iter()
            .zip(&run.records)
            .filter_map(|(request, record)| match (&request.action, record) {
                (Action::Delivery { id }, Some(r)) if r.outcome == Outcome::Status(503) => {
                    Some(id.clone())
                }
                _ => None,
            })
            .collect();
        // Every refusal was the fault's own, counted by Payments' edge.
        assert_eq!(
            refused.len() as u64,
            run.results.deliveries.rejected,
            "{variant}"
        );
        refused_by_variant.push((variant, refused));
    }
    let (_, first) = &refused_by_variant[0];
    assert!(
        first.len() > 5,
        "the fault refused some deliveries: {first:?}"
    );
    for (variant, refused) in &refused_by_variant[1..] {
        assert_eq!(
            refused, first,
            "{variant} refused other deliveries than sync"
        );
    }
}

/// The stream's `hang` kind reaches the timeline: the asynchronous variant is
/// held up, not wrong (its bonuses wait in the outbox and are each paid once),
/// and the synchronous one reports it not applicable.
#[test]
fn a_stream_hang_delays_async_and_does_not_apply_to_sync() {
    let fault =
        "\n[[fault]]\ntarget = \"stream\"\nkind = \"hang\"\nstart = \"0.3s\"\nduration = \"1s\"\n";
    let text = support::tiny_scenario("hang", "1.5s", fault);
    let scenario = Scenario::parse("hang.toml", "hang.toml", &text).unwrap();
    let schedule = Schedule::generate(&scenario);
    let runtime = commlab::load::runtime(1).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    for variant in [Variant::Sync, Variant::Async] {
        let spec = variants::VariantSpec::preset(variant);
        let memory = async_variant::StreamChoice::Memory;
        let run = run_variant(
            &runtime,
            &scenario,
            &schedule,
            &spec,
            &stop,
            &(&memory).into(),
        )
        .unwrap();
        let results = &run.results;
        assert!(
            results.evidence.ok,
            "{variant}: {:?}",
            results.evidence.reasons
        );
        match variant {
            Variant::Async => {
                assert!(results.not_applicable.is_empty());
                assert!(results.bonuses.accepted > 20, "{:?}", results.bonuses);
                assert_eq!(results.bonuses.lost, 0);
                assert_eq!(results.bonuses.paid_twice, 0);
            }
            _ => assert_eq!(results.not_applicable.len(), 1),
        }
    }
}
