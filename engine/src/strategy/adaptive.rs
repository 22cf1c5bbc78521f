//! `adaptive`: one score per candidate, highest wins.
//!
//! ```text
//! score = weight × headroom × health ÷ (latency × (in_flight + 1)) [÷ price^c]
//!   headroom = fraction of the tightest rate limit left after this request (floor 0.01)
//!   health   = e^(−k·error rate)                      (k = balancing.error_sensitivity)
//!   latency  = peak-EWMA estimate (unmeasured ones get the mean of the measured)
//!              × max(1, (silence ÷ (4 × TTFT estimate))²)
//!   silence  = how long attempts have waited for a first byte without any arriving
//!   price    = this request's estimated cost there; only when c = balancing.cost_factor > 0
//!              (c = 1: half the price weighs as much as half the latency)
//! ```
//!
//! Why this shape: the denominator is peak-EWMA's expected wait, so load and slowness are priced
//! the way tower and Linkerd price them; the headroom factor drains a key smoothly as it nears
//! its limit instead of running it into 429s and a cooldown; the health factor drains a failing
//! deployment after a few errors instead of waiting for the breaker; and the weight keeps the
//! operator's intent when everything is healthy and idle. Tiers of up to 8 candidates are
//! scanned whole (exact); larger ones are sampled, best of 4 random candidates, which keeps a
//! pick O(1) — the power-of-d-choices result says that loses little. The silence term catches the outage
//! that hurts most — a provider that accepts connections and never answers — seconds after it
//! starts, instead of when the first attempt times out and the error rate finally moves. It is a full scan rather than P2C: a
//! scan is exact, and the in-flight term already breaks herds because every send raises it.
//!
//! Adaptive also knows when to leave a tier: if every candidate is suspect (silent for more
//! than 8× its usual time to first token, failing more than 6 % of attempts, or down to its
//! last 5 % of rate-limit headroom, where a 429 is one estimate away) it declines,
//! and the request spills to the tier's fallback instead of joining the pile on a broken
//! provider. With no fallback left it still picks the best of them.

use rand::Rng as _;

use super::{Balancer, PickContext, Rng, Selection, SAMPLE_ABOVE};
use crate::ids::DeploymentId;

/// Argmax of the combined score.
pub struct Adaptive;

impl Balancer for Adaptive {
    fn declines(&self, ctx: &PickContext<'_>, candidates: &[DeploymentId]) -> bool {
        candidates.iter().all(|&c| Adaptive::suspect(c, ctx))
    }

    fn selection(&self, tier_size: usize) -> Selection {
        super::sampled_above(SAMPLE_ABOVE, tier_size, SAMPLED, false)
    }

    fn pick(
        &mut self,
        ctx: &PickContext<'_>,
        candidates: &[DeploymentId],
        rng: &mut Rng,
    ) -> DeploymentId {
        if candidates.len() <= SAMPLE_ABOVE {
            return best_of(ctx, candidates.iter().copied());
        }
        // Big tiers: the best of a few random candidates (power of d choices) keeps a pick
        // O(1) and spreads load nearly as well as a full scan.
        let mut sample = [candidates[0]; SAMPLED];
        for s in &mut sample {
            *s = candidates[rng.random_range(0..candidates.len())];
        }
        best_of(ctx, sample.iter().copied())
    }
}

/// Candidates drawn from a larger tier.
const SAMPLED: usize = 4;

/// The highest-scoring candidate. One pass: an unmeasured candidate's latency is the mean of the
/// measured ones, known only at the end, so the best of each kind is kept and compared then.
/// Ties go to the earlier candidate.
fn best_of(ctx: &PickContext<'_>, candidates: impl Iterator<Item = DeploymentId>) -> DeploymentId {
    let k = ctx.balancing.error_sensitivity;
    let cost_factor = ctx.balancing.cost_factor;
    let (mut sum, mut measured) = (0.0, 0u32);
    let mut best_measured: Option<(usize, DeploymentId, f64)> = None;
    let mut best_unmeasured: Option<(usize, DeploymentId, f64)> = None;
    let mut first = None;
    for (i, c) in candidates.enumerate() {
        first = first.or(Some(c));
        let s = ctx.state(c);
        let headroom = ctx.headroom(c).max(0.01);
        let health = crate::latency::decay(k * ctx.error_rate(c));
        let mut rest =
            ctx.weight(c) * headroom * health / (stall_factor(c, ctx) * f64::from(s.in_flight + 1));
        if cost_factor > 0.0 {
            rest /= price_of(ctx, c).powf(cost_factor);
        }
        match ctx.peak_latency(c) {
            Some(latency) => {
                sum += latency;
                measured += 1;
                let score = rest / latency.max(1e-6);
                if best_measured.is_none_or(|(_, _, b)| score > b) {
                    best_measured = Some((i, c, score));
                }
            }
            None if best_unmeasured.is_none_or(|(_, _, b)| rest > b) => {
                best_unmeasured = Some((i, c, rest));
            }
            None => {}
        }
    }
    let unmeasured_latency = if measured > 0 {
        sum / f64::from(measured)
    } else {
        ctx.balancing.default_latency.as_secs_f64()
    };
    match (best_measured, best_unmeasured) {
        (Some((mi, m, ms)), Some((ui, u, rest))) => {
            let us = rest / unmeasured_latency.max(1e-6);
            if us > ms || (us == ms && ui < mi) {
                u
            } else {
                m
            }
        }
        (Some((_, c, _)), None) | (None, Some((_, c, _))) => c,
        (None, None) => first.unwrap_or(DeploymentId::from_index(0)),
    }
}

/// The request's estimated cost on `c`, floored so a free deployment scores finitely.
fn price_of(ctx: &PickContext<'_>, c: DeploymentId) -> f64 {
    let output = ctx.tokens.saturating_sub(ctx.input_tokens);
    ctx.deployments[c.index()]
        .price
        .cost(ctx.input_tokens, output)
        .max(1e-9)
}

impl Adaptive {
    fn suspect(c: DeploymentId, ctx: &PickContext<'_>) -> bool {
        stall_factor(c, ctx) >= 4.0 || ctx.error_rate(c) > 0.06 || ctx.headroom(c) < 0.05
    }
}

/// How much longer than usual the deployment has gone without a first byte, squared so that a
/// stall is decisive: 1 while silence stays within 4× the usual time to first token.
fn stall_factor(c: DeploymentId, ctx: &PickContext<'_>) -> f64 {
    let silence = ctx.state(c).silence(ctx.now).as_secs_f64();
    if silence == 0.0 {
        return 1.0;
    }
    let usual = ctx
        .ttft(c)
        .unwrap_or(ctx.balancing.default_latency.as_secs_f64())
        .max(0.05);
    (silence / (4.0 * usual)).powi(2).max(1.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::strategy::testing::Fixture;
    use std::time::Duration;

    #[test]
    fn drains_a_nearly_full_key() {
        let mut fx = Fixture::with_rpm(&[100, 100]);
        fx.states[0].rpm.charge(fx.now, 95);
        assert_eq!(fx.pick(&mut Adaptive).index(), 1);
    }

    #[test]
    fn drains_a_failing_deployment() {
        let mut fx = Fixture::weighted(&[1.0, 1.0]);
        fx.record_results(0, 20, 5);
        fx.record_results(1, 20, 0);
        assert_eq!(fx.pick(&mut Adaptive).index(), 1);
    }

    #[test]
    fn prefers_fast_then_spreads_by_load() {
        let mut fx = Fixture::weighted(&[1.0, 1.0]);
        fx.record_latency(0, Duration::from_millis(400));
        fx.record_latency(1, Duration::from_millis(100));
        assert_eq!(fx.pick(&mut Adaptive).index(), 1);
        fx.states[1].in_flight = 4;
        assert_eq!(fx.pick(&mut Adaptive).index(), 0);
    }

    #[test]
    fn avoids_a_deployment_that_stopped_answering() {
        let mut fx = Fixture::weighted(&[1.0, 1.0]);
        fx.record_latency(0, Duration::from_millis(100));
        fx.record_latency(1, Duration::from_millis(300));
        assert_eq!(fx.pick(&mut Adaptive).index(), 0);
        fx.states[0].on_send(fx.now);
        fx.now += Duration::from_secs(2);
        assert_eq!(
            fx.pick(&mut Adaptive).index(),
            1,
            "2 s of silence outweighs its fast history"
        );
    }

    #[test]
    fn cost_factor_prefers_the_cheaper_only_when_set() {
        let mut fx = Fixture::weighted(&[1.0, 1.0]);
        fx.record_latency(0, Duration::from_millis(100));
        fx.record_latency(1, Duration::from_millis(150));
        fx.deployments[0].price.input_per_million = 3.0;
        fx.deployments[1].price.input_per_million = 1.0;
        assert_eq!(fx.pick(&mut Adaptive).index(), 0, "off: the faster");
        fx.balancing.cost_factor = 1.0;
        assert_eq!(
            fx.pick(&mut Adaptive).index(),
            1,
            "a third of the price outweighs 1.5× the latency"
        );
    }

    #[test]
    fn follows_weights_when_all_equal() {
        let fx = Fixture::weighted(&[2.0, 1.0]);
        assert_eq!(fx.pick(&mut Adaptive).index(), 0);
    }
}
