//! The documented range of every number in a scenario's `[simulation]`, `[workload]` and
//! `[world]` tables, checked once at load so the simulator never meets a value it cannot
//! handle (a run that never ends, an overflow, an allocation of gigabytes).
//!
//! | what | range |
//! |---|---|
//! | `simulation.duration` | > 0 and ≤ 365 days |
//! | `simulation.drain`, incident `start`/`end`, diurnal `period`/`peak` | ≤ 365 days (period > 0) |
//! | `simulation.bucket` | > 0 and ≥ (duration + drain) / 100,000 |
//! | bursty `mean_burst`, `mean_gap` | ≥ 1 ms, ≥ duration / 1,000,000 and ≤ 365 days |
//! | bursty `burst_rate × mean_burst + base_rate × mean_gap` | ≥ 0.001 requests per cycle |
//! | rates (requests per second) | 0 or from 1e-6 to 1,000,000 (> 0 where a rate must be) |
//! | latencies (`ttft`, `per_token` values), `rejection_latency` | ≤ 1 day |
//! | `client_timeout` | > 0 and ≤ 365 days |
//! | token counts (`input_tokens`, `output_tokens` values) | 0 to 2,000,000 |
//! | log-normal `sigma` | 0 to 10 |
//! | gamma `shape` | 0.001 to 1,000,000 |
//! | `error_rate`, `timeout_rate` | probabilities whose sum is ≤ 1 |
//! | names, ids, models, targets | 1 to 200 characters |

use std::time::Duration;

/// Longest simulated time span (duration, drain, incident times, diurnal period): 365 days.
pub const MAX_TIME: Duration = Duration::from_secs(365 * 86_400);

/// Longest latency value (distribution values, rejection latency): 1 day.
pub const MAX_LATENCY: Duration = Duration::from_secs(86_400);

/// Most time-series buckets a run may need over `duration + drain`.
pub const MAX_BUCKETS: u64 = 100_000;

/// Shortest mean burst or gap of a bursty arrival process.
pub const MIN_BURSTY_STATE: Duration = Duration::from_millis(1);

/// Most bursty state changes a run may expect (bounds `duration / mean_burst`).
pub const MAX_BURSTY_STATES: u32 = 1_000_000;

/// Fewest requests a bursty process may expect per burst and gap (`burst_rate × mean_burst +
/// base_rate × mean_gap`), so finding the next arrival passes few state changes.
pub const MIN_REQUESTS_PER_BURST: f64 = 1e-3;

/// Smallest non-zero arrival rate, requests per second.
pub const MIN_RATE: f64 = 1e-6;

/// Largest arrival rate, requests per second.
pub const MAX_RATE: f64 = 1e6;

/// Largest token count in a distribution (a sample is clamped to this anyway).
pub const MAX_TOKENS: f64 = 2_000_000.0;

/// Largest σ of a log-normal.
pub const MAX_SIGMA: f64 = 10.0;

/// Range of a gamma's shape.
pub const GAMMA_SHAPE: (f64, f64) = (1e-3, 1e6);

/// Longest name, id, model or incident target, in characters.
pub const MAX_NAME_CHARS: usize = 200;

/// `Ok` when `d` is within `min..=max`, else what was expected.
pub fn duration_in(d: Duration, min: Duration, max: Duration) -> Result<Duration, String> {
    if d >= min && d <= max {
        Ok(d)
    } else {
        Err(format!(
            "{} is out of range; expected a duration from {} to {}",
            show(d),
            show(min),
            show(max)
        ))
    }
}

/// A duration as a scenario would write it (`"365days"`, `"1ms"`).
pub fn show(d: Duration) -> String {
    let days = d.as_secs() / 86_400;
    if days > 0 && d == Duration::from_secs(days * 86_400) {
        let unit = if days == 1 { "day" } else { "days" };
        format!("\"{days}{unit}\"")
    } else {
        format!("\"{}\"", humantime::format_duration(d))
    }
}

/// `Ok` when `rate` is finite and 0 (if `zero_ok`) or within [`MIN_RATE`]..=[`MAX_RATE`].
pub fn rate(rate: f64, zero_ok: bool) -> Result<f64, String> {
    if (zero_ok && rate == 0.0) || (MIN_RATE..=MAX_RATE).contains(&rate) {
        Ok(rate)
    } else {
        Err(format!(
            "{rate:?} is out of range; expected requests per second {}from 1e-6 to 1e6",
            if zero_ok { "of 0 or " } else { "" }
        ))
    }
}

/// `Ok` when `name` is 1 to [`MAX_NAME_CHARS`] characters.
pub fn name(name: &str) -> Result<&str, String> {
    let n = name.chars().count();
    if n == 0 {
        Err("is empty; expected a name".into())
    } else if n > MAX_NAME_CHARS {
        Err(format!(
            "is {n} characters long; expected at most {MAX_NAME_CHARS}"
        ))
    } else {
        Ok(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_say_what_was_expected() {
        let e = duration_in(Duration::MAX, Duration::ZERO, MAX_TIME).unwrap_err();
        assert!(
            e.contains("expected a duration from \"0s\" to \"365days\""),
            "{e}"
        );
        assert!(rate(5e-324, false).is_err());
        assert!(rate(0.0, false).is_err());
        assert_eq!(rate(0.0, true), Ok(0.0));
        assert!(rate(f64::NAN, true).is_err());
        assert!(name(&"x".repeat(201))
            .unwrap_err()
            .contains("201 characters"));
    }
}
