//! The `POST /payments` body parser on any bytes: it never panics, refuses
//! with a `400` whose message is bounded, and what it accepts serialises
//! back to a body it accepts the same way.

#![no_main]

use common::api::{MAX_MESSAGE_CHARS, PaymentRequest, parse_json};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    match parse_json::<PaymentRequest>(bytes) {
        Ok(request) => {
            let text = serde_json::to_string(&request).expect("serialises");
            let again: PaymentRequest = parse_json(text.as_bytes()).expect("reparses");
            assert_eq!(again.courier_id, request.courier_id);
            assert_eq!(again.amount, request.amount);
        }
        Err(error) => {
            assert_eq!(error.status.as_u16(), 400);
            let body: serde_json::Value = serde_json::from_str(&error.body_json()).unwrap();
            let message = body["message"].as_str().unwrap();
            assert!(message.chars().count() <= MAX_MESSAGE_CHARS + 10);
        }
    }
});
