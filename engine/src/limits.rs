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

use crate::fastmath::{max, min};

/// A refilling budget of units (requests or tokens) against an optional limit.
///
/// In a fleet of replicas (see [`crate::cluster`]) the budget is this replica's *share*: it
/// holds at most limit × share and refills at that fraction of the rate, and beside it the
/// window keeps the replica's view of the whole fleet's budget and the use not yet reported.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Window {
    limit: Option<u64>,
    /// The share's ceiling: limit × share (the limit alone), infinite when unlimited (as is
    /// `level` then), so a fit check needs neither a branch nor an integer conversion.
    cap: f64,
    /// The limit as a float (infinite when unlimited).
    limit_f: f64,
    /// 1 ÷ cap (0 when unlimited), so headroom fractions need no division.
    inv_limit: f64,
    length: f64,
    /// limit ÷ length: the whole fleet's refill rate.
    full_rate: f64,
    base_rate: f64,
    rate: f64,
    level: f64,
    updated: f64,
    /// This replica's fraction of the fleet's budget (1 alone).
    share: f64,
    /// Units charged (net of corrections) since the last [`Window::export_used`].
    pending: f64,
    /// The fleet's budget as this replica last learned it.
    fleet_level: f64,
    fleet_updated: f64,
    /// The provider's last word on this window, not yet exported to the fleet.
    observed: Option<Observation>,
}

/// What a provider's rate-limit headers said about a window, and when.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Observation {
    /// When the headers arrived (driver time).
    pub at: Duration,
    /// The limit the provider reported, if it did.
    pub limit: Option<u64>,
    /// Units the provider said were left.
    pub remaining: u64,
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
            limit_f: cap,
            inv_limit: limit.map_or(0.0, |l| 1.0 / l as f64),
            length: length.as_secs_f64().max(1e-9),
            full_rate: rate,
            base_rate: rate,
            rate,
            level: cap,
            updated: 0.0,
            share: 1.0,
            pending: 0.0,
            fleet_level: cap,
            fleet_updated: 0.0,
            observed: None,
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

    #[inline(always)]
    fn available_at_secs(&self, now: f64) -> f64 {
        // Unlimited: an infinite level at rate 0 stays infinite.
        min(
            self.level + max(now - self.updated, 0.0) * self.rate,
            self.cap,
        )
    }

    fn settle(&mut self, now: Duration) {
        if self.limit.is_some() && now.as_secs_f64() > self.updated {
            self.level = self.available(now);
            self.updated = now.as_secs_f64();
            if self.level >= self.cap {
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
    #[inline(always)]
    pub fn fits_at_secs(&self, now: f64, amount: f64) -> bool {
        // A share smaller than one request still lets it through once full (the overdraft is
        // bounded by that request); more than the whole limit never fits.
        let need = if amount > self.cap && amount <= self.limit_f {
            self.cap
        } else {
            amount
        };
        // A hair of tolerance so that the time `available_at` promised really fits.
        self.available_at_secs(now) >= need - 1e-6
    }

    /// [`Window::fits_at_secs`] and [`Window::headroom_after_secs`] at once, the budget
    /// refilled only once.
    #[inline(always)]
    pub(crate) fn fit_and_headroom_at_secs(&self, now: f64, amount: f64) -> (bool, f64) {
        let available = self.available_at_secs(now);
        let need = if amount > self.cap && amount <= self.limit_f {
            self.cap
        } else {
            amount
        };
        let headroom = match self.limit {
            None => 1.0,
            Some(_) => max((available - amount) * self.inv_limit, 0.0),
        };
        (available >= need - 1e-6, headroom)
    }

    /// Earliest time `amount` units fit, or `None` if never (more than the limit).
    pub fn available_at(&self, now: Duration, amount: u64) -> Option<Duration> {
        let Some(limit) = self.limit else {
            return Some(now);
        };
        if amount > limit {
            return None;
        }
        let missing = (amount as f64).min(self.cap) - self.available(now);
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
    #[inline(always)]
    pub fn headroom_after_secs(&self, now: f64, amount: f64) -> f64 {
        match self.limit {
            None => 1.0,
            Some(_) => max((self.available_at_secs(now) - amount) * self.inv_limit, 0.0),
        }
    }

    /// Fraction of the limit in use at `now` (0 when unlimited).
    pub fn utilisation(&self, now: Duration) -> f64 {
        match self.limit {
            None => 0.0,
            Some(_) => (1.0 - self.available(now) * self.inv_limit).clamp(0.0, 1.0),
        }
    }

    /// Charges `amount` at `now`.
    pub fn charge(&mut self, now: Duration, amount: u64) {
        if self.limit.is_some() {
            self.settle(now);
            self.level -= amount as f64;
        }
        self.pending += amount as f64;
    }

    /// Replaces an estimate charged earlier by the real amount (refunds or charges the difference).
    pub fn correct(&mut self, now: Duration, estimated: u64, actual: u64) {
        if self.limit.is_some() {
            self.settle(now);
            self.level = (self.level + estimated as f64 - actual as f64).min(self.cap);
        }
        self.pending += actual as f64 - estimated as f64;
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
        let (share, pending, observed) = (self.share, self.pending, self.observed);
        *self = Window {
            level,
            updated: now.as_secs_f64(),
            fleet_updated: now.as_secs_f64(),
            pending,
            observed,
            ..fresh
        };
        self.set_share(now, share);
    }

    /// Adopts what the provider reported: its own `limit` (which replaces a wrong or missing
    /// configured one), `remaining` units left, full again in `reset`. The provider counts the
    /// whole fleet: in a fleet this replica keeps its share of what is left.
    pub fn observe(
        &mut self,
        now: Duration,
        limit: Option<u64>,
        remaining: Option<u64>,
        reset: Option<Duration>,
    ) {
        self.learn_limit(now, limit);
        if self.limit.is_none() {
            return;
        }
        let Some(remaining) = remaining else { return };
        self.settle(now);
        self.observed = Some(Observation {
            at: now,
            limit,
            remaining,
        });
        // Still to be exported, the replica's own recent use is in `remaining` already.
        self.fleet_level = remaining as f64 + self.pending;
        self.fleet_updated = now.as_secs_f64();
        self.level = if self.share < 1.0 {
            (self.fleet_level * self.share - self.pending).min(self.cap)
        } else {
            (remaining as f64).min(self.cap)
        };
        self.rate = match reset {
            Some(r) if !r.is_zero() => {
                ((self.cap - self.level) / r.as_secs_f64()).max(self.base_rate)
            }
            _ => self.base_rate,
        };
    }

    fn learn_limit(&mut self, now: Duration, limit: Option<u64>) {
        if let Some(reported) = limit.filter(|&l| l > 0 && Some(l) != self.limit) {
            self.settle(now);
            if self.limit.is_none() {
                self.level = reported as f64;
                self.updated = now.as_secs_f64();
                self.fleet_level = reported as f64;
                self.fleet_updated = now.as_secs_f64();
            }
            self.limit = Some(reported);
            self.limit_f = reported as f64;
            self.full_rate = reported as f64 / self.length;
            self.fleet_level = self.fleet_level.min(self.limit_f);
            self.scale_to_share(now);
        }
    }

    /// This replica's fraction of the fleet's budget (1 alone).
    pub fn share(&self) -> f64 {
        self.share
    }

    /// Spends only `share` of the limit from now on (a fleet of 1 ÷ `share` replicas, or a
    /// replica cut off from it): the budget left is clamped to the smaller ceiling and the
    /// refill slows to that fraction.
    pub fn set_share(&mut self, now: Duration, share: f64) {
        let share = share.clamp(1e-6, 1.0);
        if share == self.share {
            return;
        }
        self.settle(now);
        self.share = share;
        self.scale_to_share(now);
    }

    /// The share's ceiling, headroom scale and refill from the limit in force (nothing when
    /// unlimited); the budget left is clamped to the ceiling. Called settled at `now`.
    fn scale_to_share(&mut self, now: Duration) {
        if self.limit.is_none() {
            return;
        }
        self.cap = self.limit_f * self.share;
        self.inv_limit = 1.0 / self.cap;
        self.base_rate = self.full_rate * self.share;
        self.rate = self.base_rate;
        self.level = self.level.min(self.cap);
        self.updated = now.as_secs_f64();
    }

    fn settle_fleet(&mut self, now: Duration) {
        let now = now.as_secs_f64();
        if self.limit.is_some() && now > self.fleet_updated {
            self.fleet_level =
                (self.fleet_level + (now - self.fleet_updated) * self.full_rate).min(self.limit_f);
            self.fleet_updated = now;
        }
    }

    /// The fleet's budget left at `now` as this replica knows it (its own use counted, the
    /// others' as of the last exchange).
    pub fn fleet_available(&self, now: Duration) -> f64 {
        let dt = (now.as_secs_f64() - self.fleet_updated).max(0.0);
        let unreported = if self.limit.is_some() {
            self.pending
        } else {
            0.0
        };
        (self.fleet_level + dt * self.full_rate).min(self.limit_f) - unreported
    }

    /// How much of the fleet's budget is in use as this replica sees it (0 when unlimited).
    pub fn fleet_used(&self, now: Duration) -> f64 {
        match self.limit {
            None => 0.0,
            Some(_) => (self.limit_f - self.fleet_available(now)).max(0.0),
        }
    }

    /// Units used since the last call (net of corrections), for the fleet; they move into
    /// this replica's view of the fleet's budget. At most the share's ceiling: use older than
    /// that (piled up while the store was out of reach) has refilled since.
    pub fn export_used(&mut self, now: Duration) -> f64 {
        let used = std::mem::take(&mut self.pending).min(self.cap);
        if self.limit.is_some() {
            self.settle_fleet(now);
            self.fleet_level -= used;
        }
        used
    }

    /// The provider's word not yet exported (see [`Window::observe`]).
    pub fn take_observation(&mut self) -> Option<Observation> {
        self.observed.take()
    }

    /// Another replica saw the provider's headers: a limit it reported is learned here too.
    /// What it said was left is not adopted: that replica's use reaches this one as its
    /// reported use, and counting both would count that use twice; this replica's own
    /// answers carry the provider's count often enough.
    pub fn observe_fleet(&mut self, now: Duration, seen: Observation) {
        self.learn_limit(now, seen.limit);
    }

    /// An exchange with the fleet at `now`: the other replicas used `others` units since the
    /// last one, and the fleet now counts 1 ÷ `share` replicas. This replica's budget becomes
    /// its share of the fleet's headroom, less what it used and has not reported yet.
    pub fn import(&mut self, now: Duration, others: f64, share: f64) {
        self.set_share(now, share);
        if self.limit.is_none() {
            return;
        }
        self.settle_fleet(now);
        self.fleet_level -= others;
        self.level = (self.fleet_level.max(0.0) * self.share - self.pending).min(self.cap);
        self.updated = now.as_secs_f64();
        self.rate = self.base_rate;
    }
}

#[cfg(test)]
mod tests;
