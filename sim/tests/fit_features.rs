//! What `fit` recovers from a simulator trace, one feature at a time: non-streamed answers
//! fitted jointly (their latency never taken as time to first token), timeouts as censored
//! latencies, a binding limit from the 429s' minutes, tiers and fallbacks, and warnings for
//! deployments with too few samples.

use std::path::{Path, PathBuf};

use engine::StrategyKind;
use sim::fit::{fit_trace, FitOptions, LatencySource};
use sim::trace::CsvTrace;
use sim::{RunOptions, Scenario};

fn tmp(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("fit-features");
    std::fs::create_dir_all(&dir).expect("temporary directory");
    dir.join(name)
}

/// Simulates `text` with the configured strategies, writing the trace to `name`.
fn traced(text: &str, name: &str) -> PathBuf {
    let s = Scenario::parse(text, "t.toml", "t").unwrap_or_else(|e| panic!("{e}"));
    let path = tmp(name);
    let out = std::io::BufWriter::new(std::fs::File::create(&path).expect("trace file"));
    let mut sink = CsvTrace::new(out);
    let options = RunOptions {
        strategy: Some(StrategyKind::WeightedRoundRobin),
        seed: 5,
        trace: Some(&mut sink),
        progress: None,
    };
    sim::run(&s, options);
    sink.finish().expect("trace written");
    path
}

const HEAD: &str = r#"
[simulation]
seed = 5
duration = "2h"

[workload]
arrivals = { poisson = { rate = 2.0 } }
input_tokens = { constant = 200 }
output_tokens = { lognormal = { median = 150, sigma = 0.8 } }
client_timeout = "600s"
"#;

#[test]
fn non_streamed_answers_are_fitted_jointly() {
    let text = format!(
        r#"{HEAD}stream_share = 0.0

[[tier]]
name = "t"

[[world.provider]]
name = "p"
ttft = {{ lognormal = {{ median = "600ms", sigma = 0.4 }} }}
per_token = {{ lognormal = {{ median = "12ms", sigma = 0.2 }} }}

  [[world.provider.deployment]]
  id = "a"

[[deployment]]
id = "a"
provider = "p"
model = "m"
tier = "t"
"#
    );
    let fit = fit_trace(&traced(&text, "whole.csv"), &FitOptions::default()).expect("fit");
    let a = &fit.deployments[0];
    assert_eq!(a.latency_source, LatencySource::Whole);
    assert_eq!((a.streamed, a.whole), (0, a.successes));
    assert_eq!(fit.stream_share, 0.0);
    // Mean ttft 0.6 e^(0.08) = 0.650 s, mean per-token 12 e^(0.02) = 12.24 ms (the joint fit
    // matches means); never the whole latency (about 2.4 s at the median).
    let mean = |f: sim::fit::LogNormalFit| (f.mu + f.sigma * f.sigma / 2.0).exp();
    assert!((mean(a.ttft) - 0.650).abs() < 0.06, "{:?}", a.ttft);
    assert!(
        (mean(a.per_token) - 0.01224).abs() < 0.0008,
        "{:?}",
        a.per_token
    );
    assert!(fit.to_toml().contains("stream_share = 0.000000"));
}

#[test]
fn timeouts_are_censored_latencies_not_a_made_up_timeout_rate() {
    let text = format!(
        r#"{HEAD}
[[tier]]
name = "t"

[retry]
max_attempts = 1

[[world.provider]]
name = "p"
ttft = {{ lognormal = {{ median = "1s", sigma = 0.8 }} }}
per_token = {{ constant = "5ms" }}

  [[world.provider.deployment]]
  id = "a"

[[deployment]]
id = "a"
provider = "p"
model = "m"
tier = "t"
first_byte_timeout = "3s"
"#
    );
    let fit = fit_trace(&traced(&text, "censored.csv"), &FitOptions::default()).expect("fit");
    let a = &fit.deployments[0];
    // P(ttft > 3 s) = 1 - Φ(ln 3 / 0.8) = 8.5 %: all of them explained by the tail.
    let share = a.timeouts as f64 / a.attempts as f64;
    assert!((share - 0.085).abs() < 0.01, "{share}");
    // Naively 8.7 % of attempts would be a "timeout rate"; censored, next to none is left.
    assert!(a.timeout_rate < 0.01, "{}", a.timeout_rate);
    assert!((a.ttft.sigma - 0.8).abs() < 0.05, "{:?}", a.ttft);
    assert!((a.ttft.median() - 1.0).abs() < 0.05, "{:?}", a.ttft);
}

#[test]
fn a_binding_limit_is_fitted_near_its_true_value() {
    let text = format!(
        r#"{HEAD}
[[tier]]
name = "t"
strategy = "weighted-round-robin"

[health]
failure_threshold = 100000

[[world.provider]]
name = "p"
rate_limit_headers = "none"
ttft = {{ lognormal = {{ median = "500ms", sigma = 0.3 }} }}
per_token = {{ constant = "5ms" }}

  [[world.provider.deployment]]
  id = "limited"
  rpm = 90

  [[world.provider.deployment]]
  id = "open"

[[deployment]]
id = "limited"
provider = "p"
model = "m"
tier = "t"
weight = 3

[[deployment]]
id = "open"
provider = "p"
model = "m"
tier = "t"
weight = 1
"#
    );
    let text = text.replace("rate = 2.0", "rate = 3.0");
    let fit = fit_trace(&traced(&text, "limited.csv"), &FitOptions::default()).expect("fit");
    let d = fit
        .deployments
        .iter()
        .find(|d| d.id == "limited")
        .expect("limited");
    assert!(d.rate_limited_share > 0.1, "{}", d.rate_limited_share);
    let (rpm, source) = d.limits.rpm.expect("an rpm");
    assert_eq!(source, sim::fit::LimitSource::BindingMinutes);
    assert!(
        (81..=99).contains(&rpm),
        "rpm {rpm}, 429s {:.1}%",
        d.rate_limited_share * 100.0
    );
    let open = fit
        .deployments
        .iter()
        .find(|d| d.id == "open")
        .expect("open");
    assert_eq!((open.limits.rpm, open.limits.tpm), (None, None));
    assert!(fit.to_toml().contains("  rpm = "));
}

#[test]
fn tiers_fallbacks_and_thin_deployments() {
    let text = format!(
        r#"{HEAD}
[[workload.mix]]
model = "big"
share = 0.9

[[workload.mix]]
model = "small"
share = 0.1

[[tier]]
name = "frontier"
fallback = ["cheap"]

[[tier]]
name = "cheap"

[[route]]
model = "big"
tier = "frontier"

[[route]]
model = "small"
tier = "cheap"

[retry]
max_attempts = 2

[[world.provider]]
name = "p"
ttft = {{ lognormal = {{ median = "500ms", sigma = 0.3 }} }}
per_token = {{ constant = "5ms" }}
error_rate = 0.3

  [[world.provider.deployment]]
  id = "frontier-key"

[[world.provider]]
name = "q"
ttft = {{ lognormal = {{ median = "300ms", sigma = 0.3 }} }}
per_token = {{ constant = "3ms" }}

  [[world.provider.deployment]]
  id = "cheap-key"

[[deployment]]
id = "frontier-key"
provider = "p"
model = "big-model"
tier = "frontier"

[[deployment]]
id = "cheap-key"
provider = "q"
model = "small-model"
tier = "cheap"
"#
    );
    let fit = fit_trace(&traced(&text, "tiers.csv"), &FitOptions::default()).expect("fit");
    let names: Vec<&str> = fit.tiers.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["frontier", "cheap"]);
    assert_eq!(fit.tiers[0].fallback, ["cheap"]);
    assert!(fit.tiers[1].fallback.is_empty());
    assert_eq!(
        fit.routes,
        [
            ("big".to_owned(), "frontier".to_owned()),
            ("small".to_owned(), "cheap".to_owned())
        ]
    );
    let text = fit.to_toml();
    Scenario::parse(&text, "fitted.toml", "fitted").unwrap_or_else(|e| panic!("{e}\n{text}"));
    assert!(text.contains("fallback = [\"cheap\"]"), "{text}");

    // A trace with one success on a deployment: pooled latency and shrunk rates, with a warning.
    let path = tmp("thin.csv");
    let mut rows = format!("{}\n", sim::trace::HEADER);
    for i in 0..40 {
        let ttft = 300 + 7 * i;
        rows += &format!(
            "{i}0,{i},1,m,t,a,ok,200,10,100,{}.0,{ttft}.0,true,,,,,,\n",
            ttft + 1000
        );
    }
    rows += "900,100,1,m,t,b,ok,200,10,100,1600.0,350.0,true,,,,,,\n\
             910,101,1,m,t,b,server_error,500,10,100,100.0,,true,,,,,,\n";
    std::fs::write(&path, rows).expect("write");
    let fit = fit_trace(&path, &FitOptions::default()).expect("fit");
    let b = fit.deployments.iter().find(|d| d.id == "b").expect("b");
    assert_eq!(b.latency_source, LatencySource::Pooled);
    assert!(b.error_rate < 0.1, "{}", b.error_rate);
    assert!(
        fit.warnings
            .iter()
            .any(|w| w.starts_with("b: only 1 success(es)")),
        "{:?}",
        fit.warnings
    );
    assert!(
        fit.warnings
            .iter()
            .any(|w| w.starts_with("b: only 2 attempt(s) reached")),
        "{:?}",
        fit.warnings
    );
}
