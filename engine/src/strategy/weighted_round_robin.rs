//! `weighted-round-robin`: nginx's smooth weighted round robin.
//!
//! Each pick adds every candidate's weight to its running score, takes the highest score and
//! subtracts the total weight from it. Over a cycle of Σw picks each deployment is chosen exactly
//! w times, interleaved (3:2:1 gives a b a c b a, not a a a b b c). Unusable deployments are not
//! candidates, so their score stands still, as nginx does for peers marked down.

use super::{Balancer, PickContext, Rng};
use crate::ids::DeploymentId;

/// Running scores, one per deployment of the config.
pub struct WeightedRoundRobin {
    current: Vec<f64>,
}

impl WeightedRoundRobin {
    /// Zeroed scores for `deployments` deployments.
    pub fn new(deployments: usize) -> Self {
        WeightedRoundRobin {
            current: vec![0.0; deployments],
        }
    }
}

impl Balancer for WeightedRoundRobin {
    fn pick(
        &mut self,
        ctx: &PickContext<'_>,
        candidates: &[DeploymentId],
        _rng: &mut Rng,
    ) -> DeploymentId {
        let mut total = 0.0;
        let mut best = candidates[0];
        let mut best_score = f64::NEG_INFINITY;
        for &c in candidates {
            let w = ctx.weight(c);
            total += w;
            let score = &mut self.current[c.index()];
            *score += w;
            if *score > best_score {
                best_score = *score;
                best = c;
            }
        }
        self.current[best.index()] -= total;
        best
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::strategy::testing::Fixture;

    #[test]
    fn interleaves_three_two_one() {
        let fx = Fixture::weighted(&[3.0, 2.0, 1.0]);
        let mut wrr = WeightedRoundRobin::new(3);
        let order: Vec<usize> = (0..6).map(|_| fx.pick(&mut wrr).index()).collect();
        assert_eq!(order, vec![0, 1, 0, 2, 1, 0]);
    }

    #[test]
    fn exact_shares_over_full_cycles() {
        let fx = Fixture::weighted(&[5.0, 1.0, 1.0, 3.0]);
        let counts = fx.count_picks(&mut WeightedRoundRobin::new(4), 10 * 10);
        assert_eq!(counts, vec![50, 10, 10, 30]);
    }
}
