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

/// How long after its wake time a request the engine told to wait is resumed: at most this
/// (exclusive). A real gateway's waiters never resume at one instant: a timer fires on a tick
/// (tokio's resolution is 1 ms) and the tasks it wakes run one after another, in no set order.
pub const RESUME_SPREAD: Duration = Duration::from_millis(1);

/// When the event loop resumes a request the engine told to wait `until`: `until` plus a
/// spread in `[0, RESUME_SPREAD)` taken from a hash of the wait's event `token` (no random
/// stream is consumed, so every other draw stays as it was).
///
/// Without it every request waiting for the same deployment's cooldown resumes at the same
/// nanosecond, oldest first, and they all reach the deployment before its first 429 comes back;
/// such herds, impossible on a real clock, gave 22–44 % more 429s than the real gateway under
/// binding limits (docs/mock-provider.md, "Fidelity where it is hard").
pub fn resume_at(until: Duration, token: u64) -> Duration {
    // SplitMix64's finaliser: consecutive tokens spread over the whole range.
    let mut z = token.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    let spread = nanos(RESUME_SPREAD).max(1);
    until.saturating_add(Duration::from_nanos(z % spread))
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

    #[test]
    fn waiters_resume_spread_within_the_tick_in_no_set_order() {
        let until = Duration::from_secs(40);
        let at: Vec<Duration> = (100..164).map(|t| resume_at(until, t)).collect();
        assert!(at.iter().all(|&a| a >= until && a < until + RESUME_SPREAD));
        let mut sorted = at.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted.len(), at.len(), "no two of them at one instant");
        assert!(at.windows(2).any(|w| w[0] > w[1]), "not in token order");
        let spread = sorted[sorted.len() - 1] - sorted[0];
        assert!(spread > RESUME_SPREAD / 2, "{spread:?}");
        assert_eq!(resume_at(Duration::MAX, 7), Duration::MAX);
    }
}
