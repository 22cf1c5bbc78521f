//! The properties (a)–(d), each checked over generated configs, seeds, arrivals and
//! outcomes.
//!
//! Saved failing cases are in `tests/proptest-regressions/properties.txt`: with a `main.rs`
//! in this directory, proptest's default `SourceParallel` persistence resolves this file's
//! regressions there (a sibling `proptest-regressions/` of the directory holding
//! `main.rs`, same relative path, extension `.txt`).

use std::fmt::Write as _;
use std::time::Duration;

use engine::{Config, Engine, Outcome, Request, Step, StrategyKind, TierId};
use proptest::prelude::*;

use crate::driver::{run, Report};
use crate::inputs::{
    arrivals, config_spec, outcome_spec, Arrival, ConfigSpec, DeploymentSpec, Kind, OutcomeSpec,
    TierSpec,
};

proptest! {
    #![proptest_config(ProptestConfig { cases: 192, ..ProptestConfig::default() })]

    /// (a) Every started request gets exactly one terminal step or is cancelled by the driver;
    /// none is lost, none answered twice, nothing stays live.
    #[test]
    fn every_request_ends_exactly_once(
        spec in config_spec(),
        seed in any::<u64>(),
        arrivals in arrivals(),
        outcomes in proptest::collection::vec(outcome_spec(), 1..=40),
    ) {
        let report = run(&spec, seed, &arrivals, &outcomes);
        prop_assert!(report.lifecycle.is_empty(), "{:#?}", report.lifecycle);
        prop_assert_eq!(report.started.len(), arrivals.len());
        for id in &report.started {
            let terminals = report.terminals.get(id).copied().unwrap_or(0);
            let cancelled = u32::from(report.cancelled.contains(id));
            prop_assert_eq!(
                terminals + cancelled, 1,
                "request {:?}: {} terminal steps, cancelled: {}", id, terminals, cancelled
            );
        }
        prop_assert_eq!(report.live_at_end, 0);
        prop_assert!(report.totals_balance, "engine totals do not add up");
    }

    /// (a) A request is told to wait only while the wait ends within its budget: started +
    /// `retry.max_wait`; beyond that it fails with `NoCapacity` instead.
    #[test]
    fn waits_stay_within_max_wait(
        spec in config_spec(),
        seed in any::<u64>(),
        arrivals in arrivals(),
        outcomes in proptest::collection::vec(outcome_spec(), 1..=40),
    ) {
        let report = run(&spec, seed, &arrivals, &outcomes);
        prop_assert!(report.beyond_max_wait.is_empty(), "{:#?}", report.beyond_max_wait);
    }

    /// (b) No attempt goes to a deployment that is cooling down or out of headroom at that
    /// instant; the breaker is ignored only in panic mode; fallback order is respected.
    #[test]
    fn attempts_only_go_to_usable_deployments(
        spec in config_spec(),
        seed in any::<u64>(),
        arrivals in arrivals(),
        outcomes in proptest::collection::vec(outcome_spec(), 1..=40),
    ) {
        let report = run(&spec, seed, &arrivals, &outcomes);
        prop_assert!(report.placement.is_empty(), "{:#?}", report.placement);
    }

    /// (c) Weighted round robin over healthy deployments (smooth on small tiers, stride
    /// scheduled on large ones): every full cycle of Σw picks gives each deployment exactly its
    /// weight, however many attempts are in flight.
    #[test]
    fn weighted_round_robin_shares_are_exact_per_cycle(
        weights in prop_oneof![
            proptest::collection::vec(1u32..=6, 1..=8),
            proptest::collection::vec(1u32..=6, 65..=120),
        ],
        cycles in 1usize..=4,
        hold in proptest::collection::vec(any::<bool>(), 1..=64),
    ) {
        let mut toml = String::from(
            "[[tier]]\nname = \"main\"\nstrategy = \"weighted-round-robin\"\n\n",
        );
        for (i, w) in weights.iter().enumerate() {
            writeln!(
                toml,
                "[[deployment]]\nid = \"d{i}\"\nprovider = \"p\"\nmodel = \"m\"\ntier = \"main\"\nweight = {w}\n"
            ).unwrap();
        }
        let mut engine = Engine::new(Config::from_toml(&toml).unwrap(), 3);
        let tier = TierId::from_index(0);
        let total: u32 = weights.iter().sum();
        let mut picks = Vec::new();
        let mut held = Vec::new();
        for i in 0..cycles * total as usize {
            let now = Duration::from_millis(i as u64);
            let step = engine.start(Request { tier, input_tokens: 10, output_tokens: 10 }, now);
            let Step::Send { request, deployment, attempt: 1 } = step else {
                return Err(TestCaseError::fail(format!("expected a first Send, got {step:?}")));
            };
            picks.push(deployment.index());
            if hold[i % hold.len()] {
                held.push(request);
            } else {
                let done = engine.finish(request, &Outcome::success(Duration::from_millis(5), 10, 10), now);
                prop_assert_eq!(done, Step::Done { request });
            }
        }
        for request in held {
            let now = Duration::from_secs(3600);
            let done = engine.finish(request, &Outcome::success(Duration::from_millis(5), 10, 10), now);
            prop_assert_eq!(done, Step::Done { request });
        }
        for (c, cycle) in picks.chunks(total as usize).enumerate() {
            let mut counts = vec![0u32; weights.len()];
            for &d in cycle {
                counts[d] += 1;
            }
            prop_assert_eq!(&counts, &weights, "cycle {}: {:?}", c, cycle);
        }
        let snapshot = engine.snapshot(Duration::from_secs(3600));
        for (i, d) in snapshot.deployments.iter().enumerate() {
            prop_assert_eq!(d.attempts, u64::from(weights[i]) * cycles as u64);
            prop_assert!((d.actual_share - d.configured_share).abs() < 1e-12);
        }
    }

    /// (d) Same config, seed and inputs ⇒ the identical sequence of steps and the same metrics.
    #[test]
    fn same_seed_and_inputs_give_the_same_steps(
        spec in config_spec(),
        seed in any::<u64>(),
        arrivals in arrivals(),
        outcomes in proptest::collection::vec(outcome_spec(), 1..=40),
    ) {
        let first = run(&spec, seed, &arrivals, &outcomes);
        let second = run(&spec, seed, &arrivals, &outcomes);
        prop_assert!(!first.log.is_empty());
        prop_assert_eq!(&first.log, &second.log);
        prop_assert_eq!(&first.started, &second.started);
    }

    /// (d) A different seed changes the `random` strategy's picks (4 equal deployments,
    /// 64 requests: the chance of two seeds agreeing is 4⁻⁶⁴).
    #[test]
    fn another_seed_changes_random_picks(a in any::<u64>(), b in any::<u64>()) {
        prop_assume!(a != b);
        let spec = ConfigSpec {
            tiers: vec![TierSpec { strategy: StrategyKind::Random, fallback: vec![], context: None }],
            deployments: (0..4)
                .map(|_| DeploymentSpec { tier: 0, weight: 1, rpm: None, tpm: None, rpd: None })
                .collect(),
            max_attempts: 3,
            backoff_base_ms: 100,
            jitter: 0.0,
            max_wait_s: 10,
            retry_on: [true; 4],
            cooldown_ms: 1_000,
            failure_threshold: 5,
            open_for_ms: 1_000,
        };
        let arrivals: Vec<Arrival> = (0..64)
            .map(|_| Arrival { gap_ms: 10, tier: 0, input_tokens: 10, output_tokens: 10 })
            .collect();
        let outcomes = [OutcomeSpec { kind: Kind::Success, latency_ms: 5, headers: None }];
        let first = run(&spec, a, &arrivals, &outcomes);
        let again = run(&spec, a, &arrivals, &outcomes);
        let other = run(&spec, b, &arrivals, &outcomes);
        prop_assert_eq!(&first.log, &again.log);
        prop_assert_ne!(&first.log, &other.log);
        let sends = |r: &Report| r.log.iter().filter(|(_, s)| matches!(s, Step::Send { .. })).count();
        prop_assert_eq!(sends(&first), 64);
        prop_assert_eq!(sends(&other), 64);
    }
}
