//! Turning per-exchange reports into what a store keeps, and what the store holds back into
//! news: each replica publishes running totals (so a lost or repeated exchange loses nothing
//! and counts nothing twice) and each reader keeps the totals it last saw of every other
//! replica. Totals of tokens go down as well as up (a finished request refunds its estimate),
//! so a replica that restarted is told apart by its incarnation, never by smaller totals.

use std::collections::HashMap;
use std::time::Duration;

use super::{News, Observation, Report};
use crate::config::Config;

/// One deployment as a replica publishes it.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Published {
    /// Units used since the replica started, per window (order of [`Report::used`]).
    pub used_total: [f64; 3],
    /// See [`Report::cooldown_until`].
    pub cooldown_until: Duration,
    /// See [`Report::breaker_open_until`].
    pub breaker_open_until: Option<Duration>,
    /// The provider's last rate-limit headers this replica saw (requests, tokens).
    pub observed: [Option<Observation>; 2],
    /// See [`Report::fleet_used`].
    pub fleet_used: [f64; 3],
    /// When this was published (driver time).
    pub at: Duration,
}

/// Everything one replica publishes: its deployments by id.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ReplicaRecord {
    /// Which run of the replica wrote it (different after a restart under the same name).
    pub incarnation: u64,
    /// `(deployment id, what it published)`.
    pub deployments: Vec<(String, Published)>,
}

/// One replica's books: its own running totals and the totals it last saw of the others.
#[derive(Debug, Clone, Default)]
pub struct Ledger {
    incarnation: u64,
    own: HashMap<String, Published>,
    /// Per other replica: its incarnation and the totals last seen per deployment.
    seen: HashMap<String, (u64, HashMap<String, [f64; 3]>)>,
}

impl Ledger {
    /// An empty ledger for a replica that just started; `incarnation` tells this run from an
    /// earlier one of the same name (e.g. the start time and the process id).
    pub fn new(incarnation: u64) -> Ledger {
        Ledger {
            incarnation,
            ..Ledger::default()
        }
    }

    /// Adds an export (indexed like `config.deployments`) to the running totals and returns
    /// the record to publish. A deployment removed by a reload disappears from the record.
    pub fn publish(&mut self, config: &Config, now: Duration, reports: &[Report]) -> ReplicaRecord {
        let mut deployments = Vec::with_capacity(reports.len());
        for (d, r) in config.deployments.iter().zip(reports) {
            let p = self.own.entry(d.id.clone()).or_default();
            for (total, used) in p.used_total.iter_mut().zip(r.used) {
                *total += used;
            }
            p.cooldown_until = r.cooldown_until;
            p.fleet_used = r.fleet_used;
            p.at = now;
            p.breaker_open_until = r.breaker_open_until;
            for (kept, new) in p.observed.iter_mut().zip(r.observed) {
                if new.is_some() {
                    *kept = new;
                }
            }
            deployments.push((d.id.clone(), *p));
        }
        self.own
            .retain(|id, _| config.deployments.iter().any(|d| &d.id == id));
        ReplicaRecord {
            incarnation: self.incarnation,
            deployments,
        }
    }

    /// What the other replicas did since the last call, from every live record the store holds
    /// (`me`'s own is skipped), into `out` (indexed like `config.deployments`). Returns the
    /// fleet's size, this replica included. A replica seen for the first time (or in a new
    /// incarnation) brings the use it sees in the budget, not its history; one that vanished
    /// is forgotten.
    pub fn news(
        &mut self,
        config: &Config,
        me: &str,
        records: &[(String, ReplicaRecord)],
        out: &mut Vec<News>,
    ) -> u32 {
        out.clear();
        out.resize(config.deployments.len(), News::default());
        let mut replicas = 1u32;
        for (name, record) in records {
            if name == me {
                continue;
            }
            replicas = replicas.saturating_add(1);
            let entry = self
                .seen
                .entry(name.clone())
                .or_insert_with(|| (record.incarnation, HashMap::new()));
            if entry.0 != record.incarnation {
                *entry = (record.incarnation, HashMap::new());
            }
            let seen = &mut entry.1;
            for (id, p) in &record.deployments {
                let Some(d) = config.deployment_by_id(id) else {
                    continue;
                };
                let news = &mut out[d.index()];
                let last = match seen.get_mut(id) {
                    Some(last) => last,
                    None => {
                        // First sight: its history is in the budget it reports, not news.
                        for (sum, used) in news.joined_used.iter_mut().zip(p.fleet_used) {
                            *sum += used.max(0.0);
                        }
                        seen.entry(id.clone()).or_insert(p.used_total)
                    }
                };
                for ((sum, total), seen) in news.used.iter_mut().zip(p.used_total).zip(*last) {
                    *sum += total - seen;
                }
                *last = p.used_total;
                news.cooldown_until = news.cooldown_until.max(p.cooldown_until);
                news.breaker_open_until = news.breaker_open_until.max(p.breaker_open_until);
                for (kept, seen) in news.observed.iter_mut().zip(p.observed) {
                    if seen.is_some_and(|s| kept.is_none_or(|k| s.at > k.at)) {
                        *kept = seen;
                    }
                }
            }
        }
        self.seen
            .retain(|name, _| records.iter().any(|(n, _)| n == name));
        replicas
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> Config {
        Config::from_toml(
            "[[tier]]\nname = \"t\"\n[[deployment]]\nid = \"d\"\nprovider = \"p\"\nmodel = \"m\"\ntier = \"t\"\nrpm = 100",
        )
        .expect("valid")
    }

    fn record(total: f64) -> ReplicaRecord {
        incarnated(total, 1)
    }

    fn incarnated(total: f64, incarnation: u64) -> ReplicaRecord {
        ReplicaRecord {
            incarnation,
            deployments: vec![(
                "d".into(),
                Published {
                    used_total: [total, 0.0, total],
                    fleet_used: [7.0, 0.0, 7.0],
                    ..Published::default()
                },
            )],
        }
    }

    #[test]
    fn totals_become_differences_and_history_arrives_once() {
        let c = config();
        let mut ledger = Ledger::new(9);
        let mut out = Vec::new();
        let fleet = |t: f64| {
            vec![
                ("me".to_owned(), record(999.0)),
                ("b".to_owned(), record(t)),
            ]
        };
        assert_eq!(ledger.news(&c, "me", &fleet(50.0), &mut out), 2);
        assert_eq!(out[0].used, [0.0; 3], "first sight: no running totals");
        assert_eq!(
            out[0].joined_used[0], 7.0,
            "but the use it sees in the budget"
        );
        ledger.news(&c, "me", &fleet(58.0), &mut out);
        assert_eq!((out[0].used[0], out[0].joined_used[0]), (8.0, 0.0));
        ledger.news(&c, "me", &fleet(58.0), &mut out);
        assert_eq!(
            out[0].used[0], 0.0,
            "a repeated record counts nothing twice"
        );
        ledger.news(&c, "me", &fleet(55.0), &mut out);
        assert_eq!(out[0].used[0], -3.0, "totals may go down (refunds)");
        let restarted = vec![("b".to_owned(), incarnated(3.0, 2))];
        ledger.news(&c, "me", &restarted, &mut out);
        assert_eq!(
            (out[0].used[0], out[0].joined_used[0]),
            (0.0, 7.0),
            "a restarted replica is new: its budget use, not its totals"
        );
        assert_eq!(ledger.news(&c, "me", &[], &mut out), 1);
        ledger.news(&c, "me", &fleet(10.0), &mut out);
        assert_eq!(out[0].used[0], 0.0, "forgotten, then seen anew");
    }

    #[test]
    fn publishing_adds_up_and_keeps_the_last_observation() {
        let c = config();
        let mut ledger = Ledger::new(1);
        let seen = Observation {
            at: Duration::from_secs(1),
            limit: Some(90),
            remaining: 3,
        };
        let r = Report {
            used: [2.0, 10.0, 2.0],
            observed: [Some(seen), None],
            ..Report::default()
        };
        ledger.publish(&c, Duration::from_secs(1), &[r]);
        let again = Report {
            used: [1.0, -4.0, 1.0],
            ..Report::default()
        };
        let rec = ledger.publish(&c, Duration::from_secs(2), &[again]);
        let p = rec.deployments[0].1;
        assert_eq!(p.used_total, [3.0, 6.0, 3.0]);
        assert_eq!(p.observed[0], Some(seen));
        assert_eq!(p.at, Duration::from_secs(2));
    }
}
