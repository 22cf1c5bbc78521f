//! The discrete-event loop: arrivals, provider service and queueing, rate limits, incidents and
//! timeouts in virtual time, driving the engine only through its public API (start, finish,
//! resume, cancel) exactly as the gateway does.
//!
//! Events sit in a binary heap ordered by (time, sequence number), so simultaneous events keep
//! their scheduling order. Two event kinds that are born in time order skip the heap: the next
//! arrival (one at a time) and client timeouts (arrival + a constant, so a FIFO queue).
//! Every random draw comes from a stream of its own (arrivals, sizes, one per deployment) seeded
//! from the run's seed and the stream's name, so adding a provider does not change another's draws.

use std::cmp::{Ordering, Reverse};
use std::collections::{BinaryHeap, VecDeque};
use std::time::Duration;

use engine::{
    ClientId, FailureKind, LimitHeaders, Outcome, Request, RequestId, Step, StrategyKind, TierId,
};
use rand::{Rng as _, SeedableRng};

use crate::clients::{ClientRow, ClientTallies};
use crate::fleet::Fleet;
use crate::limiter::Limiter;
use crate::scenario::Scenario;
use crate::sessions::{CacheStats, PromptCaches, SessionPool};
use crate::stats::{Column, DeploymentRow, RequestStats, Summary, TimeSeries};
use crate::trace::{TraceRow, TraceSink};
use crate::workload::ArrivalClock;
use crate::world::OutageMode;
use crate::Rng;

/// One request entering the gateway.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Arrival {
    /// Arrival time from the start of the run.
    pub at: Duration,
    /// Index of the requested model in [`ArrivalSource::models`].
    pub model: u32,
    /// Tier the model routes to.
    pub tier: TierId,
    /// Input tokens.
    pub input_tokens: u32,
    /// True output tokens.
    pub output_tokens: u32,
    /// Output tokens the gateway charges up front (`max_tokens`).
    pub estimated_output: u32,
    /// Whether the client asks for a streamed answer (a non-streamed answer's head is the whole
    /// answer, so `first_byte_timeout` covers all of it).
    pub stream: bool,
    /// The session (conversation) it belongs to, if any.
    pub session: Option<u64>,
}

/// Where arrivals come from: a modelled workload or a replayed trace.
pub trait ArrivalSource {
    /// The next arrival, in time order; `None` when exhausted.
    fn next_arrival(&mut self) -> Option<Arrival>;
    /// Requested model names, indexed by [`Arrival::model`].
    fn models(&self) -> Vec<String>;
    /// The `[[client]]` sending each model index's requests (`None`: no client); none by
    /// default.
    fn clients(&self) -> Vec<Option<ClientId>> {
        Vec::new()
    }
}

/// Arrivals drawn from a scenario's `[workload]`.
pub struct WorkloadSource<'a> {
    scenario: &'a Scenario,
    clock: ArrivalClock,
    arrivals_rng: Rng,
    sizes_rng: Rng,
    stream_rng: Rng,
    emitted: u64,
    /// The workload's conversations and their own random stream.
    sessions: Option<(SessionPool, Rng)>,
}

impl<'a> WorkloadSource<'a> {
    /// The scenario's workload under `seed`.
    pub fn new(scenario: &'a Scenario, seed: u64) -> WorkloadSource<'a> {
        let mut arrivals_rng = stream(seed, "arrivals");
        let clock = ArrivalClock::new(scenario.workload.arrivals.clone(), &mut arrivals_rng);
        WorkloadSource {
            scenario,
            clock,
            arrivals_rng,
            sizes_rng: stream(seed, "sizes"),
            stream_rng: stream(seed, "stream"),
            emitted: 0,
            sessions: scenario
                .workload
                .sessions
                .map(|spec| (SessionPool::new(spec), stream(seed, "sessions"))),
        }
    }
}

impl ArrivalSource for WorkloadSource<'_> {
    fn next_arrival(&mut self) -> Option<Arrival> {
        let settings = &self.scenario.settings;
        if settings.max_requests.is_some_and(|max| self.emitted >= max) {
            return None;
        }
        let at = self.clock.next(&mut self.arrivals_rng)?;
        if at >= settings.duration.as_secs_f64() {
            return None;
        }
        self.emitted += 1;
        let w = &self.scenario.workload;
        let model = w.pick_model(&mut self.sizes_rng);
        let (input_tokens, output_tokens, estimated_output) = w.draw_tokens(&mut self.sizes_rng);
        let (session, input_tokens) = match self.sessions.as_mut() {
            Some((pool, rng)) => {
                let (id, prompt) = pool.next_turn(rng, input_tokens, output_tokens);
                (Some(id), prompt)
            }
            None => (None, input_tokens),
        };
        Some(Arrival {
            at: Duration::from_secs_f64(at),
            model: model as u32,
            tier: w.mix[model].tier,
            input_tokens,
            output_tokens,
            estimated_output,
            stream: w.draws_stream(&mut self.stream_rng),
            session,
        })
    }

    fn models(&self) -> Vec<String> {
        self.scenario
            .workload
            .mix
            .iter()
            .map(|m| m.model.clone())
            .collect()
    }

    fn clients(&self) -> Vec<Option<ClientId>> {
        self.scenario
            .workload
            .mix
            .iter()
            .map(|m| m.client)
            .collect()
    }
}

/// A deterministic random stream named `name` under `seed` (FNV-1a of the name, mixed).
pub fn stream(seed: u64, name: &str) -> Rng {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in name.bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    Rng::seed_from_u64(seed ^ h.rotate_left(17))
}

/// Everything a finished run reports.
#[derive(Debug, Clone)]
pub struct RunResult {
    /// Headline numbers.
    pub summary: Summary,
    /// Per deployment.
    pub deployments: Vec<DeploymentRow>,
    /// Over time.
    pub timeseries: TimeSeries,
    /// End-to-end latency of successful requests, µs.
    pub latency: hdrhistogram::Histogram<u64>,
    /// Prompt-cache reads (zero unless providers cache prompts and requests form sessions).
    pub cache: CacheStats,
    /// Per `[[client]]` (empty without clients).
    pub clients: Vec<ClientRow>,
}

/// Knobs of one run.
pub struct RunOptions<'a> {
    /// Strategy for every tier; `None` runs each tier's configured strategy.
    pub strategy: Option<StrategyKind>,
    /// Seed of the engine and every stream.
    pub seed: u64,
    /// Per-attempt trace output.
    pub trace: Option<&'a mut dyn TraceSink>,
    /// Called now and then with simulated time so far.
    pub progress: Option<&'a mut dyn FnMut(Duration)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Deliver,
    Resume,
    ServiceEnd,
    FirstByteDeadline,
    FirstByte,
}

#[derive(Debug, Clone, Copy)]
struct Event {
    at: u64,
    seq: u64,
    kind: Kind,
    slot: u32,
    token: u64,
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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Idle,
    Queued,
    Pending,
}

#[derive(Debug, Clone, Copy)]
struct SimRequest {
    live: bool,
    id: Option<RequestId>,
    uid: u64,
    arrived: Duration,
    model: u32,
    tier: TierId,
    input_tokens: u32,
    output_tokens: u32,
    estimated_output: u32,
    token: u64,
    phase: Phase,
    deployment: u32,
    attempt: u8,
    sent_at: Duration,
    pending: Option<Outcome>,
    stream: bool,
    session: Option<u64>,
    /// Input tokens of the attempt in service read from the deployment's prompt cache.
    cached: u32,
    client: Option<ClientId>,
}

struct ProviderQueue {
    capacity: u32,
    in_service: u32,
    waiting: VecDeque<(u32, u64)>,
}

/// A simulation of one scenario under one strategy and seed.
pub struct Simulation<'a> {
    scenario: &'a Scenario,
    engine: Fleet,
    limiters: Vec<Limiter>,
    rngs: Vec<Rng>,
    providers: Vec<ProviderQueue>,
    requests: Vec<SimRequest>,
    heap: BinaryHeap<Reverse<Event>>,
    timeouts: VecDeque<(Duration, u32, u64)>,
    /// Requests' deadlines (`[retry] deadline`), in arrival order like client timeouts.
    deadlines: VecDeque<(Duration, u32, u64)>,
    seq: u64,
    now: Duration,
    stats: RequestStats,
    series: TimeSeries,
    models: Vec<String>,
    trace: Option<&'a mut dyn TraceSink>,
    caches: PromptCaches,
    cache: CacheStats,
    /// Per model index, the client sending it.
    model_clients: Vec<Option<ClientId>>,
    client_tallies: ClientTallies,
}

/// Runs `scenario` with arrivals from its workload.
pub fn run<'a>(scenario: &'a Scenario, options: RunOptions<'a>) -> RunResult {
    let mut source = WorkloadSource::new(scenario, options.seed);
    run_with(scenario, &mut source, options)
}

/// Runs `scenario` with arrivals from `source` (a workload or a trace).
pub fn run_with<'a>(
    scenario: &'a Scenario,
    source: &mut dyn ArrivalSource,
    options: RunOptions<'a>,
) -> RunResult {
    let RunOptions {
        strategy,
        seed,
        trace,
        mut progress,
    } = options;
    let config = match strategy {
        Some(s) => scenario.config.with_strategy(s),
        None => scenario.config.clone(),
    };
    let mut sim = Simulation {
        scenario,
        engine: Fleet::new(config, seed, &scenario.settings.replicas),
        limiters: scenario
            .world
            .deployments
            .iter()
            .map(|d| d.limiter())
            .collect(),
        rngs: scenario
            .world
            .deployments
            .iter()
            .map(|d| stream(seed, &format!("deployment/{}", d.id)))
            .collect(),
        providers: scenario
            .world
            .providers
            .iter()
            .map(|p| ProviderQueue {
                capacity: p.concurrency.unwrap_or(u32::MAX),
                in_service: 0,
                waiting: VecDeque::new(),
            })
            .collect(),
        requests: Vec::new(),
        heap: BinaryHeap::new(),
        timeouts: VecDeque::new(),
        deadlines: VecDeque::new(),
        seq: 0,
        now: Duration::ZERO,
        stats: RequestStats::default(),
        series: TimeSeries::new(
            scenario.settings.bucket,
            scenario
                .config
                .deployments
                .iter()
                .map(|d| d.id.clone())
                .collect(),
        ),
        models: source.models(),
        trace,
        caches: PromptCaches::new(scenario.world.deployments.len()),
        cache: CacheStats::default(),
        model_clients: source.clients(),
        client_tallies: ClientTallies::new(&scenario.config),
    };
    let mut next_arrival = source.next_arrival();
    let mut last_arrival = Duration::ZERO;
    let mut uid = 0u64;
    let mut since_progress = 0u32;
    loop {
        let heap_at = sim.heap.peek().map(|Reverse(e)| Duration::from_nanos(e.at));
        let timeout_at = sim.timeouts.front().map(|t| t.0);
        let deadline_at = sim.deadlines.front().map(|t| t.0);
        let arrival_at = next_arrival.map(|a| a.at);
        let Some(at) = [heap_at, timeout_at, deadline_at, arrival_at]
            .into_iter()
            .flatten()
            .min()
        else {
            break;
        };
        if at > last_arrival + scenario.settings.drain && next_arrival.is_none() {
            break;
        }
        sim.now = at;
        if heap_at == Some(at) {
            let Some(Reverse(event)) = sim.heap.pop() else {
                break;
            };
            sim.handle(event);
        } else if timeout_at == Some(at) {
            if let Some((_, slot, request_uid)) = sim.timeouts.pop_front() {
                sim.client_timeout(slot, request_uid);
            }
        } else if deadline_at == Some(at) {
            if let Some((_, slot, request_uid)) = sim.deadlines.pop_front() {
                sim.deadline_passed(slot, request_uid);
            }
        } else if let Some(arrival) = next_arrival {
            uid += 1;
            last_arrival = arrival.at;
            sim.arrive(arrival, uid);
            next_arrival = source.next_arrival();
            since_progress += 1;
            if since_progress == 1 << 14 {
                since_progress = 0;
                if let Some(p) = progress.as_mut() {
                    p(sim.now);
                }
            }
        }
    }
    sim.finish_run(strategy, seed)
}

impl Simulation<'_> {
    fn schedule(&mut self, at: Duration, kind: Kind, slot: u32, token: u64) {
        self.seq += 1;
        self.heap.push(Reverse(Event {
            at: crate::time::nanos(at),
            seq: self.seq,
            kind,
            slot,
            token,
        }));
    }

    fn next_token(&mut self) -> u64 {
        self.seq += 1;
        self.seq
    }

    fn arrive(&mut self, a: Arrival, uid: u64) {
        self.stats.arrivals += 1;
        let request = Request {
            tier: a.tier,
            input_tokens: a.input_tokens,
            output_tokens: a.estimated_output,
        };
        let client = self.model_clients.get(a.model as usize).copied().flatten();
        self.client_tallies.arrived(client);
        let step = match (client, a.session) {
            (None, Some(session)) => self.engine.start_in_session(request, session, self.now),
            (None, None) => self.engine.start(request, self.now),
            // A tenant's requests are not sticky (the client admission has no session variant).
            (Some(c), _) => match self.engine.start_for(c, request, self.now) {
                Ok(step) => step,
                Err(_) => {
                    // Refused by the client's own limits: counted by the engine, no slot.
                    self.series.request_ended(self.now, None);
                    return;
                }
            },
        };
        let slot = step.request().slot();
        if slot >= self.requests.len() {
            self.requests.resize(
                slot + 1,
                SimRequest {
                    live: false,
                    id: None,
                    uid: 0,
                    arrived: Duration::ZERO,
                    model: 0,
                    tier: a.tier,
                    input_tokens: 0,
                    output_tokens: 0,
                    estimated_output: 0,
                    token: 0,
                    phase: Phase::Idle,
                    deployment: 0,
                    attempt: 0,
                    sent_at: Duration::ZERO,
                    pending: None,
                    stream: true,
                    session: None,
                    cached: 0,
                    client: None,
                },
            );
        }
        self.requests[slot] = SimRequest {
            live: true,
            id: Some(step.request()),
            uid,
            arrived: self.now,
            model: a.model,
            tier: a.tier,
            input_tokens: a.input_tokens,
            output_tokens: a.output_tokens,
            estimated_output: a.estimated_output,
            token: 0,
            phase: Phase::Idle,
            deployment: 0,
            attempt: 0,
            sent_at: self.now,
            pending: None,
            stream: a.stream,
            session: a.session,
            cached: 0,
            client,
        };
        self.timeouts.push_back((
            self.now
                .saturating_add(self.scenario.workload.client_timeout),
            slot as u32,
            uid,
        ));
        if let Some(deadline) = self.engine.deadline(step.request()) {
            self.deadlines.push_back((deadline, slot as u32, uid));
        }
        self.apply(step);
    }

    fn apply(&mut self, step: Step) {
        let slot = step.request().slot();
        match step {
            Step::Send {
                deployment,
                attempt,
                ..
            } => self.dispatch(slot, deployment.index(), attempt),
            Step::Wait { until, .. } => {
                let token = self.next_token();
                let r = &mut self.requests[slot];
                r.token = token;
                r.phase = Phase::Idle;
                // Waiters never resume at one instant (see `resume_at`).
                let at = crate::time::resume_at(until, token);
                self.schedule(at, Kind::Resume, slot as u32, token);
            }
            Step::Done { .. } => {
                let r = &mut self.requests[slot];
                r.live = false;
                let latency = self.now.saturating_sub(r.arrived);
                self.stats.attempts += u64::from(r.attempt);
                self.stats.success(latency);
                let client = r.client;
                self.client_tallies.succeeded(client, latency);
                self.series.request_ended(self.now, Some(latency));
            }
            Step::Failed { .. } => {
                let r = &mut self.requests[slot];
                r.live = false;
                if r.attempt == 0 {
                    let r = *r;
                    if let Some(sink) = self.trace.as_mut() {
                        let row = TraceRow::refused(
                            r.uid,
                            self.now,
                            &self.models[r.model as usize],
                            &self.scenario.config.tiers[r.tier.index()].name,
                            (r.input_tokens, r.estimated_output),
                            r.stream,
                        );
                        let client = client_name(&self.scenario.config, r.client);
                        sink.attempt(&row.arrived(r.arrived).of_client(client));
                    }
                }
                let r = &mut self.requests[slot];
                self.stats.attempts += u64::from(r.attempt);
                self.series.request_ended(self.now, None);
            }
        }
    }

    /// Sends an attempt into the world: decides at once whatever the front door decides
    /// (outage, 429, error, hang), otherwise queues for or starts service.
    fn dispatch(&mut self, slot: usize, d: usize, attempt: u8) {
        let token = self.next_token();
        let now = self.now;
        {
            let r = &mut self.requests[slot];
            r.token = token;
            r.deployment = d as u32;
            r.attempt = attempt;
            r.sent_at = now;
            r.phase = Phase::Pending;
            r.cached = 0;
        }
        self.series.count(now, d, Column::Attempts);
        let world = &self.scenario.world;
        let wd = &world.deployments[d];
        let endpoint = &self.scenario.config.deployments[d].endpoint;
        let cond = world.conditions(d, now);
        let r = self.requests[slot];
        let timeout = |this: &mut Self| {
            if let Some(fb) = endpoint.first_byte_timeout.or(endpoint.total_timeout) {
                this.requests[slot].pending = Some(failure(
                    FailureKind::Timeout,
                    None,
                    None,
                    LimitHeaders::default(),
                ));
                this.schedule(now + fb, Kind::Deliver, slot as u32, token);
            }
            // Without an attempt timeout the attempt hangs until the client gives up.
        };
        match cond.outage {
            Some(OutageMode::Connection) => {
                return self.answer(
                    slot,
                    token,
                    wd.rejection_latency / 10,
                    failure(FailureKind::Connection, None, None, LimitHeaders::default()),
                );
            }
            Some(OutageMode::Unavailable) => {
                return self.answer(
                    slot,
                    token,
                    wd.rejection_latency,
                    failure(
                        FailureKind::Server,
                        Some(503),
                        None,
                        LimitHeaders::default(),
                    ),
                );
            }
            Some(OutageMode::Hang) => return timeout(self),
            None => {}
        }
        // Like OpenAI, the provider charges input + max_tokens up front and refunds nothing.
        let tokens = u64::from(r.input_tokens) + u64::from(r.estimated_output.max(r.output_tokens));
        if wd.context_exceeded(tokens).is_some() {
            // Rejected before any quota is charged, as providers validate the request first.
            let outcome = failure(
                FailureKind::ContextLength,
                Some(400),
                None,
                LimitHeaders::default(),
            );
            return self.answer(slot, token, wd.rejection_latency, outcome);
        }
        let headers = LimitHeaders::default();
        match self.limiters[d].admit(now, tokens, cond.limit_factor) {
            Ok(()) => {}
            Err(rejection) => {
                let outcome = failure(
                    FailureKind::RateLimited,
                    Some(429),
                    Some(rejection.retry_after),
                    rejection.headers,
                );
                return self.answer(slot, token, wd.rejection_latency, outcome);
            }
        }
        let rng = &mut self.rngs[d];
        let u: f64 = rng.random();
        if u < wd.error_rate + cond.extra_error_rate {
            let latency = crate::time::secs(wd.ttft.sample(rng) * cond.latency_factor);
            return self.answer(
                slot,
                token,
                latency,
                failure(FailureKind::Server, Some(500), None, headers),
            );
        }
        if u < wd.error_rate + cond.extra_error_rate + wd.timeout_rate {
            return timeout(self);
        }
        self.requests[slot].pending = Some(Outcome::Success {
            ttft: Duration::ZERO,
            input_tokens: r.input_tokens,
            output_tokens: r.output_tokens,
            headers,
        });
        let p = wd.provider;
        let q = &mut self.providers[p];
        if q.in_service < q.capacity {
            q.in_service += 1;
            self.start_service(slot, d);
        } else {
            q.waiting.push_back((slot as u32, token));
            self.requests[slot].phase = Phase::Queued;
            if let Some(fb) = endpoint.first_byte_timeout {
                self.schedule(now + fb, Kind::FirstByteDeadline, slot as u32, token);
            }
        }
    }

    fn answer(&mut self, slot: usize, token: u64, after: Duration, outcome: Outcome) {
        self.requests[slot].pending = Some(outcome);
        self.schedule(self.now + after, Kind::Deliver, slot as u32, token);
    }

    /// Service begins (capacity already taken): draw latency, apply attempt timeouts.
    fn start_service(&mut self, slot: usize, d: usize) {
        let now = self.now;
        let wd = &self.scenario.world.deployments[d];
        let endpoint = &self.scenario.config.deployments[d].endpoint;
        let factor = self.scenario.world.conditions(d, now).latency_factor;
        let r = self.requests[slot];
        let cache = self.scenario.world.providers[wd.provider].prompt_cache;
        let (cached, saving) = match (cache, r.session) {
            (Some(c), Some(session)) => {
                let cached = self.caches.serve(d, &c, session, r.input_tokens, now);
                let share = f64::from(cached) / f64::from(r.input_tokens.max(1));
                (cached, c.ttft_saving * share)
            }
            _ => (0, 0.0),
        };
        self.requests[slot].cached = cached;
        let rng = &mut self.rngs[d];
        let ttft = crate::time::secs(wd.ttft.sample(rng) * factor * (1.0 - saving));
        let generation =
            crate::time::secs(f64::from(r.output_tokens) * wd.per_token.sample(rng) * factor);
        let waited = now.saturating_sub(r.sent_at);
        if self.providers[wd.provider].capacity != u32::MAX {
            self.schedule(
                now + ttft + generation,
                Kind::ServiceEnd,
                wd.provider as u32,
                0,
            );
        }
        // The head of a non-streamed answer is the whole answer, as the gateway sees it.
        let head = if r.stream { ttft } else { ttft + generation };
        let timeout_at = match (endpoint.first_byte_timeout, endpoint.total_timeout) {
            (Some(fb), _) if waited + head > fb => Some(r.sent_at + fb),
            (_, Some(total)) if waited + ttft + generation > total => Some(r.sent_at + total),
            _ => None,
        };
        let (at, outcome) = match (timeout_at, r.pending) {
            (Some(at), _) => (
                at,
                failure(FailureKind::Timeout, None, None, LimitHeaders::default()),
            ),
            (
                None,
                Some(Outcome::Success {
                    input_tokens,
                    output_tokens,
                    headers,
                    ..
                }),
            ) => (
                now + ttft + generation,
                Outcome::Success {
                    ttft: waited + head,
                    input_tokens,
                    output_tokens,
                    headers,
                },
            ),
            (None, _) => unreachable!("service starts only for attempts admitted as successes"),
        };
        let r = &mut self.requests[slot];
        r.phase = Phase::Pending;
        r.pending = Some(outcome);
        let token = r.token;
        self.schedule(at, Kind::Deliver, slot as u32, token);
        if timeout_at.is_none() {
            self.schedule(now + head, Kind::FirstByte, slot as u32, token);
        }
    }

    fn is_current(&self, slot: usize, token: u64) -> bool {
        let r = &self.requests[slot];
        r.live && r.token == token
    }

    fn handle(&mut self, e: Event) {
        let slot = e.slot as usize;
        match e.kind {
            Kind::Deliver
                if self.is_current(slot, e.token)
                    && self.requests[slot].phase == Phase::Pending =>
            {
                self.deliver(slot);
            }
            Kind::Resume if self.is_current(slot, e.token) => {
                let Some(id) = self.requests[slot].id else {
                    return;
                };
                let step = self.engine.resume(id, self.now);
                self.apply(step);
            }
            Kind::FirstByteDeadline
                if self.is_current(slot, e.token) && self.requests[slot].phase == Phase::Queued =>
            {
                self.requests[slot].phase = Phase::Pending;
                self.requests[slot].pending = Some(failure(
                    FailureKind::Timeout,
                    None,
                    None,
                    LimitHeaders::default(),
                ));
                self.deliver(slot);
            }
            Kind::FirstByte if self.is_current(slot, e.token) => {
                if let Some(id) = self.requests[slot].id {
                    self.engine.first_byte(id, self.now);
                }
            }
            Kind::ServiceEnd => self.service_end(slot),
            _ => {}
        }
    }

    fn service_end(&mut self, provider: usize) {
        self.providers[provider].in_service -= 1;
        while let Some((slot, token)) = self.providers[provider].waiting.pop_front() {
            let slot = slot as usize;
            if self.is_current(slot, token) && self.requests[slot].phase == Phase::Queued {
                self.providers[provider].in_service += 1;
                let d = self.requests[slot].deployment as usize;
                self.start_service(slot, d);
                break;
            }
        }
    }

    fn deliver(&mut self, slot: usize) {
        let r = &mut self.requests[slot];
        let Some(mut outcome) = r.pending.take() else {
            return;
        };
        r.phase = Phase::Idle;
        let r = *r;
        let d = r.deployment as usize;
        // Rate-limit headers describe the provider's budget when the answer leaves it.
        if let Outcome::Success { headers, .. }
        | Outcome::Failure {
            kind: FailureKind::RateLimited | FailureKind::Server,
            headers,
            ..
        } = &mut outcome
        {
            let factor = self.scenario.world.conditions(d, self.now).limit_factor;
            let fidelity =
                self.scenario.world.providers[self.scenario.world.deployments[d].provider].headers;
            *headers = fidelity.filter(self.limiters[d].headers(self.now, factor));
        }
        // Client errors are the request's fault, not the deployment's: no column for them.
        let column = match outcome.failure_kind() {
            None => Some(Column::Ok),
            Some(FailureKind::RateLimited) => Some(Column::RateLimited),
            Some(FailureKind::Client | FailureKind::ContextLength) => None,
            Some(_) => Some(Column::Errors),
        };
        if let Some(column) = column {
            self.series.count(self.now, d, column);
        }
        if let Some(sink) = self.trace.as_mut() {
            sink.attempt(
                &TraceRow::from_attempt(
                    r.uid,
                    r.attempt,
                    r.sent_at,
                    self.now,
                    &self.models[r.model as usize],
                    &self.scenario.config.tiers[r.tier.index()].name,
                    &self.scenario.config.deployments[d].id,
                    r.input_tokens,
                    &outcome,
                    r.stream,
                    r.estimated_output,
                )
                .arrived(r.arrived)
                .of_client(client_name(&self.scenario.config, r.client)),
            );
        }
        let Some(id) = r.id else { return };
        if let Outcome::Success { input_tokens, .. } = outcome {
            // A success was served (start_service), which set this attempt's cache read.
            let cached = r.cached;
            self.cache.input_tokens += u64::from(input_tokens);
            self.cache.cached_input_tokens += u64::from(cached);
            self.cache.hits += u64::from(cached > 0);
            self.cache.attempts += 1;
            self.engine.cache_read(id, cached);
        }
        let step = self.engine.finish(id, &outcome, self.now);
        self.apply(step);
    }

    fn client_timeout(&mut self, slot: u32, uid: u64) {
        let slot = slot as usize;
        let r = &mut self.requests[slot];
        if !(r.live && r.uid == uid) {
            return;
        }
        r.live = false;
        let r = *r;
        let Some(id) = r.id else { return };
        if r.phase != Phase::Idle {
            if let Some(sink) = self.trace.as_mut() {
                sink.attempt(
                    &TraceRow::cancelled(
                        r.uid,
                        r.attempt,
                        r.sent_at,
                        self.now,
                        &self.models[r.model as usize],
                        &self.scenario.config.tiers[r.tier.index()].name,
                        &self.scenario.config.deployments[r.deployment as usize].id,
                        (r.input_tokens, r.estimated_output),
                        r.stream,
                    )
                    .arrived(r.arrived)
                    .of_client(client_name(&self.scenario.config, r.client)),
                );
            }
        }
        self.stats.attempts += u64::from(r.attempt);
        self.stats.client_timeouts += 1;
        self.engine.cancel(id, self.now);
        self.series.request_ended(self.now, None);
    }

    /// The request's deadline passed with an attempt in flight or while it waited: the engine
    /// ends it (the attempt is abandoned like a client's cancel).
    fn deadline_passed(&mut self, slot: u32, uid: u64) {
        let slot = slot as usize;
        let r = &self.requests[slot];
        if !(r.live && r.uid == uid) {
            return;
        }
        let Some(id) = r.id else { return };
        if let Some(step) = self.engine.expire(id, self.now) {
            self.apply(step);
        }
    }

    fn finish_run(self, strategy: Option<StrategyKind>, seed: u64) -> RunResult {
        let strategy = strategy.map_or_else(
            || self.scenario.config.strategy_label(),
            |s| s.name().to_owned(),
        );
        let snapshot = self.engine.snapshot(self.now);
        let t = snapshot.totals;
        let s = &self.stats;
        let p = s.percentiles();
        let rate = |a: u64, b: u64| if b > 0 { a as f64 / b as f64 } else { 0.0 };
        let sum = |f: fn(&engine::metrics::DeploymentSnapshot) -> u64| {
            snapshot.deployments.iter().map(f).sum::<u64>()
        };
        let name = self.scenario.name.clone();
        let client_states = self.engine.client_states();
        let refused: u64 = client_states.iter().map(|c| c.refused).sum();
        let clients = crate::clients::rows(
            (&name, &strategy, seed),
            &self.scenario.config,
            &self.client_tallies,
            &client_states,
        );
        let summary = Summary {
            scenario: name.clone(),
            strategy: strategy.clone(),
            seed,
            requests: s.arrivals,
            successes: s.successes,
            failures: t.failed() + s.client_timeouts + refused,
            in_flight_at_end: self.engine.live_requests() as u64,
            success_rate: rate(s.successes, s.arrivals),
            failed_client_error: t.failed_client,
            failed_attempts_exhausted: t.failed_attempts_exhausted,
            failed_no_capacity: t.failed_no_capacity,
            failed_not_retried: t.failed_not_retried,
            failed_client_timeout: s.client_timeouts,
            failed_deadline: t.failed_deadline,
            latency_mean_ms: if s.successes > 0 {
                s.latency_sum.as_secs_f64() * 1000.0 / s.successes as f64
            } else {
                0.0
            },
            latency_p50_ms: p.p50_ms,
            latency_p90_ms: p.p90_ms,
            latency_p99_ms: p.p99_ms,
            latency_max_ms: p.max_ms,
            attempts_per_request: rate(s.attempts, s.arrivals),
            retries: sum(|d| d.retries),
            fallbacks: sum(|d| d.fallbacks),
            rate_limit_hits: sum(|d| d.rate_limited),
            server_errors: sum(|d| d.server_errors),
            timeouts: sum(|d| d.timeouts),
            connection_errors: sum(|d| d.connection_errors),
            cost: snapshot.deployments.iter().map(|d| d.cost).sum(),
            simulated_seconds: self.now.as_secs_f64(),
        };
        let deployments = snapshot
            .deployments
            .iter()
            .zip(&self.scenario.config.deployments)
            .map(|(d, c)| DeploymentRow {
                scenario: name.clone(),
                strategy: strategy.clone(),
                seed,
                deployment: d.id.clone(),
                provider: c.provider.clone(),
                tier: d.tier.clone(),
                configured_share: d.configured_share,
                actual_share: d.actual_share,
                attempts: d.attempts,
                successes: d.successes,
                success_rate: rate(d.successes, d.attempts),
                rate_limited: d.rate_limited,
                server_errors: d.server_errors,
                timeouts: d.timeouts,
                connection_errors: d.connection_errors,
                ejections: d.ejections,
                latency_p50_ms: d.latency.p50_ms,
                latency_p90_ms: d.latency.p90_ms,
                latency_p99_ms: d.latency.p99_ms,
                ttft_p50_ms: d.ttft.p50_ms,
                input_tokens: d.input_tokens,
                output_tokens: d.output_tokens,
                cost: d.cost,
            })
            .collect();
        RunResult {
            summary,
            deployments,
            timeseries: self.series,
            latency: self.stats.latency,
            cache: self.cache,
            clients,
        }
    }
}

fn failure(
    kind: FailureKind,
    status: Option<u16>,
    retry_after: Option<Duration>,
    headers: LimitHeaders,
) -> Outcome {
    Outcome::Failure {
        kind,
        status,
        retry_after,
        headers,
    }
}

/// The `[[client]]` name of a request for the trace (empty without one).
fn client_name(config: &engine::Config, client: Option<ClientId>) -> &str {
    client.map_or("", |c| config.clients[c.index()].name.as_str())
}
