//! The simulator against queueing theory: M/M/1 and M/M/c (Erlang C).

mod common;

use common::{assert_conserved, run, scenario};
use engine::StrategyKind;

/// One deployment, Poisson arrivals at `rate`, exponential service with mean 100 ms, `servers`
/// at once, no limits, no errors, no retries.
fn queue(rate: f64, servers: u32, requests: u64) -> String {
    format!(
        r#"
[simulation]
seed = 11
duration = "1000000s"
requests = {requests}

[workload]
arrivals = {{ poisson = {{ rate = {rate} }} }}
input_tokens = {{ constant = 10 }}
output_tokens = {{ constant = 10 }}
client_timeout = "100000s"

[[tier]]
name = "t"
strategy = "weighted-round-robin"

[[deployment]]
id = "only"
provider = "p"
model = "m"
tier = "t"

[retry]
max_attempts = 1

[[world.provider]]
name = "p"
ttft = {{ exponential = {{ mean = "100ms" }} }}
concurrency = {servers}

  [[world.provider.deployment]]
  id = "only"
"#
    )
}

#[test]
fn mm1_mean_response_time_matches_theory() {
    // λ = 5/s, μ = 10/s: mean response 1/(μ − λ) = 200 ms.
    let s = scenario(&queue(5.0, 1, 400_000));
    let r = run(&s, Some(StrategyKind::WeightedRoundRobin), 11);
    assert_conserved(&r);
    assert_eq!(r.summary.successes, 400_000);
    let mean = r.summary.latency_mean_ms;
    assert!(
        (mean / 200.0 - 1.0).abs() < 0.02,
        "M/M/1 mean response {mean:.2} ms, theory 200 ms"
    );
}

#[test]
fn mmc_mean_wait_matches_erlang_c() {
    // c = 4, μ = 10/s, λ = 30/s: offered load a = 3.
    let (c, a, mu, lambda) = (4u32, 3.0f64, 10.0, 30.0);
    let fact = |n: u32| (1..=n).map(f64::from).product::<f64>();
    let head: f64 = (0..c).map(|k| a.powi(k as i32) / fact(k)).sum();
    let tail = a.powi(c as i32) / fact(c) * f64::from(c) / (f64::from(c) - a);
    let erlang_c = tail / (head + tail);
    let wait_ms = erlang_c / (f64::from(c) * mu - lambda) * 1000.0;
    let s = scenario(&queue(lambda, c, 600_000));
    let r = run(&s, Some(StrategyKind::WeightedRoundRobin), 11);
    assert_conserved(&r);
    let measured_wait = r.summary.latency_mean_ms - 100.0;
    assert!(
        (measured_wait / wait_ms - 1.0).abs() < 0.03,
        "M/M/{c} mean wait {measured_wait:.3} ms, Erlang C {wait_ms:.3} ms"
    );
}
