//! Replaying traces: formats, line ends, gzip, bad rows, order, speed and window, through the
//! library API (`Replay` and its `ArrivalSource`).

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use engine::StrategyKind;
use proptest::prelude::*;
use sim::replay::azure::{days_from_civil, format_timestamp, parse_timestamp};
use sim::replay::{parse_count, parse_millis, Format, Replay, ReplayOptions, TraceError, Window};
use sim::trace::CsvTrace;
use sim::{Arrival, ArrivalSource, RunOptions, Scenario};

const AZURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../traces/azure-2023-code.csv");
const DEFAULT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../scenarios/default.toml");

fn scenario() -> Scenario {
    Scenario::load(Path::new(DEFAULT)).unwrap_or_else(|e| panic!("{e}"))
}

/// A file under the test's temporary folder with these bytes.
fn file(name: &str, bytes: &[u8]) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("replay-tests");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap()
}

fn open(path: &Path, s: &Scenario, options: ReplayOptions) -> Result<Replay, TraceError> {
    Replay::open(path, s, options)
}

fn arrivals(replay: &Replay, s: &Scenario) -> Vec<Arrival> {
    let mut source = replay.source(s, 1);
    let all: Vec<Arrival> = std::iter::from_fn(|| source.next_arrival()).collect();
    assert!(replay.take_error().is_none());
    all
}

/// Data rows of a CSV file (non-empty lines after the header).
fn data_rows(path: &str) -> u64 {
    let text = std::fs::read_to_string(path).unwrap();
    text.lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .count() as u64
}

const MINIMAL: &str = "timestamp_ms,input_tokens,output_tokens,model\n\
                       0,100,10,gpt-4o\n\
                       250.5,200,20,gpt-4o-mini\n\
                       1000,300,30,frontier\n\
                       1000,400,40,gpt-4o\n\
                       4000,500,50,fast\n";

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
fn speed_compresses_time_and_window_slices_it() {
    let s = scenario();
    let base = open(Path::new(AZURE), &s, ReplayOptions::default()).unwrap();
    let span = base.info().last_arrival.as_secs_f64();
    let fast = open(
        Path::new(AZURE),
        &s,
        ReplayOptions {
            speed: 2.0,
            ..ReplayOptions::default()
        },
    )
    .unwrap();
    assert!((fast.info().last_arrival.as_secs_f64() - span / 2.0).abs() < 1e-6);
    assert_eq!(fast.info().arrivals, base.info().arrivals);

    let window: Window = "10m..20m".parse().unwrap();
    let sliced = open(
        Path::new(AZURE),
        &s,
        ReplayOptions {
            window,
            ..ReplayOptions::default()
        },
    )
    .unwrap();
    let a = arrivals(&sliced, &s);
    let all = arrivals(&base, &s);
    let expected: Vec<&Arrival> = all
        .iter()
        .filter(|a| (600.0..1200.0).contains(&a.at.as_secs_f64()))
        .collect();
    assert_eq!(a.len(), expected.len());
    assert!(a.len() > 1000 && a.len() < all.len() / 2, "{}", a.len());
    assert_eq!(sliced.info().arrivals, a.len() as u64);
    // Shifted to start at the window's start, tokens unchanged.
    let first = expected[0];
    assert!((a[0].at.as_secs_f64() - (first.at.as_secs_f64() - 600.0)).abs() < 1e-6);
    assert_eq!(a[0].input_tokens, first.input_tokens);
    assert!(a.iter().all(|x| x.at < Duration::from_secs(600)));

    assert!("..5m".parse::<Window>().is_ok());
    assert!("30s..".parse::<Window>().is_ok());
    assert!("20m..10m".parse::<Window>().is_err());
    assert!("10m".parse::<Window>().is_err());
    let empty = ReplayOptions {
        window: "2h..3h".parse().unwrap(),
        ..ReplayOptions::default()
    };
    let e = open(Path::new(AZURE), &s, empty).err().unwrap().to_string();
    assert!(e.contains("no rows to replay"), "{e}");
    let stopped = ReplayOptions {
        speed: 0.0,
        ..ReplayOptions::default()
    };
    assert!(open(Path::new(AZURE), &s, stopped).is_err());
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

#[test]
fn a_model_option_sends_everything_to_one_route() {
    let s = scenario();
    let options = ReplayOptions {
        model: Some("gpt-4o-mini".into()),
        ..ReplayOptions::default()
    };
    let replay = open(Path::new(AZURE), &s, options).unwrap();
    assert!(!replay.info().models_from_mix);
    assert_eq!(replay.info().models[0].rows, replay.info().arrivals);
    let a = arrivals(&replay, &s);
    assert!(a
        .iter()
        .all(|a| s.config.tiers[a.tier.index()].name == "fast"));
    let bad = ReplayOptions {
        model: Some("nope".into()),
        ..ReplayOptions::default()
    };
    assert!(open(Path::new(AZURE), &s, bad).is_err());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn parsers_never_panic(text in "\\PC{0,40}") {
        let _ = parse_timestamp(&text);
        let _ = parse_count(text.as_bytes());
        let _ = parse_millis(text.as_bytes());
    }

    #[test]
    fn azure_timestamps_round_trip(
        year in 1900i64..=2200,
        month in 1u32..=12,
        day in 1u32..=28,
        hour in 0i64..24,
        minute in 0i64..60,
        second in 0i64..60,
        ticks in 0i64..10_000_000,
    ) {
        let text = format!(
            "{year:04}-{month:02}-{day:02} {hour:02}:{minute:02}:{second:02}.{ticks:07}"
        );
        let nanos = parse_timestamp(&text).unwrap();
        let days = days_from_civil(year, month, day);
        prop_assert_eq!(
            nanos,
            ((days * 86_400 + hour * 3600 + minute * 60 + second) * 1_000_000_000) + ticks * 100
        );
        prop_assert_eq!(format_timestamp(nanos), text);
    }

    #[test]
    fn arbitrary_rows_never_panic_the_reader(
        rows in proptest::collection::vec("[0-9a-z,.:\\- \"\\r]{0,30}", 0..6),
        azure in any::<bool>(),
        skip in any::<bool>(),
    ) {
        let s = scenario();
        let header = if azure {
            "TIMESTAMP,ContextTokens,GeneratedTokens"
        } else {
            "timestamp_ms,input_tokens,output_tokens,model,attempt"
        };
        let text = format!("{header}\n{}", rows.join("\n"));
        let name = format!("prop-{}.csv", std::thread::current().name().unwrap_or("t").replace(':', "_"));
        let path = file(&name, text.as_bytes());
        let options = ReplayOptions { skip_bad_rows: skip, ..ReplayOptions::default() };
        if let Ok(replay) = Replay::open(&path, &s, options) {
            let mut source = replay.source(&s, 1);
            let n = std::iter::from_fn(|| source.next_arrival()).count() as u64;
            prop_assert_eq!(n, replay.info().arrivals);
        }
    }
}
