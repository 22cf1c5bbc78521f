//! [`SlidingLimit`]: units counted in 60 buckets plus the current one, so that no window of the
//! limit's length ending at any instant holds more than the limit (see [`crate::clients`]).

use std::time::Duration;

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
    /// Net units counted here since the last [`SlidingLimit::take_pending`] (for the fleet).
    pending: i64,
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
            pending: 0,
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
            self.total = self.total.saturating_sub(self.counts[slot]);
            self.counts[slot] = 0;
        }
        self.newest = at;
    }

    /// Counts `amount` at `now` if it fits; otherwise says when it would (`None`: never).
    /// Without a limit nothing is counted.
    pub fn take(&mut self, now: Duration, amount: u64) -> Result<(), Option<Duration>> {
        if self.limit.is_none() {
            return Ok(());
        }
        self.check(now, amount)?;
        self.count(now, amount);
        Ok(())
    }

    /// Counts `amount` at `now`, limit or not.
    pub fn count(&mut self, now: Duration, amount: u64) {
        self.pending = self.pending.saturating_add_unsigned(amount);
        self.add(now, amount);
    }

    fn add(&mut self, now: Duration, amount: u64) {
        self.advance(now);
        let slot = self.newest.rem_euclid(RING as i64) as usize;
        self.counts[slot] = self.counts[slot].saturating_add(amount);
        self.total = self.total.saturating_add(amount);
    }

    /// Replaces `from` with `to` in the bucket of `at` (an instant at which `from` was
    /// counted), unless that bucket has left the window already.
    pub fn correct(&mut self, at: Duration, from: u64, to: u64) {
        let index = self.index(at);
        if index > self.newest || index <= self.newest - RING as i64 {
            return;
        }
        let slot = index.rem_euclid(RING as i64) as usize;
        let new = self.counts[slot].saturating_sub(from).saturating_add(to);
        self.pending = self
            .pending
            .saturating_add_unsigned(new)
            .saturating_sub_unsigned(self.counts[slot]);
        self.total = self
            .total
            .saturating_sub(self.counts[slot])
            .saturating_add(new);
        self.counts[slot] = new;
    }

    /// Whether `amount` more fits at `now`; otherwise when it would (`None`: never).
    pub fn check(&mut self, now: Duration, amount: u64) -> Result<(), Option<Duration>> {
        let Some(limit) = self.limit else {
            return Ok(());
        };
        self.advance(now);
        if self.total.saturating_add(amount) <= limit {
            return Ok(());
        }
        if amount > limit {
            return Err(None);
        }
        // The oldest buckets leave the window one by one: find the first moment enough has.
        let mut left = self.total;
        for k in 0..RING as i64 {
            let index = self.newest - (RING as i64 - 1) + k;
            left = left.saturating_sub(self.counts[index.rem_euclid(RING as i64) as usize]);
            if left.saturating_add(amount) <= limit {
                // Bucket `index` is out once the window starts after it ends.
                let at = (index + 1 + RING as i64 - 1) as f64 * self.bucket;
                return Err(Some(Duration::from_secs_f64(at.max(0.0)).max(now)));
            }
        }
        Err(None)
    }

    /// Net units counted here since the last call: this replica's use, for the fleet (see
    /// [`crate::cluster`]).
    pub fn take_pending(&mut self) -> i64 {
        std::mem::take(&mut self.pending)
    }

    /// The other replicas counted `delta` units (net) since the last exchange: they count here
    /// too, in the bucket of `now` (a refund of theirs takes back at most what that bucket
    /// holds).
    pub fn absorb(&mut self, now: Duration, delta: i64) {
        if delta > 0 {
            self.add(now, delta.unsigned_abs());
        } else if delta < 0 {
            self.advance(now);
            let slot = self.newest.rem_euclid(RING as i64) as usize;
            let back = delta.unsigned_abs().min(self.counts[slot]);
            self.counts[slot] -= back;
            self.total = self.total.saturating_sub(back);
        }
    }

    /// This window's counts under `new`'s limit (a reload): what was used stays used.
    pub(super) fn reloaded(self, new: SlidingLimit) -> SlidingLimit {
        SlidingLimit {
            limit: new.limit,
            ..self
        }
    }
}
