//! Property tests: the timestamp, count and millisecond parsers never panic, Azure timestamps
//! round-trip, and arbitrary rows never panic the reader.
//!
//! Saved failing cases would go to `sim/tests/proptest-regressions/properties.txt`: with a
//! `main.rs` in this directory, proptest's default `SourceParallel` persistence resolves this
//! file's regressions there (a sibling `proptest-regressions/` of the directory holding
//! `main.rs`, same relative path, extension `.txt`).

use proptest::prelude::*;
use sim::replay::azure::{days_from_civil, format_timestamp, parse_timestamp};
use sim::replay::{parse_count, parse_millis, Replay, ReplayOptions};
use sim::ArrivalSource;

use crate::support::*;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn parsers_never_panic(text in "\\PC{0,40}") {
        let _ = parse_timestamp(&text);
        let _ = parse_count(text.as_bytes());
        let _ = parse_millis(text.as_bytes());
    }

    /// Against a calendar counted day by day (not the parser's closed-form algorithm): every
    /// real date parses to its instant and formats back; day 29–31 of a month that has none is
    /// refused.
    #[test]
    fn azure_timestamps_round_trip(
        year in 1900i64..=2200,
        month in 1u32..=12,
        day in 1u32..=31,
        hour in 0i64..24,
        minute in 0i64..60,
        second in 0i64..60,
        ticks in 0i64..10_000_000,
    ) {
        let text = format!(
            "{year:04}-{month:02}-{day:02} {hour:02}:{minute:02}:{second:02}.{ticks:07}"
        );
        if day > month_length(year, month) {
            prop_assert!(parse_timestamp(&text).is_err(), "{} accepted", text);
            return Ok(());
        }
        let nanos = parse_timestamp(&text).unwrap();
        let days = days_counted(year, month, day);
        prop_assert_eq!(days, days_from_civil(year, month, day));
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

fn month_length(year: i64, month: u32) -> u32 {
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    [
        31,
        if leap { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ][month as usize - 1]
}

/// Days from 1970-01-01, counted year by year and month by month.
fn days_counted(year: i64, month: u32, day: u32) -> i64 {
    let year_length = |y: i64| (337 + month_length(y, 2)) as i64;
    let mut days: i64 = if year >= 1970 {
        (1970..year).map(year_length).sum()
    } else {
        -(year..1970).map(year_length).sum::<i64>()
    };
    days += (1..month)
        .map(|m| i64::from(month_length(year, m)))
        .sum::<i64>();
    days + i64::from(day) - 1
}
