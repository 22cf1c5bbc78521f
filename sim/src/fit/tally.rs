//! Everything a trace says at the request level (arrivals, models, tiers, routes, token
//! counts), with the per-deployment accumulators of [`super::estimate`].

use std::collections::HashMap;

use hdrhistogram::Histogram;

use super::estimate::{bump, most, DeploymentAcc};
use super::row::{Attempt, Class};
use super::stats::{histogram, record, LogAcc};

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
    /// Requests failed before any attempt (`refused` and `client_refused` rows).
    pub refused: u64,
    /// Per requested model, its requests by client (`""`: no client).
    pub model_clients: HashMap<String, HashMap<String, u64>>,
    /// Per client, requests its own limits refused (`client_refused` rows).
    pub client_refused: HashMap<String, u64>,
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
            model_clients: HashMap::new(),
            client_refused: HashMap::new(),
            failure_outputs: HashMap::new(),
            max_ok_output: 0,
        }
    }
}

impl TraceTally {
    /// Adds one attempt row (a `refused` or `client_refused` row counts as a request only).
    pub fn add(&mut self, a: &Attempt<'_>) {
        if a.class.is_refusal() {
            self.refused += 1;
            if a.class == Class::ClientRefused && self.client_refused.len() < MAX_KEYS {
                bump(&mut self.client_refused, a.client);
            }
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
        if let Some(model) = a.model.filter(|m| !m.is_empty()) {
            if self.model_clients.len() < MAX_KEYS || self.model_clients.contains_key(model) {
                if !self.model_clients.contains_key(model) {
                    self.model_clients.insert(model.to_owned(), HashMap::new());
                }
                if let Some(clients) = self.model_clients.get_mut(model) {
                    let client = a.client.unwrap_or_default();
                    if clients.len() < MAX_KEYS || clients.contains_key(client) {
                        *clients.entry(client.to_owned()).or_default() += 1;
                    }
                }
            }
        }
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
