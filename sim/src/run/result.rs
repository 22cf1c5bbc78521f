//! The end of a run: the engine's snapshot and the loop's own counts turned into a
//! [`RunResult`] (summary, per deployment, per client).

use engine::StrategyKind;

use super::{RunResult, Simulation};
use crate::stats::{DeploymentRow, Summary};

impl Simulation<'_> {
    pub(super) fn finish_run(self, strategy: Option<StrategyKind>, seed: u64) -> RunResult {
        let strategy = strategy.map_or_else(
            || self.scenario.config.strategy_label(),
            |s| s.name().to_owned(),
        );
        let snapshot = self.engine.snapshot(self.now);
        let t = snapshot.totals;
        let s = &self.stats;
        let p = s.percentiles();
        let rate = |a: u64, b: u64| if b > 0 { a as f64 / b as f64 } else { 0.0 };
        let sum = |f: fn(&engine::metrics::DeploymentSnapshot) -> u64| {
            snapshot.deployments.iter().map(f).sum::<u64>()
        };
        let name = self.scenario.name.clone();
        let client_states = self.engine.client_states();
        let refused: u64 = client_states.iter().map(|c| c.refused).sum();
        let clients = crate::clients::rows(
            (&name, &strategy, seed),
            &self.scenario.config,
            &self.client_tallies,
            &client_states,
        );
        let summary = Summary {
            scenario: name.clone(),
            strategy: strategy.clone(),
            seed,
            requests: s.arrivals,
            successes: s.successes,
            failures: t.failed() + s.client_timeouts + refused,
            in_flight_at_end: self.engine.live_requests() as u64,
            success_rate: rate(s.successes, s.arrivals),
            failed_client_error: t.failed_client,
            failed_attempts_exhausted: t.failed_attempts_exhausted,
            failed_no_capacity: t.failed_no_capacity,
            failed_not_retried: t.failed_not_retried,
            failed_client_timeout: s.client_timeouts,
            failed_deadline: t.failed_deadline,
            latency_mean_ms: if s.successes > 0 {
                s.latency_sum.as_secs_f64() * 1000.0 / s.successes as f64
            } else {
                0.0
            },
            latency_p50_ms: p.p50_ms,
            latency_p90_ms: p.p90_ms,
            latency_p99_ms: p.p99_ms,
            latency_max_ms: p.max_ms,
            attempts_per_request: rate(s.attempts, s.arrivals),
            retries: sum(|d| d.retries),
            fallbacks: sum(|d| d.fallbacks),
            rate_limit_hits: sum(|d| d.rate_limited),
            server_errors: sum(|d| d.server_errors),
            timeouts: sum(|d| d.timeouts),
            connection_errors: sum(|d| d.connection_errors),
            cost: snapshot.deployments.iter().map(|d| d.cost).sum(),
            simulated_seconds: self.now.as_secs_f64(),
        };
        let deployments = snapshot
            .deployments
            .iter()
            .zip(&self.scenario.config.deployments)
            .map(|(d, c)| DeploymentRow {
                scenario: name.clone(),
                strategy: strategy.clone(),
                seed,
                deployment: d.id.clone(),
                provider: c.provider.clone(),
                tier: d.tier.clone(),
                configured_share: d.configured_share,
                actual_share: d.actual_share,
                attempts: d.attempts,
                successes: d.successes,
                success_rate: rate(d.successes, d.attempts),
                rate_limited: d.rate_limited,
                server_errors: d.server_errors,
                timeouts: d.timeouts,
                connection_errors: d.connection_errors,
                ejections: d.ejections,
                latency_p50_ms: d.latency.p50_ms,
                latency_p90_ms: d.latency.p90_ms,
                latency_p99_ms: d.latency.p99_ms,
                ttft_p50_ms: d.ttft.p50_ms,
                input_tokens: d.input_tokens,
                output_tokens: d.output_tokens,
                cost: d.cost,
            })
            .collect();
        RunResult {
            summary,
            deployments,
            timeseries: self.series,
            latency: self.stats.latency,
            cache: self.cache,
            clients,
            hedges: self.engine.hedge_stats(),
        }
    }
}
