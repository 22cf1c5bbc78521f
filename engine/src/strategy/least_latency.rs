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
        super::ranked_selection(self.sampled, Selection::ScanPick)
    }

    fn scan_pick(
        &mut self,
        ctx: &PickContext<'_>,
        deployments: &[DeploymentId],
        _rng: &mut Rng,
    ) -> Option<DeploymentId> {
        let mut fastest = Fastest::new(ctx);
        for &d in deployments {
            if ctx.usable(d) {
                fastest.offer(ctx, d);
            }
        }
        let best = fastest.best()?;
        self.incumbent = Some(best);
        Some(best)
    }

    fn pick(
        &mut self,
        ctx: &PickContext<'_>,
        candidates: &[DeploymentId],
        _rng: &mut Rng,
    ) -> DeploymentId {
        let incumbent = super::incumbent(self.sampled, self.incumbent, ctx, candidates);
        let mut fastest = Fastest::new(ctx);
        for &c in candidates.iter().chain(&incumbent) {
            fastest.offer(ctx, c);
        }
        let best = fastest.best().unwrap_or(candidates[0]);
        self.incumbent = Some(best);
        best
    }
}

/// The running argmin of a pick: the candidate with the lowest latency estimate so far.
struct Fastest {
    default: f64,
    first: Option<DeploymentId>,
    best: Option<DeploymentId>,
    best_cost: f64,
}

impl Fastest {
    fn new(ctx: &PickContext<'_>) -> Fastest {
        Fastest {
            default: ctx.balancing.default_latency.as_secs_f64(),
            first: None,
            best: None,
            best_cost: f64::INFINITY,
        }
    }

    #[inline(always)]
    fn offer(&mut self, ctx: &PickContext<'_>, c: DeploymentId) {
        self.first = self.first.or(Some(c));
        let cost = match ctx.latency(c) {
            Some(v) => v,
            None if ctx.state(c).in_flight == 0 => 0.0,
            None => self.default,
        };
        if cost < self.best_cost {
            self.best_cost = cost;
            self.best = Some(c);
        }
    }

    /// The fastest (the first of equals; the first if none is below infinity), `None` if
    /// nothing was offered.
    fn best(&self) -> Option<DeploymentId> {
        self.best.or(self.first)
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
