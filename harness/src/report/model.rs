//! `reports/MODEL.md`, the model page: who calls or publishes what in each
//! variant, the configuration that decides the results, the article the
//! experiment tests, and a glossary of every term the reports use. Each
//! report links to it and states the configuration it ran with
//! (`configuration.rs`, from the results).
//!
//! The figures are read from the variants' own `Config::default()` — the
//! configuration `crate::variants::start` runs them with — so this page
//! cannot drift from the code: change a default and the next
//! `commlab run` or `commlab report` says so.

use std::fmt::Write as _;
use std::time::Duration;

use super::format::{count, number};
use super::markdown::{Table, code_block, heading};

/// The defaults of both crates, as the harness runs them.
struct Knobs {
    sync: sync_variant::Config,
    asynchronous: async_variant::Config,
}

impl Knobs {
    fn read() -> Knobs {
        Knobs {
            sync: sync_variant::Config::default(),
            asynchronous: async_variant::Config::default(),
        }
    }
}

fn duration(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s < 1.0 {
        format!("{} ms", number(s * 1000.0))
    } else {
        format!("{} s", number(s))
    }
}

/// The model page as markdown.
pub fn render() -> String {
    let k = Knobs::read();
    let mut out = String::from("# The model behind the reports\n\n");
    article(&mut out);
    who_calls_whom(&mut out, &k);
    configuration(&mut out, &k);
    differences(&mut out);
    heading(&mut out, 2, "Glossary");
    for (term, meaning) in GLOSSARY {
        let _ = writeln!(out, "- **{term}** — {meaning}");
    }
    super::markdown::tidy(&out)
}

/// The page's opening and the article it tests.
fn article(out: &mut String) {
    out.push_str(
        "[All scenarios](README.md). What the variants are, who talks to whom, the \
         configuration every report ran with, and what the reports' words mean. Generated \
         from the variants' own `Config::default()` by `commlab run` / `commlab report`.\n",
    );

    heading(out, 2, "The article");
    out.push_str(
        "The experiment tests one article: **\"Designing Reliable Services Communication\"** \
         (2 June 2018; a copy is in `../shared/seed/`). It builds the same two services — \
         Incentives, which grants courier bonuses and tracks performance, and Payments, \
         which pays couriers and adjusts payouts by performance — twice. Synchronously, \
         Incentives calls Payments to pay a bonus and Payments calls Incentives to learn a \
         performance, so either service failing takes the other's features down with it; \
         the article's workaround buffers unpaid bonuses and resends them. Asynchronously, \
         the services exchange events through a stream, so the stream holds work while a \
         consumer is down and Payments keeps serving from its own copy of performance. The \
         reports measure both claims, and the costs the article names only briefly: \
         staleness, the stream as a new dependency, and the wait for money.\n",
    );
}

/// Each variant's calls or events, as a diagram.
fn who_calls_whom(out: &mut String, k: &Knobs) {
    heading(out, 2, "Who calls whom");
    sync_diagrams(out, &k.sync);
    resilient_defences(out);
    async_diagram(out, &k.asynchronous);
}

/// `sync` and `sync-buffered`: the blocking calls and the buffer.
fn sync_diagrams(out: &mut String, sync: &sync_variant::Config) {
    let timeout = duration(sync.call_timeout);
    let _ = writeln!(
        out,
        "**`sync`** — two blocking HTTP calls, each holding a worker thread of the caller for \
         its whole length (at most {timeout}):\n"
    );
    code_block(
        out,
        "text",
        &format!(
            "client ─POST /incentives/bonuses─▶ Incentives ─POST /payments (waits ≤ {timeout})─▶ Payments\n\
             client ─POST /payments───────────▶ Payments ─GET /incentives/performance (waits ≤ {timeout})─▶ Incentives\n\
             a bonus's payout also asks Incentives for the performance: the two calls form a cycle"
        ),
    );
    let _ = writeln!(
        out,
        "\n**`sync-buffered`** — the same calls; a bonus Payments did not take goes into \
         Incentives' buffer and is resent:\n"
    );
    code_block(
        out,
        "text",
        &format!(
            "client ─POST /incentives/bonuses─▶ Incentives ─POST /payments─▶ Payments\n\
             \u{20}                                    │ failed or timed out\n\
             \u{20}                                    ▼\n\
             \u{20}                        buffer (≤ {} bonuses) ─resend every {}─▶ Payments",
            count(sync.buffer_capacity as u64),
            duration(sync.resend_interval)
        ),
    );
}

/// `sync-resilient`: the defences and their defaults.
fn resilient_defences(out: &mut String) {
    let resilient = sync_variant::Config::resilient();
    let defences = serde_json::to_value(resilient.resilience)
        .map(|v| serde_json::to_string_pretty(&v).unwrap_or_default())
        .unwrap_or_default();
    let _ = writeln!(
        out,
        "\n**`sync-resilient`** — the same calls as `sync`, defended as a careful team would: \
         a deadline on every request (the scenario's SLO), retries with full jitter and a \
         budget, a circuit breaker per dependency, bulkheads, a stale-if-error cache of \
         performance in Payments, and a bounded LIFO queue that sheds load; it refuses \
         (policy {:?}) rather than under-pays when neither Incentives nor the cache can give \
         a performance. Each defence is a file in `sync_variant/src/`; its defaults \
         (durations in ms):\n",
        resilient.policy
    );
    code_block(out, "json", &defences);
}

/// `async`: the outbox, the stream and the consumer.
fn async_diagram(out: &mut String, a: &async_variant::Config) {
    let _ = writeln!(
        out,
        "\n**`async`** — no call between the services; Incentives records each fact and \
         publishes it, Payments consumes the events and keeps its own copy of performance:\n"
    );
    code_block(
        out,
        "text",
        &format!(
            "client ─POST /incentives/bonuses, /performance─▶ Incentives ─▶ outbox (≤ {}) ─relay─▶ stream (≤ {} events)\n\
             stream ─consumer: batches of {}, commit every {}─▶ Payments (pays bonuses, updates its performance copy)\n\
             client ─POST /payments─▶ Payments (reads its own copy: no call)",
            count(a.outbox_capacity as u64),
            count(a.stream_capacity as u64),
            count(a.batch_size as u64),
            duration(a.commit_interval)
        ),
    );
}

/// The table of the defaults that decide the results.
fn configuration(out: &mut String, k: &Knobs) {
    heading(out, 2, "The configuration that decides the results");
    let mut table = Table::new(&[
        ("setting", super::markdown::Align::Left),
        ("variant", super::markdown::Align::Left),
        ("value", super::markdown::Align::Right),
        ("where, and why this value", super::markdown::Align::Left),
    ]);
    for (setting, variant, value, why) in configuration_rows(k) {
        table.row(&[
            setting.to_string(),
            variant.to_string(),
            value,
            why.to_string(),
        ]);
    }
    out.push_str(&table.render());
    out.push_str(
        "\nThe relay's and the consumer's retry backoffs are constants next to the code that \
         uses them (`async_variant/src/outbox.rs`, `async_variant/src/consumer.rs`).\n",
    );
}

/// Each default that decides results: setting, variant, value, why.
fn configuration_rows(k: &Knobs) -> [(&'static str, &'static str, String, &'static str); 10] {
    let (s, a) = (&k.sync, &k.asynchronous);
    [
        (
            "worker threads per service",
            "sync, sync-buffered",
            count(s.workers as u64),
            "`sync_variant::Config::workers`: small enough that a slow dependency can hold every one",
        ),
        (
            "queue per service",
            "sync, sync-buffered",
            count(s.queue as u64),
            "`Config::queue`: beyond it a request is refused `503 overloaded` at once",
        ),
        (
            "call timeout",
            "sync, sync-buffered",
            duration(s.call_timeout),
            "`Config::call_timeout`: a hung peer holds a caller's worker this long",
        ),
        (
            "performance unknown",
            "sync, sync-buffered",
            format!("{:?}", s.policy),
            "`Config::policy`: the reference code pays +0 % (under-pays)",
        ),
        (
            "buffer capacity",
            "sync-buffered",
            count(s.buffer_capacity as u64),
            "`Config::buffer_capacity`: bonuses it keeps for resending",
        ),
        (
            "buffer backoff (resend interval)",
            "sync-buffered",
            duration(s.resend_interval),
            "`Config::resend_interval`: how soon a recovered Payments gets the backlog",
        ),
        (
            "outbox capacity",
            "async",
            count(a.outbox_capacity as u64),
            "`async_variant::Config::outbox_capacity`: beyond it Incentives answers `503`",
        ),
        (
            "stream capacity",
            "async",
            count(a.stream_capacity as u64),
            "`Config::stream_capacity`: events the log retains",
        ),
        (
            "consumer batch",
            "async",
            count(a.batch_size as u64),
            "`Config::batch_size`: events per relay publish and per consumer read",
        ),
        (
            "commit interval",
            "async",
            duration(a.commit_interval),
            "`Config::commit_interval`: bounds the work redelivered after a consumer crash",
        ),
    ]
}

/// Answers to what a reader comparing the tables may wonder.
fn differences(out: &mut String) {
    heading(out, 2, "Differences a reader may wonder about");
    for line in [
        "**`sync-buffered` adds calls to pools that are already saturated.** Every buffered \
         bonus is resent as one more call to Payments, which holds a Payments worker and \
         calls back into Incentives for the performance. Whether deliveries pay for it, \
         queued behind the resends, depends on the load and on how long Payments is slow: \
         `commlab run overload --variant sync --variant sync-buffered` sets the two side by \
         side.",
        "**`sync-buffered` refuses duplicates.** A call that timed out in Incentives may still \
         be processed by Payments once it answers again; the resend carries the same bonus \
         id, and the ledger refuses it. Those are the \"duplicates refused\" in the \
         counters: idempotency working, not money paid twice.",
        "**The amount owed differs between variants for the same schedule.** It is summed \
         over what each variant *accepted*, at the courier's performance as the reconciler \
         defines it (`harness/src/reconcile.rs`); the variants accept different requests and \
         see performance changes at different moments, so their totals differ by a few \
         cents per request affected.",
    ] {
        let _ = writeln!(out, "- {line}");
    }
}

/// Every term the reports use, in alphabetical order.
const GLOSSARY: &[(&str, &str)] = &[
    (
        "accepted",
        "answered 2xx, in time or late: the service took the work on",
    ),
    (
        "at-least-once",
        "a delivery guarantee: every event reaches the consumer, some more than once (after a crash, what was processed but not committed is delivered again)",
    ),
    (
        "availability (served)",
        "the share of requests answered 2xx within the SLO",
    ),
    (
        "backlog",
        "work accepted and not yet done: `sync-buffered`'s buffer, `async`'s outbox plus the events on the stream Payments has not processed",
    ),
    (
        "coordinated omission",
        "the error of timing a request from when it was actually sent, so that a stalled system, which delays the sending, looks fast; commlab times every request from its scheduled send time",
    ),
    (
        "drain",
        "the time from a fault's end until the backlog was empty again",
    ),
    (
        "idempotent",
        "safe to repeat: paying the same bonus id or delivery id twice pays once, so a resend or a redelivery cannot double a payout",
    ),
    (
        "lost",
        "accepted but never paid: the client believes it worked",
    ),
    (
        "metastable failure",
        "a failure that outlives its trigger: after the fault ends, the work it left behind (timed-out calls, resends, queues) keeps the system overloaded",
    ),
    (
        "outbox",
        "a table in the publisher's own store where an event is written together with the fact it reports, then relayed to the stream; the event is never lost between the two",
    ),
    (
        "paid though rejected",
        "the client was told no (an error or a timeout), yet the money went out",
    ),
    (
        "repriced",
        "paid late at a performance the courier got only after the request was answered",
    ),
    (
        "SLO",
        "service-level objective: here the time within which an answer counts as served",
    ),
    (
        "stale",
        "paid with a performance the courier no longer had, from a copy that was behind",
    ),
    (
        "under-paid",
        "paid with the +0 % fallback while the courier's incentive was higher",
    ),
];
