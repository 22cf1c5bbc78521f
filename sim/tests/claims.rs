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
        "replicas",
        "noisy-tenant",
        "tail-latency",
    ] {
        check_adaptive_holds_up(name);
    }
}

/// `cheap-vs-fast`: cost-aware is the cheapest strategy on average — significantly: below every
/// other by more than the 95 % interval of the difference — and its p99 stays within the
/// tier's latency objective (`max_latency`) on every seed.
#[test]
fn cost_aware_is_cheapest_within_its_objective() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/cheap-vs-fast.toml");
    let s = Scenario::load(&path).unwrap_or_else(|e| panic!("{e}"));
    let objective = s.config.tiers[0]
        .objectives
        .max_latency
        .expect("cheap-vs-fast sets max_latency")
        .as_secs_f64()
        * 1000.0;
    let seeds: Vec<u64> = (0..SEEDS).map(|i| s.settings.seed + i).collect();
    let c = compare(&s, &s.settings.strategies, &seeds, 2, &|_, _| {});
    let cost = estimate(&c, StrategyKind::CostAware, "cost");
    for other in c
        .strategies
        .iter()
        .filter(|o| o.strategy != StrategyKind::CostAware)
    {
        let o = other.estimate("cost");
        let margin = (cost.ci95 * cost.ci95 + o.ci95 * o.ci95).sqrt();
        assert!(
            cost.mean + margin < o.mean,
            "cost-aware cost {:.3} not significantly below {} {:.3} (margin {margin:.3})",
            cost.mean,
            other.strategy,
            o.mean
        );
    }
    let runs = &c
        .strategies
        .iter()
        .find(|o| o.strategy == StrategyKind::CostAware)
        .expect("cost-aware ran")
        .runs;
    assert_eq!(runs.len(), SEEDS as usize);
    for run in runs {
        assert!(
            run.summary.latency_p99_ms <= objective,
            "seed {}: cost-aware p99 {:.0} ms above the {objective:.0} ms objective",
            run.summary.seed,
            run.summary.latency_p99_ms
        );
    }
}

/// `agent-sessions`: session affinity against the same runs without it (`[affinity] sessions =
/// 0`), paired seed by seed under the scenario's own strategy: cost falls by more than 15 %,
/// significantly (the 95 % interval of the paired difference lies below −15 % of the cost
/// without affinity), and the success rate does not fall significantly.
#[test]
fn affinity_cuts_cost_at_no_success_loss() {
    use sim::compare::Estimate;
    use sim::RunOptions;
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/agent-sessions.toml");
    let on = Scenario::load(&path).unwrap_or_else(|e| panic!("{e}"));
    assert!(
        on.config.affinity.sessions > 0,
        "the scenario turns affinity on"
    );
    let mut off = on.clone();
    off.config.affinity.sessions = 0;
    let run = |s: &Scenario, seed: u64| {
        sim::run(
            s,
            RunOptions {
                strategy: None,
                seed,
                trace: None,
                progress: None,
            },
        )
    };
    let (mut cost, mut success, mut base_cost) = (Vec::new(), Vec::new(), Vec::new());
    for seed in (0..SEEDS).map(|i| on.settings.seed + i) {
        let (a, b) = (run(&on, seed), run(&off, seed));
        assert!(
            a.cache.hit_share() > b.cache.hit_share() + 0.3,
            "seed {seed}: {:?} vs {:?}",
            a.cache,
            b.cache
        );
        cost.push(a.summary.cost - b.summary.cost);
        success.push(a.summary.success_rate - b.summary.success_rate);
        base_cost.push(b.summary.cost);
    }
    let (cost, success, base) = (
        Estimate::of(&cost),
        Estimate::of(&success),
        Estimate::of(&base_cost),
    );
    assert!(
        cost.mean + cost.ci95 < -0.15 * base.mean,
        "affinity − none cost {:.3} ± {:.3} of {:.3}: not a significant 15 % cut",
        cost.mean,
        cost.ci95,
        base.mean
    );
    assert!(
        success.mean + success.ci95 >= 0.0,
        "affinity − none success {:.5} ± {:.5}: significantly lower",
        success.mean,
        success.ci95
    );
}

/// `tail-latency`: hedging against the same runs without `hedge`, paired seed by seed under the
/// scenario's own strategy: p99 falls by more than 30 %, significantly; hedges stay within
/// their budget (at most `max` = 1 per request, and about the 5 % of attempts slower than the
/// tier's p95 — at most 8 %); success does not fall significantly; every hedge either won or
/// lost a race (none left behind).
#[test]
fn hedging_cuts_p99_within_its_budget() {
    use sim::compare::Estimate;
    use sim::RunOptions;
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/tail-latency.toml");
    let on = Scenario::load(&path).unwrap_or_else(|e| panic!("{e}"));
    let max = on.config.tiers[0].hedge.expect("the scenario hedges").max;
    let mut off = on.clone();
    for t in &mut off.config.tiers {
        t.hedge = None;
    }
    let run = |s: &Scenario, seed: u64| {
        sim::run(
            s,
            RunOptions {
                strategy: None,
                seed,
                trace: None,
                progress: None,
            },
        )
    };
    let seeds: u64 = std::env::var("SWITCHYARD_CLAIM_SEEDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(SEEDS);
    let (mut p99, mut base_p99, mut success, mut cost, mut base_cost) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for seed in (0..seeds).map(|i| on.settings.seed + i) {
        let (a, b) = (run(&on, seed), run(&off, seed));
        let h = a.hedges;
        let requests = a.summary.requests as f64;
        assert_eq!(b.hedges.sent, 0, "no hedge without `hedge`");
        assert!(h.sent > 0, "seed {seed}: no hedge sent");
        assert!(
            h.sent as f64 <= 0.08 * requests && h.sent <= u64::from(max) * a.summary.requests,
            "seed {seed}: {} hedges for {requests} requests",
            h.sent
        );
        // A race ends in at most one cancellation, and a hedge wins only by cancelling the
        // original; some win (p99 falls); no attempt is left out when the run ends.
        assert!(h.won <= h.cancelled && h.cancelled <= h.sent, "{h:?}");
        assert!(h.won > 0, "seed {seed}: no hedge ever won: {h:?}");
        assert_eq!(a.summary.in_flight_at_end, 0, "seed {seed}: left in flight");
        assert_eq!(
            a.summary.requests,
            a.summary.successes + a.summary.failures,
            "seed {seed}: every request ends once"
        );
        p99.push(a.summary.latency_p99_ms - b.summary.latency_p99_ms);
        base_p99.push(b.summary.latency_p99_ms);
        success.push(a.summary.success_rate - b.summary.success_rate);
        cost.push(a.summary.cost - b.summary.cost);
        base_cost.push(b.summary.cost);
        println!(
            "seed {seed}: p99 {:.0} → {:.0} ms, hedges {:.2} % of requests, won {:.0} %, cost {:.3} → {:.3}",
            b.summary.latency_p99_ms,
            a.summary.latency_p99_ms,
            100.0 * h.sent as f64 / requests,
            100.0 * h.won as f64 / h.sent as f64,
            b.summary.cost,
            a.summary.cost
        );
    }
    let [p99, base_p99, success, cost, base_cost] =
        [p99, base_p99, success, cost, base_cost].map(|v| Estimate::of(&v));
    println!(
        "hedge − none over {seeds} seeds: p99 {:.0} ± {:.0} ms of {:.0}; success {:.5} ± {:.5}; cost {:.3} ± {:.3} of {:.3}",
        p99.mean, p99.ci95, base_p99.mean, success.mean, success.ci95, cost.mean, cost.ci95, base_cost.mean
    );
    assert!(
        p99.mean + p99.ci95 < -0.3 * base_p99.mean,
        "hedge − none p99 {:.0} ± {:.0} of {:.0} ms: not a significant 30 % cut",
        p99.mean,
        p99.ci95,
        base_p99.mean
    );
    assert!(
        success.mean + success.ci95 >= 0.0,
        "hedge − none success {:.5} ± {:.5}: significantly lower",
        success.mean,
        success.ci95
    );
}
