//! What the report is computed from: the comparison's runs lined up against the scenario's
//! deployments, tiers and incidents, with the small aggregations the plots and sentences share.

use engine::StrategyKind;

use crate::compare::{Comparison, Estimate, StrategyResult};
use crate::stats::Column;
use crate::world::{IncidentKind, OutageMode};
use crate::{RunResult, Scenario};

/// A gateway deployment as the report shows it.
#[derive(Debug, Clone)]
pub(crate) struct DeploymentInfo {
    /// Deployment id.
    pub id: String,
    /// Provider name.
    pub provider: String,
    /// Model name at the provider.
    pub model: String,
    /// Index into [`Facts::tiers`].
    pub tier: usize,
    /// Configured weight ÷ the tier's total weight.
    pub configured_share: f64,
}

/// An incident as the report shows it.
#[derive(Debug, Clone)]
pub(crate) struct IncidentInfo {
    /// Provider name or deployment id, as written in the scenario.
    pub target: String,
    /// What happens, e.g. `outage (connections refused)`.
    pub what: String,
    /// One word for sentences: `outage`, `degradation`, `error spike`, `limit cut`.
    pub noun: &'static str,
    /// Start, seconds from the beginning of the run.
    pub start_s: f64,
    /// End, seconds.
    pub end_s: f64,
    /// Affected deployments (config indices).
    pub deployments: Vec<usize>,
}

/// One strategy's runs, with its first run (the one plots show) mapped onto config indices.
pub(crate) struct StrategyView<'a> {
    /// The strategy.
    pub kind: StrategyKind,
    /// All its runs.
    pub result: &'a StrategyResult,
    /// Its first run.
    pub run: &'a RunResult,
    /// Time-series column of each config deployment (`None` if the run did not record it).
    columns: Vec<Option<usize>>,
}

impl StrategyView<'_> {
    /// The strategy's name.
    pub fn name(&self) -> &'static str {
        self.kind.name()
    }

    /// Mean and 95 % interval over the strategy's runs of one figure of a run.
    pub fn estimate(&self, figure: impl Fn(&RunResult) -> f64) -> Estimate {
        Estimate::of(&self.result.runs.iter().map(figure).collect::<Vec<_>>())
    }

    /// Number of time buckets in the first run.
    pub fn buckets(&self) -> usize {
        self.run.timeseries.len()
    }

    /// A config deployment's counter in a bucket of the first run (0 when not recorded).
    pub fn count(&self, bucket: usize, deployment: usize, column: Column) -> u64 {
        match self.columns.get(deployment).copied().flatten() {
            Some(c) if bucket < self.run.timeseries.len() => {
                self.run.timeseries.get(bucket, c, column)
            }
            _ => 0,
        }
    }

    /// Sum of a counter over the buckets `keep` selects and the deployments in `deployments`.
    pub fn sum(
        &self,
        keep: &dyn Fn(usize) -> bool,
        deployments: &[usize],
        columns: &[Column],
    ) -> u64 {
        (0..self.buckets())
            .filter(|&b| keep(b))
            .map(|b| {
                deployments
                    .iter()
                    .flat_map(|&d| columns.iter().map(move |&c| (d, c)))
                    .map(|(d, c)| self.count(b, d, c))
                    .sum::<u64>()
            })
            .sum()
    }

    /// Mean over runs of a deployment's share of its tier's attempts (`None` if no run has it).
    pub fn mean_actual_share(&self, id: &str) -> Option<f64> {
        let shares: Vec<f64> = self
            .result
            .runs
            .iter()
            .filter_map(|r| r.deployments.iter().find(|d| d.deployment == id))
            .map(|d| d.actual_share)
            .filter(|s| s.is_finite())
            .collect();
        if shares.is_empty() {
            None
        } else {
            Some(shares.iter().sum::<f64>() / shares.len() as f64)
        }
    }
}

/// Everything the report is built from.
pub(crate) struct Facts<'a> {
    /// The comparison.
    pub comparison: &'a Comparison,
    /// Strategies that have at least one run, in the comparison's order.
    pub strategies: Vec<StrategyView<'a>>,
    /// Deployments in config order.
    pub deployments: Vec<DeploymentInfo>,
    /// Tier names in config order.
    pub tiers: Vec<String>,
    /// Incidents in scenario order.
    pub incidents: Vec<IncidentInfo>,
    /// Time-series bucket width, seconds.
    pub bucket_s: f64,
}

impl<'a> Facts<'a> {
    /// Whether any run of any strategy satisfies `test` (sections shown only when relevant).
    pub fn any_run(&self, test: impl Fn(&RunResult) -> bool) -> bool {
        self.strategies
            .iter()
            .flat_map(|st| &st.result.runs)
            .any(test)
    }

    /// Lines the comparison up against the scenario.
    pub fn new(scenario: &'a Scenario, comparison: &'a Comparison) -> Facts<'a> {
        let config = &scenario.config;
        let tiers: Vec<String> = config.tiers.iter().map(|t| t.name.clone()).collect();
        let deployments: Vec<DeploymentInfo> = config
            .deployments
            .iter()
            .map(|d| {
                let tier = d.tier.index();
                let total: f64 = config
                    .deployments
                    .iter()
                    .filter(|o| o.tier.index() == tier)
                    .map(|o| o.weight)
                    .sum();
                DeploymentInfo {
                    id: d.id.clone(),
                    provider: d.provider.clone(),
                    model: d.model.clone(),
                    tier,
                    configured_share: if total > 0.0 { d.weight / total } else { 0.0 },
                }
            })
            .collect();
        let strategies: Vec<StrategyView<'a>> = comparison
            .strategies
            .iter()
            .filter_map(|s| {
                let run = s.runs.first()?;
                let columns = deployments
                    .iter()
                    .map(|d| run.timeseries.deployments.iter().position(|c| *c == d.id))
                    .collect();
                Some(StrategyView {
                    kind: s.strategy,
                    result: s,
                    run,
                    columns,
                })
            })
            .collect();
        let incidents = scenario
            .world
            .incidents
            .iter()
            .map(|i| {
                let (what, noun) = describe(i.kind);
                IncidentInfo {
                    target: i.target.clone(),
                    what,
                    noun,
                    start_s: i.start.as_secs_f64(),
                    end_s: i.end.as_secs_f64(),
                    deployments: i.deployments.clone(),
                }
            })
            .collect();
        let bucket_s = strategies
            .first()
            .map(|s| s.run.timeseries.bucket.as_secs_f64())
            .unwrap_or_else(|| scenario.settings.bucket.as_secs_f64())
            .max(1e-3);
        Facts {
            comparison,
            strategies,
            deployments,
            tiers,
            incidents,
            bucket_s,
        }
    }

    /// Number of seeds.
    pub fn seeds(&self) -> usize {
        self.comparison.seeds.len()
    }

    /// Seconds covered by the longest time series.
    pub fn span_s(&self) -> f64 {
        let buckets = self
            .strategies
            .iter()
            .map(|s| s.buckets())
            .max()
            .unwrap_or(0);
        (buckets as f64 * self.bucket_s).max(self.bucket_s)
    }

    /// Deployments in the order plots stack and group them: by tier, then config order.
    pub fn display_order(&self) -> Vec<usize> {
        let mut order: Vec<usize> = (0..self.deployments.len()).collect();
        order.sort_by_key(|&d| (self.deployments[d].tier, d));
        order
    }

    /// Config indices of the deployments of a tier.
    pub fn tier_deployments(&self, tier: usize) -> Vec<usize> {
        (0..self.deployments.len())
            .filter(|&d| self.deployments[d].tier == tier)
            .collect()
    }

    /// Whether bucket `b` lies in `[start_s, end_s)` (by its midpoint).
    pub fn in_window(&self, b: usize, start_s: f64, end_s: f64) -> bool {
        let mid = (b as f64 + 0.5) * self.bucket_s;
        mid >= start_s && mid < end_s
    }
}

fn describe(kind: IncidentKind) -> (String, &'static str) {
    match kind {
        IncidentKind::Outage(mode) => (
            format!(
                "outage ({})",
                match mode {
                    OutageMode::Connection => "connections refused",
                    OutageMode::Unavailable => "every request gets a 503",
                    OutageMode::Hang => "requests hang",
                }
            ),
            "outage",
        ),
        IncidentKind::Degradation(k) => (
            format!("degradation (latency ×{})", trim_float(k)),
            "degradation",
        ),
        IncidentKind::ErrorSpike(p) => (
            format!("error spike (+{} 5xx)", super::format::pct(p, 1)),
            "error spike",
        ),
        IncidentKind::LimitCut(k) => (
            format!("limit cut (limits ×{})", trim_float(k)),
            "limit cut",
        ),
    }
}

/// A factor without trailing zeros: `3`, `0.5`, `1.25`.
fn trim_float(v: f64) -> String {
    let s = format!("{v:.3}");
    s.trim_end_matches('0').trim_end_matches('.').to_owned()
}
