//! The loop's scheduled events, ordered by (time, sequence number) so that simultaneous events
//! keep the order they were scheduled in.

use std::cmp::{Ordering, Reverse};
use std::time::Duration;

use super::Simulation;

/// What happens when an event comes due.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    /// An attempt's answer (`Flight::pending`) reaches the gateway.
    Deliver,
    /// The engine's `Wait` is over.
    Resume,
    /// A provider finished serving one request (`slot` is the provider).
    ServiceEnd,
    /// A queued attempt reached its `first_byte_timeout` before service began.
    FirstByteDeadline,
    /// An attempt's first byte reaches the gateway.
    FirstByte,
    /// An attempt may be hedged now ([`engine::Engine::hedge_at`]).
    Hedge,
}

/// One scheduled event: for attempt `token` of request `slot` (or provider `slot`).
#[derive(Debug, Clone, Copy)]
pub(super) struct Event {
    pub at: u64,
    pub seq: u64,
    pub kind: Kind,
    pub slot: u32,
    pub token: u64,
}

impl PartialEq for Event {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.seq) == (other.at, other.seq)
    }
}
impl Eq for Event {}
impl PartialOrd for Event {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Event {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.at, self.seq).cmp(&(other.at, other.seq))
    }
}

impl Simulation<'_> {
    pub(super) fn schedule(&mut self, at: Duration, kind: Kind, slot: u32, token: u64) {
        self.seq += 1;
        self.heap.push(Reverse(Event {
            at: crate::time::nanos(at),
            seq: self.seq,
            kind,
            slot,
            token,
        }));
    }

    /// A fresh token (the sequence number is shared with events, as before).
    pub(super) fn next_token(&mut self) -> u64 {
        self.seq += 1;
        self.seq
    }
}
