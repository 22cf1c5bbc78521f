//! Load-balancing strategies: each picks one deployment out of a tier's usable candidates.
//!
//! The engine filters first (cooldown, breaker, headroom, already tried), so a strategy only
//! ranks; every strategy therefore skips unusable deployments by construction. One strategy
//! instance lives per tier, owning whatever state it needs, sized once at construction.

mod adaptive;
mod capacity_aware;
mod error_weighted;
mod least_latency;
mod least_outstanding;
mod p2c;
mod peak_ewma;
mod random;
mod weighted_round_robin;

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use crate::config::{BalancingParams, Deployment, HealthPolicy};
use crate::ids::DeploymentId;
use crate::state::DeploymentState;

/// The engine's deterministic random source.
pub type Rng = rand_pcg::Pcg64Mcg;

/// What a strategy may look at when picking.
pub struct PickContext<'a> {
    /// The current time.
    pub now: Duration,
    /// Estimated tokens of the request being placed.
    pub tokens: u64,
    /// Configured deployments, indexed by [`DeploymentId`].
    pub deployments: &'a [Deployment],
    /// Live state, indexed by [`DeploymentId`].
    pub states: &'a [DeploymentState],
    /// Estimator constants.
    pub balancing: &'a BalancingParams,
    /// Health constants.
    pub health: &'a HealthPolicy,
}

impl PickContext<'_> {
    pub(crate) fn weight(&self, id: DeploymentId) -> f64 {
        self.deployments[id.index()].weight
    }

    pub(crate) fn state(&self, id: DeploymentId) -> &DeploymentState {
        &self.states[id.index()]
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

    /// How many random usable candidates this strategy needs, if it never looks at more (power
    /// of d choices). On large tiers the engine then draws that many instead of handing over
    /// every usable deployment. `None`: the strategy needs them all.
    fn sample_size(&self) -> Option<usize> {
        None
    }

    /// Whether sampled candidates are drawn in proportion to weight rather than uniformly.
    fn weighted_sampling(&self) -> bool {
        false
    }

    /// Picks one of `candidates` (never empty, all usable now).
    fn pick(
        &mut self,
        ctx: &PickContext<'_>,
        candidates: &[DeploymentId],
        rng: &mut Rng,
    ) -> DeploymentId;
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
}

impl StrategyKind {
    /// Every strategy, in the order reports list them.
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

    pub(crate) const EXPECTED: &'static str = "one of \"weighted-round-robin\", \"least-latency\", \
        \"capacity-aware\", \"error-weighted\", \"least-outstanding\", \"peak-ewma\", \"random\", \"adaptive\"";

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
        }
    }

    /// A fresh balancer of this kind for a config with `deployments` deployments.
    pub fn build(self, deployments: usize) -> Box<dyn Balancer> {
        match self {
            StrategyKind::WeightedRoundRobin => {
                Box::new(weighted_round_robin::WeightedRoundRobin::new(deployments))
            }
            StrategyKind::LeastLatency => Box::new(least_latency::LeastLatency),
            StrategyKind::CapacityAware => Box::new(capacity_aware::CapacityAware),
            StrategyKind::ErrorWeighted => Box::new(error_weighted::ErrorWeighted),
            StrategyKind::LeastOutstanding => Box::new(least_outstanding::LeastOutstanding),
            StrategyKind::PeakEwma => Box::new(peak_ewma::PeakEwma),
            StrategyKind::Random => Box::new(random::WeightedRandom),
            StrategyKind::Adaptive => Box::new(adaptive::Adaptive),
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
        StrategyKind::ALL
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
