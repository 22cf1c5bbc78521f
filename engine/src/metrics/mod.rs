//! Counters and histograms the engine keeps as it decides, and the plain snapshot it reports.
//!
//! Recording is allocation-free: histograms are sized at construction (1 µs to 1 h, two
//! significant digits, i.e. within 1 %).

mod snapshot;

use std::time::Duration;

use hdrhistogram::Histogram;
use serde::Serialize;

use crate::config::Config;
use crate::outcome::FailureKind;
use crate::step::FailReason;

pub use snapshot::{DeploymentSnapshot, Percentiles, Snapshot, TierSnapshot, Utilisation};

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
