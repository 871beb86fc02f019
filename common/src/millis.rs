//! Durations as the results write them and the configurations read them back:
//! milliseconds, as a number (`"call_timeout_ms": 1000.0`). Use it with
//! `#[serde(with = "common::millis")]` on a `Duration` field.
//!
//! Reading is the other half of the same rule, so that a configuration a
//! process writes (`commlab service --spec JSON`) is the one it reads: a
//! negative, non-finite or absurdly large number is refused, not clamped.

use std::time::Duration;

use serde::{Deserialize, Deserializer, Serializer};

/// Writes `duration` as milliseconds (fractions kept).
pub fn serialize<S: Serializer>(duration: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_f64(duration.as_secs_f64() * 1000.0)
}

/// Reads milliseconds back into a duration.
pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
    let ms = f64::deserialize(deserializer)?;
    Duration::try_from_secs_f64(ms / 1000.0).map_err(|_| {
        serde::de::Error::custom(format!(
            "{ms} ms is not a duration (a number of milliseconds, 0 or more)"
        ))
    })
}

#[cfg(test)]
mod tests {
    use serde::{Deserialize, Serialize};
    use std::time::Duration;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Timed {
        #[serde(with = "super")]
        wait: Duration,
    }

    #[test]
    fn milliseconds_round_trip_and_a_negative_is_refused() {
        let timed = Timed {
            wait: Duration::from_micros(2_500),
        };
        let text = serde_json::to_string(&timed).unwrap();
        assert_eq!(text, r#"{"wait":2.5}"#);
        assert_eq!(serde_json::from_str::<Timed>(&text).unwrap(), timed);
        let error = serde_json::from_str::<Timed>(r#"{"wait":-1}"#).unwrap_err();
        assert!(
            error.to_string().contains("-1 ms is not a duration"),
            "{error}"
        );
    }
}
