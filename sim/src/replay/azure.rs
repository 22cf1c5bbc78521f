//! Timestamps of the Azure LLM inference traces, `YYYY-MM-DD HH:MM:SS.fffffff` (UTC), parsed by
//! hand into nanoseconds since the Unix epoch (no date library needed).

/// What a timestamp must look like, for error messages.
pub const EXPECTED: &str = "a timestamp like \"2023-11-16 18:17:03.9799600\" (years 1900 to 2200)";

const NANOS_PER_SECOND: i64 = 1_000_000_000;

/// Parses `YYYY-MM-DD HH:MM:SS[.f…]` (1 to 9 fraction digits; `T` may separate date and time;
/// a trailing `Z` is allowed) into nanoseconds since 1970-01-01 00:00:00 UTC.
pub fn parse_timestamp(text: &str) -> Result<i64, String> {
    let b = text.trim().as_bytes();
    let b = b.strip_suffix(b"Z").unwrap_or(b);
    let bad = || format!("{text:?} is not {EXPECTED}");
    if b.len() < 19
        || b[4] != b'-'
        || b[7] != b'-'
        || !(b[10] == b' ' || b[10] == b'T')
        || b[13] != b':'
        || b[16] != b':'
    {
        return Err(bad());
    }
    let year = digits(&b[0..4]).ok_or_else(bad)?;
    let month = digits(&b[5..7]).ok_or_else(bad)?;
    let day = digits(&b[8..10]).ok_or_else(bad)?;
    let hour = digits(&b[11..13]).ok_or_else(bad)?;
    let minute = digits(&b[14..16]).ok_or_else(bad)?;
    let second = digits(&b[17..19]).ok_or_else(bad)?;
    let fraction = match &b[19..] {
        [] => 0,
        [b'.', rest @ ..] if (1..=9).contains(&rest.len()) => {
            let n = digits(rest).ok_or_else(bad)?;
            n * 10i64.pow(9 - rest.len() as u32)
        }
        _ => return Err(bad()),
    };
    if !(1900..=2200).contains(&year)
        || !(1..=12).contains(&month)
        || day < 1
        || day > days_in_month(year, month as u32)
        || hour > 23
        || minute > 59
        || second > 59
    {
        return Err(bad());
    }
    let days = days_from_civil(year, month as u32, day as u32);
    let seconds = days * 86_400 + hour * 3600 + minute * 60 + second;
    Ok(seconds * NANOS_PER_SECOND + fraction)
}

/// Formats nanoseconds since the epoch as the Azure traces write them: seven fraction digits
/// (nine when the value is not a multiple of 100 ns).
pub fn format_timestamp(nanos: i64) -> String {
    let seconds = nanos.div_euclid(NANOS_PER_SECOND);
    let fraction = nanos.rem_euclid(NANOS_PER_SECOND);
    let days = seconds.div_euclid(86_400);
    let of_day = seconds.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    let (hh, mm, ss) = (of_day / 3600, of_day / 60 % 60, of_day % 60);
    if fraction % 100 == 0 {
        format!(
            "{y:04}-{m:02}-{d:02} {hh:02}:{mm:02}:{ss:02}.{:07}",
            fraction / 100
        )
    } else {
        format!("{y:04}-{m:02}-{d:02} {hh:02}:{mm:02}:{ss:02}.{fraction:09}")
    }
}

fn digits(b: &[u8]) -> Option<i64> {
    if b.is_empty() || b.len() > 18 {
        return None;
    }
    b.iter().try_fold(0i64, |n, &c| {
        c.is_ascii_digit().then(|| n * 10 + i64::from(c - b'0'))
    })
}

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i64, m: u32) -> i64 {
    match m {
        2 if is_leap(y) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = i64::from((m + 9) % 12);
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date of a day number since 1970-01-01 (inverse of [`days_from_civil`]).
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_published_form() {
        let t = parse_timestamp("2023-11-16 18:17:03.9799600").unwrap();
        // 2023-11-16 is day 19677 since the epoch.
        assert_eq!(days_from_civil(2023, 11, 16), 19_677);
        let expected = (19_677 * 86_400 + 18 * 3600 + 17 * 60 + 3) * NANOS_PER_SECOND + 979_960_000;
        assert_eq!(t, expected);
        assert_eq!(format_timestamp(t), "2023-11-16 18:17:03.9799600");
        assert_eq!(
            parse_timestamp("2023-11-16T18:17:03Z").unwrap(),
            expected - 979_960_000
        );
    }

    #[test]
    fn rejects_impossible_dates() {
        for bad in [
            "2023-02-29 00:00:00",
            "2023-13-01 00:00:00",
            "2023-11-16 24:00:00",
            "2023-11-16 18:17:03.",
            "2023-11-16 18:17:03.1234567890",
            "2023-11-16",
            "",
            "1800-01-01 00:00:00",
            "2023-11-16 18:17:0x",
        ] {
            assert!(parse_timestamp(bad).is_err(), "{bad}");
        }
        assert!(parse_timestamp("2024-02-29 00:00:00").is_ok());
    }
}
