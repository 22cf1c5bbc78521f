//! One deployment's fitted model from its accumulated rows: latency from streamed rows (time to
//! first token and per-token time) or, when it has too few, jointly from non-streamed rows
//! (whole latency); timeouts as censored latencies (the share its latency tail explains is not
//! counted as a made-up timeout rate); rates shrunk to the pooled ones and a warning when it
//! has too few samples.

use std::time::Duration;

use super::estimate::{DeploymentAcc, RESERVOIR};
use super::latency::{joint_from_whole, untruncated};
use super::limits::fit_limits;
use super::stats::{quantiles, trimmed_fit, LogNormalFit};
use super::tally::TraceTally;
use super::DeploymentFit;

/// Fewer successes than this and a deployment's latency is pooled over all deployments (with
/// a warning); fewer attempts that reached the provider and its rates are shrunk to the pooled.
pub const MIN_SAMPLES: u64 = 20;

/// Where a deployment's latency model comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LatencySource {
    /// Its streamed successes (ttft and per-token time measured directly).
    Streamed,
    /// Its non-streamed successes, ttft and per-token time fitted jointly on whole latency.
    Whole,
    /// Pooled over all deployments: too few successes of its own.
    Pooled,
}

impl LatencySource {
    /// How it is described in the fit's output.
    pub fn describe(self) -> &'static str {
        match self {
            LatencySource::Streamed => "streamed successes",
            LatencySource::Whole => "non-streamed successes (ttft and per-token fitted jointly)",
            LatencySource::Pooled => "pooled over all deployments (too few successes)",
        }
    }
}

/// What every deployment shares: pooled latency and rates, for those with too few samples.
#[derive(Debug, Clone, Copy)]
pub struct Pooled {
    /// Time to first token.
    pub ttft: LogNormalFit,
    /// Per-token time.
    pub per_token: LogNormalFit,
    /// 5xx per attempt that reached a provider.
    pub error_rate: f64,
    /// Timeouts per attempt that reached a provider.
    pub timeout_rate: f64,
}

/// The latency model of `d` alone, if it has enough samples: from streamed rows, corrected for
/// those cut off at `cut` seconds, else jointly from non-streamed rows.
pub fn own_latency(
    d: &DeploymentAcc,
    cut: Option<f64>,
) -> Option<(LogNormalFit, LogNormalFit, LatencySource)> {
    if d.streamed_ok >= MIN_SAMPLES {
        // Per-token time is (latency − ttft) ÷ output tokens: a stream that arrives in one burst
        // (a buffering proxy, a stalled reader) gives a near-zero value far out in the logs.
        let per_token = trimmed_fit(&d.per_token_hist, 1e-9).or_else(|| d.per_token.fit());
        let (ttft, per_token) = (d.ttft.fit()?, per_token?);
        let ttft = cut.map_or(ttft, |c| untruncated(ttft, c));
        return Some((ttft, per_token, LatencySource::Streamed));
    }
    if d.whole.len() as u64 >= MIN_SAMPLES {
        let (ttft, per_token) = joint_from_whole(&d.whole)?;
        return Some((ttft, per_token, LatencySource::Whole));
    }
    None
}

/// Fits `d`; `cut` is its attempt timeout (the censoring point), `warnings` collects what the
/// user should know.
pub fn deployment_fit(
    d: &DeploymentAcc,
    pooled: &Pooled,
    cut: Option<Duration>,
    model: String,
    warnings: &mut Vec<String>,
) -> DeploymentFit {
    let rate = |n: f64, of: f64| if of > 0.0 { n / of } else { 0.0 };
    let cut_s = cut.map(|c| c.as_secs_f64());
    let (ttft, per_token, source) = own_latency(d, cut_s).unwrap_or_else(|| {
        if d.ok > 0 || d.attempts > 0 {
            warnings.push(format!(
                "{}: only {} success(es) ({} streamed, {} not; at least {MIN_SAMPLES} needed): \
                 latency pooled over all deployments",
                d.id, d.ok, d.streamed_ok, d.whole_seen
            ));
        }
        (pooled.ttft, pooled.per_token, LatencySource::Pooled)
    });
    // Timeouts the latency tail explains: successes × S / (1 − S) at the cut.
    let natural = match cut_s {
        Some(c) => {
            let streamed = tail_ratio(ttft.survival(c)) * d.streamed_ok as f64;
            let whole = tail_ratio(whole_survival(d, ttft, per_token, c)) * d.whole_seen as f64;
            (streamed + whole).min(d.timeout as f64)
        }
        None => 0.0,
    };
    let served = d.served() as f64;
    let (mut error_rate, mut timeout_rate) = (
        rate(d.server as f64, served),
        rate(d.timeout as f64 - natural, served),
    );
    if d.served() < MIN_SAMPLES {
        // Shrink toward the pooled rates: one failure in two attempts is not a 50 % error rate.
        let k = MIN_SAMPLES as f64;
        error_rate = (d.server as f64 + k * pooled.error_rate) / (served + k);
        timeout_rate = ((d.timeout as f64 - natural) + k * pooled.timeout_rate) / (served + k);
        warnings.push(format!(
            "{}: only {} attempt(s) reached the provider (at least {MIN_SAMPLES} needed): error \
             and timeout rates shrunk toward the pooled {:.2}% / {:.2}%",
            d.id,
            d.served(),
            pooled.error_rate * 100.0,
            pooled.timeout_rate * 100.0
        ));
    }
    DeploymentFit {
        id: d.id.clone(),
        model,
        tier: d.home_tier().map(str::to_owned),
        attempts: d.attempts,
        successes: d.ok,
        streamed: d.streamed_ok,
        whole: d.whole_seen,
        rate_limited: d.rate_limited,
        server_errors: d.server,
        timeouts: d.timeout,
        timeouts_explained: natural,
        connection_errors: d.connection,
        client_errors: d.client,
        cancelled: d.cancelled,
        ttft,
        per_token,
        latency_source: source,
        ttft_pooled: source == LatencySource::Pooled,
        per_token_pooled: source == LatencySource::Pooled,
        error_rate: error_rate.clamp(0.0, 1.0),
        timeout_rate: timeout_rate.clamp(0.0, 1.0 - error_rate.clamp(0.0, 1.0)),
        rate_limited_share: rate(d.rate_limited as f64, d.attempts as f64),
        timeout_after: d.timeout_after(),
        limits: fit_limits(d),
        peak_minute: d.peak_minute(),
        observed_ttft_ms: quantiles(&d.ttft_hist).map(|q| q.map(|us| us / 1000.0)),
        observed_latency_ms: quantiles(&d.latency_hist).map(|q| q.map(|us| us / 1000.0)),
        ks_ttft: super::latency::ks_histogram(&d.ttft_hist, |x| ttft.cdf(x)),
        observed_latency: d.latency_hist.clone(),
        share: 0.0,
    }
}

/// S / (1 − S): timeouts per success when a share S of latencies exceeds the cut.
fn tail_ratio(s: f64) -> f64 {
    if s >= 0.5 {
        1.0
    } else {
        s / (1.0 - s)
    }
}

/// P(ttft + n × per-token > c) over the non-streamed rows' token counts, by quadrature on a
/// grid of the two log-normals (deterministic).
fn whole_survival(d: &DeploymentAcc, ttft: LogNormalFit, per_token: LogNormalFit, c: f64) -> f64 {
    if d.whole.is_empty() {
        return 0.0;
    }
    const GRID: usize = 24;
    let z: Vec<f64> = (0..GRID)
        .map(|i| super::latency::probit((i as f64 + 0.5) / GRID as f64))
        .collect();
    let step = (d.whole.len() / 200).max(1);
    let (mut over, mut total) = (0.0, 0.0);
    for (_, n) in d.whole.iter().step_by(step).take(RESERVOIR) {
        for z in &z {
            let p = per_token.at_z(*z) * f64::from(*n);
            over += ttft.survival((c - p).max(0.0));
            total += 1.0;
        }
    }
    if total > 0.0 {
        over / total
    } else {
        0.0
    }
}

/// Latency and rates pooled over every deployment (streamed rows, corrected for the first
/// timeout seen; without any, jointly from non-streamed rows).
pub fn pooled(
    tally: &TraceTally,
    cut: &dyn Fn(&DeploymentAcc) -> Option<Duration>,
) -> Option<Pooled> {
    let (ttft, per_token) = tally.pooled();
    let mut whole: Vec<(f64, u32)> = Vec::new();
    for d in &tally.deployments {
        whole.extend(d.whole.iter().take(RESERVOIR / 8));
    }
    let (ttft, per_token) = match (ttft.fit(), per_token.fit()) {
        (Some(t), Some(p)) => {
            let c = tally.deployments.iter().find_map(cut);
            (
                c.map_or(t, |c| super::latency::untruncated(t, c.as_secs_f64())),
                p,
            )
        }
        // No streamed rows at all: jointly from whole latencies.
        _ => super::latency::joint_from_whole(&whole)?,
    };
    let (mut server, mut timeouts, mut served) = (0u64, 0u64, 0u64);
    for d in &tally.deployments {
        server += d.server;
        timeouts += d.timeout;
        served += d.served();
    }
    let rate = |n: u64| n as f64 / served.max(1) as f64;
    Some(Pooled {
        ttft,
        per_token,
        error_rate: rate(server),
        timeout_rate: rate(timeouts),
    })
}
