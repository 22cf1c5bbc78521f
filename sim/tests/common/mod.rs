//! Shared helpers for the simulator's integration tests.

use engine::StrategyKind;
use sim::{RunOptions, RunResult, Scenario};

/// Parses scenario text, panicking with the scenario error if it is invalid.
pub fn scenario(text: &str) -> Scenario {
    Scenario::parse(text, "test.toml", "test").unwrap_or_else(|e| panic!("{e}"))
}

/// Runs a scenario with one strategy (or the configured ones) and a seed.
pub fn run(s: &Scenario, strategy: Option<StrategyKind>, seed: u64) -> RunResult {
    sim::run(
        s,
        RunOptions {
            strategy,
            seed,
            trace: None,
            progress: None,
        },
    )
}

/// Asserts that every arrival ended exactly once or is reported in flight.
pub fn assert_conserved(r: &RunResult) {
    let s = &r.summary;
    assert_eq!(
        s.requests,
        s.successes + s.failures + s.in_flight_at_end,
        "conservation broken for {}: {s:?}",
        s.strategy
    );
}
