//! `least-latency`: the deployment with the lowest latency EWMA.
//!
//! An unmeasured deployment with nothing in flight is probed first (cost 0); while its probe is
//! out it is priced at the default latency so a burst does not pile onto it. Estimates decay
//! while idle (see [`crate::latency`]), so a deployment that was slow once is re-probed later.

use super::{Balancer, PickContext, Rng};
use crate::ids::DeploymentId;

/// Argmin of the plain latency EWMA.
pub struct LeastLatency;

impl Balancer for LeastLatency {
    fn pick(
        &mut self,
        ctx: &PickContext<'_>,
        candidates: &[DeploymentId],
        _rng: &mut Rng,
    ) -> DeploymentId {
        let default = ctx.balancing.default_latency.as_secs_f64();
        let mut best = candidates[0];
        let mut best_cost = f64::INFINITY;
        for &c in candidates {
            let s = ctx.state(c);
            let cost = match s.latency_estimate(ctx.now, ctx.balancing) {
                Some(v) => v,
                None if s.in_flight == 0 => 0.0,
                None => default,
            };
            if cost < best_cost {
                best_cost = cost;
                best = c;
            }
        }
        best
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::strategy::testing::Fixture;
    use std::time::Duration;

    #[test]
    fn probes_unmeasured_then_follows_the_fastest() {
        let mut fx = Fixture::weighted(&[1.0, 1.0, 1.0]);
        fx.record_latency(0, Duration::from_millis(300));
        fx.record_latency(1, Duration::from_millis(200));
        assert_eq!(
            fx.pick(&mut LeastLatency).index(),
            2,
            "unmeasured is probed"
        );
        fx.record_latency(2, Duration::from_millis(500));
        assert_eq!(fx.pick(&mut LeastLatency).index(), 1);
    }
}
