//! `random`: weighted random choice, what most gateways call simple shuffle. The baseline.

use rand::Rng as _;

use super::{Balancer, PickContext, Rng, Selection, SAMPLE_ABOVE};
use crate::ids::DeploymentId;

/// Picks with probability proportional to weight (uniformly if all weights are 0).
pub struct WeightedRandom;

/// Draws one candidate with probability proportional to `weight_of`.
pub(crate) fn weighted_pick(
    candidates: &[DeploymentId],
    rng: &mut Rng,
    mut weight_of: impl FnMut(DeploymentId) -> f64,
) -> DeploymentId {
    let total: f64 = candidates.iter().map(|&c| weight_of(c)).sum();
    if total.is_nan() || total <= 0.0 {
        return candidates[rng.random_range(0..candidates.len())];
    }
    let mut x = rng.random::<f64>() * total;
    for &c in candidates {
        x -= weight_of(c);
        if x < 0.0 {
            return c;
        }
    }
    // Rounding can leave x at a hair above zero: the last positive-weight candidate takes it.
    *candidates
        .iter()
        .rev()
        .find(|&&c| weight_of(c) > 0.0)
        .unwrap_or(&candidates[candidates.len() - 1])
}

/// Draws one candidate with probability proportional to `weight_of` in a single pass
/// (weighted reservoir sampling: each candidate replaces the choice with probability w ÷ Σw so
/// far), for weights too costly to compute twice. Uniform if every weight is 0.
pub(crate) fn weighted_pick_once(
    candidates: &[DeploymentId],
    rng: &mut Rng,
    mut weight_of: impl FnMut(DeploymentId) -> f64,
) -> DeploymentId {
    let mut total = 0.0;
    let mut chosen = None;
    for &c in candidates {
        let w = weight_of(c);
        if w > 0.0 {
            total += w;
            if rng.random::<f64>() * total < w {
                chosen = Some(c);
            }
        }
    }
    chosen.unwrap_or_else(|| candidates[rng.random_range(0..candidates.len())])
}

impl Balancer for WeightedRandom {
    // On large tiers the engine draws one usable deployment in proportion to weight (by
    // rejection), which is exactly this strategy's choice, without scanning the tier.
    fn selection(&self, tier_size: usize) -> Selection {
        super::sampled_above(SAMPLE_ABOVE, tier_size, 1, true)
    }

    fn pick(
        &mut self,
        ctx: &PickContext<'_>,
        candidates: &[DeploymentId],
        rng: &mut Rng,
    ) -> DeploymentId {
        weighted_pick(candidates, rng, |c| ctx.weight(c))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::strategy::testing::Fixture;

    #[test]
    fn shares_follow_weights_within_two_percent_over_100k_picks() {
        let fx = Fixture::weighted(&[3.0, 2.0, 1.0]);
        let counts = fx.count_picks(&mut WeightedRandom, 100_000);
        for (i, expected) in [0.5, 1.0 / 3.0, 1.0 / 6.0].into_iter().enumerate() {
            let share = counts[i] as f64 / 100_000.0;
            assert!(
                (share - expected).abs() < 0.02 * expected.max(0.1),
                "deployment {i}: {share}"
            );
        }
    }

    #[test]
    fn zero_weights_fall_back_to_uniform() {
        let fx = Fixture::weighted(&[0.0, 0.0]);
        let counts = fx.count_picks(&mut WeightedRandom, 10_000);
        assert!(counts[0] > 4_000 && counts[1] > 4_000, "{counts:?}");
    }
}
