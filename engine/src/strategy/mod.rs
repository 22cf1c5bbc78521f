//! Load-balancing strategies: each picks one deployment out of a tier's usable candidates.
//!
//! The engine filters first (cooldown, breaker, headroom, already tried), so a strategy only
//! ranks; every strategy therefore skips unusable deployments by construction. One strategy
//! instance lives per tier, owning whatever state it needs, sized once at construction.

mod adaptive;
mod capacity_aware;
mod context;
mod cost_aware;
mod error_weighted;
mod kind;
mod least_latency;
mod least_outstanding;
mod p2c;
mod peak_ewma;
mod random;
mod stride;
mod weighted_round_robin;

use crate::ids::DeploymentId;

pub use context::PickContext;
pub use kind::StrategyKind;

/// The engine's deterministic random source.
pub type Rng = rand_pcg::Pcg64Mcg;

/// A load-balancing algorithm.
pub trait Balancer: Send {
    /// Whether to pass on this tier because every candidate looks broken, letting the request
    /// spill to the next tier first. The engine asks again, and must be answered with a pick,
    /// when no other tier has anything usable. Most strategies never decline.
    fn declines(&self, _ctx: &PickContext<'_>, _candidates: &[DeploymentId]) -> bool {
        false
    }

    /// How the engine finds the candidates of a first-try pass in a tier of `tier_size`
    /// deployments. Asked once per tier when the engine is built.
    fn selection(&self, _tier_size: usize) -> Selection {
        Selection::Scan
    }

    /// For [`Selection::Sample`]: whether to keep a drawn usable candidate (a rejection step).
    /// Keeping a draw with probability p(c) turns draws in proportion to weight into draws in
    /// proportion to weight × p(c), exactly.
    fn keeps_draw(&self, _ctx: &PickContext<'_>, _candidate: DeploymentId, _rng: &mut Rng) -> bool {
        true
    }

    /// For [`Selection::Schedule`]: the strategy's next candidate that could take the request
    /// as a first try (untried, not cooling down, headroom left, breaker closed), passing over
    /// (and charging a turn to) the ones that could not. `None` when the schedule cannot say cheaply; the engine then scans the tier.
    fn nominate(&mut self, _ctx: &PickContext<'_>) -> Option<DeploymentId> {
        None
    }

    /// For [`Selection::ScanPick`]: on a first try, picks among the usable deployments of the
    /// tier (`deployments`, every one of them, usable or not), checking usability itself in
    /// the same pass as its ranking, exactly as [`Balancer::pick`] would pick (with the same
    /// random draws) among the usable ones. `None` when none is usable.
    fn scan_pick(
        &mut self,
        ctx: &PickContext<'_>,
        deployments: &[DeploymentId],
        rng: &mut Rng,
    ) -> Option<DeploymentId> {
        let _ = (ctx, deployments, rng);
        None
    }

    /// Picks one of `candidates` (never empty, all usable now).
    fn pick(
        &mut self,
        ctx: &PickContext<'_>,
        candidates: &[DeploymentId],
        rng: &mut Rng,
    ) -> DeploymentId;
}

/// How the engine gathers candidates for a strategy (see [`Balancer::selection`]).
///
/// Scanning checks every deployment of the tier: exact, but O(tier size) per decision. A
/// strategy that only ever looks at a few candidates, or that keeps its own schedule, lets the
/// engine skip the scan and keep a decision O(1) or O(log n) on large tiers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Selection {
    /// Every usable deployment of the tier.
    Scan,
    /// Up to `draws` distinct usable deployments drawn at random (in proportion to weight when
    /// `weighted`), each kept only if [`Balancer::keeps_draw`] agrees.
    Sample {
        /// How many candidates the strategy looks at.
        draws: usize,
        /// Whether draws follow the configured weights rather than being uniform.
        weighted: bool,
    },
    /// The strategy names its own next candidate with [`Balancer::nominate`].
    Schedule,
    /// Like [`Selection::Scan`], but on a first try the strategy checks every deployment of
    /// the tier itself while ranking them, in one pass ([`Balancer::scan_pick`]). Only for
    /// strategies that never decline a tier ([`Balancer::declines`] is not asked).
    ScanPick,
}

/// Tiers up to this size are scanned whole by the strategies that rank every candidate
/// (`least-latency`, `capacity-aware`, `weighted-round-robin`); larger ones are sampled or
/// scheduled, so a decision stays O(1) or O(log n) however large the tier.
pub const SCAN_UP_TO: usize = 64;

/// Strategies that only ever look at a few random candidates (`random`, `error-weighted`,
/// `least-outstanding`, `peak-ewma`, `adaptive`) have them drawn, instead of every usable
/// deployment collected, on tiers larger than this.
pub const SAMPLE_ABOVE: usize = 8;

/// `draws` random candidates (by weight if `weighted`) on tiers larger than `threshold`, else
/// a scan.
fn sampled_above(threshold: usize, tier_size: usize, draws: usize, weighted: bool) -> Selection {
    if tier_size > threshold {
        Selection::Sample { draws, weighted }
    } else {
        Selection::Scan
    }
}

/// Candidates drawn for `least-latency` and `capacity-aware` on tiers larger than
/// [`SCAN_UP_TO`]; the previous winner is kept in the running too (power of d choices with
/// memory), so the pick settles on the best deployment instead of the best of a few.
const RANKED_DRAWS: usize = 8;

/// How `least-latency`, `capacity-aware` and `cost-aware` gather candidates: `scan` (the
/// engine's, [`Selection::Scan`], or their own, [`Selection::ScanPick`]), or on a tier larger
/// than [`SCAN_UP_TO`], [`RANKED_DRAWS`] uniform draws.
fn ranked_selection(sampled: bool, scan: Selection) -> Selection {
    if sampled {
        Selection::Sample {
            draws: RANKED_DRAWS,
            weighted: false,
        }
    } else {
        scan
    }
}

/// The previous pick of a sampled tier, if it is usable and not already among `candidates`.
fn incumbent(
    sampled: bool,
    previous: Option<DeploymentId>,
    ctx: &PickContext<'_>,
    candidates: &[DeploymentId],
) -> Option<DeploymentId> {
    previous.filter(|&d| sampled && !candidates.contains(&d) && ctx.usable(d))
}

#[cfg(test)]
pub(crate) mod testing;
