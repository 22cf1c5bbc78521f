//! Local rate-limit accounting: one fixed window per limit, charged at start with an estimate,
//! corrected at finish with real usage and whenever the provider's headers say otherwise.
//!
//! Counting an estimate at start is what keeps concurrent requests from overshooting a
//! tokens-per-minute limit (counting only at the end lets every in-flight request through).

use std::time::Duration;

/// A fixed-length window counting units (requests or tokens) against an optional limit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Window {
    limit: Option<u64>,
    length: Duration,
    end: Duration,
    used: u64,
}

impl Window {
    /// An empty window of `length` for `limit` (`None` = unlimited).
    pub fn new(limit: Option<u64>, length: Duration) -> Window {
        Window {
            limit,
            length,
            end: Duration::ZERO,
            used: 0,
        }
    }

    /// The configured limit.
    pub fn limit(&self) -> Option<u64> {
        self.limit
    }

    /// Units used in the window that is current at `now`.
    pub fn used_at(&self, now: Duration) -> u64 {
        if now >= self.end {
            0
        } else {
            self.used
        }
    }

    /// Whether `amount` more units fit at `now`.
    pub fn fits(&self, now: Duration, amount: u64) -> bool {
        match self.limit {
            None => true,
            Some(limit) => self.used_at(now) + amount <= limit,
        }
    }

    /// Earliest time `amount` units fit: `now`, the window's end, or never (more than the limit).
    pub fn available_at(&self, now: Duration, amount: u64) -> Option<Duration> {
        match self.limit {
            None => Some(now),
            Some(limit) if amount > limit => None,
            Some(_) if self.fits(now, amount) => Some(now),
            Some(_) => Some(self.end),
        }
    }

    /// Fraction of the limit left after charging `amount` at `now` (1 when unlimited).
    pub fn headroom_after(&self, now: Duration, amount: u64) -> f64 {
        match self.limit {
            None => 1.0,
            Some(limit) => {
                let left = limit.saturating_sub(self.used_at(now) + amount);
                left as f64 / limit as f64
            }
        }
    }

    /// Fraction of the limit used at `now` (0 when unlimited).
    pub fn utilisation(&self, now: Duration) -> f64 {
        match self.limit {
            None => 0.0,
            Some(limit) => self.used_at(now) as f64 / limit as f64,
        }
    }

    fn roll(&mut self, now: Duration) {
        if now >= self.end {
            self.used = 0;
            self.end = now + self.length;
        }
    }

    /// Charges `amount` at `now`; returns the window's end, which identifies it for [`Self::correct`].
    pub fn charge(&mut self, now: Duration, amount: u64) -> Duration {
        self.roll(now);
        self.used += amount;
        self.end
    }

    /// Replaces an estimate charged in the window ending at `window_end` by the real amount.
    /// A window that has rolled over since is left alone: the estimate died with it.
    pub fn correct(&mut self, window_end: Duration, estimated: u64, actual: u64) {
        if self.end == window_end {
            self.used = (self.used + actual).saturating_sub(estimated);
        }
    }

    /// Adopts what the provider reported: `remaining` units left, the window resetting in `reset`.
    pub fn observe(&mut self, now: Duration, remaining: Option<u64>, reset: Option<Duration>) {
        let Some(limit) = self.limit else { return };
        if remaining.is_none() && reset.is_none() {
            return;
        }
        self.roll(now);
        if let Some(remaining) = remaining {
            self.used = limit.saturating_sub(remaining.min(limit));
        }
        if let Some(reset) = reset {
            self.end = now + reset.min(self.length);
        }
    }

    /// Marks the window exhausted until `until` (a 429 proved there is nothing left).
    pub fn exhaust_until(&mut self, now: Duration, until: Duration) {
        if let Some(limit) = self.limit {
            self.roll(now);
            self.used = self.used.max(limit);
            self.end = self.end.max(until);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: Duration = Duration::from_secs(60);

    fn s(secs: u64) -> Duration {
        Duration::from_secs(secs)
    }

    #[test]
    fn unlimited_always_fits() {
        let w = Window::new(None, MIN);
        assert!(w.fits(s(0), u64::MAX / 2));
        assert_eq!(w.headroom_after(s(0), 10), 1.0);
    }

    #[test]
    fn fills_then_resets_at_window_end() {
        let mut w = Window::new(Some(2), MIN);
        w.charge(s(1), 1);
        w.charge(s(2), 1);
        assert!(!w.fits(s(3), 1));
        assert_eq!(w.available_at(s(3), 1), Some(s(61)));
        assert!(w.fits(s(61), 1));
        assert_eq!(
            w.available_at(s(3), 3),
            None,
            "more than the limit never fits"
        );
    }

    #[test]
    fn correction_applies_only_to_the_same_window() {
        let mut w = Window::new(Some(1000), MIN);
        let end = w.charge(s(0), 500);
        w.correct(end, 500, 120);
        assert_eq!(w.used_at(s(1)), 120);
        let old = w.charge(s(10), 100);
        w.charge(s(70), 50);
        w.correct(old, 100, 900);
        assert_eq!(w.used_at(s(71)), 50);
    }

    #[test]
    fn headers_override_local_count() {
        let mut w = Window::new(Some(100), MIN);
        w.charge(s(0), 10);
        w.observe(s(1), Some(5), Some(s(20)));
        assert_eq!(w.used_at(s(2)), 95);
        assert!(w.fits(s(21), 100));
    }

    #[test]
    fn exhausted_until_retry_after() {
        let mut w = Window::new(Some(100), MIN);
        w.exhaust_until(s(0), s(90));
        assert!(!w.fits(s(60), 1));
        assert!(w.fits(s(90), 1));
    }
}
