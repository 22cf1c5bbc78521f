//! Everything the engine knows about one deployment right now.

use std::time::Duration;

use crate::config::Deployment;
use crate::fastmath::min;
use crate::health::{Breaker, DecayedRate};
use crate::latency::Ewma;
use crate::limits::Window;

const MINUTE: Duration = Duration::from_secs(60);
const DAY: Duration = Duration::from_secs(86_400);

/// Live state of one deployment, read by the strategies.
#[derive(Debug, Clone, PartialEq)]
pub struct DeploymentState {
    /// Attempts sent and not yet finished.
    pub in_flight: u32,
    /// Requests per minute.
    pub rpm: Window,
    /// Tokens per minute.
    pub tpm: Window,
    /// Requests per day.
    pub rpd: Window,
    /// No attempts before this time (set by a 429).
    pub cooldown_until: Duration,
    /// Circuit breaker.
    pub breaker: Breaker,
    /// Plain latency EWMA (least-latency).
    pub latency: Ewma,
    /// Peak-sensitive latency EWMA (peak-ewma, adaptive).
    pub peak_latency: Ewma,
    /// Decaying error rate over health failures.
    pub errors: DecayedRate,
    /// Plain EWMA of time to first token (adaptive's yardstick for silence).
    pub ttft: Ewma,
    /// Attempts sent that have not yet shown a first byte (or any answer).
    pub awaiting_first_byte: u32,
    /// When the deployment last showed a first byte or answered anything.
    pub last_first_byte: Duration,
    /// When the awaiting count last rose from zero.
    pub awaiting_since: Duration,
    /// Out of rotation: the provider refused the key (401/402/403). Only a new config brings
    /// it back.
    pub disabled: bool,
}

/// Why a deployment cannot take a request right now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Blocked {
    /// Cooling down after a 429.
    Cooldown,
    /// Circuit breaker open (or its probe is out).
    Breaker,
    /// A rate-limit window has no room for this request.
    NoHeadroom,
    /// Out of rotation after its key was refused.
    Disabled,
}

impl DeploymentState {
    /// Fresh state for a configured deployment.
    pub fn new(d: &Deployment) -> DeploymentState {
        DeploymentState {
            in_flight: 0,
            rpm: Window::new(d.limits.rpm, MINUTE),
            tpm: Window::new(d.limits.tpm, MINUTE),
            rpd: Window::new(d.limits.rpd, DAY),
            cooldown_until: Duration::ZERO,
            breaker: Breaker::default(),
            latency: Ewma::plain(),
            peak_latency: Ewma::peak(),
            errors: DecayedRate::default(),
            ttft: Ewma::plain(),
            awaiting_first_byte: 0,
            last_first_byte: Duration::ZERO,
            awaiting_since: Duration::ZERO,
            disabled: false,
        }
    }

    /// How long the deployment has had attempts waiting for a first byte without showing one
    /// (or any answer): zero when nothing waits or bytes keep coming; grows without bound when
    /// it accepts requests and never answers.
    pub fn silence(&self, now: Duration) -> Duration {
        if self.awaiting_first_byte == 0 {
            return Duration::ZERO;
        }
        now.saturating_sub(self.last_first_byte.max(self.awaiting_since))
    }

    /// An attempt was sent.
    pub(crate) fn on_send(&mut self, now: Duration) {
        if self.awaiting_first_byte == 0 {
            self.awaiting_since = now;
        }
        self.awaiting_first_byte += 1;
        self.in_flight += 1;
    }

    /// An attempt showed its first byte, or ended (`answered`: the deployment said something).
    pub(crate) fn on_first_byte(&mut self, now: Duration, answered: bool) {
        self.awaiting_first_byte = self.awaiting_first_byte.saturating_sub(1);
        if answered {
            self.last_first_byte = now;
        }
    }

    /// Whether a request of `tokens` may be sent at `now`, and if not, why.
    pub fn check(&self, now: Duration, tokens: u64) -> Result<(), Blocked> {
        self.check_at(now, now.as_secs_f64(), tokens as f64)
    }

    /// [`DeploymentState::check`] with `now` also in seconds and `tokens` as a float, converted
    /// once per decision rather than once per deployment.
    #[inline(always)]
    pub(crate) fn check_at(
        &self,
        now: Duration,
        now_secs: f64,
        tokens: f64,
    ) -> Result<(), Blocked> {
        if now < self.cooldown_until {
            return Err(Blocked::Cooldown);
        }
        if self.disabled {
            return Err(Blocked::Disabled);
        }
        // `&`, not `&&`: all three are cheap, and a branch per window costs more.
        if !(self.rpm.fits_at_secs(now_secs, 1.0)
            & self.tpm.fits_at_secs(now_secs, tokens)
            & self.rpd.fits_at_secs(now_secs, 1.0))
        {
            return Err(Blocked::NoHeadroom);
        }
        if !self.breaker.allows(now) {
            return Err(Blocked::Breaker);
        }
        Ok(())
    }

    /// The headroom after a request of `tokens` ([`DeploymentState::headroom_after_at`]) if
    /// it may be sent at `now` ([`DeploymentState::check_at`] is `Ok`), else `None`: both
    /// with each window refilled once.
    #[inline(always)]
    pub(crate) fn usable_headroom_at(
        &self,
        now: Duration,
        now_secs: f64,
        tokens: f64,
    ) -> Option<f64> {
        if now < self.cooldown_until || self.disabled {
            return None;
        }
        let (rpm_fits, rpm) = self.rpm.fit_and_headroom_at_secs(now_secs, 1.0);
        let (tpm_fits, tpm) = self.tpm.fit_and_headroom_at_secs(now_secs, tokens);
        let (rpd_fits, rpd) = self.rpd.fit_and_headroom_at_secs(now_secs, 1.0);
        if !(rpm_fits & tpm_fits & rpd_fits) || !self.breaker.allows(now) {
            return None;
        }
        Some(min(min(rpm, tpm), rpd))
    }

    /// Earliest time a request of `tokens` could be sent, or `None` if it never fits
    /// (more tokens than the limit) or depends on a probe still out.
    pub fn available_at(&self, now: Duration, tokens: u64) -> Option<Duration> {
        if self.disabled {
            return None;
        }
        let mut at = self.cooldown_until.max(now);
        for t in [
            self.rpm.available_at(now, 1)?,
            self.tpm.available_at(now, tokens)?,
            self.rpd.available_at(now, 1)?,
            self.breaker.allowed_at(now)?,
        ] {
            at = at.max(t);
        }
        Some(at)
    }

    /// Smallest remaining fraction over all limits after charging a request of `tokens` at
    /// `now_secs` (1 = no limits).
    #[inline(always)]
    pub(crate) fn headroom_after_at(&self, now_secs: f64, tokens: f64) -> f64 {
        // Each fraction is a number (never NaN), so the one-instruction `min` is exact.
        min(
            min(
                self.rpm.headroom_after_secs(now_secs, 1.0),
                self.tpm.headroom_after_secs(now_secs, tokens),
            ),
            self.rpd.headroom_after_secs(now_secs, 1.0),
        )
    }
}
