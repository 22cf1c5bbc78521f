//! The request deadline (`[retry] deadline`) in simulation: the same engine steps the gateway
//! follows, carried out in virtual time.

mod common;

use common::{assert_conserved, run, scenario};
use engine::StrategyKind;

/// One provider whose answers take exactly `ttft`; arrivals at 1/s for a minute.
fn slow(ttft: &str, retry: &str) -> String {
    format!(
        r#"
[simulation]
seed = 3
duration = "60s"

[workload]
arrivals = {{ constant = {{ rate = 1.0 }} }}
input_tokens = {{ constant = 100 }}
output_tokens = {{ constant = 10 }}

[[tier]]
name = "t"

[retry]
{retry}

[[world.provider]]
name = "p"
ttft = {{ constant = "{ttft}" }}
per_token = {{ constant = "0ms" }}

  [[world.provider.deployment]]
  id = "a"

[[deployment]]
id = "a"
provider = "p"
model = "m"
tier = "t"
"#
    )
}

#[test]
fn every_request_past_its_deadline_fails_as_a_deadline() {
    let s = scenario(&slow("3s", "deadline = \"2s\""));
    let r = run(&s, Some(StrategyKind::Random), 1);
    assert_conserved(&r);
    let sum = &r.summary;
    assert!(sum.requests >= 59, "{sum:?}");
    assert_eq!(sum.successes, 0);
    assert_eq!(sum.failed_deadline, sum.requests);
    assert_eq!(sum.failures, sum.requests);
    // The deployment is not blamed: no attempt counts as a timeout or error.
    assert_eq!(r.deployments[0].timeouts, 0);
}

#[test]
fn a_deadline_longer_than_the_answers_changes_nothing() {
    let with = run(
        &scenario(&slow("1s", "deadline = \"2s\"")),
        Some(StrategyKind::Random),
        1,
    );
    let without = run(&scenario(&slow("1s", "")), Some(StrategyKind::Random), 1);
    assert!(with.summary.requests >= 59);
    assert_eq!(with.summary.successes, with.summary.requests);
    assert_eq!(with.summary.failed_deadline, 0);
    assert_eq!(with.summary.latency_p99_ms, without.summary.latency_p99_ms);
}
