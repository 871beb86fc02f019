//! The edge's contract under hostile input, on every variant: no forged bonus,
//! idempotency keys bound to their first request (409, across a crash too),
//! strict bodies and paths, one JSON error body on every error — hyper's and
//! axum's own included — and slow requests cut off.

use std::thread;

use common::Money;
use common::api::internal::{BONUS_PAYOUT_PATH, TOKEN_HEADER};
use common::api::{MAX_MESSAGE_CHARS, PayoutKind};
use common::server::limits::{BODY_READ_TIMEOUT, HEADER_READ_TIMEOUT, MAX_BODY_BYTES};
use common::system::{Fault, Service, System, Variant};
use testkit::raw::{Exchange, Sending, bodiless, exchange, post_json};
use testkit::wait_until;

#[macro_use]
mod support;

use support::AnySystem;

/// The one answer on a connection, which must carry the JSON error body.
fn error_answer(exchange: &Exchange, status: u16, what: &str) {
    let answer = exchange
        .answers
        .first()
        .unwrap_or_else(|| panic!("{what}: no answer: {exchange:?}"));
    assert_eq!(answer.status, status, "{what}: {answer:?}");
    assert!(
        answer.has_error_body(),
        "{what}: no JSON error body: {answer:?}"
    );
}

parity!(
    /// `POST /payments` with a `bonusId` is a 400 and pays nothing; the real
    /// grant of that id afterwards is paid its own amount, once.
    forged_bonus_at_the_edge_is_refused,
    |system: AnySystem, _variant| {
        let forged = r#"{"courierId": 21, "amount": 1000000, "bonusId": "b-3"}"#;
        let answer = system.post_json(&system.payments_url("/payments"), forged);
        assert_eq!(answer.status, 400, "{answer:?}");
        assert!(answer.message().contains("bonusId"), "{answer:?}");
        assert_eq!(system.grant_bonus(21, "SMALL", "b-3").status, 202);
        system.wait_until_drained();
        wait_until("the real bonus is paid", || system.payouts(21).payouts.len() == 1);
        let view = system.payouts(21);
        assert_eq!(view.total, Money::from_units(5), "{view:?}");
        assert_eq!(view.payouts[0].kind, PayoutKind::Bonus);
    }
);

parity!(
    /// The internal bonus route without the token, or with a wrong one, pays
    /// nothing: 403 where the route exists (sync), 404 where it does not (async).
    internal_route_needs_the_token,
    |system: AnySystem, variant| {
        let addr = system.system().payments_addr();
        let body = br#"{"courierId": 22, "amount": 20, "bonusId": "b-forged"}"#;
        let expected = match variant {
            Variant::Async => 404,
            _ => 403,
        };
        let plain = exchange(addr, &post_json(BONUS_PAYOUT_PATH, body), Sending::default());
        error_answer(&plain, expected, "no token");
        let mut wrong = post_json(BONUS_PAYOUT_PATH, body);
        let at = wrong.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
        let header = format!("\r\n{TOKEN_HEADER}: {}", "0".repeat(32));
        wrong.splice(at..at, header.bytes());
        let forged = exchange(addr, &wrong, Sending::default());
        error_answer(&forged, expected, "wrong token");
        assert!(system.payouts(22).payouts.is_empty());
        assert_eq!(system.stats().payouts, 0);
    }
);

parity!(
    /// A bonus id reused with another bonus type or courier is a 409 naming
    /// it, and pays nothing; the same request again is a 202 and pays once.
    reused_bonus_id_with_another_request_is_a_conflict,
    |system: AnySystem, _variant| {
        assert_eq!(system.grant_bonus(23, "SMALL", "k-1").status, 202);
        for (courier, bonus) in [(23, "BIG"), (24, "SMALL")] {
            let answer = system.grant_bonus(courier, bonus, "k-1");
            assert_eq!(answer.status, 409, "{courier} {bonus}: {answer:?}");
            assert!(answer.message().contains("k-1"), "{answer:?}");
        }
        assert_eq!(system.grant_bonus(23, "SMALL", "k-1").status, 202);
        system.wait_until_drained();
        wait_until("the bonus is paid", || system.payouts(23).payouts.len() == 1);
        assert_eq!(system.payouts(23).total, Money::from_units(5));
        assert!(system.payouts(24).payouts.is_empty());
        assert_eq!(system.stats().payouts, 1);
    }
);

parity!(
    /// A delivery id reused with another amount or courier is a 409 naming it,
    /// and pays nothing.
    reused_delivery_id_with_another_request_is_a_conflict,
    |system: AnySystem, _variant| {
        assert_eq!(system.pay_delivery(25, "4.50", "d-k").status, 202);
        for (courier, amount) in [(25, "1000000"), (26, "4.50")] {
            let answer = system.pay_delivery(courier, amount, "d-k");
            assert_eq!(answer.status, 409, "{courier} {amount}: {answer:?}");
            assert!(answer.message().contains("d-k"), "{answer:?}");
        }
        assert_eq!(system.pay_delivery(25, "4.5", "d-k").status, 202);
        assert_eq!(system.payouts(25).total, Money::from_cents(450));
        assert!(system.payouts(26).payouts.is_empty());
        assert_eq!(system.stats().payouts, 1);
    }
);

parity!(
    /// Keys stay bound across a crash of both services: the records stand
    /// for databases.
    keys_survive_a_crash,
    |system: AnySystem, _variant| {
        assert_eq!(system.grant_bonus(27, "AVERAGE", "k-crash").status, 202);
        assert_eq!(system.pay_delivery(27, "4.50", "d-crash").status, 202);
        system.wait_until_drained();
        for service in [Service::Incentives, Service::Payments] {
            system.inject(Fault::Crash(service));
        }
        for service in [Service::Incentives, Service::Payments] {
            system.heal(Fault::Crash(service));
        }
        system.wait_until_serving();
        assert_eq!(system.grant_bonus(27, "BIG", "k-crash").status, 409);
        assert_eq!(system.pay_delivery(27, "9", "d-crash").status, 409);
        assert_eq!(system.grant_bonus(27, "AVERAGE", "k-crash").status, 202);
        assert_eq!(system.pay_delivery(27, "4.50", "d-crash").status, 202);
        system.wait_until_drained();
        wait_until("both are paid", || system.payouts(27).payouts.len() == 2);
        assert_eq!(system.payouts(27).total, Money::from_cents(1000 + 450));
    }
);

parity!(
    /// Unknown or misspelt fields are refused by name, invalid UTF-8 too;
    /// courier ids have one spelling; nothing of it pays.
    strict_bodies_and_paths,
    |system: AnySystem, _variant| {
        let misspelt = system.post_json(
            &system.incentives_url("/incentives/bonuses/28"),
            r#"{"bonusType":"SMALL","bonusID":"k-2"}"#,
        );
        assert_eq!(misspelt.status, 400);
        assert!(misspelt.message().contains("bonusID"), "{misspelt:?}");
        let unknown = system.post_json(
            &system.payments_url("/payments"),
            r#"{"courierId": 28, "amount": 4.5, "tip": 1}"#,
        );
        assert_eq!(unknown.status, 400);
        assert!(unknown.message().contains("tip"), "{unknown:?}");

        let addr = system.system().payments_addr();
        let mut body = br#"{"courierId": 28, "amount": 4.5, "x": ""#.to_vec();
        body.extend_from_slice(&[0xff, 0xfe, b'"', b'}']);
        let not_utf8 = exchange(addr, &post_json("/payments", &body), Sending::default());
        error_answer(&not_utf8, 400, "invalid UTF-8");

        for alias in ["+28", "028", "%3228", "-28", "28.0"] {
            let answer = system.get(&system.payments_url(&format!("/payments/{alias}")));
            assert_eq!(answer.status, 400, "{alias}: {answer:?}");
            let grant = system.post_json(
                &system.incentives_url(&format!("/incentives/bonuses/{alias}")),
                r#"{"bonusType":"BIG"}"#,
            );
            assert_eq!(grant.status, 400, "{alias}: {grant:?}");
        }
        system.wait_until_drained();
        assert_eq!(system.stats().payouts, 0);
    }
);

parity!(
    /// What hyper and axum refuse before any handler carries the JSON error
    /// body too, and messages quote long values by a short prefix.
    every_error_has_the_json_body,
    |system: AnySystem, _variant| {
        let addr = system.system().payments_addr();
        let send = |bytes: &[u8]| exchange(addr, bytes, Sending::default());
        error_answer(&send(&bodiless("PATCH", "/payments")), 405, "PATCH");
        error_answer(&send(&bodiless("GET", "/nowhere")), 404, "unknown path");
        let long = format!("/payments/{}", "1".repeat(3_000));
        error_answer(&send(&bodiless("GET", &long)), 414, "a long URI");
        let huge = format!("/payments/{}", "1".repeat(100_000));
        error_answer(&send(&bodiless("GET", &huge)), 431, "a 100 KB URI");
        let mut many = String::from("GET /payments/1 HTTP/1.1\r\nhost: t\r\n");
        for i in 0..120 {
            many.push_str(&format!("x-h{i}: v\r\n"));
        }
        many.push_str("\r\n");
        error_answer(&send(many.as_bytes()), 431, "120 headers");
        let bad_length = b"POST /payments HTTP/1.1\r\ncontent-length: nine\r\n\r\n";
        error_answer(&send(bad_length), 400, "a bad Content-Length");
        error_answer(
            &exchange(addr, b"GET /payments/1\r\n\r\n", Sending::default()),
            400,
            "HTTP/0.9",
        );
        let over = vec![b' '; MAX_BODY_BYTES + 1];
        error_answer(&send(&post_json("/payments", &over)), 413, "a body over the limit");

        let value = "v".repeat(7_000);
        let body = format!(r#"{{"courierId": 1, "amount": 1, "deliveryId": "{value}"}}"#);
        let cut = send(&post_json("/payments", body.as_bytes()));
        error_answer(&cut, 400, "a long reference");
        let message = cut.answers[0].json()["message"].as_str().unwrap().to_string();
        assert!(message.chars().count() <= MAX_MESSAGE_CHARS + 10, "{message}");
        assert_eq!(system.stats().payouts, 0);
        assert_eq!(system.pay_delivery(1, "4.5", "d-after").status, 202);
    }
);

parity!(
    /// A body that announces more than it sends, a chunked body without its
    /// last chunk, and a head that never ends are all cut off after the
    /// stated timeout; the service keeps serving meanwhile.
    slow_requests_are_cut_off,
    |system: AnySystem, _variant| {
        let addr = system.system().payments_addr();
        let short = b"POST /payments HTTP/1.1\r\ncontent-type: application/json\r\ncontent-length: 1000\r\n\r\n{\"courierId\": 1, \"amount\": 4.5, \"deliveryId\": \"d";
        let chunked = b"POST /payments HTTP/1.1\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n5\r\n{\"cou\r\n";
        let head = b"GET /payments/1 HTTP/1.1\r\nhost: t\r\nx-slow: ";
        let slow = [
            thread::spawn(move || exchange(addr, short, Sending::default())),
            thread::spawn(move || exchange(addr, chunked, Sending::default())),
            thread::spawn(move || exchange(addr, head, Sending::default())),
        ];
        // While they are held, others are served.
        assert_eq!(system.pay_delivery(2, "4.5", "d-meanwhile").status, 202);
        let [short, chunked, head] = slow.map(|t| t.join().expect("no panic"));
        for (what, held) in [("short body", &short), ("unfinished chunks", &chunked)] {
            error_answer(held, 408, what);
            assert!(held.closed, "{what}: still open");
            assert!(held.elapsed >= BODY_READ_TIMEOUT.mul_f64(0.9), "{what}: {held:?}");
        }
        assert!(head.closed && head.answers.is_empty(), "{head:?}");
        assert!(head.elapsed >= HEADER_READ_TIMEOUT.mul_f64(0.9), "{head:?}");
        assert_eq!(system.stats().payouts, 1);
    }
);
