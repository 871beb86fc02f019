//! The internal call: how Incentives asks Payments to pay a bonus, apart from
//! the edge.
//!
//! From outside, `POST /payments` pays deliveries only. A bonus payout goes to
//! `POST /internal/bonus-payouts` and must carry the header
//! `x-commlab-internal-token` with this process's token; without it the
//! route answers `403` and pays nothing. So a bonus can be paid only by
//! Incentives, which alone knows the token.
//!
//! Why a shared secret, and not a second port or a separate route alone:
//! - a separate *route* alone is no protection: anyone who can reach the edge
//!   can reach it;
//! - a separate *port* bound to loopback protects nothing here: the edge is on
//!   loopback too, so every client of the edge can reach the internal port —
//!   and a second listener per service would double the sockets, fault
//!   switches and crash handling;
//! - a secret authenticates the caller wherever it connects from, and costs a
//!   header. It is made once per process from the OS's random source — not
//!   from the run's seed, which reports print: a secret anyone can derive is
//!   none. Both services run in the one process (the harness), so they share
//!   it without configuration; as two processes (`commlab service`), the
//!   harness hands it to both in the environment ([`TOKEN_ENV`]) — not on the
//!   command line, which every user of the machine can read.
//!
//! Production would use mutual TLS or a network policy that lets only
//! Incentives reach an internal listener. The asynchronous variant has no
//! internal route: its Payments pays bonuses from the events it consumes
//! (`PaymentsApi::PAYS_BONUSES_OVER_HTTP`).

use std::sync::OnceLock;

use axum::extract::FromRequestParts;
use axum::http::StatusCode;
use axum::http::request::Parts;

use super::errors::ApiError;

/// Payments' internal route that pays a bonus.
pub const BONUS_PAYOUT_PATH: &str = "/internal/bonus-payouts";

/// The header that carries [`token`].
pub const TOKEN_HEADER: &str = "x-commlab-internal-token";

/// The environment variable that hands both services the same token when
/// each runs in its own process; unset, a process makes its own.
pub const TOKEN_ENV: &str = "COMMLAB_INTERNAL_TOKEN";

/// The shortest token accepted from [`TOKEN_ENV`]: 16 characters.
pub const MIN_TOKEN_LEN: usize = 16;

/// This process's internal token: from [`TOKEN_ENV`] when it is set (at least
/// [`MIN_TOKEN_LEN`] characters), else 128 random bits, hex.
pub fn token() -> &'static str {
    static TOKEN: OnceLock<String> = OnceLock::new();
    TOKEN.get_or_init(|| match std::env::var(TOKEN_ENV) {
        Ok(given) if given.len() >= MIN_TOKEN_LEN => given,
        _ => format!("{:032x}", rand::random::<u128>()),
    })
}

/// A fresh token for [`TOKEN_ENV`], for a parent that starts both services.
pub fn new_token() -> String {
    format!("{:032x}", rand::random::<u128>())
}

/// Whether `presented` is the token. Compares every byte whatever the
/// first difference, so the time taken does not tell how much was right.
fn is_token(presented: &[u8]) -> bool {
    let expected = token().as_bytes();
    presented.len() == expected.len()
        && presented
            .iter()
            .zip(expected)
            .fold(0u8, |diff, (a, b)| diff | (a ^ b))
            == 0
}

/// Extractor: the request carries the internal token, or it is refused `403`
/// before its body is read.
#[derive(Debug)]
pub struct Internal;

impl<S: Send + Sync> FromRequestParts<S> for Internal {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Internal, ApiError> {
        match parts.headers.get(TOKEN_HEADER) {
            Some(value) if is_token(value.as_bytes()) => Ok(Internal),
            _ => Err(ApiError::with_status(
                StatusCode::FORBIDDEN,
                "this route is internal: only Incentives pays bonuses",
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_token_passes() {
        assert!(is_token(token().as_bytes()));
        assert_eq!(token().len(), 32);
        assert!(!is_token(b""));
        let mut wrong = token().as_bytes().to_vec();
        wrong[31] ^= 1;
        assert!(!is_token(&wrong));
    }
}
