//! Value parsers for numeric options, so a negative or malformed value gets a message saying
//! what was expected (with `allow_negative_numbers`, clap hands `-1` to these instead of
//! calling it an unexpected argument).

/// A finite number > 0 (e.g. `--speed`).
pub fn positive(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 => Ok(v),
        _ => Err(format!("{s:?} must be a number > 0")),
    }
}

/// A whole number ≥ 0 (e.g. `--seed`, `--requests`).
pub fn count(s: &str) -> Result<u64, String> {
    s.trim()
        .parse::<u64>()
        .map_err(|_| format!("{s:?} must be a whole number from 0 to {}", u64::MAX))
}

/// A whole number ≥ 1 (e.g. `--seeds`, `--threads`).
pub fn at_least_one(s: &str) -> Result<u64, String> {
    match s.trim().parse::<u64>() {
        Ok(v) if v >= 1 => Ok(v),
        _ => Err(format!("{s:?} must be a whole number ≥ 1")),
    }
}

/// A thread count ≥ 1.
pub fn threads(s: &str) -> Result<usize, String> {
    at_least_one(s).map(|v| usize::try_from(v).unwrap_or(usize::MAX))
}
