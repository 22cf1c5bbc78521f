//! The discrete-event loop: arrivals, provider service and queueing, rate limits, incidents and
//! timeouts in virtual time, driving the engine only through its public API (start, finish,
//! resume, cancel) exactly as the gateway does.
//!
//! Events sit in a binary heap ordered by (time, sequence number), so simultaneous events keep
//! their scheduling order. Two event kinds that are born in time order skip the heap: the next
//! arrival (one at a time) and client timeouts (arrival + a constant, so a FIFO queue).
//! Every random draw comes from a stream of its own (arrivals, sizes, one per deployment) seeded
//! from the run's seed and the stream's name, so adding a provider does not change another's draws.

mod events;
mod front;
mod provider;
mod request;
mod result;

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::time::Duration;

use engine::{ClientId, FailureKind, HedgeStats, LimitHeaders, Outcome, StrategyKind, TierId};
use rand::SeedableRng;

use crate::clients::{ClientRow, ClientTallies};
use crate::fleet::Fleet;
use crate::limiter::Limiter;
use crate::scenario::Scenario;
use crate::sessions::{CacheStats, PromptCaches, SessionPool};
use crate::stats::{DeploymentRow, RequestStats, Summary, TimeSeries};
use crate::trace::TraceSink;
use crate::workload::ArrivalClock;
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
    /// Hedged attempts sent, won and cancelled (zero unless a tier hedges).
    pub hedges: HedgeStats,
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

struct ProviderQueue {
    capacity: u32,
    in_service: u32,
    waiting: VecDeque<(u32, u64)>,
}

/// A simulation of one scenario under one strategy and seed.
pub(crate) struct Simulation<'a> {
    scenario: &'a Scenario,
    engine: Fleet,
    limiters: Vec<Limiter>,
    rngs: Vec<Rng>,
    providers: Vec<ProviderQueue>,
    requests: Vec<request::SimRequest>,
    heap: BinaryHeap<Reverse<events::Event>>,
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
