//! Session affinity: which deployment served a session last, in a table of fixed size.
//!
//! A request may carry an opaque session key (a hash of a header, an OpenAI `user` or
//! `prompt_cache_key`, an Anthropic `metadata.user_id`…). While the deployment that last
//! served the session is usable and has headroom to spare, the request goes back to it, so
//! the provider's prompt cache on that deployment (key, region) is hit instead of a cold one
//! elsewhere. The engine only remembers and proposes; [`crate::Engine`] checks usability.
//!
//! The table is open-addressed with a fixed number of slots, allocated once when the engine is
//! built: lookups and inserts probe at most [`PROBES`] slots, never allocate, and an entry older
//! than the TTL counts as empty. When every probed slot is live, the least recently used of them
//! is evicted, so the table never grows and stale sessions make room for new ones.

use std::time::Duration;

use crate::ids::DeploymentId;

/// Slots probed per lookup or insert.
pub const PROBES: usize = 8;

/// Largest `[affinity] sessions`.
pub const MAX_SESSIONS: usize = 1 << 24;

#[derive(Debug, Clone, Copy)]
struct Entry {
    /// The session key (meaningful while `occupied`).
    key: u64,
    /// Index of the deployment that served it last.
    deployment: u32,
    /// When the session was last served (the TTL counts from here).
    used: Duration,
    occupied: bool,
}

const EMPTY: Entry = Entry {
    key: 0,
    deployment: 0,
    used: Duration::ZERO,
    occupied: false,
};

/// Counters of the table, for metrics and reports.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AffinityStats {
    /// Requests with a session key whose first attempt went back to the session's deployment.
    pub hits: u64,
    /// Requests with a session key placed by the strategy (new, expired, or its deployment not
    /// usable or short of headroom).
    pub misses: u64,
    /// Live sessions pushed out of a full neighbourhood before their TTL.
    pub evictions: u64,
}

/// The session → deployment table.
#[derive(Debug, Clone)]
pub struct SessionTable {
    slots: Vec<Entry>,
    mask: usize,
    ttl: Duration,
    /// Counters since the engine was built.
    pub stats: AffinityStats,
}

impl SessionTable {
    /// A table for about `sessions` live sessions (0: affinity off), entries expiring `ttl`
    /// after their last use. Allocates its slots here, once.
    pub fn new(sessions: usize, ttl: Duration) -> SessionTable {
        let len = match sessions.min(MAX_SESSIONS) {
            0 => 0,
            n => (2 * n).next_power_of_two().max(PROBES),
        };
        SessionTable {
            slots: vec![EMPTY; len],
            mask: len.saturating_sub(1),
            ttl,
            stats: AffinityStats::default(),
        }
    }

    /// Whether affinity is on (the table has slots).
    pub fn enabled(&self) -> bool {
        !self.slots.is_empty()
    }

    fn live(&self, e: &Entry, now: Duration) -> bool {
        e.occupied && now.saturating_sub(e.used) < self.ttl
    }

    fn home(&self, key: u64) -> usize {
        // Fibonacci hashing: the key may be a weak hash (a counter, a short string's hash).
        (key.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 32) as usize & self.mask
    }

    /// The deployment that last served `key`, if that was less than the TTL ago.
    pub fn get(&self, key: u64, now: Duration) -> Option<DeploymentId> {
        if !self.enabled() {
            return None;
        }
        let home = self.home(key);
        (0..PROBES)
            .map(|i| &self.slots[(home + i) & self.mask])
            .find(|e| e.occupied && e.key == key)
            .filter(|e| self.live(e, now))
            .map(|e| DeploymentId::from_index(e.deployment as usize))
    }

    /// Records that `deployment` served `key` at `now`: overwrites the session's entry, or
    /// takes an empty or expired slot, or evicts the least recently used of the probed ones.
    pub fn put(&mut self, key: u64, deployment: DeploymentId, now: Duration) {
        if !self.enabled() {
            return;
        }
        let home = self.home(key);
        let mut target = home;
        let mut target_rank = (3u8, Duration::MAX);
        for i in 0..PROBES {
            let at = (home + i) & self.mask;
            let e = &self.slots[at];
            // Best first: the session's own entry, a free slot, an expired one, the oldest.
            let rank = if e.occupied && e.key == key {
                (0, Duration::ZERO)
            } else if !e.occupied {
                (1, Duration::ZERO)
            } else if !self.live(e, now) {
                (2, e.used)
            } else {
                (3, e.used)
            };
            if rank < target_rank {
                target_rank = rank;
                target = at;
            }
            if rank.0 == 0 {
                break;
            }
        }
        if target_rank.0 == 3 {
            self.stats.evictions += 1;
        }
        self.slots[target] = Entry {
            key,
            deployment: deployment.index() as u32,
            used: now,
            occupied: true,
        };
    }

    /// Forgets every session (after a reload, when deployment ids may mean other deployments).
    pub fn clear(&mut self) {
        self.slots.fill(EMPTY);
    }

    /// Live sessions at `now` (a scan: for tests and status pages, not the hot path).
    pub fn len_at(&self, now: Duration) -> usize {
        self.slots.iter().filter(|e| self.live(e, now)).count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(i: usize) -> DeploymentId {
        DeploymentId::from_index(i)
    }

    const S: Duration = Duration::from_secs(1);

    #[test]
    fn remembers_until_the_ttl() {
        let mut t = SessionTable::new(16, 10 * S);
        t.put(7, d(2), S);
        assert_eq!(t.get(7, S), Some(d(2)));
        assert_eq!(t.get(7, 10 * S), Some(d(2)), "9 s old");
        assert_eq!(t.get(7, 11 * S), None, "10 s old: expired");
        assert_eq!(t.get(8, S), None);
        t.put(7, d(3), 2 * S);
        assert_eq!(t.get(7, 2 * S), Some(d(3)), "overwritten, not duplicated");
        assert_eq!(t.len_at(2 * S), 1);
    }

    #[test]
    fn off_with_zero_sessions() {
        let mut t = SessionTable::new(0, 10 * S);
        t.put(7, d(2), S);
        assert!(!t.enabled());
        assert_eq!(t.get(7, S), None);
    }

    #[test]
    fn stays_bounded_and_evicts_the_least_recently_used() {
        let mut t = SessionTable::new(4, 1000 * S);
        let slots = t.slots.len();
        assert_eq!(slots, 8);
        for k in 0..100u64 {
            t.put(k, d(k as usize % 3), Duration::from_secs(k));
        }
        assert_eq!(t.slots.len(), slots, "never grows");
        assert_eq!(t.len_at(Duration::from_secs(100)), slots);
        assert_eq!(t.stats.evictions, 100 - slots as u64);
        // The newest sessions survive; the oldest were evicted.
        for k in 92..100u64 {
            assert_eq!(t.get(k, Duration::from_secs(100)), Some(d(k as usize % 3)));
        }
        assert_eq!(t.get(0, Duration::from_secs(100)), None);
    }

    #[test]
    fn expired_entries_are_reused_before_live_ones_are_evicted() {
        let mut t = SessionTable::new(4, 10 * S);
        for k in 0..8u64 {
            t.put(k, d(0), S);
        }
        for k in 8..16u64 {
            t.put(k, d(1), 20 * S);
        }
        assert_eq!(t.stats.evictions, 0, "every old entry had expired");
        t.clear();
        assert_eq!(t.len_at(20 * S), 0);
    }
}
