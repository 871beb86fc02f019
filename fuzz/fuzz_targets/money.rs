//! `Money::parse_decimal` on any text: it never panics, and whatever it
//! accepts prints back to text that parses to the same amount.

#![no_main]

use common::Money;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    if let Ok(money) = Money::parse_decimal(text) {
        assert_eq!(Money::parse_decimal(&money.to_string()), Ok(money), "{text:?}");
    }
});
