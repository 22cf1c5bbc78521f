//! Client limits: each `[[client]]` has its own requests-per-minute, tokens-per-minute and
//! requests-per-day, checked before a deployment is picked (see [`crate::Engine::start_for`]).
//!
//! A client must never get more than its limit in *any* window of the limit's length, so the
//! provider-style token bucket (which allows a full bucket plus a window's refill) will not do.
//! Each limit is a sliding window of 60 buckets plus the current one: a request is admitted only
//! if everything counted in the buckets that overlap the window ending now, plus the request,
//! fits. Every window of the full length ending at any instant lies within those buckets, so the
//! bound holds exactly; the price is up to one bucket (1/60 of the window) of conservatism. In
//! the manner of Cloudflare's sliding-window rate limiter, but counted, not estimated. (`tpm`
//! counts a request's estimate at admission and its real usage once it succeeds, so a request
//! that used more than its estimate can pass the limit by that excess, as budgets can below.)
//!
//! # Budgets
//! `usd_per_day` and `usd_per_month` are sliding windows of the same kind over 24 hours and 30
//! days of engine time (the driver's `now`; no calendar), counted in nano-dollars (see
//! [`crate::spend`]). A request's cost counts at the instant it was admitted:
//!
//! 1. at admission it reserves an upper bound `R` of its price (its estimate at the dearest
//!    prices it could reach) and is refused if the spend already counted in the window plus `R`
//!    exceeds the budget;
//! 2. when it ends, the reservation is replaced by its real price `A` (0 if it failed or was
//!    cancelled: failed attempts are not priced, like the metrics' `cost`).
//!
//! Concurrent requests therefore cannot overshoot through their reservations. The only
//! overshoot is a request whose real usage exceeds its estimate (more output than
//! `max_tokens`, or an input estimate that was low): **in any window the spend is at most the
//! budget plus Σ max(0, A − R) over the requests admitted in that window.** With providers
//! that honour `max_tokens` and exact input counts the budget is never exceeded.
//! Spend windows count even without a budget, so the state can show the day's spend.

mod sliding;

use std::time::Duration;

use crate::config::clients::Client;

pub use sliding::SlidingLimit;

/// Which of a client's limits refused a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientLimit {
    /// Requests per minute.
    Rpm,
    /// Tokens per minute.
    Tpm,
    /// Requests per day.
    Rpd,
    /// Dollars per 24 hours.
    UsdPerDay,
    /// Dollars per 30 days.
    UsdPerMonth,
}

impl ClientLimit {
    /// Every limit, in the order they are checked (and index [`ClientState::refused_over`]).
    pub const ALL: [ClientLimit; 5] = [
        ClientLimit::Rpm,
        ClientLimit::Tpm,
        ClientLimit::Rpd,
        ClientLimit::UsdPerDay,
        ClientLimit::UsdPerMonth,
    ];

    /// The config field's name.
    pub fn name(self) -> &'static str {
        match self {
            ClientLimit::Rpm => "rpm",
            ClientLimit::Tpm => "tpm",
            ClientLimit::Rpd => "rpd",
            ClientLimit::UsdPerDay => "usd_per_day",
            ClientLimit::UsdPerMonth => "usd_per_month",
        }
    }

    /// Whether it is a dollar budget rather than a rate limit.
    pub fn is_budget(self) -> bool {
        matches!(self, ClientLimit::UsdPerDay | ClientLimit::UsdPerMonth)
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

impl ClientRefusal {
    /// A short name for metrics: `tier` or the limit's field name.
    pub fn reason(&self) -> &'static str {
        match self {
            ClientRefusal::TierNotAllowed => "tier",
            ClientRefusal::OverLimit { limit, .. } => limit.name(),
        }
    }
}

const MINUTE: Duration = Duration::from_secs(60);
const DAY: Duration = Duration::from_secs(86_400);
/// The window of `usd_per_month`: 30 days.
pub const MONTH: Duration = Duration::from_secs(30 * 86_400);

/// One client's counters.
#[derive(Debug, Clone, PartialEq)]
pub struct ClientState {
    /// Requests per minute.
    pub rpm: SlidingLimit,
    /// Tokens per minute: the request's estimate (input plus `max_tokens`) at admission,
    /// replaced by its real usage when it succeeds (a failed one keeps its estimate).
    pub tpm: SlidingLimit,
    /// Requests per day.
    pub rpd: SlidingLimit,
    /// Nano-dollars per 24 hours (reservations of requests in flight, real prices of ended
    /// ones), counted even without a budget.
    pub usd_per_day: SlidingLimit,
    /// Nano-dollars per 30 days, likewise.
    pub usd_per_month: SlidingLimit,
    /// Nano-dollars spent since the engine started: the exact sum of the prices of the
    /// client's successful requests.
    pub spent_nanos: u64,
    /// Nano-dollars reserved by the client's requests in flight.
    pub reserved_nanos: u64,
    /// Requests admitted.
    pub admitted: u64,
    /// Admitted requests that ended in success.
    pub succeeded: u64,
    /// Admitted requests that ended in failure (cancelled ones count in neither).
    pub failed: u64,
    /// Requests refused by the client's own limits or tiers.
    pub refused: u64,
    /// Of those, refused for a tier the client may not use.
    pub refused_tier: u64,
    /// Of those, refused per limit, indexed like [`ClientLimit::ALL`].
    pub refused_over: [u64; ClientLimit::ALL.len()],
}

impl ClientState {
    /// Fresh counters for a configured client.
    pub fn new(c: &Client) -> ClientState {
        ClientState {
            rpm: SlidingLimit::new(c.limits.rpm, MINUTE),
            tpm: SlidingLimit::new(c.limits.tpm, MINUTE),
            rpd: SlidingLimit::new(c.limits.rpd, DAY),
            usd_per_day: SlidingLimit::new(c.usd_per_day.map(crate::spend::to_nanos), DAY),
            usd_per_month: SlidingLimit::new(c.usd_per_month.map(crate::spend::to_nanos), MONTH),
            spent_nanos: 0,
            reserved_nanos: 0,
            admitted: 0,
            succeeded: 0,
            failed: 0,
            refused: 0,
            refused_tier: 0,
            refused_over: [0; ClientLimit::ALL.len()],
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
            usd_per_day: old.usd_per_day.reloaded(new.usd_per_day),
            usd_per_month: old.usd_per_month.reloaded(new.usd_per_month),
            ..old
        }
    }

    /// Net use of every window since the last call (rpm, tpm, rpd, nano-dollars per day and
    /// per month), for the fleet.
    pub fn take_pending(&mut self) -> [i64; 5] {
        [
            self.rpm.take_pending(),
            self.tpm.take_pending(),
            self.rpd.take_pending(),
            self.usd_per_day.take_pending(),
            self.usd_per_month.take_pending(),
        ]
    }

    /// Adds another replica's counters of the same client (a simulated fleet reported as one):
    /// admissions, outcomes, refusals and spend; the windows stay this one's. Every field is
    /// named, so a new counter cannot be forgotten.
    pub fn add_counts(&mut self, other: &ClientState) {
        let ClientState {
            rpm: _,
            tpm: _,
            rpd: _,
            usd_per_day: _,
            usd_per_month: _,
            spent_nanos,
            reserved_nanos,
            admitted,
            succeeded,
            failed,
            refused,
            refused_tier,
            refused_over,
        } = other;
        self.spent_nanos = self.spent_nanos.saturating_add(*spent_nanos);
        self.reserved_nanos = self.reserved_nanos.saturating_add(*reserved_nanos);
        self.admitted += admitted;
        self.succeeded += succeeded;
        self.failed += failed;
        self.refused += refused;
        self.refused_tier += refused_tier;
        for (a, b) in self.refused_over.iter_mut().zip(refused_over) {
            *a += b;
        }
    }

    /// What every window counts at `now` (order of [`ClientState::take_pending`]).
    pub fn in_windows(&self, now: Duration) -> [i64; 5] {
        [
            &self.rpm,
            &self.tpm,
            &self.rpd,
            &self.usd_per_day,
            &self.usd_per_month,
        ]
        .map(|w| i64::try_from(w.used(now)).unwrap_or(i64::MAX))
    }

    /// The rest of the fleet's use of every window since the last exchange (order of
    /// [`ClientState::take_pending`]), counted here at `now`: a client's limits hold for the
    /// whole fleet.
    pub fn absorb(&mut self, now: Duration, others: [i64; 5]) {
        self.rpm.absorb(now, others[0]);
        self.tpm.absorb(now, others[1]);
        self.rpd.absorb(now, others[2]);
        self.usd_per_day.absorb(now, others[3]);
        self.usd_per_month.absorb(now, others[4]);
    }

    /// Replaces a successful request's estimated tokens (counted against `tpm` at `at`) by
    /// the tokens it really used. Nothing is counted without a `tpm` limit.
    pub(crate) fn correct_tokens(&mut self, at: Duration, estimated: u64, used: u64) {
        if self.tpm.limit().is_some() {
            self.tpm.correct(at, estimated, used);
        }
    }

    /// Counts a refusal.
    pub(crate) fn refuse(&mut self, refusal: ClientRefusal) {
        self.refused += 1;
        match refusal {
            ClientRefusal::TierNotAllowed => self.refused_tier += 1,
            ClientRefusal::OverLimit { limit, .. } => self.refused_over[limit as usize] += 1,
        }
    }

    /// Replaces a request's reservation (`reserved`, counted at `at`) by its real price.
    pub(crate) fn settle(&mut self, at: Duration, reserved: u64, actual: u64) {
        self.usd_per_day.correct(at, reserved, actual);
        self.usd_per_month.correct(at, reserved, actual);
        self.reserved_nanos = self.reserved_nanos.saturating_sub(reserved);
        self.spent_nanos = self.spent_nanos.saturating_add(actual);
    }

    /// Checks every limit and budget and counts the request in all, or in none: `tokens`
    /// against `tpm`, the reservation `cost` (nano-dollars) against both budgets.
    pub(crate) fn admit(
        &mut self,
        now: Duration,
        tokens: u64,
        cost: u64,
    ) -> Result<(), ClientRefusal> {
        let over = |limit, retry_at| ClientRefusal::OverLimit { limit, retry_at };
        // Check on copies first so that a refusal counts nothing anywhere.
        let (mut rpm, mut tpm, mut rpd) = (self.rpm.clone(), self.tpm.clone(), self.rpd.clone());
        let result = rpm
            .take(now, 1)
            .map_err(|t| over(ClientLimit::Rpm, t))
            .and_then(|()| tpm.take(now, tokens).map_err(|t| over(ClientLimit::Tpm, t)))
            .and_then(|()| rpd.take(now, 1).map_err(|t| over(ClientLimit::Rpd, t)))
            .and_then(|()| {
                self.usd_per_day
                    .check(now, cost)
                    .map_err(|t| over(ClientLimit::UsdPerDay, t))
            })
            .and_then(|()| {
                self.usd_per_month
                    .check(now, cost)
                    .map_err(|t| over(ClientLimit::UsdPerMonth, t))
            });
        match result {
            Ok(()) => {
                (self.rpm, self.tpm, self.rpd) = (rpm, tpm, rpd);
                self.usd_per_day.count(now, cost);
                self.usd_per_month.count(now, cost);
                self.reserved_nanos = self.reserved_nanos.saturating_add(cost);
                self.admitted += 1;
            }
            Err(refusal) => self.refuse(refusal),
        }
        result
    }
}
