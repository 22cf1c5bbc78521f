//! What a finished attempt teaches the engine: in-flight release, the provider's rate-limit
//! headers, latency and error estimates, cooldowns, the circuit breaker, refused keys, metrics
//! and cost; and the retry backoff.

use std::time::Duration;

use rand::Rng as _;

use super::{Engine, InFlight};
use crate::ids::DeploymentId;
use crate::metrics;
use crate::outcome::{FailureKind, Outcome};

impl Engine {
    pub(super) fn release(&mut self, d: DeploymentId) {
        let state = &mut self.states[d.index()];
        state.in_flight = state.in_flight.saturating_sub(1);
    }

    pub(super) fn observe_headers(&mut self, d: DeploymentId, outcome: &Outcome, now: Duration) {
        let h = outcome.headers();
        if h.limit_requests.is_none()
            && h.remaining_requests.is_none()
            && h.limit_tokens.is_none()
            && h.remaining_tokens.is_none()
        {
            // Nothing to learn (a reset alone changes nothing): the common case, no headers.
            return;
        }
        let state = &mut self.states[d.index()];
        state.rpm.observe(
            now,
            h.limit_requests,
            h.remaining_requests,
            h.reset_requests,
        );
        state
            .tpm
            .observe(now, h.limit_tokens, h.remaining_tokens, h.reset_tokens);
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn on_success(
        &mut self,
        d: DeploymentId,
        flight: &InFlight,
        elapsed: Duration,
        ttft: Duration,
        input_tokens: u32,
        output_tokens: u32,
        now: Duration,
    ) {
        let actual = u64::from(input_tokens) + u64::from(output_tokens);
        let (now_secs, elapsed_secs, tau) =
            (now.as_secs_f64(), elapsed.as_secs_f64(), self.rates.latency);
        let state = &mut self.states[d.index()];
        state.tpm.correct(now, flight.charged_tokens, actual);
        state.latency.record_at(now_secs, elapsed_secs, tau);
        state.peak_latency.record_at(now_secs, elapsed_secs, tau);
        state.errors.record_at(now_secs, self.rates.errors, false);
        state.ttft.record_at(now_secs, ttft.as_secs_f64(), tau);
        state.breaker.on_success();
        let price = self.deployment_any(d).price;
        let m = &mut self.metrics.deployments[d.index()];
        m.successes += 1;
        metrics::record(&mut m.latency, elapsed);
        metrics::record(&mut m.ttft, ttft);
        m.input_tokens += u64::from(input_tokens);
        m.output_tokens += u64::from(output_tokens);
        m.cost += price.cost_cached(
            u64::from(input_tokens),
            u64::from(flight.cached_input),
            u64::from(output_tokens),
        );
    }

    /// Health bookkeeping of a failed attempt. Any failure that carries a retry-after (a 429, or
    /// a 503 saying when to come back) cools the deployment down until then; a 429 without one
    /// uses the configured cooldown.
    pub(super) fn on_failure(
        &mut self,
        d: DeploymentId,
        was_probe: bool,
        kind: FailureKind,
        retry_after: Option<Duration>,
        elapsed: Duration,
        now: Duration,
    ) {
        let health = &self.config.health;
        let balancing = &self.config.balancing;
        let state = &mut self.states[d.index()];
        let m = &mut self.metrics.deployments[d.index()];
        m.failures[kind as usize] += 1;
        let cooldown = match kind {
            FailureKind::RateLimited => Some(retry_after.unwrap_or(health.cooldown)),
            _ => retry_after,
        };
        if let Some(wait) = cooldown {
            state.cooldown_until = state
                .cooldown_until
                .max(now.saturating_add(wait.min(health.max_cooldown)));
        }
        if kind == FailureKind::Auth {
            state.disabled = true;
        }
        if kind.is_health_failure() {
            let now_secs = now.as_secs_f64();
            state.errors.record_at(now_secs, self.rates.errors, true);
            let penalty = elapsed.max(balancing.failure_penalty).as_secs_f64();
            let tau = self.rates.latency;
            state.latency.record_at(now_secs, penalty, tau);
            state.peak_latency.record_at(now_secs, penalty, tau);
            if state.breaker.on_failure(now, health) {
                m.ejections += 1;
            }
        } else {
            state.breaker.on_neutral(was_probe);
        }
    }

    /// Backoff before re-sending to a deployment already tried: base·2ⁿ⁻¹, capped, jittered.
    pub(super) fn backoff(&mut self, attempts: u8) -> Duration {
        let r = &self.config.retry;
        let exp = u32::from(attempts.saturating_sub(1)).min(20);
        let raw = r.backoff_base.saturating_mul(1 << exp).min(r.backoff_max);
        if r.jitter == 0.0 {
            return raw;
        }
        let factor = 1.0 + r.jitter * (2.0 * self.rng.random::<f64>() - 1.0);
        raw.mul_f64(factor)
    }
}
