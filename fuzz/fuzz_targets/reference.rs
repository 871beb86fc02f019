//! References and courier ids on any text: they never panic, a reference is
//! accepted only in its alphabet and length, a courier id only in its one
//! canonical spelling.

#![no_main]

use common::api::{Reference, parse_courier};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    if let Ok(reference) = Reference::parse(text) {
        assert_eq!(reference.as_str(), text);
        assert!((1..=64).contains(&text.len()));
        assert!(text.chars().all(|c| c.is_ascii_alphanumeric() || ".:_-".contains(c)));
    }
    if let Ok(courier) = parse_courier(text) {
        assert_eq!(courier.to_string(), text);
    }
});
