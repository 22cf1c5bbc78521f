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
