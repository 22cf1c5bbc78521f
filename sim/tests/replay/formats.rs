//! Trace formats and encodings: the shipped Azure trace through every strategy, arrivals keeping
//! the trace's order, times and tokens, CRLF line ends and a missing final newline, and gzip
//! files (detected from their bytes) replaying like plain ones.

use std::io::Write as _;
use std::path::Path;

use engine::StrategyKind;
use sim::replay::{Format, ReplayOptions, TraceError};
use sim::{ArrivalSource, RunOptions};

use crate::support::*;

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap()
}

/// Data rows of a CSV file (non-empty lines after the header).
fn data_rows(path: &str) -> u64 {
    let text = std::fs::read_to_string(path).unwrap();
    text.lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .count() as u64
}

#[test]
fn azure_trace_replays_every_request_through_every_strategy() {
    let rows = data_rows(AZURE);
    assert!(rows > 8000, "{rows}");
    let mut s = scenario();
    let replay = open(Path::new(AZURE), &s, ReplayOptions::default()).unwrap();
    let info = replay.info();
    assert_eq!(info.format, Format::Azure);
    assert_eq!(info.arrivals, rows);
    assert!(info.models_from_mix);
    // About an hour (2023-11-16 18:17 to 19:14).
    assert!(
        (3000.0..3700.0).contains(&info.last_arrival.as_secs_f64()),
        "{info:?}"
    );
    replay.prepare(&mut s);
    for strategy in StrategyKind::ALL {
        let mut source = replay.source(&s, 7);
        let r = sim::run_with(
            &s,
            &mut source,
            RunOptions {
                strategy: Some(strategy),
                seed: 7,
                trace: None,
                progress: None,
            },
        );
        assert!(replay.take_error().is_none());
        assert_eq!(r.summary.requests, rows, "{strategy}");
        let sm = &r.summary;
        assert_eq!(
            sm.requests,
            sm.successes + sm.failures + sm.in_flight_at_end
        );
    }
}

#[test]
fn arrivals_keep_the_trace_order_times_and_tokens() {
    let s = scenario();
    let path = file("minimal.csv", MINIMAL.as_bytes());
    let replay = open(&path, &s, ReplayOptions::default()).unwrap();
    let a = arrivals(&replay, &s);
    let ms: Vec<f64> = a.iter().map(|a| a.at.as_secs_f64() * 1000.0).collect();
    assert_eq!(ms, vec![0.0, 250.5, 1000.0, 1000.0, 4000.0]);
    let tokens: Vec<(u32, u32)> = a
        .iter()
        .map(|a| (a.input_tokens, a.output_tokens))
        .collect();
    assert_eq!(
        tokens,
        vec![(100, 10), (200, 20), (300, 30), (400, 40), (500, 50)]
    );
    let tiers: Vec<&str> = a
        .iter()
        .map(|a| s.config.tiers[a.tier.index()].name.as_str())
        .collect();
    assert_eq!(
        tiers,
        vec!["frontier", "fast", "frontier", "frontier", "fast"]
    );
    let names = replay.source(&s, 1).models();
    assert_eq!(names[a[1].model as usize], "gpt-4o-mini");
    // The scenario's max_tokens is the gateway's estimate (at least the true output).
    let max = s.workload.max_tokens.expect("default.toml sets max_tokens");
    assert!(a
        .iter()
        .all(|a| a.estimated_output == max.max(a.output_tokens)));
}

#[test]
fn crlf_line_ends_and_a_missing_final_newline() {
    let s = scenario();
    let crlf = MINIMAL.replace('\n', "\r\n");
    let crlf = crlf.trim_end();
    let path = file("crlf.csv", crlf.as_bytes());
    let replay = open(&path, &s, ReplayOptions::default()).unwrap();
    let plain = open(
        &file("plain.csv", MINIMAL.as_bytes()),
        &s,
        ReplayOptions::default(),
    )
    .unwrap();
    assert_eq!(arrivals(&replay, &s), arrivals(&plain, &s));
    assert_eq!(replay.info().arrivals, 5);
    // Line numbers count CRLF lines, blank lines included.
    let bad = "timestamp_ms,input_tokens,output_tokens\r\n0,1,1\r\n\r\n5,x,1\r\n6,1,1";
    let e = open(
        &file("crlf-bad.csv", bad.as_bytes()),
        &s,
        ReplayOptions::default(),
    )
    .err()
    .unwrap();
    assert!(matches!(&e, TraceError::Row(r) if r.line == 4), "{e}");
    let blank = "timestamp_ms,input_tokens,output_tokens\r\n0,1,1\r\n\r\n \r\n6,1,1\r\n";
    let r = open(
        &file("crlf-blank.csv", blank.as_bytes()),
        &s,
        ReplayOptions::default(),
    )
    .unwrap();
    assert_eq!((r.info().arrivals, r.info().read.rows), (2, 2));
}

#[test]
fn gzip_files_replay_like_plain_ones() {
    let s = scenario();
    let text = std::fs::read(AZURE).unwrap();
    let gz = file("azure.csv.gz", &gzip(&text));
    let replay = open(&gz, &s, ReplayOptions::default()).unwrap();
    assert!(replay.info().gzip);
    let plain = open(Path::new(AZURE), &s, ReplayOptions::default()).unwrap();
    assert_eq!(arrivals(&replay, &s), arrivals(&plain, &s));
    // Detected from the bytes, not the name.
    let named = file("azure-gzip-without-suffix.csv", &gzip(MINIMAL.as_bytes()));
    assert_eq!(
        open(&named, &s, ReplayOptions::default())
            .unwrap()
            .info()
            .arrivals,
        5
    );
    // Truncated gzip: an I/O error naming the file, no panic.
    let cut = gzip(&text);
    let cut = file("cut.csv.gz", &cut[..cut.len() / 2]);
    let e = open(&cut, &s, ReplayOptions::default())
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("cut.csv.gz"), "{e}");
}
