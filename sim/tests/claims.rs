//! The claims the shipped scenarios make about `adaptive`, checked on every shipped scenario
//! (each is already short: 8–24 simulated minutes, 2,000–7,000 requests), six seeds each:
//! * on every scenario, adaptive's success rate is at least the best other strategy's, or
//!   below it by less than the 95 % confidence interval of the difference (√(ci_a² + ci_b²)):
//!   not significantly worse; and its p99 is within 5 % of the best p99;
//! * on `rate-limit-saturation` and `provider-outage`, adaptive is strictly better than
//!   `random` and `weighted-round-robin` on both rate-limit hits and success rate.

use std::path::Path;

use engine::StrategyKind;
use sim::compare::{compare, Comparison, Estimate};
use sim::Scenario;

const SEEDS: u64 = 6;

fn run_all(name: &str) -> Comparison {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../scenarios")
        .join(format!("{name}.toml"));
    let s = Scenario::load(&path).unwrap_or_else(|e| panic!("{e}"));
    let seeds: Vec<u64> = (0..SEEDS).map(|i| s.settings.seed + i).collect();
    compare(&s, &StrategyKind::ALL, &seeds, 2, &|_, _| {})
}

fn estimate(c: &Comparison, strategy: StrategyKind, metric: &str) -> Estimate {
    c.strategies
        .iter()
        .find(|s| s.strategy == strategy)
        .expect("strategy ran")
        .estimate(metric)
}

/// The best strategy other than adaptive for a metric, with its estimate.
fn best_other(c: &Comparison, metric: &str, higher: bool) -> (StrategyKind, Estimate) {
    c.strategies
        .iter()
        .filter(|s| s.strategy != StrategyKind::Adaptive)
        .map(|s| (s.strategy, s.estimate(metric)))
        .reduce(|best, next| {
            let better = if higher {
                next.1.mean > best.1.mean
            } else {
                next.1.mean < best.1.mean
            };
            if better {
                next
            } else {
                best
            }
        })
        .expect("other strategies ran")
}

fn check_adaptive_holds_up(name: &str) -> Comparison {
    let c = run_all(name);
    let a = estimate(&c, StrategyKind::Adaptive, "success_rate");
    let (best, b) = best_other(&c, "success_rate", true);
    let margin = (a.ci95 * a.ci95 + b.ci95 * b.ci95).sqrt();
    assert!(
        a.mean + margin >= b.mean,
        "{name}: adaptive success {:.5} significantly below {best} {:.5} (margin {margin:.5})",
        a.mean,
        b.mean
    );
    let p99 = estimate(&c, StrategyKind::Adaptive, "latency_p99_ms").mean;
    let (best, b) = best_other(&c, "latency_p99_ms", false);
    assert!(
        p99 <= b.mean * 1.05,
        "{name}: adaptive p99 {p99:.0} ms more than 5 % above {best} {:.0} ms",
        b.mean
    );
    c
}

fn check_strictly_better_than_baselines(c: &Comparison, name: &str) {
    for baseline in [StrategyKind::Random, StrategyKind::WeightedRoundRobin] {
        for (metric, higher) in [("success_rate", true), ("rate_limit_hits", false)] {
            let a = estimate(c, StrategyKind::Adaptive, metric).mean;
            let b = estimate(c, baseline, metric).mean;
            let better = if higher { a > b } else { a < b };
            assert!(
                better,
                "{name}: adaptive {metric} {a:.5} not strictly better than {baseline} {b:.5}"
            );
        }
    }
}

#[test]
fn rate_limit_saturation() {
    let c = check_adaptive_holds_up("rate-limit-saturation");
    check_strictly_better_than_baselines(&c, "rate-limit-saturation");
}

#[test]
fn provider_outage() {
    let c = check_adaptive_holds_up("provider-outage");
    check_strictly_better_than_baselines(&c, "provider-outage");
}

#[test]
fn the_other_shipped_scenarios() {
    for name in [
        "default",
        "latency-spike",
        "hot-spot",
        "multi-key-headroom",
        "tier-routing-fallback",
        "error-rate-drift",
        "diurnal-capacity-planning",
        "noisy-tenant",
    ] {
        check_adaptive_holds_up(name);
    }
}
