//! [`StrategyKind`]: the strategies by name, as config files and reports spell them, and the
//! balancer each one builds.

use std::fmt;
use std::str::FromStr;

use super::{
    adaptive, capacity_aware, cost_aware, error_weighted, least_latency, least_outstanding,
    peak_ewma, random, weighted_round_robin, Balancer,
};
use crate::config::objectives::Objectives;
use crate::ids::DeploymentId;

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
    pub const ALL: [StrategyKind; 8] = {
        // EVERY without its last, cost-aware.
        let mut all = [StrategyKind::Random; 8];
        let mut i = 0;
        while i < all.len() {
            all[i] = Self::EVERY[i];
            i += 1;
        }
        all
    };

    /// Every strategy: [`StrategyKind::ALL`] and, last, `cost-aware`.
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
mod tests {
    use super::*;

    #[test]
    fn all_is_every_strategy_but_cost_aware_each_once() {
        assert!(!StrategyKind::ALL.contains(&StrategyKind::CostAware));
        for k in StrategyKind::EVERY {
            let count = StrategyKind::EVERY.iter().filter(|e| **e == k).count();
            assert_eq!(count, 1, "{k:?}");
            assert_eq!(StrategyKind::ALL.contains(&k), k != StrategyKind::CostAware);
            assert_eq!(k.name().parse::<StrategyKind>(), Ok(k));
        }
    }
}
