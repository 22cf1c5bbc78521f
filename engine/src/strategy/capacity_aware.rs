//! `capacity-aware`: the deployment with the most rate-limit headroom left after this request,
//! as a fraction of its tightest limit (requests/min, tokens/min, requests/day). Deployments that
//! cannot fit the request's estimated tokens are never candidates. Ties (e.g. no limits at all)
//! are broken by weighted random.
//!
//! Tiers larger than [`SCAN_UP_TO`] are not scanned: the pick is the roomiest of
//! [`RANKED_DRAWS`](super::RANKED_DRAWS) random usable deployments and the previous pick (power
//! of d choices with memory), which spreads load over the roomy deployments without checking
//! all of them.

use rand::Rng as _;

use super::{Balancer, PickContext, Rng, Selection, SCAN_UP_TO};
use crate::ids::DeploymentId;

/// Argmax of remaining headroom fraction.
pub struct CapacityAware {
    /// The previous pick, on a sampled tier.
    incumbent: Option<DeploymentId>,
    sampled: bool,
}

impl CapacityAware {
    /// Capacity-aware for a tier of `tier_size` deployments.
    pub fn new(tier_size: usize) -> Self {
        CapacityAware {
            incumbent: None,
            sampled: tier_size > SCAN_UP_TO,
        }
    }
}

impl Balancer for CapacityAware {
    fn selection(&self, _tier_size: usize) -> Selection {
        super::ranked_selection(self.sampled, Selection::ScanPick)
    }

    fn scan_pick(
        &mut self,
        ctx: &PickContext<'_>,
        deployments: &[DeploymentId],
        rng: &mut Rng,
    ) -> Option<DeploymentId> {
        let mut roomiest = Roomiest::default();
        for &d in deployments {
            if let Some(h) = ctx.usable_headroom(d) {
                roomiest.offer(ctx, d, h, rng);
            }
        }
        let chosen = roomiest.chosen?;
        self.incumbent = Some(chosen);
        Some(chosen)
    }

    fn pick(
        &mut self,
        ctx: &PickContext<'_>,
        candidates: &[DeploymentId],
        rng: &mut Rng,
    ) -> DeploymentId {
        let incumbent = super::incumbent(self.sampled, self.incumbent, ctx, candidates);
        let mut roomiest = Roomiest::default();
        for &c in candidates.iter().chain(&incumbent) {
            roomiest.offer(ctx, c, ctx.headroom(c), rng);
        }
        let chosen = roomiest.chosen.unwrap_or(candidates[0]);
        self.incumbent = Some(chosen);
        chosen
    }
}

/// The running choice of a pick: the best headroom so far and a weighted reservoir over its
/// ties.
struct Roomiest {
    best: f64,
    tied_weight: f64,
    chosen: Option<DeploymentId>,
}

impl Default for Roomiest {
    fn default() -> Roomiest {
        Roomiest {
            best: f64::NEG_INFINITY,
            tied_weight: 0.0,
            chosen: None,
        }
    }
}

impl Roomiest {
    #[inline(always)]
    fn offer(&mut self, ctx: &PickContext<'_>, c: DeploymentId, headroom: f64, rng: &mut Rng) {
        let w = ctx.weight(c);
        if headroom > self.best {
            self.best = headroom;
            self.tied_weight = w;
            self.chosen = Some(c);
        } else if headroom == self.best && w > 0.0 {
            self.tied_weight += w;
            if rng.random::<f64>() * self.tied_weight < w {
                self.chosen = Some(c);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::strategy::testing::Fixture;

    #[test]
    fn picks_the_emptiest_window() {
        let mut fx = Fixture::with_rpm(&[100, 100]);
        fx.states[0].rpm.charge(fx.now, 60);
        fx.states[1].rpm.charge(fx.now, 10);
        assert_eq!(fx.pick(&mut CapacityAware::new(2)).index(), 1);
        fx.states[1].rpm.charge(fx.now, 60);
        assert_eq!(fx.pick(&mut CapacityAware::new(2)).index(), 0);
    }

    #[test]
    fn ties_follow_weights() {
        let fx = Fixture::weighted(&[3.0, 1.0]);
        let counts = fx.count_picks(&mut CapacityAware::new(2), 8_000);
        assert!((5_600..6_400).contains(&counts[0]), "{counts:?}");
    }
}
