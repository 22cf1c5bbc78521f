//! `error-weighted`: weighted random where each weight is scaled by e^(−k·error rate).
//!
//! With the default sensitivity k = 50, a deployment failing 5 % of attempts keeps 8 % of its
//! share while one failing 0.1 % keeps 95 %: a sick deployment is drained long before its
//! circuit breaker would open, and recovers its share as the error rate decays.

use super::{random::weighted_pick_once, Balancer, PickContext, Rng};
use crate::ids::DeploymentId;

/// Weighted random on weight × e^(−k·error rate).
pub struct ErrorWeighted;

impl Balancer for ErrorWeighted {
    fn pick(
        &mut self,
        ctx: &PickContext<'_>,
        candidates: &[DeploymentId],
        rng: &mut Rng,
    ) -> DeploymentId {
        let k = ctx.balancing.error_sensitivity;
        weighted_pick_once(candidates, rng, |c| {
            ctx.weight(c) * crate::latency::decay(k * ctx.state(c).error_rate(ctx.now, ctx.health))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::strategy::testing::Fixture;

    #[test]
    fn five_percent_errors_gets_far_less_than_a_tenth_of_a_percent() {
        let mut fx = Fixture::weighted(&[1.0, 1.0]);
        fx.record_results(0, 1000, 50);
        fx.record_results(1, 1000, 1);
        let counts = fx.count_picks(&mut ErrorWeighted, 10_000);
        assert!(counts[0] * 5 < counts[1], "{counts:?}");
    }
}
