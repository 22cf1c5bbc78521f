//! Scenario files as written: `[simulation]`, `[workload]`, `[world]`, plus the gateway config
//! tables (`[[deployment]]`, `[[tier]]`, `[[route]]`, `[retry]`, `[health]`, `[balancing]`) with
//! exactly the schema `switchyard serve` reads. Unknown keys are errors.

use std::time::Duration;

use engine::config::duration;
use engine::config::raw::{
    RawBalancing, RawClient, RawConfig, RawDeployment, RawHealth, RawRetry, RawRoute, RawTier,
};
use serde::Deserialize;
use toml::Spanned;

use crate::dist::DistSpec;

/// A whole scenario file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawScenario {
    /// Run settings.
    pub simulation: Spanned<RawSimulation>,
    /// The traffic.
    pub workload: Spanned<RawWorkload>,
    /// True provider behaviour.
    pub world: RawWorld,
    #[serde(default, rename = "deployment")]
    deployments: Vec<Spanned<RawDeployment>>,
    #[serde(default, rename = "tier")]
    tiers: Vec<Spanned<RawTier>>,
    #[serde(default, rename = "route")]
    routes: Vec<Spanned<RawRoute>>,
    #[serde(default)]
    retry: RawRetry,
    #[serde(default)]
    health: RawHealth,
    #[serde(default)]
    balancing: RawBalancing,
    #[serde(default)]
    affinity: engine::config::affinity::RawAffinity,
    /// `[[client]]`: tenants with their own limits and budgets, which `[[workload.mix]]
    /// client` sends as (their keys are never read by the simulator).
    #[serde(default, rename = "client")]
    clients: Vec<Spanned<RawClient>>,
}

impl RawScenario {
    /// The gateway config tables, as `serve` would read them.
    pub fn gateway_config(&self) -> RawConfig {
        RawConfig {
            deployments: self.deployments.clone(),
            tiers: self.tiers.clone(),
            routes: self.routes.clone(),
            retry: self.retry.clone(),
            health: self.health.clone(),
            balancing: self.balancing.clone(),
            clients: self.clients.clone(),
            cluster: None,
            affinity: self.affinity.clone(),
        }
    }
}

/// `[simulation]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSimulation {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default = "default_seed")]
    pub seed: u64,
    #[serde(with = "duration")]
    pub duration: Duration,
    #[serde(default)]
    pub requests: Option<u64>,
    #[serde(default)]
    pub strategies: Option<Vec<String>>,
    #[serde(default, with = "duration::option")]
    pub bucket: Option<Duration>,
    #[serde(default = "default_drain", with = "duration")]
    pub drain: Duration,
    #[serde(default)]
    pub replicas: Option<i64>,
    #[serde(default, with = "duration::option")]
    pub sync_interval: Option<Duration>,
    #[serde(default, with = "duration::option")]
    pub sync_delay: Option<Duration>,
    #[serde(default)]
    pub replica_weights: Option<Vec<f64>>,
    #[serde(default = "yes")]
    pub shared_limits: bool,
}

fn yes() -> bool {
    true
}

fn default_seed() -> u64 {
    1
}

fn default_drain() -> Duration {
    Duration::from_secs(600)
}

/// `[workload]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawWorkload {
    pub arrivals: ArrivalSpec,
    pub input_tokens: DistSpec,
    pub output_tokens: DistSpec,
    #[serde(default)]
    pub max_tokens: Option<u32>,
    #[serde(default = "default_client_timeout", with = "duration")]
    pub client_timeout: Duration,
    #[serde(default)]
    pub stream_share: Option<f64>,
    #[serde(default)]
    pub mix: Vec<RawMix>,
    #[serde(default)]
    pub sessions: Option<RawSessions>,
}

/// `[workload] sessions = { active, turns }`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSessions {
    pub active: i64,
    pub turns: i64,
}

/// `[[world.provider]] prompt_cache = { ttl, ttft_saving }`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPromptCache {
    #[serde(default = "default_cache_ttl", with = "duration")]
    pub ttl: Duration,
    #[serde(default = "default_ttft_saving")]
    pub ttft_saving: f64,
}

fn default_cache_ttl() -> Duration {
    Duration::from_secs(300)
}

fn default_ttft_saving() -> f64 {
    0.5
}

fn default_client_timeout() -> Duration {
    Duration::from_secs(120)
}

/// Arrival processes (rates in requests per second).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(rename_all = "lowercase", deny_unknown_fields)]
pub enum ArrivalSpec {
    /// Evenly spaced.
    Constant {
        /// Requests per second.
        rate: f64,
    },
    /// Poisson process.
    Poisson {
        /// Requests per second.
        rate: f64,
    },
    /// Markov-modulated Poisson: alternates between a base and a burst rate, each state held
    /// for an exponentially distributed time (on/off when `base_rate` is 0).
    Bursty {
        /// Rate outside bursts.
        base_rate: f64,
        /// Rate during bursts.
        burst_rate: f64,
        /// Mean burst length.
        #[serde(with = "duration")]
        mean_burst: Duration,
        /// Mean time between bursts.
        #[serde(with = "duration")]
        mean_gap: Duration,
    },
    /// Poisson with a sinusoidal daily rate: mean·(1 + amplitude·cos(2π(t − peak)/period)).
    Diurnal {
        /// Mean rate over a period.
        mean_rate: f64,
        /// Relative swing, 0 to 1.
        amplitude: f64,
        /// Period (e.g. "24h"; shorter for a compressed day).
        #[serde(with = "duration")]
        period: Duration,
        /// Time of the peak within the period.
        #[serde(with = "duration")]
        peak: Duration,
    },
}

/// `[[workload.mix]]`: a share of traffic asking for a model name.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMix {
    pub model: String,
    pub share: f64,
    /// The `[[client]]` sending this share.
    #[serde(default)]
    pub client: Option<String>,
}

/// `[world]`.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawWorld {
    #[serde(default, rename = "provider")]
    pub providers: Vec<Spanned<RawProvider>>,
    #[serde(default, rename = "incident")]
    pub incidents: Vec<Spanned<RawIncident>>,
}

/// `[[world.provider]]`: latency and errors shared by the provider's deployments.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawProvider {
    pub name: String,
    pub ttft: DistSpec,
    #[serde(default)]
    pub per_token: Option<DistSpec>,
    #[serde(default)]
    pub concurrency: Option<i64>,
    #[serde(default)]
    pub error_rate: f64,
    #[serde(default)]
    pub timeout_rate: f64,
    #[serde(default = "default_rejection_latency", with = "duration")]
    pub rejection_latency: Duration,
    #[serde(default = "default_rate_limit_headers")]
    pub rate_limit_headers: String,
    #[serde(default)]
    pub prompt_cache: Option<RawPromptCache>,
    #[serde(rename = "deployment")]
    pub deployments: Vec<Spanned<RawWorldDeployment>>,
}

fn default_rate_limit_headers() -> String {
    "full".to_owned()
}

fn default_rejection_latency() -> Duration {
    Duration::from_millis(30)
}

/// `[[world.provider.deployment]]`: one key's true limits and optional overrides.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawWorldDeployment {
    pub id: String,
    #[serde(default)]
    pub rpm: Option<i64>,
    #[serde(default)]
    pub tpm: Option<i64>,
    #[serde(default)]
    pub rpd: Option<i64>,
    #[serde(default = "default_window")]
    pub window: String,
    #[serde(default)]
    pub burst: Option<f64>,
    #[serde(default)]
    pub ttft: Option<DistSpec>,
    #[serde(default)]
    pub per_token: Option<DistSpec>,
    #[serde(default)]
    pub error_rate: Option<f64>,
    #[serde(default)]
    pub context_window: Option<i64>,
    /// The API it speaks (`"openai"` | `"anthropic"`): read by `switchyard mock-provider`,
    /// ignored by the simulator.
    #[serde(default)]
    pub api: Option<String>,
}

fn default_window() -> String {
    "token-bucket".to_owned()
}

/// `[[world.incident]]`: a timed change to a provider or deployment.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawIncident {
    pub kind: String,
    pub target: String,
    #[serde(with = "duration")]
    pub start: Duration,
    #[serde(with = "duration")]
    pub end: Duration,
    #[serde(default)]
    pub mode: Option<String>,
    #[serde(default)]
    pub factor: Option<f64>,
    #[serde(default)]
    pub error_rate: Option<f64>,
}
