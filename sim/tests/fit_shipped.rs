//! Round trip on shipped scenarios: simulate a scenario with per-attempt trace output, fit the
//! trace with the scenario's gateway config (`fit --config`), simulate the fitted world on the
//! trace's own arrivals (as `whatif` and `replay` do) under an independent seed, and compare per
//! deployment p50/p99 attempt latency (deployments with at least 200 successes), per deployment
//! 429 share and request p50/p99: within 5 %, 2 percentage points and 5 % (measured figures in
//! docs/replay.md). 12 modelled hours each, so p99s rest on hundreds of samples.

use std::path::{Path, PathBuf};
use std::time::Duration;

use sim::fit::{fit_trace, FitOptions, GatewayConfig};
use sim::replay::{Replay, ReplayOptions};
use sim::trace::CsvTrace;
use sim::{RunOptions, RunResult, Scenario};

fn shipped(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../scenarios")
        .join(name)
}

fn tmp(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("fit-shipped");
    std::fs::create_dir_all(&dir).expect("temporary directory");
    dir.join(name)
}

/// The measured differences of one round trip.
#[derive(Debug, Default)]
struct Differences {
    /// Worst relative difference of a deployment's p50 and p99 attempt latency.
    deployment_latency: f64,
    /// Worst difference of a deployment's 429 share, percentage points.
    rate_limited_points: f64,
    /// Relative difference of request p50 and p99.
    request_p50: f64,
    request_p99: f64,
    report: String,
}

fn round_trip(file: &str, minutes: u64) -> Differences {
    let path = shipped(file);
    let mut original = Scenario::load(&path).unwrap_or_else(|e| panic!("{e}"));
    original.settings.duration = Duration::from_secs(minutes * 60);
    let trace = tmp(&format!("{file}.csv"));
    let before = {
        let out = std::io::BufWriter::new(std::fs::File::create(&trace).expect("trace file"));
        let mut sink = CsvTrace::new(out);
        let options = RunOptions {
            strategy: None,
            seed: 1,
            trace: Some(&mut sink),
            progress: None,
        };
        let r = sim::run(&original, options);
        sink.finish().expect("trace written");
        r
    };
    let config = GatewayConfig::load(&path).expect("config");
    let options = FitOptions {
        config: Some(config),
        ..FitOptions::default()
    };
    let fit = fit_trace(&trace, &options).unwrap_or_else(|e| panic!("{e}"));
    let text = fit.to_toml();
    std::fs::write(tmp(&format!("{file}.fitted.toml")), &text).expect("write");
    let fitted =
        Scenario::parse(&text, "fitted.toml", "fitted").unwrap_or_else(|e| panic!("{e}\n{text}"));
    let replay = Replay::open(&trace, &fitted, ReplayOptions::default()).expect("replay");
    let mut fitted = fitted;
    replay.prepare(&mut fitted);
    let after = {
        let mut source = replay.source(&fitted, 2);
        let options = RunOptions {
            strategy: None,
            seed: 2,
            trace: None,
            progress: None,
        };
        sim::run_with(&fitted, &mut source, options)
    };
    // The noise floor: the true world on the same replayed arrivals under the fitted run's seed.
    let truth = {
        let replay = Replay::open(&trace, &original, ReplayOptions::default()).expect("replay");
        let mut scenario = original.clone();
        replay.prepare(&mut scenario);
        let mut source = replay.source(&scenario, 2);
        let options = RunOptions {
            strategy: None,
            seed: 2,
            trace: None,
            progress: None,
        };
        sim::run_with(&scenario, &mut source, options)
    };
    let mut d = compare(file, &before, &after);
    let floor = compare(
        &format!("{file} (true world replayed, seed 2)"),
        &before,
        &truth,
    );
    d.report += &floor.report;
    d
}

fn compare(file: &str, before: &RunResult, after: &RunResult) -> Differences {
    let rel = |a: f64, b: f64| if b > 0.0 { (a - b).abs() / b } else { 0.0 };
    let mut d = Differences::default();
    let s = |r: &RunResult| {
        let s = &r.summary;
        format!(
            "{} requests, success {:.2}% (no capacity {}, client timeouts {}, exhausted {}, deadline {})",
            s.requests,
            s.success_rate * 100.0,
            s.failed_no_capacity,
            s.failed_client_timeout,
            s.failed_attempts_exhausted,
            s.failed_deadline
        )
    };
    d.report += &format!(
        "{file}:\n  fitted:   {}\n  original: {}\n",
        s(after),
        s(before)
    );
    for b in &before.deployments {
        let Some(a) = after
            .deployments
            .iter()
            .find(|a| a.deployment == b.deployment)
        else {
            continue;
        };
        let share =
            |r: &sim::stats::DeploymentRow| r.rate_limited as f64 / r.attempts.max(1) as f64;
        d.report += &format!(
            "  {}: attempts {} vs {}, p50 {:.0} vs {:.0} ms, p99 {:.0} vs {:.0} ms, 429s {:.2}% vs {:.2}%\n",
            b.deployment,
            a.attempts,
            b.attempts,
            a.latency_p50_ms,
            b.latency_p50_ms,
            a.latency_p99_ms,
            b.latency_p99_ms,
            share(a) * 100.0,
            share(b) * 100.0
        );
        if b.successes >= 200 {
            d.deployment_latency = d
                .deployment_latency
                .max(rel(a.latency_p50_ms, b.latency_p50_ms))
                .max(rel(a.latency_p99_ms, b.latency_p99_ms));
        }
        d.rate_limited_points = d
            .rate_limited_points
            .max((share(a) - share(b)).abs() * 100.0);
    }
    d.request_p50 = rel(after.summary.latency_p50_ms, before.summary.latency_p50_ms);
    d.request_p99 = rel(after.summary.latency_p99_ms, before.summary.latency_p99_ms);
    d.report += &format!(
        "  requests: p50 {:.0} vs {:.0} ms, p99 {:.0} vs {:.0} ms\n  worst: deployment latency {:.1}%, 429 share {:.2} points, request p50 {:.1}%, p99 {:.1}%\n",
        after.summary.latency_p50_ms,
        before.summary.latency_p50_ms,
        after.summary.latency_p99_ms,
        before.summary.latency_p99_ms,
        d.deployment_latency * 100.0,
        d.rate_limited_points,
        d.request_p50 * 100.0,
        d.request_p99 * 100.0
    );
    d
}

#[test]
fn shipped_scenarios_round_trip() {
    let mut report = String::new();
    for (file, minutes) in [
        ("hot-spot.toml", 720),
        ("rate-limit-saturation.toml", 720),
        ("diurnal-capacity-planning.toml", 720),
    ] {
        let d = round_trip(file, minutes);
        report += &d.report;
        assert!(d.deployment_latency < 0.05, "{report}");
        assert!(d.rate_limited_points < 2.0, "{report}");
        assert!(d.request_p50 < 0.05 && d.request_p99 < 0.05, "{report}");
    }
    println!("{report}");
}
