//! The JSON error body for the answers hyper writes on its own.
//!
//! hyper answers a request it cannot parse — a bad `Content-Length`, a head
//! that does not fit ([`super::limits::MAX_HEAD_BYTES`]), too many headers,
//! HTTP/0.9, bytes that are not HTTP — before any of our code runs, with an
//! empty `400`, `414` or `431`, and then closes the connection. It has no hook
//! to change that answer, so this wrapper around the socket watches what is
//! written: each answer's head is read with `httparse` (the parser hyper
//! itself uses), bodies are counted past by their `Content-Length`, and an
//! error answer with an empty body — which only hyper sends, since every
//! answer of ours carries `{"error", "message"}` — is replaced by the same
//! status with the JSON body ([`ApiError::to_http_bytes`]).
//!
//! The wrapper never holds bytes back: anything it cannot follow (a chunked or
//! close-delimited body, a head it cannot parse) switches it to passing
//! everything through unchanged for the rest of the connection.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll, ready};

use axum::http::StatusCode;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::api::ApiError;
use crate::faults::ServiceFaults;

/// The most bytes kept waiting for the socket before a write waits too.
const MAX_PENDING: usize = 64 * 1024;

/// The longest answer head this follows; longer ones pass through.
const MAX_HEAD: usize = 16 * 1024;

/// The headers an answer head may have for this to follow it.
const MAX_ANSWER_HEADERS: usize = 32;

/// A socket whose empty error answers get the JSON body.
pub(super) struct ErrorBodies<IO> {
    io: IO,
    /// Bytes to write to the socket, from `written` on.
    out: Vec<u8>,
    written: usize,
    scan: Scan,
    /// Counts the rewritten answers as the edge's other `4xx`.
    faults: Arc<ServiceFaults>,
}

enum Scan {
    /// At the start of an answer: its head so far.
    Head(Vec<u8>),
    /// Inside a body: this many bytes to pass.
    Body(usize),
    /// Not following any more.
    Passthrough,
}

impl<IO> ErrorBodies<IO> {
    pub(super) fn new(io: IO, faults: Arc<ServiceFaults>) -> ErrorBodies<IO> {
        ErrorBodies {
            io,
            out: Vec::new(),
            written: 0,
            scan: Scan::Head(Vec::new()),
            faults,
        }
    }

    /// Takes bytes hyper wrote into `out`, rewriting where needed.
    fn take(&mut self, mut bytes: &[u8]) {
        while !bytes.is_empty() {
            match &mut self.scan {
                Scan::Passthrough => {
                    self.out.extend_from_slice(bytes);
                    return;
                }
                Scan::Body(left) => {
                    let n = (*left).min(bytes.len());
                    self.out.extend_from_slice(&bytes[..n]);
                    *left -= n;
                    if *left == 0 {
                        self.scan = Scan::Head(Vec::new());
                    }
                    bytes = &bytes[n..];
                }
                Scan::Head(head) => {
                    let before = head.len();
                    head.extend_from_slice(bytes);
                    let from = before.saturating_sub(3);
                    match find_end_of_head(&head[from..]) {
                        Some(end) => {
                            let end = from + end;
                            head.truncate(end);
                            let head = std::mem::take(head);
                            bytes = &bytes[end - before..];
                            self.answer_head(head);
                        }
                        None => {
                            if !b"HTTP/".starts_with(&head[..head.len().min(5)])
                                || head.len() > MAX_HEAD
                            {
                                self.give_up();
                            }
                            return;
                        }
                    }
                }
            }
        }
    }

    /// A whole answer head: passed on, or replaced when it is an empty error.
    fn answer_head(&mut self, head: Vec<u8>) {
        let mut headers = [httparse::EMPTY_HEADER; MAX_ANSWER_HEADERS];
        let mut answer = httparse::Response::new(&mut headers);
        if !matches!(answer.parse(&head), Ok(httparse::Status::Complete(_))) {
            self.out.extend_from_slice(&head);
            self.scan = Scan::Passthrough;
            return;
        }
        let status = answer.code.unwrap_or(0);
        let mut length = None;
        let mut chunked = false;
        for header in answer.headers.iter() {
            if header.name.eq_ignore_ascii_case("content-length") {
                length = std::str::from_utf8(header.value)
                    .ok()
                    .and_then(|v| v.trim().parse::<usize>().ok());
            } else if header.name.eq_ignore_ascii_case("transfer-encoding") {
                chunked = true;
            }
        }
        let error = StatusCode::from_u16(status)
            .ok()
            .filter(|s| s.is_client_error() || s.is_server_error());
        match (error, length, chunked) {
            (Some(status), Some(0), false) => {
                self.out
                    .extend_from_slice(&ApiError::from_status(status).to_http_bytes());
                self.faults
                    .counters
                    .bad_request
                    .fetch_add(1, Ordering::Relaxed);
                self.scan = Scan::Head(Vec::new());
            }
            (_, Some(length), false) => {
                self.out.extend_from_slice(&head);
                self.scan = match length {
                    0 => Scan::Head(Vec::new()),
                    n => Scan::Body(n),
                };
            }
            // 1xx, 204 and 304 have no body and no length.
            (_, None, false) if status < 200 || status == 204 || status == 304 => {
                self.out.extend_from_slice(&head);
                self.scan = Scan::Head(Vec::new());
            }
            _ => {
                self.out.extend_from_slice(&head);
                self.scan = Scan::Passthrough;
            }
        }
    }

    /// Stops following: whatever was held goes out as it was.
    fn give_up(&mut self) {
        if let Scan::Head(head) = std::mem::replace(&mut self.scan, Scan::Passthrough) {
            self.out.extend_from_slice(&head);
        }
    }
}

fn find_end_of_head(bytes: &[u8]) -> Option<usize> {
    bytes
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|i| i + 4)
}

impl<IO: AsyncWrite + Unpin> ErrorBodies<IO> {
    /// Writes what is pending. Ready when all of it is written.
    fn poll_drain(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.written < self.out.len() {
            let n = ready!(Pin::new(&mut self.io).poll_write(cx, &self.out[self.written..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.written += n;
        }
        self.out.clear();
        self.written = 0;
        Poll::Ready(Ok(()))
    }
}

impl<IO: AsyncRead + Unpin> AsyncRead for ErrorBodies<IO> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_read(cx, buf)
    }
}

impl<IO: AsyncWrite + Unpin> AsyncWrite for ErrorBodies<IO> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if let Poll::Ready(Err(e)) = this.poll_drain(cx) {
            return Poll::Ready(Err(e));
        }
        if this.out.len() - this.written >= MAX_PENDING {
            return Poll::Pending; // the socket's waker is registered
        }
        this.take(buf);
        if let Poll::Ready(Err(e)) = this.poll_drain(cx) {
            return Poll::Ready(Err(e));
        }
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if matches!(&this.scan, Scan::Head(head) if !head.is_empty()) {
            // hyper flushes whole answers; a partial head here is not one.
            this.give_up();
        }
        ready!(this.poll_drain(cx))?;
        Pin::new(&mut this.io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        this.give_up();
        ready!(this.poll_drain(cx))?;
        Pin::new(&mut this.io).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rewrite(chunks: &[&[u8]]) -> String {
        let mut wire = ErrorBodies::new(Vec::<u8>::new(), ServiceFaults::new("test", 1));
        for chunk in chunks {
            wire.take(chunk);
        }
        wire.give_up();
        String::from_utf8(wire.out).unwrap()
    }

    #[test]
    fn an_empty_error_gets_the_json_body() {
        let out = rewrite(&[b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"]);
        assert!(out.starts_with("HTTP/1.1 431 "), "{out}");
        assert!(out.ends_with("}"), "{out}");
        assert!(
            out.contains("\"error\":\"header_fields_too_large\""),
            "{out}"
        );
    }

    #[test]
    fn answers_with_bodies_pass_unchanged_even_when_split() {
        let ok = "HTTP/1.1 202 Accepted\r\ncontent-length: 5\r\n\r\nhello";
        let error = "HTTP/1.1 400 Bad Request\r\ncontent-length: 2\r\n\r\n{}";
        let whole = format!("{ok}{error}");
        let (a, b) = whole.as_bytes().split_at(30);
        assert_eq!(rewrite(&[a, b]), whole);
        assert_eq!(rewrite(&[whole.as_bytes()]), whole);
    }

    #[test]
    fn after_a_body_the_next_empty_error_is_still_found() {
        let out = rewrite(&[
            b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}",
            b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n",
        ]);
        assert!(out.starts_with("HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}HTTP/1.1 400"));
        assert!(out.contains("\"bad_request\""), "{out}");
    }

    #[test]
    fn what_it_cannot_follow_passes_through() {
        let chunked = "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n0\r\n\r\nHTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n";
        assert_eq!(rewrite(&[chunked.as_bytes()]), chunked);
        assert_eq!(rewrite(&[b"garbage"]), "garbage");
    }
}
