//! The config file as written: plain serde structs, one per TOML table.
//!
//! Nothing here is trusted. [`super::Config::from_raw`] validates a [`RawConfig`] once into the
//! checked model; unknown keys are rejected at parse time so a typo never silently does nothing.

use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use super::duration;

/// The whole gateway config: the same tables a scenario file carries beside its world.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    /// `[[deployment]]`: one provider × model × API key.
    #[serde(default, rename = "deployment")]
    pub deployments: Vec<Spanned<RawDeployment>>,
    /// `[[tier]]`: a set of interchangeable deployments and how to balance them.
    #[serde(default, rename = "tier")]
    pub tiers: Vec<Spanned<RawTier>>,
    /// `[[route]]`: which tier serves a requested model name.
    #[serde(default, rename = "route")]
    pub routes: Vec<Spanned<RawRoute>>,
    /// `[retry]`: attempts, backoff and what is worth retrying.
    #[serde(default)]
    pub retry: RawRetry,
    /// `[health]`: cooldowns and the circuit breaker.
    #[serde(default)]
    pub health: RawHealth,
    /// `[balancing]`: the time constants the strategies use.
    #[serde(default)]
    pub balancing: RawBalancing,
    /// `[[client]]`: a client key with its own allowed tiers and limits.
    #[serde(default, rename = "client")]
    pub clients: Vec<Spanned<RawClient>>,
    /// `[affinity]`: session affinity (off unless `sessions` > 0).
    #[serde(default)]
    pub affinity: super::affinity::RawAffinity,
    /// `[cluster]`: replicas sharing limits through Redis.
    #[serde(default)]
    pub cluster: Option<Spanned<RawCluster>>,
}

/// `[cluster]` as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCluster {
    pub redis_url: String,
    #[serde(default, with = "duration::option")]
    pub sync_interval: Option<Duration>,
    #[serde(default)]
    pub replica: Option<String>,
    #[serde(default)]
    pub replicas: Option<i64>,
    #[serde(default)]
    pub key_prefix: Option<String>,
}

/// `[[client]]` as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawClient {
    pub name: String,
    #[serde(default)]
    pub key_env: Option<String>,
    #[serde(default)]
    pub key_sha256: Option<String>,
    #[serde(default)]
    pub tiers: Option<Vec<String>>,
    #[serde(default)]
    pub rpm: Option<i64>,
    #[serde(default)]
    pub tpm: Option<i64>,
    #[serde(default)]
    pub rpd: Option<i64>,
    #[serde(default)]
    pub usd_per_day: Option<f64>,
    #[serde(default)]
    pub usd_per_month: Option<f64>,
}

/// `[[deployment]]` as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDeployment {
    pub id: String,
    pub provider: String,
    pub model: String,
    #[serde(default)]
    pub key: Option<String>,
    pub tier: String,
    #[serde(default = "one")]
    pub weight: f64,
    #[serde(default)]
    pub rpm: Option<i64>,
    #[serde(default)]
    pub tpm: Option<i64>,
    #[serde(default)]
    pub rpd: Option<i64>,
    #[serde(default)]
    pub input_price: f64,
    #[serde(default)]
    pub output_price: f64,
    #[serde(default)]
    pub cached_input_price: Option<f64>,
    #[serde(default)]
    pub base_url: Option<String>,
    #[serde(default)]
    pub api_key_env: Option<String>,
    #[serde(default)]
    pub api_key_header: Option<String>,
    #[serde(default)]
    pub upstream_model: Option<String>,
    #[serde(default)]
    pub api: Option<String>,
    #[serde(default)]
    pub anthropic_version: Option<String>,
    #[serde(default)]
    pub anthropic_beta: Option<String>,
    #[serde(default, with = "duration::option")]
    pub connect_timeout: Option<Duration>,
    #[serde(default, with = "duration::option")]
    pub first_byte_timeout: Option<Duration>,
    #[serde(default, with = "duration::option")]
    pub total_timeout: Option<Duration>,
}

fn one() -> f64 {
    1.0
}

/// `[[tier]]` as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTier {
    pub name: String,
    #[serde(default = "default_strategy")]
    pub strategy: String,
    #[serde(default)]
    pub fallback: Vec<String>,
    #[serde(default)]
    pub context_fallback: Option<String>,
    /// Latency objective: the longest acceptable time to first token (`cost-aware`).
    #[serde(default, with = "duration::option")]
    pub max_ttft: Option<Duration>,
    /// Latency objective: the longest acceptable whole-answer latency (`cost-aware`).
    #[serde(default, with = "duration::option")]
    pub max_latency: Option<Duration>,
    /// `hedge = { after = "p95" | "3s", max = 1 }`.
    #[serde(default)]
    pub hedge: Option<super::objectives::RawHedge>,
}

fn default_strategy() -> String {
    "adaptive".to_owned()
}

/// `[[route]]` as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRoute {
    pub model: String,
    pub tier: String,
}

/// `[retry]` as written; every field has a documented default.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawRetry {
    pub max_attempts: i64,
    #[serde(with = "duration")]
    pub backoff_base: Duration,
    #[serde(with = "duration")]
    pub backoff_max: Duration,
    pub jitter: f64,
    pub retry_on: Vec<String>,
    #[serde(with = "duration")]
    pub max_wait: Duration,
    #[serde(default, with = "duration::option")]
    pub deadline: Option<Duration>,
}

impl Default for RawRetry {
    fn default() -> Self {
        RawRetry {
            max_attempts: 3,
            backoff_base: Duration::from_millis(100),
            backoff_max: Duration::from_secs(5),
            jitter: 0.2,
            retry_on: ["rate_limited", "server_error", "timeout", "connection"]
                .iter()
                .map(|s| (*s).to_owned())
                .collect(),
            max_wait: Duration::from_secs(10),
            deadline: None,
        }
    }
}

/// `[health]` as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawHealth {
    #[serde(with = "duration")]
    pub cooldown: Duration,
    #[serde(with = "duration")]
    pub max_cooldown: Duration,
    pub failure_threshold: i64,
    #[serde(with = "duration")]
    pub open_for: Duration,
    #[serde(with = "duration")]
    pub max_open_for: Duration,
    #[serde(with = "duration")]
    pub error_window: Duration,
}

impl Default for RawHealth {
    fn default() -> Self {
        RawHealth {
            cooldown: Duration::from_secs(5),
            max_cooldown: Duration::from_secs(60),
            failure_threshold: 5,
            open_for: Duration::from_secs(30),
            max_open_for: Duration::from_secs(300),
            error_window: Duration::from_secs(60),
        }
    }
}

/// `[balancing]` as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawBalancing {
    #[serde(with = "duration")]
    pub latency_decay: Duration,
    #[serde(with = "duration")]
    pub failure_penalty: Duration,
    #[serde(with = "duration")]
    pub default_latency: Duration,
    pub error_sensitivity: f64,
    /// Exponent of the price factor in `adaptive`'s score (0 = price ignored).
    pub cost_factor: f64,
}

impl Default for RawBalancing {
    fn default() -> Self {
        RawBalancing {
            latency_decay: Duration::from_secs(10),
            failure_penalty: Duration::from_secs(2),
            default_latency: Duration::from_secs(1),
            error_sensitivity: 50.0,
            cost_factor: 0.0,
        }
    }
}
