//! One replica's half of an exchange, the same for every driver: publish, then absorb what the
//! store holds. The driver only moves [`ReplicaRecord`]s to and from its store.

use std::time::Duration;

use super::{Ledger, News, ReplicaRecord, Report};
use crate::Engine;

/// Exchanges in a row that must see a smaller fleet before this replica's share grows: a
/// replica that has not published yet (starting, or one slow exchange) must not make the others
/// spend its part.
pub const SHRINK_AFTER: u32 = 10;

/// A replica's name and books, with buffers reused from one exchange to the next.
#[derive(Debug, Clone)]
pub struct Replica {
    name: String,
    ledger: Ledger,
    reports: Vec<Report>,
    news: Vec<News>,
    clients: Vec<([i64; 5], [i64; 5])>,
    client_news: Vec<[i64; 5]>,
    fleet: u32,
    /// Exchanges in a row that counted fewer replicas than `fleet`.
    smaller_for: u32,
}

impl Replica {
    /// A replica called `name` (unique in the fleet; `incarnation` tells this run from an
    /// earlier one of the same name) expecting a fleet of `replicas` until the store shows
    /// otherwise. Call [`Engine::cluster_isolated`] with the same count before the first
    /// request, so that nothing is spent beyond this replica's share before it knows.
    pub fn new(name: impl Into<String>, incarnation: u64, replicas: u32) -> Replica {
        Replica {
            name: name.into(),
            ledger: Ledger::new(incarnation),
            reports: Vec::new(),
            news: Vec::new(),
            clients: Vec::new(),
            client_news: Vec::new(),
            fleet: replicas.max(1),
            smaller_for: 0,
        }
    }

    /// Its name in the store.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The fleet's size this replica shares by, itself included: the live count, which grows
    /// at once and shrinks only after [`SHRINK_AFTER`] exchanges agree.
    pub fn fleet_size(&self) -> u32 {
        self.fleet
    }

    /// What to write to the store now: the engine's use since the last call, as running totals.
    pub fn publish(&mut self, engine: &mut Engine, now: Duration) -> ReplicaRecord {
        engine.cluster_export(now, &mut self.reports, &mut self.clients);
        self.ledger
            .publish(engine.config(), now, &self.reports, &self.clients)
    }

    /// Hands what the store holds (every live replica's record, this one's included or not) to
    /// the engine; returns the fleet's size.
    pub fn absorb(
        &mut self,
        engine: &mut Engine,
        now: Duration,
        records: &[(String, ReplicaRecord)],
    ) -> u32 {
        let live = self
            .ledger
            .news(engine.config(), &self.name, records, &mut self.news);
        if live >= self.fleet {
            self.fleet = live;
            self.smaller_for = 0;
        } else {
            self.smaller_for += 1;
            if self.smaller_for >= SHRINK_AFTER {
                self.fleet = live;
                self.smaller_for = 0;
            }
        }
        self.ledger
            .client_news(engine.config(), &self.name, records, &mut self.client_news);
        engine.cluster_import(now, self.fleet, &self.news, &self.client_news);
        self.fleet
    }
}
