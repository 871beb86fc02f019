//! How an event travels: JSON, so that `nats stream view` shows it, and the
//! broker's sequence and publish time turned back into a [`Record`].
//! Part of `jetstream/`.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use async_nats::jetstream::Message;
use common::api::Reference;
use common::{BonusType, CourierId, Performance};
use serde::{Deserialize, Serialize};

use crate::events::Event;
use crate::stream::{Record, StreamError};

/// An event as it travels: JSON, so that `nats stream view` shows it.
#[derive(Serialize, Deserialize)]
#[serde(tag = "type")]
enum Wire {
    BonusGranted {
        courier: CourierId,
        bonus_type: BonusType,
        bonus_id: String,
    },
    PerformanceChanged {
        courier: CourierId,
        performance: Performance,
    },
}

pub(super) fn encode(event: &Event) -> Vec<u8> {
    let wire = match event {
        Event::BonusGranted {
            courier,
            bonus_type,
            bonus_id,
        } => Wire::BonusGranted {
            courier: *courier,
            bonus_type: *bonus_type,
            bonus_id: bonus_id.as_str().to_string(),
        },
        Event::PerformanceChanged {
            courier,
            performance,
        } => Wire::PerformanceChanged {
            courier: *courier,
            performance: *performance,
        },
    };
    // Serialising plain fields into a Vec cannot fail.
    serde_json::to_vec(&wire).unwrap_or_default()
}

pub(super) fn decode(offset: u64, message: &Message) -> Result<Record, StreamError> {
    let undecodable = StreamError::Undecodable { offset };
    let event = match serde_json::from_slice(&message.payload).map_err(|_| undecodable.clone())? {
        Wire::BonusGranted {
            courier,
            bonus_type,
            bonus_id,
        } => Event::BonusGranted {
            courier,
            bonus_type,
            bonus_id: Reference::parse(&bonus_id).map_err(|_| undecodable.clone())?,
        },
        Wire::PerformanceChanged {
            courier,
            performance,
        } => Event::PerformanceChanged {
            courier,
            performance,
        },
    };
    // The broker's publish time, on this process's monotonic clock.
    let published_at = message
        .info()
        .ok()
        .and_then(|info| {
            let published_ns = u128::try_from(info.published.unix_timestamp_nanos()).ok()?;
            let now_ns = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .ok()?
                .as_nanos();
            let age = Duration::from_nanos(now_ns.saturating_sub(published_ns) as u64);
            Instant::now().checked_sub(age)
        })
        .unwrap_or_else(Instant::now);
    Ok(Record {
        offset,
        published_at,
        event,
    })
}

/// The message's offset: its stream sequence − 1.
pub(super) fn offset_of(message: &Message) -> Option<u64> {
    message.info().ok().map(|info| info.stream_sequence - 1)
}
