//! The edge operations the benchmarks drive, and the variants they drive them on.
//!
//! Every operation is a `POST` with a JSON body, exactly as a client of the
//! reference system sends it. Requests carry no `bonusId`/`deliveryId`, so
//! the edge generates a fresh one for each: every request is new work (a new
//! payout), never a repeat the ledger would refuse cheaply.

use std::sync::Arc;

use axum::body::Bytes;
use commlab::load::Post;
use common::Performance;
use common::system::{System, Variant};

/// Couriers the requests are spread over. Enough that no single courier's
/// payout list dominates (the ledger keeps one list per courier), few enough
/// that every URL is built once, before measuring.
pub const COURIERS: u64 = 64;

/// One request: where it goes and what it carries. The URL is parsed once,
/// here, not on every send.
#[derive(Clone, Debug)]
pub struct Request {
    pub url: reqwest::Url,
    pub body: Bytes,
}

impl Request {
    pub fn new(url: &str, body: Bytes) -> Request {
        let url = reqwest::Url::parse(url).expect("URLs built here are valid");
        Request { url, body }
    }

    /// The same request for the load generator: an address, a path, a body.
    pub fn post(&self) -> Post {
        let addrs = self
            .url
            .socket_addrs(|| None)
            .expect("URLs built here name an address");
        Post::new(addrs[0], self.url.path(), self.body.clone())
    }
}

/// A fixed set of requests, sent round-robin. Cheap to clone and to share
/// between tasks: building a URL while measuring would be measured too.
#[derive(Clone, Debug)]
pub struct Target {
    requests: Arc<[Request]>,
    /// The same, as the load generator sends them.
    posts: Arc<[Post]>,
}

impl Target {
    pub fn single(request: Request) -> Target {
        Target::new(vec![request])
    }

    pub fn new(requests: Vec<Request>) -> Target {
        assert!(!requests.is_empty(), "a target needs at least one request");
        Target {
            posts: requests.iter().map(Request::post).collect(),
            requests: Arc::from(requests),
        }
    }

    /// The requests as the load generator sends them, in the same order.
    pub fn posts(&self) -> Arc<[Post]> {
        self.posts.clone()
    }

    /// The `n`-th request of a run.
    pub fn get(&self, n: u64) -> &Request {
        &self.requests[(n % self.requests.len() as u64) as usize]
    }
}

/// The three edge operations the design question is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EdgeOp {
    /// `POST /incentives/bonuses/{id}`. Sync: answered after Payments paid it
    /// (three hops). Async: answered once the event is in Incentives' outbox.
    Bonus,
    /// `POST /payments`. Sync: Payments asks Incentives for the performance
    /// (two hops). Async: Payments reads its own copy (one hop).
    DeliveryPayment,
    /// `POST /incentives/performance/{id}`. One hop in both; async also
    /// publishes an event.
    PerformanceUpdate,
}

impl EdgeOp {
    pub const ALL: [EdgeOp; 3] = [
        EdgeOp::Bonus,
        EdgeOp::DeliveryPayment,
        EdgeOp::PerformanceUpdate,
    ];

    /// The name used for criterion bench ids and report rows.
    pub fn name(self) -> &'static str {
        match self {
            EdgeOp::Bonus => "bonus",
            EdgeOp::DeliveryPayment => "delivery_payment",
            EdgeOp::PerformanceUpdate => "performance_update",
        }
    }

    pub fn parse(name: &str) -> Option<EdgeOp> {
        EdgeOp::ALL.into_iter().find(|op| op.name() == name)
    }

    /// The requests of this operation against a running system.
    pub fn target(self, system: &dyn System) -> Target {
        let incentives = system.incentives_addr();
        let payments = system.payments_addr();
        let requests = (0..COURIERS)
            .map(|courier| match self {
                EdgeOp::Bonus => Request::new(
                    &format!("http://{incentives}/incentives/bonuses/{courier}"),
                    Bytes::from_static(br#"{"bonusType":"BIG"}"#),
                ),
                EdgeOp::DeliveryPayment => Request::new(
                    &format!("http://{payments}/payments"),
                    Bytes::from(format!(r#"{{"courierId":{courier},"amount":4.5}}"#)),
                ),
                EdgeOp::PerformanceUpdate => {
                    let performance = Performance::ALL[(courier % 3) as usize];
                    let text = serde_json::to_string(&performance).expect("an enum name");
                    Request::new(
                        &format!("http://{incentives}/incentives/performance/{courier}"),
                        Bytes::from(format!(r#"{{"performance":{text}}}"#)),
                    )
                }
            })
            .collect();
        Target::new(requests)
    }
}

/// Starts a variant with its defaults on `127.0.0.1:0`, through the one
/// variant factory (`variants/`). Call from a plain thread (the synchronous
/// variant builds blocking clients).
pub fn start_variant(variant: Variant) -> anyhow::Result<Box<dyn System>> {
    start_variant_with(variant, None, &async_variant::StreamChoice::Memory)
}

/// The same, with the synchronous variant's worker pools resized (`None`:
/// its default). The one knob the throughput search exposes, because it is
/// the one that decides where the synchronous design collapses.
pub fn start_variant_with(
    variant: Variant,
    sync_workers: Option<usize>,
    stream: &async_variant::StreamChoice,
) -> anyhow::Result<Box<dyn System>> {
    let mut spec = variants::VariantSpec::preset(variant).with_stream(stream.clone());
    if let (Some(workers), Some(config)) = (sync_workers, spec.sync_mut()) {
        config.workers = workers;
    }
    let loopback = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
    Ok(variants::start(&spec, loopback, loopback, 1)?)
}

/// Parses a variant name, with the error the binaries print.
pub fn parse_variant(name: &str) -> anyhow::Result<Variant> {
    name.parse::<Variant>().map_err(anyhow::Error::msg)
}
