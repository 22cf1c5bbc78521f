//! `least-latency`: the deployment with the lowest latency EWMA.
//!
//! An unmeasured deployment with nothing in flight is probed first (cost 0); while its probe is
//! out it is priced at the default latency so a burst does not pile onto it. Estimates decay
//! while idle (see [`crate::latency`]), so a deployment that was slow once is re-probed later.
//!
//! Tiers larger than [`SCAN_UP_TO`] are not scanned: the pick is the fastest of
//! [`RANKED_DRAWS`](super::RANKED_DRAWS) random usable deployments and the previous pick (power
//! of d choices with memory), which finds the fastest deployment within a few dozen requests
//! and then keeps it until a faster one turns up or it stops being usable.

use super::{Balancer, PickContext, Rng, Selection, SCAN_UP_TO};
use crate::ids::DeploymentId;

/// Argmin of the plain latency EWMA.
pub struct LeastLatency {
    /// The previous pick, on a sampled tier.
    incumbent: Option<DeploymentId>,
    sampled: bool,
}

impl LeastLatency {
    /// Least-latency for a tier of `tier_size` deployments.
    pub fn new(tier_size: usize) -> Self {
        LeastLatency {
            incumbent: None,
            sampled: tier_size > SCAN_UP_TO,
        }
    }
}

impl Balancer for LeastLatency {
    fn selection(&self, _tier_size: usize) -> Selection {
        super::ranked_selection(self.sampled)
    }

    fn pick(
        &mut self,
        ctx: &PickContext<'_>,
        candidates: &[DeploymentId],
        _rng: &mut Rng,
    ) -> DeploymentId {
        let default = ctx.balancing.default_latency.as_secs_f64();
        let incumbent = super::incumbent(self.sampled, self.incumbent, ctx, candidates);
        let mut best = candidates[0];
        let mut best_cost = f64::INFINITY;
        for &c in candidates.iter().chain(&incumbent) {
            let s = ctx.state(c);
            let cost = match ctx.latency(c) {
                Some(v) => v,
                None if s.in_flight == 0 => 0.0,
                None => default,
            };
            if cost < best_cost {
                best_cost = cost;
                best = c;
            }
        }
        self.incumbent = Some(best);
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
            fx.pick(&mut LeastLatency::new(3)).index(),
            2,
            "unmeasured is probed"
        );
        fx.record_latency(2, Duration::from_millis(500));
        assert_eq!(fx.pick(&mut LeastLatency::new(3)).index(), 1);
    }
}
