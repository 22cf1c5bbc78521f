//! Load-balancing strategies: each picks one deployment out of a tier's usable candidates.
//!
//! The engine filters first (cooldown, breaker, headroom, already tried), so a strategy only
//! ranks; every strategy therefore skips unusable deployments by construction. One strategy
//! instance lives per tier, owning whatever state it needs, sized once at construction.

mod adaptive;
mod capacity_aware;
mod cost_aware;
mod error_weighted;
mod least_latency;
mod least_outstanding;
mod p2c;
mod peak_ewma;
mod random;
mod stride;
mod weighted_round_robin;

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use crate::config::objectives::Objectives;
use crate::config::{BalancingParams, Deployment, HealthPolicy};
use crate::ids::DeploymentId;
use crate::latency::DecayRates;
use crate::state::DeploymentState;

/// The engine's deterministic random source.
pub type Rng = rand_pcg::Pcg64Mcg;

/// What a strategy may look at when picking.
pub struct PickContext<'a> {
    /// The current time.
    pub now: Duration,
    /// Estimated tokens of the request being placed.
    pub tokens: u64,
    /// Its input tokens (the rest of `tokens` is its estimated output).
    pub input_tokens: u64,
    /// Configured deployments, indexed by [`DeploymentId`].
    pub deployments: &'a [Deployment],
    /// Live state, indexed by [`DeploymentId`].
    pub states: &'a [DeploymentState],
    /// Estimator constants.
    pub balancing: &'a BalancingParams,
    /// Health constants.
    pub health: &'a HealthPolicy,
    /// Deployments this request has already tried.
    pub tried: &'a [DeploymentId],
    /// `now` in seconds, converted once per decision rather than once per candidate.
    now_secs: f64,
    /// `tokens` as a float, converted once per decision too.
    tokens_f: f64,
    /// The estimators' decay rates, derived once per engine.
    rates: DecayRates,
}

impl<'a> PickContext<'a> {
    /// The context of one decision.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        now: Duration,
        tokens: u64,
        input_tokens: u64,
        deployments: &'a [Deployment],
        states: &'a [DeploymentState],
        balancing: &'a BalancingParams,
        health: &'a HealthPolicy,
        tried: &'a [DeploymentId],
        rates: DecayRates,
    ) -> Self {
        PickContext {
            now,
            tokens,
            input_tokens,
            deployments,
            states,
            balancing,
            health,
            tried,
            now_secs: now.as_secs_f64(),
            tokens_f: tokens as f64,
            rates,
        }
    }

    /// `now` in seconds.
    pub(crate) fn now_secs(&self) -> f64 {
        self.now_secs
    }

    /// How fast idle latency estimates fade, per second (from `balancing.latency_decay`).
    pub(crate) fn fading_rate(&self) -> f64 {
        self.rates.idle
    }

    /// Plain latency estimate of `id` in seconds, `None` if never measured.
    pub(crate) fn latency(&self, id: DeploymentId) -> Option<f64> {
        self.state(id)
            .latency
            .decayed_at(self.now_secs, self.rates.idle)
    }

    /// Peak latency estimate of `id` in seconds, `None` if never measured.
    pub(crate) fn peak_latency(&self, id: DeploymentId) -> Option<f64> {
        self.state(id)
            .peak_latency
            .decayed_at(self.now_secs, self.rates.idle)
    }

    /// Time-to-first-token estimate of `id` in seconds, `None` if never measured.
    pub(crate) fn ttft(&self, id: DeploymentId) -> Option<f64> {
        self.state(id)
            .ttft
            .decayed_at(self.now_secs, self.rates.idle)
    }

    /// Smallest remaining fraction of `id`'s limits after this request (1 = no limits).
    pub(crate) fn headroom(&self, id: DeploymentId) -> f64 {
        self.state(id)
            .headroom_after_at(self.now_secs, self.tokens_f)
    }

    /// Recent error rate of `id`.
    pub(crate) fn error_rate(&self, id: DeploymentId) -> f64 {
        self.state(id)
            .errors
            .rate_at(self.now_secs, self.rates.errors)
    }

    pub(crate) fn weight(&self, id: DeploymentId) -> f64 {
        self.deployments[id.index()].weight
    }

    pub(crate) fn state(&self, id: DeploymentId) -> &DeploymentState {
        &self.states[id.index()]
    }

    /// [`PickContext::headroom`] of `id` if [`PickContext::usable`], else `None`; cheaper than
    /// asking both.
    #[inline(always)]
    pub(crate) fn usable_headroom(&self, id: DeploymentId) -> Option<f64> {
        if self.tried.contains(&id) {
            return None;
        }
        self.state(id)
            .usable_headroom_at(self.now, self.now_secs, self.tokens_f)
    }

    /// Whether `id` could take this request now as a first try: not tried yet, not cooling
    /// down, headroom left, breaker closed. For candidates not gathered by a scan.
    #[inline(always)]
    pub(crate) fn usable(&self, id: DeploymentId) -> bool {
        !self.tried.contains(&id)
            && self
                .state(id)
                .check_at(self.now, self.now_secs, self.tokens_f)
                .is_ok()
    }
}

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

/// The strategies a tier can use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum StrategyKind {
    /// Smooth weighted round robin (nginx).
    WeightedRoundRobin,
    /// Lowest latency EWMA, probing unmeasured deployments.
    LeastLatency,
    /// Most remaining rate-limit headroom.
    CapacityAware,
    /// Weighted random with weights shrunk by recent error rate.
    ErrorWeighted,
    /// Fewest in-flight requests, by power of two choices.
    LeastOutstanding,
    /// Power of two choices on latency × (in-flight + 1).
    PeakEwma,
    /// Weighted random.
    Random,
    /// Headroom, latency, load and health in one score.
    Adaptive,
    /// Cheapest within the tier's latency objectives, else fastest.
    CostAware,
}

impl StrategyKind {
    /// The strategies `compare` runs when a scenario names none, in the order reports list
    /// them: every strategy but `cost-aware`, which optimises another objective (price within
    /// latency objectives) and is compared where a scenario asks for it.
    pub const ALL: [StrategyKind; 8] = [
        StrategyKind::Random,
        StrategyKind::WeightedRoundRobin,
        StrategyKind::LeastLatency,
        StrategyKind::LeastOutstanding,
        StrategyKind::PeakEwma,
        StrategyKind::CapacityAware,
        StrategyKind::ErrorWeighted,
        StrategyKind::Adaptive,
    ];

    /// Every strategy: [`StrategyKind::ALL`] and `cost-aware`.
    pub const EVERY: [StrategyKind; 9] = [
        StrategyKind::Random,
        StrategyKind::WeightedRoundRobin,
        StrategyKind::LeastLatency,
        StrategyKind::LeastOutstanding,
        StrategyKind::PeakEwma,
        StrategyKind::CapacityAware,
        StrategyKind::ErrorWeighted,
        StrategyKind::Adaptive,
        StrategyKind::CostAware,
    ];

    pub(crate) const EXPECTED: &'static str = "one of \"weighted-round-robin\", \"least-latency\", \
        \"capacity-aware\", \"error-weighted\", \"least-outstanding\", \"peak-ewma\", \"random\", \"adaptive\", \"cost-aware\"";

    /// The name used in config files and reports.
    pub fn name(self) -> &'static str {
        match self {
            StrategyKind::WeightedRoundRobin => "weighted-round-robin",
            StrategyKind::LeastLatency => "least-latency",
            StrategyKind::CapacityAware => "capacity-aware",
            StrategyKind::ErrorWeighted => "error-weighted",
            StrategyKind::LeastOutstanding => "least-outstanding",
            StrategyKind::PeakEwma => "peak-ewma",
            StrategyKind::Random => "random",
            StrategyKind::Adaptive => "adaptive",
            StrategyKind::CostAware => "cost-aware",
        }
    }

    /// A fresh balancer of this kind for one tier: `deployments` is the config's deployment
    /// count, `members` the tier's deployments with their weights.
    pub fn build(self, deployments: usize, members: &[(DeploymentId, f64)]) -> Box<dyn Balancer> {
        self.build_with(Objectives::default(), deployments, members)
    }

    /// [`StrategyKind::build`] for a tier with latency `objectives` (used by `cost-aware`).
    pub fn build_with(
        self,
        objectives: Objectives,
        deployments: usize,
        members: &[(DeploymentId, f64)],
    ) -> Box<dyn Balancer> {
        match self {
            StrategyKind::WeightedRoundRobin => Box::new(
                weighted_round_robin::WeightedRoundRobin::new(deployments, members),
            ),
            StrategyKind::LeastLatency => Box::new(least_latency::LeastLatency::new(members.len())),
            StrategyKind::CapacityAware => {
                Box::new(capacity_aware::CapacityAware::new(members.len()))
            }
            StrategyKind::ErrorWeighted => Box::new(error_weighted::ErrorWeighted),
            StrategyKind::LeastOutstanding => Box::new(least_outstanding::LeastOutstanding),
            StrategyKind::PeakEwma => Box::new(peak_ewma::PeakEwma),
            StrategyKind::Random => Box::new(random::WeightedRandom),
            StrategyKind::Adaptive => Box::new(adaptive::Adaptive),
            StrategyKind::CostAware => Box::new(cost_aware::CostAware::new(
                objectives,
                deployments,
                members.len(),
            )),
        }
    }
}

impl fmt::Display for StrategyKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for StrategyKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        StrategyKind::EVERY
            .into_iter()
            .find(|k| k.name() == s)
            .ok_or_else(|| {
                format!(
                    "unknown strategy {s:?}; expected {}",
                    StrategyKind::EXPECTED
                )
            })
    }
}

#[cfg(test)]
pub(crate) mod testing;
