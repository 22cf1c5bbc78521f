//! Bad input named precisely: a bad row stops the replay naming file, line, field and value;
//! an unknown model; `skip_bad_rows` counting the rows it skips; an error met mid-run (the file
//! changed or vanished) recorded rather than a panic; and headers that say what is missing.

use sim::replay::{Format, ReplayOptions, TraceError};
use sim::ArrivalSource;

use crate::support::*;

const BAD: &str = "timestamp_ms,input_tokens,output_tokens,model\n\
                   0,100,10,gpt-4o\n\
                   10,lots,10,gpt-4o\n\
                   20,100,10,gpt-5-turbo\n\
                   30,100\n\
                   40,100,10,gpt-4o\n";

#[test]
fn a_bad_row_stops_the_replay_naming_file_line_field_and_value() {
    let s = scenario();
    let path = file("bad.csv", BAD.as_bytes());
    let e = open(&path, &s, ReplayOptions::default()).err().unwrap();
    let TraceError::Row(row) = &e else {
        panic!("{e}")
    };
    assert_eq!(
        (row.line, row.field.as_str(), row.value.as_str()),
        (3, "input_tokens", "lots")
    );
    let text = e.to_string();
    assert!(
        text.starts_with(&format!("{}:3: input_tokens", path.display())),
        "{text}"
    );
    assert!(text.contains("expected a whole number of tokens"), "{text}");
}

#[test]
fn an_unknown_model_names_the_line_and_value() {
    let s = scenario();
    let text = "timestamp_ms,input_tokens,output_tokens,model\n0,1,1,gpt-4o\n5,1,1,gpt-5-turbo\n";
    let e = open(
        &file("model.csv", text.as_bytes()),
        &s,
        ReplayOptions::default(),
    )
    .err()
    .unwrap()
    .to_string();
    assert!(
        e.contains("model.csv:3: model: found \"gpt-5-turbo\""),
        "{e}"
    );
    assert!(e.contains("frontier, fast"), "{e}");
}

#[test]
fn skip_bad_rows_counts_them_and_keeps_their_lines() {
    let s = scenario();
    let path = file("skip.csv", BAD.as_bytes());
    let options = ReplayOptions {
        skip_bad_rows: true,
        ..ReplayOptions::default()
    };
    let replay = open(&path, &s, options).unwrap();
    let info = replay.info();
    assert_eq!(info.read.skipped, 3);
    let lines: Vec<u64> = info.read.first_skipped.iter().map(|e| e.line).collect();
    assert_eq!(lines, vec![3, 4, 5]);
    assert_eq!(info.read.first_skipped[2].field, "output_tokens");
    assert_eq!(arrivals(&replay, &s).len(), 2);
}

#[test]
fn an_error_met_mid_run_is_recorded_and_the_run_can_be_discarded() {
    let s = scenario();
    let path = file("changing.csv", MINIMAL.as_bytes());
    let replay = open(&path, &s, ReplayOptions::default()).unwrap();
    // The file changes after the scan: a bad row appears.
    std::fs::write(&path, format!("{MINIMAL}5000,oops,1,gpt-4o\n")).unwrap();
    let mut source = replay.source(&s, 1);
    let n = std::iter::from_fn(|| source.next_arrival()).count();
    assert_eq!(n, 5);
    let e = replay.take_error().expect("the bad row is reported");
    assert!(
        e.to_string().contains("changing.csv:7: input_tokens"),
        "{e}"
    );
    // A vanished file is reported too, not a panic.
    std::fs::remove_file(&path).unwrap();
    let mut source = replay.source(&s, 1);
    assert!(source.next_arrival().is_none());
    assert!(replay.take_error().is_some());
}

#[test]
fn headers_name_what_is_missing() {
    let s = scenario();
    for (name, text, needle) in [
        ("empty.csv", "", "empty"),
        (
            "noheader.csv",
            "1,2,3\n",
            "TIMESTAMP,ContextTokens,GeneratedTokens",
        ),
        (
            "headeronly.csv",
            "timestamp_ms,input_tokens,output_tokens\n",
            "no rows",
        ),
    ] {
        let e = open(&file(name, text.as_bytes()), &s, ReplayOptions::default())
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains(name) && e.contains(needle), "{e}");
    }
    let forced = ReplayOptions {
        format: Some(Format::Azure),
        ..ReplayOptions::default()
    };
    let e = open(&file("forced.csv", MINIMAL.as_bytes()), &s, forced)
        .err()
        .unwrap()
        .to_string();
    assert!(
        e.contains("missing TIMESTAMP,ContextTokens,GeneratedTokens"),
        "{e}"
    );
}
