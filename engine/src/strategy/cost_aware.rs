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
//! slow spell is tried again once it has been left alone for a while — [`RECHECK_SLOWER`]
//! times more slowly than the latency-ranking strategies let them fade, because here each
//! re-check of a deployment that is still slow is an answer past the objective.
//!
//! Tiers larger than [`SCAN_UP_TO`] are sampled like `least-latency`: the best of
//! [`RANKED_DRAWS`](super::RANKED_DRAWS) random usable deployments and the previous pick.

use std::time::Duration;

use super::{Balancer, PickContext, Rng, Selection, SCAN_UP_TO};
use crate::config::objectives::Objectives;
use crate::ids::DeploymentId;
use crate::latency::Ewma;

/// How many times more slowly than usual an idle deployment's estimates fade here: with the
/// default 10 s `latency_decay` (idle estimates fade with a 40 s time constant elsewhere, 80 s
/// here), a deployment 20 % past its objective is re-checked after ~15 s idle instead of ~7 s.
pub const RECHECK_SLOWER: f64 = 2.0;

/// A deployment that missed an objective comes back only once its estimates are this fraction
/// of it (hysteresis): one answer just under the objective from a deployment still slow is
/// not enough.
pub const REENTER_BELOW: f64 = 0.8;

/// Cheapest within the tier's latency objectives.
pub struct CostAware {
    objectives: Objectives,
    /// The previous pick, on a sampled tier.
    incumbent: Option<DeploymentId>,
    sampled: bool,
    /// Per deployment of the config: whether it last missed an objective as measured.
    missed: Vec<bool>,
}

/// How a deployment's estimate stands against one objective.
#[derive(Clone, Copy, PartialEq)]
enum Standing {
    /// Meets it as measured (or there is no such objective).
    Meets,
    /// Meets it only once faded by idle time, and nothing is in flight: one re-check.
    Recheck,
    /// Misses it.
    Misses,
}

impl CostAware {
    /// Cost-aware for a tier of `tier_size` deployments with these objectives, in a config of
    /// `deployments` deployments.
    pub fn new(objectives: Objectives, deployments: usize, tier_size: usize) -> Self {
        CostAware {
            objectives,
            incumbent: None,
            sampled: tier_size > SCAN_UP_TO,
            missed: vec![false; deployments],
        }
    }

    /// (meets the objectives, meets them as measured, latency estimate used to rank when none
    /// meets them) of `c`.
    ///
    /// A deployment meets the objectives if its estimates do as measured; or if they do only
    /// after fading while it was idle and nothing is in flight to it: one attempt re-checks
    /// it, instead of every request until the first slow answer is back. One that missed comes
    /// back below [`REENTER_BELOW`] of the objectives.
    fn judge(&self, ctx: &PickContext<'_>, c: DeploymentId) -> (bool, bool, f64) {
        let s = ctx.state(c);
        let default = ctx.balancing.default_latency.as_secs_f64();
        let probe = s.in_flight == 0;
        // As measured (at least `floor`), in seconds; `None`: never measured. Fading by idle
        // time (an exponential) is computed only for a re-check, which is rare.
        let measured = |e: &Ewma, floor: f64| e.value().map(|v| v.max(floor));
        if !self.objectives.any() {
            // Every candidate meets no objectives; only the ranking speed is needed.
            let speed = match measured(&s.peak_latency, 0.0) {
                Some(v) => v,
                None if probe => 0.0,
                None => default,
            };
            return (true, true, speed);
        }
        let idle = ctx.fading_rate() / RECHECK_SLOWER;
        // Silence only raises the TTFT estimate, used only with a TTFT objective.
        let silence = match self.objectives.max_ttft {
            Some(_) => s.silence(ctx.now).as_secs_f64(),
            None => 0.0,
        };
        let bar = match self.missed.get(c.index()) {
            Some(true) => REENTER_BELOW,
            _ => 1.0,
        };
        let standing = |e: &Ewma, floor: f64, objective: Option<Duration>| {
            let Some(o) = objective else {
                return Standing::Meets;
            };
            let o = o.as_secs_f64() * bar;
            match measured(e, floor) {
                None if probe || default <= o => Standing::Meets,
                Some(v) if v <= o => Standing::Meets,
                Some(_)
                    if probe
                        && e.decayed_at(ctx.now_secs(), idle)
                            .is_some_and(|v| v.max(floor) <= o) =>
                {
                    Standing::Recheck
                }
                _ => Standing::Misses,
            }
        };
        let standings = [
            standing(&s.ttft, silence, self.objectives.max_ttft),
            standing(&s.peak_latency, 0.0, self.objectives.max_latency),
        ];
        let meets = !standings.contains(&Standing::Misses);
        let as_measured = standings.iter().all(|&s| s == Standing::Meets);
        // Rank by what the objectives are about: TTFT when only it is set, else whole latency.
        let speed = if self.objectives.max_ttft.is_some() && self.objectives.max_latency.is_none() {
            measured(&s.ttft, silence)
        } else {
            measured(&s.peak_latency, 0.0)
        };
        let speed = match speed {
            Some(v) => v,
            None if probe => 0.0,
            None => default,
        };
        (meets, as_measured, speed)
    }
}

impl Balancer for CostAware {
    fn selection(&self, _tier_size: usize) -> Selection {
        // Its own scan measured slower than judging the engine's collected candidates.
        super::ranked_selection(self.sampled, Selection::Scan)
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
            let (meets, as_measured, speed) = self.judge(ctx, c);
            if let Some(missed) = self.missed.get_mut(c.index()) {
                *missed = !as_measured;
            }
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

    fn priced(prices: &[f64]) -> Fixture {
        let mut fx = Fixture::weighted(&vec![1.0; prices.len()]);
        for (d, &p) in fx.deployments.iter_mut().zip(prices) {
            d.price = Price {
                input_per_million: p,
                output_per_million: 4.0 * p,
                cached_input_per_million: p,
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
        assert_eq!(fx.pick(&mut CostAware::new(slo(1000), 3, 3)).index(), 1);
        assert_eq!(
            fx.pick(&mut CostAware::new(slo(500), 3, 3)).index(),
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
        assert_eq!(fx.pick(&mut CostAware::new(slo(100), 3, 3)).index(), 0);
    }

    #[test]
    fn without_objectives_the_cheapest() {
        let mut fx = priced(&[2.0, 5.0, 1.5]);
        fx.record_latency(2, Duration::from_secs(30));
        let mut b = CostAware::new(Objectives::default(), 3, 3);
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
        assert_eq!(fx.pick(&mut CostAware::new(slo(1000), 3, 3)).index(), 1);
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
        assert_eq!(fx.pick(&mut CostAware::new(ttft, 2, 2)).index(), 0);
        fx.states[0].on_send(fx.now);
        fx.now += Duration::from_secs(1);
        assert_eq!(
            fx.pick(&mut CostAware::new(ttft, 2, 2)).index(),
            1,
            "1 s without a first byte is past the 500 ms objective"
        );
    }

    #[test]
    fn a_deployment_past_its_objective_is_rechecked_by_one_attempt_once_idle() {
        let mut fx = priced(&[1.0, 5.0]);
        fx.record_latency(0, Duration::from_millis(1200));
        fx.record_latency(1, Duration::from_millis(100));
        let mut b = CostAware::new(slo(1000), 2, 2);
        assert_eq!(fx.pick(&mut b).index(), 1, "1.2 s is past 1 s");
        // It missed, so it comes back below 0.8 s: 1.2 × e^(−t ÷ 80 s) < 0.8 after ~33 s idle
        // (τ = 4 × 10 s × RECHECK_SLOWER).
        fx.now += Duration::from_secs(30);
        assert_eq!(fx.pick(&mut b).index(), 1, "not faded enough after 30 s");
        fx.now += Duration::from_secs(5);
        assert_eq!(fx.pick(&mut b).index(), 0, "re-checked after 35 s");
        fx.states[0].in_flight = 1;
        assert_eq!(
            fx.pick(&mut b).index(),
            1,
            "one re-check at a time: the rest go on to the one that meets it as measured"
        );
    }

    #[test]
    fn one_that_missed_comes_back_only_well_under_the_objective() {
        let mut fx = priced(&[1.0, 5.0]);
        fx.record_latency(0, Duration::from_millis(1500));
        fx.record_latency(1, Duration::from_millis(100));
        let mut b = CostAware::new(slo(1000), 2, 2);
        assert_eq!(fx.pick(&mut b).index(), 1);
        fx.now += Duration::from_secs(60);
        fx.record_latency(0, Duration::from_millis(900));
        assert_eq!(fx.pick(&mut b).index(), 1, "0.9 s is above 0.8 × 1 s");
        fx.now += Duration::from_secs(60);
        fx.record_latency(0, Duration::from_millis(700));
        assert_eq!(fx.pick(&mut b).index(), 0, "0.7 s: back");
        fx.now += Duration::from_secs(60);
        fx.record_latency(0, Duration::from_millis(950));
        assert_eq!(
            fx.pick(&mut b).index(),
            0,
            "once back, it stays while it meets the objective itself"
        );
    }

    #[test]
    fn an_unmeasured_deployment_is_probed_once() {
        let mut fx = priced(&[1.0, 5.0]);
        fx.record_latency(1, Duration::from_millis(100));
        assert_eq!(fx.pick(&mut CostAware::new(slo(500), 2, 2)).index(), 0);
        fx.states[0].in_flight = 1;
        assert_eq!(
            fx.pick(&mut CostAware::new(slo(500), 2, 2)).index(),
            1,
            "its probe is out: priced at the default latency (1 s), past the objective"
        );
    }
}
