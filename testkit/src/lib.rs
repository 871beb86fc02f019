//! Test support shared by the sync variant's tests, the async variant's tests
//! and the parity tests that run one body against every variant: start a system
//! on port 0, talk to it over real loopback HTTP, and wait for outcomes that come
//! asynchronously (a recovery, a resend, an event processed) by polling with a
//! generous deadline.
//!
//! Everything here is blocking and runs on the test's own plain thread, so the
//! `reqwest::blocking` client is created and dropped outside any async runtime.

pub mod raw;

use std::time::{Duration, Instant};

use common::api::{PayoutKind, PayoutsView};
use common::system::{Fault, Stats, System};
use reqwest::blocking::Client;
use serde_json::Value;

/// How long a test waits for something that must happen. Generous: the
/// machine is shared and noisy; a passing test waits only as long as it needs.
pub const DEADLINE: Duration = Duration::from_secs(10);

/// An HTTP answer: its status and its JSON body (`Null` if it had none).
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub body: Value,
}

impl Answer {
    /// The `message` of an error body, or "" if there is none.
    pub fn message(&self) -> &str {
        self.body["message"].as_str().unwrap_or("")
    }
}

/// A running system and a client for it; shut down when dropped, even when
/// the test fails. `S` is a concrete variant (`SyncSystem`, `AsyncSystem`) when
/// a test needs its own accessors, or `Box<dyn System>` for parity tests.
pub struct Running<S: System> {
    system: Option<Box<S>>,
    client: Client,
    incentives: String,
    payments: String,
}

impl<S: System> Running<S> {
    pub fn new(system: S) -> Running<S> {
        let client = Client::builder()
            // Longer than any call timeout a system uses, so that the system's
            // own answer (504, 503) arrives before the test gives up.
            .timeout(DEADLINE)
            .no_proxy()
            .build()
            .expect("a client");
        Running {
            incentives: format!("http://{}", system.incentives_addr()),
            payments: format!("http://{}", system.payments_addr()),
            system: Some(Box::new(system)),
            client,
        }
    }

    pub fn system(&self) -> &S {
        self.system.as_ref().expect("running")
    }

    pub fn stats(&self) -> Stats {
        self.system().stats()
    }

    pub fn inject(&self, fault: Fault) {
        self.system().inject(&fault).expect("the fault applies");
    }

    /// Ends a fault; a failure to heal is the variant's internal error, and
    /// fails the test.
    pub fn heal(&self, fault: Fault) {
        if let Err(error) = self.system().heal(&fault) {
            panic!("healing {fault} failed: {error}");
        }
    }

    pub fn grant_bonus(&self, courier: u64, bonus_type: &str, bonus_id: &str) -> Answer {
        let body = serde_json::json!({ "bonusType": bonus_type, "bonusId": bonus_id });
        self.post_json(
            &self.incentives_url(&format!("/incentives/bonuses/{courier}")),
            &body.to_string(),
        )
    }

    pub fn set_performance(&self, courier: u64, performance: &str) -> Answer {
        let body = serde_json::json!({ "performance": performance });
        self.post_json(
            &self.incentives_url(&format!("/incentives/performance/{courier}")),
            &body.to_string(),
        )
    }

    /// `POST /payments` for a delivery; `amount` is the JSON number's text.
    pub fn pay_delivery(&self, courier: u64, amount: &str, delivery_id: &str) -> Answer {
        let body = format!(
            r#"{{"courierId": {courier}, "amount": {amount}, "deliveryId": "{delivery_id}"}}"#
        );
        self.post_json(&self.payments_url("/payments"), &body)
    }

    /// `GET /payments/{courier}`, read with the exact-money types.
    pub fn payouts(&self, courier: u64) -> PayoutsView {
        let text = self
            .client
            .get(self.payments_url(&format!("/payments/{courier}")))
            .send()
            .and_then(|r| r.error_for_status())
            .and_then(|r| r.text())
            .expect("GET /payments answers");
        serde_json::from_str(&text).expect("a payouts view")
    }

    /// How many times each of `bonus_ids` appears among `courier`'s bonus payouts.
    pub fn times_paid(&self, courier: u64, bonus_ids: &[String]) -> Vec<usize> {
        let view = self.payouts(courier);
        bonus_ids
            .iter()
            .map(|id| {
                view.payouts
                    .iter()
                    .filter(|p| p.kind == PayoutKind::Bonus && &p.reference == id)
                    .count()
            })
            .collect()
    }

    pub fn incentives_url(&self, path: &str) -> String {
        format!("{}{path}", self.incentives)
    }

    pub fn payments_url(&self, path: &str) -> String {
        format!("{}{path}", self.payments)
    }

    /// Waits until both edges answer again (after a crash, the listener binds
    /// its address anew).
    pub fn wait_until_serving(&self) {
        let answers = |url: String| {
            let sent = self.client.get(url).send();
            sent.is_ok_and(|r| r.status().is_success())
        };
        wait_until("both services answer", || {
            answers(self.incentives_url("/incentives/performance/0"))
                && answers(self.payments_url("/payments/0"))
        });
    }

    /// Waits until no accepted work is left anywhere: sync-buffered's buffer,
    /// the async outbox and stream lag (`Stats::backlog`).
    pub fn wait_until_drained(&self) {
        wait_until("every backlog is drained", || self.stats().backlog() == 0);
    }

    pub fn get(&self, url: &str) -> Answer {
        answer(self.client.get(url).send())
    }

    /// POSTs `body` as JSON, whatever it contains.
    pub fn post_json(&self, url: &str, body: &str) -> Answer {
        let request = self
            .client
            .post(url)
            .header("content-type", "application/json")
            .body(body.to_string());
        answer(request.send())
    }
}

impl<S: System> Drop for Running<S> {
    fn drop(&mut self) {
        if let Some(system) = self.system.take() {
            system.shutdown();
        }
    }
}

fn answer(response: reqwest::Result<reqwest::blocking::Response>) -> Answer {
    let response = response.expect("the service answers");
    let status = response.status().as_u16();
    let text = response.text().expect("a body");
    let body = serde_json::from_str(&text).unwrap_or(Value::Null);
    Answer { status, body }
}

/// Polls `condition` until it holds; panics naming `what` after [`DEADLINE`].
pub fn wait_until(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + DEADLINE;
    while !condition() {
        assert!(Instant::now() < deadline, "gave up waiting until {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// `count` distinct bonus ids with a test's own prefix.
pub fn bonus_ids(prefix: &str, count: usize) -> Vec<String> {
    (0..count).map(|i| format!("{prefix}-{i}")).collect()
}
