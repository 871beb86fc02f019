//! A realistic, synthetic `ScenarioResults` for the report tests: a 30 s run,
//! Payments crashed from 10 s to 20 s, three variants that each behave the way
//! their design predicts (sync refuses bonuses, sync-buffered buffers them,
//! async queues events), with per-second series, a backlog sampled every
//! 100 ms, phases, percentiles and money. Deterministic: no randomness, so the
//! snapshot tests compare like with like.
//!
//! Money follows the designs too: sync pays a few bonuses it had refused (its
//! call to Payments timed out after Payments had paid), sync-buffered reprices
//! a few resent bonuses (the resend looks the performance up again), async is
//! exact.

use commlab::results::{
    Backlog, BacklogPoint, Environment, Evidence, MoneyOutcome, MoneySecond, MoneyTotals,
    OperationCounts, OperationResults, Operations, Percentiles, Phase, ScenarioResults,
    SecondPoint, TimelineEntry, VariantResults, Workload,
};
use common::Money;
use common::faults::EdgeCounts;
use common::system::Stats;

pub const DURATION: u64 = 30;
pub const FAULT: (f64, f64) = (10.0, 20.0);
pub const BONUS_RATE: u64 = 100;
pub const DELIVERY_RATE: u64 = 50;
pub const PERFORMANCE_RATE: u64 = 10;
/// Bonuses sync-buffered resent after a performance change, and what the new
/// performance took off them in total: each a 10.00 bonus paid at NORMAL
/// (+0 %) instead of HIGH (+10 %).
pub const REPRICED: u64 = 6;
pub const REPRICED_CENTS_OFF: u64 = REPRICED * 100;
pub const FINGERPRINT: &str = "3f9a1c0de2b44a7f9e1d5c3b2a190817f6e5d4c3b2a1908f7e6d5c4b3a291807";

/// What a variant did during the fault, per operation: the share served.
struct Behaviour {
    name: &'static str,
    bonus_during: f64,
    delivery_during: f64,
    /// Backlog peak at the fault's end and the net drain rate after it.
    backlog_peak: f64,
    drain_rate: f64,
}

/// The scenario every report test starts from.
pub fn payments_outage() -> ScenarioResults {
    let variants = [
        Behaviour {
            name: "sync",
            bonus_during: 0.002,
            delivery_during: 0.0,
            backlog_peak: 0.0,
            drain_rate: 1.0,
        },
        Behaviour {
            name: "sync-buffered",
            bonus_during: 1.0,
            delivery_during: 0.0,
            backlog_peak: (BONUS_RATE * 10) as f64,
            drain_rate: 800.0,
        },
        Behaviour {
            name: "async",
            bonus_during: 1.0,
            delivery_during: 0.0,
            backlog_peak: ((BONUS_RATE + PERFORMANCE_RATE) * 10) as f64,
            drain_rate: 2500.0,
        },
    ];
    let variants: Vec<VariantResults> = variants.iter().map(variant).collect();
    let scheduled = OperationCounts {
        bonus: variants[0].operations.bonus.sent,
        delivery: variants[0].operations.delivery.sent,
        performance: variants[0].operations.performance.sent,
    };
    ScenarioResults {
        schema_version: commlab::results::SCHEMA_VERSION,
        repetitions: None,
        scenario: "payments-outage".to_string(),
        title: "Payments goes down for 10 seconds".to_string(),
        lesson: "A synchronous chain is only as available as its weakest link: while Payments \
                 is down, the synchronous design cannot grant a bonus at all. A buffer or a \
                 stream keeps accepting bonuses and pays them when Payments returns — at the \
                 price of a backlog and a delay."
            .to_string(),
        seed: 42,
        command: "commlab run --scenario payments-outage --seed 42 --out reports".to_string(),
        commit: "6b456c5".to_string(),
        environment: Environment {
            toolchain: "rustc 1.91.0 (f8297e351 2025-10-28)".to_string(),
            cpus: 2,
            cpu_model: "AMD EPYC 7B13".to_string(),
            os: "linux x86_64".to_string(),
        },
        quick: false,
        duration_s: DURATION as f64,
        slo_ms: 500,
        ablate: None,
        workload: Workload {
            couriers: 200,
            bonus_rate: BONUS_RATE as f64,
            delivery_rate: DELIVERY_RATE as f64,
            performance_rate: PERFORMANCE_RATE as f64,
            arrival: "poisson".to_string(),
            bonus_mix: [0.6, 0.3, 0.1],
            scheduled,
        },
        timeline: vec![TimelineEntry {
            target: "payments".to_string(),
            kind: "crash".to_string(),
            label: "payments crash".to_string(),
            start_s: FAULT.0,
            duration_s: FAULT.1 - FAULT.0,
        }],
        idempotency: true,
        schedule_fingerprint: FINGERPRINT.to_string(),
        stream: Default::default(),
        mode: Default::default(),
        storage: Default::default(),
        variants,
        expectations: Vec::new(),
    }
}

fn during(t: u64) -> bool {
    (t as f64) >= FAULT.0 && (t as f64) < FAULT.1
}

/// Per-second counts around the nominal rate, the same for every variant (they
/// replay one schedule), varying a little as Poisson arrivals would.
fn series(rate: u64, served_during: f64) -> Vec<SecondPoint> {
    (0..DURATION)
        .map(|t| {
            let sent = rate + (t * 7) % 5 - 2;
            let ok = if during(t) && served_during > 0.0 && served_during < 0.01 {
                // Nearly nothing: a couple of requests in the fault's first
                // second, answered before the crash took hold.
                if t as f64 == FAULT.0 { 2 } else { 0 }
            } else if during(t) {
                (sent as f64 * served_during).round() as u64
            } else {
                sent
            };
            SecondPoint {
                t_s: t,
                sent,
                ok,
                accepted: Some(ok),
            }
        })
        .collect()
}

fn operation(series: Vec<SecondPoint>, p: Percentiles, unserved_fail: bool) -> OperationResults {
    let sent: u64 = series.iter().map(|p| p.sent).sum();
    let ok: u64 = series.iter().map(|p| p.ok).sum();
    let (failed, no_answer) = if unserved_fail {
        (sent - ok, 0)
    } else {
        (0, sent - ok)
    };
    OperationResults {
        sent,
        ok,
        late: 0,
        failed,
        no_answer,
        availability: Some(ok as f64 / sent as f64),
        latency_ms: Percentiles {
            samples: ok + failed,
            ..p
        },
        series,
    }
}

fn percentiles(p50: f64, p90: f64, p99: f64, p999: Option<f64>, max: f64) -> Percentiles {
    Percentiles {
        samples: 0,
        p50: Some(p50),
        p90: Some(p90),
        p99: Some(p99),
        p999,
        max: Some(max),
    }
}

/// The money defects per second, consistent with the totals: sync's paid
/// though rejected at the fault's start (calls that timed out after Payments
/// had paid), sync-buffered's repriced resends spread over the fault.
fn money_series(bonuses: &MoneyOutcome) -> Vec<MoneySecond> {
    (0..DURATION)
        .map(|t_s| {
            let fault_s = t_s.checked_sub(FAULT.0 as u64);
            MoneySecond {
                t_s,
                paid_though_rejected: if fault_s == Some(0) {
                    bonuses.paid_though_rejected
                } else {
                    0
                },
                repriced: match fault_s {
                    Some(s) if s < bonuses.repriced => 1,
                    _ => 0,
                },
                ..MoneySecond::default()
            }
        })
        .collect()
}

fn variant(b: &Behaviour) -> VariantResults {
    let sync = b.name == "sync";
    let operations = operations_of(b);
    let (bonuses, deliveries, money) = money_of(b, &operations);
    let accepted = bonuses.accepted;
    VariantResults {
        variant: b.name.to_string(),
        base: b.name.to_string(),
        // The presets' own configurations, as a run records them.
        configuration: variants::VariantSpec::preset_named(b.name)
            .expect("a preset")
            .configuration(),
        recovery: Vec::new(),
        amplification: None,
        schedule_fingerprint: FINGERPRINT.to_string(),
        not_applicable: Vec::new(),
        interrupted: false,
        evidence: Evidence::default(),
        internal_errors: Default::default(),
        bonus_to_paid_ms: if sync {
            Percentiles {
                samples: accepted,
                ..percentiles(0.0, 0.0, 0.0, Some(0.0), 0.0)
            }
        } else {
            Percentiles {
                samples: accepted,
                ..percentiles(0.9, 2.1, 9300.0, Some(10_050.0), 10_200.0)
            }
        },
        operations,
        bonuses,
        deliveries,
        backlog: backlog_of(b),
        money,
        money_series: money_series(&bonuses),
        phases: phases_of(b),
        final_stats: final_stats_of(sync, accepted),
        load_lateness_ms: Percentiles {
            samples: 1000,
            p50: Some(0.002),
            p99: Some(0.04),
            ..Percentiles::default()
        },
        host_steal: Some(if b.name == "sync" { 0.0 } else { 0.031 }),
    }
}

fn operations_of(b: &Behaviour) -> Operations {
    let bonus = operation(
        series(BONUS_RATE, b.bonus_during),
        if b.name == "sync" {
            percentiles(3.1, 5.2, 48.0, Some(310.0), 1020.0)
        } else {
            percentiles(0.9, 1.6, 4.0, Some(12.0), 35.0)
        },
        true,
    );
    let delivery = operation(
        series(DELIVERY_RATE, b.delivery_during),
        percentiles(2.4, 4.0, 20.0, None, 210.0),
        false,
    );
    let performance = operation(
        series(PERFORMANCE_RATE, 1.0),
        Percentiles {
            p99: None,
            p999: None,
            ..percentiles(0.7, 1.1, 0.0, None, 6.0)
        },
        true,
    );
    Operations {
        bonus,
        delivery,
        performance,
    }
}

fn phases_of(b: &Behaviour) -> Vec<Phase> {
    let phase = |name: &str, start: f64, end: f64| {
        let during = |share: f64| Some(if name == "during" { share } else { 1.0 });
        Phase {
            name: format!("{name} payments crash"),
            start_s: start,
            end_s: end,
            bonus: during(b.bonus_during),
            delivery: during(b.delivery_during),
            performance: Some(1.0),
        }
    };
    vec![
        phase("before", 0.0, FAULT.0),
        phase("during", FAULT.0, FAULT.1),
        phase("after", FAULT.1, DURATION as f64),
    ]
}

fn backlog_of(b: &Behaviour) -> Backlog {
    let sync = b.name == "sync";
    let series: Vec<BacklogPoint> = (0..=310)
        .map(|i| {
            let t = i as f64 / 10.0;
            let backlog = if t >= FAULT.0 && t <= FAULT.1 {
                b.backlog_peak * (t - FAULT.0) / (FAULT.1 - FAULT.0)
            } else if t > FAULT.1 {
                (b.backlog_peak - (t - FAULT.1) * b.drain_rate).max(0.0)
            } else {
                0.0
            };
            let busy = if sync { 2 + (i % 3) } else { 1 };
            BacklogPoint {
                t_s: t,
                backlog: backlog.round() as u64,
                busy_workers: busy,
                in_flight_calls: if sync { busy - 1 } else { 0 },
            }
        })
        .collect();
    let drain_s =
        (b.backlog_peak > 0.0).then(|| ((b.backlog_peak / b.drain_rate) * 10.0).ceil() / 10.0);
    Backlog {
        peak: b.backlog_peak as u64,
        drain_s,
        drain_phase_s: drain_s.map(|_| 0.0),
        peak_busy_workers: if sync { 4 } else { 1 },
        peak_in_flight_calls: if sync { 3 } else { 0 },
        series,
    }
}

fn money_of(b: &Behaviour, ops: &Operations) -> (MoneyOutcome, MoneyOutcome, MoneyTotals) {
    let sync = b.name == "sync";
    let (bonus, delivery) = (&ops.bonus, &ops.delivery);
    let accepted = bonus.ok;
    let bonuses = MoneyOutcome {
        accepted,
        paid: accepted + if sync { 3 } else { 0 },
        rejected: bonus.sent - accepted,
        paid_though_rejected: if sync { 3 } else { 0 },
        repriced: if b.name == "sync-buffered" {
            REPRICED
        } else {
            0
        },
        ..MoneyOutcome::default()
    };
    let deliveries = MoneyOutcome {
        accepted: delivery.ok,
        paid: delivery.ok,
        rejected: delivery.sent - delivery.ok,
        ..MoneyOutcome::default()
    };
    // Average bonus 8.50 (the 60/30/10 mix of 5, 10, 20), delivery 4.50.
    let expected = Money::from_cents(accepted * 850 + delivery.ok * 450);
    let paid = match b.name {
        "sync" => Money::from_cents(expected.cents() + 3 * 850),
        "sync-buffered" => Money::from_cents(expected.cents() - REPRICED_CENTS_OFF),
        _ => expected,
    };
    let totals = MoneyTotals {
        owed: expected,
        owed_at_send: expected,
        paid,
        unmatched_payouts: 0,
    };
    (bonuses, deliveries, totals)
}

fn final_stats_of(sync: bool, accepted: u64) -> Stats {
    Stats {
        incentives: EdgeCounts {
            ok: 3300,
            bad_request: 0,
            failed: if sync { 998 } else { 0 },
            injected: 0,
            in_flight: 0,
        },
        payments: EdgeCounts {
            ok: 1000,
            bad_request: 0,
            failed: 0,
            injected: 500,
            in_flight: 0,
        },
        payouts: accepted + 1000,
        ..Stats::default()
    }
}
