//! Saturating time conversions for the event loop: a latency drawn from a heavy tail, scaled
//! by an incident and multiplied by a token count may be any float, and must never panic or
//! wrap around.

use std::time::Duration;

/// Longest delay one event may be scheduled after another: 100 years. A run ends at most
/// `drain` (≤ 365 days) after its last arrival, so anything this late simply never happens.
pub const MAX_DELAY: Duration = Duration::from_secs(100 * 365 * 86_400);

/// Seconds as a [`Duration`]: NaN and negatives become 0, anything above [`MAX_DELAY`] (or
/// infinite) becomes [`MAX_DELAY`]. Identical to [`Duration::from_secs_f64`] in between.
pub fn secs(x: f64) -> Duration {
    if x.is_nan() || x <= 0.0 {
        return Duration::ZERO;
    }
    Duration::try_from_secs_f64(x).map_or(MAX_DELAY, |d| d.min(MAX_DELAY))
}

/// A time as whole nanoseconds, saturating at `u64::MAX` (584 years) instead of wrapping.
pub fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conversions_saturate() {
        assert_eq!(secs(f64::NAN), Duration::ZERO);
        assert_eq!(secs(-1.0), Duration::ZERO);
        assert_eq!(secs(f64::INFINITY), MAX_DELAY);
        assert_eq!(secs(1e300), MAX_DELAY);
        assert_eq!(secs(0.25), Duration::from_millis(250));
        assert_eq!(nanos(Duration::MAX), u64::MAX);
        assert_eq!(nanos(Duration::from_secs(2)), 2_000_000_000);
    }
}
