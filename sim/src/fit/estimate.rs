//! Per-deployment and workload accumulators, fed one attempt row at a time (memory grows with
//! the number of deployments, models and minutes, never with the number of rows).

use std::collections::HashMap;

use hdrhistogram::Histogram;

use super::reader::{Attempt, Class};
use super::stats::{histogram, record, LogAcc};

/// Distinct timed-out latencies remembered per deployment.
const MAX_TIMEOUT_VALUES: usize = 10_000;

/// Non-streamed successes kept per deployment for the joint latency fit (reservoir sample).
pub const RESERVOIR: usize = 20_000;

/// Distinct rate-limit header values remembered per deployment.
const MAX_LIMIT_VALUES: usize = 64;

/// One minute of a deployment's traffic.
#[derive(Debug, Clone, Copy, Default)]
pub struct Minute {
    /// Attempts the provider admitted (not 429).
    pub admitted: u64,
    /// Their tokens (input + output).
    pub tokens: u64,
    /// 429s.
    pub rejected: u64,
}

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
    /// Client cancels and deadlines with the attempt in flight (censored, not failures).
    pub cancelled: u64,
    /// ln of time to first token of streamed successes (seconds).
    pub ttft: LogAcc,
    /// ln of per-output-token time of streamed successes with output (seconds).
    pub per_token: LogAcc,
    /// Streamed successes.
    pub streamed_ok: u64,
    /// Non-streamed successes: (latency s, output tokens), a uniform reservoir sample.
    pub whole: Vec<(f64, u32)>,
    /// Non-streamed successes seen.
    pub whole_seen: u64,
    reservoir_state: u64,
    /// Recorded `x-ratelimit-limit-requests` values and how often each was seen.
    pub limit_requests: HashMap<u64, u64>,
    /// Recorded `x-ratelimit-limit-tokens` values and how often each was seen.
    pub limit_tokens: HashMap<u64, u64>,
    /// Tiers of its first attempts (the request's routed tier; a fallback never sends a first
    /// attempt), and of all its attempts.
    pub tiers: HashMap<String, u64>,
    /// Tiers of all its attempts.
    pub all_tiers: HashMap<String, u64>,
    /// Largest `x-ratelimit-remaining-requests` and `-tokens` seen (a full budget is the limit).
    pub max_remaining: (Option<u64>, Option<u64>),
    /// Σ cos and Σ sin of the 429s' phase within their minute (for the window's kind).
    pub rejection_phase: (f64, f64),
    /// 429s whose `x-ratelimit-remaining-requests` said no request was left.
    pub out_of_requests: u64,
    /// 429s whose `x-ratelimit-remaining-tokens` said the attempt's tokens were not left.
    pub out_of_tokens: u64,
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
    /// Per minute since the start.
    pub minutes: HashMap<i64, Minute>,
}

impl DeploymentAcc {
    /// A deployment with no rows yet.
    pub fn empty(id: &str) -> DeploymentAcc {
        DeploymentAcc::new(id)
    }

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
            cancelled: 0,
            ttft: LogAcc::default(),
            per_token: LogAcc::default(),
            streamed_ok: 0,
            whole: Vec::new(),
            whole_seen: 0,
            reservoir_state: 0x9e37_79b9_7f4a_7c15,
            limit_requests: HashMap::new(),
            limit_tokens: HashMap::new(),
            tiers: HashMap::new(),
            all_tiers: HashMap::new(),
            max_remaining: (None, None),
            rejection_phase: (0.0, 0.0),
            out_of_requests: 0,
            out_of_tokens: 0,
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
                match (streamed(a), a.ttft_ms.filter(|t| *t > 0.0)) {
                    (true, Some(ttft)) => {
                        self.streamed_ok += 1;
                        self.ttft.add(ttft / 1000.0);
                        record(&mut self.ttft_hist, us(ttft));
                        if a.output > 0 && a.latency_ms > ttft {
                            self.per_token
                                .add((a.latency_ms - ttft) / 1000.0 / f64::from(a.output));
                        }
                    }
                    (false, _) => self.keep_whole(a.latency_ms / 1000.0, a.output),
                    (true, None) => {}
                }
            }
            Class::Cancelled => self.cancelled += 1,
            // Never reaches a deployment (TraceTally::add takes it).
            Class::Refused => {}
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
        let minute = a.at.div_euclid(60_000_000_000);
        let m = self.minutes.entry(minute).or_default();
        if a.class == Class::RateLimited {
            m.rejected += 1;
            let turn = a.at.rem_euclid(60_000_000_000) as f64 / 60e9 * std::f64::consts::TAU;
            self.rejection_phase.0 += turn.cos();
            self.rejection_phase.1 += turn.sin();
            if a.remaining_requests == Some(0) {
                self.out_of_requests += 1;
            }
            let wanted = u64::from(a.input) + u64::from(a.output).max(1);
            if a.remaining_tokens.is_some_and(|t| t < wanted) {
                self.out_of_tokens += 1;
            }
        } else {
            m.admitted += 1;
            m.tokens += u64::from(a.input) + u64::from(a.output);
        }
        for (map, v) in [
            (&mut self.limit_requests, a.limit_requests),
            (&mut self.limit_tokens, a.limit_tokens),
        ] {
            if let Some(v) = v {
                if map.len() < MAX_LIMIT_VALUES || map.contains_key(&v) {
                    *map.entry(v).or_default() += 1;
                }
            }
        }
        if a.attempt == 1 {
            bump(&mut self.tiers, a.tier);
        }
        bump(&mut self.all_tiers, a.tier);
        self.max_remaining = (
            self.max_remaining.0.max(a.remaining_requests),
            self.max_remaining.1.max(a.remaining_tokens),
        );
        if let Some(model) = a.model.filter(|m| !m.is_empty()) {
            match self.models.get_mut(model) {
                Some(n) => *n += 1,
                None => {
                    self.models.insert(model.to_owned(), 1);
                }
            }
        }
    }

    /// Attempts that reached the provider's service and came to an end (not 429s, connection
    /// failures or cancels).
    pub fn served(&self) -> u64 {
        self.attempts
            .saturating_sub(self.rate_limited + self.connection + self.cancelled)
    }

    /// Keeps a non-streamed success in the reservoir (Algorithm R, deterministic).
    fn keep_whole(&mut self, latency_s: f64, output: u32) {
        self.whole_seen += 1;
        if self.whole.len() < RESERVOIR {
            self.whole.push((latency_s, output));
            return;
        }
        // xorshift64*: a fixed sequence, so a fit is reproducible.
        let mut x = self.reservoir_state;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.reservoir_state = x;
        let j = (x.wrapping_mul(0x2545_f491_4f6c_dd1d) % self.whole_seen) as usize;
        if let Some(slot) = self.whole.get_mut(j) {
            *slot = (latency_s, output);
        }
    }

    /// The tier it belongs to: the most frequent of its first attempts' tiers (else of all).
    pub fn home_tier(&self) -> Option<&str> {
        most(&self.tiers)
            .or_else(|| most(&self.all_tiers))
            .map(String::as_str)
    }

    /// The most requested model, if the trace names models.
    pub fn model(&self) -> Option<&str> {
        most(&self.models).map(String::as_str)
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
        let requests = self.minutes.values().map(|m| m.admitted).max().unwrap_or(0);
        let tokens = self.minutes.values().map(|m| m.tokens).max().unwrap_or(0);
        (requests, tokens)
    }
}

/// Most models (routes) and tiers remembered.
const MAX_KEYS: usize = 1024;

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
    /// Per requested model, the tiers its requests were routed to.
    pub routes: HashMap<String, HashMap<String, u64>>,
    /// Per request tier, the deployments its attempts went to.
    pub tier_deployments: HashMap<String, HashMap<String, u64>>,
    /// Requests whose `stream` column is filled, and of those the streamed ones.
    pub stream_known: (u64, u64),
    /// Requests failed before any attempt (`refused` rows).
    pub refused: u64,
    /// Output tokens recorded on failed attempts (the gateway's estimate: `max_tokens`).
    pub failure_outputs: HashMap<u32, u64>,
    /// Largest output of a success.
    pub max_ok_output: u32,
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
            routes: HashMap::new(),
            tier_deployments: HashMap::new(),
            stream_known: (0, 0),
            refused: 0,
            failure_outputs: HashMap::new(),
            max_ok_output: 0,
        }
    }
}

/// Whether a row streamed: its `stream` column, else a guess from its timing (a non-streamed
/// answer's head arrives with the rest of it, so its ttft is its latency).
fn streamed(a: &Attempt<'_>) -> bool {
    let looks_whole = a
        .ttft_ms
        .is_some_and(|ttft| a.output > 1 && a.latency_ms - ttft <= a.latency_ms * 0.002);
    a.stream.unwrap_or(!looks_whole)
}

/// The key seen most often (ties: the smallest).
pub fn most<K: Ord>(map: &HashMap<K, u64>) -> Option<&K> {
    map.iter()
        .max_by(|a, b| a.1.cmp(b.1).then_with(|| b.0.cmp(a.0)))
        .map(|(k, _)| k)
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
    /// Adds one attempt row (a `refused` row counts as a request only).
    pub fn add(&mut self, a: &Attempt<'_>) {
        if a.class == Class::Refused {
            self.refused += 1;
            self.add_request(a);
            return;
        }
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
        if let Some(tier) = a.tier.filter(|t| !t.is_empty()) {
            if self.tier_deployments.len() < MAX_KEYS || self.tier_deployments.contains_key(tier) {
                bump(
                    self.tier_deployments.entry(tier.to_owned()).or_default(),
                    Some(a.deployment),
                );
            }
        }
        if a.class == Class::Ok {
            record(&mut self.output_tokens, u64::from(a.output));
            self.max_ok_output = self.max_ok_output.max(a.output);
        } else if self.failure_outputs.len() < MAX_KEYS
            || self.failure_outputs.contains_key(&a.output)
        {
            *self.failure_outputs.entry(a.output).or_default() += 1;
        }
        if a.attempt == 1 {
            self.add_request(a);
        }
    }

    fn add_request(&mut self, a: &Attempt<'_>) {
        self.requests += 1;
        record(&mut self.input_tokens, u64::from(a.input));
        bump(&mut self.models, a.model);
        bump(&mut self.tiers, a.tier);
        if let Some(s) = a.stream {
            self.stream_known.0 += 1;
            self.stream_known.1 += u64::from(s);
        }
        if let (Some(model), Some(tier)) = (a.model, a.tier) {
            if !model.is_empty() && self.routes.len() < MAX_KEYS {
                bump(self.routes.entry(model.to_owned()).or_default(), Some(tier));
            }
        }
        let at = a.arrived.unwrap_or(a.at);
        self.span = Some(match self.span {
            None => (at, at),
            Some((lo, hi)) => (lo.min(at), hi.max(at)),
        });
    }

    /// The clients' `max_tokens`, when failed attempts (which record the gateway's estimate)
    /// nearly all carry one value no success exceeded.
    pub fn max_tokens(&self) -> Option<u32> {
        let total: u64 = self.failure_outputs.values().sum();
        let (&value, &n) = most(&self.failure_outputs).map(|v| (v, &self.failure_outputs[v]))?;
        (value > 0 && n * 10 >= total * 9 && n >= 5 && value >= self.max_ok_output).then_some(value)
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
