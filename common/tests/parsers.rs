//! Property tests for the edge's parsers: the courier id in a path, the JSON
//! bodies, and money. Each must accept exactly its one canonical form, refuse
//! the rest with a bounded message, and never panic.

use common::Money;
use common::api::{
    BonusRequest, MAX_MESSAGE_CHARS, PaymentRequest, Reference, parse_courier, parse_json,
};
use proptest::prelude::*;

proptest! {
    #[test]
    fn every_courier_id_has_exactly_one_spelling(n in any::<u64>()) {
        prop_assert_eq!(parse_courier(&n.to_string()), Ok(n));
        for alias in [format!("+{n}"), format!("0{n}"), format!("-{n}"), format!("{n}.0"), format!(" {n}")] {
            prop_assert!(parse_courier(&alias).is_err(), "{} accepted", alias);
        }
    }

    #[test]
    fn a_path_segment_parses_only_when_canonical(segment in "[-+0-9%a-f. ]{0,24}") {
        match parse_courier(&segment) {
            Ok(n) => prop_assert_eq!(n.to_string(), segment),
            Err(e) => prop_assert!(e.message.len() < 200, "{}", e.message),
        }
    }

    #[test]
    fn a_payment_round_trips(
        courier in any::<u64>(),
        cents in 0u64..=100_000_000,
        delivery in proptest::option::of("[A-Za-z0-9._:-]{1,64}"),
    ) {
        let request = PaymentRequest {
            courier_id: courier,
            amount: Money::from_cents(cents),
            delivery_id: delivery.as_deref().map(|d| Reference::parse(d).unwrap()),
            bonus_id: None,
        };
        let text = serde_json::to_string(&request).unwrap();
        let back: PaymentRequest = parse_json(text.as_bytes()).unwrap();
        prop_assert_eq!(back.courier_id, courier);
        prop_assert_eq!(back.amount, Money::from_cents(cents));
        prop_assert_eq!(back.delivery_id.map(|d| d.as_str().to_string()), delivery);
    }

    #[test]
    fn an_unknown_field_is_refused_by_name(field in "[a-zA-Z]{1,12}") {
        prop_assume!(!["courierId", "amount", "deliveryId", "bonusId", "bonusType"].contains(&field.as_str()));
        let payment = format!(r#"{{"courierId": 1, "amount": 1, "{field}": 0}}"#);
        let error = parse_json::<PaymentRequest>(payment.as_bytes()).unwrap_err();
        prop_assert!(error.message.contains(&field), "{}", error.message);
        let bonus = format!(r#"{{"bonusType": "BIG", "{field}": 0}}"#);
        let error = parse_json::<BonusRequest>(bonus.as_bytes()).unwrap_err();
        prop_assert!(error.message.contains(&field), "{}", error.message);
    }

    #[test]
    fn any_bytes_parse_or_fail_with_a_bounded_message(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        if let Err(e) = parse_json::<PaymentRequest>(&bytes) {
            prop_assert_eq!(e.status.as_u16(), 400);
            let body: serde_json::Value = serde_json::from_str(&e.body_json()).unwrap();
            prop_assert!(body["message"].as_str().unwrap().chars().count() <= MAX_MESSAGE_CHARS + 10);
        }
    }

    #[test]
    fn money_text_round_trips(cents in any::<u64>()) {
        let money = Money::from_cents(cents);
        prop_assert_eq!(Money::parse_decimal(&money.to_string()), Ok(money));
    }

    #[test]
    fn a_reference_parses_only_in_its_alphabet(text in "\\PC{0,80}") {
        let ok = !text.is_empty()
            && text.len() <= 64
            && text.chars().all(|c| c.is_ascii_alphanumeric() || ".:_-".contains(c));
        prop_assert_eq!(Reference::parse(&text).is_ok(), ok);
    }
}
