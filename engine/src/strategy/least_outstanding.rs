//! `least-outstanding`: fewest in-flight requests per unit of weight, by power of two choices
//! (Envoy's least-request balancer).

use super::{p2c::pick_cheaper, Balancer, PickContext, Rng, Selection, SAMPLE_ABOVE};
use crate::ids::DeploymentId;

/// P2C on in-flight ÷ weight.
pub struct LeastOutstanding;

impl Balancer for LeastOutstanding {
    fn selection(&self, tier_size: usize) -> Selection {
        super::sampled_above(SAMPLE_ABOVE, tier_size, 2, false)
    }

    fn pick(
        &mut self,
        ctx: &PickContext<'_>,
        candidates: &[DeploymentId],
        rng: &mut Rng,
    ) -> DeploymentId {
        pick_cheaper(candidates, rng, |c| {
            let w = ctx.weight(c);
            if w > 0.0 {
                f64::from(ctx.state(c).in_flight + 1) / w
            } else {
                f64::INFINITY
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::strategy::testing::Fixture;

    #[test]
    fn avoids_the_busy_deployment() {
        let mut fx = Fixture::weighted(&[1.0, 1.0]);
        fx.states[0].in_flight = 10;
        let counts = fx.count_picks(&mut LeastOutstanding, 1000);
        assert_eq!(counts, vec![0, 1000]);
    }
}
