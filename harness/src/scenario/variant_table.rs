//! Variants a scenario defines beyond the presets:
//!
//! ```toml
//! variants = ["sync", "breaker-only", "async"]
//!
//! [variant.breaker-only]
//! base = "sync"                        # a preset to start from
//! call_timeout = "250ms"               # pool and call knobs: workers, queue, policy, buffered
//! buffer = "sqlite"                    # sync-buffered's buffer: "memory" (default) or "sqlite"
//! breaker = { open_for = "500ms" }     # a mechanism on, some parameters set
//! retry = { attempts = 4, jitter = false, budget = false }
//! cache = true                         # on, at its defaults; `false`: off
//! ```
//!
//! Each mechanism key is `true`, `false` or a table of its parameters (those
//! not given keep the base's value, or the default); durations read like the
//! scenario's (`"250ms"`). The result is a `variants::VariantSpec`, validated
//! here, so a wrong table is refused with its file, line and field before
//! anything runs. The parameters and their defaults are documented beside each
//! mechanism in `sync_variant/src/`.

use std::collections::BTreeMap;

use serde::Deserialize;
use sync_variant::{
    BreakerConfig, BufferStore, BulkheadConfig, CacheConfig, DeadlineConfig, FailurePolicy,
    Resilience, RetryConfig, SheddingConfig,
};
use toml::Spanned;
use variants::VariantSpec;

use super::ScenarioError;
use super::raw::{DurationText, Fail};

/// Most worker threads a synchronous service may be given: far more than any
/// lesson needs, few enough for a 2-core machine to start.
const MAX_WORKERS: i64 = 512;

/// `[sync]`: the pool every synchronous variant of the scenario runs with
/// (presets, `[variant.NAME]`s and their ablations), over their own values;
/// what `commlab sweep --vary sync.workers=…` sets.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSync {
    workers: Option<Spanned<i64>>,
    call_timeout: Option<Spanned<DurationText>>,
}

/// A validated `[sync]` table.
#[derive(Clone, Copy, Debug, Default)]
pub struct SyncPool {
    /// Worker threads per synchronous service.
    pub workers: Option<usize>,
    /// How long a synchronous call waits for its answer.
    pub call_timeout: Option<std::time::Duration>,
}

impl SyncPool {
    /// `spec` with this pool (unchanged if it is the async variant).
    pub fn apply(&self, spec: VariantSpec) -> VariantSpec {
        spec.with_pool(self.workers, self.call_timeout)
    }
}

impl RawSync {
    pub(super) fn validate(self, fail: &Fail<'_>) -> Result<SyncPool, ScenarioError> {
        let workers = match self.workers {
            None => None,
            Some(w) if (1..=MAX_WORKERS).contains(w.get_ref()) => Some(*w.get_ref() as usize),
            Some(w) => {
                let message = format!("{} workers: use 1 to {MAX_WORKERS}", w.get_ref());
                return Err(fail(w.span().start, "workers", message));
            }
        };
        let call_timeout = match self.call_timeout {
            Some(t) if t.get_ref().0.is_zero() => {
                let message = "must be above 0".to_string();
                return Err(fail(t.span().start, "call_timeout", message));
            }
            t => t.map(|t| t.get_ref().0),
        };
        Ok(SyncPool {
            workers,
            call_timeout,
        })
    }
}

/// `[variant.NAME]` tables, by name.
pub(super) type RawVariants = BTreeMap<String, Spanned<RawVariant>>;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawVariant {
    base: Spanned<String>,
    workers: Option<usize>,
    queue: Option<usize>,
    call_timeout: Option<DurationText>,
    policy: Option<Policy>,
    buffered: Option<bool>,
    /// Where sync-buffered keeps its unpaid bonuses (`sync_variant/src/buffer.rs`).
    buffer: Option<BufferStore>,
    deadline: Option<Toggle<RawDeadline>>,
    retry: Option<Toggle<RawRetry>>,
    breaker: Option<Toggle<RawBreaker>>,
    bulkhead: Option<Toggle<RawBulkhead>>,
    cache: Option<Toggle<RawCache>>,
    shedding: Option<Toggle<RawShedding>>,
}

#[derive(Clone, Copy, Deserialize)]
#[serde(rename_all = "lowercase")]
enum Policy {
    Fallback,
    Fail,
}

/// `true` / `false`, or the mechanism's parameters (which turns it on).
#[derive(Deserialize)]
#[serde(untagged)]
enum Toggle<T> {
    Switch(bool),
    Params(T),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDeadline {
    budget: Option<DurationText>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRetry {
    attempts: Option<u32>,
    base: Option<DurationText>,
    cap: Option<DurationText>,
    jitter: Option<bool>,
    /// A share of first attempts, or `false` for no budget.
    budget: Option<Toggle<f64>>,
    reserve: Option<u32>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBreaker {
    window: Option<usize>,
    min_calls: Option<usize>,
    failure_rate: Option<f64>,
    open_for: Option<DurationText>,
    probes: Option<u32>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBulkhead {
    workers: Option<usize>,
    queue: Option<usize>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCache {
    ttl: Option<DurationText>,
    capacity: Option<u64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawShedding {
    queue: Option<usize>,
}

/// Applies a toggle to a mechanism's current setting (`None`: off).
fn toggle<R, C: Default + Copy>(
    current: Option<C>,
    raw: Option<Toggle<R>>,
    apply: impl FnOnce(&mut C, R),
) -> Option<C> {
    match raw {
        None => current,
        Some(Toggle::Switch(false)) => None,
        Some(Toggle::Switch(true)) => Some(current.unwrap_or_default()),
        Some(Toggle::Params(params)) => {
            let mut config = current.unwrap_or_default();
            apply(&mut config, params);
            Some(config)
        }
    }
}

fn set<T>(field: &mut T, value: Option<T>) {
    if let Some(value) = value {
        *field = value;
    }
}

fn set_duration(field: &mut std::time::Duration, value: Option<DurationText>) {
    if let Some(value) = value {
        *field = value.0;
    }
}

/// Turns the tables into specs. Returns them with whether each set its
/// deadline budget itself (otherwise the scenario's SLO is the budget).
pub(super) fn define(
    raw: RawVariants,
    fail: &Fail<'_>,
) -> Result<Vec<(VariantSpec, bool)>, ScenarioError> {
    let mut defined = Vec::new();
    for (name, spanned) in raw {
        let at = spanned.span().start;
        check_name(&name, at, fail)?;
        let raw = spanned.into_inner();
        let mut spec = base_spec(&raw, fail)?;
        spec.name = name.clone();
        let explicit_budget = matches!(
            &raw.deadline,
            Some(Toggle::Params(RawDeadline { budget: Some(_) }))
        );
        let Some(config) = spec.sync_mut() else {
            let message = "only a synchronous base (sync, sync-buffered, sync-resilient) has \
                           these knobs; the async variant has none to set here";
            return Err(fail(raw.base.span().start, "base", message.to_string()));
        };
        set(&mut config.workers, raw.workers);
        set(&mut config.queue, raw.queue);
        set_duration(&mut config.call_timeout, raw.call_timeout);
        set(&mut config.buffered, raw.buffered);
        set(&mut config.buffer_store, raw.buffer);
        if config.buffer_store != BufferStore::Memory && !config.buffered {
            let message =
                "a resend buffer needs a buffered base: sync-buffered, or buffered = true";
            return Err(fail(at, "buffer", message.to_string()));
        }
        if let Some(policy) = raw.policy {
            config.policy = match policy {
                Policy::Fallback => FailurePolicy::Fallback,
                Policy::Fail => FailurePolicy::Fail,
            };
        }
        let resilience = resilience(config.resilience.unwrap_or_default(), raw);
        if let Err(message) = resilience.validate() {
            // Each message starts with its mechanism's name: the field.
            let mechanism = message.split(['.', ':']).next().unwrap_or("").to_string();
            return Err(fail(at, &mechanism, message));
        }
        let any = sync_variant::MECHANISMS.iter().any(|m| resilience.has(m));
        config.resilience = any.then_some(resilience);
        if config.workers == 0 || config.call_timeout.is_zero() {
            let message = "workers and call_timeout must be above zero".to_string();
            return Err(fail(at, "workers", message));
        }
        defined.push((spec, explicit_budget));
    }
    Ok(defined)
}

/// A variant's own name: 1-64 of a-z 0-9 -, and not a preset's.
fn check_name(name: &str, at: usize, fail: &Fail<'_>) -> Result<(), ScenarioError> {
    // `fail` prefixes the table (`variant.NAME.`) itself; "name" is the
    // table's own name.
    let field = "name";
    let name_ok = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-';
    if name.is_empty() || name.len() > 64 || !name.chars().all(name_ok) {
        let message = "a variant name is 1-64 of a-z 0-9 - (it names results files)";
        return Err(fail(at, field, message.to_string()));
    }
    if VariantSpec::preset_named(name).is_some() {
        let message = format!("{name} is a preset's name: give the variant a name of its own");
        return Err(fail(at, field, message));
    }
    Ok(())
}

/// The preset the table's `base` names.
fn base_spec(raw: &RawVariant, fail: &Fail<'_>) -> Result<VariantSpec, ScenarioError> {
    VariantSpec::preset_named(raw.base.get_ref()).ok_or_else(|| {
        let message = format!(
            "unknown base {:?}: expected sync, sync-buffered, sync-resilient or async",
            raw.base.get_ref()
        );
        fail(raw.base.span().start, "base", message)
    })
}

/// The base's defences with the table's switched on, off or tuned.
fn resilience(current: Resilience, raw: RawVariant) -> Resilience {
    Resilience {
        deadline: toggle::<_, DeadlineConfig>(current.deadline, raw.deadline, |c, r| {
            set_duration(&mut c.default_budget, r.budget)
        }),
        retry: toggle::<_, RetryConfig>(current.retry, raw.retry, |c, r| {
            set(&mut c.attempts, r.attempts);
            set_duration(&mut c.base, r.base);
            set_duration(&mut c.cap, r.cap);
            set(&mut c.jitter, r.jitter);
            set(&mut c.reserve, r.reserve);
            match r.budget {
                None | Some(Toggle::Switch(true)) => {}
                Some(Toggle::Switch(false)) => c.budget = None,
                Some(Toggle::Params(ratio)) => c.budget = Some(ratio),
            }
        }),
        breaker: toggle::<_, BreakerConfig>(current.breaker, raw.breaker, |c, r| {
            set(&mut c.window, r.window);
            set(&mut c.min_calls, r.min_calls);
            set(&mut c.failure_rate, r.failure_rate);
            set_duration(&mut c.open_for, r.open_for);
            set(&mut c.probes, r.probes);
        }),
        bulkhead: toggle::<_, BulkheadConfig>(current.bulkhead, raw.bulkhead, |c, r| {
            set(&mut c.workers, r.workers);
            set(&mut c.queue, r.queue);
        }),
        cache: toggle::<_, CacheConfig>(current.cache, raw.cache, |c, r| {
            set_duration(&mut c.ttl, r.ttl);
            set(&mut c.capacity, r.capacity);
        }),
        shedding: toggle::<_, SheddingConfig>(current.shedding, raw.shedding, |c, r| {
            set(&mut c.queue, r.queue)
        }),
    }
}
