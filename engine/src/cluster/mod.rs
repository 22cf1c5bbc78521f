//! Replicas sharing one set of provider limits: what an engine tells the fleet and what it
//! learns from it, as plain data. No store, no clock, no I/O: a driver carries the data — the
//! gateway to Redis on a timer, the simulator between simulated replicas after a modelled
//! delay — so both run the same logic.
//!
//! # The exchange
//! Every `sync_interval` a replica calls [`crate::Engine::cluster_export`] (its use of every
//! window since the last export, its cooldowns, breaker openings and the provider's last
//! rate-limit headers), publishes that through a [`Ledger`], reads what every other live replica
//! published, and hands the difference to [`crate::Engine::cluster_import`]. Nothing of this
//! happens while a request waits.
//!
//! # Why the fleet stays within each limit
//! Each window keeps the replica's view of the *fleet's* budget (a token bucket of the true
//! limit charged with everyone's reported use). At an exchange the replica's own budget becomes
//! its share of that headroom — `fleet budget left ÷ replicas` — and between exchanges it
//! refills at `rate ÷ replicas`. If every replica sees the same fleet budget `B` at an
//! exchange, the fleet can spend at most `B` plus one interval's refill before the next, which
//! is exactly what the true bucket allows: no overshoot. Views differ only by what other
//! replicas spent and have not reported yet, itself bounded by their shares: after a burst
//! that spent every share of `B ÷ replicas`, the k-th replica to exchange knows of k of them
//! (its own and those reported before it), misses the other `replicas − k` and takes
//! `1 ÷ replicas` of what it misses, so one round of exchanges overspends by at most
//! `(replicas − 1) ÷ (2 × replicas)` of the headroom `B` (a quarter for two replicas, a third
//! for three, under a half for any number); after that round every view holds the debt and
//! shares are empty until the refill pays it. Near exhaustion `B` is about one interval's
//! refill, a small fraction of the limit (docs/cluster.md measures it). A request larger than a replica's whole share (a
//! long prompt against tokens-per-minute) is let through once that share is full, so the
//! overdraft is also bounded by one such request per replica.
//!
//! When the store cannot be reached, [`crate::Engine::cluster_isolated`] keeps each replica to
//! `limit ÷ replicas` on its own count: conservative, and no request waits on the store.

mod ledger;
mod replica;

use std::time::Duration;

pub use crate::limits::Observation;
pub use ledger::{Ledger, Published, ReplicaRecord};
pub use replica::{Replica, SHRINK_AFTER};

/// The three windows every deployment has, in the order of [`Report::used`].
pub const WINDOWS: [&str; 3] = ["rpm", "tpm", "rpd"];

/// What one replica tells the fleet about one deployment at an exchange.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Report {
    /// Units charged since the last export, net of corrections: requests per minute, tokens
    /// per minute, requests per day (tokens may be negative after a refund).
    pub used: [f64; 3],
    /// No attempts before this time (a 429 or `retry-after`); zero when not cooling down.
    pub cooldown_until: Duration,
    /// The circuit breaker is open until this time.
    pub breaker_open_until: Option<Duration>,
    /// The provider's last rate-limit headers on requests and on tokens, if new.
    pub observed: [Option<Observation>; 2],
    /// How much of the fleet's budget this replica sees in use per window after the export
    /// (limit − budget left; 0 when unlimited): what a replica that sees it for the first time
    /// takes as the use it never heard of.
    pub fleet_used: [f64; 3],
}

/// What the rest of the fleet says about one deployment since the last import.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct News {
    /// The other replicas' use since the last import, summed (order of [`Report::used`]).
    pub used: [f64; 3],
    /// The latest cooldown any other replica set.
    pub cooldown_until: Duration,
    /// The latest breaker opening any other replica holds.
    pub breaker_open_until: Option<Duration>,
    /// The newest rate-limit headers any other replica saw, per window.
    pub observed: [Option<Observation>; 2],
    /// For replicas seen for the first time, the fleet use they reported, summed per window:
    /// their history reaches a newcomer (or a fleet after the store lost its keys) as the use
    /// still in the budget, never as running totals from the beginning.
    pub joined_used: [f64; 3],
}
