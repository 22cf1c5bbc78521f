//! Per-deployment and workload accumulators, fed one attempt row at a time (memory grows with
//! the number of deployments, models and minutes, never with the number of rows).

use std::collections::HashMap;

use hdrhistogram::Histogram;

use super::reader::{Attempt, Class};
use super::stats::{histogram, record, LogAcc};

/// Distinct timed-out latencies remembered per deployment.
const MAX_TIMEOUT_VALUES: usize = 10_000;

/// Counts and samples of one deployment.
#[derive(Debug, Clone)]
pub struct DeploymentAcc {
    /// Deployment id.
    pub id: String,
    /// Attempts by outcome.
    pub attempts: u64,
    /// Successes.
    pub ok: u64,
    /// 429s.
    pub rate_limited: u64,
    /// 5xx.
    pub server: u64,
    /// Timeouts.
    pub timeout: u64,
    /// Connection errors.
    pub connection: u64,
    /// Other 4xx.
    pub client: u64,
    /// ln of time to first token of successes (seconds).
    pub ttft: LogAcc,
    /// ln of per-output-token time of successes with output (seconds).
    pub per_token: LogAcc,
    /// Observed time to first token of successes, µs.
    pub ttft_hist: Histogram<u64>,
    /// Observed attempt latency of successes, µs.
    pub latency_hist: Histogram<u64>,
    /// Latency of timed-out attempts, µs.
    pub timeout_hist: Histogram<u64>,
    /// Latencies of timed-out attempts rounded to ms, and how often each occurred (bounded).
    pub timeout_values: HashMap<u64, u64>,
    /// Requested models, for the deployment's `model`.
    pub models: HashMap<String, u64>,
    /// Per minute since the start: admitted (not 429) attempts and their tokens.
    pub minutes: HashMap<i64, (u64, u64)>,
}

impl DeploymentAcc {
    fn new(id: &str) -> DeploymentAcc {
        DeploymentAcc {
            id: id.to_owned(),
            attempts: 0,
            ok: 0,
            rate_limited: 0,
            server: 0,
            timeout: 0,
            connection: 0,
            client: 0,
            ttft: LogAcc::default(),
            per_token: LogAcc::default(),
            ttft_hist: histogram(),
            latency_hist: histogram(),
            timeout_hist: histogram(),
            timeout_values: HashMap::new(),
            models: HashMap::new(),
            minutes: HashMap::new(),
        }
    }

    fn add(&mut self, a: &Attempt<'_>) {
        self.attempts += 1;
        let us = |ms: f64| (ms * 1000.0).round().max(1.0) as u64;
        match a.class {
            Class::Ok => {
                self.ok += 1;
                record(&mut self.latency_hist, us(a.latency_ms));
                if let Some(ttft) = a.ttft_ms.filter(|t| *t > 0.0) {
                    self.ttft.add(ttft / 1000.0);
                    record(&mut self.ttft_hist, us(ttft));
                    if a.output > 0 && a.latency_ms > ttft {
                        self.per_token
                            .add((a.latency_ms - ttft) / 1000.0 / f64::from(a.output));
                    }
                }
            }
            Class::RateLimited => self.rate_limited += 1,
            Class::Server => self.server += 1,
            Class::Timeout => {
                self.timeout += 1;
                record(&mut self.timeout_hist, us(a.latency_ms));
                let ms = a.latency_ms.round() as u64;
                if self.timeout_values.len() < MAX_TIMEOUT_VALUES
                    || self.timeout_values.contains_key(&ms)
                {
                    *self.timeout_values.entry(ms).or_default() += 1;
                }
            }
            Class::Connection => self.connection += 1,
            Class::Client => self.client += 1,
        }
        if a.class != Class::RateLimited {
            let minute = a.at.div_euclid(60_000_000_000);
            let m = self.minutes.entry(minute).or_default();
            m.0 += 1;
            m.1 += u64::from(a.input) + u64::from(a.output);
        }
        if let Some(model) = a.model.filter(|m| !m.is_empty()) {
            match self.models.get_mut(model) {
                Some(n) => *n += 1,
                None => {
                    self.models.insert(model.to_owned(), 1);
                }
            }
        }
    }

    /// Attempts that reached the provider's service (not 429s, not connection failures).
    pub fn served(&self) -> u64 {
        self.attempts - self.rate_limited - self.connection
    }

    /// The most requested model, if the trace names models.
    pub fn model(&self) -> Option<&str> {
        self.models
            .iter()
            .max_by(|a, b| a.1.cmp(b.1).then_with(|| b.0.cmp(a.0)))
            .map(|(m, _)| m.as_str())
    }

    /// When attempts time out: the most frequent timed-out latency (a configured timeout is one
    /// value), else the median.
    pub fn timeout_after(&self) -> Option<std::time::Duration> {
        let (ms, n) = self
            .timeout_values
            .iter()
            .max_by(|a, b| a.1.cmp(b.1).then_with(|| b.0.cmp(a.0)))?;
        Some(if *n > 1 || self.timeout == 1 {
            std::time::Duration::from_millis(*ms)
        } else {
            std::time::Duration::from_micros(self.timeout_hist.value_at_quantile(0.5))
        })
    }

    /// The busiest minute's admitted requests and tokens.
    pub fn peak_minute(&self) -> (u64, u64) {
        let requests = self.minutes.values().map(|m| m.0).max().unwrap_or(0);
        let tokens = self.minutes.values().map(|m| m.1).max().unwrap_or(0);
        (requests, tokens)
    }
}

/// Everything read from a trace.
#[derive(Debug, Clone)]
pub struct TraceTally {
    /// Per deployment, in order of first appearance.
    pub deployments: Vec<DeploymentAcc>,
    index: HashMap<String, usize>,
    /// Requests (first attempts).
    pub requests: u64,
    /// Attempts.
    pub attempts: u64,
    /// Highest attempt number seen.
    pub max_attempt: u32,
    /// First and last request timestamps, ns.
    pub span: Option<(i64, i64)>,
    /// Input tokens of requests.
    pub input_tokens: Histogram<u64>,
    /// Output tokens of successful attempts.
    pub output_tokens: Histogram<u64>,
    /// Requested models of requests.
    pub models: HashMap<String, u64>,
    /// Tiers of requests.
    pub tiers: HashMap<String, u64>,
}

impl Default for TraceTally {
    fn default() -> Self {
        TraceTally {
            deployments: Vec::new(),
            index: HashMap::new(),
            requests: 0,
            attempts: 0,
            max_attempt: 0,
            span: None,
            input_tokens: histogram(),
            output_tokens: histogram(),
            models: HashMap::new(),
            tiers: HashMap::new(),
        }
    }
}

fn bump(map: &mut HashMap<String, u64>, key: Option<&str>) {
    if let Some(k) = key.filter(|k| !k.is_empty()) {
        match map.get_mut(k) {
            Some(n) => *n += 1,
            None => {
                map.insert(k.to_owned(), 1);
            }
        }
    }
}

impl TraceTally {
    /// Adds one attempt row.
    pub fn add(&mut self, a: &Attempt<'_>) {
        self.attempts += 1;
        self.max_attempt = self.max_attempt.max(a.attempt);
        let d = match self.index.get(a.deployment) {
            Some(&d) => d,
            None => {
                self.deployments.push(DeploymentAcc::new(a.deployment));
                self.index
                    .insert(a.deployment.to_owned(), self.deployments.len() - 1);
                self.deployments.len() - 1
            }
        };
        self.deployments[d].add(a);
        if a.class == Class::Ok {
            record(&mut self.output_tokens, u64::from(a.output));
        }
        if a.attempt == 1 {
            self.requests += 1;
            record(&mut self.input_tokens, u64::from(a.input));
            bump(&mut self.models, a.model);
            bump(&mut self.tiers, a.tier);
            self.span = Some(match self.span {
                None => (a.at, a.at),
                Some((lo, hi)) => (lo.min(a.at), hi.max(a.at)),
            });
        }
    }

    /// Span of request timestamps, seconds.
    pub fn span_seconds(&self) -> f64 {
        self.span.map_or(0.0, |(lo, hi)| (hi - lo) as f64 / 1e9)
    }

    /// Pooled ttft and per-token accumulators over all deployments.
    pub fn pooled(&self) -> (LogAcc, LogAcc) {
        let mut ttft = LogAcc::default();
        let mut per_token = LogAcc::default();
        for d in &self.deployments {
            ttft.merge(&d.ttft);
            per_token.merge(&d.per_token);
        }
        (ttft, per_token)
    }
}
