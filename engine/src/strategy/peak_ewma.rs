//! `peak-ewma`: power of two choices on latency × (in-flight + 1), as in Finagle, Linkerd and
//! tower. The peak-sensitive estimate reacts at once to a slow answer and relaxes gradually;
//! multiplying by pending work prices queueing. Unmeasured deployments cost the default latency.

use super::{p2c::pick_cheaper, Balancer, PickContext, Rng, Selection, SAMPLE_ABOVE};
use crate::ids::DeploymentId;

/// P2C on peak-EWMA cost.
pub struct PeakEwma;

impl Balancer for PeakEwma {
    fn selection(&self, tier_size: usize) -> Selection {
        super::sampled_above(SAMPLE_ABOVE, tier_size, 2, false)
    }

    fn pick(
        &mut self,
        ctx: &PickContext<'_>,
        candidates: &[DeploymentId],
        rng: &mut Rng,
    ) -> DeploymentId {
        let default = ctx.balancing.default_latency.as_secs_f64();
        pick_cheaper(candidates, rng, |c| {
            let latency = ctx.peak_latency(c).unwrap_or(default);
            latency * f64::from(ctx.state(c).in_flight + 1)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::strategy::testing::Fixture;
    use std::time::Duration;

    #[test]
    fn prefers_fast_and_idle() {
        let mut fx = Fixture::weighted(&[1.0, 1.0]);
        fx.record_latency(0, Duration::from_millis(900));
        fx.record_latency(1, Duration::from_millis(100));
        let counts = fx.count_picks(&mut PeakEwma, 1000);
        assert_eq!(counts, vec![0, 1000]);
        fx.states[1].in_flight = 20;
        let counts = fx.count_picks(&mut PeakEwma, 1000);
        assert_eq!(counts, vec![1000, 0]);
    }
}
