//! Client limits: each `[[client]]` has its own requests-per-minute, tokens-per-minute and
//! requests-per-day, checked before a deployment is picked (see [`crate::Engine::start_for`]).
//!
//! A client must never get more than its limit in *any* window of the limit's length, so the
//! provider-style token bucket (which allows a full bucket plus a window's refill) will not do.
//! Each limit is a sliding window of 60 buckets plus the current one: a request is admitted only
//! if everything counted in the buckets that overlap the window ending now, plus the request,
//! fits. Every window of the full length ending at any instant lies within those buckets, so the
//! bound holds exactly; the price is up to one bucket (1/60 of the window) of conservatism. In
//! the manner of Cloudflare's sliding-window rate limiter, but counted, not estimated.

use std::time::Duration;

use crate::config::clients::Client;

/// Buckets per window.
const BUCKETS: usize = 60;
/// Buckets a window overlaps at most: [`BUCKETS`] plus the current, partial one.
const RING: usize = BUCKETS + 1;

/// Units (requests or tokens) counted per bucket over a sliding window.
#[derive(Debug, Clone, PartialEq)]
pub struct SlidingLimit {
    limit: Option<u64>,
    /// Bucket length in seconds.
    bucket: f64,
    counts: [u64; RING],
    /// Index (time ÷ bucket) of the newest bucket.
    newest: i64,
    /// Sum of `counts`.
    total: u64,
}

impl SlidingLimit {
    /// At most `limit` per `window` (`None`: unlimited).
    pub fn new(limit: Option<u64>, window: Duration) -> SlidingLimit {
        SlidingLimit {
            limit,
            bucket: window.as_secs_f64() / BUCKETS as f64,
            counts: [0; RING],
            newest: 0,
            total: 0,
        }
    }

    /// The limit.
    pub fn limit(&self) -> Option<u64> {
        self.limit
    }

    /// Units counted in the buckets overlapping the window ending at `now`.
    pub fn used(&self, now: Duration) -> u64 {
        let mut copy = self.clone();
        copy.advance(now);
        copy.total
    }

    fn index(&self, now: Duration) -> i64 {
        (now.as_secs_f64() / self.bucket).floor() as i64
    }

    /// Drops the buckets that slid out of the window ending at `now`.
    fn advance(&mut self, now: Duration) {
        let at = self.index(now);
        if at <= self.newest {
            return;
        }
        let gone = (at - self.newest).min(RING as i64);
        for k in 1..=gone {
            let slot = (self.newest + k).rem_euclid(RING as i64) as usize;
            self.total -= self.counts[slot];
            self.counts[slot] = 0;
        }
        self.newest = at;
    }

    /// Counts `amount` at `now` if it fits; otherwise says when it would (`None`: never).
    pub fn take(&mut self, now: Duration, amount: u64) -> Result<(), Option<Duration>> {
        let Some(limit) = self.limit else {
            return Ok(());
        };
        self.advance(now);
        if self.total + amount <= limit {
            let slot = self.newest.rem_euclid(RING as i64) as usize;
            self.counts[slot] += amount;
            self.total += amount;
            return Ok(());
        }
        if amount > limit {
            return Err(None);
        }
        // The oldest buckets leave the window one by one: find the first moment enough has.
        let mut left = self.total;
        for k in 0..RING as i64 {
            let index = self.newest - (RING as i64 - 1) + k;
            left -= self.counts[index.rem_euclid(RING as i64) as usize];
            if left + amount <= limit {
                // Bucket `index` is out once the window starts after it ends.
                let at = (index + 1 + RING as i64 - 1) as f64 * self.bucket;
                return Err(Some(Duration::from_secs_f64(at.max(0.0)).max(now)));
            }
        }
        Err(None)
    }

    /// This window's counts under `new`'s limit (a reload): what was used stays used.
    fn reloaded(self, new: SlidingLimit) -> SlidingLimit {
        SlidingLimit {
            limit: new.limit,
            ..self
        }
    }
}

/// Which of a client's limits refused a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientLimit {
    /// Requests per minute.
    Rpm,
    /// Tokens per minute.
    Tpm,
    /// Requests per day.
    Rpd,
}

impl ClientLimit {
    /// The config field's name.
    pub fn name(self) -> &'static str {
        match self {
            ClientLimit::Rpm => "rpm",
            ClientLimit::Tpm => "tpm",
            ClientLimit::Rpd => "rpd",
        }
    }
}

/// Why [`crate::Engine::start_for`] refused a request before any deployment was picked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientRefusal {
    /// The client may not use the request's tier.
    TierNotAllowed,
    /// Over one of the client's own limits.
    OverLimit {
        /// Which.
        limit: ClientLimit,
        /// When the request would fit (`None`: never, e.g. more tokens than the limit).
        retry_at: Option<Duration>,
    },
}

const MINUTE: Duration = Duration::from_secs(60);
const DAY: Duration = Duration::from_secs(86_400);

/// One client's counters.
#[derive(Debug, Clone, PartialEq)]
pub struct ClientState {
    /// Requests per minute.
    pub rpm: SlidingLimit,
    /// Tokens per minute (the request's estimate: input plus `max_tokens`).
    pub tpm: SlidingLimit,
    /// Requests per day.
    pub rpd: SlidingLimit,
    /// Requests admitted.
    pub admitted: u64,
    /// Requests refused by the client's own limits or tiers.
    pub refused: u64,
}

impl ClientState {
    /// Fresh counters for a configured client.
    pub fn new(c: &Client) -> ClientState {
        ClientState {
            rpm: SlidingLimit::new(c.limits.rpm, MINUTE),
            tpm: SlidingLimit::new(c.limits.tpm, MINUTE),
            rpd: SlidingLimit::new(c.limits.rpd, DAY),
            admitted: 0,
            refused: 0,
        }
    }

    /// Counters for `c` carried over from `old`: a changed limit applies to what was already
    /// used (nothing was counted while a limit was unset).
    pub(crate) fn reloaded(c: &Client, old: ClientState) -> ClientState {
        let new = ClientState::new(c);
        ClientState {
            rpm: old.rpm.reloaded(new.rpm),
            tpm: old.tpm.reloaded(new.tpm),
            rpd: old.rpd.reloaded(new.rpd),
            admitted: old.admitted,
            refused: old.refused,
        }
    }

    /// Checks all three limits and counts the request in all, or in none.
    pub(crate) fn admit(&mut self, now: Duration, tokens: u64) -> Result<(), ClientRefusal> {
        let over = |limit, retry_at| ClientRefusal::OverLimit { limit, retry_at };
        // Check on copies first so that a refusal counts nothing anywhere.
        let (mut rpm, mut tpm, mut rpd) = (self.rpm.clone(), self.tpm.clone(), self.rpd.clone());
        let result = rpm
            .take(now, 1)
            .map_err(|t| over(ClientLimit::Rpm, t))
            .and_then(|()| tpm.take(now, tokens).map_err(|t| over(ClientLimit::Tpm, t)))
            .and_then(|()| rpd.take(now, 1).map_err(|t| over(ClientLimit::Rpd, t)));
        match result {
            Ok(()) => {
                (self.rpm, self.tpm, self.rpd) = (rpm, tpm, rpd);
                self.admitted += 1;
            }
            Err(_) => self.refused += 1,
        }
        result
    }
}
