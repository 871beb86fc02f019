//! The one error contract of both services: every `4xx` and `5xx` they send
//! carries `{"error": code, "message": text}`.
//!
//! Three kinds of code produce errors, and all three end here:
//! - the handlers and the variants return an [`ApiError`];
//! - axum answers a few requests itself before any handler runs (a method the
//!   route does not take: `405`). [`fill_empty_errors`] gives those the body;
//! - hyper answers requests it cannot parse (a bad `Content-Length`, a head too
//!   large, HTTP/0.9) before axum sees them; `common::server::wire` rewrites
//!   those answers on their way out with [`ApiError::to_http_bytes`].
//!
//! Messages quote what the client sent, cut to a short prefix ([`brief`]), and
//! are never longer than [`MAX_MESSAGE_CHARS`]: an error must not echo a 2 MB
//! value back.

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use hyper::body::Body as _;

/// How much of a client's value an error message quotes: enough to recognise
/// it, never enough to amplify a huge request into a huge answer.
pub const MAX_QUOTED_CHARS: usize = 40;

/// The longest message an error body carries. serde's messages quote field
/// names and values whole; this bounds them all in one place.
pub const MAX_MESSAGE_CHARS: usize = 300;

/// An edge error: a status and a JSON body `{"error": code, "message": ...}`.
/// Variants return these; the shared middleware counts them by status.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{status} {code}: {message}")]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
}

impl ApiError {
    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    /// A reused idempotency key with a different request, or one whose first
    /// request is still running: `409`, and nothing is done.
    pub fn conflict(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::CONFLICT, "conflict", message)
    }

    /// A dependency failed or refused: `503`.
    pub fn unavailable(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", message)
    }

    /// A dependency did not answer in time: `504`.
    pub fn timeout(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::GATEWAY_TIMEOUT, "timeout", message)
    }

    /// A bounded queue is full: `503`, so the client backs off instead of
    /// the service queueing without limit.
    pub fn overloaded(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "overloaded", message)
    }

    /// Any status, with the code named after it (`405` → `method_not_allowed`)
    /// and its reason phrase as the message: for the answers axum and hyper
    /// make before a handler could say more.
    pub fn from_status(status: StatusCode) -> ApiError {
        let reason = status.canonical_reason().unwrap_or("error");
        ApiError::with_status(status, reason.to_lowercase())
    }

    /// Any status, with the code named after it and this message.
    pub fn with_status(status: StatusCode, message: impl Into<String>) -> ApiError {
        let code = match status {
            StatusCode::BAD_REQUEST => "bad_request",
            StatusCode::FORBIDDEN => "forbidden",
            StatusCode::NOT_FOUND => "not_found",
            StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
            StatusCode::REQUEST_TIMEOUT => "request_timeout",
            StatusCode::CONFLICT => "conflict",
            StatusCode::PAYLOAD_TOO_LARGE => "payload_too_large",
            StatusCode::URI_TOO_LONG => "uri_too_long",
            StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE => "header_fields_too_large",
            StatusCode::SERVICE_UNAVAILABLE => "unavailable",
            StatusCode::GATEWAY_TIMEOUT => "timeout",
            s if s.is_server_error() => "internal",
            _ => "error",
        };
        ApiError::new(status, code, message)
    }

    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
        }
    }

    /// The JSON body, with the message cut to [`MAX_MESSAGE_CHARS`].
    pub fn body_json(&self) -> String {
        let message = cut(&self.message, MAX_MESSAGE_CHARS);
        serde_json::json!({ "error": self.code, "message": message }).to_string()
    }

    /// A whole HTTP/1.1 answer that closes the connection: for the places
    /// that answer on a raw socket, below axum (the connection cap, hyper's
    /// parse errors).
    pub fn to_http_bytes(&self) -> Vec<u8> {
        let body = self.body_json();
        let reason = self.status.canonical_reason().unwrap_or("");
        format!(
            "HTTP/1.1 {} {reason}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            self.status.as_u16(),
            body.len(),
        )
        .into_bytes()
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = self.body_json();
        let headers = [(header::CONTENT_TYPE, "application/json")];
        (self.status, headers, body).into_response()
    }
}

/// A client's value as an error message quotes it: in full when short, else
/// its first [`MAX_QUOTED_CHARS`] characters and its length.
pub fn brief(value: &str) -> String {
    if value.chars().count() <= MAX_QUOTED_CHARS {
        return format!("{value:?}");
    }
    let prefix: String = value.chars().take(MAX_QUOTED_CHARS).collect();
    format!("{prefix:?}… ({} bytes)", value.len())
}

fn cut(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut out: String = text.chars().take(max).collect();
    out.push_str("… (cut)");
    out
}

/// Router middleware: an error answer without a body (axum's own `405`, for
/// one) gets the JSON body its status calls for. Answers with a body pass.
pub async fn fill_empty_errors(request: Request<Body>, next: Next) -> Response {
    let response = next.run(request).await;
    let status = response.status();
    let empty = response.body().size_hint().exact() == Some(0);
    if (status.is_client_error() || status.is_server_error()) && empty {
        // Keep what axum said besides the body (`Allow` on a 405).
        let (mut parts, _) = response.into_parts();
        parts.headers.remove(header::CONTENT_LENGTH);
        parts.headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        let body = ApiError::from_status(status).body_json();
        return Response::from_parts(parts, Body::from(body));
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_values_are_quoted_by_a_prefix() {
        let huge = "x".repeat(2_000_000);
        let quoted = brief(&huge);
        assert!(quoted.len() < 80, "{quoted}");
        assert!(quoted.contains("2000000 bytes"));
        assert_eq!(brief("b-1"), "\"b-1\"");
    }

    #[test]
    fn messages_are_bounded() {
        let error = ApiError::bad_request("y".repeat(10_000));
        let body: serde_json::Value = serde_json::from_str(&error.body_json()).unwrap();
        assert!(body["message"].as_str().unwrap().chars().count() <= MAX_MESSAGE_CHARS + 10);
        assert_eq!(body["error"], "bad_request");
    }

    #[test]
    fn raw_answers_are_whole_http_messages() {
        let bytes = ApiError::from_status(StatusCode::URI_TOO_LONG).to_http_bytes();
        let text = String::from_utf8(bytes).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        assert!(head.starts_with("HTTP/1.1 414 URI Too Long\r\n"));
        assert!(head.contains(&format!("content-length: {}", body.len())));
        assert!(body.contains("\"uri_too_long\""));
    }
}
