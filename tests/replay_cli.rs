//! `switchyard replay` and `switchyard fit` end to end, through the binary.

mod cli;

use cli::*;

use std::path::{Path, PathBuf};

/// A real public trace (CRLF line ends, no final newline), vendored in traces/.
const AZURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/traces/azure-2023-code.csv");

fn dir(name: &str) -> PathBuf {
    cli::fresh_dir("replay-cli", name)
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p.display().to_string()
}

/// Data rows of a CSV file, counted here rather than trusted from its README.
fn data_rows(path: &str) -> usize {
    let text = std::fs::read_to_string(path).unwrap();
    text.lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .count()
}

/// `column` of every row of a CSV file, keyed by the `strategy` column.
fn column_by_strategy(path: &Path, column: &str) -> Vec<(String, String)> {
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let at = |name: &str| header.iter().position(|h| *h == name).unwrap();
    let (s, c) = (at("strategy"), at(column));
    lines
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (f[s].to_owned(), f[c].to_owned())
        })
        .collect()
}

#[test]
fn azure_trace_through_every_strategy_counts_every_request() {
    let rows = data_rows(AZURE);
    assert!(rows > 8000, "{rows}");
    let out = dir("azure-compare");
    let o = switchyard(&[
        "replay",
        AZURE,
        "--scenario",
        DEFAULT,
        "--compare",
        "--threads",
        "2",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.ok, "{}\n{}", o.stdout, o.stderr);
    assert!(
        o.stdout.contains(&format!("{rows} requests to replay")),
        "{}",
        o.stdout
    );
    let runs = column_by_strategy(&out.join("runs.csv"), "requests");
    let mut strategies: Vec<&str> = runs.iter().map(|(s, _)| s.as_str()).collect();
    strategies.sort_unstable();
    let mut all = [
        "weighted-round-robin",
        "least-latency",
        "capacity-aware",
        "error-weighted",
        "least-outstanding",
        "peak-ewma",
        "random",
        "adaptive",
    ];
    all.sort_unstable();
    assert_eq!(strategies, all);
    for (strategy, requests) in &runs {
        assert_eq!(requests, &rows.to_string(), "{strategy}");
    }
    assert!(out.join("report.md").exists());
    assert!(out.join("summary.csv").exists());
}

#[test]
fn replay_without_compare_prints_and_writes_like_simulate() {
    let out = dir("single");
    let o = switchyard(&[
        "replay",
        AZURE,
        "--scenario",
        DEFAULT,
        "--window",
        "..10m",
        "--strategies",
        "random,adaptive",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.ok, "{}\n{}", o.stdout, o.stderr);
    let runs = column_by_strategy(&out.join("summary.csv"), "requests");
    assert_eq!(runs.len(), 2);
    assert_eq!(runs[0].1, runs[1].1);
    // Like simulate: a line per run, then a table of the deployments per strategy.
    for (strategy, requests) in &runs {
        assert!(
            o.stdout
                .contains(&format!("\n{strategy}: {requests} arrived = ")),
            "{strategy}: {}",
            o.stdout
        );
        let table = o
            .stdout
            .split(&format!("\n{strategy}:\ndeployment "))
            .nth(1)
            .and_then(|rest| rest.split("\n\n").next())
            .unwrap_or_else(|| panic!("no deployment table for {strategy}: {}", o.stdout));
        for id in [
            "openai-key1",
            "openai-key2",
            "azure-eastus",
            "openai-mini",
            "anthropic-haiku",
        ] {
            assert!(
                table.lines().any(|l| l.starts_with(&format!("{id} "))),
                "{strategy}/{id}: {}",
                o.stdout
            );
        }
    }
    assert!(out.join("deployments.csv").exists() && out.join("timeseries.csv").exists());
}

/// "… N requests to replay over S s" from the first line of the output.
fn span(stdout: &str) -> (u64, f64) {
    let line = stdout.lines().next().unwrap();
    let words: Vec<&str> = line.split_whitespace().collect();
    let i = words.iter().position(|w| *w == "requests").unwrap();
    let j = words.iter().position(|w| *w == "over").unwrap();
    (words[i - 1].parse().unwrap(), words[j + 1].parse().unwrap())
}

#[test]
fn speed_halves_the_span_and_window_takes_a_slice() {
    let out = dir("speed");
    let o = out.to_str().unwrap();
    let base = switchyard(&["replay", AZURE, "--scenario", DEFAULT, "--out", o]);
    assert!(base.ok, "{}", base.stderr);
    let fast = switchyard(&[
        "replay",
        AZURE,
        "--scenario",
        DEFAULT,
        "--speed",
        "2",
        "--out",
        o,
    ]);
    assert!(fast.ok, "{}", fast.stderr);
    let (n1, s1) = span(&base.stdout);
    let (n2, s2) = span(&fast.stdout);
    assert_eq!(n1, n2);
    assert!((s2 - s1 / 2.0).abs() <= 0.1, "{s1} {s2}");
    let slice = switchyard(&[
        "replay",
        AZURE,
        "--scenario",
        DEFAULT,
        "--window",
        "10m..20m",
        "--out",
        o,
    ]);
    assert!(slice.ok, "{}", slice.stderr);
    let (n3, s3) = span(&slice.stdout);
    assert!(n3 > 1000 && n3 < n1 / 2, "{n3}");
    assert!(s3 < 600.0, "{s3}");
}

const BAD: &str = "timestamp_ms,input_tokens,output_tokens,model\n\
                   0,100,10,gpt-4o\n\
                   10,lots,10,gpt-4o\n\
                   20,100,10,gpt-5-turbo\n\
                   40,100,10,gpt-4o\n";

#[test]
fn a_bad_row_fails_naming_the_line_and_writes_nothing() {
    let d = dir("bad");
    let trace = write(&d, "bad.csv", BAD);
    let out = d.join("out");
    let o = switchyard(&[
        "replay",
        &trace,
        "--scenario",
        DEFAULT,
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(!o.ok);
    assert!(
        o.stderr.contains("bad.csv:3: input_tokens: found \"lots\""),
        "{}",
        o.stderr
    );
    assert!(!out.exists());
    assert!(!o.stderr.contains("panicked"), "{}", o.stderr);
}

#[test]
fn skip_bad_rows_reports_how_many_and_where() {
    let d = dir("skip");
    let trace = write(&d, "bad.csv", BAD);
    let o = switchyard(&[
        "replay",
        &trace,
        "--scenario",
        DEFAULT,
        "--skip-bad-rows",
        "--out",
        d.join("out").to_str().unwrap(),
    ]);
    assert!(o.ok, "{}", o.stderr);
    assert!(
        o.stdout.contains("skipped 2 bad row(s) (lines 3, 4)"),
        "{}",
        o.stdout
    );
    assert!(o.stdout.contains("gpt-5-turbo"), "{}", o.stdout);
    assert_eq!(span(&o.stdout).0, 2);
}

#[test]
fn unsorted_is_an_error_unless_sorted_and_crlf_without_final_newline_works() {
    let d = dir("unsorted");
    let text = "timestamp_ms,input_tokens,output_tokens\r\n0,1,1\r\n500,1,1\r\n300,1,1\r\n900,1,1";
    let trace = write(&d, "unsorted.csv", text);
    let out = d.join("out");
    let out = out.to_str().unwrap();
    let o = switchyard(&["replay", &trace, "--scenario", DEFAULT, "--out", out]);
    assert!(!o.ok);
    assert!(
        o.stderr.contains("unsorted.csv:4") && o.stderr.contains("--sort"),
        "{}",
        o.stderr
    );
    let o = switchyard(&[
        "replay",
        &trace,
        "--scenario",
        DEFAULT,
        "--sort",
        "--out",
        out,
    ]);
    assert!(o.ok, "{}", o.stderr);
    assert_eq!(span(&o.stdout), (4, 0.9));
}

#[test]
fn bad_options_and_missing_files_fail_cleanly() {
    // A per-attempt trace `fit` accepts, so that its unwritable --out is what fails.
    let d = dir("bad-options");
    let attempts = d.join("attempts.csv");
    let attempts = attempts.to_str().unwrap();
    let o = switchyard(&[
        "simulate",
        DEFAULT,
        "--requests",
        "200",
        "--trace-out",
        attempts,
        "--out",
        d.join("sim").to_str().unwrap(),
    ]);
    assert!(o.ok, "{}", o.stderr);
    let azure_line_1 = format!("{AZURE}:1: ");
    let cases: [(Vec<&str>, &[&str]); 7] = [
        (
            vec!["replay", AZURE, "--scenario", DEFAULT, "--speed", "0"],
            &["'--speed <SPEED>'", "\"0\" must be a number > 0"],
        ),
        (
            vec!["replay", AZURE, "--scenario", DEFAULT, "--window", "5m..1m"],
            &[
                "'--window <WINDOW>'",
                "invalid window \"5m..1m\": the end must be after the start",
            ],
        ),
        (
            vec![
                "replay",
                AZURE,
                "--scenario",
                DEFAULT,
                "--format",
                "parquet",
            ],
            &["'--format <FORMAT>'", "unknown trace format \"parquet\""],
        ),
        (
            vec!["replay", "/nonexistent/trace.csv", "--scenario", DEFAULT],
            &["cannot read /nonexistent/trace.csv: "],
        ),
        (
            vec!["replay", AZURE, "--scenario", DEFAULT, "--format", "own"],
            &[
                azure_line_1.as_str(),
                "the own format needs the columns timestamp_ms,input_tokens,output_tokens",
            ],
        ),
        (
            vec!["fit", AZURE, "--out", "/nonexistent/dir/fitted.toml"],
            &[azure_line_1.as_str(), "fitting needs a per-attempt trace"],
        ),
        (
            vec!["fit", attempts, "--out", "/nonexistent/dir/fitted.toml"],
            &["cannot write /nonexistent/dir/fitted.toml: "],
        ),
    ];
    for (args, wants) in cases {
        let o = switchyard(&args);
        assert!(!o.ok, "{args:?}");
        assert!(!o.stderr.contains("panicked"), "{args:?}: {}", o.stderr);
        for want in wants {
            assert!(
                o.stderr.contains(want),
                "{args:?}: want {want:?} in {}",
                o.stderr
            );
        }
    }
}

#[test]
fn fit_a_simulated_trace_and_simulate_the_result() {
    let d = dir("fit");
    let trace = d.join("trace.csv");
    let fitted = d.join("fitted.toml");
    let o = switchyard(&[
        "simulate",
        DEFAULT,
        "--requests",
        "3000",
        "--trace-out",
        trace.to_str().unwrap(),
        "--out",
        d.join("sim").to_str().unwrap(),
    ]);
    assert!(o.ok, "{}", o.stderr);
    let o = switchyard(&[
        "fit",
        trace.to_str().unwrap(),
        "--out",
        fitted.to_str().unwrap(),
    ]);
    assert!(o.ok, "{}", o.stderr);
    assert!(o.stdout.contains("goodness of fit"), "{}", o.stdout);
    for id in [
        "openai-key1",
        "openai-key2",
        "azure-eastus",
        "openai-mini",
        "anthropic-haiku",
    ] {
        assert!(o.stdout.contains(id), "{id}: {}", o.stdout);
    }
    let o = switchyard(&[
        "simulate",
        fitted.to_str().unwrap(),
        "--out",
        d.join("sim2").to_str().unwrap(),
    ]);
    assert!(o.ok, "{}", o.stderr);
    // The recorded trace replays too (its rows are out of order by up to an attempt).
    let o = switchyard(&[
        "replay",
        trace.to_str().unwrap(),
        "--scenario",
        DEFAULT,
        "--out",
        d.join("replayed").to_str().unwrap(),
    ]);
    assert!(o.ok, "{}", o.stderr);
    assert!(
        o.stdout.contains("retry rows") || o.stdout.contains("3000 requests"),
        "{}",
        o.stdout
    );

    // A failed fit leaves an existing file alone.
    std::fs::write(&fitted, "keep me").unwrap();
    let o = switchyard(&["fit", AZURE, "--out", fitted.to_str().unwrap()]);
    assert!(!o.ok);
    assert!(
        o.stderr.contains("deployment,latency_ms,ttft_ms"),
        "{}",
        o.stderr
    );
    assert_eq!(std::fs::read_to_string(&fitted).unwrap(), "keep me");
}
