//! Counters and histograms the engine keeps as it decides, and the plain snapshot it reports.
//!
//! Recording is allocation-free: histograms are sized at construction (1 µs to 1 h, two
//! significant digits, i.e. within 1 %).

use std::time::Duration;

use hdrhistogram::Histogram;
use serde::Serialize;

use crate::config::Config;
use crate::outcome::FailureKind;
use crate::state::DeploymentState;
use crate::step::FailReason;

const HIGHEST_MICROS: u64 = 3_600_000_000;

/// A latency histogram in microseconds.
pub fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, HIGHEST_MICROS, 2).expect("static histogram bounds are valid")
}

/// Records a duration (clamped to the histogram's range).
pub fn record(h: &mut Histogram<u64>, d: Duration) {
    h.saturating_record(u64::try_from(d.as_micros()).unwrap_or(u64::MAX).max(1));
}

/// Counters of one deployment.
#[derive(Debug, Clone)]
pub struct DeploymentMetrics {
    /// Attempts sent.
    pub attempts: u64,
    /// Attempts that succeeded.
    pub successes: u64,
    /// Failed attempts by [`FailureKind`] index.
    pub failures: [u64; FailureKind::COUNT],
    /// Attempts that were a retry of an earlier failed attempt.
    pub retries: u64,
    /// Attempts that came from another tier's fallback list.
    pub fallbacks: u64,
    /// Attempts abandoned because the client went away.
    pub cancelled: u64,
    /// Times the circuit breaker opened.
    pub ejections: u64,
    /// Attempt latency of successes.
    pub latency: Histogram<u64>,
    /// Time to first token of successes.
    pub ttft: Histogram<u64>,
    /// Input tokens of successes.
    pub input_tokens: u64,
    /// Output tokens of successes.
    pub output_tokens: u64,
    /// Cost of successes.
    pub cost: f64,
}

impl Default for DeploymentMetrics {
    fn default() -> Self {
        DeploymentMetrics {
            attempts: 0,
            successes: 0,
            failures: [0; FailureKind::COUNT],
            retries: 0,
            fallbacks: 0,
            cancelled: 0,
            ejections: 0,
            latency: new_histogram(),
            ttft: new_histogram(),
            input_tokens: 0,
            output_tokens: 0,
            cost: 0.0,
        }
    }
}

/// Request-level counters of one tier (requests routed to it).
#[derive(Debug, Clone)]
pub struct TierMetrics {
    /// Requests started.
    pub requests: u64,
    /// Requests that ended in success.
    pub successes: u64,
    /// Requests that failed.
    pub failures: u64,
    /// Requests that needed a fallback tier.
    pub fell_back: u64,
    /// End-to-end latency of successful requests (all attempts and waits).
    pub latency: Histogram<u64>,
}

impl Default for TierMetrics {
    fn default() -> Self {
        TierMetrics {
            requests: 0,
            successes: 0,
            failures: 0,
            fell_back: 0,
            latency: new_histogram(),
        }
    }
}

/// Engine-wide request counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Totals {
    /// Requests started.
    pub started: u64,
    /// Requests answered successfully.
    pub succeeded: u64,
    /// Requests failed: client error.
    pub failed_client: u64,
    /// Requests failed: last failure not retryable by policy.
    pub failed_not_retried: u64,
    /// Requests failed: all attempts used.
    pub failed_attempts_exhausted: u64,
    /// Requests failed: no capacity within the wait budget.
    pub failed_no_capacity: u64,
    /// Requests failed: the end-to-end deadline passed.
    pub failed_deadline: u64,
    /// Requests failed: every deployment of the chain refused its key.
    pub failed_all_disabled: u64,
    /// Requests cancelled by the driver (client gone).
    pub cancelled: u64,
    /// Wait steps handed out.
    pub waits: u64,
}

impl Totals {
    /// All failed requests.
    pub fn failed(&self) -> u64 {
        self.failed_client
            + self.failed_not_retried
            + self.failed_attempts_exhausted
            + self.failed_no_capacity
            + self.failed_deadline
            + self.failed_all_disabled
    }

    pub(crate) fn count_failure(&mut self, reason: &FailReason) {
        match reason {
            FailReason::ClientError { .. } => self.failed_client += 1,
            FailReason::NotRetried { .. } => self.failed_not_retried += 1,
            FailReason::AttemptsExhausted { .. } => self.failed_attempts_exhausted += 1,
            FailReason::NoCapacity { .. } => self.failed_no_capacity += 1,
            FailReason::Deadline => self.failed_deadline += 1,
            FailReason::AllDisabled => self.failed_all_disabled += 1,
        }
    }
}

/// Everything the engine counts.
#[derive(Debug, Clone)]
pub struct Metrics {
    /// Per deployment, indexed by [`crate::DeploymentId`].
    pub deployments: Vec<DeploymentMetrics>,
    /// Per tier, indexed by [`crate::TierId`].
    pub tiers: Vec<TierMetrics>,
    /// Engine-wide.
    pub totals: Totals,
}

impl Metrics {
    /// Adds another engine's counts to these (a fleet of replicas reported as one); both must
    /// come from the same config. Every field is named, so a new counter cannot be forgotten.
    pub fn merge(&mut self, other: &Metrics) {
        for (a, b) in self.deployments.iter_mut().zip(&other.deployments) {
            let DeploymentMetrics {
                attempts,
                successes,
                failures,
                retries,
                fallbacks,
                cancelled,
                ejections,
                latency,
                ttft,
                input_tokens,
                output_tokens,
                cost,
            } = b;
            a.attempts += attempts;
            a.successes += successes;
            for (x, y) in a.failures.iter_mut().zip(failures) {
                *x += y;
            }
            a.retries += retries;
            a.fallbacks += fallbacks;
            a.cancelled += cancelled;
            a.ejections += ejections;
            let _ = a.latency.add(latency);
            let _ = a.ttft.add(ttft);
            a.input_tokens += input_tokens;
            a.output_tokens += output_tokens;
            a.cost += cost;
        }
        for (a, b) in self.tiers.iter_mut().zip(&other.tiers) {
            let TierMetrics {
                requests,
                successes,
                failures,
                fell_back,
                latency,
            } = b;
            a.requests += requests;
            a.successes += successes;
            a.failures += failures;
            a.fell_back += fell_back;
            let _ = a.latency.add(latency);
        }
        let Totals {
            started,
            succeeded,
            failed_client,
            failed_not_retried,
            failed_attempts_exhausted,
            failed_no_capacity,
            failed_deadline,
            failed_all_disabled,
            cancelled,
            waits,
        } = other.totals;
        let t = &mut self.totals;
        t.started += started;
        t.succeeded += succeeded;
        t.failed_client += failed_client;
        t.failed_not_retried += failed_not_retried;
        t.failed_attempts_exhausted += failed_attempts_exhausted;
        t.failed_no_capacity += failed_no_capacity;
        t.failed_deadline += failed_deadline;
        t.failed_all_disabled += failed_all_disabled;
        t.cancelled += cancelled;
        t.waits += waits;
    }

    pub(crate) fn new(config: &Config) -> Metrics {
        Metrics {
            deployments: vec![DeploymentMetrics::default(); config.deployments.len()],
            tiers: vec![TierMetrics::default(); config.tiers.len()],
            totals: Totals::default(),
        }
    }
}

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
