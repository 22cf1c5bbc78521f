//! Fitting provider models from a recorded per-attempt trace (the gateway's `--trace-out` or
//! `simulate --trace-out`): per deployment, log-normal time to first token and per-output-token
//! time (maximum likelihood on log values of streamed successes, corrected for the attempts a
//! timeout cut off; jointly on whole latency from non-streamed successes), 5xx rate and the
//! timeouts the latency tail does not explain, per attempt that reached the provider, and the
//! true rate limits (recorded `x-ratelimit-limit-*` headers, else what was admitted in minutes
//! with 429s); for the workload, a Poisson arrival rate, token-count percentiles, the stream
//! share and the model mix; the trace's tiers and routes (or, with [`FitOptions::config`], the
//! gateway's config as it is). [`Fit::to_toml`] writes a scenario a user can `simulate`
//! directly; [`Fit::goodness`] compares fitted and observed quantiles.
//!
//! The trace is read once, streaming; memory grows with deployments, models and minutes of
//! trace, not with rows.

pub mod config;
mod deployment;
mod estimate;
mod from_trace;
mod goodness;
pub mod incidents;
pub mod latency;
pub mod limits;
mod mix;
pub mod reader;
pub mod row;
pub mod stats;
mod tally;
mod tokens;
mod toml_out;
mod topology;

use std::time::Duration;

use crate::replay::{RowError, TraceError};

pub use config::GatewayConfig;
pub use deployment::{LatencySource, MIN_SAMPLES};
pub use from_trace::fit_trace;
pub use goodness::{goodness_table, limits_table, rates_table, Goodness};
pub use limits::{FittedLimits, LimitSource};
pub use mix::MixEntry;
pub use stats::LogNormalFit;
pub use topology::TierFit;

/// Why a trace cannot be fitted.
#[derive(Debug, thiserror::Error)]
pub enum FitError {
    /// The file could not be read.
    #[error("cannot read {file}: {cause}")]
    Io {
        /// The trace file.
        file: String,
        /// The cause.
        cause: std::io::Error,
    },
    /// The header lacks the needed columns.
    #[error("{file}:1: {message}")]
    Header {
        /// The trace file.
        file: String,
        /// What is missing.
        message: String,
    },
    /// A malformed row (without `skip_bad_rows`).
    #[error(transparent)]
    Row(#[from] RowError),
    /// The `--config` file is not a gateway config.
    #[error("{file}: {message}")]
    Config {
        /// The config file.
        file: String,
        /// What is wrong.
        message: String,
    },
    /// Nothing to fit.
    #[error("{file}: {message}")]
    Insufficient {
        /// The trace file.
        file: String,
        /// What is missing.
        message: String,
    },
}

impl From<TraceError> for FitError {
    fn from(e: TraceError) -> Self {
        match e {
            TraceError::Io { file, cause, .. } => FitError::Io { file, cause },
            TraceError::Row(r) => FitError::Row(r),
            other => FitError::Insufficient {
                file: String::new(),
                message: other.to_string(),
            },
        }
    }
}

/// How to fit.
#[derive(Debug, Clone, Default)]
pub struct FitOptions {
    /// Skip malformed rows instead of stopping at the first.
    pub skip_bad_rows: bool,
    /// Scenario name (default: `fitted-<trace file stem>`).
    pub name: Option<String>,
    /// The gateway config the trace was recorded under: kept as it is in the fitted scenario.
    pub config: Option<GatewayConfig>,
}

/// The fitted model of one deployment.
#[derive(Debug, Clone)]
pub struct DeploymentFit {
    /// Deployment id.
    pub id: String,
    /// Its model: from the config if given, else the model most requests to it asked for (its
    /// id if the trace names no models).
    pub model: String,
    /// The tier most of its attempts were routed to, if the trace says.
    pub tier: Option<String>,
    /// Attempts.
    pub attempts: u64,
    /// Successes.
    pub successes: u64,
    /// Streamed successes.
    pub streamed: u64,
    /// Non-streamed successes.
    pub whole: u64,
    /// 429s.
    pub rate_limited: u64,
    /// 5xx.
    pub server_errors: u64,
    /// Timeouts.
    pub timeouts: u64,
    /// Timeouts its latency tail explains (censored latencies, not hangs).
    pub timeouts_explained: f64,
    /// Connection errors.
    pub connection_errors: u64,
    /// Other 4xx.
    pub client_errors: u64,
    /// Attempts cancelled in flight (censored).
    pub cancelled: u64,
    /// Where the latency model comes from.
    pub latency_source: LatencySource,
    /// Time to first token, seconds.
    pub ttft: LogNormalFit,
    /// Whether `ttft` was pooled over all deployments (this one had no successes).
    pub ttft_pooled: bool,
    /// Time per output token, seconds.
    pub per_token: LogNormalFit,
    /// Whether `per_token` was pooled over all deployments.
    pub per_token_pooled: bool,
    /// 5xx per attempt that reached the provider.
    pub error_rate: f64,
    /// Timeouts its latency tail does not explain (hangs) per attempt that reached the provider.
    pub timeout_rate: f64,
    /// 429s per attempt.
    pub rate_limited_share: f64,
    /// When its attempts time out (the gateway's first-byte timeout): the most frequent
    /// timed-out latency, else their median.
    pub timeout_after: Option<Duration>,
    /// The fitted true limits.
    pub limits: FittedLimits,
    /// Busiest minute: admitted attempts and their tokens.
    pub peak_minute: (u64, u64),
    /// Observed p50/p90/p99 time to first token of successes, ms.
    pub observed_ttft_ms: Option<[f64; 3]>,
    /// Observed p50/p90/p99 latency of successes, ms.
    pub observed_latency_ms: Option<[f64; 3]>,
    /// Kolmogorov–Smirnov distance of the fitted ttft to the streamed successes' ttft.
    pub ks_ttft: Option<f64>,
    /// Observed latency of successes, µs.
    pub observed_latency: hdrhistogram::Histogram<u64>,
    /// Share of all attempts.
    pub share: f64,
}

/// A fitted scenario.
#[derive(Debug, Clone)]
pub struct Fit {
    /// The trace file.
    pub file: String,
    /// Scenario name.
    pub name: String,
    /// Data rows read.
    pub rows: u64,
    /// Bad rows skipped.
    pub skipped: u64,
    /// The first few skipped rows.
    pub first_skipped: Vec<RowError>,
    /// Requests (first attempts and `refused` rows).
    pub requests: u64,
    /// Requests failed before any attempt (`refused` and `client_refused` rows).
    pub refused: u64,
    /// Of those, the ones their client's own limits refused (`client_refused` rows).
    pub client_refused: u64,
    /// Attempts.
    pub attempts: u64,
    /// Highest attempt number seen (the retry policy's `max_attempts`).
    pub max_attempt: u32,
    /// Seconds from the first request to the last.
    pub span_seconds: f64,
    /// Poisson arrival rate, requests per second.
    pub arrival_rate: f64,
    /// Input token percentiles (percent, tokens).
    pub input_tokens: Vec<(f64, u64)>,
    /// Output token percentiles of successes (percent, tokens).
    pub output_tokens: Vec<(f64, u64)>,
    /// Tiers for the fitted gateway config (the trace's, with fallbacks seen in it).
    pub tiers: Vec<TierFit>,
    /// Routes: requested model → tier.
    pub routes: Vec<(String, String)>,
    /// Requested models (per client, when the trace names clients) and their shares.
    pub mix: Vec<MixEntry>,
    /// Share of requests that streamed.
    pub stream_share: f64,
    /// The clients' `max_tokens`, when the failed attempts' recorded estimates show one.
    pub max_tokens: Option<u32>,
    /// The gateway config given with `--config`.
    pub config: Option<GatewayConfig>,
    /// What the user should know (too few samples, config and trace disagreeing).
    pub warnings: Vec<String>,
    /// Per deployment, in order of first appearance.
    pub deployments: Vec<DeploymentFit>,
    /// When attempts time out, from the deployment with the most timeouts.
    pub timeout_after: Option<Duration>,
    /// Outages seen in the trace (written as `[[world.incident]]`).
    pub outages: Vec<incidents::FittedOutage>,
}
