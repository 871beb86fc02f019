//! A raw HTTP/1.1 client on a plain socket, for the tests that send what no
//! well-behaved client would: malformed heads, mismatched bodies, garbage,
//! slow or half-closed requests. reqwest cannot send those, and it hides how
//! the server answered (or did not).

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use serde_json::Value;

/// How long reading an answer may take in all: longer than any server
/// timeout (5 s), so that a test sees the server's decision, not its own.
pub const READ_LIMIT: Duration = Duration::from_secs(15);

/// The most bytes read from one connection: far more than any answer.
const MAX_READ: usize = 1 << 20;

/// One answer read off the wire.
#[derive(Debug, Clone)]
pub struct RawAnswer {
    pub status: u16,
    pub head: String,
    pub body: Vec<u8>,
}

impl RawAnswer {
    /// The body as JSON (`Null` when it is not JSON).
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }

    /// Whether the body is `{"error": "...", "message": "..."}`.
    pub fn has_error_body(&self) -> bool {
        let body = self.json();
        body["error"].is_string() && body["message"].is_string()
    }
}

/// What happened on one connection.
#[derive(Debug, Clone)]
pub struct Exchange {
    /// Every complete answer, in order.
    pub answers: Vec<RawAnswer>,
    /// Bytes after the last complete answer (a cut answer).
    pub rest: Vec<u8>,
    /// The server closed the connection (EOF or reset) within [`READ_LIMIT`].
    pub closed: bool,
    /// From the last byte sent until the connection closed or the reading
    /// stopped.
    pub elapsed: Duration,
}

/// How to send a request's bytes.
#[derive(Debug, Clone, Copy, Default)]
pub struct Sending {
    /// Close our writing side after the bytes: the server sees EOF.
    pub half_close: bool,
    /// Wait this long between single bytes (a slow sender). `None`: at once.
    pub byte_gap: Option<Duration>,
}

/// Sends `bytes` on a new connection, then reads until the server closes
/// the connection or [`READ_LIMIT`] passes.
pub fn exchange(addr: SocketAddr, bytes: &[u8], sending: Sending) -> Exchange {
    let mut stream = TcpStream::connect(addr).expect("the service accepts connections");
    let _ = stream.set_nodelay(true);
    match sending.byte_gap {
        None => {
            // The server may answer and close before reading everything.
            let _ = stream.write_all(bytes);
        }
        Some(gap) => {
            for byte in bytes {
                if stream.write_all(&[*byte]).is_err() {
                    break;
                }
                std::thread::sleep(gap);
            }
        }
    }
    if sending.half_close {
        let _ = stream.shutdown(Shutdown::Write);
    }
    let start = Instant::now();
    let mut received = Vec::new();
    let mut closed = false;
    let mut chunk = [0u8; 16 * 1024];
    while start.elapsed() < READ_LIMIT && received.len() < MAX_READ {
        let left = READ_LIMIT
            .saturating_sub(start.elapsed())
            .max(Duration::from_millis(1));
        let _ = stream.set_read_timeout(Some(left));
        match stream.read(&mut chunk) {
            Ok(0) => {
                closed = true;
                break;
            }
            Ok(n) => received.extend_from_slice(&chunk[..n]),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => break,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(_) => {
                closed = true; // reset
                break;
            }
        }
    }
    let elapsed = start.elapsed();
    let (answers, rest) = split_answers(&received);
    Exchange {
        answers,
        rest,
        closed,
        elapsed,
    }
}

/// Splits received bytes into complete answers (framed by Content-Length).
fn split_answers(mut bytes: &[u8]) -> (Vec<RawAnswer>, Vec<u8>) {
    let mut answers = Vec::new();
    while let Some(end) = bytes.windows(4).position(|w| w == b"\r\n\r\n") {
        let head = String::from_utf8_lossy(&bytes[..end]).to_string();
        let status = head
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse::<u16>().ok())
            .unwrap_or(0);
        let length = head
            .lines()
            .filter_map(|line| line.split_once(':'))
            .find(|(name, _)| name.trim().eq_ignore_ascii_case("content-length"))
            .and_then(|(_, value)| value.trim().parse::<usize>().ok())
            .unwrap_or(0);
        let body_start = end + 4;
        if bytes.len() < body_start + length {
            break;
        }
        answers.push(RawAnswer {
            status,
            head,
            body: bytes[body_start..body_start + length].to_vec(),
        });
        bytes = &bytes[body_start + length..];
    }
    (answers, bytes.to_vec())
}

/// A well-formed request with a JSON body and `connection: close`.
pub fn post_json(path: &str, body: &[u8]) -> Vec<u8> {
    let mut request = format!(
        "POST {path} HTTP/1.1\r\nhost: test\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    request.extend_from_slice(body);
    request
}

/// A request without a body and with `connection: close`.
pub fn bodiless(method: &str, path: &str) -> Vec<u8> {
    format!("{method} {path} HTTP/1.1\r\nhost: test\r\nconnection: close\r\n\r\n").into_bytes()
}
