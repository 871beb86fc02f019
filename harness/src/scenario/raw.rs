//! The scenario file as written, and the checks that turn it into a
//! [`Scenario`]: serde reads the shape (unknown fields refused, types checked,
//! durations parsed where they are written), then `validate` checks what a
//! type cannot say — limits, a fault inside the run, a fault kind that makes
//! sense for its target, parameters that belong to the kind. Every refusal
//! carries the offset of the value at fault, which `locate.rs` turns into a
//! line and a field name.

use std::time::Duration;

use common::faults::Latency;
use common::system::{Fault, Service, Variant};
use serde::{Deserialize, Deserializer};
use toml::Spanned;
use variants::VariantSpec;

use super::locate::{invalid, qualify};
use super::variant_table::{self, RawVariants, SyncPool};
use super::{
    Arrival, Kind, Scenario, ScenarioError, Target, TimedFault, Workload, kind_name, show,
    target_name,
};

/// Longest run a scenario may ask for. Every loop in the harness is bounded by
/// the run's duration; ten minutes is far beyond any useful scenario.
const MAX_DURATION: Duration = Duration::from_secs(600);

/// Most requests a scenario may schedule (rates × duration). Bounds the memory
/// of the schedule and of the per-request records.
const MAX_REQUESTS: f64 = 500_000.0;

/// Most couriers: the harness reconciles money with one request per courier.
const MAX_COURIERS: u64 = 10_000;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawScenario {
    name: Spanned<String>,
    title: String,
    lesson: String,
    duration: Spanned<DurationText>,
    seed: u64,
    slo: Spanned<DurationText>,
    #[serde(default)]
    variants: Option<Vec<Spanned<String>>>,
    /// `false` runs every variant with a ledger that pays a repeated
    /// reference again (see `Scenario::idempotency`). Default `true`.
    #[serde(default)]
    idempotency: Option<bool>,
    /// `[variant.NAME]` tables: variants beyond the presets.
    #[serde(default)]
    variant: RawVariants,
    /// `[sync]`: workers and call timeout of every synchronous variant.
    #[serde(default)]
    sync: Option<variant_table::RawSync>,
    /// A variant to run once per mechanism off, with the ablation table.
    #[serde(default)]
    ablate: Option<Spanned<String>>,
    /// Runs per `commlab run` when `--repeat` is not given (`repeat.rs`).
    #[serde(default)]
    repeat: Option<Spanned<i64>>,
    workload: RawWorkload,
    #[serde(default)]
    fault: Vec<RawFault>,
    #[serde(default)]
    expect: Vec<RawExpect>,
}

/// `[[expect]]`: a claim of the lesson, checked after the run (`expect.rs`).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawExpect {
    variant: Spanned<String>,
    that: Spanned<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWorkload {
    couriers: Spanned<u64>,
    bonus_rate: Spanned<f64>,
    delivery_rate: Spanned<f64>,
    performance_rate: Spanned<f64>,
    arrival: Arrival,
    bonus_mix: Spanned<RawMix>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMix {
    small: f64,
    average: f64,
    big: f64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFault {
    target: Spanned<Target>,
    kind: Spanned<Kind>,
    start: Spanned<DurationText>,
    duration: Spanned<DurationText>,
    /// `latency` only: the added delay's mean and spread.
    mean: Option<Spanned<DurationText>>,
    jitter: Option<Spanned<DurationText>>,
    /// `errors` only: the share of requests failed, in (0, 1].
    rate: Option<Spanned<f64>>,
}

impl RawScenario {
    pub(super) fn validate(
        self,
        file: &str,
        argument: &str,
        text: &str,
    ) -> Result<Scenario, ScenarioError> {
        let fail = |offset: usize, field: &str, message: String| {
            invalid(file, text, offset, qualify(text, offset, field), &message)
        };
        let (duration, slo) = self.check_header(&fail)?;
        let workload = self.workload.validate(duration, &fail)?;
        let pool = match self.sync {
            Some(raw) => raw.validate(&fail)?,
            None => SyncPool::default(),
        };
        let defined: Vec<VariantSpec> = variant_table::define(self.variant, &fail)?
            .into_iter()
            .map(|(spec, explicit)| pool.apply(spec.with_slo(slo, explicit)))
            .collect();
        let lookup = |name: &str| {
            defined
                .iter()
                .find(|d| d.name == name)
                .cloned()
                .or_else(|| {
                    VariantSpec::preset_named(name).map(|p| pool.apply(p.with_slo(slo, false)))
                })
        };
        let variants = listed_variants(self.variants, &defined, &lookup, &fail)?;
        let ablate = ablated(self.ablate, &lookup, &fail)?;
        let repeat = repetitions(self.repeat, &fail)?;
        let mut faults = Vec::new();
        for raw in self.fault {
            faults.push(raw.validate(duration, &fail)?);
        }
        let expectations = expectations(self.expect, &variants, faults.len(), &fail)?;
        Ok(Scenario {
            name: self.name.into_inner(),
            title: self.title,
            lesson: self.lesson.split_whitespace().collect::<Vec<_>>().join(" "),
            file: file.to_string(),
            argument: argument.to_string(),
            duration,
            seed: self.seed,
            slo,
            workload,
            variants,
            idempotency: self.idempotency.unwrap_or(true),
            defined,
            ablate,
            pool,
            repeat,
            faults,
            expectations,
            quick: false,
        })
    }

    /// The name, the run's length and the SLO: `(duration, slo)`.
    fn check_header(&self, fail: &Fail<'_>) -> Result<(Duration, Duration), ScenarioError> {
        let name = self.name.get_ref();
        let name_ok = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-';
        if name.is_empty() || name.len() > 64 || !name.chars().all(name_ok) {
            return Err(fail(
                self.name.span().start,
                "name",
                format!(
                    "{name:?} is not a name: use 1-64 of a-z 0-9 - (it names the results files)"
                ),
            ));
        }
        let duration = self.duration.get_ref().0;
        if duration.is_zero() || duration > MAX_DURATION {
            return Err(fail(
                self.duration.span().start,
                "duration",
                format!("must be above 0 and at most {}", show(MAX_DURATION)),
            ));
        }
        let slo = self.slo.get_ref().0;
        if slo.is_zero() {
            return Err(fail(
                self.slo.span().start,
                "slo",
                "must be above 0".to_string(),
            ));
        }
        Ok((duration, slo))
    }
}

/// The `variants` list, each name a preset or a `[variant.NAME]`; absent, the
/// four presets and every defined variant.
fn listed_variants(
    listed: Option<Vec<Spanned<String>>>,
    defined: &[VariantSpec],
    lookup: &dyn Fn(&str) -> Option<VariantSpec>,
    fail: &Fail<'_>,
) -> Result<Vec<VariantSpec>, ScenarioError> {
    let mut variants: Vec<VariantSpec> = Vec::new();
    for spanned in listed.unwrap_or_default() {
        let name = spanned.get_ref();
        let at = spanned.span().start;
        match lookup(name) {
            _ if variants.iter().any(|v| &v.name == name) => {
                return Err(fail(at, "variants", format!("{name} is listed twice")));
            }
            Some(spec) => variants.push(spec),
            None => {
                let message = format!(
                    "unknown variant {name:?}: expected a preset (sync, sync-buffered, \
                     sync-resilient, async) or a [variant.NAME] of this file"
                );
                return Err(fail(at, "variants", message));
            }
        }
    }
    if variants.is_empty() {
        variants = Variant::ALL
            .iter()
            .filter_map(|v| lookup(v.name()))
            .chain(defined.iter().cloned())
            .collect();
    }
    Ok(variants)
}

/// `ablate`: a variant with at least one defence to switch off.
fn ablated(
    ablate: Option<Spanned<String>>,
    lookup: &dyn Fn(&str) -> Option<VariantSpec>,
    fail: &Fail<'_>,
) -> Result<Option<String>, ScenarioError> {
    let Some(spanned) = ablate else {
        return Ok(None);
    };
    match lookup(spanned.get_ref()) {
        Some(spec) if !spec.ablations().is_empty() => Ok(Some(spec.name)),
        _ => {
            let message = format!(
                "{:?} has no defence to switch off: ablate sync-resilient or a variant \
                 defined with some",
                spanned.get_ref()
            );
            Err(fail(spanned.span().start, "ablate", message))
        }
    }
}

/// `repeat`: 1 to `MAX_REPEAT` runs; absent, 1.
fn repetitions(repeat: Option<Spanned<i64>>, fail: &Fail<'_>) -> Result<u32, ScenarioError> {
    let Some(spanned) = repeat else {
        return Ok(1);
    };
    match u32::try_from(*spanned.get_ref()) {
        Ok(n) if (1..=crate::repeat::MAX_REPEAT).contains(&n) => Ok(n),
        _ => {
            let message = format!(
                "{} is not a number of runs: use 1 to {}",
                spanned.get_ref(),
                crate::repeat::MAX_REPEAT
            );
            Err(fail(spanned.span().start, "repeat", message))
        }
    }
}

/// Each `[[expect]]`, about one of the scenario's variants.
fn expectations(
    raw: Vec<RawExpect>,
    variants: &[VariantSpec],
    faults: usize,
    fail: &Fail<'_>,
) -> Result<Vec<super::expect::Expectation>, ScenarioError> {
    let mut expectations = Vec::new();
    for raw in raw {
        let named = raw.variant.get_ref();
        let Some(variant) = variants.iter().find(|v| v.name == *named) else {
            return Err(fail(
                raw.variant.span().start,
                "variant",
                format!("{named:?} is not one of the scenario's variants"),
            ));
        };
        let parsed = super::expect::parse(&variant.name, raw.that.get_ref(), faults)
            .map_err(|message| fail(raw.that.span().start, "that", message))?;
        expectations.push(parsed);
    }
    Ok(expectations)
}

/// The error constructor `validate` hands down: offset, field, message.
pub(super) type Fail<'a> = dyn Fn(usize, &str, String) -> ScenarioError + 'a;

impl RawWorkload {
    fn validate(self, duration: Duration, fail: &Fail<'_>) -> Result<Workload, ScenarioError> {
        let couriers = *self.couriers.get_ref();
        if couriers == 0 || couriers > MAX_COURIERS {
            return Err(fail(
                self.couriers.span().start,
                "couriers",
                format!("must be 1 to {MAX_COURIERS}"),
            ));
        }
        let mut total = 0.0;
        for (rate, field) in [
            (&self.bonus_rate, "bonus_rate"),
            (&self.delivery_rate, "delivery_rate"),
            (&self.performance_rate, "performance_rate"),
        ] {
            let value = *rate.get_ref();
            if !value.is_finite() || value < 0.0 {
                return Err(fail(
                    rate.span().start,
                    field,
                    format!("{value} is not a rate: requests per second, 0 or more"),
                ));
            }
            total += value;
            if total * duration.as_secs_f64() > MAX_REQUESTS {
                return Err(fail(
                    rate.span().start,
                    field,
                    format!(
                        "the rates schedule more than {MAX_REQUESTS} requests in {}",
                        show(duration)
                    ),
                ));
            }
        }
        let mix = self.bonus_mix.get_ref();
        let shares = [mix.small, mix.average, mix.big];
        let sum: f64 = shares.iter().sum();
        if shares.iter().any(|s| !s.is_finite() || *s < 0.0) || sum <= 0.0 {
            return Err(fail(
                self.bonus_mix.span().start,
                "bonus_mix",
                "shares must be 0 or more and not all 0".to_string(),
            ));
        }
        // Shares, not weights: a mix that sums to 1.7 is more likely a typo
        // than a wish, so it is refused rather than silently rescaled.
        if (sum - 1.0).abs() > MIX_SUM_TOLERANCE {
            return Err(fail(
                self.bonus_mix.span().start,
                "bonus_mix",
                format!(
                    "shares must sum to 1, these sum to {}",
                    (sum * 1e6).round() / 1e6
                ),
            ));
        }
        Ok(Workload {
            couriers,
            bonus_rate: *self.bonus_rate.get_ref(),
            delivery_rate: *self.delivery_rate.get_ref(),
            performance_rate: *self.performance_rate.get_ref(),
            arrival: self.arrival,
            bonus_mix: shares.map(|s| s / sum),
        })
    }
}

/// How far from 1 a bonus mix may sum: decimal shares such as 0.1 + 0.2 + 0.7
/// are not exactly 1 in binary floating point.
const MIX_SUM_TOLERANCE: f64 = 1e-9;

impl RawFault {
    fn validate(self, run: Duration, fail: &Fail<'_>) -> Result<TimedFault, ScenarioError> {
        let (start, duration) = self.check_timing(run, fail)?;
        self.check_parameters(fail)?;
        let (target, kind) = (*self.target.get_ref(), *self.kind.get_ref());
        let fault = self.fault(fail)?;
        Ok(TimedFault {
            target,
            kind,
            fault,
            start,
            duration,
        })
    }

    /// When it starts and how long it lasts, inside the run.
    fn check_timing(
        &self,
        run: Duration,
        fail: &Fail<'_>,
    ) -> Result<(Duration, Duration), ScenarioError> {
        let start = self.start.get_ref().0;
        let duration = self.duration.get_ref().0;
        if duration.is_zero() {
            return Err(fail(
                self.duration.span().start,
                "duration",
                "a fault must last more than 0".to_string(),
            ));
        }
        if start + duration > run {
            return Err(fail(
                self.duration.span().start,
                "duration",
                format!(
                    "the fault runs past the end: it starts at {} and lasts {}, but the scenario lasts {}",
                    show(start),
                    show(duration),
                    show(run)
                ),
            ));
        }
        Ok((start, duration))
    }

    /// Parameters belong to one kind each; a stray one is a typo, not a default.
    fn check_parameters(&self, fail: &Fail<'_>) -> Result<(), ScenarioError> {
        let kind = *self.kind.get_ref();
        let mean = self.mean.as_ref().map(|s| s.span().start);
        let jitter = self.jitter.as_ref().map(|s| s.span().start);
        let rate = self.rate.as_ref().map(|s| s.span().start);
        for (present, field, owner) in [
            (mean, "mean", Kind::Latency),
            (jitter, "jitter", Kind::Latency),
            (rate, "rate", Kind::Errors),
        ] {
            if let Some(offset) = present
                && kind != owner
            {
                return Err(fail(
                    offset,
                    field,
                    format!("only a {} fault takes `{field}`", kind_name(owner)),
                ));
            }
        }
        Ok(())
    }

    /// The fault its target and kind name, with its parameters.
    fn fault(&self, fail: &Fail<'_>) -> Result<Fault, ScenarioError> {
        let target = *self.target.get_ref();
        let kind = *self.kind.get_ref();
        let service = match target {
            Target::Incentives => Some(Service::Incentives),
            Target::Payments => Some(Service::Payments),
            _ => None,
        };
        Ok(match (service, kind) {
            (Some(s), Kind::Crash) => Fault::Crash(s),
            (Some(s), Kind::Hang) => Fault::Hang(s),
            (Some(s), Kind::Latency) => Fault::Latency(s, self.latency(fail)?),
            (Some(s), Kind::Errors) => Fault::Errors(s, self.error_rate(fail)?),
            (None, Kind::Partition) if target == Target::Link => Fault::Partition,
            (None, Kind::StreamDown) if target == Target::Stream => Fault::StreamDown,
            (None, Kind::Hang) if target == Target::Stream => Fault::StreamHang,
            (None, Kind::ConsumerCrash) if target == Target::Consumer => Fault::ConsumerCrash,
            _ => {
                return Err(fail(
                    self.kind.span().start,
                    "kind",
                    format!(
                        "a {} fault makes no sense on {}: {}",
                        kind_name(kind),
                        target_name(target),
                        KINDS_BY_TARGET
                    ),
                ));
            }
        })
    }

    /// A latency fault's `mean` and `jitter`.
    fn latency(&self, fail: &Fail<'_>) -> Result<Latency, ScenarioError> {
        let Some(mean) = &self.mean else {
            return Err(fail(
                self.kind.span().start,
                "mean",
                "a latency fault needs `mean`, e.g. mean = \"200ms\"".to_string(),
            ));
        };
        // The jitter is capped at the mean: the delay stays uniform around
        // the mean and never below zero, so a mean of 0 (the start of a
        // sweep) adds nothing. Negative durations do not parse.
        let mean = mean.get_ref().0;
        let jitter = self
            .jitter
            .as_ref()
            .map_or(Duration::ZERO, |j| j.get_ref().0)
            .min(mean);
        Ok(Latency { mean, jitter })
    }

    /// An errors fault's `rate`, a share in (0, 1].
    fn error_rate(&self, fail: &Fail<'_>) -> Result<f64, ScenarioError> {
        let Some(rate) = &self.rate else {
            return Err(fail(
                self.kind.span().start,
                "rate",
                "an errors fault needs `rate`, e.g. rate = 0.3".to_string(),
            ));
        };
        let value = *rate.get_ref();
        if !(value > 0.0 && value <= 1.0) {
            return Err(fail(
                rate.span().start,
                "rate",
                format!("{value} is not a share in (0, 1]"),
            ));
        }
        Ok(value)
    }
}

const KINDS_BY_TARGET: &str = "incentives and payments take crash, hang, latency or errors; \
     link takes partition; stream takes stream-down or hang; consumer takes consumer-crash";

#[derive(Clone, Copy, Debug)]
pub(super) struct DurationText(pub(super) Duration);

impl<'de> Deserialize<'de> for DurationText {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        parse_duration(&text)
            .map(DurationText)
            .map_err(serde::de::Error::custom)
    }
}

/// Parses `"250ms"`, `"1.5s"`, `"30s"`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let bad = || {
        format!(
            "bad duration {text:?}: write a number and a unit, ms or s, like \"250ms\" or \"1.5s\""
        )
    };
    let (number, scale) = if let Some(n) = text.strip_suffix("ms") {
        (n, 0.001)
    } else if let Some(n) = text.strip_suffix('s') {
        (n, 1.0)
    } else {
        return Err(bad());
    };
    let digits_ok = !number.is_empty()
        && number.chars().all(|c| c.is_ascii_digit() || c == '.')
        && number.chars().filter(|&c| c == '.').count() <= 1
        && !number.starts_with('.')
        && !number.ends_with('.');
    let value: f64 = number.parse().map_err(|_| bad())?;
    if !digits_ok || !value.is_finite() || value * scale > MAX_DURATION.as_secs_f64() {
        return Err(bad());
    }
    Ok(Duration::from_secs_f64(value * scale))
}

/// `250ms`, `1.5s`: how durations are shown back to people.
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_written() {
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        for bad in ["", "3", "3x", "s", ".5s", "1.s", "-1s", "1e3s", "1..2s"] {
            assert!(parse_duration(bad).is_err(), "{bad:?}");
        }
    }
}
