//! End-to-end behaviour of simulated runs: rate limits, conservation, determinism.

mod common;

use common::{assert_conserved, run, scenario};
use engine::StrategyKind;
use sim::output::write_run_files;

/// Arrivals at 2/s into `keys` deployments whose true limit is 60 requests/min each.
/// `configured_rpm` is what the gateway config believes (None: it does not know).
fn sixty_rpm(keys: usize, configured_rpm: Option<u32>) -> String {
    let mut text = String::from(
        r#"
[simulation]
seed = 5
duration = "10m"

[workload]
arrivals = { constant = { rate = 2.0 } }
input_tokens = { constant = 100 }
output_tokens = { constant = 50 }

[[tier]]
name = "t"

[retry]
max_attempts = 1
max_wait = "0s"

[[world.provider]]
name = "p"
ttft = { constant = "200ms" }
# No rate-limit headers: the gateway learns only from 429s and their retry-after.
rate_limit_headers = "none"
"#,
    );
    for k in 0..keys {
        text.push_str(&format!(
            "\n  [[world.provider.deployment]]\n  id = \"key{k}\"\n  rpm = 60\n"
        ));
    }
    for k in 0..keys {
        text.push_str(&format!(
            "\n[[deployment]]\nid = \"key{k}\"\nprovider = \"p\"\nmodel = \"m\"\ntier = \"t\"\n{}",
            configured_rpm
                .map(|r| format!("rpm = {r}\n"))
                .unwrap_or_default()
        ));
    }
    text
}

#[test]
fn one_key_at_twice_its_limit_fails_about_half() {
    let s = scenario(&sixty_rpm(1, None));
    let r = run(&s, Some(StrategyKind::Random), 5);
    assert_conserved(&r);
    let sum = &r.summary;
    // Arrivals at 0.5 s, 1.0 s, …, 599.5 s.
    assert_eq!(sum.requests, 1199);
    // 60 from the full bucket in the first minute, then one per second: 60 + 9 × 60 = 600 … 660.
    assert!((600..=660).contains(&sum.successes), "{sum:?}");
    // The rest meet a 429, or the cooldown that 429's retry-after set (the gateway does not
    // hammer a key that said when to come back).
    assert_eq!(
        sum.failures,
        sum.rate_limit_hits + sum.failed_no_capacity,
        "{sum:?}"
    );
    assert!(
        sum.rate_limit_hits as f64 >= 0.2 * sum.requests as f64,
        "{sum:?}"
    );
}

#[test]
fn without_cooldowns_the_provider_answers_about_half_with_429s() {
    // A gateway that ignores retry-after (cooldowns capped at zero) keeps sending, so the
    // provider itself answers every other request past the first minute with a 429.
    let text = sixty_rpm(1, None).replace(
        "[retry]",
        "[health]\ncooldown = \"0s\"\nmax_cooldown = \"0s\"\n\n[retry]",
    );
    let r = run(&scenario(&text), Some(StrategyKind::Random), 5);
    assert_conserved(&r);
    let sum = &r.summary;
    assert_eq!(sum.failed_no_capacity, 0, "{sum:?}");
    assert_eq!(sum.successes + sum.rate_limit_hits, sum.requests, "{sum:?}");
    let share = sum.rate_limit_hits as f64 / sum.requests as f64;
    assert!(
        (0.42..=0.50).contains(&share),
        "429 share {share:.3}: {sum:?}"
    );
}

#[test]
fn capacity_aware_with_a_second_key_gets_no_429s() {
    let s = scenario(&sixty_rpm(2, Some(60)));
    let r = run(&s, Some(StrategyKind::CapacityAware), 5);
    assert_conserved(&r);
    assert_eq!(r.summary.rate_limit_hits, 0, "{:?}", r.summary);
    assert_eq!(r.summary.successes, 1199);
}

#[test]
fn every_strategy_conserves_requests_on_the_default_scenario() {
    let mut s = sim::Scenario::load(std::path::Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../scenarios/default.toml"
    )))
    .unwrap_or_else(|e| panic!("{e}"));
    s.settings.max_requests = Some(1500);
    for strategy in StrategyKind::ALL {
        let r = run(&s, Some(strategy), 1);
        assert_conserved(&r);
        assert_eq!(r.summary.requests, 1500);
        assert_eq!(r.summary.in_flight_at_end, 0, "{strategy}: drained");
    }
}

fn files_of(s: &sim::Scenario, seed: u64, dir: &std::path::Path) -> Vec<Vec<u8>> {
    let r = run(s, Some(StrategyKind::Adaptive), seed);
    write_run_files(dir, &[&r]).unwrap();
    [
        "summary.csv",
        "deployments.csv",
        "timeseries.csv",
        "summary.json",
    ]
    .iter()
    .map(|f| std::fs::read(dir.join(f)).unwrap())
    .collect()
}

#[test]
fn same_seed_gives_byte_identical_reports_and_another_seed_does_not() {
    let mut s = sim::Scenario::load(std::path::Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../scenarios/default.toml"
    )))
    .unwrap_or_else(|e| panic!("{e}"));
    s.settings.max_requests = Some(2000);
    let base = std::env::temp_dir().join(format!("switchyard-determinism-{}", std::process::id()));
    let a = files_of(&s, 9, &base.join("a"));
    let b = files_of(&s, 9, &base.join("b"));
    let c = files_of(&s, 10, &base.join("c"));
    assert_eq!(a, b, "same seed must give byte-identical files");
    assert_ne!(a[0], c[0], "a different seed must give a different run");
    std::fs::remove_dir_all(&base).ok();
}

/// A short-context tier (8k tokens, true and as the provider enforces it) in front of a
/// long-context one; inputs of 1k tokens, one in ten of 20k. `context` is the short tier's
/// `context_fallback` line.
fn short_and_long_context(context: &str) -> String {
    format!(
        r#"
[simulation]
seed = 3
duration = "5m"

[workload]
arrivals = {{ constant = {{ rate = 2.0 }} }}
input_tokens = {{ percentiles = {{ p50 = 1000, p89 = 1000, p90 = 20000, p100 = 20000 }} }}
output_tokens = {{ constant = 200 }}
max_tokens = 500

[[tier]]
name = "short"
{context}

[[tier]]
name = "long"

[[route]]
model = "gpt-4o-mini"
tier = "short"

[[deployment]]
id = "short-key"
provider = "p"
model = "gpt-4o-mini"
tier = "short"

[[deployment]]
id = "long-key"
provider = "p"
model = "gpt-4.1"
tier = "long"

[[world.provider]]
name = "p"
ttft = {{ constant = "300ms" }}

  [[world.provider.deployment]]
  id = "short-key"
  context_window = 8192

  [[world.provider.deployment]]
  id = "long-key"
"#
    )
}

#[test]
fn too_long_inputs_move_to_the_context_fallback_tier() {
    let s = scenario(&short_and_long_context("context_fallback = \"long\""));
    let r = run(&s, None, 3);
    assert_conserved(&r);
    let sum = &r.summary;
    assert_eq!(sum.successes, sum.requests, "{sum:?}");
    let row = |id: &str| {
        r.deployments
            .iter()
            .find(|d| d.deployment == id)
            .unwrap_or_else(|| panic!("no row for {id}"))
    };
    let (short, long) = (row("short-key"), row("long-key"));
    // Every long input tried the short tier once, was refused, and was answered by the long one.
    assert_eq!(short.attempts, sum.requests);
    assert_eq!(long.attempts, long.successes);
    assert_eq!(short.successes + long.successes, sum.requests);
    let long_share = long.successes as f64 / sum.requests as f64;
    assert!((0.05..0.16).contains(&long_share), "{long_share}");
    assert_eq!(
        sum.fallbacks, long.attempts,
        "each move counts as a fallback"
    );
}

#[test]
fn without_a_context_fallback_too_long_inputs_fail_as_client_errors() {
    let s = scenario(&short_and_long_context(""));
    let r = run(&s, None, 3);
    assert_conserved(&r);
    let sum = &r.summary;
    assert!(sum.failed_client_error > 0, "{sum:?}");
    assert_eq!(sum.failures, sum.failed_client_error, "{sum:?}");
    assert_eq!(sum.successes + sum.failed_client_error, sum.requests);
    assert_eq!(sum.retries, 0, "a context-length 400 is never retried");
}
