//! [`PickContext`]: what a strategy sees of one decision — the request's size, the tier's
//! deployments and their live state — with the per-decision conversions done once.

use std::time::Duration;

use crate::config::{BalancingParams, Deployment, HealthPolicy};
use crate::ids::DeploymentId;
use crate::latency::DecayRates;
use crate::state::DeploymentState;

/// What a strategy may look at when picking.
pub struct PickContext<'a> {
    /// The current time.
    pub now: Duration,
    /// Estimated tokens of the request being placed.
    pub tokens: u64,
    /// Its input tokens (the rest of `tokens` is its estimated output).
    pub input_tokens: u64,
    /// Configured deployments, indexed by [`DeploymentId`].
    pub deployments: &'a [Deployment],
    /// Live state, indexed by [`DeploymentId`].
    pub states: &'a [DeploymentState],
    /// Estimator constants.
    pub balancing: &'a BalancingParams,
    /// Health constants.
    pub health: &'a HealthPolicy,
    /// Deployments this request has already tried.
    pub tried: &'a [DeploymentId],
    /// `now` in seconds, converted once per decision rather than once per candidate.
    now_secs: f64,
    /// `tokens` as a float, converted once per decision too.
    tokens_f: f64,
    /// The estimators' decay rates, derived once per engine.
    rates: DecayRates,
}

impl<'a> PickContext<'a> {
    /// The context of one decision.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        now: Duration,
        tokens: u64,
        input_tokens: u64,
        deployments: &'a [Deployment],
        states: &'a [DeploymentState],
        balancing: &'a BalancingParams,
        health: &'a HealthPolicy,
        tried: &'a [DeploymentId],
        rates: DecayRates,
    ) -> Self {
        PickContext {
            now,
            tokens,
            input_tokens,
            deployments,
            states,
            balancing,
            health,
            tried,
            now_secs: now.as_secs_f64(),
            tokens_f: tokens as f64,
            rates,
        }
    }

    /// `now` in seconds.
    pub(crate) fn now_secs(&self) -> f64 {
        self.now_secs
    }

    /// How fast idle latency estimates fade, per second (from `balancing.latency_decay`).
    pub(crate) fn fading_rate(&self) -> f64 {
        self.rates.idle
    }

    /// Plain latency estimate of `id` in seconds, `None` if never measured.
    pub(crate) fn latency(&self, id: DeploymentId) -> Option<f64> {
        self.state(id)
            .latency
            .decayed_at(self.now_secs, self.rates.idle)
    }

    /// Peak latency estimate of `id` in seconds, `None` if never measured.
    pub(crate) fn peak_latency(&self, id: DeploymentId) -> Option<f64> {
        self.state(id)
            .peak_latency
            .decayed_at(self.now_secs, self.rates.idle)
    }

    /// Time-to-first-token estimate of `id` in seconds, `None` if never measured.
    pub(crate) fn ttft(&self, id: DeploymentId) -> Option<f64> {
        self.state(id)
            .ttft
            .decayed_at(self.now_secs, self.rates.idle)
    }

    /// Smallest remaining fraction of `id`'s limits after this request (1 = no limits).
    pub(crate) fn headroom(&self, id: DeploymentId) -> f64 {
        self.state(id)
            .headroom_after_at(self.now_secs, self.tokens_f)
    }

    /// Recent error rate of `id`.
    pub(crate) fn error_rate(&self, id: DeploymentId) -> f64 {
        self.state(id)
            .errors
            .rate_at(self.now_secs, self.rates.errors)
    }

    pub(crate) fn weight(&self, id: DeploymentId) -> f64 {
        self.deployments[id.index()].weight
    }

    pub(crate) fn state(&self, id: DeploymentId) -> &DeploymentState {
        &self.states[id.index()]
    }

    /// [`PickContext::headroom`] of `id` if [`PickContext::usable`], else `None`; cheaper than
    /// asking both.
    #[inline(always)]
    pub(crate) fn usable_headroom(&self, id: DeploymentId) -> Option<f64> {
        if self.tried.contains(&id) {
            return None;
        }
        self.state(id)
            .usable_headroom_at(self.now, self.now_secs, self.tokens_f)
    }

    /// Whether `id` could take this request now as a first try: not tried yet, not cooling
    /// down, headroom left, breaker closed. For candidates not gathered by a scan.
    #[inline(always)]
    pub(crate) fn usable(&self, id: DeploymentId) -> bool {
        !self.tried.contains(&id)
            && self
                .state(id)
                .check_at(self.now, self.now_secs, self.tokens_f)
                .is_ok()
    }
}
