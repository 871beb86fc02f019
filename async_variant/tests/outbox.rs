//! Incentives' outbox: it keeps what the stream cannot take, drains when it
//! can, loses nothing, and refuses only when it is full itself.

mod support;

use async_variant::Config;
use common::system::{Fault, Service};
use support::{StreamView, bonus_ids, start, start_default, wait_until};

/// With the stream down, bonuses are still accepted and wait in the outbox;
/// when it is back, every one is paid exactly once.
#[test]
fn outbox_drains_after_a_stream_outage_with_nothing_lost() {
    let running = start_default();
    running.inject(Fault::StreamDown);
    let ids = bonus_ids("outage", 40);
    for id in &ids {
        assert_eq!(running.grant_bonus(11, "SMALL", id).status, 202);
    }
    assert_eq!(running.stats().outbox, 40, "all held in the outbox");
    assert_eq!(running.stream_counters().published, 0);
    assert_eq!(running.stats().payouts, 0);

    running.heal(Fault::StreamDown);
    wait_until("every bonus is paid", || running.stats().payouts == 40);
    running.wait_until_drained();
    assert!(running.times_paid(11, &ids).iter().all(|&n| n == 1));
    assert_eq!(running.stream_counters().published, 40);
}

/// A full stream refuses visibly: the events it cannot take stay in the
/// outbox, counted, and nothing is lost; once the outbox is full too, the
/// edge refuses with 503 (a full stream never drains: its log is not trimmed).
#[test]
fn a_full_stream_keeps_the_rest_in_the_outbox() {
    let running = start(Config {
        stream_capacity: 5,
        outbox_capacity: 3,
        ..Config::default()
    });
    let ids = bonus_ids("full", 8);
    // Five fill the stream, each published before the next is granted (the
    // outbox holds only three); then three more, which the outbox keeps.
    for (i, id) in ids[..5].iter().enumerate() {
        assert_eq!(running.grant_bonus(12, "SMALL", id).status, 202);
        wait_until("the grant is published", || {
            running.stream_counters().published == i as u64 + 1
        });
    }
    for id in &ids[5..] {
        assert_eq!(running.grant_bonus(12, "SMALL", id).status, 202);
    }
    wait_until("the stream fills and refuses", || {
        running.stream_counters().full_refusals > 0 && running.stats().payouts == 5
    });
    assert_eq!(running.stream_counters().published, 5);
    assert_eq!(running.stats().outbox, 3, "5 on the stream + 3 kept = 8");
    let paid = running.times_paid(12, &ids);
    assert_eq!(paid, [1, 1, 1, 1, 1, 0, 0, 0], "the first five, in order");
    let refused = running.grant_bonus(12, "SMALL", "beyond");
    assert_eq!(refused.status, 503, "stream and outbox both full");
    assert_eq!(refused.body["error"], "overloaded");
    assert_eq!(running.stats().outbox, 3);
    assert_eq!(running.stats().payouts, 5);
}

/// When the outbox is full too, Incentives answers 503 and records nothing;
/// once it drains, grants are accepted again.
#[test]
fn a_full_outbox_answers_503() {
    let running = start(Config {
        outbox_capacity: 3,
        ..Config::default()
    });
    running.inject(Fault::StreamDown);
    for id in bonus_ids("kept", 3) {
        assert_eq!(running.grant_bonus(13, "BIG", &id).status, 202);
    }
    let refused = running.grant_bonus(13, "BIG", "refused");
    assert_eq!(refused.status, 503);
    assert_eq!(refused.body["error"], "overloaded");
    assert_eq!(running.stats().incentives.failed, 1);

    running.heal(Fault::StreamDown);
    wait_until("the kept bonuses are paid", || running.stats().payouts == 3);
    assert_eq!(running.grant_bonus(13, "BIG", "refused").status, 202);
    wait_until("the retried bonus is paid", || running.stats().payouts == 4);
    running.wait_until_drained();
    assert_eq!(running.stats().payouts, 4);
}

/// A crashed Incentives stops relaying but keeps its outbox: what it recorded
/// before the crash is published and paid after it comes back.
#[test]
fn a_crashed_incentives_keeps_its_outbox() {
    let running = start_default();
    running.inject(Fault::StreamDown);
    let ids = bonus_ids("kept", 10);
    for id in &ids {
        assert_eq!(running.grant_bonus(14, "SMALL", id).status, 202);
    }
    running.inject(Fault::Crash(Service::Incentives));
    // Let a relay pass that began before the crash end against the down stream.
    std::thread::sleep(std::time::Duration::from_millis(100));
    running.heal(Fault::StreamDown);
    // The relay is part of the crashed process: nothing leaves the outbox.
    std::thread::sleep(std::time::Duration::from_millis(200));
    assert_eq!(running.stats().outbox, 10);
    assert_eq!(running.stream_counters().published, 0);

    running.heal(Fault::Crash(Service::Incentives));
    wait_until("every bonus is paid", || running.stats().payouts == 10);
    assert!(running.times_paid(14, &ids).iter().all(|&n| n == 1));
}
