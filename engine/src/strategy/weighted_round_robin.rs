//! `weighted-round-robin`: nginx's smooth weighted round robin, and stride scheduling on large
//! tiers.
//!
//! Smooth round robin adds every candidate's weight to its running score, takes the highest
//! score and subtracts the total weight from it. Over a cycle of Σw picks each deployment is
//! chosen exactly w times, interleaved (3:2:1 gives a b a c b a, not a a a b b c). Unusable
//! deployments are not candidates, so their score stands still, as nginx does for peers marked
//! down. That is a pass over every candidate per pick, so tiers larger than
//! [`SCAN_UP_TO`](super::SCAN_UP_TO) use a [stride schedule](super::stride) instead: the same
//! exact shares over every cycle (and the same order for 3:2:1) in O(log n), where a deployment
//! that is unusable when its turn comes loses that turn.

use super::stride::StrideSchedule;
use super::{Balancer, PickContext, Rng, Selection, SCAN_UP_TO};
use crate::ids::DeploymentId;

/// The turn order of one tier.
pub struct WeightedRoundRobin {
    order: Order,
}

enum Order {
    /// Running scores, one per deployment of the config.
    Smooth(Vec<f64>),
    Stride(StrideSchedule),
}

impl WeightedRoundRobin {
    /// Round robin over `members` (deployment, weight) of a config with `deployments`
    /// deployments.
    pub fn new(deployments: usize, members: &[(DeploymentId, f64)]) -> Self {
        let order = if members.len() > SCAN_UP_TO {
            Order::Stride(StrideSchedule::new(deployments, members))
        } else {
            Order::Smooth(vec![0.0; deployments])
        };
        WeightedRoundRobin { order }
    }
}

/// Deployments passed over in one nomination before the engine scans the tier instead.
const MAX_SKIPS: usize = 64;

impl Balancer for WeightedRoundRobin {
    fn selection(&self, _tier_size: usize) -> Selection {
        match self.order {
            Order::Smooth(_) => Selection::ScanPick,
            Order::Stride(_) => Selection::Schedule,
        }
    }

    fn nominate(&mut self, ctx: &PickContext<'_>) -> Option<DeploymentId> {
        match &mut self.order {
            Order::Smooth(_) => None,
            Order::Stride(schedule) => schedule.peek_usable(MAX_SKIPS, |d| ctx.usable(d)),
        }
    }

    fn scan_pick(
        &mut self,
        ctx: &PickContext<'_>,
        deployments: &[DeploymentId],
        _rng: &mut Rng,
    ) -> Option<DeploymentId> {
        let Order::Smooth(current) = &mut self.order else {
            return None;
        };
        let mut turn = Turn::default();
        for &d in deployments {
            if ctx.usable(d) {
                turn.offer(current, d, ctx.weight(d));
            }
        }
        turn.take(current)
    }

    fn pick(
        &mut self,
        ctx: &PickContext<'_>,
        candidates: &[DeploymentId],
        _rng: &mut Rng,
    ) -> DeploymentId {
        let current = match &mut self.order {
            Order::Smooth(current) => current,
            Order::Stride(schedule) => return schedule.take(candidates),
        };
        let mut turn = Turn::default();
        for &c in candidates {
            turn.offer(current, c, ctx.weight(c));
        }
        turn.take(current).unwrap_or(candidates[0])
    }
}

/// One turn of smooth weighted round robin, candidate by candidate: each one's running score
/// grows by its weight, and the highest score so far (the first of equals) is the pick.
struct Turn {
    total: f64,
    first: Option<DeploymentId>,
    best: Option<DeploymentId>,
    best_score: f64,
}

impl Default for Turn {
    fn default() -> Turn {
        Turn {
            total: 0.0,
            first: None,
            best: None,
            best_score: f64::NEG_INFINITY,
        }
    }
}

impl Turn {
    #[inline(always)]
    fn offer(&mut self, current: &mut [f64], c: DeploymentId, w: f64) {
        self.first = self.first.or(Some(c));
        self.total += w;
        let score = &mut current[c.index()];
        *score += w;
        if *score > self.best_score {
            self.best_score = *score;
            self.best = Some(c);
        }
    }

    /// The pick, its score lowered by the total weight offered; `None` if nothing was offered.
    fn take(self, current: &mut [f64]) -> Option<DeploymentId> {
        let best = self.best.or(self.first)?;
        current[best.index()] -= self.total;
        Some(best)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::strategy::testing::Fixture;

    #[test]
    fn interleaves_three_two_one() {
        let fx = Fixture::weighted(&[3.0, 2.0, 1.0]);
        let mut wrr = WeightedRoundRobin::new(3, &fx.members());
        let order: Vec<usize> = (0..6).map(|_| fx.pick(&mut wrr).index()).collect();
        assert_eq!(order, vec![0, 1, 0, 2, 1, 0]);
    }

    #[test]
    fn exact_shares_over_full_cycles() {
        let fx = Fixture::weighted(&[5.0, 1.0, 1.0, 3.0]);
        let counts = fx.count_picks(&mut WeightedRoundRobin::new(4, &fx.members()), 10 * 10);
        assert_eq!(counts, vec![50, 10, 10, 30]);
    }
}
