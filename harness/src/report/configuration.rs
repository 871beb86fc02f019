//! The "Configuration" section of a report: what each variant that ran was
//! configured with, read from its `configuration` in the results (the one
//! `variants::VariantSpec::configuration` recorded at the start of its run),
//! not from the code's defaults — a results file from an older tree, or a
//! scenario's own variant, reads as it ran.
//!
//! One row per variant, the knobs that decide the results in words: threads
//! and queues, timeouts, how work is held (sync-buffered's buffer; the
//! outbox, the stream and the consumer), and the synchronous defences. Keys a
//! results file lacks are left out of the row rather than guessed. The model
//! page (`model.rs`) explains what each knob does.

use std::fmt::Write as _;

use serde_json::Value;

use super::facts;
use super::format::{self, count, number};
use super::markdown::{Align, Table, code, heading};
use crate::host;
use crate::results::{Mode, ScenarioResults, StreamBackend, VariantResults};

/// The section, under its heading.
pub fn section(results: &ScenarioResults) -> String {
    let mut out = String::new();
    heading(&mut out, 2, "Configuration");
    let _ = writeln!(
        out,
        "What each variant ran with, as its results record it (what the knobs do: [the model \
         page](MODEL.md); every field: the *Configurations* table below and `configuration` \
         in the results JSON).\n"
    );
    let mut table = Table::new(&[
        ("variant", Align::Left),
        ("threads and queues", Align::Left),
        ("timeouts", Align::Left),
        ("holding work", Align::Left),
        ("defences", Align::Left),
    ]);
    for v in facts::ordered(results) {
        let c = &v.configuration;
        table.row(&[
            code(&v.variant),
            threads(c),
            timeouts(c),
            holding(c, &results.stream),
            defences(c),
        ]);
    }
    out.push_str(&table.render());
    out.push_str(&mode(results));
    out.push_str(&measuring(results));
    out
}

/// How the services ran and where they kept their state.
fn mode(results: &ScenarioResults) -> String {
    let how = match results.mode {
        Mode::InProcess => "both services inside the harness's process; a crash closes a listener",
        Mode::Processes => "each service its own process; a crash is SIGKILL and a restart",
    };
    let s = &results.storage;
    format!(
        "\nMode: {} ({how}). State: Incentives in {}, Payments in {}.\n",
        code(results.mode.name()),
        s.incentives,
        s.payments
    )
}

/// How each variant's load was measured: how late the generator sent its
/// requests (the bound on what it charged to the latencies, which count from
/// the scheduled time) and how much CPU time the host stole meanwhile. A
/// table, so that a figure the narrative cites is in a variant's row. Empty
/// for results files that predate both figures.
fn measuring(results: &ScenarioResults) -> String {
    let variants: Vec<&VariantResults> = facts::ordered(results)
        .into_iter()
        .filter(|v| v.load_lateness_ms.samples > 0 || v.host_steal.is_some())
        .collect();
    if variants.is_empty() {
        return String::new();
    }
    let mut table = Table::figures(
        &["variant"],
        &["generator's lateness p50 / p99", "host steal"],
    );
    for v in &variants {
        let p = &v.load_lateness_ms;
        let lateness = if p.samples > 0 {
            format!("{} / {} ms", format::ms(p.p50), format::ms(p.p99))
        } else {
            "–".to_string()
        };
        let steal = v.host_steal.map_or("–".to_string(), host::percent);
        table.row(&[code(&v.variant), lateness, steal]);
    }
    let noisy = variants.iter().any(|v| host::is_noisy(v.host_steal));
    let limit = host::NOISY_STEAL * 100.0;
    let reading = if noisy {
        format!(
            "At {limit:.0} % or more, the host stopped this machine's cores for milliseconds \
             at a time during that variant's load: its latency tails carry those stalls, and \
             so can any figure that hangs on timing (whether a saturated pool recovers, and \
             so its availability), so compare them with another run before reading them as \
             the design's."
        )
    } else if variants.iter().any(|v| v.host_steal.is_some()) {
        format!("All below {limit:.0} %: the latencies are this machine's own.")
    } else {
        String::new()
    };
    format!(
        "\nHow the load was measured. The generator's lateness runs from each request's \
         scheduled time to its sending; every latency in this report counts from the \
         scheduled time, so a late send is charged to the variant, and these figures bound \
         that charge. The host's steal is the share of CPU time the hypervisor gave to other \
         machines while the load played. {reading}\n\n{}",
        table.render()
    )
}

/// A whole number at `path` (`["resilience", "bulkhead", "workers"]`).
fn int(c: &Value, path: &[&str]) -> Option<String> {
    at(c, path)?.as_u64().map(count)
}

/// A duration in ms at `path`, as `50 ms` or `1 s`.
fn ms(c: &Value, path: &[&str]) -> Option<String> {
    let ms = at(c, path)?.as_f64()?;
    Some(if ms >= 1000.0 {
        format!("{} s", number(ms / 1000.0))
    } else {
        format!("{} ms", number(ms))
    })
}

fn at<'c>(c: &'c Value, path: &[&str]) -> Option<&'c Value> {
    path.iter()
        .try_fold(c, |v, key| v.get(key))
        .filter(|v| !v.is_null())
}

/// Joins the parts that are present; `–` when none is.
fn join(parts: Vec<Option<String>>) -> String {
    let parts: Vec<String> = parts.into_iter().flatten().collect();
    if parts.is_empty() {
        "–".to_string()
    } else {
        parts.join("; ")
    }
}

fn threads(c: &Value) -> String {
    join(vec![
        int(c, &["workers"]).map(|n| format!("{n} workers per service")),
        int(c, &["queue"]).map(|n| format!("queue of {n}")),
        int(c, &["batch_size"]).map(|n| format!("one consumer thread, batches of {n}")),
    ])
}

fn timeouts(c: &Value) -> String {
    join(vec![
        ms(c, &["call_timeout_ms"]).map(|t| format!("call timeout {t}")),
        ms(c, &["resilience", "deadline", "default_budget_ms"]).map(|t| format!("deadline {t}")),
        ms(c, &["commit_interval_ms"]).map(|t| format!("commit every {t}")),
    ])
}

fn holding(c: &Value, stream: &StreamBackend) -> String {
    let buffered = at(c, &["buffered"]).and_then(Value::as_bool) == Some(true);
    join(vec![
        buffered
            .then(|| int(c, &["buffer_capacity"]))
            .flatten()
            .map(|n| format!("buffer of {n} bonuses")),
        buffered
            .then(|| ms(c, &["resend_interval_ms"]))
            .flatten()
            .map(|t| format!("resent every {t}")),
        int(c, &["outbox_capacity"]).map(|n| format!("outbox of {n} events")),
        int(c, &["stream_capacity"]).map(|n| format!("stream of {n} events ({stream})")),
    ])
}

/// A path under `resilience`.
fn r<'p>(path: &[&'p str]) -> Vec<&'p str> {
    [&["resilience"][..], path].concat()
}

fn defences(c: &Value) -> String {
    join(vec![
        at(c, &["policy"])
            .and_then(Value::as_str)
            .map(|p| format!("unknown performance: {p}")),
        int(c, &r(&["retry", "attempts"])).map(|n| {
            let budget = at(c, &r(&["retry", "budget"])).and_then(Value::as_f64);
            match budget {
                Some(b) => format!("{n} attempts, retry budget {}", number(b)),
                None => format!("{n} attempts, no retry budget"),
            }
        }),
        ms(c, &r(&["breaker", "open_for_ms"])).map(|t| format!("breaker (opens for {t})")),
        int(c, &r(&["bulkhead", "workers"])).map(|n| format!("bulkhead of {n}")),
        ms(c, &r(&["cache", "ttl_ms"])).map(|t| format!("stale-if-error cache ({t})")),
        int(c, &r(&["shedding", "queue"])).map(|n| format!("shedding past {n} queued")),
    ])
}
