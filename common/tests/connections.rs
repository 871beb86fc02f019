//! The listener's bound on open connections: one over the cap is answered
//! `503` with the JSON error body and closed; a freed place serves again.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use axum::Router;
use axum::routing::get;
use common::faults::ServiceFaults;
use common::server::{BoundSocket, service_runtime};

/// Small, so the test holds a handful of sockets, not thousands.
const CAP: usize = 4;

/// Reads until the server closes the connection (or 10 s pass).
fn read_all(mut stream: TcpStream) -> String {
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut text = Vec::new();
    let _ = stream.read_to_end(&mut text);
    String::from_utf8_lossy(&text).to_string()
}

fn get_root(addr: SocketAddr) -> String {
    let mut stream = TcpStream::connect(addr).unwrap();
    let _ = stream.write_all(b"GET / HTTP/1.1\r\nhost: t\r\nconnection: close\r\n\r\n");
    read_all(stream)
}

#[test]
fn a_connection_over_the_cap_is_refused_with_the_json_body() {
    let runtime = service_runtime("cap-test").unwrap();
    let socket = BoundSocket::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0))).unwrap();
    let addr = socket.addr;
    let router = Router::new().route("/", get(|| async { "ok" }));
    let server = socket.serve_with_cap(runtime.handle(), router, ServiceFaults::new("cap", 1), CAP);

    // Each idle connection holds a place until the header timeout.
    let mut held: Vec<TcpStream> = (0..CAP)
        .map(|_| TcpStream::connect(addr).unwrap())
        .collect();
    let refused = get_root(addr);
    assert!(refused.starts_with("HTTP/1.1 503"), "{refused}");
    let body = refused.split_once("\r\n\r\n").unwrap().1;
    let body: serde_json::Value = serde_json::from_str(body).unwrap();
    assert_eq!(body["error"], "overloaded", "{body}");

    // A freed place serves again (once the server has seen the close).
    drop(held.pop());
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let answer = get_root(addr);
        if answer.starts_with("HTTP/1.1 200") {
            break;
        }
        assert!(Instant::now() < deadline, "never served again: {answer}");
        std::thread::sleep(Duration::from_millis(20));
    }
    server.stop();
}
