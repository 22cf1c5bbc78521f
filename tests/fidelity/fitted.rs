//! The production loop on the gateway's own trace: `fit --config` gives each deployment's time
//! to first token back within 0.7–1.4× the scenario's truth at the median, and `switchyard
//! whatif` on the same trace judges a candidate config.

use sim::Scenario;

use crate::support::*;

/// Fits the gateway's trace (`fit --config`) and prints, per deployment, the fitted time to
/// first token and per-token time (the trace is in modelled time: `serve --speed`) against the
/// scenario's truth; asserts both kinds of rows were seen and the fitted ttft p50 is within
/// 0.7–1.4× the truth (the localhost overhead, scaled up with the time, is part of every
/// modelled latency; measured figures in docs/replay.md).
pub(crate) fn fitted_against_truth(
    scenario: &Scenario,
    urls: &[String],
    trace: &std::path::Path,
    dir: &std::path::Path,
) {
    let config_path = dir.join("fidelity.toml");
    std::fs::write(&config_path, scenario_text(urls)).expect("write the config");
    let config = sim::fit::GatewayConfig::load(&config_path).expect("config");
    let options = sim::fit::FitOptions {
        config: Some(config),
        ..sim::fit::FitOptions::default()
    };
    let fit = sim::fit::fit_trace(trace, &options).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(fit.requests, N as u64, "the trace holds every request");
    let mut rng = sim::run::stream(SEED, "truth");
    let mut truth = |d: &sim::dist::Dist| {
        let mut v: Vec<f64> = (0..100_000).map(|_| d.sample(&mut rng)).collect();
        sim::fit::stats::sample_quantiles(&mut v)
    };
    println!(
        "fit of the gateway's trace (ms of modelled time: the gateway runs at the mocks' speed)"
    );
    let mut checks = Vec::new();
    println!("deployment  streamed/whole  ttft p50 truth/fit  ttft p99 truth/fit  per-token p50 truth/fit  p99 truth/fit");
    for (i, id) in IDS.iter().enumerate() {
        let d = fit
            .deployments
            .iter()
            .find(|d| d.id == *id)
            .expect("fitted");
        let w = &scenario.world.deployments[i];
        let (t, p) = (truth(&w.ttft), truth(&w.per_token));
        let scale = 1000.0;
        let (ft, fp) = (d.ttft.quantiles(), d.per_token.quantiles());
        println!(
            "{id:<10}  {:>6}/{:<6}  {:>7.1} / {:<7.1}  {:>7.1} / {:<7.1}  {:>9.2} / {:<9.2}  {:>6.2} / {:<6.2}",
            d.streamed,
            d.whole,
            t[0] * 1000.0,
            ft[0] * scale,
            t[2] * 1000.0,
            ft[2] * scale,
            p[0] * 1000.0,
            fp[0] * scale,
            p[2] * 1000.0,
            fp[2] * scale,
        );
        checks.push((id, d.streamed, d.whole, ft[0] * scale / (t[0] * 1000.0)));
    }
    for w in &fit.warnings {
        println!("warning: {w}");
    }
    whatif_on_the_gateway_trace(trace, &config_path, dir);
    for (id, streamed, whole, ratio) in checks {
        assert!(streamed > 0 && whole > 0, "{id}: both kinds of rows");
        // The medians rest on 9–123 streamed successes (±14 % standard error at 40; which
        // attempts stream varies with the interleaving from run to run). Measured 0.88–1.22×
        // the truth over six runs after the mock's timing fix (0.83–1.25× before, when about
        // 2 ms of real overhead per attempt became 20 modelled ms at 10×); taking non-streamed
        // latency as ttft would give 2.5× or more. tests/production_loop.rs holds the fit to
        // the 10 % with enough samples.
        assert!(
            (0.7..1.4).contains(&ratio),
            "{id}: fitted/true ttft p50 {ratio:.2}"
        );
    }
}

/// End to end: `switchyard whatif` on the gateway's own trace (the world fitted from it with the
/// baseline as its config) judges a candidate that halves the faulty deployment's weight.
fn whatif_on_the_gateway_trace(
    trace: &std::path::Path,
    baseline: &std::path::Path,
    dir: &std::path::Path,
) {
    let text = std::fs::read_to_string(baseline).expect("baseline");
    let candidate = dir.join("candidate.toml");
    let changed = text.replacen("weight = 1\n", "weight = 0.5\n", 1);
    assert_ne!(changed, text, "the candidate changes gamma's weight");
    std::fs::write(&candidate, changed).expect("write the candidate");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_switchyard"))
        .args(["whatif", "--trace"])
        .arg(trace)
        .arg("--baseline")
        .arg(baseline)
        .arg("--candidate")
        .arg(&candidate)
        .args(["--seeds", "3", "--out"])
        .arg(dir.join("whatif"))
        .env("RUST_LOG", "error")
        .output()
        .expect("the binary runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("world: fitted-gateway-trace"), "{stdout}");
    assert!(stdout.contains("| success rate |"), "{stdout}");
    assert!(dir.join("whatif").join("whatif.md").is_file());
}
