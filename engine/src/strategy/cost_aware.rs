//! `cost-aware`: the cheapest usable deployment whose latency estimate meets the tier's
//! objectives (`max_ttft`, `max_latency`); when none does, the fastest.
//!
//! ```text
//! price(c)   = input tokens × input price + estimated output tokens × output price
//! meets(c)   = TTFT estimate ≤ max_ttft  and  peak latency estimate ≤ max_latency
//!   TTFT estimate    = max(TTFT EWMA, silence)   (silence: how long attempts have waited
//!                                                  for a first byte without any arriving)
//!   latency estimate = peak-EWMA (jumps on a slow answer, decays slowly: a tail-ward
//!                      estimate, so the objective is kept by most requests, not the mean one)
//! pick       = argmin price over candidates that meet, ties by fewest in flight, then speed
//!            | argmin latency estimate, when none meets
//! ```
//!
//! A deployment that has never answered is assumed to meet the objectives while nothing is in
//! flight to it (it gets probed, as in `least-latency`), and is priced at the default latency
//! otherwise. Without objectives every candidate meets them and the cheapest wins. Estimates
//! decay while a deployment is idle, so a cheap deployment that missed its objective during a
//! slow spell is tried again once it has been left alone for a while.
//!
//! Tiers larger than [`SCAN_UP_TO`] are sampled like `least-latency`: the best of
//! [`RANKED_DRAWS`](super::RANKED_DRAWS) random usable deployments and the previous pick.

use super::{Balancer, PickContext, Rng, Selection, SCAN_UP_TO};
use crate::config::objectives::Objectives;
use crate::ids::DeploymentId;

/// Cheapest within the tier's latency objectives.
pub struct CostAware {
    objectives: Objectives,
    /// The previous pick, on a sampled tier.
    incumbent: Option<DeploymentId>,
    sampled: bool,
}

impl CostAware {
    /// Cost-aware for a tier of `tier_size` deployments with these objectives.
    pub fn new(objectives: Objectives, tier_size: usize) -> Self {
        CostAware {
            objectives,
            incumbent: None,
            sampled: tier_size > SCAN_UP_TO,
        }
    }

    /// (meets the objectives, latency estimate used to rank when none does) of `c`.
    fn judge(&self, ctx: &PickContext<'_>, c: DeploymentId) -> (bool, f64) {
        let s = ctx.state(c);
        let default = ctx.balancing.default_latency.as_secs_f64();
        let probe = s.in_flight == 0;
        let silence = s.silence(ctx.now).as_secs_f64();
        let ttft = match ctx.ttft(c) {
            Some(v) => Some(v.max(silence)),
            None if probe => None,
            None => Some(default.max(silence)),
        };
        let latency = match ctx.peak_latency(c) {
            Some(v) => Some(v),
            None if probe => None,
            None => Some(default),
        };
        let within = |estimate: Option<f64>, objective: Option<std::time::Duration>| match (
            estimate, objective,
        ) {
            (Some(e), Some(o)) => e <= o.as_secs_f64(),
            _ => true,
        };
        let meets =
            within(ttft, self.objectives.max_ttft) && within(latency, self.objectives.max_latency);
        // Rank by what the objectives are about: TTFT when only it is set, else whole latency.
        let speed = if self.objectives.max_ttft.is_some() && self.objectives.max_latency.is_none() {
            ttft
        } else {
            latency
        };
        (meets, speed.unwrap_or(0.0))
    }
}

impl Balancer for CostAware {
    fn selection(&self, _tier_size: usize) -> Selection {
        super::ranked_selection(self.sampled)
    }

    fn pick(
        &mut self,
        ctx: &PickContext<'_>,
        candidates: &[DeploymentId],
        _rng: &mut Rng,
    ) -> DeploymentId {
        let incumbent = super::incumbent(self.sampled, self.incumbent, ctx, candidates);
        let output = ctx.tokens.saturating_sub(ctx.input_tokens);
        // Best that meets the objectives: (price, in flight, speed); fastest overall: speed.
        let mut cheapest: Option<(DeploymentId, f64, u32, f64)> = None;
        let mut fastest: Option<(DeploymentId, f64)> = None;
        for &c in candidates.iter().chain(&incumbent) {
            let (meets, speed) = self.judge(ctx, c);
            if fastest.is_none_or(|(_, f)| speed < f) {
                fastest = Some((c, speed));
            }
            if !meets {
                continue;
            }
            let price = ctx.deployments[c.index()]
                .price
                .cost(ctx.input_tokens, output);
            let load = ctx.state(c).in_flight;
            let better = match cheapest {
                None => true,
                Some((_, p, l, s)) => {
                    price < p || (price == p && (load < l || (load == l && speed < s)))
                }
            };
            if better {
                cheapest = Some((c, price, load, speed));
            }
        }
        let best = match (cheapest, fastest) {
            (Some((c, ..)), _) | (None, Some((c, _))) => c,
            (None, None) => candidates[0],
        };
        self.incumbent = Some(best);
        best
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Price;
    use crate::strategy::testing::Fixture;
    use std::time::Duration;

    fn priced(prices: &[f64]) -> Fixture {
        let mut fx = Fixture::weighted(&vec![1.0; prices.len()]);
        for (d, &p) in fx.deployments.iter_mut().zip(prices) {
            d.price = Price {
                input_per_million: p,
                output_per_million: 4.0 * p,
            };
        }
        fx
    }

    fn slo(latency_ms: u64) -> Objectives {
        Objectives {
            max_ttft: None,
            max_latency: Some(Duration::from_millis(latency_ms)),
        }
    }

    #[test]
    fn cheapest_within_the_objective() {
        let mut fx = priced(&[10.0, 1.0, 3.0]);
        fx.record_latency(0, Duration::from_millis(200));
        fx.record_latency(1, Duration::from_millis(900));
        fx.record_latency(2, Duration::from_millis(400));
        assert_eq!(fx.pick(&mut CostAware::new(slo(1000), 3)).index(), 1);
        assert_eq!(
            fx.pick(&mut CostAware::new(slo(500), 3)).index(),
            2,
            "the cheapest misses 500 ms: the next cheapest that meets it"
        );
    }

    #[test]
    fn fastest_when_none_meets_the_objective() {
        let mut fx = priced(&[10.0, 1.0, 3.0]);
        fx.record_latency(0, Duration::from_millis(300));
        fx.record_latency(1, Duration::from_millis(900));
        fx.record_latency(2, Duration::from_millis(400));
        assert_eq!(fx.pick(&mut CostAware::new(slo(100), 3)).index(), 0);
    }

    #[test]
    fn without_objectives_the_cheapest() {
        let mut fx = priced(&[2.0, 5.0, 1.5]);
        fx.record_latency(2, Duration::from_secs(30));
        let mut b = CostAware::new(Objectives::default(), 3);
        assert_eq!(fx.pick(&mut b).index(), 2);
    }

    #[test]
    fn equal_prices_go_to_the_least_loaded() {
        let mut fx = priced(&[1.0, 1.0, 9.0]);
        for i in 0..3 {
            fx.record_latency(i, Duration::from_millis(100));
        }
        fx.states[0].in_flight = 3;
        fx.states[1].in_flight = 1;
        assert_eq!(fx.pick(&mut CostAware::new(slo(1000), 3)).index(), 1);
    }

    #[test]
    fn a_silent_deployment_misses_a_ttft_objective() {
        let mut fx = priced(&[1.0, 5.0]);
        fx.record_latency(0, Duration::from_millis(100));
        fx.record_latency(1, Duration::from_millis(100));
        let ttft = Objectives {
            max_ttft: Some(Duration::from_millis(500)),
            max_latency: None,
        };
        assert_eq!(fx.pick(&mut CostAware::new(ttft, 2)).index(), 0);
        fx.states[0].on_send(fx.now);
        fx.now += Duration::from_secs(1);
        assert_eq!(
            fx.pick(&mut CostAware::new(ttft, 2)).index(),
            1,
            "1 s without a first byte is past the 500 ms objective"
        );
    }

    #[test]
    fn an_unmeasured_deployment_is_probed_once() {
        let mut fx = priced(&[1.0, 5.0]);
        fx.record_latency(1, Duration::from_millis(100));
        assert_eq!(fx.pick(&mut CostAware::new(slo(500), 2)).index(), 0);
        fx.states[0].in_flight = 1;
        assert_eq!(
            fx.pick(&mut CostAware::new(slo(500), 2)).index(),
            1,
            "its probe is out: priced at the default latency (1 s), past the objective"
        );
    }
}
