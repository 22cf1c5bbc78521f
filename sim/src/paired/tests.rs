use super::*;

use engine::StrategyKind;

use crate::compare::Comparison;
use crate::{RunResult, Scenario};

fn close(a: f64, b: f64, tol: f64) -> bool {
    (a - b).abs() <= tol
}

#[test]
fn t_quantiles_for_small_and_large_samples() {
    assert!(t95(0).is_nan());
    assert_eq!(t95(1), 12.706);
    assert_eq!(t95(2), 4.303);
    assert_eq!(t95(4), 2.776);
    assert_eq!(t95(19), 2.093);
    assert_eq!(t95(30), 2.042);
    // Above the table: t(39) = 2.0227, t(60) = 2.0003, t(120) = 1.9799, t(∞) → 1.96.
    assert!(close(t95(39), 2.0227, 2e-4), "{}", t95(39));
    assert!(close(t95(60), 2.0003, 2e-4), "{}", t95(60));
    assert!(close(t95(120), 1.9799, 2e-4), "{}", t95(120));
    assert!(close(t95(100_000), 1.96, 1e-4), "{}", t95(100_000));
    // Continuous with the table and decreasing.
    assert!(close(t95(31), 2.0395, 2e-4), "{}", t95(31));
    assert!(t95(31) < t95(30) && t95(40) < t95(39));
}

#[test]
fn paired_interval_computed_by_hand() {
    // Differences 2, 1, 0, 3: mean 1.5, s² = 5/3, s = 1.290994, half-width = 3.182 · s / √4.
    let d = PairedDiff::of(&[10.0, 12.0, 9.0, 11.0], &[8.0, 11.0, 9.0, 8.0]);
    assert_eq!(d.seeds, 4);
    assert_eq!(d.diff, 1.5);
    assert!(
        close(d.ci95, 3.182 * 1.290_994_448_7 / 2.0, 1e-9),
        "{}",
        d.ci95
    );
    assert!(!d.significant(), "1.5 ± 2.05 includes 0");
    // Differences 1, 1.2, 0.8, 1, 1: mean 1, s² = 0.02, half-width = 2.776 · √(0.02 / 5).
    let d = PairedDiff::of(&[3.0, 3.2, 2.8, 3.0, 3.0], &[2.0; 5]);
    assert!(close(d.diff, 1.0, 1e-12));
    assert!(
        close(d.ci95, 2.776 * (0.02f64 / 5.0).sqrt(), 1e-9),
        "{}",
        d.ci95
    );
    assert!(d.significant());
    // Negative differences are significant too.
    let d = PairedDiff::of(&[2.0; 5], &[3.0, 3.2, 2.8, 3.0, 3.0]);
    assert!(d.diff < 0.0 && d.significant());
}

#[test]
fn pairing_sees_a_lead_the_separate_intervals_hide() {
    // Seed-to-seed spread is large, but A beats B by 0.01 on every seed.
    let b = [0.80, 0.90, 0.99, 0.85];
    let a: Vec<f64> = b.iter().map(|v| v + 0.01).collect();
    let (ea, eb) = (
        crate::compare::Estimate::of(&a),
        crate::compare::Estimate::of(&b),
    );
    assert!(
        (ea.mean - eb.mean).abs() < ea.ci95 + eb.ci95,
        "intervals overlap"
    );
    let d = PairedDiff::of(&a, &b);
    assert!(close(d.diff, 0.01, 1e-12) && d.ci95 < 1e-9 && d.significant());
}

#[test]
fn one_seed_or_no_difference_is_never_significant() {
    let d = PairedDiff::of(&[5.0], &[1.0]);
    assert_eq!((d.diff, d.seeds), (4.0, 1));
    assert!(d.ci95.is_nan() && !d.significant());
    let d = PairedDiff::of(&[1.0, 2.0, 3.0], &[1.0, 2.0, 3.0]);
    assert_eq!((d.diff, d.ci95), (0.0, 0.0));
    assert!(!d.significant());
    assert!(!PairedDiff::of(&[], &[]).significant());
}

#[test]
fn seed_schedule_doubles_up_to_the_cap() {
    assert_eq!(seed_schedule(40), vec![3, 5, 10, 20, 40]);
    assert_eq!(seed_schedule(30), vec![3, 5, 10, 20, 30]);
    assert_eq!(seed_schedule(3), vec![3]);
    assert_eq!(seed_schedule(2), vec![2]);
    assert_eq!(seed_schedule(0), vec![1]);
}

/// One real run, to copy with made-up headline numbers.
fn template() -> RunResult {
    const SCENARIO: &str = r#"
[simulation]
seed = 1
duration = "5s"

[workload]
arrivals = { poisson = { rate = 2.0 } }
input_tokens = { lognormal = { median = 100, p99 = 400 } }
output_tokens = { lognormal = { median = 50, p99 = 200 } }

[[workload.mix]]
model = "m"
share = 1.0

[[tier]]
name = "t"

[[route]]
model = "m"
tier = "t"

[[deployment]]
id = "d"
provider = "p"
model = "m"
tier = "t"
rpm = 1000
tpm = 1000000

[[world.provider]]
name = "p"
ttft = { lognormal = { median = "300ms", p99 = "1s" } }
per_token = { lognormal = { median = "5ms", p99 = "10ms" } }

  [[world.provider.deployment]]
  id = "d"
  rpm = 1000
  tpm = 1000000
"#;
    let scenario = match Scenario::parse(SCENARIO, "t.toml", "t") {
        Ok(s) => s,
        Err(e) => panic!("{e}"),
    };
    let c = crate::compare::compare(&scenario, &[StrategyKind::Random], &[1], 1, &|_, _| {});
    c.strategies[0].runs[0].clone()
}

/// A comparison with the given success rates per strategy and seed.
fn fake(rates: &[(StrategyKind, &[f64])]) -> Comparison {
    let t = template();
    let seeds: Vec<u64> = (0..rates[0].1.len() as u64).collect();
    Comparison {
        scenario: "fake".into(),
        seeds: seeds.clone(),
        baseline: None,
        strategies: rates
            .iter()
            .map(|(kind, values)| crate::compare::StrategyResult {
                strategy: *kind,
                runs: values
                    .iter()
                    .zip(&seeds)
                    .map(|(&v, &seed)| {
                        let mut r = t.clone();
                        r.summary.seed = seed;
                        r.summary.success_rate = v;
                        r
                    })
                    .collect(),
            })
            .collect(),
    }
}

use StrategyKind::{Adaptive, CapacityAware, Random};

#[test]
fn a_winner_needs_a_significant_lead_over_everyone() {
    let c = fake(&[
        (Random, &[0.90, 0.95, 0.99, 0.93]),
        (Adaptive, &[0.92, 0.96, 1.00, 0.95]),
        (CapacityAware, &[0.91, 0.97, 0.98, 0.94]),
    ]);
    let v = verdict(&c, "success_rate", None).expect("verdict");
    assert_eq!(v.label, "success rate");
    assert_eq!(v.ranking, vec![1, 2, 0]);
    assert_eq!((v.leader(), v.runner_up(), v.baseline), (1, Some(2), 1));
    // adaptive − random: 0.02, 0.01, 0.01, 0.02 → significant.
    assert!(v.lead[0].significant(), "{:?}", v.lead[0]);
    // adaptive − capacity-aware: 0.01, −0.01, 0.02, 0.01 → not.
    assert!(!v.lead[2].significant(), "{:?}", v.lead[2]);
    assert_eq!(v.not_ahead_of(), vec![2]);
    assert_eq!(v.winner(), None);
    assert_eq!(v.vs_baseline[1].diff, 0.0);
    assert!(close(v.vs_baseline[0].diff, -0.015, 1e-12));

    // Without capacity-aware, adaptive wins; a fixed baseline changes the columns, not the winner.
    let mut c = fake(&[
        (Random, &[0.90, 0.95, 0.99, 0.93]),
        (Adaptive, &[0.92, 0.96, 1.00, 0.95]),
    ]);
    c.baseline = Some(Random);
    let v = verdict(&c, "success_rate", c.baseline).expect("verdict");
    assert_eq!((v.winner(), v.baseline), (Some(1), 0));
    assert!(close(v.vs_baseline[1].diff, 0.015, 1e-12) && v.vs_baseline[1].significant());
    assert_eq!(verdicts(&c).len(), METRICS.len());
}

#[test]
fn identical_strategies_have_no_winner_and_ties_decide_on_p99() {
    let c = fake(&[(Random, &[1.0, 1.0, 1.0]), (Adaptive, &[1.0, 1.0, 1.0])]);
    let v = verdict(&c, "success_rate", None).expect("verdict");
    assert_eq!((v.leader(), v.winner()), (0, None));
    assert_eq!(deciding_metric(&c), "latency_p99_ms");
    let c = fake(&[(Random, &[0.9, 1.0]), (Adaptive, &[1.0, 1.0])]);
    assert_eq!(deciding_metric(&c), "success_rate");
    // One strategy: nothing to be behind.
    let c = fake(&[(Random, &[0.9])]);
    assert_eq!(
        verdict(&c, "success_rate", None).and_then(|v| v.winner()),
        Some(0)
    );
}
