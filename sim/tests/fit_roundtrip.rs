//! Round trip: simulate a scenario with per-attempt trace output, fit that trace, simulate the
//! fitted scenario; per-deployment latency (p50, p99) must come back within 10 % and error
//! rates within 1 percentage point.

use std::path::{Path, PathBuf};

use engine::StrategyKind;
use sim::fit::{fit_trace, FitOptions};
use sim::stats::DeploymentRow;
use sim::trace::CsvTrace;
use sim::{RunOptions, RunResult, Scenario};

/// Three deployments with different latency models and error behaviour; no rate limits and
/// unbounded concurrency, so each deployment's latency is exactly its model.
const ORIGINAL: &str = r#"
[simulation]
seed = 11
duration = "4000s"
requests = 150000

[workload]
arrivals = { poisson = { rate = 50.0 } }
input_tokens = { lognormal = { median = 800, p99 = 6000 } }
output_tokens = { lognormal = { median = 200, p99 = 1200 } }
client_timeout = "300s"

[[workload.mix]]
model = "chat"
share = 0.7

[[workload.mix]]
model = "chat-large"
share = 0.3

[[tier]]
name = "main"
strategy = "weighted-round-robin"

[[route]]
model = "chat*"
tier = "main"

[[deployment]]
id = "quick"
provider = "p1"
model = "m"
tier = "main"
weight = 2
first_byte_timeout = "15s"

[[deployment]]
id = "steady"
provider = "p2"
model = "m"
tier = "main"
weight = 1
first_byte_timeout = "15s"

[[deployment]]
id = "flaky"
provider = "p3"
model = "m"
tier = "main"
weight = 1
first_byte_timeout = "15s"

[retry]
max_attempts = 3

[health]
failure_threshold = 1000

[[world.provider]]
name = "p1"
ttft = { lognormal = { median = "300ms", p99 = "1.5s" } }
per_token = { lognormal = { median = "8ms", p99 = "20ms" } }
error_rate = 0.005

  [[world.provider.deployment]]
  id = "quick"

[[world.provider]]
name = "p2"
ttft = { lognormal = { median = "800ms", p99 = "3s" } }
per_token = { lognormal = { median = "15ms", p99 = "30ms" } }
error_rate = 0.01
timeout_rate = 0.01

  [[world.provider.deployment]]
  id = "steady"

[[world.provider]]
name = "p3"
ttft = { lognormal = { median = "500ms", sigma = 0.9 } }
per_token = { lognormal = { median = "11ms", sigma = 0.2 } }
error_rate = 0.05

  [[world.provider.deployment]]
  id = "flaky"
"#;

fn tmp(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("fit-tests");
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

/// Runs with weighted round robin (the original's strategy; the fitted config carries the
/// observed traffic shares as weights), writing the trace to `trace` if given.
fn run(s: &Scenario, trace: Option<&Path>) -> RunResult {
    let options = |trace| RunOptions {
        strategy: Some(StrategyKind::WeightedRoundRobin),
        seed: s.settings.seed,
        trace,
        progress: None,
    };
    match trace {
        None => sim::run(s, options(None)),
        Some(path) => {
            let file = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
            let mut sink = CsvTrace::new(file);
            let r = sim::run(s, options(Some(&mut sink)));
            sink.finish().unwrap();
            r
        }
    }
}

fn error_rate(d: &DeploymentRow) -> f64 {
    (d.server_errors + d.timeouts + d.connection_errors) as f64 / d.attempts.max(1) as f64
}

#[test]
fn fitted_scenario_reproduces_latency_and_error_rates() {
    let original = Scenario::parse(ORIGINAL, "original.toml", "original").unwrap();
    let trace = tmp("original-trace.csv");
    let before = run(&original, Some(&trace));
    assert_eq!(before.summary.requests, 150_000);

    let fit = fit_trace(&trace, &FitOptions::default()).unwrap();
    assert_eq!(fit.requests, 150_000);
    assert_eq!(fit.max_attempt, 3);
    assert!(
        (fit.arrival_rate - 50.0).abs() < 1.0,
        "{}",
        fit.arrival_rate
    );
    let text = fit.to_toml();
    std::fs::write(tmp("fitted.toml"), &text).unwrap();
    let fitted =
        Scenario::parse(&text, "fitted.toml", "fitted").unwrap_or_else(|e| panic!("{e}\n{text}"));
    let after = run(&fitted, None);

    // The fit recovers the true parameters closely.
    let quick = fit.deployments.iter().find(|d| d.id == "quick").unwrap();
    assert!(
        (quick.ttft.median() - 0.3).abs() < 0.015,
        "{:?}",
        quick.ttft
    );
    let steady = fit.deployments.iter().find(|d| d.id == "steady").unwrap();
    assert!(
        (steady.timeout_rate - 0.01).abs() < 0.004,
        "{}",
        steady.timeout_rate
    );
    assert_eq!(
        steady.timeout_after,
        Some(std::time::Duration::from_secs(15))
    );
    let flaky = fit.deployments.iter().find(|d| d.id == "flaky").unwrap();
    assert!((flaky.ttft.sigma - 0.9).abs() < 0.05, "{:?}", flaky.ttft);
    // Fitted against observed quantiles of the trace itself (sampling noise included).
    for g in fit.goodness(1) {
        assert!(g.worst_relative_error() < 0.08, "{g:?}");
    }

    let mut report = String::new();
    for b in &before.deployments {
        let a = after
            .deployments
            .iter()
            .find(|a| a.deployment == b.deployment)
            .unwrap_or_else(|| panic!("{} missing from the fitted run", b.deployment));
        let rel = |x: f64, y: f64| (x - y).abs() / y;
        report += &format!(
            "{}: p50 {:.0} vs {:.0}, p99 {:.0} vs {:.0}, errors {:.3}% vs {:.3}% ({} vs {} attempts)\n",
            b.deployment,
            a.latency_p50_ms,
            b.latency_p50_ms,
            a.latency_p99_ms,
            b.latency_p99_ms,
            error_rate(a) * 100.0,
            error_rate(b) * 100.0,
            a.attempts,
            b.attempts
        );
        assert!(a.attempts > 20_000 && b.attempts > 20_000, "{report}");
        assert!(rel(a.latency_p50_ms, b.latency_p50_ms) < 0.10, "{report}");
        assert!(rel(a.latency_p99_ms, b.latency_p99_ms) < 0.10, "{report}");
        assert!((error_rate(a) - error_rate(b)).abs() < 0.01, "{report}");
    }
    println!("{report}");
}

#[test]
fn fitting_names_what_is_missing() {
    let arrivals_only = tmp("arrivals-only.csv");
    std::fs::write(
        &arrivals_only,
        "timestamp_ms,input_tokens,output_tokens\n0,1,1\n",
    )
    .unwrap();
    let e = fit_trace(&arrivals_only, &FitOptions::default())
        .unwrap_err()
        .to_string();
    assert!(e.contains("missing deployment,latency_ms,ttft_ms"), "{e}");

    // A trace written before the stream, client and limit columns existed.
    let header = "timestamp_ms,request_id,attempt,model,tier,deployment,outcome,status,input_tokens,output_tokens,latency_ms,ttft_ms";
    let bad = tmp("bad-attempts.csv");
    std::fs::write(
        &bad,
        format!(
            "{header}\n0,1,1,m,t,d,ok,200,10,5,100.0,20.0\n5,2,1,m,t,d,exploded,200,10,5,1,1\n"
        ),
    )
    .unwrap();
    let e = fit_trace(&bad, &FitOptions::default())
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("bad-attempts.csv:3: outcome: found \"exploded\""),
        "{e}"
    );
    let skipping = FitOptions {
        skip_bad_rows: true,
        ..FitOptions::default()
    };
    let fit = fit_trace(&bad, &skipping).unwrap();
    assert_eq!((fit.skipped, fit.first_skipped[0].line), (1, 3));

    let failures = tmp("failures-only.csv");
    std::fs::write(
        &failures,
        format!("{header}\n0,1,1,m,t,d,server_error,500,10,0,100.0,\n"),
    )
    .unwrap();
    let e = fit_trace(&failures, &FitOptions::default())
        .unwrap_err()
        .to_string();
    assert!(e.contains("nothing to fit latency on"), "{e}");
}
