//! Trace rows from outside: every value range-checked at read, errors naming file:line:column;
//! fuzz-style, a mutated row is either rejected that way or replayed and fitted without panic.

use std::path::{Path, PathBuf};

use proptest::prelude::*;
use proptest::sample::Index;
use sim::fit::{fit_trace, FitError, FitOptions};
use sim::replay::{Replay, ReplayOptions, TraceError};
use sim::Scenario;

const DEFAULT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../scenarios/default.toml");

/// A per-attempt trace both `replay` and `fit` read (models and deployments of default.toml).
const TRACE: &str = "\
timestamp_ms,request_id,attempt,model,tier,deployment,outcome,status,input_tokens,output_tokens,latency_ms,ttft_ms
0.000,1,1,gpt-4o,frontier,openai-gpt4o,ok,200,800,150,2210.400,402.125
120.500,2,1,gpt-4o,frontier,azure-gpt4o,ok,200,500,90,1810.000,380.000
300.000,3,1,gpt-4o,frontier,openai-gpt4o,server_error,500,700,0,420.000,
300.000,3,2,gpt-4o,frontier,azure-gpt4o,ok,200,700,120,2000.000,410.000
900.250,4,1,gpt-4o,frontier,azure-gpt4o,ok,200,650,100,1900.000,395.500
";

/// The same with the columns added later: stream, client and the provider's rate-limit headers.
const TRACE_V2: &str = "\
timestamp_ms,request_id,attempt,model,tier,deployment,outcome,status,input_tokens,output_tokens,latency_ms,ttft_ms,stream,client,limit_requests,limit_tokens,remaining_requests,remaining_tokens
0.000,1,1,gpt-4o,frontier,openai-gpt4o,ok,200,800,150,2210.400,402.125,true,team-a,5000,450000,4999,449050
120.500,2,1,gpt-4o,frontier,azure-gpt4o,ok,200,500,90,1810.000,1810.000,false,,,,900,149410
300.000,3,1,gpt-4o,frontier,openai-gpt4o,rate_limited,429,700,1000,30.000,,true,team-a,5000,450000,0,448000
300.000,3,2,gpt-4o,frontier,azure-gpt4o,ok,200,700,120,2000.000,410.000,true,team-a,,,899,148000
900.250,4,1,gpt-4o,frontier,azure-gpt4o,ok,200,650,100,1900.000,395.500,,,,,,
";

fn scenario() -> Scenario {
    Scenario::load(Path::new(DEFAULT)).unwrap_or_else(|e| panic!("{e}"))
}

fn file(name: &str, text: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("fuzz-traces");
    std::fs::create_dir_all(&dir).expect("dir");
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write");
    path
}

fn replay_err(path: &Path) -> String {
    match Replay::open(path, &scenario(), ReplayOptions::default()) {
        Ok(_) => panic!("{} should be rejected", path.display()),
        Err(e) => e.to_string(),
    }
}

fn fit_err(path: &Path) -> String {
    match fit_trace(path, &FitOptions::default()) {
        Ok(_) => panic!("{} should be rejected", path.display()),
        Err(e) => e.to_string(),
    }
}

#[test]
fn the_trace_replays_and_fits() {
    let path = file("good.csv", TRACE);
    let replay = Replay::open(&path, &scenario(), ReplayOptions::default()).expect("replay");
    assert_eq!(replay.info().arrivals, 4);
    let fit = fit_trace(&path, &FitOptions::default()).expect("fit");
    Scenario::parse(&fit.to_toml(), "fitted.toml", "fitted").expect("the fit validates");
}

#[test]
fn the_new_columns_are_read_and_checked() {
    let path = file("good-v2.csv", TRACE_V2);
    let replay = Replay::open(&path, &scenario(), ReplayOptions::default()).expect("replay");
    assert_eq!(replay.info().arrivals, 4);
    let fit = fit_trace(&path, &FitOptions::default()).expect("fit");
    let openai = fit
        .deployments
        .iter()
        .find(|d| d.id == "openai-gpt4o")
        .expect("openai");
    assert_eq!(openai.limits.rpm.map(|l| l.0), Some(5000));
    assert_eq!(openai.limits.tpm.map(|l| l.0), Some(450_000));
    assert_eq!(openai.limits.headers, "full");
    let azure = fit
        .deployments
        .iter()
        .find(|d| d.id == "azure-gpt4o")
        .expect("azure");
    assert_eq!((azure.streamed, azure.whole), (2, 1));
    assert_eq!(azure.limits.headers, "remaining");
    assert_eq!(azure.limits.rpm.map(|l| l.0), Some(900));
    // Two of the three first attempts with a stream column streamed.
    assert!(
        (fit.stream_share - 2.0 / 3.0).abs() < 1e-9,
        "{}",
        fit.stream_share
    );
    Scenario::parse(&fit.to_toml(), "fitted.toml", "fitted").expect("the fit validates");
    let path = file(
        "bad-stream.csv",
        &TRACE_V2.replace("1810.000,false", "1810.000,maybe"),
    );
    let e = fit_err(&path);
    assert!(e.contains(":3: stream: found \"maybe\""), "{e}");
    let e = replay_err(&path);
    assert!(e.contains(":3: stream: found \"maybe\""), "{e}");
    let path = file(
        "bad-limit.csv",
        &TRACE_V2.replace("team-a,5000,", "team-a,-5,"),
    );
    let e = fit_err(&path);
    assert!(e.contains(":2: limit_requests: found \"-5\""), "{e}");
}

#[test]
fn absurd_latencies_and_tokens_are_rejected_with_file_line_and_column() {
    let path = file("huge-latency.csv", &TRACE.replace("1810.000", "1e308"));
    let e = fit_err(&path);
    assert!(
        e.starts_with(&format!(
            "{}:3: latency_ms: found \"1e308\"",
            path.display()
        )),
        "{e}"
    );
    assert!(e.contains("from 0 to 86400000"), "{e}");
    let path = file("huge-ttft.csv", &TRACE.replace("380.000", "inf"));
    assert!(fit_err(&path).contains(":3: ttft_ms: found \"inf\""));
    let path = file(
        "huge-tokens.csv",
        &TRACE.replace(",500,90,", ",500,4294967296,"),
    );
    assert!(fit_err(&path).contains(":3: output_tokens:"));
    let long = "d".repeat(201);
    let path = file(
        "long-name.csv",
        &TRACE.replace("azure-gpt4o,ok,200,500", &format!("{long},ok,200,500")),
    );
    let e = fit_err(&path);
    assert!(
        e.contains(":3: deployment:") && e.contains("at most 200 characters"),
        "{e}"
    );
}

#[test]
fn replay_messages_blame_the_right_column() {
    let path = file(
        "empty-model.csv",
        &TRACE.replace("120.500,2,1,gpt-4o,frontier", "120.500,2,1,,"),
    );
    let e = replay_err(&path);
    assert!(e.contains(":3: model: found \"\""), "{e}");
    let path = file("far-timestamp.csv", &TRACE.replace("900.250", "1e13"));
    let e = replay_err(&path);
    assert!(e.contains(":6: timestamp_ms: found \"1e13\""), "{e}");
    assert!(!e.contains("finite"), "{e}");
    assert!(e.contains("from -9e12 to 9e12"), "{e}");
}

#[test]
fn duplicate_columns_and_long_rows_are_rejected() {
    let dup = TRACE.replacen("ttft_ms", "latency_ms", 1);
    let path = file("dup.csv", &dup);
    let e = replay_err(&path);
    assert!(
        e.contains(":1: the column \"latency_ms\" appears twice"),
        "{e}"
    );
    let e = fit_err(&path);
    assert!(
        e.contains(":1: the column \"latency_ms\" appears twice"),
        "{e}"
    );
    let long = TRACE.replace("1900.000,395.500", "1900.000,395.500,extra");
    let path = file("long-row.csv", &long);
    let e = replay_err(&path);
    assert!(
        e.contains(":6: field 13: found \"extra\", expected at most 12 fields"),
        "{e}"
    );
    let e = fit_err(&path);
    assert!(e.contains(":6: field 13: found \"extra\""), "{e}");
}

#[cfg(unix)]
#[test]
fn traces_must_be_regular_files() {
    let e = replay_err(Path::new("/dev/zero"));
    assert!(e.contains("not a regular file"), "{e}");
    let e = fit_err(Path::new("/dev/zero"));
    assert!(e.contains("not a regular file"), "{e}");
}

/// Values a trace cell may hold.
const CELLS: [&str; 16] = [
    "",
    "0",
    "-1",
    "1e308",
    "-1e308",
    "NaN",
    "inf",
    "18446744073709551615",
    "4294967296",
    "9e12",
    "1.5",
    "ok",
    "é漢🙂",
    "\"quoted, with comma\"",
    "x,y",
    "2023-11-16 18:17:03.9799600",
];

/// `file:line:` then a column name, or a message without a row (empty, insufficient).
fn located(e: &str, file: &str, columns: &[&str]) -> bool {
    let Some(rest) = e.strip_prefix(&format!("{file}:")) else {
        return e.contains(file);
    };
    let line_ok = rest
        .split(':')
        .next()
        .is_some_and(|l| l.parse::<u64>().is_ok());
    line_ok
        && (columns.iter().any(|c| rest.contains(c))
            || rest.contains("field ")
            || rest.contains("timestamp"))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn mutated_rows_are_rejected_with_a_location_or_processed(
        row in any::<Index>(),
        column in any::<Index>(),
        cell in any::<Index>(),
        long in any::<Option<usize>>(),
        v2 in any::<bool>(),
    ) {
        let trace = if v2 { TRACE_V2 } else { TRACE };
        let mut lines: Vec<String> = trace.lines().map(str::to_owned).collect();
        let r = 1 + row.index(lines.len() - 1);
        let mut fields: Vec<String> = lines[r].split(',').map(str::to_owned).collect();
        let c = column.index(fields.len() + 1);
        let value = match long {
            Some(n) => "9".repeat(1 + n % 400),
            None => CELLS[cell.index(CELLS.len())].to_owned(),
        };
        if c == fields.len() {
            fields.push(value);
        } else {
            fields[c] = value;
        }
        lines[r] = fields.join(",");
        let path = file(&format!("case-{v2}-{r}-{c}.csv"), &(lines.join("\n") + "\n"));
        let name = path.display().to_string();
        let columns: Vec<&str> = trace.lines().next().unwrap_or_default().split(',').collect();
        let s = scenario();
        match Replay::open(&path, &s, ReplayOptions { skip_bad_rows: false, ..ReplayOptions::default() }) {
            Err(TraceError::Empty { .. }) => {}
            Err(e) => prop_assert!(located(&e.to_string(), &name, &columns), "{e}"),
            Ok(replay) => {
                let mut s = s.clone();
                replay.prepare(&mut s);
                let mut source = replay.source(&s, 1);
                let r = sim::run_with(&s, &mut source, sim::RunOptions { strategy: None, seed: 1, trace: None, progress: None });
                prop_assert!(replay.take_error().is_none());
                prop_assert_eq!(r.summary.requests, replay.info().arrivals);
            }
        }
        match fit_trace(&path, &FitOptions::default()) {
            Err(FitError::Insufficient { .. }) => {}
            Err(e) => prop_assert!(located(&e.to_string(), &name, &columns), "{e}"),
            Ok(fit) => {
                let text = fit.to_toml();
                let fitted = Scenario::parse(&text, "fitted.toml", "fitted");
                prop_assert!(fitted.is_ok(), "{:?}\n{text}", fitted.err());
            }
        }
    }
}
