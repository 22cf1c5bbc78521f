//! Fitting provider models from a recorded per-attempt trace (the gateway's `--trace-out` or
//! `simulate --trace-out`): per deployment, log-normal time to first token and per-output-token
//! time (maximum likelihood on log values: μ = mean ln x, σ = sd ln x), 5xx and timeout rates
//! per attempt that reached the provider, and the observed 429 share; for the workload, a
//! Poisson arrival rate, token-count percentiles and the model mix. [`Fit::to_toml`] writes a
//! scenario a user can `simulate` directly; [`Fit::goodness`] compares fitted and observed
//! quantiles.
//!
//! The trace is read once, streaming; memory grows with deployments, models and minutes of
//! trace, not with rows.

mod estimate;
mod goodness;
pub mod reader;
pub mod stats;
mod toml_out;

use std::path::Path;
use std::time::Duration;

use crate::dist::{DistSpec, Value};
use crate::replay::{RowError, TraceError};

pub use goodness::{goodness_table, rates_table, Goodness};
pub use stats::LogNormalFit;

use estimate::{DeploymentAcc, TraceTally};
use reader::AttemptReader;
use stats::quantiles;

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
}

/// The fitted model of one deployment.
#[derive(Debug, Clone)]
pub struct DeploymentFit {
    /// Deployment id.
    pub id: String,
    /// The model most requests to it asked for (its id if the trace names no models).
    pub model: String,
    /// Attempts.
    pub attempts: u64,
    /// Successes.
    pub successes: u64,
    /// 429s.
    pub rate_limited: u64,
    /// 5xx.
    pub server_errors: u64,
    /// Timeouts.
    pub timeouts: u64,
    /// Connection errors.
    pub connection_errors: u64,
    /// Other 4xx.
    pub client_errors: u64,
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
    /// Timeouts per attempt that reached the provider.
    pub timeout_rate: f64,
    /// 429s per attempt.
    pub rate_limited_share: f64,
    /// When its attempts time out (the gateway's first-byte timeout): the most frequent
    /// timed-out latency, else their median.
    pub timeout_after: Option<Duration>,
    /// Busiest minute: admitted attempts and their tokens.
    pub peak_minute: (u64, u64),
    /// Observed p50/p90/p99 time to first token of successes, ms.
    pub observed_ttft_ms: Option<[f64; 3]>,
    /// Observed p50/p90/p99 latency of successes, ms.
    pub observed_latency_ms: Option<[f64; 3]>,
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
    /// Requests (first attempts).
    pub requests: u64,
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
    /// Tier name for the fitted gateway config.
    pub tier: String,
    /// Requested models and their shares.
    pub mix: Vec<(String, f64)>,
    /// Per deployment, in order of first appearance.
    pub deployments: Vec<DeploymentFit>,
    /// When attempts time out, from the deployment with the most timeouts.
    pub timeout_after: Option<Duration>,
}

/// Percentiles written for token distributions.
const TOKEN_PERCENTILES: [f64; 34] = [
    0.0, 1.0, 2.0, 5.0, 10.0, 15.0, 20.0, 25.0, 30.0, 35.0, 40.0, 45.0, 50.0, 55.0, 60.0, 65.0,
    70.0, 75.0, 80.0, 85.0, 90.0, 95.0, 96.0, 97.0, 98.0, 99.0, 99.5, 99.8, 99.9, 99.95, 99.99,
    99.995, 99.999, 100.0,
];

/// Most models listed in the fitted mix.
const MAX_MODELS: usize = 32;

/// Reads the trace at `path` and fits it.
pub fn fit_trace(path: &Path, options: &FitOptions) -> Result<Fit, FitError> {
    let file = path.display().to_string();
    let mut reader = AttemptReader::open(path, options.skip_bad_rows)?;
    let has_model = reader.has_model();
    let mut tally = TraceTally::default();
    while let Some(a) = reader.next_attempt()? {
        tally.add(&a);
    }
    let insufficient = |message: &str| FitError::Insufficient {
        file: file.clone(),
        message: message.to_owned(),
    };
    if tally.requests == 0 {
        return Err(insufficient(
            "no requests to fit (no rows, or no first attempts)",
        ));
    }
    let (pooled_ttft, pooled_per_token) = tally.pooled();
    let (Some(pooled_ttft), Some(pooled_per_token)) = (pooled_ttft.fit(), pooled_per_token.fit())
    else {
        return Err(insufficient(
            "no successful attempt with a time to first token and output tokens: nothing to fit latency on",
        ));
    };
    // The timeout of the deployment with the most timeouts, for those without any.
    let timeout_after = tally
        .deployments
        .iter()
        .filter(|d| d.timeout > 0)
        .max_by_key(|d| d.timeout)
        .and_then(|d| d.timeout_after());
    let deployments = tally
        .deployments
        .iter()
        .map(|d| deployment_fit(d, tally.attempts, pooled_ttft, pooled_per_token, has_model))
        .collect();
    let span = tally.span_seconds();
    let arrival_rate = if tally.requests > 1 && span > 0.0 {
        (tally.requests - 1) as f64 / span
    } else {
        tally.requests as f64
    };
    let tier = tally
        .tiers
        .iter()
        .max_by(|a, b| a.1.cmp(b.1).then_with(|| b.0.cmp(a.0)))
        .map_or_else(|| "fitted".to_owned(), |(t, _)| t.clone());
    let mut mix: Vec<(String, u64)> = tally.models.iter().map(|(m, n)| (m.clone(), *n)).collect();
    mix.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    mix.truncate(MAX_MODELS);
    let total: u64 = mix.iter().map(|m| m.1).sum();
    let mix = mix
        .into_iter()
        .map(|(m, n)| (m, n as f64 / total.max(1) as f64))
        .collect();
    let stem = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let stem = stem.strip_suffix(".gz").unwrap_or(&stem);
    let stem = stem.strip_suffix(".csv").unwrap_or(stem);
    Ok(Fit {
        file,
        name: options
            .name
            .clone()
            .unwrap_or_else(|| format!("fitted-{stem}")),
        rows: reader.rows,
        skipped: reader.skipped,
        first_skipped: reader.first_skipped.clone(),
        requests: tally.requests,
        attempts: tally.attempts,
        max_attempt: tally.max_attempt,
        span_seconds: span,
        arrival_rate,
        input_tokens: token_percentiles(&tally.input_tokens),
        output_tokens: token_percentiles(&tally.output_tokens),
        tier,
        mix,
        deployments,
        timeout_after,
    })
}

fn deployment_fit(
    d: &DeploymentAcc,
    all_attempts: u64,
    pooled_ttft: LogNormalFit,
    pooled_per_token: LogNormalFit,
    has_model: bool,
) -> DeploymentFit {
    let rate = |n: u64, of: u64| if of > 0 { n as f64 / of as f64 } else { 0.0 };
    let served = d.served();
    let ttft = d.ttft.fit();
    let per_token = d.per_token.fit();
    DeploymentFit {
        id: d.id.clone(),
        model: match d.model() {
            Some(m) if has_model => m.to_owned(),
            _ => d.id.clone(),
        },
        attempts: d.attempts,
        successes: d.ok,
        rate_limited: d.rate_limited,
        server_errors: d.server,
        timeouts: d.timeout,
        connection_errors: d.connection,
        client_errors: d.client,
        ttft_pooled: ttft.is_none(),
        ttft: ttft.unwrap_or(pooled_ttft),
        per_token_pooled: per_token.is_none(),
        per_token: per_token.unwrap_or(pooled_per_token),
        error_rate: rate(d.server, served),
        timeout_rate: rate(d.timeout, served),
        rate_limited_share: rate(d.rate_limited, d.attempts),
        timeout_after: d.timeout_after(),
        peak_minute: d.peak_minute(),
        observed_ttft_ms: quantiles(&d.ttft_hist).map(|q| q.map(|us| us / 1000.0)),
        observed_latency_ms: quantiles(&d.latency_hist).map(|q| q.map(|us| us / 1000.0)),
        share: rate(d.attempts, all_attempts),
    }
}

fn token_percentiles(h: &hdrhistogram::Histogram<u64>) -> Vec<(f64, u64)> {
    if h.is_empty() {
        return vec![(50.0, 1)];
    }
    TOKEN_PERCENTILES
        .iter()
        .map(|&p| {
            let v = match p {
                0.0 => h.min(),
                100.0 => h.max(),
                _ => h.value_at_quantile(p / 100.0),
            };
            (p, v)
        })
        .collect()
}

impl Fit {
    /// The fitted output-token distribution, as the scenario states it.
    pub fn output_tokens_spec(&self) -> DistSpec {
        percentiles_spec(&self.output_tokens)
    }

    /// The fitted input-token distribution, as the scenario states it.
    pub fn input_tokens_spec(&self) -> DistSpec {
        percentiles_spec(&self.input_tokens)
    }
}

fn percentiles_spec(points: &[(f64, u64)]) -> DistSpec {
    DistSpec::Percentiles(
        points
            .iter()
            .map(|(p, v)| (format!("p{p}"), Value::Number(*v as f64)))
            .collect(),
    )
}
