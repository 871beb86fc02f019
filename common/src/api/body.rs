//! Reading a request: the courier id from the path and a JSON body, strictly
//! and within bounds.
//!
//! The body is read into one buffer allocated once — of the announced
//! `Content-Length`, or of the limit when the body is chunked — and never
//! grown: a body announced above [`MAX_BODY_BYTES`] is refused `413` before a
//! byte is read, a chunked one that passes the limit as soon as it does. Each
//! piece hyper hands over is copied and dropped at once, so a client that
//! trickles a body one byte at a time holds one buffer, not thousands of
//! small allocations. The whole body must arrive within
//! [`BODY_READ_TIMEOUT`], or the answer is `408` and the connection closes.
//! (Why these figures: `common::server::limits`.)
//!
//! Then the text must be UTF-8 and JSON of exactly the expected shape:
//! serde's `deny_unknown_fields` on the request types names an unknown field.

use std::future::poll_fn;
use std::pin::Pin;

use axum::body::Body;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use hyper::body::Body as _;
use serde::de::DeserializeOwned;

use super::errors::ApiError;
use super::requests::parse_courier;
use crate::domain::CourierId;
pub use crate::server::limits::{BODY_READ_TIMEOUT, MAX_BODY_BYTES};

/// Extractor: the courier id, the last segment of the path as sent.
#[derive(Debug)]
pub struct CourierPath(pub CourierId);

impl<S: Send + Sync> FromRequestParts<S> for CourierPath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<CourierPath, ApiError> {
        let segment = parts.uri.path().rsplit('/').next().unwrap_or("");
        parse_courier(segment).map(CourierPath)
    }
}

/// Extractor: a JSON body of type `T`, read as the module doc says.
#[derive(Debug)]
pub struct StrictJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for StrictJson<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, _state: &S) -> Result<StrictJson<T>, ApiError> {
        let headers = request.headers();
        let is_json = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| {
                let mime = v.split(';').next().unwrap_or("").trim();
                mime.eq_ignore_ascii_case("application/json")
            });
        if !is_json {
            return Err(ApiError::bad_request(
                "expected a body with content-type: application/json",
            ));
        }
        // hyper has already checked that a Content-Length is one number.
        let announced = headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        let bytes = read_bounded(request.into_body(), announced).await?;
        parse_json(&bytes).map(StrictJson)
    }
}

/// Parses a whole body as `T`: UTF-8, JSON, no unknown field.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let text = std::str::from_utf8(bytes)
        .map_err(|e| ApiError::bad_request(format!("the body is not UTF-8: {e}")))?;
    serde_json::from_str(text).map_err(|e| ApiError::bad_request(format!("invalid body: {e}")))
}

/// Reads the whole body into one buffer sized once, within the limit and the
/// timeout.
async fn read_bounded(mut body: Body, announced: Option<u64>) -> Result<Vec<u8>, ApiError> {
    let too_large = || {
        ApiError::with_status(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("the body is larger than the limit of {MAX_BODY_BYTES} bytes"),
        )
    };
    let capacity = match announced {
        Some(length) if length > MAX_BODY_BYTES as u64 => return Err(too_large()),
        Some(length) => length as usize,
        None => MAX_BODY_BYTES,
    };
    let mut buffer = Vec::with_capacity(capacity);
    let read = async {
        while let Some(frame) = poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await {
            let frame = frame
                .map_err(|e| ApiError::bad_request(format!("the body could not be read: {e}")))?;
            let Ok(data) = frame.into_data() else {
                continue; // trailers carry nothing we read
            };
            if buffer.len() + data.len() > capacity {
                return Err(too_large());
            }
            buffer.extend_from_slice(&data);
        }
        Ok(())
    };
    match tokio::time::timeout(BODY_READ_TIMEOUT, read).await {
        Ok(result) => result?,
        Err(_) => {
            return Err(ApiError::with_status(
                StatusCode::REQUEST_TIMEOUT,
                format!(
                    "the body did not arrive within {} s",
                    BODY_READ_TIMEOUT.as_secs()
                ),
            ));
        }
    }
    Ok(buffer)
}
