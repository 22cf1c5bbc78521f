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

use std::collections::HashMap;
use std::fmt;
use std::ops::Range;
use std::time::Duration;

use crate::error::ConfigError;
use crate::ids::{DeploymentId, TierId};
use crate::outcome::FailureKind;
use crate::strategy::StrategyKind;
use raw::RawConfig;

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
        let raw: RawConfig =
            toml::from_str(text).map_err(|e| ConfigError::from_toml_in(e, text))?;
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

#[derive(Default)]
struct Validator;

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

impl Validator {
    fn run(self, raw: RawConfig) -> Result<Config, ConfigError> {
        let tiers = Self::tiers(&raw)?;
        let tier_index: HashMap<String, TierId> = tiers
            .iter()
            .enumerate()
            .map(|(i, t)| (t.name.clone(), TierId::from_index(i)))
            .collect();
        let mut tiers = tiers;
        let deployments = Self::deployments(&raw, &tier_index, &mut tiers)?;
        Self::fallbacks(&raw, &tier_index, &mut tiers)?;
        Self::check_acyclic(&tiers, &raw)?;
        let routes = Self::routes(&raw, &tier_index)?;
        let clients = clients::clients(&raw, &tier_index)?;
        let cluster = cluster::cluster(&raw)?;
        let exact_routes = routes
            .iter()
            .filter(|r| !r.pattern.ends_with('*'))
            .map(|r| (r.pattern.clone(), r.tier))
            .collect();
        Ok(Config {
            deployments,
            tiers,
            routes,
            retry: Self::retry(&raw)?,
            health: Self::health(&raw)?,
            balancing: BalancingParams {
                latency_decay: nonzero(raw.balancing.latency_decay, "balancing.latency_decay")?,
                failure_penalty: raw.balancing.failure_penalty,
                default_latency: raw.balancing.default_latency,
                error_sensitivity: Self::sensitivity(&raw)?,
                cost_factor: objectives::cost_factor(&raw)?,
            },
            clients,
            cluster,
            affinity: affinity::affinity(&raw.affinity)?,
            exact_routes,
        })
    }

    fn tiers(raw: &RawConfig) -> Result<Vec<Tier>, ConfigError> {
        let mut tiers: Vec<Tier> = Vec::with_capacity(raw.tiers.len());
        for (i, spanned) in raw.tiers.iter().enumerate() {
            let span = Some(spanned.span());
            let t = spanned.get_ref();
            if t.name.trim().is_empty() {
                return Err(invalid(
                    format!("tier[{i}].name"),
                    "\"\"",
                    "a non-empty name",
                    span,
                ));
            }
            if tiers.iter().any(|other| other.name == t.name) {
                return Err(invalid(
                    format!("tier[{i}].name"),
                    format!("{:?}", t.name),
                    "a tier name used once",
                    span,
                ));
            }
            let strategy: StrategyKind = t.strategy.parse().map_err(|_| {
                invalid(
                    format!("tier[{i}].strategy"),
                    format!("{:?}", t.strategy),
                    StrategyKind::EXPECTED,
                    span.clone(),
                )
            })?;
            tiers.push(Tier {
                name: t.name.clone(),
                strategy,
                fallback: Vec::new(),
                context_fallback: None,
                deployments: Vec::new(),
                objectives: objectives::objectives(i, t, &span)?,
                hedge: objectives::hedge(i, t, &span)?,
            });
        }
        Ok(tiers)
    }

    fn deployments(
        raw: &RawConfig,
        tier_index: &HashMap<String, TierId>,
        tiers: &mut [Tier],
    ) -> Result<Vec<Deployment>, ConfigError> {
        if raw.deployments.is_empty() {
            return Err(invalid(
                "deployment".into(),
                "none",
                "at least one [[deployment]]",
                None,
            ));
        }
        let mut out: Vec<Deployment> = Vec::with_capacity(raw.deployments.len());
        for (i, spanned) in raw.deployments.iter().enumerate() {
            let span: Span = Some(spanned.span());
            let d = spanned.get_ref();
            let field = |name: &str| format!("deployment[{i}].{name}");
            if d.id.trim().is_empty() {
                return Err(invalid(field("id"), "\"\"", "a non-empty id", span));
            }
            if out.iter().any(|o| o.id == d.id) {
                return Err(invalid(
                    field("id"),
                    format!("{:?}", d.id),
                    "an id used once",
                    span,
                ));
            }
            let tier = *tier_index.get(d.tier.as_str()).ok_or_else(|| {
                invalid(
                    field("tier"),
                    format!("{:?}", d.tier),
                    "the name of a [[tier]]",
                    span.clone(),
                )
            })?;
            if !(0.0..=MAX_WEIGHT).contains(&d.weight) {
                return Err(invalid(
                    field("weight"),
                    d.weight,
                    "a number from 0 to 1000000",
                    span,
                ));
            }
            for (name, price) in [
                ("input_price", d.input_price),
                ("output_price", d.output_price),
                (
                    "cached_input_price",
                    d.cached_input_price.unwrap_or(d.input_price),
                ),
            ] {
                if !(0.0..=MAX_PRICE).contains(&price) {
                    return Err(invalid(
                        field(name),
                        price,
                        "a price per million tokens from 0 to 1000000",
                        span,
                    ));
                }
            }
            for (name, timeout) in [
                ("connect_timeout", d.connect_timeout),
                ("first_byte_timeout", d.first_byte_timeout),
                ("total_timeout", d.total_timeout),
            ] {
                if timeout.is_some_and(|t| t.is_zero()) {
                    return Err(invalid(
                        field(name),
                        "0s",
                        "a duration > 0 (omit it for the default)",
                        span,
                    ));
                }
            }
            let limits = Limits {
                rpm: limit(field("rpm"), d.rpm, &span)?,
                tpm: limit(field("tpm"), d.tpm, &span)?,
                rpd: limit(field("rpd"), d.rpd, &span)?,
            };
            let id = DeploymentId::from_index(out.len());
            tiers[tier.index()].deployments.push(id);
            out.push(Deployment {
                id: d.id.clone(),
                provider: d.provider.clone(),
                model: d.model.clone(),
                key: d.key.clone().unwrap_or_else(|| "default".to_owned()),
                tier,
                weight: d.weight,
                limits,
                price: Price {
                    input_per_million: d.input_price,
                    output_per_million: d.output_price,
                    cached_input_per_million: d.cached_input_price.unwrap_or(d.input_price),
                },
                endpoint: Endpoint {
                    api: match d.api.as_deref() {
                        None | Some("openai") => Api::OpenAi,
                        Some("anthropic") => Api::Anthropic,
                        Some(other) => {
                            return Err(invalid(
                                field("api"),
                                format!("{other:?}"),
                                "\"openai\" (the default) or \"anthropic\"",
                                span,
                            ))
                        }
                    },
                    anthropic_version: d.anthropic_version.clone(),
                    anthropic_beta: d.anthropic_beta.clone(),
                    base_url: d.base_url.clone(),
                    api_key_env: d.api_key_env.clone(),
                    api_key_header: d.api_key_header.clone(),
                    upstream_model: d.upstream_model.clone(),
                    connect_timeout: d.connect_timeout,
                    first_byte_timeout: d.first_byte_timeout,
                    total_timeout: d.total_timeout,
                },
            });
        }
        for (i, tier) in tiers.iter().enumerate() {
            let span = Some(raw.tiers[i].span());
            if tier.deployments.is_empty() {
                return Err(invalid(
                    format!("tier[{i}]"),
                    format!("{:?}", tier.name),
                    "a tier that at least one [[deployment]] names",
                    span,
                ));
            }
            if tier
                .deployments
                .iter()
                .all(|d| out[d.index()].weight == 0.0)
            {
                return Err(invalid(
                    format!("tier[{i}] deployments' weight"),
                    "0 for all",
                    "at least one deployment with weight > 0",
                    span,
                ));
            }
        }
        Ok(out)
    }

    fn fallbacks(
        raw: &RawConfig,
        tier_index: &HashMap<String, TierId>,
        tiers: &mut [Tier],
    ) -> Result<(), ConfigError> {
        for (i, spanned) in raw.tiers.iter().enumerate() {
            let span = Some(spanned.span());
            for (j, name) in spanned.get_ref().fallback.iter().enumerate() {
                let target = *tier_index.get(name.as_str()).ok_or_else(|| {
                    invalid(
                        format!("tier[{i}].fallback[{j}]"),
                        format!("{name:?}"),
                        "the name of a [[tier]]",
                        span.clone(),
                    )
                })?;
                if tiers[i].fallback.contains(&target) {
                    return Err(invalid(
                        format!("tier[{i}].fallback[{j}]"),
                        format!("{name:?}"),
                        "each fallback tier listed once",
                        span,
                    ));
                }
                tiers[i].fallback.push(target);
            }
            if let Some(name) = &spanned.get_ref().context_fallback {
                let field = format!("tier[{i}].context_fallback");
                let target = *tier_index.get(name.as_str()).ok_or_else(|| {
                    invalid(
                        field.clone(),
                        format!("{name:?}"),
                        "the name of a [[tier]]",
                        span.clone(),
                    )
                })?;
                if target.index() == i {
                    return Err(invalid(
                        field,
                        format!("{name:?}"),
                        "another tier (one whose models take longer inputs)",
                        span,
                    ));
                }
                tiers[i].context_fallback = Some(target);
            }
        }
        Self::check_context_chains(raw, tiers)
    }

    /// Rejects context fallbacks that come back round (a → b → a): a request too long for `a`
    /// would never reach a tier that takes it.
    fn check_context_chains(raw: &RawConfig, tiers: &[Tier]) -> Result<(), ConfigError> {
        for start in 0..tiers.len() {
            let mut path = vec![start];
            let mut at = start;
            while let Some(next) = tiers[at].context_fallback {
                at = next.index();
                path.push(at);
                if at == start {
                    let names: Vec<&str> = path.iter().map(|&t| tiers[t].name.as_str()).collect();
                    return Err(invalid(
                        format!("tier[{start}].context_fallback"),
                        names.join(" → "),
                        "context fallbacks without a cycle",
                        Some(raw.tiers[start].span()),
                    ));
                }
                if path.len() > tiers.len() {
                    break; // a cycle that does not pass through `start`: reported from its own tiers
                }
            }
        }
        Ok(())
    }

    /// Rejects fallback cycles (a → b → a), which would bounce a request between tiers, counting
    /// context fallbacks as edges too: a request moved to a longer-context tier must never come
    /// back to a tier that already said its input is too long.
    fn check_acyclic(tiers: &[Tier], raw: &RawConfig) -> Result<(), ConfigError> {
        #[derive(Clone, Copy, PartialEq)]
        enum Mark {
            New,
            Active,
            Done,
        }
        fn visit(
            t: usize,
            tiers: &[Tier],
            marks: &mut [Mark],
            path: &mut Vec<usize>,
        ) -> Option<Vec<usize>> {
            match marks[t] {
                Mark::Done => return None,
                Mark::Active => {
                    let start = path.iter().position(|&p| p == t).unwrap_or(0);
                    let mut cycle = path[start..].to_vec();
                    cycle.push(t);
                    return Some(cycle);
                }
                Mark::New => {}
            }
            marks[t] = Mark::Active;
            path.push(t);
            for next in tiers[t].fallback.iter().chain(&tiers[t].context_fallback) {
                if let Some(cycle) = visit(next.index(), tiers, marks, path) {
                    return Some(cycle);
                }
            }
            path.pop();
            marks[t] = Mark::Done;
            None
        }
        let mut marks = vec![Mark::New; tiers.len()];
        for t in 0..tiers.len() {
            if let Some(cycle) = visit(t, tiers, &mut marks, &mut Vec::new()) {
                let names: Vec<&str> = cycle.iter().map(|&i| tiers[i].name.as_str()).collect();
                return Err(invalid(
                    format!("tier[{}].fallback", cycle[0]),
                    names.join(" → "),
                    "fallback and context_fallback tiers without a cycle",
                    Some(raw.tiers[cycle[0]].span()),
                ));
            }
        }
        Ok(())
    }

    fn routes(
        raw: &RawConfig,
        tier_index: &HashMap<String, TierId>,
    ) -> Result<Vec<Route>, ConfigError> {
        let mut routes: Vec<Route> = Vec::with_capacity(raw.routes.len());
        for (i, spanned) in raw.routes.iter().enumerate() {
            let span = Some(spanned.span());
            let r = spanned.get_ref();
            if r.model.is_empty() {
                return Err(invalid(
                    format!("route[{i}].model"),
                    "\"\"",
                    "a model name or a prefix ending in *",
                    span,
                ));
            }
            if routes.iter().any(|o| o.pattern == r.model) {
                return Err(invalid(
                    format!("route[{i}].model"),
                    format!("{:?}", r.model),
                    "a model pattern routed once",
                    span,
                ));
            }
            let tier = *tier_index.get(r.tier.as_str()).ok_or_else(|| {
                invalid(
                    format!("route[{i}].tier"),
                    format!("{:?}", r.tier),
                    "the name of a [[tier]]",
                    span.clone(),
                )
            })?;
            routes.push(Route {
                pattern: r.model.clone(),
                tier,
            });
        }
        Ok(routes)
    }

    fn retry(raw: &RawConfig) -> Result<RetryPolicy, ConfigError> {
        let r = &raw.retry;
        if !(1..=MAX_ATTEMPTS_LIMIT as i64).contains(&r.max_attempts) {
            return Err(invalid(
                "retry.max_attempts".into(),
                r.max_attempts,
                "an integer from 1 to 16",
                None,
            ));
        }
        if !(0.0..=1.0).contains(&r.jitter) {
            return Err(invalid(
                "retry.jitter".into(),
                r.jitter,
                "a fraction from 0 to 1",
                None,
            ));
        }
        if r.backoff_max < r.backoff_base {
            return Err(invalid(
                "retry.backoff_max".into(),
                humantime::format_duration(r.backoff_max),
                "at least retry.backoff_base",
                None,
            ));
        }
        let mut retry_on = [false; FailureKind::COUNT];
        for (j, name) in r.retry_on.iter().enumerate() {
            let kind: FailureKind = name.parse().map_err(|_| {
                invalid(
                    format!("retry.retry_on[{j}]"),
                    format!("{name:?}"),
                    FailureKind::RETRYABLE_EXPECTED,
                    None,
                )
            })?;
            if matches!(
                kind,
                FailureKind::Client | FailureKind::ContextLength | FailureKind::Auth
            ) {
                return Err(invalid(
                    format!("retry.retry_on[{j}]"),
                    format!("{name:?}"),
                    "a retryable kind (client errors are never retried; context-length errors \
                     move to the tier's context_fallback; refused keys are always retried \
                     elsewhere)",
                    None,
                ));
            }
            retry_on[kind as usize] = true;
        }
        if r.deadline.is_some_and(|d| d.is_zero()) {
            return Err(invalid(
                "retry.deadline".into(),
                "0s",
                "a duration > 0 (omit it for no deadline)",
                None,
            ));
        }
        Ok(RetryPolicy {
            max_attempts: r.max_attempts as usize,
            backoff_base: r.backoff_base,
            backoff_max: r.backoff_max,
            jitter: r.jitter,
            retry_on,
            max_wait: r.max_wait,
            deadline: r.deadline,
        })
    }

    fn sensitivity(raw: &RawConfig) -> Result<f64, ConfigError> {
        let k = raw.balancing.error_sensitivity;
        if (0.0..=10_000.0).contains(&k) {
            Ok(k)
        } else {
            Err(invalid(
                "balancing.error_sensitivity".into(),
                k,
                "a number from 0 to 10000",
                None,
            ))
        }
    }

    fn health(raw: &RawConfig) -> Result<HealthPolicy, ConfigError> {
        let h = &raw.health;
        if !(1..=1_000_000).contains(&h.failure_threshold) {
            return Err(invalid(
                "health.failure_threshold".into(),
                h.failure_threshold,
                "an integer from 1 to 1000000",
                None,
            ));
        }
        Ok(HealthPolicy {
            cooldown: h.cooldown,
            max_cooldown: h.max_cooldown.max(h.cooldown),
            failure_threshold: h.failure_threshold as u32,
            open_for: h.open_for,
            max_open_for: h.max_open_for.max(h.open_for),
            error_window: nonzero(h.error_window, "health.error_window")?,
        })
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
