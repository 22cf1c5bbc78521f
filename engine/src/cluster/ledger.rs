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
    /// Per `[[client]]`: its name, its use of every window since the replica started (order of
    /// [`crate::clients::ClientState::take_pending`]), and what the replica counts in each
    /// window now (the fleet's use as it knows it), which a replica that sees this one for the
    /// first time starts from.
    pub clients: Vec<(String, [i64; 5], [i64; 5])>,
}

/// One replica's books: its own running totals and the totals it last saw of the others.
#[derive(Debug, Clone, Default)]
pub struct Ledger {
    incarnation: u64,
    own: HashMap<String, Published>,
    own_clients: HashMap<String, [i64; 5]>,
    /// Per other replica: its incarnation and the totals last seen per deployment.
    seen: HashMap<String, (u64, HashMap<String, [f64; 3]>)>,
    /// Per other replica: its incarnation and the client totals last seen.
    seen_clients: HashMap<String, (u64, HashMap<String, [i64; 5]>)>,
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
    pub fn publish(
        &mut self,
        config: &Config,
        now: Duration,
        reports: &[Report],
        clients: &[([i64; 5], [i64; 5])],
    ) -> ReplicaRecord {
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
        let clients = config
            .clients
            .iter()
            .zip(clients)
            .map(|(c, (used, in_window))| {
                let total = self.own_clients.entry(c.name.clone()).or_insert([0; 5]);
                for (t, u) in total.iter_mut().zip(used) {
                    *t = t.saturating_add(*u);
                }
                (c.name.clone(), *total, *in_window)
            })
            .collect();
        ReplicaRecord {
            incarnation: self.incarnation,
            deployments,
            clients,
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

    /// What the other replicas' clients did since the last call, into `out` (indexed like
    /// `config.clients`). For replicas seen for the first time (or in a new incarnation), the
    /// most any of them counts in each window now comes in once, rather than their totals
    /// since they started (it may include this replica's own use: conservative).
    pub fn client_news(
        &mut self,
        config: &Config,
        me: &str,
        records: &[(String, ReplicaRecord)],
        out: &mut Vec<[i64; 5]>,
    ) {
        out.clear();
        out.resize(config.clients.len(), [0; 5]);
        let mut joined = vec![[0i64; 5]; config.clients.len()];
        for (name, record) in records.iter().filter(|(n, _)| n != me) {
            let entry = self
                .seen_clients
                .entry(name.clone())
                .or_insert_with(|| (record.incarnation, HashMap::new()));
            if entry.0 != record.incarnation {
                *entry = (record.incarnation, HashMap::new());
            }
            for (client, total, in_window) in &record.clients {
                let Some(c) = config.client_by_name(client) else {
                    continue;
                };
                if !entry.1.contains_key(client) {
                    for (j, w) in joined[c.index()].iter_mut().zip(in_window) {
                        *j = (*j).max(*w);
                    }
                }
                let last = entry.1.entry(client.clone()).or_insert(*total);
                for ((sum, t), l) in out[c.index()].iter_mut().zip(total).zip(*last) {
                    *sum = sum.saturating_add(t.saturating_sub(l));
                }
                *last = *total;
            }
        }
        for (o, j) in out.iter_mut().zip(joined) {
            for (x, y) in o.iter_mut().zip(j) {
                *x = x.saturating_add(y);
            }
        }
        self.seen_clients
            .retain(|name, _| records.iter().any(|(n, _)| n == name));
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
            clients: Vec::new(),
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
    fn a_client_seen_anew_brings_what_its_windows_count_once() {
        let c = Config::from_toml(
            "[[tier]]\nname = \"t\"\n[[deployment]]\nid = \"d\"\nprovider = \"p\"\nmodel = \"m\"\ntier = \"t\"\n[[client]]\nname = \"team\"\nkey_env = \"K\"\nrpm = 9",
        )
        .expect("valid");
        let rec = |total: i64, window: i64| ReplicaRecord {
            incarnation: 1,
            clients: vec![("team".into(), [total; 5], [window; 5])],
            ..ReplicaRecord::default()
        };
        let mut ledger = Ledger::new(2);
        let mut out = Vec::new();
        let fleet = |a: (i64, i64), b: (i64, i64)| {
            vec![
                ("a".to_owned(), rec(a.0, a.1)),
                ("b".to_owned(), rec(b.0, b.1)),
            ]
        };
        ledger.client_news(&c, "me", &fleet((500, 4), (300, 6)), &mut out);
        assert_eq!(
            out[0][0], 6,
            "the most any newcomer counts now, not 800 since they started"
        );
        ledger.client_news(&c, "me", &fleet((502, 6), (301, 7)), &mut out);
        assert_eq!(out[0][0], 3, "then their use since");
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
        ledger.publish(&c, Duration::from_secs(1), &[r], &[]);
        let again = Report {
            used: [1.0, -4.0, 1.0],
            ..Report::default()
        };
        let rec = ledger.publish(&c, Duration::from_secs(2), &[again], &[]);
        let p = rec.deployments[0].1;
        assert_eq!(p.used_total, [3.0, 6.0, 3.0]);
        assert_eq!(p.observed[0], Some(seen));
        assert_eq!(p.at, Duration::from_secs(2));
    }
}
