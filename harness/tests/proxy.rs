//! The TCP proxy per link (`harness/src/proxy.rs`): HTTP through it to a small
//! axum server on 127.0.0.1, with each toxic switched on and healed. Outcomes
//! are counted — answers, failures, requests the server saw — never timed,
//! except that a delayed answer arrives no earlier than its delay.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::State;
use axum::routing::get;
use bytes::Bytes;
use commlab::proxy::{Proxy, Toxics};
use common::faults::Latency;
use http_body_util::{BodyExt, Empty};
use hyper::client::conn::http1::{self, SendRequest};
use hyper::header::HOST;
use hyper::{Request, Uri};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::runtime::Handle;

const SEED: u64 = 11;

/// A safety bound on every exchange, so no test can hang: far above what any
/// answer takes here.
const PATIENCE: Duration = Duration::from_secs(5);

/// An axum server on 127.0.0.1 answering `GET /` with `ok`, counting the
/// requests that reached it.
async fn upstream() -> (SocketAddr, Arc<AtomicU64>) {
    let seen = Arc::new(AtomicU64::new(0));
    let app = Router::new()
        .route("/", get(answer))
        .with_state(seen.clone());
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (addr, seen)
}

async fn answer(State(seen): State<Arc<AtomicU64>>) -> &'static str {
    seen.fetch_add(1, Ordering::SeqCst);
    "ok"
}

/// An HTTP/1.1 client holding at most one keep-alive connection, opened when
/// needed and dropped after any failure — so the connections the proxy sees
/// follow from the outcomes alone, and a run replays.
struct Client {
    addr: SocketAddr,
    connection: Option<SendRequest<Empty<Bytes>>>,
    timeout: Duration,
}

impl Client {
    fn new(addr: SocketAddr) -> Client {
        Client {
            addr,
            connection: None,
            timeout: PATIENCE,
        }
    }

    /// `GET /`: true when `ok` came back in time.
    async fn get(&mut self) -> bool {
        let answered = tokio::time::timeout(self.timeout, self.exchange()).await;
        let ok = matches!(answered, Ok(Some(ref body)) if body == "ok");
        if !ok {
            self.connection = None;
        }
        ok
    }

    async fn exchange(&mut self) -> Option<String> {
        if self.connection.is_none() {
            let stream = TcpStream::connect(self.addr).await.ok()?;
            let (sender, connection) = http1::handshake(TokioIo::new(stream)).await.ok()?;
            tokio::spawn(connection);
            self.connection = Some(sender);
        }
        let sender = self.connection.as_mut()?;
        sender.ready().await.ok()?;
        let mut request = Request::new(Empty::<Bytes>::new());
        *request.uri_mut() = Uri::from_static("/");
        let host = self.addr.to_string().parse().unwrap();
        request.headers_mut().insert(HOST, host);
        let response = sender.send_request(request).await.ok()?;
        let body = response.into_body().collect().await.ok()?.to_bytes();
        Some(String::from_utf8_lossy(&body).into_owned())
    }

    /// Sends `n` requests one after the other; the outcome of each.
    async fn run(&mut self, n: usize) -> Vec<bool> {
        let mut outcomes = Vec::with_capacity(n);
        for _ in 0..n {
            outcomes.push(self.get().await);
        }
        outcomes
    }
}

fn count_ok(outcomes: &[bool]) -> usize {
    outcomes.iter().filter(|ok| **ok).count()
}

/// Without toxics every request is answered, and the server sees each once.
#[tokio::test]
async fn forwards_http() {
    let (addr, seen) = upstream().await;
    let proxy = Proxy::start(&Handle::current(), addr, SEED).unwrap();
    let outcomes = Client::new(proxy.addr()).run(20).await;
    assert_eq!(count_ok(&outcomes), 20);
    assert_eq!(seen.load(Ordering::SeqCst), 20);
}

/// `reset_rate` 1.0: every request fails, and none reaches the server.
#[tokio::test]
async fn reset_rate_one_fails_every_request() {
    let (addr, seen) = upstream().await;
    let proxy = Proxy::start(&Handle::current(), addr, SEED).unwrap();
    proxy.set(Toxics {
        reset_rate: Some(1.0),
        ..Toxics::default()
    });
    let outcomes = Client::new(proxy.addr()).run(20).await;
    assert_eq!(count_ok(&outcomes), 0);
    assert_eq!(seen.load(Ordering::SeqCst), 0);
}

/// `reset_rate` 0.5 over 200 requests: about half fail, the others reach the
/// server exactly once, and a second proxy with the same seed resets the
/// same requests.
#[tokio::test]
async fn reset_share_replays_with_the_seed() {
    async fn play(seed: u64) -> (Vec<bool>, u64) {
        let (addr, seen) = upstream().await;
        let proxy = Proxy::start(&Handle::current(), addr, seed).unwrap();
        proxy.set(Toxics {
            reset_rate: Some(0.5),
            ..Toxics::default()
        });
        let outcomes = Client::new(proxy.addr()).run(200).await;
        (outcomes, seen.load(Ordering::SeqCst))
    }
    let (first, seen) = play(SEED).await;
    let ok = count_ok(&first);
    assert!((70..=130).contains(&ok), "{ok} of 200 answered");
    assert_eq!(
        seen, ok as u64,
        "every answered request reached the server once"
    );
    let (second, _) = play(SEED).await;
    assert_eq!(first, second, "the same seed resets the same requests");
}

/// `down`: requests fail, and the server sees none; healed, they work again.
#[tokio::test]
async fn down_refuses_and_heals() {
    let (addr, seen) = upstream().await;
    let proxy = Proxy::start(&Handle::current(), addr, SEED).unwrap();
    let mut client = Client::new(proxy.addr());
    proxy.set(Toxics {
        down: true,
        ..Toxics::default()
    });
    assert_eq!(count_ok(&client.run(5).await), 0);
    assert_eq!(seen.load(Ordering::SeqCst), 0);
    proxy.set(Toxics::default());
    assert_eq!(count_ok(&client.run(5).await), 5);
}

/// `timeout`: a request with a 300 ms client timeout gets no answer and does
/// not reach the server while it lasts; healed, a new request is answered.
#[tokio::test]
async fn timeout_stalls_until_healed() {
    let (addr, seen) = upstream().await;
    let proxy = Proxy::start(&Handle::current(), addr, SEED).unwrap();
    proxy.set(Toxics {
        timeout: true,
        ..Toxics::default()
    });
    let mut impatient = Client::new(proxy.addr());
    impatient.timeout = Duration::from_millis(300);
    assert!(!impatient.get().await);
    assert_eq!(seen.load(Ordering::SeqCst), 0);
    proxy.set(Toxics::default());
    assert!(Client::new(proxy.addr()).get().await);
}

/// An open keep-alive connection, idle between two requests, is cut when the
/// link goes down: the client reads an error or the end, not a wait.
#[tokio::test]
async fn down_cuts_an_open_connection() {
    let (addr, _) = upstream().await;
    let proxy = Proxy::start(&Handle::current(), addr, SEED).unwrap();
    let mut stream = TcpStream::connect(proxy.addr()).await.unwrap();
    let request = format!("GET / HTTP/1.1\r\nhost: {addr}\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut buf = vec![0; 4096];
    let n = tokio::time::timeout(PATIENCE, stream.read(&mut buf))
        .await
        .expect("an answer")
        .unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
    proxy.set(Toxics {
        down: true,
        ..Toxics::default()
    });
    let after = tokio::time::timeout(PATIENCE, stream.read(&mut buf))
        .await
        .expect("the connection is cut, not left open");
    assert!(matches!(after, Ok(0) | Err(_)), "{after:?}");
}

/// `latency`: every answer arrives, none before the least delay drawn can be.
#[tokio::test]
async fn latency_delays_answers() {
    let (addr, seen) = upstream().await;
    let proxy = Proxy::start(&Handle::current(), addr, SEED).unwrap();
    let latency = Latency {
        mean: Duration::from_millis(100),
        jitter: Duration::from_millis(40),
    };
    proxy.set(Toxics {
        latency: Some(latency),
        ..Toxics::default()
    });
    let mut client = Client::new(proxy.addr());
    for _ in 0..5 {
        let start = Instant::now();
        assert!(client.get().await);
        assert!(start.elapsed() >= latency.mean - latency.jitter);
    }
    assert_eq!(seen.load(Ordering::SeqCst), 5);
}

/// `set_upstream`: new connections go to the new address.
#[tokio::test]
async fn new_connections_follow_the_upstream() {
    let (first, seen_first) = upstream().await;
    let (second, seen_second) = upstream().await;
    let proxy = Proxy::start(&Handle::current(), first, SEED).unwrap();
    assert!(Client::new(proxy.addr()).get().await);
    proxy.set_upstream(second);
    assert!(Client::new(proxy.addr()).get().await);
    assert_eq!(seen_first.load(Ordering::SeqCst), 1);
    assert_eq!(seen_second.load(Ordering::SeqCst), 1);
}

/// `stop`: open connections are closed and the port no longer answers.
#[tokio::test]
async fn stop_closes_the_port() {
    let (addr, _) = upstream().await;
    let proxy = Proxy::start(&Handle::current(), addr, SEED).unwrap();
    let mut client = Client::new(proxy.addr());
    assert!(client.get().await);
    proxy.stop();
    assert!(!client.get().await, "the open connection is closed");
    let mut fresh = Client::new(proxy.addr());
    assert_eq!(count_ok(&fresh.run(3).await), 0);
}
