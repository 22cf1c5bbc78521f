//! The claims the shipped scenarios make about `adaptive`, checked on every shipped scenario
//! (each is already short: 8–24 simulated minutes, 2,000–7,000 requests), six seeds each:
//! * on every scenario, adaptive's success rate is at least the best other strategy's, within
//!   adaptive's own 95 % confidence interval over the seeds, and its p99 is within 5 % of the
//!   best p99;
//! * on `rate-limit-saturation` and `provider-outage`, adaptive is strictly better than
//!   `random` and `weighted-round-robin` on both rate-limit hits and success rate.

use std::path::Path;

use engine::StrategyKind;
use sim::compare::{compare, Comparison};
use sim::Scenario;

const SEEDS: u64 = 6;

fn short(name: &str) -> Comparison {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../scenarios")
        .join(format!("{name}.toml"));
    let s = Scenario::load(&path).unwrap_or_else(|e| panic!("{e}"));
    let seeds: Vec<u64> = (0..SEEDS).map(|i| s.settings.seed + i).collect();
    compare(&s, &StrategyKind::ALL, &seeds, 2, &|_, _| {})
}

fn mean(c: &Comparison, strategy: StrategyKind, metric: &str) -> (f64, f64) {
    let s = c
        .strategies
        .iter()
        .find(|s| s.strategy == strategy)
        .expect("strategy ran");
    let e = s.estimate(metric);
    (e.mean, e.ci95)
}

fn best_other(c: &Comparison, metric: &str, higher: bool) -> (StrategyKind, f64) {
    c.strategies
        .iter()
        .filter(|s| s.strategy != StrategyKind::Adaptive)
        .map(|s| (s.strategy, s.estimate(metric).mean))
        .fold(
            None,
            |best: Option<(StrategyKind, f64)>, (k, v)| match best {
                Some((_, b)) if (higher && b >= v) || (!higher && b <= v) => best,
                _ => Some((k, v)),
            },
        )
        .expect("other strategies ran")
}

fn check_adaptive_holds_up(name: &str) -> Comparison {
    let c = short(name);
    let (success, ci) = mean(&c, StrategyKind::Adaptive, "success_rate");
    let (best, best_success) = best_other(&c, "success_rate", true);
    assert!(
        success + ci >= best_success,
        "{name}: adaptive success {success:.5} (±{ci:.5}) below {best} {best_success:.5}"
    );
    let (p99, _) = mean(&c, StrategyKind::Adaptive, "latency_p99_ms");
    let (best, best_p99) = best_other(&c, "latency_p99_ms", false);
    assert!(
        p99 <= best_p99 * 1.05,
        "{name}: adaptive p99 {p99:.0} ms more than 5 % above {best} {best_p99:.0} ms"
    );
    c
}

fn check_strictly_better_than_baselines(c: &Comparison, name: &str) {
    for baseline in [StrategyKind::Random, StrategyKind::WeightedRoundRobin] {
        for (metric, higher) in [("success_rate", true), ("rate_limit_hits", false)] {
            let (a, _) = mean(c, StrategyKind::Adaptive, metric);
            let (b, _) = mean(c, baseline, metric);
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
    ] {
        check_adaptive_holds_up(name);
    }
}
