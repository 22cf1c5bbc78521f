//! Per-deployment and workload accumulators, fed one attempt row at a time (memory grows with
//! the number of deployments, models and minutes, never with the number of rows).

use std::collections::{BTreeMap, HashMap};

use hdrhistogram::Histogram;

use super::row::{Attempt, Class};
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
    /// The same per-token times, ns (for the fit that leaves out gross outliers).
    pub per_token_hist: Histogram<u64>,
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
    /// Successes and failures per 5 s of send time (for outages).
    pub buckets: BTreeMap<i64, super::incidents::Bucket>,
}

impl DeploymentAcc {
    /// A deployment with no rows yet.
    pub fn empty(id: &str) -> DeploymentAcc {
        DeploymentAcc::new(id)
    }

    pub(super) fn new(id: &str) -> DeploymentAcc {
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
            per_token_hist: histogram(),
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
            buckets: BTreeMap::new(),
        }
    }

    pub(super) fn add(&mut self, a: &Attempt<'_>) {
        self.attempts += 1;
        super::incidents::count(&mut self.buckets, a);
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
                            let per_token = (a.latency_ms - ttft) / 1000.0 / f64::from(a.output);
                            self.per_token.add(per_token);
                            record(
                                &mut self.per_token_hist,
                                (per_token * 1e9).round().max(1.0) as u64,
                            );
                        }
                    }
                    (false, _) => self.keep_whole(a.latency_ms / 1000.0, a.output),
                    (true, None) => {}
                }
            }
            Class::Cancelled => self.cancelled += 1,
            // Never reaches a deployment (TraceTally::add takes it).
            Class::Refused | Class::ClientRefused => {}
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

pub(super) fn bump(map: &mut HashMap<String, u64>, key: Option<&str>) {
    if let Some(k) = key.filter(|k| !k.is_empty()) {
        match map.get_mut(k) {
            Some(n) => *n += 1,
            None => {
                map.insert(k.to_owned(), 1);
            }
        }
    }
}
