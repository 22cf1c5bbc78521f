//! A provider's true rate limits for one key: what actually answers 429, as opposed to what the
//! gateway's config believes.
//!
//! Three kinds of window, each named for what it does:
//! - `fixed`: resets on wall-clock boundaries (every minute on the minute); up to twice the
//!   limit can pass within one minute that straddles a boundary;
//! - `sliding`: never more than the limit within any window of its length (a log of what was
//!   admitted, each entry expiring one window later);
//! - `token-bucket`: replenishes continuously at limit ÷ window length up to a burst (the limit
//!   by default), which is how OpenAI describes its limits; after a quiet window it admits a
//!   full burst and the refill on top, so nearly twice the limit can pass in one window.

use std::collections::VecDeque;
use std::time::Duration;

use engine::LimitHeaders;

const MINUTE: f64 = 60.0;
const DAY: f64 = 86_400.0;

/// How a window resets.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum WindowKind {
    /// Resets to zero at each multiple of the window length.
    Fixed,
    /// Never more than the limit in any window of its length.
    Sliding,
    /// Replenishes continuously up to a burst of this many times the limit (1 = the limit), and
    /// at least one unit; a request larger than that burst is refused as too large.
    TokenBucket {
        /// Burst as a multiple of the limit.
        burst: f64,
    },
}

/// A token bucket's size: `burst` times the limit, but never less than one unit, so a bucket
/// whose burst rounds below one request still admits one request at a time instead of none.
fn bucket_size(limit: f64, burst: f64) -> f64 {
    (limit * burst).max(1.0)
}

#[derive(Debug, Clone)]
struct Meter {
    limit: Option<f64>,
    length: f64,
    kind: WindowKind,
    /// Fixed: units used in the current window. Token bucket: units available. Sliding: units
    /// admitted within the last window (the sum of `log`).
    level: f64,
    /// Fixed: index of the current window. Token bucket: time of the last refill (s).
    mark: f64,
    /// Sliding: (time admitted, units), oldest first, only those within the last window.
    log: VecDeque<(f64, f64)>,
}

/// The meter's verdict on one request.
struct Check {
    fits: bool,
    retry_after: f64,
}

impl Meter {
    fn new(limit: Option<u64>, length: f64, kind: WindowKind) -> Meter {
        Meter {
            limit: limit.map(|l| l as f64),
            length,
            kind,
            level: match (limit, kind) {
                (Some(l), WindowKind::TokenBucket { burst }) => bucket_size(l as f64, burst),
                _ => 0.0,
            },
            mark: 0.0,
            log: VecDeque::new(),
        }
    }

    fn advance(&mut self, now: f64, limit: f64) {
        match self.kind {
            WindowKind::Fixed => {
                let index = (now / self.length).floor();
                if index != self.mark {
                    self.mark = index;
                    self.level = 0.0;
                }
            }
            WindowKind::Sliding => {
                while let Some(&(at, amount)) = self.log.front() {
                    if at + self.length > now {
                        break;
                    }
                    self.log.pop_front();
                    self.level -= amount;
                }
                if self.log.is_empty() {
                    self.level = 0.0; // no drift from float sums
                }
            }
            WindowKind::TokenBucket { burst } => {
                let refill = (now - self.mark).max(0.0) * limit / self.length;
                self.level = (self.level + refill).min(bucket_size(limit, burst));
                self.mark = now;
            }
        }
    }

    /// Sliding: seconds from `now` until `amount` more fits under `limit`.
    fn sliding_wait(&self, now: f64, amount: f64, limit: f64) -> f64 {
        let mut used = self.level;
        for &(at, units) in &self.log {
            used -= units;
            if used + amount <= limit {
                return at + self.length - now;
            }
        }
        self.length
    }

    fn check(&mut self, now: f64, amount: f64, factor: f64) -> Check {
        let Some(limit) = self.limit.map(|l| (l * factor).max(1.0)) else {
            return Check {
                fits: true,
                retry_after: 0.0,
            };
        };
        self.advance(now, limit);
        let largest = match self.kind {
            WindowKind::TokenBucket { burst } => bucket_size(limit, burst),
            _ => limit,
        };
        if amount > largest {
            // Too large ever to fit (as OpenAI's "request too large"): a window's wait.
            return Check {
                fits: false,
                retry_after: self.length,
            };
        }
        match self.kind {
            WindowKind::Fixed if self.level + amount <= limit => Check {
                fits: true,
                retry_after: 0.0,
            },
            WindowKind::Fixed => Check {
                fits: false,
                retry_after: (self.mark + 1.0) * self.length - now,
            },
            WindowKind::Sliding if self.level + amount <= limit => Check {
                fits: true,
                retry_after: 0.0,
            },
            WindowKind::Sliding => Check {
                fits: false,
                retry_after: self.sliding_wait(now, amount, limit),
            },
            WindowKind::TokenBucket { .. } if self.level >= amount => Check {
                fits: true,
                retry_after: 0.0,
            },
            WindowKind::TokenBucket { .. } => Check {
                fits: false,
                retry_after: (amount - self.level) * self.length / limit,
            },
        }
    }

    fn charge(&mut self, now: f64, amount: f64) {
        if self.limit.is_some() {
            match self.kind {
                WindowKind::Fixed => self.level += amount,
                WindowKind::Sliding => {
                    self.level += amount;
                    self.log.push_back((now, amount));
                }
                WindowKind::TokenBucket { .. } => self.level -= amount,
            }
        }
    }

    /// (remaining, reset) as the provider would report them.
    fn report(&self, now: f64, factor: f64) -> (Option<u64>, Option<Duration>) {
        let Some(limit) = self.limit.map(|l| (l * factor).max(1.0)) else {
            return (None, None);
        };
        let (remaining, reset) = match self.kind {
            WindowKind::Fixed => (
                (limit - self.level).max(0.0),
                (self.mark + 1.0) * self.length - now,
            ),
            WindowKind::Sliding => (
                (limit - self.level).max(0.0),
                self.log
                    .front()
                    .map_or(0.0, |&(at, _)| at + self.length - now),
            ),
            WindowKind::TokenBucket { .. } => (
                self.level.max(0.0),
                (limit - self.level).max(0.0) * self.length / limit,
            ),
        };
        (
            Some(remaining.floor() as u64),
            Some(Duration::from_secs_f64(reset.max(0.0))),
        )
    }
}

/// True limits of one key: requests/min, tokens/min, requests/day.
#[derive(Debug, Clone)]
pub struct Limiter {
    rpm: Meter,
    tpm: Meter,
    rpd: Meter,
}

/// A 429: when to retry, and the headers that came with it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rejection {
    /// Seconds until the request would fit.
    pub retry_after: Duration,
    /// Rate-limit headers.
    pub headers: LimitHeaders,
}

impl Limiter {
    /// A limiter with these limits (`None` = unlimited).
    pub fn new(rpm: Option<u64>, tpm: Option<u64>, rpd: Option<u64>, kind: WindowKind) -> Limiter {
        Limiter {
            rpm: Meter::new(rpm, MINUTE, kind),
            tpm: Meter::new(tpm, MINUTE, kind),
            rpd: Meter::new(rpd, DAY, kind),
        }
    }

    /// Admits a request of `tokens` at `now` (limits scaled by `factor`, e.g. 0.5 in a limit cut),
    /// charging every window, or rejects it charging nothing.
    pub fn admit(&mut self, now: Duration, tokens: u64, factor: f64) -> Result<(), Rejection> {
        let t = now.as_secs_f64();
        let checks = [
            self.rpm.check(t, 1.0, factor),
            self.tpm.check(t, tokens as f64, factor),
            self.rpd.check(t, 1.0, factor),
        ];
        if checks.iter().all(|c| c.fits) {
            self.rpm.charge(t, 1.0);
            self.tpm.charge(t, tokens as f64);
            self.rpd.charge(t, 1.0);
            return Ok(());
        }
        let wait = checks
            .iter()
            .filter(|c| !c.fits)
            .map(|c| c.retry_after)
            .fold(0.0, f64::max);
        Err(Rejection {
            retry_after: Duration::from_secs_f64(wait.max(0.001)),
            headers: self.headers(now, factor),
        })
    }

    /// The `x-ratelimit-*` headers the provider would send at `now`.
    pub fn headers(&mut self, now: Duration, factor: f64) -> LimitHeaders {
        let now = now.as_secs_f64();
        for meter in [&mut self.rpm, &mut self.tpm] {
            if let Some(limit) = meter.limit.map(|l| (l * factor).max(1.0)) {
                meter.advance(now, limit);
            }
        }
        let (remaining_requests, reset_requests) = self.rpm.report(now, factor);
        let (remaining_tokens, reset_tokens) = self.tpm.report(now, factor);
        LimitHeaders {
            limit_requests: self.rpm.limit.map(|l| (l * factor).max(1.0) as u64),
            limit_tokens: self.tpm.limit.map(|l| (l * factor).max(1.0) as u64),
            remaining_requests,
            remaining_tokens,
            reset_requests,
            reset_tokens,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: f64) -> Duration {
        Duration::from_secs_f64(v)
    }

    #[test]
    fn fixed_window_resets_on_the_minute() {
        let mut l = Limiter::new(Some(2), None, None, WindowKind::Fixed);
        assert!(l.admit(s(10.0), 1, 1.0).is_ok());
        assert!(l.admit(s(20.0), 1, 1.0).is_ok());
        assert_eq!(l.headers(s(20.0), 1.0).remaining_requests, Some(0));
        let r = l.admit(s(30.0), 1, 1.0).unwrap_err();
        assert!((r.retry_after.as_secs_f64() - 30.0).abs() < 1e-6);
        assert!(l.admit(s(60.0), 1, 1.0).is_ok());
    }

    #[test]
    fn sliding_window_never_admits_more_than_the_limit_in_any_window() {
        let mut l = Limiter::new(Some(60), None, None, WindowKind::Sliding);
        // After a quiet minute: 60 at once, then nothing until the first of them is a minute old.
        for _ in 0..60 {
            assert!(l.admit(s(100.0), 1, 1.0).is_ok());
        }
        let r = l.admit(s(130.0), 1, 1.0).unwrap_err();
        assert!((r.retry_after.as_secs_f64() - 30.0).abs() < 1e-6, "{r:?}");
        assert_eq!(l.headers(s(130.0), 1.0).remaining_requests, Some(0));
        assert!(l.admit(s(160.0), 1, 1.0).is_ok());
        // A steady 2/s stream: in every 60 s window at most 60 pass.
        let mut l = Limiter::new(Some(60), None, None, WindowKind::Sliding);
        let mut admitted = Vec::new();
        for i in 0..1200 {
            let t = i as f64 * 0.5;
            if l.admit(s(t), 1, 1.0).is_ok() {
                admitted.push(t);
            }
        }
        for (i, &t) in admitted.iter().enumerate() {
            let in_window = admitted[i..].iter().take_while(|&&u| u < t + 60.0).count();
            assert!(in_window <= 60, "{in_window} within 60 s of {t}");
        }
        assert!(admitted.len() >= 590, "{}", admitted.len());
    }

    #[test]
    fn a_token_bucket_after_a_quiet_minute_admits_nearly_twice_its_limit() {
        let mut l = Limiter::new(Some(60), None, None, WindowKind::TokenBucket { burst: 1.0 });
        let admitted = (0..240)
            .filter(|i| l.admit(s(60.0 + *i as f64 * 0.25), 1, 1.0).is_ok())
            .count();
        assert!(admitted >= 118, "{admitted} in one minute");
        let mut l = Limiter::new(Some(60), None, None, WindowKind::TokenBucket { burst: 0.5 });
        let burst = (0..60).filter(|_| l.admit(s(0.0), 1, 1.0).is_ok()).count();
        assert_eq!(burst, 30);
    }

    #[test]
    fn token_bucket_replenishes_continuously() {
        let mut l = Limiter::new(Some(60), None, None, WindowKind::TokenBucket { burst: 1.0 });
        for _ in 0..60 {
            assert!(l.admit(s(0.0), 1, 1.0).is_ok());
        }
        let r = l.admit(s(0.0), 1, 1.0).unwrap_err();
        assert!(
            (r.retry_after.as_secs_f64() - 1.0).abs() < 1e-6,
            "{:?}",
            r.retry_after
        );
        assert!(l.admit(s(1.0), 1, 1.0).is_ok());
        assert!(l.admit(s(1.0), 1, 1.0).is_err());
    }

    #[test]
    fn tokens_and_limit_cuts() {
        let mut l = Limiter::new(None, Some(1000), None, WindowKind::Fixed);
        assert!(l.admit(s(0.0), 400, 0.5).is_ok());
        assert!(l.admit(s(0.0), 200, 0.5).is_err(), "cut to 500 tokens");
        assert!(l.admit(s(0.0), 200, 1.0).is_ok());
        assert!(
            l.admit(s(0.0), 2000, 1.0).is_err(),
            "more than the limit never fits"
        );
    }

    #[test]
    fn a_rejection_charges_nothing() {
        let mut l = Limiter::new(Some(10), Some(100), None, WindowKind::Fixed);
        assert!(l.admit(s(0.0), 150, 1.0).is_err());
        assert!(l.admit(s(0.0), 50, 1.0).is_ok());
        let h = l.headers(s(0.0), 1.0);
        assert_eq!(h.remaining_requests, Some(9));
        assert_eq!(h.remaining_tokens, Some(50));
    }
}
