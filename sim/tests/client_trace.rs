//! A request its `[[client]]`'s own limits refuse leaves a `client_refused` row in the
//! simulator's trace (as in the gateway's), and `fit` turns the `client` column into a mix per
//! client × model: on `scenarios/noisy-tenant.toml` (three tenants, 2.5 : 1.5 : 12 of the
//! traffic, the noisy one capped by its own `rpm` and budget).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use sim::fit::{fit_trace, FitOptions, GatewayConfig};
use sim::trace::CsvTrace;
use sim::{RunOptions, Scenario};

fn shipped_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/noisy-tenant.toml")
}

/// Simulates noisy-tenant with a CSV trace: the run and the trace's path.
fn traced(name: &str) -> (sim::RunResult, PathBuf) {
    let s = Scenario::load(&shipped_path()).unwrap_or_else(|e| panic!("{e}"));
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("client-trace");
    std::fs::create_dir_all(&dir).expect("scratch dir");
    let path = dir.join(name);
    let file = std::fs::File::create(&path).expect("trace file");
    let mut trace = CsvTrace::new(std::io::BufWriter::new(file));
    let r = sim::run(
        &s,
        RunOptions {
            strategy: None,
            seed: s.settings.seed,
            trace: Some(&mut trace),
            progress: None,
        },
    );
    trace.finish().expect("trace written");
    (r, path)
}

fn column(header: &str, name: &str) -> usize {
    header
        .split(',')
        .position(|c| c == name)
        .unwrap_or_else(|| panic!("{name} in {header}"))
}

#[test]
fn client_refusals_leave_rows_and_fit_a_mix_per_client() {
    let (r, path) = traced("noisy.csv");
    let text = std::fs::read_to_string(&path).expect("trace");
    let mut lines = text.lines();
    let header = lines.next().expect("header");
    let (outcome, client, attempt, deployment) = (
        column(header, "outcome"),
        column(header, "client"),
        column(header, "attempt"),
        column(header, "deployment"),
    );
    let mut refused_by_client: HashMap<String, u64> = HashMap::new();
    let mut requests = 0u64;
    let mut rate_limited = 0u64;
    for line in lines {
        let f: Vec<&str> = line.split(',').collect();
        if f[attempt] == "1" {
            requests += 1;
        }
        match f[outcome] {
            "client_refused" => {
                assert_eq!((f[attempt], f[deployment]), ("1", ""), "{line}");
                *refused_by_client.entry(f[client].to_owned()).or_default() += 1;
            }
            "rate_limited" => rate_limited += 1,
            _ => {}
        }
    }
    // Every refusal by a client's own limits has its row, named by its client; every request
    // has a first row.
    let expected: HashMap<String, u64> = r
        .clients
        .iter()
        .filter(|c| c.refused > 0)
        .map(|c| (c.client.clone(), c.refused))
        .collect();
    assert_eq!(refused_by_client, expected);
    assert!(
        expected.get("batch-etl").is_some_and(|&n| n > 1000),
        "{expected:?}"
    );
    assert_eq!(requests, r.summary.requests);

    // fit --config: the refusals are requests that reached no deployment, never 429s.
    let config = GatewayConfig::load(&shipped_path()).expect("config");
    let fit = fit_trace(
        &path,
        &FitOptions {
            config: Some(config),
            ..FitOptions::default()
        },
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(fit.requests, r.summary.requests);
    let refused: u64 = expected.values().sum();
    assert!(fit.refused >= refused, "{} < {refused}", fit.refused);
    assert_eq!(fit.client_refused, refused);
    let fitted_429s: u64 = fit.deployments.iter().map(|d| d.rate_limited).sum();
    assert_eq!(fitted_429s, rate_limited);
    // The mix: one entry per client (one model), shares as the scenario's 2.5 : 1.5 : 12.
    let shares: HashMap<&str, f64> = fit
        .mix
        .iter()
        .map(|e| (e.client.as_deref().unwrap_or(""), e.share))
        .collect();
    assert_eq!(shares.len(), 3, "{:?}", fit.mix);
    for (name, truth) in [("web-app", 2.5), ("mobile", 1.5), ("batch-etl", 12.0)] {
        let share = shares[name];
        assert!(
            (share - truth / 16.0).abs() < 0.02,
            "{name}: fitted {share:.4}, true {:.4}",
            truth / 16.0
        );
        assert!(fit.mix.iter().all(|e| e.model == "gpt-4o-mini"));
    }
    // The fitted scenario keeps the config's [[client]] tables (limits included) and runs.
    let toml = fit.to_toml();
    assert!(toml.contains("client = \"batch-etl\""), "{toml}");
    let fitted = Scenario::parse(&toml, "fitted.toml", "fitted").unwrap_or_else(|e| panic!("{e}"));
    let batch = fitted
        .config
        .client_by_name("batch-etl")
        .expect("batch-etl kept");
    assert_eq!(fitted.config.clients[batch.index()].limits.rpm, Some(150));
    let again = sim::run(
        &fitted,
        RunOptions {
            strategy: None,
            seed: 2,
            trace: None,
            progress: None,
        },
    );
    let refused_again: u64 = again.clients.iter().map(|c| c.refused).sum();
    assert!(
        refused_again > 1000,
        "the fitted world's batch-etl is capped again"
    );

    // Without --config: the clients' tables are written from the trace (no limits), with a
    // warning naming the refused client.
    let bare = fit_trace(&path, &FitOptions::default()).unwrap_or_else(|e| panic!("{e}"));
    assert!(
        bare.warnings
            .iter()
            .any(|w| w.contains("\"batch-etl\"") && w.contains("refused by its own limits")),
        "{:?}",
        bare.warnings
    );
    let fitted =
        Scenario::parse(&bare.to_toml(), "bare.toml", "bare").unwrap_or_else(|e| panic!("{e}"));
    let mut names: Vec<&str> = fitted
        .config
        .clients
        .iter()
        .map(|c| c.name.as_str())
        .collect();
    names.sort_unstable();
    assert_eq!(names, ["batch-etl", "mobile", "web-app"]);
}

/// A `client_refused` row is read as a request of its client, and a bad outcome names it.
#[test]
fn client_refused_rows_read_and_bad_outcomes_are_named() {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("client-trace");
    std::fs::create_dir_all(&dir).expect("scratch dir");
    let header = sim::trace::HEADER;
    let ok =
        |t: u32, id: u32| format!("{t}.0,{id},1,m,t,d,ok,200,10,20,900.0,400.0,true,a,,,,,{t}.0");
    let mut text = format!("{header}\n");
    for i in 0..30 {
        text.push_str(&ok(i * 1000, i));
        text.push('\n');
    }
    text.push_str("31000.0,31,1,m,t,,client_refused,0,10,20,0.0,,true,b,,,,,31000.0\n");
    let path = dir.join("rows.csv");
    std::fs::write(&path, &text).expect("write");
    let fit = fit_trace(&path, &FitOptions::default()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((fit.requests, fit.refused, fit.attempts), (31, 1, 30));
    let clients: Vec<(Option<&str>, u64)> = fit
        .mix
        .iter()
        .map(|e| (e.client.as_deref(), (e.share * 31.0).round() as u64))
        .collect();
    assert_eq!(clients, [(Some("a"), 30), (Some("b"), 1)]);
    let bad = text.replace("client_refused", "client_refusal");
    std::fs::write(&path, bad).expect("write");
    let e = fit_trace(&path, &FitOptions::default()).expect_err("bad outcome");
    let message = e.to_string();
    assert!(
        message.contains(":32:")
            && message.contains("\"client_refusal\"")
            && message.contains("refused or client_refused"),
        "{message}"
    );
}
