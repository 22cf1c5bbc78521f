//! `switchyard whatif` end to end: a config change judged on recorded traffic by paired runs,
//! gated by `--fail-on`.

mod cli;

use cli::*;

fn dir(name: &str) -> std::path::PathBuf {
    fresh_dir("whatif-cli", name)
}

const AZURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/traces/azure-2023-code.csv");

/// The default scenario with one change to its gateway config.
fn candidate(dir: &std::path::Path, from: &str, to: &str) -> String {
    let text = std::fs::read_to_string(DEFAULT).expect("default scenario");
    assert!(text.contains(from), "{from}");
    let path = dir.join("candidate.toml");
    std::fs::write(&path, text.replacen(from, to, 1)).expect("write");
    path.display().to_string()
}

#[test]
fn the_same_config_shows_no_difference_and_passes() {
    let d = dir("same");
    let out = switchyard(&[
        "whatif",
        "--out",
        d.to_str().expect("UTF-8"),
        "--trace",
        AZURE,
        "--world",
        DEFAULT,
        "--baseline",
        DEFAULT,
        "--candidate",
        DEFAULT,
        "--seeds",
        "4",
        "--fail-on",
        "success_rate<-0.1pt,p99>+5%",
    ]);
    assert!(out.ok, "{}{}", out.stdout, out.stderr);
    let rows: Vec<&str> = out.stdout.lines().filter(|l| l.starts_with("| ")).collect();
    assert_eq!(rows.len(), 9, "{}", out.stdout); // header + 8 metrics
    for row in &rows[1..] {
        assert!(row.ends_with("| no significant difference |"), "{row}");
        assert!(row.contains("+0.000") || row.contains("+0.00 pt"), "{row}");
    }
    assert!(out.stdout.contains("**Pass**"), "{}", out.stdout);
}

#[test]
fn a_regression_fails_the_gate_and_is_written_for_a_pull_request() {
    let d = dir("regression");
    let cand = candidate(&d, "max_attempts = 3", "max_attempts = 1");
    let out_dir = d.join("out");
    let out = switchyard(&[
        "whatif",
        "--trace",
        AZURE,
        "--world",
        DEFAULT,
        "--baseline",
        DEFAULT,
        "--candidate",
        &cand,
        "--seeds",
        "5",
        "--fail-on",
        "success_rate<-0.05pt",
        "--out",
        out_dir.to_str().expect("UTF-8"),
    ]);
    assert!(!out.ok, "{}", out.stdout);
    assert!(
        out.stderr
            .contains("the candidate regresses: success_rate<-0.05pt"),
        "{}",
        out.stderr
    );
    let md = std::fs::read_to_string(out_dir.join("whatif.md")).expect("summary written");
    assert!(md.contains("| success rate |"), "{md}");
    assert!(md.contains("| worse |"), "{md}");
    assert!(md.contains("**Fail**"), "{md}");
    // The HTML report beside it carries the same figures.
    let html = std::fs::read_to_string(out_dir.join("index.html")).expect("report written");
    assert!(
        html.starts_with("<!DOCTYPE html>\n<html lang=\"en\">"),
        "{html}"
    );
    assert!(html.trim_end().ends_with("</html>"), "{html}");
    assert_eq!(html.matches("<tr>").count(), html.matches("</tr>").count());
    let row = md
        .lines()
        .find(|l| l.starts_with("| success rate |"))
        .expect("success row");
    let cells: Vec<&str> = row.split('|').map(str::trim).collect();
    // | success rate | 97.12 % | 96.50 % | -0.62 pt ± 0.10 | worse |
    let (base_sr, cand_sr) = (cells[2].replace(" %", "%"), cells[3].replace(" %", "%"));
    let diff = cells[4].split(" pt").next().expect("difference").to_owned();
    let html_row = html
        .lines()
        .find(|l| l.starts_with("<tr><td>success rate</td>"))
        .expect("success rate row in the HTML");
    for figure in [&base_sr, &cand_sr, &format!("{diff} pp")] {
        assert!(html_row.contains(figure.as_str()), "{figure}: {html_row}");
    }
    assert!(html_row.contains("class=\"num sig\""), "{html_row}");
    assert!(html_row.ends_with("<td>worse</td></tr>"), "{html_row}");
    assert!(
        html.contains("Fail: broken: success_rate&lt;-0.05pt."),
        "{html}"
    );
    assert!(html.contains("<h2 id=\"deployments\">"), "{html}");
    // Without a gate the same comparison reports and succeeds.
    let out = switchyard(&[
        "whatif",
        "--out",
        out_dir.to_str().expect("UTF-8"),
        "--trace",
        AZURE,
        "--world",
        DEFAULT,
        "--baseline",
        DEFAULT,
        "--candidate",
        &cand,
        "--seeds",
        "5",
    ]);
    assert!(out.ok, "{}", out.stderr);
}

#[test]
fn the_world_is_fitted_from_a_gateway_trace_when_none_is_given() {
    let d = dir("fitted");
    let trace = d.join("trace.csv");
    let trace = trace.to_str().expect("UTF-8");
    let sim_out = d.join("sim");
    let out = switchyard(&[
        "simulate",
        DEFAULT,
        "--requests",
        "600",
        "--trace-out",
        trace,
        "--out",
        sim_out.to_str().expect("UTF-8"),
    ]);
    assert!(out.ok, "{}", out.stderr);
    let out = switchyard(&[
        "whatif",
        "--out",
        d.to_str().expect("UTF-8"),
        "--trace",
        trace,
        "--baseline",
        DEFAULT,
        "--candidate",
        DEFAULT,
        "--seeds",
        "3",
    ]);
    assert!(out.ok, "{}{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("world: fitted-trace"), "{}", out.stdout);
}

#[test]
fn bad_rules_and_configs_are_refused_naming_them() {
    let d = dir("bad");
    for (rule, says) in [
        ("p99=5", "expected METRIC<THRESHOLD"),
        ("speed>1", "unknown metric \"speed\""),
        (
            "p99>5pt",
            "pt (percentage points) only applies to success_rate",
        ),
    ] {
        let out = switchyard(&[
            "whatif",
            "--trace",
            AZURE,
            "--world",
            DEFAULT,
            "--baseline",
            DEFAULT,
            "--candidate",
            DEFAULT,
            "--fail-on",
            rule,
        ]);
        assert!(!out.ok);
        assert!(out.stderr.contains(says), "{rule}: {}", out.stderr);
    }
    let cand = candidate(&d, "max_attempts = 3", "max_attempts = \"x\"");
    let out = switchyard(&[
        "whatif",
        "--trace",
        AZURE,
        "--world",
        DEFAULT,
        "--baseline",
        DEFAULT,
        "--candidate",
        &cand,
    ]);
    assert!(!out.ok);
    assert!(out.stderr.contains("retry.max_attempts"), "{}", out.stderr);
    assert!(out.stderr.contains("candidate.toml:"), "{}", out.stderr);
}

#[test]
fn the_report_never_replaces_what_is_not_a_regular_file() {
    let d = dir("symlink");
    let victim = d.join("victim.txt");
    std::fs::write(&victim, "keep").expect("write");
    let out_dir = d.join("out");
    std::fs::create_dir_all(&out_dir).expect("mkdir");
    std::os::unix::fs::symlink(&victim, out_dir.join("index.html")).expect("symlink");
    let out = switchyard(&[
        "whatif",
        "--out",
        out_dir.to_str().expect("UTF-8"),
        "--trace",
        AZURE,
        "--world",
        DEFAULT,
        "--baseline",
        DEFAULT,
        "--candidate",
        DEFAULT,
        "--seeds",
        "2",
    ]);
    assert!(!out.ok, "{}", out.stdout);
    assert!(out.stderr.contains("index.html"), "{}", out.stderr);
    assert_eq!(std::fs::read_to_string(&victim).expect("read"), "keep");
    assert!(std::fs::symlink_metadata(out_dir.join("index.html"))
        .expect("still there")
        .is_symlink());
}
