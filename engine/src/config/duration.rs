//! Durations written as strings such as `"500ms"`, `"10s"`, `"1m 30s"` (humantime's grammar).

use std::time::Duration;

use serde::{de::Error as _, Deserialize, Deserializer};

/// The longest duration any file or option may give: 365 days. Every duration is checked
/// against it once, at load, so time arithmetic on loaded values cannot overflow.
pub const MAX: Duration = Duration::from_secs(365 * 86_400);

/// Parses a duration string of at most [`MAX`], naming what was expected on failure.
pub fn parse(text: &str) -> Result<Duration, String> {
    let d = humantime::parse_duration(text.trim()).map_err(|e| {
        format!("invalid duration {text:?} ({e}); expected e.g. \"500ms\", \"10s\", \"5m\"")
    })?;
    if d > MAX {
        return Err(format!(
            "duration {text:?} is too long; expected at most 365 days (\"365d\")"
        ));
    }
    Ok(d)
}

/// Deserializes a required duration string.
pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    let text = String::deserialize(d)?;
    parse(&text).map_err(D::Error::custom)
}

/// Deserializes an optional duration string.
pub mod option {
    use super::*;

    /// Deserializes `Some(duration)` when the key is present.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        let text = String::deserialize(d)?;
        super::parse(&text).map(Some).map_err(D::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Any text is a duration of at most a year or an error; it never panics.
        #[test]
        fn any_text_is_at_most_a_year_or_refused(text in "\\PC{0,24}|[0-9]{1,22}[a-z]{0,5}( [0-9]{1,12}[a-z]{1,3})?") {
            if let Ok(d) = parse(&text) {
                prop_assert!(d <= MAX);
            }
        }

        /// `<n><unit>` parses to n units, or is refused as too long past a year.
        #[test]
        fn whole_units_parse_to_their_value(n in 0u64..100_000_000, unit in 0..5usize) {
            let (suffix, nanos) = [("ns", 1u128), ("ms", 1_000_000), ("s", 1_000_000_000),
                ("m", 60_000_000_000), ("h", 3_600_000_000_000)][unit];
            let want = u128::from(n) * nanos;
            match parse(&format!("{n}{suffix}")) {
                Ok(d) => prop_assert_eq!(d.as_nanos(), want),
                Err(e) => {
                    prop_assert!(want > MAX.as_nanos(), "{}", e);
                    prop_assert!(e.contains("at most 365 days"), "{}", e);
                }
            }
        }
    }

    #[test]
    fn parses_common_forms() {
        assert_eq!(parse("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse("10m").unwrap(), Duration::from_secs(600));
        assert_eq!(parse(" 1m 30s ").unwrap(), Duration::from_secs(90));
    }

    #[test]
    fn rejects_durations_past_a_year() {
        assert_eq!(parse("365d").unwrap(), MAX);
        for text in ["366d", "18446744073709551615s", "600000000y"] {
            let err = parse(text).unwrap_err();
            assert!(
                err.contains("at most 365 days") || err.contains("invalid"),
                "{err}"
            );
        }
    }

    #[test]
    fn rejects_garbage_with_an_example() {
        let err = parse("5 parsecs").unwrap_err();
        assert!(err.contains("\"5 parsecs\""), "{err}");
        assert!(err.contains("expected"), "{err}");
    }
}
