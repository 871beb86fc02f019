//! A seeded, bounded fuzz run against every variant: malformed and hostile
//! requests on raw sockets, asserting no 5xx, the JSON error body on every
//! error, no payout for any request not answered 2xx, and the services still
//! answering afterwards.
//!
//! Bounded: [`CASES`] requests per variant, each on its own connection with
//! `connection: close` or a half-close, so each ends at once; a few slow
//! senders run beside them and end at the servers' timeouts (5 s). The seed
//! is fixed, so a failure replays; `COMMLAB_FUZZ_SEED` and
//! `COMMLAB_FUZZ_CASES` run other or longer campaigns by hand.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::thread;
use std::time::Duration;

use common::system::{System, Variant};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use testkit::raw::{Exchange, Sending, bodiless, exchange, post_json};
use testkit::wait_until;

#[macro_use]
mod support;

use support::AnySystem;

/// Requests per variant: enough to reach every kind many times, few enough
/// to take seconds.
const CASES: usize = 1_200;

/// The campaign's seed; printed, and replayable with `COMMLAB_FUZZ_SEED`.
const SEED: u64 = 0x00C0_FFEE;

/// Couriers the generated requests name, so payouts can be read back.
const COURIERS: u64 = 8;

const METHODS: [&str; 9] = [
    "GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "FOO", "G\u{1}T",
];

const PATHS: [&str; 16] = [
    "/payments",
    "/payments/3",
    "/payments/+3",
    "/payments/03",
    "/payments/%33",
    "/payments/3/",
    "/payments/99999999999999999999",
    "/incentives/bonuses/3",
    "/incentives/bonuses/-3",
    "/incentives/performance/3",
    "/incentives/performance/3?x=1",
    "/internal/bonus-payouts",
    "//payments",
    "/../payments",
    "/payments/%zz",
    "*",
];

/// Valid bodies for each POST route, to mutate. `{c}` is a courier, `{r}` a
/// fresh reference.
const TEMPLATES: [(&str, &str); 6] = [
    (
        "/payments",
        r#"{"courierId": {c}, "amount": 4.5, "deliveryId": "d-{r}"}"#,
    ),
    ("/payments", r#"{"courierId": {c}, "amount": 20}"#),
    (
        "/payments",
        r#"{"courierId": {c}, "amount": 1000000, "bonusId": "b-{r}"}"#,
    ),
    (
        "/incentives/bonuses/{c}",
        r#"{"bonusType": "BIG", "bonusId": "b-{r}"}"#,
    ),
    ("/incentives/bonuses/{c}", r#"{"bonusType": "SMALL"}"#),
    ("/incentives/performance/{c}", r#"{"performance": "HIGH"}"#),
];

/// Where a case goes and what it is.
struct Case {
    payments: bool,
    bytes: Vec<u8>,
    sending: Sending,
    /// The courier a body or path names when the case is well-formed enough
    /// to be accepted; used to read its payouts back.
    courier: Option<u64>,
}

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn generate(rng: &mut StdRng, i: usize) -> Case {
    let courier = rng.random_range(0..COURIERS);
    let plain = Sending::default();
    let half_close = Sending {
        half_close: true,
        byte_gap: None,
    };
    let (path, template) = TEMPLATES[rng.random_range(0..TEMPLATES.len())];
    let path = path.replace("{c}", &courier.to_string());
    let body = template
        .replace("{c}", &courier.to_string())
        .replace("{r}", &format!("{i}"));
    let payments = path.starts_with("/payments");
    let case = |bytes: Vec<u8>, sending: Sending| Case {
        payments,
        bytes,
        sending,
        courier: Some(courier),
    };
    match rng.random_range(0..10) {
        // A valid request (some forged), to keep the books moving.
        0 => case(post_json(&path, body.as_bytes()), plain),
        // Mutated JSON: flips, insertions, deletions, unknown fields, bytes
        // that are not UTF-8, huge values.
        1..=3 => case(post_json(&path, &mutate(rng, body.as_bytes())), plain),
        // Odd methods and paths.
        4 => {
            let method = METHODS[rng.random_range(0..METHODS.len())];
            let target = PATHS[rng.random_range(0..PATHS.len())];
            Case {
                payments: rng.random_bool(0.5),
                bytes: bodiless(method, target),
                sending: plain,
                courier: None,
            }
        }
        // Huge URLs, header values, header counts.
        5 => case(oversized(rng), plain),
        // Framing: chunked, mismatched or doubled lengths, then EOF.
        6 | 7 => case(misframed(rng, &path, body.as_bytes()), half_close),
        // Garbage, HTTP/0.9, a head cut short: then EOF.
        _ => case(garbage(rng, &path, body.as_bytes()), half_close),
    }
}

/// Huge URLs, header values, header counts.
fn oversized(rng: &mut StdRng) -> Vec<u8> {
    match rng.random_range(0..3) {
        0 => bodiless(
            "GET",
            &format!("/payments/{}", "7".repeat(rng.random_range(2_000..120_000))),
        ),
        1 => format!(
            "GET /payments/1 HTTP/1.1\r\nx-big: {}\r\nconnection: close\r\n\r\n",
            "h".repeat(rng.random_range(1_000..60_000))
        )
        .into_bytes(),
        _ => {
            let mut head = String::from("GET /payments/1 HTTP/1.1\r\n");
            for h in 0..rng.random_range(50..200) {
                head.push_str(&format!("x-{h}: {h}\r\n"));
            }
            head.push_str("connection: close\r\n\r\n");
            head.into_bytes()
        }
    }
}

/// Framing: chunked, mismatched or doubled lengths (the caller then sends EOF).
fn misframed(rng: &mut StdRng, path: &str, b: &[u8]) -> Vec<u8> {
    let head = format!("POST {path} HTTP/1.1\r\ncontent-type: application/json\r\n");
    match rng.random_range(0..6) {
        0 => [
            head.as_bytes(),
            format!(
                "transfer-encoding: chunked\r\nconnection: close\r\n\r\n{:x}\r\n",
                b.len()
            )
            .as_bytes(),
            b,
            b"\r\n0\r\n\r\n",
        ]
        .concat(),
        1 => [
            head.as_bytes(),
            b"transfer-encoding: chunked\r\n\r\nzz\r\n",
            b,
        ]
        .concat(),
        2 => [
            head.as_bytes(),
            format!("content-length: {}\r\n\r\n", b.len() + 10).as_bytes(),
            b,
        ]
        .concat(),
        3 => [
            head.as_bytes(),
            format!("content-length: {}\r\n\r\n", b.len() / 2).as_bytes(),
            b,
        ]
        .concat(),
        4 => [
            head.as_bytes(),
            format!("content-length: {}\r\ncontent-length: 3\r\n\r\n", b.len()).as_bytes(),
            b,
        ]
        .concat(),
        _ => [
            head.as_bytes(),
            format!(
                "content-length: -{}\r\ntransfer-encoding: chunked\r\n\r\n",
                b.len()
            )
            .as_bytes(),
            b,
        ]
        .concat(),
    }
}

/// Garbage, HTTP/0.9, a head cut short (the caller then sends EOF).
fn garbage(rng: &mut StdRng, path: &str, body: &[u8]) -> Vec<u8> {
    match rng.random_range(0..3) {
        0 => (0..rng.random_range(1..400))
            .map(|_| rng.random::<u8>())
            .collect(),
        1 => format!("GET {path}\r\n").into_bytes(),
        _ => {
            let whole = post_json(path, body);
            let cut = rng.random_range(1..whole.len());
            whole[..cut].to_vec()
        }
    }
}

fn mutate(rng: &mut StdRng, body: &[u8]) -> Vec<u8> {
    let mut out = body.to_vec();
    for _ in 0..rng.random_range(1..4) {
        let at = rng.random_range(0..=out.len());
        match rng.random_range(0..7) {
            0 if at < out.len() => out[at] = rng.random(),
            1 => out.insert(at, rng.random()),
            2 if at < out.len() => {
                out.remove(at);
            }
            3 if out.len() > 2 => {
                let field = [
                    r#""bonusID":"k","#,
                    r#""tip":1,"#,
                    r#""amount":5,"#,
                    "\"x\":\"\u{ff}\",",
                ][rng.random_range(0..4)];
                out.splice(1..1, field.bytes());
            }
            4 => {
                out.splice(at..at, [0xc3, 0x28, 0xff]);
            }
            5 => {
                let digits = "9".repeat(rng.random_range(20..400));
                out = String::from_utf8_lossy(&out)
                    .replace("4.5", &digits)
                    .into_bytes();
            }
            _ => {
                out.splice(at..at, b" \t\n".iter().copied());
            }
        }
    }
    out
}

/// Runs the campaign against one variant.
fn campaign(system: AnySystem, variant: Variant) {
    let seed = env_or("COMMLAB_FUZZ_SEED", SEED);
    let cases = env_or("COMMLAB_FUZZ_CASES", CASES as u64) as usize;
    eprintln!("fuzz {variant}: seed {seed:#x}, {cases} cases");
    let mut rng = StdRng::seed_from_u64(seed);
    let edge = |payments: bool| -> SocketAddr {
        match payments {
            true => system.system().payments_addr(),
            false => system.system().incentives_addr(),
        }
    };
    let slow = slow_senders(&edge);
    let mut accepted: BTreeMap<u64, BTreeSet<String>> = BTreeMap::new();
    let mut answered = 0;
    for i in 0..cases {
        let case = generate(&mut rng, i);
        let seen = exchange(edge(case.payments), &case.bytes, case.sending);
        check(&seen, i);
        answered += seen.answers.len();
        record_payouts(&seen, &case, i, &mut accepted);
    }
    for held in slow {
        let held = held.join().expect("no panic");
        check(&held, usize::MAX);
        assert!(held.closed, "a slow sender was never cut off: {held:?}");
    }
    assert!(answered > cases / 2, "{answered} answers to {cases} cases");

    paid_exactly_what_was_accepted(&system, &accepted);
    // Still serving.
    assert_eq!(system.grant_bonus(1, "BIG", "after-fuzz").status, 202);
    assert_eq!(system.pay_delivery(1, "4.5", "d-after-fuzz").status, 202);
}

/// A few slow senders alongside: one byte every 50 ms of a request
/// announcing more than it sends; each is cut off by a server timeout.
fn slow_senders(edge: &dyn Fn(bool) -> SocketAddr) -> Vec<thread::JoinHandle<Exchange>> {
    (0..4)
        .map(|i| {
            let addr = edge(i % 2 == 0);
            let bytes = b"POST /payments HTTP/1.1\r\ncontent-type: application/json\r\ncontent-length: 2000\r\n\r\n{\"courierId\": 1, \"amount\": ".to_vec();
            let gap = Sending {
                half_close: false,
                byte_gap: Some(Duration::from_millis(50)),
            };
            thread::spawn(move || exchange(addr, &bytes, gap))
        })
        .collect()
}

/// Notes every payout a 2xx answer accepted, by courier.
fn record_payouts(
    seen: &Exchange,
    case: &Case,
    i: usize,
    accepted: &mut BTreeMap<u64, BTreeSet<String>>,
) {
    for answer in seen
        .answers
        .iter()
        .filter(|a| (200..300).contains(&a.status))
    {
        let reference = answer.json()["reference"]
            .as_str()
            .unwrap_or("")
            .to_string();
        let is_payout = reference.starts_with("d-")
            || reference.starts_with("b-")
            || reference.starts_with("delivery-")
            || reference.starts_with("bonus-");
        if is_payout {
            let courier = accepted_courier(case)
                .unwrap_or_else(|| panic!("case {i}: a payout accepted for no courier: {seen:?}"));
            accepted.entry(courier).or_default().insert(reference);
        }
    }
}

/// No payout for a request not answered 2xx: what was paid is exactly what
/// was accepted.
fn paid_exactly_what_was_accepted(system: &AnySystem, accepted: &BTreeMap<u64, BTreeSet<String>>) {
    system.wait_until_drained();
    let expected: usize = accepted.values().map(BTreeSet::len).sum();
    wait_until("every accepted payout is paid", || {
        system.stats().payouts as usize >= expected
    });
    for (courier, references) in accepted {
        let paid: BTreeSet<String> = system
            .payouts(*courier)
            .payouts
            .into_iter()
            .map(|p| p.reference)
            .collect();
        assert_eq!(&paid, references, "courier {courier}");
    }
    assert_eq!(system.stats().payouts as usize, expected, "{accepted:?}");
}

/// The courier an accepted request named: from its body (payments) or its
/// path (bonuses), as sent.
fn accepted_courier(case: &Case) -> Option<u64> {
    let text = String::from_utf8_lossy(&case.bytes);
    let (head, body) = text.split_once("\r\n\r\n")?;
    if case.payments {
        // A chunked body is the template, unmutated: its courier is known.
        return serde_json::from_str::<serde_json::Value>(body)
            .ok()
            .and_then(|body| body["courierId"].as_u64())
            .or(case.courier);
    }
    let path = head.split(' ').nth(1)?;
    path.rsplit('/').next()?.parse().ok()
}

/// Every answer: no 5xx; an error carries the JSON body.
fn check(seen: &Exchange, case: usize) {
    for answer in &seen.answers {
        assert!(answer.status < 500, "case {case}: {answer:?}");
        if answer.status >= 400 {
            assert!(
                answer.has_error_body(),
                "case {case}: no JSON error body: {answer:?}"
            );
        }
    }
}

parity!(
    /// The fuzz campaign, on every variant.
    hostile_requests,
    campaign
);
