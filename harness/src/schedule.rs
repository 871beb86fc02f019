//! The schedule: every request of a run, decided before the run starts.
//!
//! A fair comparison needs every variant to face *exactly* the same users. So
//! the schedule — when each request is sent, for which courier, which bonus,
//! which reference (`b-<n>`, `d-<n>`), which performance — is generated once from
//! the scenario's seed, and each variant is played the same list. Its SHA-256
//! fingerprint goes into the results; each phase of a run (setup, load,
//! timeline) hashes what it actually did the same way, so a reader can check that
//! every variant was given the same work.
//!
//! Next: `load.rs` plays the requests, `run.rs` plays the faults.

use std::time::Duration;

use common::{BonusType, CourierId, Performance};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use rand_distr::{Distribution, Exp};
use sha2::{Digest, Sha256};

use crate::results::OperationCounts;
use crate::scenario::{Arrival, Scenario, TimedFault};

/// The three edge operations the users perform.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Operation {
    Bonus,
    Delivery,
    Performance,
}

impl Operation {
    pub const ALL: [Operation; 3] = [
        Operation::Bonus,
        Operation::Delivery,
        Operation::Performance,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Operation::Bonus => "bonus",
            Operation::Delivery => "delivery",
            Operation::Performance => "performance",
        }
    }
}

/// What one request asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// `POST /incentives/bonuses/{courier}` with a bonus id.
    Bonus { bonus: BonusType, id: String },
    /// `POST /payments` for one delivery, paying `BASE_DELIVERY_PAY`.
    Delivery { id: String },
    /// `POST /incentives/performance/{courier}`.
    Performance { performance: Performance },
}

/// One request, at its scheduled time (µs after the run's t = 0).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    pub at_us: u64,
    pub courier: CourierId,
    pub action: Action,
}

impl Request {
    pub fn operation(&self) -> Operation {
        match self.action {
            Action::Bonus { .. } => Operation::Bonus,
            Action::Delivery { .. } => Operation::Delivery,
            Action::Performance { .. } => Operation::Performance,
        }
    }
}

/// Everything a run will do, in order.
#[derive(Clone, Debug)]
pub struct Schedule {
    /// Before t = 0, every courier is given a performance drawn like every
    /// update's: uniform over NORMAL, HIGH and OUTSTANDING. (A setup skewed
    /// to the higher levels, while updates are uniform, would make a stale
    /// copy lean towards over-payment — a property of the workload that
    /// readers would take for one of the design.)
    pub setup: Vec<(CourierId, Performance)>,
    /// Sorted by time.
    pub requests: Vec<Request>,
    pub faults: Vec<TimedFault>,
    pub fingerprint: String,
}

impl Schedule {
    /// The schedule of `scenario`: a function of its seed and workload only.
    pub fn generate(scenario: &Scenario) -> Schedule {
        let workload = &scenario.workload;
        let mut rng = StdRng::seed_from_u64(scenario.seed);
        let couriers = workload.couriers;
        let setup: Vec<_> = (1..=couriers)
            .map(|c| {
                let performance = Performance::ALL[rng.random_range(0..3)];
                (c, performance)
            })
            .collect();
        let mut requests = Vec::new();
        let streams = [
            (workload.bonus_rate, Operation::Bonus),
            (workload.delivery_rate, Operation::Delivery),
            (workload.performance_rate, Operation::Performance),
        ];
        for (rate, operation) in streams {
            for at_us in arrivals(&mut rng, rate, scenario.duration, workload.arrival) {
                let courier = rng.random_range(1..=couriers);
                let action = match operation {
                    Operation::Bonus => Action::Bonus {
                        bonus: pick_bonus(&mut rng, workload.bonus_mix),
                        id: String::new(),
                    },
                    Operation::Delivery => Action::Delivery { id: String::new() },
                    Operation::Performance => Action::Performance {
                        performance: Performance::ALL[rng.random_range(0..3)],
                    },
                };
                requests.push(Request {
                    at_us,
                    courier,
                    action,
                });
            }
        }
        // Stable: requests at the same microsecond keep bonus < delivery < performance.
        requests.sort_by_key(|r| r.at_us);
        let (mut bonuses, mut deliveries) = (0, 0);
        for request in &mut requests {
            match &mut request.action {
                Action::Bonus { id, .. } => {
                    bonuses += 1;
                    *id = format!("b-{bonuses}");
                }
                Action::Delivery { id } => {
                    deliveries += 1;
                    *id = format!("d-{deliveries}");
                }
                Action::Performance { .. } => {}
            }
        }
        let mut fingerprint = Fingerprint::default();
        setup.iter().for_each(|&(c, p)| fingerprint.add_setup(c, p));
        requests.iter().for_each(|r| fingerprint.add_request(r));
        scenario
            .faults
            .iter()
            .for_each(|f| fingerprint.add_fault(f));
        Schedule {
            setup,
            requests,
            faults: scenario.faults.clone(),
            fingerprint: fingerprint.finish(),
        }
    }

    pub fn counts(&self) -> OperationCounts {
        let mut counts = OperationCounts::default();
        for request in &self.requests {
            match request.operation() {
                Operation::Bonus => counts.bonus += 1,
                Operation::Delivery => counts.delivery += 1,
                Operation::Performance => counts.performance += 1,
            }
        }
        counts
    }
}

/// Arrival times in µs within `[0, duration)`. Poisson: exponential gaps of mean
/// `1 / rate`; constant: exactly `1 / rate` apart, from t = 0.
fn arrivals(rng: &mut StdRng, rate: f64, duration: Duration, arrival: Arrival) -> Vec<u64> {
    let end = duration.as_secs_f64();
    let mut times = Vec::new();
    if rate <= 0.0 {
        return times;
    }
    match arrival {
        Arrival::Constant => {
            let count = (end * rate).ceil() as u64;
            times.extend(
                (0..count)
                    .map(|i| i as f64 / rate)
                    .filter(|&t| t < end)
                    .map(to_us),
            );
        }
        Arrival::Poisson => {
            let gap = Exp::new(rate).expect("validated: rate is positive and finite");
            let mut t = gap.sample(rng);
            // Bounded: the scenario caps rate × duration (MAX_REQUESTS).
            while t < end {
                times.push(to_us(t));
                t += gap.sample(rng);
            }
        }
    }
    times
}

fn to_us(seconds: f64) -> u64 {
    (seconds * 1e6).round() as u64
}

fn pick_bonus(rng: &mut StdRng, mix: [f64; 3]) -> BonusType {
    let x: f64 = rng.random_range(0.0..1.0);
    if x < mix[0] {
        BonusType::Small
    } else if x < mix[0] + mix[1] {
        BonusType::Average
    } else {
        BonusType::Big
    }
}

/// SHA-256 of a run's work, in three parts hashed separately — setup, requests,
/// faults — because three different parts of the harness perform them, each
/// hashing what it actually did; the parts are then combined. Each item is
/// hashed as one line of canonical text, so the fingerprint does not depend on
/// how Rust lays out a struct.
#[derive(Clone, Debug, Default)]
pub struct Fingerprint {
    setup: Sha256,
    requests: Sha256,
    faults: Sha256,
}

impl Fingerprint {
    pub fn add_setup(&mut self, courier: CourierId, performance: Performance) {
        self.setup.update(format!("{courier} {performance:?}\n"));
    }

    pub fn add_request(&mut self, request: &Request) {
        let detail = match &request.action {
            Action::Bonus { bonus, id } => format!("bonus {bonus:?} {id}"),
            Action::Delivery { id } => format!("delivery {id}"),
            Action::Performance { performance } => format!("performance {performance:?}"),
        };
        self.requests
            .update(format!("{} {} {detail}\n", request.at_us, request.courier));
    }

    pub fn add_fault(&mut self, fault: &TimedFault) {
        self.faults.update(format!(
            "{} {} {}\n",
            fault.start.as_micros(),
            fault.duration.as_micros(),
            fault.fault
        ));
    }

    /// Merges another part's hashes into this one (the load generator hashes
    /// requests on its own thread).
    pub fn with_requests(mut self, requests: Fingerprint) -> Fingerprint {
        self.requests = requests.requests;
        self
    }

    pub fn finish(self) -> String {
        let mut all = Sha256::new();
        all.update(self.setup.finalize());
        all.update(self.requests.finalize());
        all.update(self.faults.finalize());
        all.finalize().iter().map(|b| format!("{b:02x}")).collect()
    }
}
