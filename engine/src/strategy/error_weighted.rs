//! `error-weighted`: weighted random where each weight is scaled by e^(−k·error rate).
//!
//! With the default sensitivity k = 50, a deployment failing 5 % of attempts keeps 8 % of its
//! share while one failing 0.1 % keeps 95 %: a sick deployment is drained long before its
//! circuit breaker would open, and recovers its share as the error rate decays.
//!
//! On tiers larger than [`SAMPLE_ABOVE`] the engine draws deployments in proportion to weight
//! and keeps each draw with probability e^(−k·error rate) (rejection sampling), which yields
//! exactly the same distribution without computing every deployment's error rate.

use rand::Rng as _;

use super::{random::weighted_pick_once, Balancer, PickContext, Rng, Selection, SAMPLE_ABOVE};
use crate::ids::DeploymentId;

/// Weighted random on weight × e^(−k·error rate).
pub struct ErrorWeighted;

/// The factor e^(−k·error rate) that scales a deployment's weight.
fn health(ctx: &PickContext<'_>, c: DeploymentId) -> f64 {
    let k = ctx.balancing.error_sensitivity;
    crate::latency::decay(k * ctx.error_rate(c))
}

impl Balancer for ErrorWeighted {
    fn selection(&self, tier_size: usize) -> Selection {
        super::sampled_above(SAMPLE_ABOVE, tier_size, 1, true)
    }

    fn keeps_draw(&self, ctx: &PickContext<'_>, candidate: DeploymentId, rng: &mut Rng) -> bool {
        let p = health(ctx, candidate);
        p >= 1.0 || rng.random::<f64>() < p
    }

    fn pick(
        &mut self,
        ctx: &PickContext<'_>,
        candidates: &[DeploymentId],
        rng: &mut Rng,
    ) -> DeploymentId {
        weighted_pick_once(candidates, rng, |c| ctx.weight(c) * health(ctx, c))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::strategy::testing::Fixture;
    use rand::SeedableRng;

    #[test]
    fn five_percent_errors_gets_far_less_than_a_tenth_of_a_percent() {
        let mut fx = Fixture::weighted(&[1.0, 1.0]);
        fx.record_results(0, 1000, 50);
        fx.record_results(1, 1000, 1);
        let counts = fx.count_picks(&mut ErrorWeighted, 10_000);
        assert!(counts[0] * 5 < counts[1], "{counts:?}");
    }

    #[test]
    fn draws_kept_by_rejection_follow_the_same_distribution_as_a_scan() {
        let mut fx = Fixture::weighted(&[1.0, 2.0, 3.0, 4.0]);
        fx.record_results(0, 100, 1);
        fx.record_results(1, 100, 3);
        fx.record_results(2, 100, 0);
        fx.record_results(3, 100, 2);
        let ctx = fx.ctx();
        let factors: Vec<f64> = (0..4)
            .map(|i| fx.deployments[i].weight * health(&ctx, DeploymentId::from_index(i)))
            .collect();
        let total: f64 = factors.iter().sum();
        let n = 200_000;
        let scanned = fx.count_picks(&mut ErrorWeighted, n);
        let mut kept = [0usize; 4];
        let mut rng = Rng::seed_from_u64(5);
        let candidates: Vec<_> = (0..4).map(DeploymentId::from_index).collect();
        for _ in 0..n {
            loop {
                let d =
                    super::super::random::weighted_pick(&candidates, &mut rng, |c| ctx.weight(c));
                if ErrorWeighted.keeps_draw(&ctx, d, &mut rng) {
                    kept[d.index()] += 1;
                    break;
                }
            }
        }
        for i in 0..4 {
            let expected = factors[i] / total;
            for (how, counts) in [("scan", &scanned[..]), ("rejection", &kept[..])] {
                let share = counts[i] as f64 / n as f64;
                assert!(
                    (share - expected).abs() < 0.01,
                    "{how}: deployment {i} got {share:.4}, expected {expected:.4}"
                );
            }
        }
    }
}
