//! Streaming run statistics: counters, histograms and fixed-width time buckets, never a
//! per-request log, so memory stays flat however long the run.

use std::time::Duration;

use engine::metrics::{new_histogram, record, Percentiles};
use hdrhistogram::Histogram;
use serde::Serialize;

/// Per-bucket, per-deployment counter columns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Column {
    /// Attempts sent.
    Attempts = 0,
    /// Attempts that succeeded.
    Ok = 1,
    /// 429s.
    RateLimited = 2,
    /// 5xx, timeouts and connection errors.
    Errors = 3,
}

const COLUMNS: usize = 4;

/// Traffic over time: one row of counters per bucket and deployment.
#[derive(Debug, Clone, PartialEq)]
pub struct TimeSeries {
    /// Bucket width.
    pub bucket: Duration,
    /// Deployment ids, in column order.
    pub deployments: Vec<String>,
    counts: Vec<u64>,
    requests: Vec<[u64; 3]>,
}

impl TimeSeries {
    /// An empty series.
    pub fn new(bucket: Duration, deployments: Vec<String>) -> TimeSeries {
        TimeSeries {
            bucket,
            deployments,
            counts: Vec::new(),
            requests: Vec::new(),
        }
    }

    fn bucket_of(&mut self, at: Duration) -> usize {
        let b = (at.as_nanos() / self.bucket.as_nanos().max(1)) as usize;
        if b >= self.requests.len() {
            self.requests.resize(b + 1, [0; 3]);
            self.counts
                .resize((b + 1) * self.deployments.len() * COLUMNS, 0);
        }
        b
    }

    /// Counts one event for a deployment.
    pub fn count(&mut self, at: Duration, deployment: usize, column: Column) {
        let b = self.bucket_of(at);
        self.counts[(b * self.deployments.len() + deployment) * COLUMNS + column as usize] += 1;
    }

    /// Counts a request ending at `at`: success with its latency, or failure.
    pub fn request_ended(&mut self, at: Duration, latency: Option<Duration>) {
        let b = self.bucket_of(at);
        match latency {
            Some(l) => {
                self.requests[b][0] += 1;
                self.requests[b][2] += l.as_micros() as u64;
            }
            None => self.requests[b][1] += 1,
        }
    }

    /// Number of buckets.
    pub fn len(&self) -> usize {
        self.requests.len()
    }

    /// Whether nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.requests.is_empty()
    }

    /// A deployment's counter in a bucket.
    pub fn get(&self, bucket: usize, deployment: usize, column: Column) -> u64 {
        self.counts[(bucket * self.deployments.len() + deployment) * COLUMNS + column as usize]
    }

    /// (successes, failures, mean success latency in ms) of requests ending in a bucket.
    pub fn requests(&self, bucket: usize) -> (u64, u64, f64) {
        let [ok, failed, sum] = self.requests[bucket];
        let mean = if ok > 0 {
            sum as f64 / ok as f64 / 1000.0
        } else {
            0.0
        };
        (ok, failed, mean)
    }
}

/// Headline numbers of one run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    /// Scenario name.
    pub scenario: String,
    /// Strategy.
    pub strategy: String,
    /// Seed.
    pub seed: u64,
    /// Requests that arrived.
    pub requests: u64,
    /// Requests answered successfully.
    pub successes: u64,
    /// Requests that failed (all reasons, client timeouts included).
    pub failures: u64,
    /// Requests still in flight when the run stopped.
    pub in_flight_at_end: u64,
    /// successes ÷ requests.
    pub success_rate: f64,
    /// Failed: the provider rejected the request itself.
    pub failed_client_error: u64,
    /// Failed: every allowed attempt failed.
    pub failed_attempts_exhausted: u64,
    /// Failed: no deployment had headroom within the wait budget.
    pub failed_no_capacity: u64,
    /// Failed: a failure the retry policy does not retry.
    pub failed_not_retried: u64,
    /// Failed: the client gave up first.
    pub failed_client_timeout: u64,
    /// Failed: the request's end-to-end deadline (`[retry] deadline`) passed.
    pub failed_deadline: u64,
    /// Mean end-to-end latency of successes (retries and waits included).
    pub latency_mean_ms: f64,
    /// Median.
    pub latency_p50_ms: f64,
    /// 90th percentile.
    pub latency_p90_ms: f64,
    /// 99th percentile.
    pub latency_p99_ms: f64,
    /// Largest.
    pub latency_max_ms: f64,
    /// Attempts ÷ requests.
    pub attempts_per_request: f64,
    /// Attempts that were retries.
    pub retries: u64,
    /// Attempts sent to a fallback tier.
    pub fallbacks: u64,
    /// 429s received.
    pub rate_limit_hits: u64,
    /// 5xx received.
    pub server_errors: u64,
    /// Attempt timeouts.
    pub timeouts: u64,
    /// Connection errors.
    pub connection_errors: u64,
    /// Cost of all successful attempts.
    pub cost: f64,
    /// Simulated seconds until the last event.
    pub simulated_seconds: f64,
}

/// One deployment's results in a run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DeploymentRow {
    /// Scenario name.
    pub scenario: String,
    /// Strategy.
    pub strategy: String,
    /// Seed.
    pub seed: u64,
    /// Deployment id.
    pub deployment: String,
    /// Provider.
    pub provider: String,
    /// Tier.
    pub tier: String,
    /// Configured weight ÷ the tier's total.
    pub configured_share: f64,
    /// Attempts ÷ the tier's attempts.
    pub actual_share: f64,
    /// Attempts sent.
    pub attempts: u64,
    /// Successes.
    pub successes: u64,
    /// successes ÷ attempts.
    pub success_rate: f64,
    /// 429s.
    pub rate_limited: u64,
    /// 5xx.
    pub server_errors: u64,
    /// Timeouts.
    pub timeouts: u64,
    /// Connection errors.
    pub connection_errors: u64,
    /// Circuit-breaker openings.
    pub ejections: u64,
    /// Attempt latency percentiles (successes).
    pub latency_p50_ms: f64,
    /// 90th.
    pub latency_p90_ms: f64,
    /// 99th.
    pub latency_p99_ms: f64,
    /// Time to first token, median.
    pub ttft_p50_ms: f64,
    /// Input tokens served.
    pub input_tokens: u64,
    /// Output tokens served.
    pub output_tokens: u64,
    /// Cost.
    pub cost: f64,
}

/// Request-level tallies kept while a run goes.
#[derive(Debug, Clone)]
pub struct RequestStats {
    /// Arrivals.
    pub arrivals: u64,
    /// Successes.
    pub successes: u64,
    /// Client timeouts.
    pub client_timeouts: u64,
    /// Attempts over all requests.
    pub attempts: u64,
    /// End-to-end latency of successes, µs.
    pub latency: Histogram<u64>,
    /// Exact sum of success latencies, for the mean.
    pub latency_sum: Duration,
}

impl Default for RequestStats {
    fn default() -> Self {
        RequestStats {
            arrivals: 0,
            successes: 0,
            client_timeouts: 0,
            attempts: 0,
            latency: new_histogram(),
            latency_sum: Duration::ZERO,
        }
    }
}

impl RequestStats {
    /// Records a success with its end-to-end latency.
    pub fn success(&mut self, latency: Duration) {
        self.successes += 1;
        record(&mut self.latency, latency);
        self.latency_sum += latency;
    }

    /// Percentiles of success latency.
    pub fn percentiles(&self) -> Percentiles {
        Percentiles::of(&self.latency)
    }
}
