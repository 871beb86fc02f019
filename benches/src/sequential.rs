//! One request at a time, for criterion: the latency of a single round trip
//! on an otherwise idle system, with each of the two clients.
//!
//! Criterion's `iter_custom` hands over an iteration count and wants the
//! time those iterations took; [`async_round_trips`] runs them as one task on
//! the client runtime (where the harness's requests run), so the timing holds
//! no hand-off from the bench thread per request.

use std::time::{Duration, Instant};

use axum::http::header::CONTENT_TYPE;
use tokio::runtime::Runtime;

use crate::edge::{Request, Target};

/// `iters` requests of `target`, one after the other, on `runtime`.
/// Panics on a non-`2xx` answer: a benchmark of failures measures nothing.
pub fn async_round_trips(
    runtime: &Runtime,
    client: &reqwest::Client,
    target: &Target,
    iters: u64,
) -> Duration {
    let client = client.clone();
    let target = target.clone();
    let task = async move {
        let start = Instant::now();
        for n in 0..iters {
            round_trip(&client, target.get(n)).await;
        }
        start.elapsed()
    };
    runtime
        .block_on(runtime.spawn(task))
        .expect("the request loop does not panic")
}

/// One request with the async client, body read to the end.
pub async fn round_trip(client: &reqwest::Client, request: &Request) {
    let response = client
        .post(request.url.clone())
        .header(CONTENT_TYPE, "application/json")
        .body(request.body.clone())
        .send()
        .await
        .expect("the endpoint answers");
    let status = response.status();
    let body = response.bytes().await.expect("the body arrives");
    assert!(
        status.is_success(),
        "{} answered {status}: {body:?}",
        request.url
    );
}

/// One request with the blocking client, as a synchronous service calls its peer.
pub fn blocking_round_trip(client: &reqwest::blocking::Client, request: &Request) {
    let response = client
        .post(request.url.clone())
        .header(CONTENT_TYPE, "application/json")
        .body(request.body.to_vec())
        .send()
        .expect("the endpoint answers");
    let status = response.status();
    let body = response.bytes().expect("the body arrives");
    assert!(
        status.is_success(),
        "{} answered {status}: {body:?}",
        request.url
    );
}
