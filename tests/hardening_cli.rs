//! The CLI on hostile input: output paths that are not regular files, negative option values,
//! scenario and trace values out of range, special files as input.

mod cli;

use cli::*;

use std::path::{Path, PathBuf};
use std::process::Command;

fn dir(name: &str) -> PathBuf {
    cli::fresh_dir("hardening-cli", name)
}

fn s(p: &Path) -> &str {
    p.to_str().expect("UTF-8 path")
}

/// A per-attempt trace from a short simulation.
fn trace(d: &Path) -> PathBuf {
    let t = d.join("trace.csv");
    let runs = d.join("runs");
    let out = switchyard(&[
        "simulate",
        DEFAULT,
        "--requests",
        "300",
        "--out",
        s(&runs),
        "--trace-out",
        s(&t),
    ]);
    assert!(out.ok, "{}", out.stderr);
    t
}

#[cfg(unix)]
#[test]
fn outputs_never_replace_anything_but_a_regular_file() {
    let d = dir("outputs");
    let t = trace(&d);
    let target = d.join("keep.toml");
    std::fs::write(&target, "keep").expect("write");
    let link = d.join("link.toml");
    std::os::unix::fs::symlink(&target, &link).expect("symlink");
    let out = switchyard(&["fit", s(&t), "--out", s(&link)]);
    assert!(!out.ok);
    assert!(
        out.stderr
            .contains(&format!("{} exists and is a symbolic link", link.display())),
        "{}",
        out.stderr
    );
    assert!(std::fs::symlink_metadata(&link)
        .expect("link")
        .file_type()
        .is_symlink());
    assert_eq!(std::fs::read_to_string(&target).expect("target"), "keep");

    let fifo = d.join("fifo.toml");
    let made = Command::new("mkfifo").arg(&fifo).status().expect("mkfifo");
    assert!(made.success());
    let out = switchyard(&["fit", s(&t), "--out", s(&fifo)]);
    assert!(
        out.stderr.contains("exists and is a FIFO"),
        "{}",
        out.stderr
    );
    assert!(!out.ok);

    let out = switchyard(&[
        "simulate",
        DEFAULT,
        "--requests",
        "10",
        "--out",
        s(&d.join("r")),
        "--trace-out",
        s(&link),
    ]);
    assert!(!out.ok);
    assert!(out.stderr.contains("symbolic link"), "{}", out.stderr);

    let runs = d.join("runs2");
    std::fs::create_dir_all(&runs).expect("dir");
    std::os::unix::fs::symlink(&target, runs.join("summary.csv")).expect("symlink");
    let out = switchyard(&["simulate", DEFAULT, "--requests", "10", "--out", s(&runs)]);
    assert!(!out.ok);
    assert!(
        out.stderr
            .contains("summary.csv exists and is a symbolic link"),
        "{}",
        out.stderr
    );
    assert_eq!(std::fs::read_to_string(&target).expect("target"), "keep");

    let out = switchyard(&["fit", s(&t), "--out", s(&d.join("fitted.toml"))]);
    assert!(out.ok, "{}", out.stderr);
}

#[test]
fn negative_option_values_say_what_was_expected() {
    let d = dir("negative");
    let t = trace(&d);
    let out = switchyard(&["replay", s(&t), "--scenario", DEFAULT, "--speed", "-1"]);
    assert!(!out.ok);
    assert!(
        out.stderr.contains("\"-1\" must be a number > 0"),
        "{}",
        out.stderr
    );
    assert!(
        !out.stderr.contains("unexpected argument"),
        "{}",
        out.stderr
    );
    let out = switchyard(&["compare", DEFAULT, "--seeds", "-1"]);
    assert!(
        out.stderr.contains("must be a whole number ≥ 1"),
        "{}",
        out.stderr
    );
    let out = switchyard(&["simulate", DEFAULT, "--requests", "-5"]);
    assert!(
        out.stderr.contains("\"-5\" must be a whole number"),
        "{}",
        out.stderr
    );
}

#[test]
fn scenarios_out_of_range_are_rejected_before_running() {
    let d = dir("scenarios");
    let text = std::fs::read_to_string(DEFAULT).expect("default");
    let arrivals = text
        .lines()
        .find(|l| l.starts_with("arrivals = "))
        .expect("arrivals line")
        .to_owned();
    let cases = [
        (
            "arrivals = { bursty = { base_rate = 1.0, burst_rate = 5.0, mean_burst = \"0s\", mean_gap = \"10s\" } }",
            "workload.arrivals.bursty.mean_burst",
        ),
        (
            "arrivals = { diurnal = { mean_rate = 5e-324, amplitude = 0.5, period = \"1h\", peak = \"0s\" } }",
            "workload.arrivals.diurnal.mean_rate",
        ),
    ];
    for (i, (line, field)) in cases.iter().enumerate() {
        let p = d.join(format!("s{i}.toml"));
        std::fs::write(&p, text.replace(&arrivals, line)).expect("write");
        for cmd in ["simulate", "compare"] {
            let out = switchyard(&[cmd, s(&p), "--out", s(&d.join("out"))]);
            assert!(!out.ok);
            assert!(out.stderr.contains(field), "{cmd}: {}", out.stderr);
        }
    }
    let p = d.join("bucket.toml");
    std::fs::write(
        &p,
        text.replacen("[simulation]", "[simulation]\nbucket = \"1ns\"", 1),
    )
    .expect("write");
    let out = switchyard(&["simulate", s(&p), "--out", s(&d.join("out"))]);
    assert!(
        out.stderr.contains(&format!("{}:", p.display()))
            && out.stderr.contains("simulation.bucket"),
        "{}",
        out.stderr
    );
    #[cfg(unix)]
    {
        let out = switchyard(&["simulate", "/dev/zero"]);
        assert!(out.stderr.contains("not a regular file"), "{}", out.stderr);
    }
}

#[test]
fn fit_rejects_absurd_trace_values() {
    let d = dir("fit");
    let t = trace(&d);
    let text = std::fs::read_to_string(&t).expect("trace");
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    let header: Vec<&str> = lines[0].split(',').collect();
    let col = header
        .iter()
        .position(|c| *c == "latency_ms")
        .expect("latency_ms");
    let mut row: Vec<String> = lines[2].split(',').map(str::to_owned).collect();
    row[col] = "1e308".into();
    lines[2] = row.join(",");
    let bad = d.join("bad.csv");
    std::fs::write(&bad, lines.join("\n") + "\n").expect("write");
    let out = switchyard(&["fit", s(&bad), "--out", s(&d.join("f.toml"))]);
    assert!(!out.ok);
    assert!(
        out.stderr
            .contains(&format!("{}:3: latency_ms: found \"1e308\"", bad.display())),
        "{}",
        out.stderr
    );
    assert!(!d.join("f.toml").exists());
    let _ = out.stdout;
}
