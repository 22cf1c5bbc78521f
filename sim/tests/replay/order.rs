//! Arrival order: unsorted timestamps are an error unless sorted in memory or streamed through
//! the bounded reorder buffer, and the simulator's own per-attempt traces (written as attempts
//! finish, so out of order) replay their first attempts.

use std::time::Duration;

use engine::StrategyKind;
use sim::replay::{ReplayOptions, TraceError};
use sim::trace::CsvTrace;
use sim::RunOptions;

use crate::support::*;

const UNSORTED: &str =
    "timestamp_ms,input_tokens,output_tokens\n0,1,1\n500,1,1\n300,1,1\n900,1,1\n";

#[test]
fn unsorted_timestamps_are_an_error_unless_sorted() {
    let s = scenario();
    let path = file("unsorted.csv", UNSORTED.as_bytes());
    let e = open(&path, &s, ReplayOptions::default()).err().unwrap();
    assert!(
        matches!(
            e,
            TraceError::Unsorted {
                line: 4,
                previous_line: 3,
                ..
            }
        ),
        "{e}"
    );
    assert!(e.to_string().contains("--sort"), "{e}");
    let sorted = open(
        &path,
        &s,
        ReplayOptions {
            sort: true,
            ..ReplayOptions::default()
        },
    )
    .unwrap();
    assert!(sorted.info().sorted_in_memory);
    let ms: Vec<u128> = arrivals(&sorted, &s)
        .iter()
        .map(|a| a.at.as_millis())
        .collect();
    assert_eq!(ms, vec![0, 300, 500, 900]);
    // A bounded reorder buffer streams it too.
    let buffered = open(
        &path,
        &s,
        ReplayOptions {
            max_disorder: Some(Duration::from_millis(200)),
            ..ReplayOptions::default()
        },
    )
    .unwrap();
    assert!(!buffered.info().sorted_in_memory);
    let ms2: Vec<u128> = arrivals(&buffered, &s)
        .iter()
        .map(|a| a.at.as_millis())
        .collect();
    assert_eq!(ms2, ms);
    // A row further back than the tolerance behind a later row is still an error.
    let far = file(
        "far.csv",
        b"timestamp_ms,input_tokens,output_tokens\n0,1,1\n500,1,1\n700,1,1\n300,1,1\n",
    );
    let tight = ReplayOptions {
        max_disorder: Some(Duration::from_millis(150)),
        ..ReplayOptions::default()
    };
    let e = open(&far, &s, tight).err().unwrap();
    assert!(
        matches!(
            e,
            TraceError::Unsorted {
                line: 5,
                previous_line: 3,
                ..
            }
        ),
        "{e}"
    );
    assert!(e.to_string().contains("--max-disorder (now 150ms)"), "{e}");
}

#[test]
fn per_attempt_traces_from_the_simulator_replay_their_first_attempts() {
    let mut s = scenario();
    s.settings.max_requests = Some(3000);
    let mut buf = Vec::new();
    {
        let mut sink = CsvTrace::new(&mut buf);
        sim::run(
            &s,
            RunOptions {
                strategy: Some(StrategyKind::Random),
                seed: 3,
                trace: Some(&mut sink),
                progress: None,
            },
        );
        sink.finish().unwrap();
    }
    let text = String::from_utf8(buf).unwrap();
    let first_attempts = text
        .lines()
        .skip(1)
        .filter(|l| l.split(',').nth(2) == Some("1"))
        .count();
    let retries = text.lines().count() - 1 - first_attempts;
    assert!(retries > 0);
    // Rows are written as attempts finish, so send times are out of order: streamed through
    // the reorder buffer by default.
    let path = file("sim-trace.csv", text.as_bytes());
    let replay = open(&path, &s, ReplayOptions::default()).unwrap();
    assert_eq!(replay.info().arrivals, first_attempts as u64);
    assert_eq!(replay.info().read.retries, retries as u64);
    let a = arrivals(&replay, &s);
    assert!(a.windows(2).all(|w| w[0].at <= w[1].at));
    let models: Vec<&str> = replay
        .info()
        .models
        .iter()
        .map(|m| m.name.as_str())
        .collect();
    assert!(
        models.contains(&"gpt-4o") && models.contains(&"gpt-4o-mini"),
        "{models:?}"
    );
    // Without the buffer the same file is an error naming a line.
    let strict = ReplayOptions {
        max_disorder: Some(Duration::ZERO),
        ..ReplayOptions::default()
    };
    assert!(matches!(
        open(&path, &s, strict),
        Err(TraceError::Unsorted { .. })
    ));
}
