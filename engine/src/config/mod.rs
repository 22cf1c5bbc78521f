//! The checked gateway config: parsed from TOML once, validated once, immutable afterwards.
//!
//! [`Config::from_toml`] (or [`Config::from_raw`]) is the only way to build one, so every
//! [`Config`] in the program has unique ids, known tiers, acyclic fallbacks and sane limits.

pub mod affinity;
pub mod clients;
pub mod cluster;
pub mod duration;
pub mod objectives;
pub mod raw;
pub mod toml_error;

mod deployments;
mod fallbacks;
mod policies;
mod validate;

use std::collections::HashMap;
use std::fmt;
use std::ops::Range;
use std::time::Duration;

use crate::error::ConfigError;
use crate::ids::{DeploymentId, TierId};
use crate::outcome::FailureKind;
use crate::strategy::StrategyKind;
use raw::RawConfig;
use validate::Validator;

/// The most attempts one request may make; bounds the per-request bookkeeping.
pub const MAX_ATTEMPTS_LIMIT: usize = 16;

/// Rate limits of one deployment as the operator configured them (`None` = unlimited).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Limits {
    /// Requests per minute.
    pub rpm: Option<u64>,
    /// Tokens (input + output) per minute.
    pub tpm: Option<u64>,
    /// Requests per day.
    pub rpd: Option<u64>,
}

/// Price in currency units per million tokens.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Price {
    /// Per million input (prompt) tokens.
    pub input_per_million: f64,
    /// Per million output (completion) tokens.
    pub output_per_million: f64,
    /// Per million input tokens read from the provider's prompt cache (`cached_input_price`;
    /// the input price when not set).
    pub cached_input_per_million: f64,
}

impl Price {
    /// The cost of one request with these token counts.
    pub fn cost(&self, input_tokens: u64, output_tokens: u64) -> f64 {
        (input_tokens as f64 * self.input_per_million
            + output_tokens as f64 * self.output_per_million)
            / 1e6
    }

    /// The cost of one request of which `cached` input tokens (at most `input_tokens`) were
    /// read from the provider's prompt cache.
    pub fn cost_cached(&self, input_tokens: u64, cached: u64, output_tokens: u64) -> f64 {
        let cached = cached.min(input_tokens);
        if cached == 0 {
            return self.cost(input_tokens, output_tokens);
        }
        ((input_tokens - cached) as f64 * self.input_per_million
            + cached as f64 * self.cached_input_per_million
            + output_tokens as f64 * self.output_per_million)
            / 1e6
    }
}

/// The API a deployment speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Api {
    /// OpenAI's (and every OpenAI-compatible server's: Azure, vLLM, Groq, Gemini's
    /// OpenAI-compatible endpoint…): `{base_url}/chat/completions`, `/responses`, ….
    #[default]
    OpenAi,
    /// Anthropic's Messages API: `{base_url}/v1/messages`, `x-api-key`, `anthropic-version`.
    Anthropic,
}

impl Api {
    /// The name used in config files.
    pub fn name(self) -> &'static str {
        match self {
            Api::OpenAi => "openai",
            Api::Anthropic => "anthropic",
        }
    }
}

/// `anthropic-version` sent when a deployment names none.
pub const DEFAULT_ANTHROPIC_VERSION: &str = "2023-06-01";

/// Where and how the gateway reaches a deployment; the engine itself ignores it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Endpoint {
    /// The API the deployment speaks.
    pub api: Api,
    /// `anthropic-version` header (Anthropic deployments).
    pub anthropic_version: Option<String>,
    /// `anthropic-beta` header (Anthropic deployments), if any.
    pub anthropic_beta: Option<String>,
    /// OpenAI-compatible base URL, e.g. `https://api.openai.com/v1`.
    pub base_url: Option<String>,
    /// Name of the environment variable holding the API key (never the key itself).
    pub api_key_env: Option<String>,
    /// Header that carries the key: `Authorization: Bearer <key>` by default; another name
    /// (e.g. Azure's `api-key`) carries the bare key.
    pub api_key_header: Option<String>,
    /// Model name sent upstream; defaults to the deployment's `model`.
    pub upstream_model: Option<String>,
    /// Time allowed to open the connection.
    pub connect_timeout: Option<Duration>,
    /// Time allowed until the first response byte.
    pub first_byte_timeout: Option<Duration>,
    /// Time allowed for the whole attempt.
    pub total_timeout: Option<Duration>,
}

/// One provider × model × API key that can serve requests.
#[derive(Debug, Clone, PartialEq)]
pub struct Deployment {
    /// Unique id, used in metrics, reports and traces.
    pub id: String,
    /// Provider name, e.g. `openai`.
    pub provider: String,
    /// Model name at the provider.
    pub model: String,
    /// Label of the API key (never the key).
    pub key: String,
    /// The tier this deployment serves.
    pub tier: TierId,
    /// Relative share of traffic within the tier, for weight-aware strategies.
    pub weight: f64,
    /// Configured rate limits.
    pub limits: Limits,
    /// Token prices.
    pub price: Price,
    /// Gateway-only connection settings.
    pub endpoint: Endpoint,
}

/// A set of interchangeable deployments, how to balance them and where to spill.
#[derive(Debug, Clone, PartialEq)]
pub struct Tier {
    /// Unique tier name; also routable as a model name.
    pub name: String,
    /// The balancing strategy used inside this tier.
    pub strategy: StrategyKind,
    /// Tiers tried in order once this one has nothing usable left.
    pub fallback: Vec<TierId>,
    /// Where a request goes when a deployment of this tier says its input exceeds the model's
    /// context window: a tier of longer-context models. `None`: such a request fails as the
    /// client error it is.
    pub context_fallback: Option<TierId>,
    /// The deployments of this tier, in file order.
    pub deployments: Vec<DeploymentId>,
    /// Latency objectives (`max_ttft`, `max_latency`), kept by `cost-aware`.
    pub objectives: objectives::Objectives,
    /// Hedged requests (`hedge`), if on.
    pub hedge: Option<objectives::Hedge>,
}

/// Retry policy: how many attempts, how long between them, which failures are worth it.
#[derive(Debug, Clone, PartialEq)]
pub struct RetryPolicy {
    /// Attempts per request including the first (1 = no retries).
    pub max_attempts: usize,
    /// Backoff before re-sending to a deployment this request already tried: base·2ⁿ⁻¹ …
    pub backoff_base: Duration,
    /// … capped here …
    pub backoff_max: Duration,
    /// … times a uniform factor in [1 − jitter, 1 + jitter].
    pub jitter: f64,
    /// Failure kinds that are retried; client errors never are.
    pub retry_on: [bool; FailureKind::COUNT],
    /// Longest a request may spend in total waiting for headroom, cooldowns or backoff before
    /// failing; the attempts' own time does not count.
    pub max_wait: Duration,
    /// End-to-end bound on a request (attempts, backoffs and waits together) before it fails
    /// with [`crate::FailReason::Deadline`]; `None`: no bound beyond the other limits.
    pub deadline: Option<Duration>,
}

/// Health policy: cooldowns after 429 and the circuit breaker.
#[derive(Debug, Clone, PartialEq)]
pub struct HealthPolicy {
    /// Cooldown after a 429 that carried no retry-after.
    pub cooldown: Duration,
    /// Upper bound on any cooldown, however long the retry-after.
    pub max_cooldown: Duration,
    /// Consecutive server errors, timeouts or connection errors that open the breaker.
    pub failure_threshold: u32,
    /// How long the breaker stays open the first time; doubles on each re-open.
    pub open_for: Duration,
    /// Upper bound on the open time.
    pub max_open_for: Duration,
    /// Time constant of the decaying error rate.
    pub error_window: Duration,
}

/// Time constants of the latency estimators.
#[derive(Debug, Clone, PartialEq)]
pub struct BalancingParams {
    /// Time constant of the latency EWMA, and of its decay while a deployment is idle.
    pub latency_decay: Duration,
    /// Latency charged to the estimate for a failed attempt (at least its elapsed time).
    pub failure_penalty: Duration,
    /// Latency assumed for a deployment that has never answered.
    pub default_latency: Duration,
    /// k in e^(−k·error rate), how hard error-aware strategies shrink a failing deployment's share.
    pub error_sensitivity: f64,
    /// c in `adaptive`'s score ÷ price^c: how much a cheaper deployment is preferred (0 = not).
    pub cost_factor: f64,
}

/// A route rule: a requested model name (exact, or a prefix ending in `*`) and its tier.
#[derive(Debug, Clone, PartialEq)]
pub struct Route {
    /// The pattern as written.
    pub pattern: String,
    /// The tier that serves it.
    pub tier: TierId,
}

/// The checked config.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// Every deployment, indexed by [`DeploymentId`].
    pub deployments: Vec<Deployment>,
    /// Every tier, indexed by [`TierId`].
    pub tiers: Vec<Tier>,
    /// Route rules in file order; the first match wins.
    pub routes: Vec<Route>,
    /// Retry policy.
    pub retry: RetryPolicy,
    /// Health policy.
    pub health: HealthPolicy,
    /// Estimator time constants.
    pub balancing: BalancingParams,
    /// Clients with their own keys, tiers and limits (`[[client]]`), indexed by
    /// [`crate::ClientId`].
    pub clients: Vec<clients::Client>,
    /// `[cluster]`: replicas sharing limits through a store; `None`: this process alone.
    pub cluster: Option<cluster::Cluster>,
    /// Session affinity (`[affinity]`).
    pub affinity: affinity::Affinity,
    exact_routes: HashMap<String, TierId>,
}

impl Config {
    /// Parses and validates a TOML gateway config.
    pub fn from_toml(text: &str) -> Result<Config, ConfigError> {
        let raw: RawConfig = toml::from_str(text)
            .map_err(|e| ConfigError::from_toml_in(e, text).with_scenario_hint())?;
        Config::from_raw(raw)
    }

    /// Validates a parsed config into the checked model.
    pub fn from_raw(raw: RawConfig) -> Result<Config, ConfigError> {
        Validator.run(raw)
    }

    /// The tier serving a requested model name: exact routes, then prefix routes in file order,
    /// then a tier of that name.
    pub fn route(&self, model: &str) -> Option<TierId> {
        if let Some(tier) = self.exact_routes.get(model) {
            return Some(*tier);
        }
        self.routes
            .iter()
            .find(|r| {
                r.pattern
                    .strip_suffix('*')
                    .is_some_and(|prefix| model.starts_with(prefix))
            })
            .map(|r| r.tier)
            .or_else(|| self.tier_by_name(model))
    }

    /// The tier with this name.
    pub fn tier_by_name(&self, name: &str) -> Option<TierId> {
        self.tiers
            .iter()
            .position(|t| t.name == name)
            .map(TierId::from_index)
    }

    /// The deployment with this id.
    pub fn deployment_by_id(&self, id: &str) -> Option<DeploymentId> {
        self.deployments
            .iter()
            .position(|d| d.id == id)
            .map(DeploymentId::from_index)
    }

    /// The client with this name.
    pub fn client_by_name(&self, name: &str) -> Option<crate::ClientId> {
        self.clients
            .iter()
            .position(|c| c.name == name)
            .map(crate::ClientId::from_index)
    }

    /// The deployment behind an id.
    pub fn deployment(&self, id: DeploymentId) -> &Deployment {
        &self.deployments[id.index()]
    }

    /// The tier behind an id.
    pub fn tier(&self, id: TierId) -> &Tier {
        &self.tiers[id.index()]
    }

    /// The strategies in use, for reports: one name, or `tier=strategy` pairs when tiers differ.
    pub fn strategy_label(&self) -> String {
        let first = self.tiers[0].strategy;
        if self.tiers.iter().all(|t| t.strategy == first) {
            return first.name().to_owned();
        }
        let pairs: Vec<String> = self
            .tiers
            .iter()
            .map(|t| format!("{}={}", t.name, t.strategy))
            .collect();
        pairs.join(" ")
    }

    /// The same config with every tier's strategy replaced, as `compare` does per run.
    pub fn with_strategy(&self, strategy: StrategyKind) -> Config {
        let mut config = self.clone();
        for tier in &mut config.tiers {
            tier.strategy = strategy;
        }
        config
    }
}

/// Where a validation error points: a table's byte span in the file.
type Span = Option<Range<usize>>;

fn invalid(field: String, value: impl fmt::Display, expected: &str, span: Span) -> ConfigError {
    ConfigError::Invalid {
        field,
        value: value.to_string(),
        expected: expected.to_owned(),
        span,
    }
}

/// Largest deployment weight: keeps sums of weights and stride arithmetic exact.
pub const MAX_WEIGHT: f64 = 1e6;
/// Largest price per million tokens.
pub const MAX_PRICE: f64 = 1e6;
/// Largest rate limit (requests or tokens per window): exact as an `f64`, far above any
/// provider's.
pub const MAX_LIMIT: i64 = 1_000_000_000_000;

fn limit(field: String, value: Option<i64>, span: &Span) -> Result<Option<u64>, ConfigError> {
    match value {
        None => Ok(None),
        Some(v) if (1..=MAX_LIMIT).contains(&v) => Ok(Some(v as u64)),
        Some(v) => Err(invalid(
            field,
            v,
            "an integer from 1 to 10^12 (omit it for no limit)",
            span.clone(),
        )),
    }
}

fn nonzero(d: Duration, field: &str) -> Result<Duration, ConfigError> {
    if d.is_zero() {
        Err(invalid(field.to_owned(), "0s", "a duration > 0", None))
    } else {
        Ok(d)
    }
}

#[cfg(test)]
mod tests;
