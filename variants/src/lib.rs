//! The one variant factory: a variant is a name and a configuration, and
//! [`start`] makes it a running [`System`]. The harness, the benches and the
//! parity tests all start variants here, so that `sync-resilient` means the
//! same configuration everywhere.
//!
//! The four presets are [`VariantSpec::preset`]; a scenario may define more
//! (`[variant.NAME] base = "sync-resilient"` …, read by the harness into a
//! [`VariantSpec`]), and `--ablate` derives one per mechanism with
//! [`VariantSpec::ablations`]. [`VariantSpec::configuration`] is the complete
//! configuration as the results record it.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use common::store::Storage;
use common::system::{RunningService, Service, System, Variant};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// How a variant's services are configured. A handful of these exist per run,
/// so the size difference between the two is of no consequence. As JSON:
/// `{"sync": {…}}` or `{"async": {…}}`, the configuration's own fields inside.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[allow(clippy::large_enum_variant)]
pub enum Settings {
    /// sync, sync-buffered, sync-resilient and anything in between.
    Sync(sync_variant::Config),
    Async(async_variant::Config),
}

/// A named, fully configured variant. Written as JSON, it is what the harness
/// hands each `commlab service` process (`--spec`), so that both services of a
/// variant run the same configuration.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct VariantSpec {
    /// What results and reports call it: a preset's name or a scenario's own.
    pub name: String,
    pub settings: Settings,
}

impl VariantSpec {
    /// A preset at its documented defaults.
    pub fn preset(variant: Variant) -> VariantSpec {
        let settings = match variant {
            Variant::Sync => Settings::Sync(sync_variant::Config::default()),
            Variant::SyncBuffered => Settings::Sync(sync_variant::Config {
                buffered: true,
                ..sync_variant::Config::default()
            }),
            Variant::SyncResilient => Settings::Sync(sync_variant::Config::resilient()),
            Variant::Async => Settings::Async(async_variant::Config::default()),
        };
        VariantSpec {
            name: variant.name().to_string(),
            settings,
        }
    }

    /// The preset by name (`None` for a name that is not one).
    pub fn preset_named(name: &str) -> Option<VariantSpec> {
        name.parse().ok().map(VariantSpec::preset)
    }

    /// Which of the designs this is (what `System::variant` will say).
    pub fn base(&self) -> Variant {
        match &self.settings {
            Settings::Sync(config) => config.variant(),
            Settings::Async(_) => Variant::Async,
        }
    }

    /// The synchronous configuration, to adjust it (`None` for async).
    pub fn sync_mut(&mut self) -> Option<&mut sync_variant::Config> {
        match &mut self.settings {
            Settings::Sync(config) => Some(config),
            Settings::Async(_) => None,
        }
    }

    /// A run's users stop waiting after `slo`: a deadline whose default
    /// budget was not set explicitly takes it. `explicit` says whether the
    /// scenario set it.
    pub fn with_slo(mut self, slo: Duration, explicit: bool) -> VariantSpec {
        if let Some(deadline) = self
            .sync_mut()
            .and_then(|c| c.resilience.as_mut())
            .and_then(|r| r.deadline.as_mut())
            && !explicit
        {
            deadline.default_budget = slo;
        }
        self
    }

    /// With Payments' ledger idempotent or not (a scenario's `idempotency`;
    /// off only to show what the check prevents).
    pub fn with_idempotency(mut self, idempotent: bool) -> VariantSpec {
        match &mut self.settings {
            Settings::Sync(config) => config.idempotent = idempotent,
            Settings::Async(config) => config.idempotent = idempotent,
        }
        self
    }

    /// With every synchronous pool's worker count and call timeout set where
    /// given (a scenario's `[sync]` table, the `sync.*` of a sweep); the async
    /// variant has neither and is unchanged.
    pub fn with_pool(
        mut self,
        workers: Option<usize>,
        call_timeout: Option<Duration>,
    ) -> VariantSpec {
        if let Some(config) = self.sync_mut() {
            config.workers = workers.unwrap_or(config.workers);
            config.call_timeout = call_timeout.unwrap_or(config.call_timeout);
        }
        self
    }

    /// With the async variant's events on `stream` (`--stream`); the
    /// synchronous variants have no stream and are unchanged.
    pub fn with_stream(mut self, stream: async_variant::StreamChoice) -> VariantSpec {
        if let Settings::Async(config) = &mut self.settings {
            config.stream = stream;
        }
        self
    }

    /// With one defence off each: `NAME-without-deadline`, `NAME-without-retry`, … for
    /// every mechanism this variant has on. Empty for a variant without any.
    pub fn ablations(&self) -> Vec<VariantSpec> {
        let Settings::Sync(config) = &self.settings else {
            return Vec::new();
        };
        let Some(resilience) = config.resilience else {
            return Vec::new();
        };
        sync_variant::MECHANISMS
            .iter()
            .filter(|m| resilience.has(m))
            .filter_map(|m| {
                let without = resilience.without(m)?;
                Some(VariantSpec {
                    name: format!("{}-without-{m}", self.name),
                    settings: Settings::Sync(sync_variant::Config {
                        resilience: Some(without),
                        ..config.clone()
                    }),
                })
            })
            .collect()
    }

    /// The complete configuration, as results record it: every pool size,
    /// timeout and mechanism parameter (durations in ms). Addresses and the
    /// seed are the run's, recorded elsewhere.
    pub fn configuration(&self) -> Value {
        let mut value = match &self.settings {
            Settings::Sync(config) => serde_json::to_value(config).unwrap_or(Value::Null),
            Settings::Async(config) => json!({
                "stream_capacity": config.stream_capacity,
                "outbox_capacity": config.outbox_capacity,
                "batch_size": config.batch_size,
                "commit_interval_ms": config.commit_interval.as_secs_f64() * 1000.0,
                "idempotent": config.idempotent,
            }),
        };
        if let Value::Object(map) = &mut value {
            map.remove("incentives_addr");
            map.remove("payments_addr");
            map.remove("seed");
            map.insert("base".into(), json!(self.base().name()));
        }
        value
    }
}

/// Starts `spec` on the given addresses (port 0: the OS picks), its
/// randomness seeded with `seed`. Call from a plain thread, not inside an
/// async runtime (the synchronous variant builds blocking clients).
pub fn start(
    spec: &VariantSpec,
    incentives_addr: SocketAddr,
    payments_addr: SocketAddr,
    seed: u64,
) -> io::Result<Box<dyn System>> {
    Ok(match &spec.settings {
        Settings::Sync(config) => Box::new(sync_variant::start(sync_variant::Config {
            incentives_addr,
            payments_addr,
            seed,
            ..config.clone()
        })?),
        Settings::Async(config) => Box::new(async_variant::start(async_variant::Config {
            incentives_addr,
            payments_addr,
            seed,
            ..config.clone()
        })?),
    })
}

/// Starts one service of `spec` on its own, for `commlab service`: listening
/// on `listen`, its randomness seeded with `seed` (give both services the
/// same). A synchronous service calls its peer at `peer`; an asynchronous one
/// reaches its peer only through the stream, on the NATS server at `nats`
/// (required: the in-process log cannot cross processes). Call from a plain
/// thread, not inside an async runtime.
pub fn start_service(
    spec: &VariantSpec,
    service: Service,
    listen: SocketAddr,
    peer: SocketAddr,
    nats: Option<&NatsStream>,
    storage: Storage,
    seed: u64,
) -> io::Result<Box<dyn RunningService>> {
    Ok(match &spec.settings {
        Settings::Sync(config) => {
            let config = sync_variant::Config {
                seed,
                storage,
                ..config.clone()
            };
            Box::new(sync_variant::start_one(&config, service, listen, peer)?)
        }
        Settings::Async(config) => {
            let (stream, name) = match nats {
                Some(nats) => (
                    async_variant::StreamChoice::Nats {
                        url: nats.url.clone(),
                        server: None,
                    },
                    nats.stream.as_str(),
                ),
                None => (async_variant::StreamChoice::Memory, ""),
            };
            let config = async_variant::Config {
                seed,
                stream,
                storage,
                ..config.clone()
            };
            Box::new(async_variant::start_one(&config, service, listen, name)?)
        }
    })
}

/// Where the async variant's services, each in its own process, meet: a
/// broker's URL and the name of their stream on it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NatsStream {
    pub url: String,
    pub stream: String,
}

/// A preset on `127.0.0.1:0` with seed 1: what tests and benches mostly need.
pub fn start_preset(variant: Variant) -> io::Result<Box<dyn System>> {
    let loopback = SocketAddr::from(([127, 0, 0, 1], 0));
    start(&VariantSpec::preset(variant), loopback, loopback, 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_preset_is_the_variant_it_is_named_after() {
        for variant in Variant::ALL {
            let spec = VariantSpec::preset(variant);
            assert_eq!(spec.base(), variant);
            assert_eq!(spec.name, variant.name());
            assert_eq!(spec.configuration()["base"], variant.name());
        }
    }

    #[test]
    fn sync_resilient_ablates_each_of_its_six_mechanisms() {
        let spec = VariantSpec::preset(Variant::SyncResilient);
        let names: Vec<String> = spec.ablations().into_iter().map(|s| s.name).collect();
        assert_eq!(names.len(), 6);
        assert_eq!(names[0], "sync-resilient-without-deadline");
        assert!(VariantSpec::preset(Variant::Sync).ablations().is_empty());
        let config = spec.configuration();
        assert_eq!(config["resilience"]["breaker"]["probes"], 3);
        assert_eq!(config["workers"], 16);
    }

    #[test]
    fn a_pool_setting_reaches_every_sync_variant_and_is_recorded() {
        let timeout = Some(Duration::from_millis(250));
        for variant in Variant::ALL {
            let spec = VariantSpec::preset(variant).with_pool(Some(4), timeout);
            let config = spec.configuration();
            if variant == Variant::Async {
                assert!(config.get("workers").is_none());
            } else {
                assert_eq!(
                    (
                        config["workers"].as_u64(),
                        config["call_timeout_ms"].as_f64()
                    ),
                    (Some(4), Some(250.0))
                );
            }
        }
        let unchanged = VariantSpec::preset(Variant::Sync).with_pool(None, None);
        assert_eq!(unchanged.configuration()["workers"], 16);
    }

    /// The JSON a `commlab service` process is given reads back as the same
    /// variant, every parameter included (durations in ms).
    #[test]
    fn every_spec_survives_a_json_round_trip() {
        let mut specs: Vec<VariantSpec> =
            Variant::ALL.into_iter().map(VariantSpec::preset).collect();
        specs.extend(VariantSpec::preset(Variant::SyncResilient).ablations());
        specs.push(
            VariantSpec::preset(Variant::SyncBuffered)
                .with_pool(Some(3), Some(Duration::from_micros(2_500)))
                .with_idempotency(false),
        );
        for spec in specs {
            let text = serde_json::to_string(&spec).unwrap();
            let back: VariantSpec = serde_json::from_str(&text).unwrap();
            assert_eq!(back.name, spec.name);
            assert_eq!(back.base(), spec.base());
            assert_eq!(back.configuration(), spec.configuration(), "{text}");
            assert_eq!(
                serde_json::to_value(&back).unwrap(),
                serde_json::to_value(&spec).unwrap()
            );
        }
        let odd = r#"{"name":"x","settings":{"sync":{"workers":2,"call_timeout_ms":2.5}}}"#;
        let spec: VariantSpec = serde_json::from_str(odd).unwrap();
        let config = spec.configuration();
        assert_eq!(
            (
                config["workers"].as_u64(),
                config["call_timeout_ms"].as_f64()
            ),
            (Some(2), Some(2.5))
        );
        assert_eq!(config["queue"], 64, "a missing field is at its default");
        let async_spec = r#"{"name":"a","settings":{"async":{"commit_interval_ms":20.0}}}"#;
        let spec: VariantSpec = serde_json::from_str(async_spec).unwrap();
        assert_eq!(spec.configuration()["commit_interval_ms"], 20.0);
        let negative = r#"{"name":"x","settings":{"sync":{"call_timeout_ms":-5}}}"#;
        assert!(serde_json::from_str::<VariantSpec>(negative).is_err());
    }

    #[test]
    fn the_slo_becomes_the_default_deadline_unless_set() {
        let slo = Duration::from_millis(300);
        let spec = VariantSpec::preset(Variant::SyncResilient).with_slo(slo, false);
        assert_eq!(
            spec.configuration()["resilience"]["deadline"]["default_budget_ms"],
            300.0
        );
    }
}
