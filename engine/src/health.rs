//! Health tracking per deployment: a decaying error rate and a circuit breaker.
//!
//! The breaker follows the classic closed → open → half-open cycle (Nygard, *Release It!*):
//! `failure_threshold` consecutive health failures open it for `open_for`, doubling on every
//! re-open up to `max_open_for` (as Envoy's outlier ejection does); once that time has passed a
//! single probe request is let through, and its result closes or re-opens the breaker.

use std::time::Duration;

use crate::config::HealthPolicy;

/// Error rate over a sliding horizon, as exponentially decayed counts (time constant τ).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct DecayedRate {
    good: f64,
    bad: f64,
    /// Time of the last decay, in seconds.
    last: f64,
}

impl DecayedRate {
    fn decay_at(&mut self, now: f64, inv_tau: f64) {
        let dt = now - self.last;
        if dt > 0.0 {
            let k = crate::latency::decay(dt * inv_tau);
            self.good *= k;
            self.bad *= k;
            self.last = now;
        }
    }

    /// Records one result at `now`.
    pub fn record(&mut self, now: Duration, tau: Duration, failed: bool) {
        self.record_at(now.as_secs_f64(), 1.0 / tau.as_secs_f64(), failed);
    }

    /// [`DecayedRate::record`] with `now` in seconds and 1 ÷ τ precomputed.
    pub fn record_at(&mut self, now_secs: f64, inv_tau: f64, failed: bool) {
        self.decay_at(now_secs, inv_tau);
        if failed {
            self.bad += 1.0;
        } else {
            self.good += 1.0;
        }
    }

    /// Failure fraction at `now_secs` (time constant 1 ÷ `inv_tau`); one phantom success keeps
    /// a single early failure from reading 100 %.
    pub fn rate_at(&self, now_secs: f64, inv_tau: f64) -> f64 {
        if self.bad == 0.0 {
            return 0.0;
        }
        let mut copy = *self;
        copy.decay_at(now_secs, inv_tau);
        copy.bad / (copy.good + copy.bad + 1.0)
    }
}

/// Circuit breaker state.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Breaker {
    consecutive: u32,
    opens: u32,
    open_until: Option<Duration>,
    probing: bool,
}

impl Breaker {
    /// Whether a request may be sent at `now` (closed, or open-expired with no probe out).
    pub fn allows(&self, now: Duration) -> bool {
        match self.open_until {
            None => true,
            Some(until) => now >= until && !self.probing,
        }
    }

    /// Whether the breaker is open (or half-open) at all.
    pub fn is_open(&self) -> bool {
        self.open_until.is_some()
    }

    /// When the breaker will next allow a request; `None` while a probe is out.
    pub fn allowed_at(&self, now: Duration) -> Option<Duration> {
        match self.open_until {
            None => Some(now),
            Some(_) if self.probing => None,
            Some(until) => Some(until.max(now)),
        }
    }

    /// Until when the breaker is open, if it is (half-open included).
    pub fn open_until(&self) -> Option<Duration> {
        self.open_until
    }

    /// Another replica's breaker opened until `until`: this one stays shut as long (if it is
    /// not already open longer), without counting an opening of its own. A probe of its own
    /// that is out keeps its result.
    pub fn open_from_fleet(&mut self, now: Duration, until: Duration) {
        if until > now && self.open_until.is_none_or(|u| u < until) && !self.probing {
            self.open_until = Some(until);
        }
    }

    /// A request is being sent; returns true when it is the half-open probe (the breaker was open).
    pub fn on_send(&mut self) -> bool {
        if self.open_until.is_some() {
            self.probing = true;
            return true;
        }
        false
    }

    /// A success closes the breaker and forgets past ejections.
    pub fn on_success(&mut self) {
        *self = Breaker::default();
    }

    /// A health failure counts towards opening; a failed probe re-opens for longer.
    /// Returns true when this failure opened the breaker.
    pub fn on_failure(&mut self, now: Duration, policy: &HealthPolicy) -> bool {
        self.consecutive = self.consecutive.saturating_add(1);
        if self.probing
            || (self.open_until.is_none() && self.consecutive >= policy.failure_threshold)
        {
            self.opens = self.opens.saturating_add(1);
            let factor = 1u32 << (self.opens - 1).min(16);
            let open_for = policy
                .open_for
                .saturating_mul(factor)
                .min(policy.max_open_for);
            self.open_until = Some(now + open_for);
            self.probing = false;
            return true;
        }
        false
    }

    /// A result that says nothing about health (429, client error, cancel) of the probe ends it,
    /// so another probe may go; the same result of an older attempt changes nothing.
    pub fn on_neutral(&mut self, was_probe: bool) {
        if was_probe {
            self.probing = false;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> HealthPolicy {
        HealthPolicy {
            cooldown: Duration::from_secs(5),
            max_cooldown: Duration::from_secs(60),
            failure_threshold: 3,
            open_for: Duration::from_secs(10),
            max_open_for: Duration::from_secs(25),
            error_window: Duration::from_secs(60),
        }
    }

    fn s(secs: u64) -> Duration {
        Duration::from_secs(secs)
    }

    #[test]
    fn opens_after_threshold_and_probes_once() {
        let p = policy();
        let mut b = Breaker::default();
        assert!(!b.on_failure(s(0), &p));
        assert!(!b.on_failure(s(0), &p));
        assert!(b.on_failure(s(1), &p));
        assert!(!b.allows(s(10)));
        assert!(b.allows(s(11)));
        assert!(b.on_send(), "the first send after open_for is the probe");
        assert!(!b.allows(s(12)), "only one probe at a time");
        b.on_neutral(false);
        assert!(
            !b.allows(s(12)),
            "an older attempt's 429 does not end the probe"
        );
        assert_eq!(b.allowed_at(s(12)), None);
        assert!(b.on_failure(s(12), &p), "a failed probe re-opens");
        assert_eq!(b.allowed_at(s(13)), Some(s(32)), "open time doubles");
        b.on_send();
        b.on_failure(s(32), &p);
        assert_eq!(b.allowed_at(s(33)), Some(s(57)), "capped at max_open_for");
        b.on_send();
        b.on_success();
        assert!(b.allows(s(57)));
        assert!(!b.is_open());
    }

    #[test]
    fn success_resets_the_consecutive_count() {
        let p = policy();
        let mut b = Breaker::default();
        b.on_failure(s(0), &p);
        b.on_failure(s(0), &p);
        b.on_success();
        assert!(!b.on_failure(s(0), &p));
    }

    #[test]
    fn error_rate_decays() {
        let tau = s(10);
        let mut r = DecayedRate::default();
        for _ in 0..99 {
            r.record(s(0), tau, true);
        }
        let rate = |now: Duration| r.rate_at(now.as_secs_f64(), 1.0 / tau.as_secs_f64());
        assert!(rate(s(0)) > 0.98);
        assert!(rate(s(100)) < 0.01, "{}", rate(s(100)));
    }
}
