//! Outages fitted from a trace, so that strategy rankings survive `fit` (issue 19): simulate
//! `scenarios/provider-outage.toml` (OpenAI hangs from 3m to 6m) with a trace, `fit --config`
//! the scenario, then run every strategy over five seeds in the true and in the fitted world:
//! the same winner on success rate and on p99. Without the fitted outage every strategy
//! succeeds 100 % in the fitted world and the p99 winner changes (docs/replay.md, "Incidents").

use std::path::{Path, PathBuf};
use std::time::Duration;

use sim::fit::incidents::OutageMode;
use sim::fit::{fit_trace, FitOptions, GatewayConfig};
use sim::trace::CsvTrace;
use sim::{RunOptions, Scenario};

const SEEDS: u64 = 5;

fn shipped_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/provider-outage.toml")
}

/// Mean success rate and mean p99 (ms) of every strategy of `s` over [`SEEDS`] seeds.
fn rankings(s: &Scenario) -> Vec<(String, f64, f64)> {
    s.settings
        .strategies
        .iter()
        .map(|&k| {
            let (mut success, mut p99) = (0.0, 0.0);
            for seed in 1..=SEEDS {
                let r = sim::run(
                    s,
                    RunOptions {
                        strategy: Some(k),
                        seed,
                        trace: None,
                        progress: None,
                    },
                );
                success += r.summary.success_rate / SEEDS as f64;
                p99 += r.summary.latency_p99_ms / SEEDS as f64;
            }
            (k.name().to_owned(), success, p99)
        })
        .collect()
}

fn winners(r: &[(String, f64, f64)]) -> (String, String) {
    let by_success = r
        .iter()
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .map(|w| w.0.clone())
        .unwrap_or_default();
    let by_p99 = r
        .iter()
        .min_by(|a, b| a.2.total_cmp(&b.2))
        .map(|w| w.0.clone())
        .unwrap_or_default();
    (by_success, by_p99)
}

#[test]
fn a_fitted_outage_keeps_the_strategy_ranking() {
    let truth = Scenario::load(&shipped_path()).unwrap_or_else(|e| panic!("{e}"));
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("fit-incidents");
    std::fs::create_dir_all(&dir).expect("scratch dir");
    let path = dir.join("outage.csv");
    let file = std::fs::File::create(&path).expect("trace file");
    let mut trace = CsvTrace::new(std::io::BufWriter::new(file));
    sim::run(
        &truth,
        RunOptions {
            strategy: None,
            seed: truth.settings.seed,
            trace: Some(&mut trace),
            progress: None,
        },
    );
    trace.finish().expect("trace written");
    let config = GatewayConfig::load(&shipped_path()).expect("config");
    let fit = fit_trace(
        &path,
        &FitOptions {
            config: Some(config),
            ..FitOptions::default()
        },
    )
    .unwrap_or_else(|e| panic!("{e}"));

    // Both OpenAI keys hang from 3m; adaptive keeps traffic away, so the end is known only
    // between the last failed probe and the next success.
    let ids: Vec<&str> = fit.outages.iter().map(|o| o.deployment.as_str()).collect();
    assert_eq!(ids, ["openai-key1", "openai-key2"], "{:?}", fit.outages);
    for o in &fit.outages {
        assert_eq!(o.mode, OutageMode::Hang, "{o:?}");
        assert!(
            (Duration::from_secs(175)..Duration::from_secs(190)).contains(&o.start),
            "{o:?}"
        );
        assert!(
            (Duration::from_secs(270)..Duration::from_secs(420)).contains(&o.end),
            "{o:?}"
        );
        assert!(o.failures >= 5 && o.successes == 0, "{o:?}");
        // Its attempts are the outage's, not the key's base behaviour (0.3 % errors, no hangs).
        let d = fit
            .deployments
            .iter()
            .find(|d| d.id == o.deployment)
            .expect("fitted");
        assert!(d.timeout_rate < 0.002 && d.error_rate < 0.01, "{d:?}");
    }
    // No other deployment had an outage.
    let fitted =
        Scenario::parse(&fit.to_toml(), "fitted.toml", "fitted").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(fitted.world.incidents.len(), 2);

    let true_ranks = rankings(&truth);
    let fitted_ranks = rankings(&fitted);
    for ((name, s, p), (_, fs, fp)) in true_ranks.iter().zip(&fitted_ranks) {
        println!(
            "{name:22} true {:.3} % p99 {p:.0} ms | fitted {:.3} % p99 {fp:.0} ms",
            s * 100.0,
            fs * 100.0
        );
    }
    assert_eq!(winners(&true_ranks), winners(&fitted_ranks));
}

/// A few failures in a row, or failures among successes, are not an outage.
#[test]
fn scattered_failures_are_no_outage() {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("fit-incidents");
    std::fs::create_dir_all(&dir).expect("scratch dir");
    let mut text = format!("{}\n", sim::trace::HEADER);
    let mut id = 0;
    let mut row = |t: f64, outcome: &str| {
        id += 1;
        let (status, ttft) = if outcome == "ok" {
            (200, "400.0")
        } else {
            (503, "")
        };
        text.push_str(&format!(
            "{t:.1},{id},1,m,t,d,{outcome},{status},10,20,900.0,{ttft},true,,,,,,{t:.1}\n"
        ));
    };
    for i in 0..400 {
        row(f64::from(i) * 1000.0, "ok");
    }
    // Four failures in a bucket with five successes.
    for i in 0..4 {
        row(100_000.0 + f64::from(i), "server_error");
    }
    // Failures spread among successes: never half of a bucket.
    for i in 0..20 {
        row(200_500.0 + f64::from(i) * 5000.0, "server_error");
    }
    // Then a real one: 30 s of nothing but 503s.
    for i in 0..30 {
        row(420_000.0 + f64::from(i) * 1000.0, "server_error");
    }
    row(451_000.0, "ok");
    let path = dir.join("scattered.csv");
    std::fs::write(&path, text).expect("write");
    let fit = fit_trace(&path, &FitOptions::default()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(fit.outages.len(), 1, "{:?}", fit.outages);
    let o = &fit.outages[0];
    assert_eq!(
        (o.mode, o.failures, o.successes),
        (OutageMode::Unavailable, 30, 0)
    );
    assert_eq!(o.start, Duration::from_secs(420));
    // Halfway between the last failure (449 s) and the next success (451 s).
    assert_eq!(o.end, Duration::from_secs(450));
}
