//! Paired comparison of strategies. `compare` runs every strategy on the same seeds, and a seed
//! fixes the arrivals and the world's draws (common random numbers), so two strategies' results
//! on one seed differ mostly by what the strategies did. The per-seed differences are therefore
//! far less noisy than either strategy's own spread: a lead that hides inside both strategies'
//! own confidence intervals can still be clear once the runs are paired by seed.
//!
//! For each headline metric this module computes, per strategy, the mean per-seed difference
//! from a baseline with its 95 % confidence interval (Student's t on the differences), and names
//! a winner only when the leader's lead over every other strategy is significant (each paired
//! interval excludes 0). With one seed there is no interval, so nothing is significant.

pub mod text;

use engine::StrategyKind;
use serde::Serialize;

use crate::compare::{higher_is_better, metric_value, Comparison, StrategyResult, METRICS};

/// Two-sided 95 % quantile of Student's t with `df` degrees of freedom (NaN for 0): a table to
/// 30, then the Cornish–Fisher expansion around the normal quantile (within 1e-4 above 30).
pub fn t95(df: usize) -> f64 {
    const TABLE: [f64; 30] = [
        12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160,
        2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056,
        2.052, 2.048, 2.045, 2.042,
    ];
    match df {
        0 => f64::NAN,
        1..=30 => TABLE[df - 1],
        _ => {
            let z: f64 = 1.959_963_984_540_054;
            let n = df as f64;
            let (z3, z5, z7) = (z.powi(3), z.powi(5), z.powi(7));
            z + (z3 + z) / (4.0 * n)
                + (5.0 * z5 + 16.0 * z3 + 3.0 * z) / (96.0 * n * n)
                + (3.0 * z7 + 19.0 * z5 + 17.0 * z3 - 15.0 * z) / (384.0 * n * n * n)
        }
    }
}

/// The mean per-seed difference between two strategies on one metric, with its 95 % interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct PairedDiff {
    /// Mean over seeds of (strategy − reference), in the metric's unit.
    pub diff: f64,
    /// Half-width of the 95 % confidence interval of `diff`; NaN with fewer than two seeds.
    pub ci95: f64,
    /// Number of seeds paired.
    pub seeds: usize,
}

impl PairedDiff {
    /// The difference `a − b` from values paired by position (one per seed).
    pub fn of(a: &[f64], b: &[f64]) -> PairedDiff {
        let d: Vec<f64> = a.iter().zip(b).map(|(x, y)| x - y).collect();
        let n = d.len();
        if n == 0 {
            return PairedDiff {
                diff: f64::NAN,
                ci95: f64::NAN,
                seeds: 0,
            };
        }
        let mean = d.iter().sum::<f64>() / n as f64;
        let ci95 = if n < 2 {
            f64::NAN
        } else {
            let var = d.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
            t95(n - 1) * (var / n as f64).sqrt()
        };
        PairedDiff {
            diff: mean,
            ci95,
            seeds: n,
        }
    }

    /// Whether the 95 % interval excludes 0 (never with one seed, never for a zero difference).
    pub fn significant(&self) -> bool {
        self.seeds >= 2
            && self.diff.is_finite()
            && self.ci95.is_finite()
            && self.diff.abs() > self.ci95
    }
}

/// How the strategies compare on one headline metric, paired by seed.
#[derive(Debug, Clone)]
pub struct MetricVerdict {
    /// Metric key from [`METRICS`].
    pub metric: &'static str,
    /// Human label from [`METRICS`].
    pub label: &'static str,
    /// Mean of the metric per strategy, in the comparison's order.
    pub means: Vec<f64>,
    /// Strategy indices from best mean to worst (ties keep the comparison's order; NaN last).
    pub ranking: Vec<usize>,
    /// Index of the baseline: the one asked for, else the best by mean.
    pub baseline: usize,
    /// Per strategy: strategy − baseline (the baseline's own entry is exactly 0).
    pub vs_baseline: Vec<PairedDiff>,
    /// Per strategy: leader − strategy (the leader's own entry is exactly 0).
    pub lead: Vec<PairedDiff>,
}

impl MetricVerdict {
    /// The best strategy by mean.
    pub fn leader(&self) -> usize {
        self.ranking[0]
    }

    /// The second best strategy by mean, with two strategies or more.
    pub fn runner_up(&self) -> Option<usize> {
        self.ranking.get(1).copied()
    }

    /// The leader, if its lead over every other strategy is significant.
    pub fn winner(&self) -> Option<usize> {
        self.not_ahead_of().is_empty().then(|| self.leader())
    }

    /// The strategies the leader is not significantly ahead of, in ranking order.
    pub fn not_ahead_of(&self) -> Vec<usize> {
        self.ranking[1..]
            .iter()
            .copied()
            .filter(|&i| !self.lead[i].significant())
            .collect()
    }
}

/// Per-seed values of a metric for one strategy, aligned on `seeds` (NaN where a run is missing).
fn values(s: &StrategyResult, seeds: &[u64], metric: &str) -> Vec<f64> {
    seeds
        .iter()
        .map(|&seed| {
            s.runs
                .iter()
                .find(|r| r.summary.seed == seed)
                .map_or(f64::NAN, |r| metric_value(r, metric))
        })
        .collect()
}

/// The paired verdict on one metric. `baseline` fixes the reference strategy (ignored when it
/// was not compared); `None` takes the best by mean. `None` when there are no strategies.
pub fn verdict(
    c: &Comparison,
    metric: &'static str,
    baseline: Option<StrategyKind>,
) -> Option<MetricVerdict> {
    let label = METRICS
        .iter()
        .find(|(m, _)| *m == metric)
        .map_or(metric, |(_, l)| *l);
    let vals: Vec<Vec<f64>> = c
        .strategies
        .iter()
        .map(|s| values(s, &c.seeds, metric))
        .collect();
    let means: Vec<f64> = c
        .strategies
        .iter()
        .map(|s| s.estimate(metric).mean)
        .collect();
    let mut ranking: Vec<usize> = (0..means.len()).collect();
    let key = |i: &usize| {
        let m = means[*i];
        if m.is_nan() {
            f64::INFINITY
        } else if higher_is_better(metric) {
            -m
        } else {
            m
        }
    };
    ranking.sort_by(|a, b| key(a).total_cmp(&key(b)));
    let leader = *ranking.first()?;
    let baseline = baseline
        .and_then(|b| c.strategies.iter().position(|s| s.strategy == b))
        .unwrap_or(leader);
    let diffs = |reference: usize, flip: bool| -> Vec<PairedDiff> {
        vals.iter()
            .map(|v| {
                if flip {
                    PairedDiff::of(&vals[reference], v)
                } else {
                    PairedDiff::of(v, &vals[reference])
                }
            })
            .collect()
    };
    Some(MetricVerdict {
        metric,
        label,
        vs_baseline: diffs(baseline, false),
        lead: diffs(leader, true),
        means,
        ranking,
        baseline,
    })
}

/// [`verdict`] on every headline metric, in [`METRICS`] order, with the comparison's baseline.
pub fn verdicts(c: &Comparison) -> Vec<MetricVerdict> {
    METRICS
        .iter()
        .filter_map(|&(m, _)| verdict(c, m, c.baseline))
        .collect()
}

/// The metric `--seeds auto` decides on: success rate, or p99 latency when the two best success
/// rates are exactly equal (e.g. every strategy at 100 %).
pub fn deciding_metric(c: &Comparison) -> &'static str {
    let tie = verdict(c, "success_rate", None).is_some_and(|v| {
        v.runner_up()
            .is_some_and(|r| v.means[r] == v.means[v.leader()])
    });
    if tie {
        "latency_p99_ms"
    } else {
        "success_rate"
    }
}

/// Seed counts `--seeds auto` tries, up to and including `max`: 3, 5, 10, 20, 40, 80, …
pub fn seed_schedule(max: usize) -> Vec<usize> {
    let mut out = Vec::new();
    let mut n = 3;
    while n < max {
        out.push(n);
        n = if n == 3 { 5 } else { n * 2 };
    }
    out.push(max.max(1));
    out
}

#[cfg(test)]
mod tests;
