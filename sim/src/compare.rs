//! Comparing strategies: every strategy on the same seeded workload and world, over one or more
//! seeds, in parallel across cores. Each run stays deterministic; results come back in a fixed
//! (strategy, seed) order whatever the thread timing, so the files are byte-identical run to run.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use engine::StrategyKind;
use serde::Serialize;

use crate::run::{run_with, ArrivalSource, RunOptions, RunResult, WorkloadSource};
use crate::Scenario;

/// A run's headline metrics, in the order reports list them.
pub const METRICS: [(&str, &str); 8] = [
    ("success_rate", "success rate"),
    ("latency_p50_ms", "p50 latency (ms)"),
    ("latency_p99_ms", "p99 latency (ms)"),
    ("latency_mean_ms", "mean latency (ms)"),
    ("rate_limit_hits", "429s"),
    ("attempts_per_request", "attempts per request"),
    ("fallbacks", "fallback attempts"),
    ("cost", "cost"),
];

/// Whether a higher value of the metric is better.
pub fn higher_is_better(metric: &str) -> bool {
    metric == "success_rate"
}

/// The value of a headline metric in a run.
pub fn metric_value(r: &RunResult, metric: &str) -> f64 {
    let s = &r.summary;
    match metric {
        "success_rate" => s.success_rate,
        "latency_p50_ms" => s.latency_p50_ms,
        "latency_p99_ms" => s.latency_p99_ms,
        "latency_mean_ms" => s.latency_mean_ms,
        "rate_limit_hits" => s.rate_limit_hits as f64,
        "attempts_per_request" => s.attempts_per_request,
        "fallbacks" => s.fallbacks as f64,
        "cost" => s.cost,
        _ => f64::NAN,
    }
}

/// Mean and 95 % confidence half-width of one metric over seeds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Estimate {
    /// Mean over seeds.
    pub mean: f64,
    /// Half-width of the 95 % confidence interval (Student's t; 0 with one seed).
    pub ci95: f64,
}

impl Estimate {
    /// The estimate from per-seed values.
    pub fn of(values: &[f64]) -> Estimate {
        let n = values.len();
        if n == 0 {
            return Estimate {
                mean: f64::NAN,
                ci95: f64::NAN,
            };
        }
        let mean = values.iter().sum::<f64>() / n as f64;
        if n == 1 {
            return Estimate { mean, ci95: 0.0 };
        }
        let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
        Estimate {
            mean,
            ci95: crate::paired::t95(n - 1) * (var / n as f64).sqrt(),
        }
    }
}

/// One strategy's results over all seeds.
#[derive(Debug, Clone)]
pub struct StrategyResult {
    /// The strategy.
    pub strategy: StrategyKind,
    /// One run per seed, in seed order.
    pub runs: Vec<RunResult>,
}

impl StrategyResult {
    /// Mean and confidence interval of a headline metric.
    pub fn estimate(&self, metric: &str) -> Estimate {
        let values: Vec<f64> = self.runs.iter().map(|r| metric_value(r, metric)).collect();
        Estimate::of(&values)
    }

    /// The first seed's run, which plots show.
    pub fn first(&self) -> &RunResult {
        &self.runs[0]
    }
}

/// A finished comparison.
#[derive(Debug, Clone)]
pub struct Comparison {
    /// Scenario name.
    pub scenario: String,
    /// Seeds used, in order.
    pub seeds: Vec<u64>,
    /// One entry per strategy, in the order asked for.
    pub strategies: Vec<StrategyResult>,
    /// The strategy paired differences are taken against (`None`: the best by each metric's
    /// mean); see [`crate::paired`].
    pub baseline: Option<StrategyKind>,
}

impl Comparison {
    /// Appends the runs of `more` (the same strategies, in the same order, on further seeds).
    pub fn extend(&mut self, more: Comparison) {
        self.seeds.extend(more.seeds);
        for (mine, theirs) in self.strategies.iter_mut().zip(more.strategies) {
            debug_assert_eq!(mine.strategy, theirs.strategy);
            mine.runs.extend(theirs.runs);
        }
    }
}

/// Builds the arrival source of one run (the scenario's workload, or a replayed trace).
pub type SourceFactory<'a> = dyn Fn(u64) -> Box<dyn ArrivalSource + 'a> + Sync + 'a;

/// Runs every strategy over every seed on `threads` threads; `on_done` is called after each run
/// with (runs finished, runs in all).
pub fn compare(
    scenario: &Scenario,
    strategies: &[StrategyKind],
    seeds: &[u64],
    threads: usize,
    on_done: &(dyn Fn(usize, usize) + Sync),
) -> Comparison {
    let workload = |seed| Box::new(WorkloadSource::new(scenario, seed)) as Box<dyn ArrivalSource>;
    compare_with(scenario, strategies, seeds, threads, &workload, on_done)
}

/// [`compare`] with arrivals from `source` instead of the workload.
pub fn compare_with<'a>(
    scenario: &'a Scenario,
    strategies: &[StrategyKind],
    seeds: &[u64],
    threads: usize,
    source: &SourceFactory<'a>,
    on_done: &(dyn Fn(usize, usize) + Sync),
) -> Comparison {
    let jobs: Vec<(StrategyKind, u64)> = strategies
        .iter()
        .flat_map(|&s| seeds.iter().map(move |&seed| (s, seed)))
        .collect();
    let results: Mutex<Vec<Option<RunResult>>> = Mutex::new(vec![None; jobs.len()]);
    let next = AtomicUsize::new(0);
    let done = AtomicUsize::new(0);
    std::thread::scope(|scope| {
        for _ in 0..threads.clamp(1, jobs.len().max(1)) {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(&(strategy, seed)) = jobs.get(i) else {
                    break;
                };
                let mut arrivals = source(seed);
                let r = run_with(
                    scenario,
                    arrivals.as_mut(),
                    RunOptions {
                        strategy: Some(strategy),
                        seed,
                        trace: None,
                        progress: None,
                    },
                );
                results.lock().unwrap_or_else(|e| e.into_inner())[i] = Some(r);
                on_done(done.fetch_add(1, Ordering::Relaxed) + 1, jobs.len());
            });
        }
    });
    let mut results = results
        .into_inner()
        .unwrap_or_else(|e| e.into_inner())
        .into_iter();
    let strategies = strategies
        .iter()
        .map(|&strategy| StrategyResult {
            strategy,
            runs: seeds
                .iter()
                .filter_map(|_| results.next().flatten())
                .collect(),
        })
        .collect();
    Comparison {
        scenario: scenario.name.clone(),
        seeds: seeds.to_vec(),
        strategies,
        baseline: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn confidence_interval_of_known_values() {
        let e = Estimate::of(&[1.0, 2.0, 3.0, 4.0]);
        assert_eq!(e.mean, 2.5);
        // s = 1.29099, t(3) = 3.182, half-width = 3.182 · s / 2.
        assert!(
            (e.ci95 - 3.182 * 1.290_994_448_7 / 2.0).abs() < 1e-9,
            "{}",
            e.ci95
        );
        assert_eq!(Estimate::of(&[7.0]).ci95, 0.0);
    }
}
