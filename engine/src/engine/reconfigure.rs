//! Reload: a new checked config replaces the running one without forgetting what was learned.
//!
//! Deployments are matched by id. A kept deployment carries its whole state over (budgets used,
//! limits learned from headers, latency and error estimates, cooldown, breaker, in flight) and
//! its metrics; a changed configured limit replaces the old one but keeps what was used. A new
//! deployment starts fresh. A removed one with attempts still out is kept aside as *draining*:
//! those attempts finish and are accounted on it, but no tier lists it, so nothing picks it; once
//! idle it is dropped at the next reload. Tiers, routes, strategies and policies are simply
//! replaced (each tier's balancer starts afresh).
//!
//! Live requests are remapped, never lost: handles to kept deployments and tiers are rewritten
//! to the new indices, and a request whose tier vanished lets its attempt in flight finish (a
//! success still answers) and otherwise fails at its next decision with
//! [`FailReason::NoCapacity`](crate::FailReason::NoCapacity). Every request still ends exactly
//! once. Like Envoy's cluster warming, in spirit: the old members serve out their connections.

use std::collections::HashMap;
use std::time::Duration;

use super::{tables, Engine};
use crate::affinity::SessionTable;
use crate::clients::ClientState;
use crate::config::{Config, Deployment};
use crate::ids::{DeploymentId, TierId};
use crate::metrics::{DeploymentMetrics, TierMetrics};
use crate::state::DeploymentState;

/// What a reload changed, by deployment id.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Reconfigured {
    /// Ids present before and after: their learned state was kept.
    pub kept: Vec<String>,
    /// Ids new in this config: they start fresh.
    pub added: Vec<String>,
    /// Ids gone from the config (still draining if attempts were out on them).
    pub removed: Vec<String>,
    /// Live requests whose tier vanished: they fail at their next decision.
    pub orphaned: usize,
}

impl Engine {
    /// Replaces the config at `now`, keeping the learned state of every deployment whose id
    /// survives (see the module docs). Requests in flight keep going.
    pub fn reconfigure(&mut self, config: Config, now: Duration) -> Reconfigured {
        let old_n = self.config.deployments.len();
        // Every old entry, live then draining, by id. A draining id that comes back is revived.
        let mut old: Vec<Option<(Deployment, DeploymentState, DeploymentMetrics)>> = {
            let configs = self
                .config
                .deployments
                .drain(..)
                .chain(self.retired.drain(..));
            let states = self.states.drain(..);
            let metrics = self.metrics.deployments.drain(..);
            configs
                .zip(states)
                .zip(metrics)
                .map(|((d, s), m)| Some((d, s, m)))
                .collect()
        };
        let by_id: HashMap<String, usize> = old
            .iter()
            .enumerate()
            .rev() // a live entry wins over a draining one of the same id
            .filter_map(|(i, e)| Some((e.as_ref()?.0.id.clone(), i)))
            .collect();
        let mut report = Reconfigured::default();
        // Old index (live or draining) → new index (live or draining).
        let mut map: Vec<Option<DeploymentId>> = vec![None; old.len()];
        for (i, d) in config.deployments.iter().enumerate() {
            let entry = by_id.get(&d.id).and_then(|&o| Some((o, old[o].take()?)));
            let (state, metrics) = match entry {
                Some((o, (before, mut state, metrics))) => {
                    map[o] = Some(DeploymentId::from_index(i));
                    // A limit the operator changed replaces the one in force (learned or
                    // not); an unchanged one leaves what the headers taught.
                    let (was, is) = (before.limits, d.limits);
                    if was.rpm != is.rpm {
                        state.rpm.set_limit(now, is.rpm);
                    }
                    if was.tpm != is.tpm {
                        state.tpm.set_limit(now, is.tpm);
                    }
                    if was.rpd != is.rpd {
                        state.rpd.set_limit(now, is.rpd);
                    }
                    if before.endpoint != d.endpoint || before.key != d.key {
                        // A refused key stays out until the config changes how it is sent.
                        state.disabled = false;
                    }
                    if o < old_n {
                        report.kept.push(d.id.clone());
                    } else {
                        report.added.push(d.id.clone());
                    }
                    (state, metrics)
                }
                None => {
                    report.added.push(d.id.clone());
                    (DeploymentState::new(d), DeploymentMetrics::default())
                }
            };
            self.states.push(state);
            self.metrics.deployments.push(metrics);
        }
        for (o, entry) in old.into_iter().enumerate() {
            let Some((d, state, metrics)) = entry else {
                continue;
            };
            if o < old_n {
                report.removed.push(d.id.clone());
            }
            if state.in_flight > 0 {
                map[o] = Some(DeploymentId::from_index(
                    config.deployments.len() + self.retired.len(),
                ));
                self.retired.push(d);
                self.states.push(state);
                self.metrics.deployments.push(metrics);
            }
        }
        // Client counters follow the client's name; so do requests in flight (a removed
        // client's requests go on, no longer counted against anyone).
        let client_map: Vec<Option<crate::ClientId>> = self
            .config
            .clients
            .iter()
            .map(|c| config.client_by_name(&c.name))
            .collect();
        for s in self.slots.iter_mut().filter(|s| s.live) {
            s.client = s.client.and_then(|mut c| {
                c.client = client_map[c.client.index()]?;
                Some(c)
            });
        }
        let mut old_clients: Vec<Option<ClientState>> = self.clients.drain(..).map(Some).collect();
        self.clients = config
            .clients
            .iter()
            .map(|c| {
                let old = self.config.client_by_name(&c.name);
                match old.and_then(|o| old_clients[o.index()].take()) {
                    Some(state) => ClientState::reloaded(c, state),
                    None => ClientState::new(c),
                }
            })
            .collect();
        let tier_map = self.remap_tiers(&config);
        report.orphaned = self.remap_requests(&config, &map, &tier_map);
        let (balancers, selections, cumulative_weights) = tables(&config);
        self.balancers = balancers;
        self.selections = selections;
        self.cumulative_weights = cumulative_weights;
        self.dearest = crate::spend::dearest_prices(&config);
        self.scratch = Vec::with_capacity(config.deployments.len());
        // Deployment ids may name other deployments now: sessions start afresh.
        self.affinity = SessionTable::new(config.affinity.sessions, config.affinity.ttl);
        self.hedging = super::hedge::Hedging::new(&config);
        self.config = config;
        // New deployments join the fleet's share like the others.
        self.apply_fleet_share(now);
        report
    }

    /// Deployments removed by a reload that still have attempts out: (id, attempts in flight).
    pub fn draining(&self) -> impl Iterator<Item = (&str, u32)> + '_ {
        let n = self.config.deployments.len();
        self.retired
            .iter()
            .zip(&self.states[n..])
            .map(|(d, s)| (d.id.as_str(), s.in_flight))
            .filter(|&(_, in_flight)| in_flight > 0)
    }

    /// Moves tier metrics to the new tier indices by name; returns old index → new index.
    fn remap_tiers(&mut self, config: &Config) -> Vec<Option<TierId>> {
        let tier_map: Vec<Option<TierId>> = self
            .config
            .tiers
            .iter()
            .map(|t| config.tier_by_name(&t.name))
            .collect();
        let mut old: Vec<Option<TierMetrics>> = self.metrics.tiers.drain(..).map(Some).collect();
        self.metrics.tiers = config
            .tiers
            .iter()
            .map(|t| {
                self.config
                    .tier_by_name(&t.name)
                    .and_then(|o| old[o.index()].take())
                    .unwrap_or_default()
            })
            .collect();
        tier_map
    }

    /// Rewrites every live request's handles; returns how many lost their tier.
    fn remap_requests(
        &mut self,
        config: &Config,
        map: &[Option<DeploymentId>],
        tier_map: &[Option<TierId>],
    ) -> usize {
        let live_n = config.deployments.len();
        let mut orphaned = 0;
        for s in self.slots.iter_mut().filter(|s| s.live) {
            for flight in s.current.iter_mut().chain(s.hedge.iter_mut()) {
                flight.deployment =
                    map[flight.deployment.index()].expect("a deployment with attempts out is kept");
            }
            // Only live deployments count as tried: a draining one is never a candidate.
            let live = |d: DeploymentId| map[d.index()].filter(|n| n.index() < live_n);
            let mut kept = 0;
            for i in 0..usize::from(s.tried_len) {
                if let Some(n) = live(s.tried[i]) {
                    s.tried[kept] = n;
                    kept += 1;
                }
            }
            s.tried_len = kept as u8;
            s.last_failed = s.last_failed.and_then(live);
            if s.orphaned {
                continue; // its tier handles are meaningless already
            }
            match (tier_map[s.tier.index()], tier_map[s.request.tier.index()]) {
                (Some(t), r) => {
                    s.tier = t;
                    s.request.tier = r.unwrap_or(t);
                }
                (None, _) => {
                    s.orphaned = true;
                    orphaned += 1;
                }
            }
        }
        orphaned
    }
}
