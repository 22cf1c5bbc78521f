//! A simulated fleet of gateway replicas: one engine per replica, each request handled by the
//! replica its load balancer sends it to, and the replicas exchanging their use every
//! `sync_interval` through a modelled store with a `sync_delay` round trip — the same exchange
//! (`engine::cluster::Replica`) the gateway carries to Redis. With one replica it is exactly
//! one engine and nothing else happens.
//!
//! Exchanges run lazily: before each call at `now`, every exchange due by `now` is carried out
//! at its own time, in time order — the engines see no call between, so the order is what an
//! event queue would give.

use std::collections::VecDeque;
use std::time::Duration;

use engine::clients::ClientState;
use engine::cluster::{Replica, ReplicaRecord};
use engine::metrics::Snapshot;
use engine::{
    ClientId, ClientRefusal, Config, Engine, HedgeStats, Hedged, Outcome, Request, RequestId, Step,
};

use crate::scenario::Replicas;

/// What the store held when a replica published, on its way back to that replica.
struct Import {
    at: Duration,
    replica: usize,
    records: Vec<(String, ReplicaRecord)>,
}

/// N engines behind one driver-facing API (the engine's own method names).
pub struct Fleet {
    engines: Vec<Engine>,
    replicas: Vec<Replica>,
    /// Each replica's last published record (the store).
    store: Vec<Option<ReplicaRecord>>,
    next_publish: Vec<Duration>,
    imports: VecDeque<Import>,
    interval: Duration,
    delay: Duration,
    /// Smooth weighted round robin over replicas: weights and running credits.
    weights: Vec<f64>,
    credits: Vec<f64>,
    exchanges: u64,
}

impl Fleet {
    /// A fleet for `config` as `replicas` describes, seeded from `seed` (replica 0 gets `seed`
    /// itself, so one replica is the single engine of before).
    pub fn new(config: Config, seed: u64, replicas: &Replicas) -> Fleet {
        let n = replicas.count.max(1) as usize;
        let exchange = n > 1 && replicas.shared;
        let mut engines: Vec<Engine> = (0..n)
            .map(|i| Engine::new(config.clone(), seed.wrapping_add(i as u64)))
            .collect();
        if exchange {
            for e in &mut engines {
                e.cluster_isolated(Duration::ZERO, n as u32);
            }
        }
        let spread = replicas.sync_interval / n as u32;
        Fleet {
            engines,
            replicas: (0..n)
                .map(|i| Replica::new(format!("replica-{i}"), 1, n as u32))
                .collect(),
            store: vec![None; n],
            next_publish: (0..n)
                .map(|i| {
                    if exchange {
                        spread * i as u32
                    } else {
                        Duration::MAX
                    }
                })
                .collect(),
            imports: VecDeque::new(),
            interval: replicas.sync_interval,
            delay: replicas.sync_delay,
            weights: replicas.weights.clone(),
            credits: vec![0.0; n],
            exchanges: 0,
        }
    }

    fn n(&self) -> u32 {
        self.engines.len() as u32
    }

    /// Exchanges carried out so far (publishes).
    pub fn exchanges(&self) -> u64 {
        self.exchanges
    }

    fn catch_up(&mut self, now: Duration) {
        loop {
            let (i, publish_at) = self
                .next_publish
                .iter()
                .copied()
                .enumerate()
                .min_by_key(|&(_, t)| t)
                .unwrap_or((0, Duration::MAX));
            let import_at = self.imports.front().map_or(Duration::MAX, |x| x.at);
            if import_at.min(publish_at) > now {
                return;
            }
            if import_at <= publish_at {
                if let Some(x) = self.imports.pop_front() {
                    self.replicas[x.replica].absorb(&mut self.engines[x.replica], x.at, &x.records);
                }
            } else {
                let record = self.replicas[i].publish(&mut self.engines[i], publish_at);
                self.store[i] = Some(record);
                let records = self
                    .store
                    .iter()
                    .zip(&self.replicas)
                    .filter_map(|(r, who)| Some((who.name().to_owned(), r.clone()?)))
                    .collect();
                self.imports.push_back(Import {
                    at: publish_at.saturating_add(self.delay),
                    replica: i,
                    records,
                });
                self.next_publish[i] = publish_at.saturating_add(self.interval);
                self.exchanges += 1;
            }
        }
    }

    /// The replica the next request goes to.
    fn pick(&mut self) -> usize {
        if self.engines.len() == 1 {
            return 0;
        }
        let total: f64 = self.weights.iter().sum();
        for (c, w) in self.credits.iter_mut().zip(&self.weights) {
            *c += w;
        }
        let best = (0..self.credits.len())
            .max_by(|&a, &b| self.credits[a].total_cmp(&self.credits[b]).then(b.cmp(&a)))
            .unwrap_or(0);
        self.credits[best] -= total;
        best
    }

    fn route(&mut self, id: RequestId, now: Duration) -> (usize, RequestId) {
        self.catch_up(now);
        let (tag, inner) = id.untagged(self.n());
        (tag as usize, inner)
    }

    fn tag(&self, replica: usize, step: Step) -> Step {
        let n = self.n();
        let t = |r: RequestId| r.tagged(replica as u32, n);
        match step {
            Step::Send {
                request,
                deployment,
                attempt,
            } => Step::Send {
                request: t(request),
                deployment,
                attempt,
            },
            Step::Wait { request, until } => Step::Wait {
                request: t(request),
                until,
            },
            Step::Done { request } => Step::Done {
                request: t(request),
            },
            Step::Failed { request, reason } => Step::Failed {
                request: t(request),
                reason,
            },
        }
    }

    /// [`Engine::start`] on the replica the load balancer picks.
    pub fn start(&mut self, request: Request, now: Duration) -> Step {
        self.catch_up(now);
        let r = self.pick();
        let step = self.engines[r].start(request, now);
        self.tag(r, step)
    }

    /// [`Engine::start_in_session`] on the replica the load balancer picks (each replica keeps
    /// its own session table, as separate gateways do).
    pub fn start_in_session(&mut self, request: Request, session: u64, now: Duration) -> Step {
        self.catch_up(now);
        let r = self.pick();
        let step = self.engines[r].start_in_session(request, session, now);
        self.tag(r, step)
    }

    /// [`Engine::cache_read`].
    pub fn cache_read(&mut self, id: RequestId, tokens: u32) {
        let (tag, inner) = id.untagged(self.n());
        self.engines[tag as usize].cache_read(inner, tokens);
    }

    /// [`Engine::start_for_optional_session`] on the replica the load balancer picks. With the
    /// exchange on, each replica also counts the others' use of the client's windows
    /// (fleet-wide limits).
    pub fn start_for(
        &mut self,
        client: ClientId,
        request: Request,
        session: Option<u64>,
        now: Duration,
    ) -> Result<Step, ClientRefusal> {
        self.catch_up(now);
        let r = self.pick();
        let engine = &mut self.engines[r];
        let step = engine.start_for_optional_session(client, request, session, now)?;
        Ok(self.tag(r, step))
    }

    /// Every client's counters over the fleet: replica 0's windows, counts and spend summed.
    pub fn client_states(&self) -> Vec<ClientState> {
        let (first, rest) = self
            .engines
            .split_first()
            .expect("a fleet has at least one engine");
        let mut states = first.client_states().to_vec();
        for e in rest {
            for (s, o) in states.iter_mut().zip(e.client_states()) {
                s.add_counts(o);
            }
        }
        states
    }

    /// [`Engine::deadline`].
    pub fn deadline(&self, id: RequestId) -> Option<Duration> {
        let (tag, inner) = id.untagged(self.n());
        self.engines[tag as usize].deadline(inner)
    }

    /// [`Engine::resume`].
    pub fn resume(&mut self, id: RequestId, now: Duration) -> Step {
        let (r, inner) = self.route(id, now);
        let step = self.engines[r].resume(inner, now);
        self.tag(r, step)
    }

    /// [`Engine::hedge_at`].
    pub fn hedge_at(&self, id: RequestId) -> Option<Duration> {
        let (tag, inner) = id.untagged(self.n());
        self.engines[tag as usize].hedge_at(inner)
    }

    /// [`Engine::hedge`].
    pub fn hedge(&mut self, id: RequestId, now: Duration) -> Option<Step> {
        let (r, inner) = self.route(id, now);
        let step = self.engines[r].hedge(inner, now)?;
        Some(self.tag(r, step))
    }

    /// [`Engine::first_byte_of`].
    pub fn first_byte_of(&mut self, id: RequestId, attempt: u8, now: Duration) -> Option<u8> {
        let (r, inner) = self.route(id, now);
        self.engines[r].first_byte_of(inner, attempt, now)
    }

    /// [`Engine::finish_of`].
    pub fn finish_of(
        &mut self,
        id: RequestId,
        attempt: u8,
        outcome: &Outcome,
        now: Duration,
    ) -> Hedged {
        let (r, inner) = self.route(id, now);
        let hedged = self.engines[r].finish_of(inner, attempt, outcome, now);
        Hedged {
            step: hedged.step.map(|s| self.tag(r, s)),
            cancel: hedged.cancel,
        }
    }

    /// Hedging counters summed over the fleet.
    pub fn hedge_stats(&self) -> HedgeStats {
        self.engines
            .iter()
            .map(Engine::hedge_stats)
            .fold(HedgeStats::default(), |a, b| HedgeStats {
                sent: a.sent + b.sent,
                won: a.won + b.won,
                cancelled: a.cancelled + b.cancelled,
                cancelled_input_tokens: a.cancelled_input_tokens + b.cancelled_input_tokens,
            })
    }

    /// [`Engine::cancel`].
    pub fn cancel(&mut self, id: RequestId, now: Duration) -> bool {
        let (r, inner) = self.route(id, now);
        self.engines[r].cancel(inner, now)
    }

    /// [`Engine::expire`].
    pub fn expire(&mut self, id: RequestId, now: Duration) -> Option<Step> {
        let (r, inner) = self.route(id, now);
        let step = self.engines[r].expire(inner, now)?;
        Some(self.tag(r, step))
    }

    /// Requests started and not yet ended, over the fleet.
    pub fn live_requests(&self) -> usize {
        self.engines.iter().map(Engine::live_requests).sum()
    }

    /// One snapshot of the whole fleet: counts and histograms summed, live state (cooldowns,
    /// breakers, utilisation) of replica 0, attempts in flight summed.
    pub fn snapshot(&self, now: Duration) -> Snapshot {
        let (first, rest) = self
            .engines
            .split_first()
            .expect("a fleet has at least one engine");
        if rest.is_empty() {
            return first.snapshot(now);
        }
        let mut metrics = first.metrics().clone();
        let mut states = first.states().to_vec();
        for e in rest {
            metrics.merge(e.metrics());
            for (s, o) in states.iter_mut().zip(e.states()) {
                s.in_flight += o.in_flight;
            }
        }
        Snapshot::build(first.config(), &metrics, &states, now)
    }
}
