//! The state machine: routing → balancing → fallback, one request at a time.
//!
//! A driver calls [`Engine::start`] for a new request and follows the returned [`Step`]:
//! after a `Send` it reports the attempt's [`Outcome`] to [`Engine::finish`]; after a `Wait` it
//! calls [`Engine::resume`] at the given time. Every path ends in exactly one `Done` or `Failed`
//! (or the driver's own [`Engine::cancel`]). Time only ever comes in as `now`.
//!
//! Fallback order after a failed attempt: an untried deployment of the same tier, then untried
//! deployments of the tier's fallback tiers in order, then deployments already tried (never the
//! one that just failed while another is usable, and only after the retry backoff). If every
//! deployment of the chain is ejected by its circuit breaker but otherwise usable, the breakers
//! are ignored ("panic mode", as Envoy does) rather than failing everything at once.

use std::time::Duration;

use rand::SeedableRng;

use crate::affinity::SessionTable;
use crate::clients::ClientState;
use crate::config::{Config, Deployment, Price};
use crate::ids::{DeploymentId, RequestId, TierId};
use crate::latency::DecayRates;
use crate::metrics::{self, Metrics, Snapshot};
use crate::outcome::{FailureKind, Outcome};
use crate::state::DeploymentState;
use crate::step::{FailReason, Request, Step};
use crate::strategy::{Balancer, Rng, Selection};

mod admission;
mod bookkeeping;
mod cluster;
mod hedge;
mod reconfigure;
mod select;
mod settle;
mod slot;
mod steps;
mod sticky;

pub use hedge::{HedgeStats, Hedged};

pub use reconfigure::Reconfigured;
use slot::{ClientCharge, InFlight, Pass, Slot};

/// The routing, load-balancing and fallback engine. Pure and deterministic: same config, seed
/// and calls give the same steps.
pub struct Engine {
    config: Config,
    states: Vec<DeploymentState>,
    balancers: Vec<Box<dyn Balancer>>,
    /// Per tier, how its balancer's candidates are gathered.
    selections: Vec<Selection>,
    /// The estimators' decay rates, derived once from the config.
    rates: DecayRates,
    /// Per tier, the running sum of its deployments' weights (for weighted sampling).
    cumulative_weights: Vec<Vec<f64>>,
    slots: Vec<Slot>,
    free: Vec<u32>,
    /// Deployments removed by a reload while attempts were still out on them ("draining").
    /// Their state and metrics follow the live ones in `states` and `metrics.deployments`
    /// (index `config.deployments.len() + i`); no tier lists them, so nothing picks them.
    retired: Vec<Deployment>,
    /// Per `[[client]]`, its own limits' counters.
    clients: Vec<ClientState>,
    /// Per tier, the dearest prices a request routed there could reach (budget reservations).
    dearest: Vec<Price>,
    scratch: Vec<DeploymentId>,
    rng: Rng,
    metrics: Metrics,
    live: usize,
    /// The fraction of every limit this replica spends (1 alone; see [`crate::cluster`]).
    fleet_share: f64,
    /// Session → deployment that served it last (`[affinity]`).
    affinity: SessionTable,
    /// Per tier, its hedging delay estimate and counters.
    hedging: hedge::Hedging,
}

impl Engine {
    /// An engine for a checked config, with its random choices seeded by `seed`.
    pub fn new(config: Config, seed: u64) -> Engine {
        let states = config
            .deployments
            .iter()
            .map(DeploymentState::new)
            .collect();
        let (balancers, selections, cumulative_weights) = tables(&config);
        let metrics = Metrics::new(&config);
        Engine {
            scratch: Vec::with_capacity(config.deployments.len()),
            states,
            rates: DecayRates::new(&config.balancing, &config.health),
            balancers,
            selections,
            cumulative_weights,
            slots: Vec::new(),
            free: Vec::new(),
            retired: Vec::new(),
            clients: config.clients.iter().map(ClientState::new).collect(),
            dearest: crate::spend::dearest_prices(&config),
            rng: Rng::seed_from_u64(seed),
            metrics,
            live: 0,
            fleet_share: 1.0,
            affinity: SessionTable::new(config.affinity.sessions, config.affinity.ttl),
            hedging: hedge::Hedging::new(&config),
            config,
        }
    }

    /// The config this engine runs.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Routing: the tier for a requested model name (see [`Config::route`]).
    pub fn route(&self, model: &str) -> Option<TierId> {
        self.config.route(model)
    }

    /// Live state of every deployment, indexed by [`DeploymentId`].
    pub fn states(&self) -> &[DeploymentState] {
        &self.states[..self.config.deployments.len()]
    }

    /// Raw counters and histograms.
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// A plain picture of the metrics at `now`.
    pub fn snapshot(&self, now: Duration) -> Snapshot {
        Snapshot::build(&self.config, &self.metrics, &self.states, now)
    }

    /// Requests started and not yet ended.
    pub fn live_requests(&self) -> usize {
        self.live
    }

    /// Whether any deployment could take a small request right now (for readiness checks).
    pub fn any_usable(&self, now: Duration) -> bool {
        self.states().iter().any(|s| s.check(now, 1).is_ok())
    }

    /// Starts a request routed to `request.tier` and says where to send its first attempt.
    pub fn start(&mut self, request: Request, now: Duration) -> Step {
        self.begin(request, None, None, now)
    }

    /// Starts a request, with its session key and its client's reservation if it has them.
    fn begin(
        &mut self,
        request: Request,
        session: Option<u64>,
        charge: Option<ClientCharge>,
        now: Duration,
    ) -> Step {
        let slot = self.allocate(request, now);
        self.slots[slot].session = session;
        self.slots[slot].client = charge;
        self.live += 1;
        self.metrics.totals.started += 1;
        self.metrics.tiers[request.tier.index()].requests += 1;
        self.next_step(slot, now)
    }

    /// Reports how the attempt sent by the last `Send` step went; says what to do next.
    ///
    /// # Panics
    /// If `id` has no attempt in flight (a driver bug: finish called twice or after the end).
    pub fn finish(&mut self, id: RequestId, outcome: &Outcome, now: Duration) -> Step {
        self.finish_attempt(id, outcome, now, true)
    }

    /// Reports the attempt's outcome like [`Engine::finish`] but ends the request whatever the
    /// retry policy says: `Done` for a success, `Failed` (not retried) otherwise. For a stream
    /// that failed after its first bytes reached the client, which must never be restarted.
    ///
    /// # Panics
    /// If `id` has no attempt in flight.
    pub fn finish_final(&mut self, id: RequestId, outcome: &Outcome, now: Duration) -> Step {
        self.finish_attempt(id, outcome, now, false)
    }

    /// Asks again after a `Wait` step.
    ///
    /// # Panics
    /// If `id` is not a live request or has an attempt in flight.
    pub fn resume(&mut self, id: RequestId, now: Duration) -> Step {
        let slot = self.slot_index(id);
        let s = &mut self.slots[slot];
        assert!(
            s.current.is_none(),
            "resume called while an attempt is in flight"
        );
        if let Some(since) = s.waiting_since.take() {
            s.waited = s.waited.saturating_add(now.saturating_sub(since));
        }
        self.next_step(slot, now)
    }

    /// When the request's end-to-end deadline (`[retry] deadline`) falls, if it has one and is
    /// live. A driver bounds each attempt by it and calls [`Engine::expire`] when it passes.
    pub fn deadline(&self, id: RequestId) -> Option<Duration> {
        let slot = self.try_slot_index(id)?;
        let d = self.slots[slot].deadline;
        (d != Duration::MAX).then_some(d)
    }

    /// Ends a request whose deadline passed while an attempt was in flight or while it waited:
    /// the attempt is abandoned without blame on its deployment (like [`Engine::cancel`]) and
    /// the request fails with [`FailReason::Deadline`]. `None` if the request had already
    /// ended.
    pub fn expire(&mut self, id: RequestId, now: Duration) -> Option<Step> {
        let slot = self.try_slot_index(id)?;
        self.abandon_attempt(slot, now);
        let reason = FailReason::Deadline;
        self.end(slot, Some(reason), now);
        Some(Step::Failed {
            request: id,
            reason,
        })
    }

    /// Reports that the attempt in flight has shown its first byte (a streaming answer began).
    /// Optional: drivers that cannot tell may skip it, and `finish` then counts as the first
    /// byte. It lets the engine tell a deployment that stopped answering from one that is
    /// merely generating long answers. Ignored for a request with no attempt in flight.
    pub fn first_byte(&mut self, id: RequestId, now: Duration) {
        let Some(slot) = self.try_slot_index(id) else {
            return;
        };
        let Some(flight) = self.slots[slot].current.as_mut() else {
            return;
        };
        if !flight.first_byte {
            flight.first_byte = true;
            self.states[flight.deployment.index()].on_first_byte(now, true);
        }
    }

    /// Ends a request the driver gave up on (client gone, client timeout), releasing its
    /// in-flight slot. Returns false if the request had already ended.
    pub fn cancel(&mut self, id: RequestId, now: Duration) -> bool {
        let Some(slot) = self.try_slot_index(id) else {
            return false;
        };
        self.abandon_attempt(slot, now);
        self.metrics.totals.cancelled += 1;
        self.free_slot(slot);
        true
    }

    /// Releases the attempts in flight, if any, without judging their deployments.
    fn abandon_attempt(&mut self, slot: usize, now: Duration) {
        if let Some(flight) = self.slots[slot].hedge.take() {
            self.abandon_flight(flight, now);
        }
        if let Some(flight) = self.slots[slot].current.take() {
            self.abandon_flight(flight, now);
        }
    }

    /// Releases one attempt without judging its deployment.
    fn abandon_flight(&mut self, flight: InFlight, now: Duration) {
        self.release(flight.deployment);
        if !flight.first_byte {
            self.states[flight.deployment.index()].on_first_byte(now, false);
        }
        self.states[flight.deployment.index()]
            .breaker
            .on_neutral(flight.probe);
        self.metrics.deployments[flight.deployment.index()].cancelled += 1;
    }

    fn allocate(&mut self, request: Request, now: Duration) -> usize {
        let index = match self.free.pop() {
            Some(i) => i as usize,
            None => {
                self.slots.push(Slot::empty());
                self.slots.len() - 1
            }
        };
        let s = &mut self.slots[index];
        let generation = s.generation;
        let deadline = self
            .config
            .retry
            .deadline
            .map_or(Duration::MAX, |d| now.saturating_add(d));
        *s = Slot {
            generation,
            live: true,
            request,
            tier: request.tier,
            started: now,
            deadline,
            ..Slot::empty()
        };
        index
    }

    fn try_slot_index(&self, id: RequestId) -> Option<usize> {
        let s = self.slots.get(id.slot as usize)?;
        (s.live && s.generation == id.generation).then_some(id.slot as usize)
    }

    fn slot_index(&self, id: RequestId) -> usize {
        self.try_slot_index(id)
            .expect("request id does not name a live request (already ended?)")
    }

    fn id_of(&self, slot: usize) -> RequestId {
        RequestId {
            slot: slot as u32,
            generation: self.slots[slot].generation,
        }
    }

    fn free_slot(&mut self, slot: usize) {
        // A request that ends unpriced (failed, cancelled) gives its reservation back.
        if let Some(c) = self.slots[slot].client.take() {
            self.clients[c.client.index()].settle(c.at, c.reserved, 0);
        }
        let s = &mut self.slots[slot];
        s.live = false;
        s.generation = s.generation.wrapping_add(1);
        self.free.push(slot as u32);
        self.live -= 1;
    }

    /// Whether `d` names a deployment removed by a reload and still draining.
    fn is_retired(&self, d: DeploymentId) -> bool {
        d.index() >= self.config.deployments.len()
    }

    /// The config of a live or draining deployment.
    fn deployment_any(&self, d: DeploymentId) -> &Deployment {
        let n = self.config.deployments.len();
        match d.index().checked_sub(n) {
            None => &self.config.deployments[d.index()],
            Some(i) => &self.retired[i],
        }
    }
}

/// Per tier: its balancer, how candidates are gathered, and running sums of its weights.
#[allow(clippy::type_complexity)]
fn tables(config: &Config) -> (Vec<Box<dyn Balancer>>, Vec<Selection>, Vec<Vec<f64>>) {
    let balancers: Vec<Box<dyn Balancer>> = config
        .tiers
        .iter()
        .map(|t| {
            let members: Vec<(DeploymentId, f64)> = t
                .deployments
                .iter()
                .map(|&d| (d, config.deployments[d.index()].weight))
                .collect();
            t.strategy
                .build_with(t.objectives, config.deployments.len(), &members)
        })
        .collect();
    let selections = balancers
        .iter()
        .zip(&config.tiers)
        .map(|(b, t)| b.selection(t.deployments.len()))
        .collect();
    let cumulative_weights = config
        .tiers
        .iter()
        .map(|t| {
            t.deployments
                .iter()
                .scan(0.0, |sum, d| {
                    *sum += config.deployments[d.index()].weight;
                    Some(*sum)
                })
                .collect()
        })
        .collect();
    (balancers, selections, cumulative_weights)
}
