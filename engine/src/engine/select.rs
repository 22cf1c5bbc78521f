//! Where the next attempt goes: the request's tier chain, the candidates a strategy chooses
//! from pass by pass (untried, tried after backoff, the one that just failed, breakers
//! ignored), and when something in the chain is next usable.

use std::time::Duration;

use rand::Rng as _;

use super::{Engine, Pass, Slot};
use crate::config::Config;
use crate::ids::{DeploymentId, TierId};
use crate::latency::DecayRates;
use crate::state::{Blocked, DeploymentState};
use crate::strategy::{PickContext, Selection};

impl Engine {
    /// Whether every deployment of a tier chain is out of rotation (its key refused).
    pub(super) fn chain_disabled(&self, tier: TierId) -> bool {
        self.chain(tier).all(|t| {
            self.config
                .tier(t)
                .deployments
                .iter()
                .all(|d| self.states[d.index()].disabled)
        })
    }

    /// The tier chain of a request: its own tier, then that tier's fallbacks in order.
    pub(super) fn chain(&self, tier: TierId) -> impl Iterator<Item = TierId> + '_ {
        (0..self.chain_len(tier)).map(move |p| self.chain_at(tier, p))
    }

    pub(super) fn chain_len(&self, tier: TierId) -> usize {
        1 + self.config.tier(tier).fallback.len()
    }

    pub(super) fn chain_at(&self, tier: TierId, position: usize) -> TierId {
        match position {
            0 => tier,
            p => self.config.tier(tier).fallback[p - 1],
        }
    }

    /// Picks a deployment pass by pass, tier by tier. A strategy may decline a tier whose every
    /// candidate looks broken, so the request spills to the next tier instead; if nothing else
    /// is usable either, the first declined tier is asked again and must pick.
    pub(super) fn choose(&mut self, slot: usize, now: Duration) -> Option<(DeploymentId, bool)> {
        if let Some(d) = self.sticky(slot, now) {
            return Some((d, false));
        }
        let mut scratch = std::mem::take(&mut self.scratch);
        let tier = self.slots[slot].tier;
        let moved = tier != self.slots[slot].request.tier;
        let mut declined: Option<(Pass, usize)> = None;
        let mut picked = None;
        'passes: for pass in [Pass::Fresh, Pass::Tried, Pass::LastFailed, Pass::Panic] {
            if pass == Pass::Panic && declined.is_some() {
                // A declined tier still has usable deployments: ask it again before
                // overriding any circuit breaker.
                break;
            }
            for position in 0..self.chain_len(tier) {
                let t = self.chain_at(tier, position);
                if pass == Pass::Fresh
                    && self.slots[slot].tried_len == 0
                    && self.selections[t.index()] == Selection::ScanPick
                {
                    // The strategy checks and ranks the tier's deployments in one pass.
                    let ctx = pick_context(
                        &self.config,
                        &self.states,
                        &self.slots[slot],
                        self.rates,
                        now,
                    );
                    let deployments = &self.config.tiers[t.index()].deployments;
                    let balancer = &mut self.balancers[t.index()];
                    if let Some(d) = balancer.scan_pick(&ctx, deployments, &mut self.rng) {
                        picked = Some((d, moved || position > 0));
                        break 'passes;
                    }
                    continue;
                }
                scratch.clear();
                self.candidates(&mut scratch, slot, t, pass, now);
                if scratch.is_empty() {
                    continue;
                }
                let ctx = pick_context(
                    &self.config,
                    &self.states,
                    &self.slots[slot],
                    self.rates,
                    now,
                );
                if self.balancers[t.index()].declines(&ctx, &scratch) {
                    declined = declined.or(Some((pass, position)));
                    continue;
                }
                let d = self.balancers[t.index()].pick(&ctx, &scratch, &mut self.rng);
                picked = Some((d, moved || position > 0));
                break 'passes;
            }
        }
        if let (None, Some((pass, position))) = (picked, declined) {
            let t = self.chain_at(tier, position);
            scratch.clear();
            self.collect(&mut scratch, slot, t, pass, now);
            let ctx = pick_context(
                &self.config,
                &self.states,
                &self.slots[slot],
                self.rates,
                now,
            );
            let d = self.balancers[t.index()].pick(&ctx, &scratch, &mut self.rng);
            picked = Some((d, moved || position > 0));
        }
        self.scratch = scratch;
        picked
    }

    /// The candidates a strategy chooses from: every usable deployment of the pass, or — on a
    /// first try, for a strategy that says so (see [`Selection`]) — a few drawn at random among
    /// the usable ones, or the one its own schedule names. Either keeps a decision from
    /// checking every deployment of a large tier; if it finds nothing, the tier is scanned
    /// after all.
    pub(super) fn candidates(
        &mut self,
        out: &mut Vec<DeploymentId>,
        slot: usize,
        tier: TierId,
        pass: Pass,
        now: Duration,
    ) {
        if pass == Pass::Fresh {
            match self.selections[tier.index()] {
                Selection::Scan | Selection::ScanPick => {}
                Selection::Sample { draws, weighted } => {
                    self.sample(out, slot, tier, draws, weighted, now);
                }
                Selection::Schedule => {
                    let ctx = pick_context(
                        &self.config,
                        &self.states,
                        &self.slots[slot],
                        self.rates,
                        now,
                    );
                    out.extend(self.balancers[tier.index()].nominate(&ctx));
                }
            }
            if !out.is_empty() {
                return;
            }
        }
        self.collect(out, slot, tier, pass, now);
    }

    /// Up to `k` distinct usable, untried deployments of `tier` that the tier's balancer keeps,
    /// by at most 8·k random draws (rejection sampling: each usable deployment is equally
    /// likely, or as likely as its weight when `weighted`).
    pub(super) fn sample(
        &mut self,
        out: &mut Vec<DeploymentId>,
        slot: usize,
        tier: TierId,
        k: usize,
        weighted: bool,
        now: Duration,
    ) {
        let ctx = pick_context(
            &self.config,
            &self.states,
            &self.slots[slot],
            self.rates,
            now,
        );
        let balancer = &self.balancers[tier.index()];
        let deployments = &self.config.tiers[tier.index()].deployments;
        let cumulative = &self.cumulative_weights[tier.index()];
        let total = cumulative.last().copied().unwrap_or(0.0);
        for _ in 0..8 * k {
            if out.len() == k {
                break;
            }
            let i = if weighted && total > 0.0 {
                let x = self.rng.random::<f64>() * total;
                cumulative
                    .partition_point(|&c| c <= x)
                    .min(deployments.len() - 1)
            } else {
                self.rng.random_range(0..deployments.len())
            };
            let d = deployments[i];
            if !out.contains(&d) && ctx.usable(d) && balancer.keeps_draw(&ctx, d, &mut self.rng) {
                out.push(d);
            }
        }
    }

    pub(super) fn collect(
        &self,
        out: &mut Vec<DeploymentId>,
        slot: usize,
        tier: TierId,
        pass: Pass,
        now: Duration,
    ) {
        let s = &self.slots[slot];
        let tokens = s.request.estimated_tokens() as f64;
        let now_secs = now.as_secs_f64();
        let deployments = &self.config.tier(tier).deployments;
        if pass == Pass::Fresh && s.tried_len == 0 {
            // A first try, the common case: every usable deployment is eligible.
            for &d in deployments {
                if self.states[d.index()]
                    .check_at(now, now_secs, tokens)
                    .is_ok()
                {
                    out.push(d);
                }
            }
            return;
        }
        let backoff_over = now >= s.backoff_until;
        for &d in deployments {
            let tried = s.has_tried(d);
            let eligible = match pass {
                Pass::Fresh => !tried,
                Pass::Tried => tried && backoff_over && s.last_failed != Some(d),
                Pass::LastFailed => backoff_over && s.last_failed == Some(d),
                Pass::Panic => !tried || backoff_over,
            };
            if !eligible {
                continue;
            }
            let usable = match self.states[d.index()].check_at(now, now_secs, tokens) {
                Ok(()) => pass != Pass::Panic,
                Err(Blocked::Breaker) => pass == Pass::Panic,
                Err(_) => false,
            };
            if usable {
                out.push(d);
            }
        }
    }

    /// When something in the request's chain could next be used (backoff included).
    pub(super) fn earliest_usable(&self, slot: usize, now: Duration) -> Option<Duration> {
        let s = &self.slots[slot];
        let tokens = s.request.estimated_tokens();
        let mut earliest: Option<Duration> = None;
        for t in self.chain(s.tier) {
            for &d in &self.config.tier(t).deployments {
                let Some(mut at) = self.states[d.index()].available_at(now, tokens) else {
                    continue;
                };
                if s.has_tried(d) {
                    at = at.max(s.backoff_until);
                }
                earliest = Some(earliest.map_or(at, |e| e.min(at)));
            }
        }
        earliest
    }
}

fn pick_context<'a>(
    config: &'a Config,
    states: &'a [DeploymentState],
    slot: &'a Slot,
    rates: DecayRates,
    now: Duration,
) -> PickContext<'a> {
    PickContext::new(
        now,
        slot.request.estimated_tokens(),
        u64::from(slot.request.input_tokens),
        &config.deployments,
        &states[..config.deployments.len()],
        &config.balancing,
        &config.health,
        &slot.tried[..usize::from(slot.tried_len)],
        rates,
    )
}
