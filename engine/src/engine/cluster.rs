//! The engine's side of a fleet exchange (see [`crate::cluster`]): its use and health out,
//! the others' in. Called by a driver between requests, never on a request's path.

use std::time::Duration;

use super::Engine;
use crate::cluster::{News, Report};

impl Engine {
    /// What this replica did since the last export, per live deployment (indexed by
    /// [`crate::DeploymentId`]), into `out`; the use moves into the replica's view of the
    /// fleet's budget; and every `[[client]]`'s use of its own windows since the last export,
    /// with what each window counts now, into `clients` (indexed by [`crate::ClientId`]).
    pub fn cluster_export(
        &mut self,
        now: Duration,
        out: &mut Vec<Report>,
        clients: &mut Vec<([i64; 5], [i64; 5])>,
    ) {
        clients.clear();
        clients.extend(
            self.clients
                .iter_mut()
                .map(|c| (c.take_pending(), c.in_windows(now))),
        );
        out.clear();
        let n = self.config.deployments.len();
        for state in &mut self.states[..n] {
            let used = [
                state.rpm.export_used(now),
                state.tpm.export_used(now),
                state.rpd.export_used(now),
            ];
            out.push(Report {
                used,
                cooldown_until: state.cooldown_until,
                breaker_open_until: state.breaker.open_until(),
                observed: [state.rpm.take_observation(), state.tpm.take_observation()],
                fleet_used: [
                    state.rpm.fleet_used(now),
                    state.tpm.fleet_used(now),
                    state.rpd.fleet_used(now),
                ],
            });
        }
    }

    /// What the rest of the fleet did (`news` indexed like [`Engine::cluster_export`]'s
    /// output; a shorter slice leaves the rest alone) and how many replicas it counts, this one
    /// included: budgets become this replica's share of the fleet's headroom; cooldowns and
    /// breaker openings are adopted; the provider's reported limits are learned; the other
    /// replicas' use of each client's windows (`clients`, indexed by [`crate::ClientId`])
    /// counts here too, so a client's limits and budgets hold for the whole fleet.
    pub fn cluster_import(
        &mut self,
        now: Duration,
        replicas: u32,
        news: &[News],
        clients: &[[i64; 5]],
    ) {
        for (state, others) in self.clients.iter_mut().zip(clients) {
            state.absorb(now, *others);
        }
        self.fleet_share = 1.0 / f64::from(replicas.max(1));
        let share = self.fleet_share;
        let n = self.config.deployments.len();
        for (state, news) in self.states[..n].iter_mut().zip(news) {
            for (window, seen) in [&mut state.rpm, &mut state.tpm]
                .into_iter()
                .zip(news.observed)
            {
                if let Some(seen) = seen {
                    window.observe_fleet(now, seen);
                }
            }
            let windows = [&mut state.rpm, &mut state.tpm, &mut state.rpd];
            for ((window, used), joined) in windows.into_iter().zip(news.used).zip(news.joined_used)
            {
                window.import(now, used + joined, share);
            }
            state.cooldown_until = state.cooldown_until.max(news.cooldown_until);
            if let Some(until) = news.breaker_open_until {
                state.breaker.open_from_fleet(now, until);
            }
        }
    }

    /// The store cannot be reached: spend at most limit ÷ `replicas` of every window on this
    /// replica's own count until the next successful [`Engine::cluster_import`].
    pub fn cluster_isolated(&mut self, now: Duration, replicas: u32) {
        self.fleet_share = 1.0 / f64::from(replicas.max(1));
        self.apply_fleet_share(now);
    }

    /// The fraction of every limit this replica spends (1 alone).
    pub fn fleet_share(&self) -> f64 {
        self.fleet_share
    }

    /// Gives every deployment the current share (after a reload brought new ones).
    pub(super) fn apply_fleet_share(&mut self, now: Duration) {
        let share = self.fleet_share;
        for state in &mut self.states {
            state.rpm.set_share(now, share);
            state.tpm.set_share(now, share);
            state.rpd.set_share(now, share);
        }
    }
}
