//! The plain, serializable [`Snapshot`] of the engine's counters: per deployment (with the live
//! state: in flight, limit utilisation, cooldown, breaker), per tier and engine-wide, latencies
//! reduced to percentiles.

use std::time::Duration;

use hdrhistogram::Histogram;
use serde::Serialize;

use super::{Metrics, Totals};
use crate::config::Config;
use crate::outcome::FailureKind;
use crate::state::DeploymentState;

/// Latency percentiles in milliseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Percentiles {
    /// Median.
    pub p50_ms: f64,
    /// 90th percentile.
    pub p90_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
    /// Largest value.
    pub max_ms: f64,
}

impl Percentiles {
    /// Percentiles of a microsecond histogram (zeros when empty).
    pub fn of(h: &Histogram<u64>) -> Percentiles {
        if h.is_empty() {
            return Percentiles::default();
        }
        let ms = |v: u64| v as f64 / 1000.0;
        Percentiles {
            p50_ms: ms(h.value_at_quantile(0.5)),
            p90_ms: ms(h.value_at_quantile(0.9)),
            p99_ms: ms(h.value_at_quantile(0.99)),
            max_ms: ms(h.max()),
        }
    }
}

/// Fraction of each limit in use right now (0 for limits not configured).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Utilisation {
    /// Requests per minute.
    pub rpm: f64,
    /// Tokens per minute.
    pub tpm: f64,
    /// Requests per day.
    pub rpd: f64,
}

/// One deployment in a [`Snapshot`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DeploymentSnapshot {
    /// Deployment id.
    pub id: String,
    /// Tier name.
    pub tier: String,
    /// Attempts sent.
    pub attempts: u64,
    /// Successful attempts.
    pub successes: u64,
    /// 429s received.
    pub rate_limited: u64,
    /// 5xx received.
    pub server_errors: u64,
    /// Timeouts.
    pub timeouts: u64,
    /// Connection errors.
    pub connection_errors: u64,
    /// Client errors (not retried), context-length errors included.
    pub client_errors: u64,
    /// 401/402/403: the provider refused the key.
    pub auth_failures: u64,
    /// Attempts that were retries.
    pub retries: u64,
    /// Attempts that arrived by fallback from another tier.
    pub fallbacks: u64,
    /// Circuit-breaker openings.
    pub ejections: u64,
    /// Attempts in flight now.
    pub in_flight: u32,
    /// Attempt latency of successes.
    pub latency: Percentiles,
    /// Time to first token of successes.
    pub ttft: Percentiles,
    /// Input tokens served.
    pub input_tokens: u64,
    /// Output tokens served.
    pub output_tokens: u64,
    /// Cost of what was served.
    pub cost: f64,
    /// Limit utilisation now.
    pub utilisation: Utilisation,
    /// Weight ÷ the tier's total weight.
    pub configured_share: f64,
    /// Attempts ÷ the tier's total attempts.
    pub actual_share: f64,
    /// Cooling down after a 429.
    pub cooling_down: bool,
    /// Circuit breaker open or half-open.
    pub breaker_open: bool,
    /// Out of rotation: the provider refused its key.
    pub disabled: bool,
}

/// One tier in a [`Snapshot`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TierSnapshot {
    /// Tier name.
    pub name: String,
    /// Strategy name.
    pub strategy: String,
    /// Requests routed here.
    pub requests: u64,
    /// Of which succeeded.
    pub successes: u64,
    /// Of which failed.
    pub failures: u64,
    /// Of which needed a fallback tier.
    pub fell_back: u64,
    /// End-to-end latency of successes.
    pub latency: Percentiles,
}

/// A plain, serializable picture of the engine's metrics at one instant.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Snapshot {
    /// Per deployment.
    pub deployments: Vec<DeploymentSnapshot>,
    /// Per tier.
    pub tiers: Vec<TierSnapshot>,
    /// Engine-wide.
    pub totals: Totals,
}

impl Snapshot {
    /// A snapshot of `metrics` (e.g. several engines' [`Metrics::merge`]d) with the live state
    /// of `states`, at `now`.
    pub fn build(
        config: &Config,
        metrics: &Metrics,
        states: &[DeploymentState],
        now: Duration,
    ) -> Snapshot {
        let mut tier_weight = vec![0.0; config.tiers.len()];
        let mut tier_attempts = vec![0u64; config.tiers.len()];
        for (d, m) in config.deployments.iter().zip(&metrics.deployments) {
            tier_weight[d.tier.index()] += d.weight;
            tier_attempts[d.tier.index()] += m.attempts;
        }
        let ratio = |a: f64, b: f64| if b > 0.0 { a / b } else { 0.0 };
        let deployments = config
            .deployments
            .iter()
            .zip(&metrics.deployments)
            .zip(states)
            .map(|((d, m), s)| {
                let f = |k: FailureKind| m.failures[k as usize];
                DeploymentSnapshot {
                    id: d.id.clone(),
                    tier: config.tier(d.tier).name.clone(),
                    attempts: m.attempts,
                    successes: m.successes,
                    rate_limited: f(FailureKind::RateLimited),
                    server_errors: f(FailureKind::Server),
                    timeouts: f(FailureKind::Timeout),
                    connection_errors: f(FailureKind::Connection),
                    client_errors: f(FailureKind::Client) + f(FailureKind::ContextLength),
                    auth_failures: f(FailureKind::Auth),
                    retries: m.retries,
                    fallbacks: m.fallbacks,
                    ejections: m.ejections,
                    in_flight: s.in_flight,
                    latency: Percentiles::of(&m.latency),
                    ttft: Percentiles::of(&m.ttft),
                    input_tokens: m.input_tokens,
                    output_tokens: m.output_tokens,
                    cost: m.cost,
                    utilisation: Utilisation {
                        rpm: s.rpm.utilisation(now),
                        tpm: s.tpm.utilisation(now),
                        rpd: s.rpd.utilisation(now),
                    },
                    configured_share: ratio(d.weight, tier_weight[d.tier.index()]),
                    actual_share: ratio(m.attempts as f64, tier_attempts[d.tier.index()] as f64),
                    cooling_down: now < s.cooldown_until,
                    breaker_open: s.breaker.is_open(),
                    disabled: s.disabled,
                }
            })
            .collect();
        let tiers = config
            .tiers
            .iter()
            .zip(&metrics.tiers)
            .map(|(t, m)| TierSnapshot {
                name: t.name.clone(),
                strategy: t.strategy.name().to_owned(),
                requests: m.requests,
                successes: m.successes,
                failures: m.failures,
                fell_back: m.fell_back,
                latency: Percentiles::of(&m.latency),
            })
            .collect();
        Snapshot {
            deployments,
            tiers,
            totals: metrics.totals,
        }
    }
}
