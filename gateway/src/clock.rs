//! The gateway's clock: engine time is real time since start × `speed` (`serve --speed N`), so a
//! gateway in front of providers running N times faster (`mock-provider --speed N`) behaves like
//! the modelled world N times faster without touching its config. Every duration of the config
//! and of the engine (windows, cooldowns, backoff, breaker, latency decay, deadlines, timeouts)
//! is in modelled time; this module converts at the boundary with the real world:
//!
//! * real → engine (× speed): the clock itself, measured latencies and times to first byte, a
//!   provider's `retry-after` and `x-ratelimit-reset-*`; a provider's `x-ratelimit-limit-*` is
//!   a rate per real minute, so it is divided by the speed (per modelled minute);
//! * engine → real (÷ speed): the timers the gateway sets (waits until an engine time, the
//!   request's deadline, `first_byte_timeout`, `total_timeout`) and the `retry-after` the
//!   gateway answers its clients.
//!
//! At speed 1 every conversion is the identity, exactly.

use std::time::{Duration, Instant};

use engine::{LimitHeaders, Outcome};

/// Slowest accepted speed (`--speed 0.001`: a modelled second lasts 1,000 real seconds).
pub const MIN_SPEED: f64 = 0.001;
/// Fastest accepted speed (`--speed 10000`: a modelled minute lasts 6 real milliseconds).
pub const MAX_SPEED: f64 = 10_000.0;

/// Whether `speed` is accepted (a finite number from [`MIN_SPEED`] to [`MAX_SPEED`]).
pub fn speed_ok(speed: f64) -> bool {
    speed.is_finite() && (MIN_SPEED..=MAX_SPEED).contains(&speed)
}

/// Real time since start × speed.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Clock {
    epoch: Instant,
    speed: f64,
}

/// `d × factor`, saturating (never panics; a factor of exactly 1 is the identity).
fn times(d: Duration, factor: f64) -> Duration {
    if factor == 1.0 {
        return d;
    }
    Duration::try_from_secs_f64(d.as_secs_f64() * factor).unwrap_or(Duration::MAX)
}

impl Clock {
    /// A clock starting now; `speed` is checked by the caller ([`speed_ok`]).
    pub fn start(speed: f64) -> Clock {
        Clock {
            epoch: Instant::now(),
            speed,
        }
    }

    /// Engine time now.
    pub fn now(&self) -> Duration {
        self.since(Instant::now())
    }

    /// Engine time at the real instant `at` (zero before the start).
    pub fn since(&self, at: Instant) -> Duration {
        self.engine(at.saturating_duration_since(self.epoch))
    }

    /// A real duration in engine time.
    pub fn engine(&self, real: Duration) -> Duration {
        times(real, self.speed)
    }

    /// An engine duration in real time.
    pub fn real(&self, engine: Duration) -> Duration {
        times(engine, 1.0 / self.speed)
    }

    /// The real instant at engine time `t` (far in the future when that does not fit).
    pub fn instant(&self, t: Duration) -> Instant {
        crate::attempt::later(self.epoch, self.real(t))
    }

    /// Whole real seconds, at least 1, until engine time `t` from engine time `now` (a
    /// `retry-after` for the gateway's clients).
    pub fn retry_after_secs(&self, t: Duration, now: Duration) -> u64 {
        (self.real(t.saturating_sub(now)).as_secs_f64().ceil() as u64).max(1)
    }

    /// What a provider said, in engine time (see the module's comment).
    pub fn outcome(&self, outcome: &Outcome) -> Outcome {
        match *outcome {
            Outcome::Success {
                ttft,
                input_tokens,
                output_tokens,
                headers,
            } => Outcome::Success {
                ttft: self.engine(ttft),
                input_tokens,
                output_tokens,
                headers: self.headers(headers),
            },
            Outcome::Failure {
                kind,
                status,
                retry_after,
                headers,
            } => Outcome::Failure {
                kind,
                status,
                retry_after: retry_after.map(|d| self.engine(d)),
                headers: self.headers(headers),
            },
        }
    }

    /// Rate-limit headers in engine time: limits per modelled minute, resets in modelled time;
    /// `remaining` counts are counts and stay.
    pub fn headers(&self, h: LimitHeaders) -> LimitHeaders {
        let per_minute = |v: u64| {
            if self.speed == 1.0 {
                v
            } else {
                // Saturating float → integer conversion.
                (v as f64 / self.speed).round() as u64
            }
        };
        LimitHeaders {
            limit_requests: h.limit_requests.map(per_minute),
            limit_tokens: h.limit_tokens.map(per_minute),
            remaining_requests: h.remaining_requests,
            remaining_tokens: h.remaining_tokens,
            reset_requests: h.reset_requests.map(|d| self.engine(d)),
            reset_tokens: h.reset_tokens.map(|d| self.engine(d)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use engine::FailureKind;

    fn ms(v: u64) -> Duration {
        Duration::from_millis(v)
    }

    #[test]
    fn speed_one_is_the_identity() {
        let c = Clock::start(1.0);
        let d = Duration::new(12_345, 678_901_234);
        assert_eq!((c.engine(d), c.real(d)), (d, d));
        let h = LimitHeaders {
            limit_requests: Some(600),
            reset_requests: Some(ms(1500)),
            ..LimitHeaders::default()
        };
        assert_eq!(c.headers(h), h);
    }

    #[test]
    fn ten_times_faster() {
        let c = Clock::start(10.0);
        assert_eq!(c.engine(ms(150)), ms(1500));
        assert_eq!(c.real(ms(60_000)), ms(6000));
        assert_eq!(c.retry_after_secs(ms(25_000), ms(5000)), 2);
        assert_eq!(c.retry_after_secs(ms(5000), ms(5000)), 1);
        // A mock 10× faster says 6,000 requests per real minute for a modelled 600 rpm.
        let h = LimitHeaders {
            limit_requests: Some(6000),
            limit_tokens: Some(1_000_005),
            remaining_requests: Some(7),
            reset_tokens: Some(ms(250)),
            ..LimitHeaders::default()
        };
        let e = c.headers(h);
        assert_eq!(
            (e.limit_requests, e.limit_tokens, e.remaining_requests),
            (Some(600), Some(100_001), Some(7))
        );
        assert_eq!(e.reset_tokens, Some(ms(2500)));
        let o = c.outcome(&Outcome::Failure {
            kind: FailureKind::RateLimited,
            status: Some(429),
            retry_after: Some(ms(300)),
            headers: h,
        });
        assert!(matches!(o, Outcome::Failure { retry_after: Some(d), .. } if d == ms(3000)));
    }

    #[test]
    fn extremes_saturate() {
        let c = Clock::start(MAX_SPEED);
        assert_eq!(c.engine(Duration::MAX), Duration::MAX);
        let slow = Clock::start(MIN_SPEED);
        assert_eq!(slow.real(Duration::MAX), Duration::MAX);
        let _ = slow.instant(Duration::MAX);
        assert!(speed_ok(1.0) && speed_ok(MIN_SPEED) && speed_ok(MAX_SPEED));
        for bad in [0.0, -1.0, f64::NAN, f64::INFINITY, 0.0009, 10_001.0] {
            assert!(!speed_ok(bad), "{bad}");
        }
    }
}
