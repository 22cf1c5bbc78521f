//! Local rate-limit accounting, one continuously refilled budget per limit (requests/min,
//! tokens/min, requests/day): charged at start with an estimate, refunded at finish with the
//! real usage, and overwritten by whatever the provider's headers report.
//!
//! A budget holds at most the limit and refills at limit ÷ window (a token bucket), which is how
//! providers describe their own enforcement; a per-minute counter that resets on the minute
//! would believe a fresh minute brings a fresh budget and burst into 429s. Counting an estimate
//! at start is what keeps concurrent requests from overshooting a tokens-per-minute limit
//! (counting only at the end lets every in-flight request through).
//!
//! Provider headers say "`remaining` left, full again in `reset`": the budget adopts `remaining`
//! and refills at whichever is faster, its own rate or (limit − remaining) ÷ reset, so a
//! provider with a fixed window (everything back at once at reset) is followed too.

use std::time::Duration;

/// A refilling budget of units (requests or tokens) against an optional limit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Window {
    limit: Option<u64>,
    /// The limit as a float; infinite when unlimited (as is `level` then), so a fit check
    /// needs neither a branch nor an integer conversion.
    cap: f64,
    /// 1 ÷ limit (0 when unlimited), so headroom fractions need no division.
    inv_limit: f64,
    length: f64,
    base_rate: f64,
    rate: f64,
    level: f64,
    updated: f64,
}

impl Window {
    /// A full budget of `limit` per `length` (`None` = unlimited).
    pub fn new(limit: Option<u64>, length: Duration) -> Window {
        let l = limit.unwrap_or(0) as f64;
        let rate = l / length.as_secs_f64().max(1e-9);
        let cap = limit.map_or(f64::INFINITY, |l| l as f64);
        Window {
            limit,
            cap,
            inv_limit: limit.map_or(0.0, |l| 1.0 / l as f64),
            length: length.as_secs_f64().max(1e-9),
            base_rate: rate,
            rate,
            level: cap,
            updated: 0.0,
        }
    }

    /// The configured limit.
    pub fn limit(&self) -> Option<u64> {
        self.limit
    }

    /// Units available at `now`.
    pub fn available(&self, now: Duration) -> f64 {
        self.available_at_secs(now.as_secs_f64())
    }

    fn available_at_secs(&self, now: f64) -> f64 {
        // Unlimited: an infinite level at rate 0 stays infinite.
        (self.level + (now - self.updated).max(0.0) * self.rate).min(self.cap)
    }

    fn settle(&mut self, now: Duration) {
        if self.limit.is_some() && now.as_secs_f64() > self.updated {
            self.level = self.available(now);
            self.updated = now.as_secs_f64();
            if self.level >= self.limit.unwrap_or(0) as f64 {
                self.rate = self.base_rate;
            }
        }
    }

    /// Whether `amount` more units fit at `now`.
    pub fn fits(&self, now: Duration, amount: u64) -> bool {
        self.fits_at_secs(now.as_secs_f64(), amount as f64)
    }

    /// [`Window::fits`] with `now` in seconds and `amount` as a float (the engine checks many
    /// windows at once).
    pub fn fits_at_secs(&self, now: f64, amount: f64) -> bool {
        // A hair of tolerance so that the time `available_at` promised really fits.
        self.available_at_secs(now) >= amount - 1e-6
    }

    /// Earliest time `amount` units fit, or `None` if never (more than the limit).
    pub fn available_at(&self, now: Duration, amount: u64) -> Option<Duration> {
        let Some(limit) = self.limit else {
            return Some(now);
        };
        if amount > limit {
            return None;
        }
        let missing = amount as f64 - self.available(now);
        if missing <= 0.0 {
            return Some(now);
        }
        // Rounded up to the next nanosecond: a wait must never end just short of the budget.
        let nanos = (missing / self.rate.max(1e-12) * 1e9).ceil();
        Some(now + Duration::from_nanos(nanos.min(u64::MAX as f64) as u64))
    }

    /// Fraction of the limit left after charging `amount` at `now` (1 when unlimited).
    pub fn headroom_after(&self, now: Duration, amount: u64) -> f64 {
        match self.limit {
            None => 1.0,
            Some(_) => self.headroom_after_secs(now.as_secs_f64(), amount as f64),
        }
    }

    /// [`Window::headroom_after`] with `now` already in seconds.
    pub fn headroom_after_secs(&self, now: f64, amount: f64) -> f64 {
        match self.limit {
            None => 1.0,
            Some(_) => ((self.available_at_secs(now) - amount) * self.inv_limit).max(0.0),
        }
    }

    /// Fraction of the limit in use at `now` (0 when unlimited).
    pub fn utilisation(&self, now: Duration) -> f64 {
        match self.limit {
            None => 0.0,
            Some(l) => (1.0 - self.available(now) / l as f64).clamp(0.0, 1.0),
        }
    }

    /// Charges `amount` at `now`.
    pub fn charge(&mut self, now: Duration, amount: u64) {
        if self.limit.is_some() {
            self.settle(now);
            self.level -= amount as f64;
        }
    }

    /// Replaces an estimate charged earlier by the real amount (refunds or charges the difference).
    pub fn correct(&mut self, now: Duration, estimated: u64, actual: u64) {
        if let Some(l) = self.limit {
            self.settle(now);
            self.level = (self.level + estimated as f64 - actual as f64).min(l as f64);
        }
    }

    /// Replaces the configured limit (a reloaded config), keeping what has been used: the
    /// budget left is clamped to the new limit; a window that had no limit starts full.
    pub fn set_limit(&mut self, now: Duration, limit: Option<u64>) {
        if limit == self.limit {
            return;
        }
        self.settle(now);
        let was_unlimited = self.limit.is_none();
        let length = Duration::from_secs_f64(self.length);
        let fresh = Window::new(limit, length);
        let level = if was_unlimited || limit.is_none() {
            fresh.level
        } else {
            self.level.min(fresh.cap)
        };
        *self = Window {
            level,
            updated: now.as_secs_f64(),
            ..fresh
        };
    }

    /// Adopts what the provider reported: its own `limit` (which replaces a wrong or missing
    /// configured one), `remaining` units left, full again in `reset`.
    pub fn observe(
        &mut self,
        now: Duration,
        limit: Option<u64>,
        remaining: Option<u64>,
        reset: Option<Duration>,
    ) {
        if let Some(reported) = limit.filter(|&l| l > 0 && Some(l) != self.limit) {
            self.settle(now);
            if self.limit.is_none() {
                self.level = reported as f64;
                self.updated = now.as_secs_f64();
            }
            self.limit = Some(reported);
            self.cap = reported as f64;
            self.inv_limit = 1.0 / reported as f64;
            self.base_rate = reported as f64 / self.length;
            self.rate = self.base_rate;
            self.level = self.level.min(reported as f64);
        }
        let Some(limit) = self.limit else { return };
        let Some(remaining) = remaining else { return };
        self.settle(now);
        let l = limit as f64;
        self.level = (remaining as f64).min(l);
        self.rate = match reset {
            Some(r) if !r.is_zero() => ((l - self.level) / r.as_secs_f64()).max(self.base_rate),
            _ => self.base_rate,
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: Duration = Duration::from_secs(60);

    fn s(secs: f64) -> Duration {
        Duration::from_secs_f64(secs)
    }

    #[test]
    fn unlimited_always_fits() {
        let w = Window::new(None, MIN);
        assert!(w.fits(s(0.0), u64::MAX / 2));
        assert_eq!(w.headroom_after(s(0.0), 10), 1.0);
        assert_eq!(w.available_at(s(3.0), 1 << 40), Some(s(3.0)));
    }

    #[test]
    fn drains_then_refills_continuously() {
        let mut w = Window::new(Some(60), MIN);
        for _ in 0..60 {
            assert!(w.fits(s(0.0), 1));
            w.charge(s(0.0), 1);
        }
        assert!(!w.fits(s(0.5), 1));
        assert_eq!(w.available_at(s(0.5), 1), Some(s(1.0)));
        assert!(w.fits(s(1.0), 1));
        assert!(!w.fits(s(1.0), 2));
        assert_eq!(
            w.available_at(s(0.0), 61),
            None,
            "more than the limit never fits"
        );
        assert!((w.utilisation(s(30.0)) - 0.5).abs() < 1e-9);
    }

    #[test]
    fn correction_refunds_an_over_estimate() {
        let mut w = Window::new(Some(1000), MIN);
        w.charge(s(0.0), 500);
        w.correct(s(0.0), 500, 120);
        assert!((w.available(s(0.0)) - 880.0).abs() < 1e-9);
        w.correct(s(0.0), 0, 10_000);
        assert!(w.available(s(0.0)) < 0.0, "an under-estimate can overdraw");
        assert!(!w.fits(s(1.0), 1));
    }

    #[test]
    fn headers_override_the_local_count_and_reset_time() {
        let mut w = Window::new(Some(100), MIN);
        w.observe(s(0.0), None, Some(5), Some(s(10.0)));
        assert!((w.available(s(0.0)) - 5.0).abs() < 1e-9);
        assert!(
            (w.available(s(10.0)) - 100.0).abs() < 1e-9,
            "full again at the reported reset"
        );
        // Back at full, the budget returns to its own refill rate.
        w.charge(s(20.0), 100);
        assert!((w.available(s(50.0)) - 50.0).abs() < 1e-9);
    }

    #[test]
    fn a_reported_limit_replaces_a_wrong_or_missing_one() {
        let mut w = Window::new(Some(300), MIN);
        w.observe(s(0.0), Some(120), Some(60), Some(s(30.0)));
        assert_eq!(w.limit(), Some(120));
        assert!((w.headroom_after(s(0.0), 0) - 0.5).abs() < 1e-9);
        let mut unknown = Window::new(None, MIN);
        unknown.observe(s(0.0), Some(60), Some(0), Some(s(60.0)));
        assert!(
            !unknown.fits(s(0.5), 1),
            "learned from headers that nothing is left"
        );
        assert!(unknown.fits(s(1.0), 1));
    }

    #[test]
    fn a_new_limit_keeps_what_was_used() {
        let mut w = Window::new(Some(100), MIN);
        w.charge(s(0.0), 60);
        w.set_limit(s(0.0), Some(200));
        assert_eq!(w.limit(), Some(200));
        assert!((w.available(s(0.0)) - 40.0).abs() < 1e-9, "used stays used");
        assert!(
            (w.available(s(6.0)) - 60.0).abs() < 1e-9,
            "refills at the new rate"
        );
        w.set_limit(s(6.0), Some(30));
        assert!(
            (w.available(s(6.0)) - 30.0).abs() < 1e-9,
            "clamped to the new limit"
        );
        w.set_limit(s(6.0), None);
        assert!(w.fits(s(6.0), 1 << 40));
        w.set_limit(s(6.0), Some(10));
        assert!(
            (w.available(s(6.0)) - 10.0).abs() < 1e-9,
            "a new limit starts full"
        );
    }
}
