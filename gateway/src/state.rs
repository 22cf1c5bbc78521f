//! The gateway's shared state: the engine and the [`Live`] config it runs behind one mutex (held
//! only for the microseconds of a call, never across an await), the settings and a few counters.

use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use engine::{Config, Engine};
use subtle::ConstantTimeEq;

use crate::clock::Clock;
use crate::error::GatewayError;
use crate::live::{Live, WorkerClients};
use crate::settings::Settings;
use crate::trace::TraceSink;

/// Counters of the gateway's own HTTP answers, by status class (index = status / 100).
#[derive(Debug, Default)]
pub struct HttpCounters {
    /// Responses by status class 1xx..5xx (index 1..=5).
    pub by_class: [AtomicU64; 6],
    /// Client requests being handled now: from the request head until the response body
    /// (a stream included) has ended or been dropped.
    pub in_flight: AtomicU64,
    /// Client connections open now.
    pub connections: AtomicU64,
}

/// Counts one client request in [`HttpCounters::in_flight`] for as long as it lives; the
/// response body carries it until the body ends or is dropped.
pub(crate) struct InFlight(Arc<Shared>);

impl InFlight {
    /// Counts a new request.
    pub fn start(gw: &Arc<Shared>) -> InFlight {
        gw.http.in_flight.fetch_add(1, Ordering::Relaxed);
        InFlight(gw.clone())
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.http.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

/// A running gateway's state; cheap to clone (an `Arc`).
#[derive(Clone)]
pub struct Gateway {
    pub(crate) inner: Arc<Shared>,
    pub(crate) clients: Arc<WorkerClients>,
}

/// The engine and the config it runs, changed together.
pub(crate) struct Core {
    pub engine: Engine,
    pub live: Arc<Live>,
}

/// The locked [`Core`]: derefs to the engine; [`EngineGuard::live`] is the config whose
/// deployment and tier ids the engine hands out meanwhile.
pub(crate) struct EngineGuard<'a>(MutexGuard<'a, Core>);

impl EngineGuard<'_> {
    /// The config the engine runs (its ids index these upstreams and tiers).
    pub fn live(&self) -> &Arc<Live> {
        &self.0.live
    }

    /// Both halves, for a reload.
    pub fn core(&mut self) -> &mut Core {
        &mut self.0
    }
}

impl Deref for EngineGuard<'_> {
    type Target = Engine;
    fn deref(&self) -> &Engine {
        &self.0.engine
    }
}

impl DerefMut for EngineGuard<'_> {
    fn deref_mut(&mut self) -> &mut Engine {
        &mut self.0.engine
    }
}

/// Reload outcomes, for `switchyard_config_reloads_total`.
#[derive(Debug, Default)]
pub(crate) struct ReloadCounters {
    pub ok: AtomicU64,
    pub error: AtomicU64,
}

/// Looks up an environment variable (the process's, or a test's).
pub(crate) type EnvLookup = dyn Fn(&str) -> Option<String> + Send + Sync;

pub(crate) struct Shared {
    pub engine: Mutex<Core>,
    /// Engine time (real time since start × the speed) and its conversions.
    pub clock: Clock,
    pub keys: Vec<Vec<u8>>,
    pub admin_key: Option<Vec<u8>>,
    pub reloads: ReloadCounters,
    /// Serialises reloads (two at once would race on the generation number).
    pub reloading: Mutex<()>,
    /// Where keys are looked up (the process environment, or a test's).
    pub env: Box<EnvLookup>,
    pub settings: Settings,
    pub trace: Option<TraceSink>,
    pub next_request: AtomicU64,
    pub http: HttpCounters,
    /// One permit per open client connection (`max_connections` in all).
    pub connection_slots: Arc<tokio::sync::Semaphore>,
    /// The fleet exchange (`[cluster]`), if configured.
    pub cluster_status: crate::cluster::ClusterStatus,
}

impl Gateway {
    /// Builds the gateway for a checked config. `env` looks up environment variables (the
    /// deployments' API keys, the clients' keys), now and at every reload; a deployment whose
    /// `api_key_env` is unset is an error naming both.
    pub fn new(
        config: Config,
        settings: Settings,
        env: impl Fn(&str) -> Option<String> + Send + Sync + 'static,
    ) -> Result<Gateway, GatewayError> {
        let speed = settings.speed;
        if !crate::clock::speed_ok(speed) {
            return Err(GatewayError::Speed(speed));
        }
        let live = Live::build(config.clone(), &env, None, 0)
            .map_err(|mut errors| errors.swap_remove(0))?;
        let trace = match &settings.trace_out {
            None => None,
            Some(path) => Some(
                TraceSink::create(path).map_err(|cause| GatewayError::Trace {
                    path: path.clone(),
                    cause,
                })?,
            ),
        };
        let keys = settings
            .gateway_keys
            .iter()
            .map(|k| k.trim().as_bytes().to_vec())
            .filter(|k| !k.is_empty())
            .collect();
        let admin_key = settings
            .admin_key
            .as_deref()
            .map(|k| k.trim().as_bytes().to_vec())
            .filter(|k| !k.is_empty());
        let settings_max_connections = settings
            .max_connections
            .clamp(1, tokio::sync::Semaphore::MAX_PERMITS);
        let mut engine = Engine::new(config, settings.seed);
        if let Some(cluster) = &engine.config().cluster {
            // Until the first exchange says otherwise, this replica spends only its share.
            let replicas = cluster.replicas;
            engine.cluster_isolated(Duration::ZERO, replicas);
        }
        let clients = Arc::new(WorkerClients::new(&live));
        Ok(Gateway {
            clients,
            inner: Arc::new(Shared {
                engine: Mutex::new(Core {
                    engine,
                    live: Arc::new(live),
                }),
                clock: Clock::start(speed),
                keys,
                admin_key,
                reloads: ReloadCounters::default(),
                reloading: Mutex::new(()),
                env: Box::new(env),
                settings,
                trace,
                next_request: AtomicU64::new(1),
                http: HttpCounters::default(),
                connection_slots: Arc::new(tokio::sync::Semaphore::new(settings_max_connections)),
                cluster_status: crate::cluster::ClusterStatus::default(),
            }),
        })
    }

    /// Builds the gateway reading API keys from the process environment.
    pub fn from_env(config: Config, settings: Settings) -> Result<Gateway, GatewayError> {
        Gateway::new(config, settings, |name| std::env::var(name).ok())
    }

    /// The same gateway (engine, counters, trace) with its own upstream connection pools: one
    /// per event loop, so that each pooled connection is driven by the thread that uses it.
    pub fn worker(&self) -> Gateway {
        Gateway {
            inner: self.inner.clone(),
            clients: Arc::new(WorkerClients::new(&self.inner.live())),
        }
    }

    /// The config being served now (a copy: a reload may replace it at any time).
    pub fn config(&self) -> Config {
        self.inner.lock().live().config.clone()
    }

    /// The settings.
    pub fn settings(&self) -> &Settings {
        &self.inner.settings
    }

    /// The engine's clock: time since the gateway started × the speed.
    pub fn now(&self) -> Duration {
        self.inner.now()
    }

    /// Runs `f` with the engine locked (for inspection; keep it short).
    pub fn with_engine<R>(&self, f: impl FnOnce(&mut Engine) -> R) -> R {
        f(&mut self.inner.lock())
    }

    /// The Prometheus text of `/metrics`.
    pub fn metrics_text(&self) -> String {
        crate::metrics::render(&self.inner)
    }

    /// Writes buffered trace rows to the file (called on shutdown; also happens every second).
    pub fn flush_trace(&self) {
        if let Some(t) = &self.inner.trace {
            t.flush(Duration::from_secs(5));
        }
    }
}

impl Shared {
    /// Starts the fleet exchange on the current runtime if the config has `[cluster]` and it
    /// is not running yet (every event loop's `serve` asks; the first one starts it).
    pub fn start_cluster(self: &Arc<Self>) {
        let Some(cluster) = self.live().config.cluster.clone() else {
            return;
        };
        if self
            .cluster_status
            .started
            .swap(true, std::sync::atomic::Ordering::AcqRel)
        {
            return;
        }
        tokio::spawn(crate::cluster::run(self.clone(), cluster));
    }

    pub fn now(&self) -> Duration {
        self.clock.now()
    }

    pub fn lock(&self) -> EngineGuard<'_> {
        // A panic while the engine was locked leaves it poisoned; its state is still the best
        // information there is, so keep serving rather than failing every request.
        EngineGuard(self.engine.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// The config served now.
    pub fn live(&self) -> Arc<Live> {
        self.lock().live().clone()
    }

    /// Who is calling: `Ok(Some(name))` for a `[[client]]` key, `Ok(None)` for a
    /// `--gateway-keys-env` key (or anyone, when neither keys nor clients are configured),
    /// `Err(())` otherwise. Keys compare in constant time.
    pub fn identify(
        &self,
        header: Option<&[u8]>,
        api_key: Option<&[u8]>,
    ) -> Result<Option<Arc<str>>, ()> {
        let token = header.and_then(bearer_token).or(api_key);
        let live = self.live();
        if let Some(client) = token.and_then(|t| live.client_of(t)) {
            return Ok(Some(client));
        }
        if self.keys.is_empty() && live.client_keys.is_empty() {
            return Ok(None);
        }
        let Some(token) = token else { return Err(()) };
        let mut ok = subtle::Choice::from(0);
        for k in &self.keys {
            ok |= k.as_slice().ct_eq(token);
        }
        if bool::from(ok) {
            Ok(None)
        } else {
            Err(())
        }
    }

    pub fn count_status(&self, status: u16) {
        let class = usize::from(status / 100).min(5);
        self.http.by_class[class].fetch_add(1, Ordering::Relaxed);
    }
}

fn bearer_token(header: &[u8]) -> Option<&[u8]> {
    let header = header.trim_ascii();
    let (scheme, rest) = header.split_at_checked(7)?;
    scheme
        .eq_ignore_ascii_case(b"bearer ")
        .then(|| rest.trim_ascii())
}

/// `GET /v1/models`: every route pattern and every tier name, each with the tier serving it.
/// A name is listed once: a tier named like a route pattern appears as the route (the first
/// route wins for repeated patterns).
pub(crate) fn models_json(config: &Config) -> String {
    let mut data: Vec<serde_json::Value> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for r in &config.routes {
        if !seen.insert(r.pattern.as_str()) {
            continue;
        }
        data.push(serde_json::json!({
            "id": r.pattern,
            "object": "model",
            "owned_by": "switchyard",
            "tier": config.tier(r.tier).name,
        }));
    }
    for t in &config.tiers {
        if !seen.insert(t.name.as_str()) {
            continue;
        }
        data.push(serde_json::json!({
            "id": t.name,
            "object": "model",
            "owned_by": "switchyard",
            "tier": t.name,
            "strategy": t.strategy.name(),
        }));
    }
    serde_json::json!({"object": "list", "data": data}).to_string()
}

#[cfg(test)]
mod tests;
