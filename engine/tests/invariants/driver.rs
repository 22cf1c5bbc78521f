//! The driver: an event queue of arrivals, attempt completions and resumes that feeds the
//! engine and follows every step the way a real driver must, recording what happened in a
//! [`Report`].

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Duration;

use engine::state::DeploymentState;
use engine::{
    Config, DeploymentId, Engine, FailureKind, LimitHeaders, Outcome, Request, RequestId, Step,
    TierId,
};

use crate::inputs::{Arrival, ConfigSpec, Kind, OutcomeSpec};

fn outcome_of(spec: &OutcomeSpec, request: &Request) -> Outcome {
    let headers = spec
        .headers
        .map(|(rr, rsr, rt, rst)| LimitHeaders {
            limit_requests: None,
            limit_tokens: None,
            remaining_requests: rr,
            reset_requests: rsr.map(Duration::from_millis),
            remaining_tokens: rt,
            reset_tokens: rst.map(Duration::from_millis),
        })
        .unwrap_or_default();
    let failure = |kind, status, retry_after| Outcome::Failure {
        kind,
        status,
        retry_after,
        headers,
    };
    match spec.kind {
        Kind::Success => Outcome::Success {
            ttft: Duration::from_millis(spec.latency_ms / 4),
            input_tokens: request.input_tokens,
            output_tokens: request.output_tokens / 2,
            headers,
        },
        Kind::RateLimited { retry_after_ms } => failure(
            FailureKind::RateLimited,
            Some(429),
            retry_after_ms.map(Duration::from_millis),
        ),
        Kind::Server => failure(FailureKind::Server, Some(503), None),
        Kind::Timeout => failure(FailureKind::Timeout, None, None),
        Kind::Connection => failure(FailureKind::Connection, None, None),
        Kind::Client { status } => failure(FailureKind::Client, Some(status), None),
        Kind::ContextLength => failure(FailureKind::ContextLength, Some(400), None),
        Kind::Cancel => unreachable!("cancel is not an outcome"),
    }
}

#[derive(Debug)]
pub(crate) enum Event {
    Arrive(usize),
    Attempt(RequestId, OutcomeSpec),
    Resume(RequestId),
}

/// What the driver knows about a live request.
#[derive(Debug, Clone)]
pub(crate) struct LiveRequest {
    pub(crate) request: Request,
    /// The tier whose chain is tried: the routed one, or a context fallback moved to.
    pub(crate) tier: TierId,
    pub(crate) attempts: u8,
    /// Deployments sent to so far, in order (all but a live attempt's failed and were retried).
    pub(crate) sent: Vec<DeploymentId>,
    pub(crate) last_failure: Option<FailureKind>,
    pub(crate) in_flight: bool,
    pub(crate) waiting: bool,
    /// Time spent in waits so far, and when the current one began.
    pub(crate) waited: Duration,
    pub(crate) wait_began: Duration,
}

/// What happened in one run.
#[derive(Debug, Default)]
pub(crate) struct Report {
    /// Every step, with the time it was returned.
    pub(crate) log: Vec<(Duration, Step)>,
    pub(crate) started: Vec<RequestId>,
    /// Terminal steps received per request.
    pub(crate) terminals: HashMap<RequestId, u32>,
    pub(crate) cancelled: HashSet<RequestId>,
    /// Broken invariants about request lifecycles (a).
    pub(crate) lifecycle: Vec<String>,
    /// Waits that end after the request's wait budget (`retry.max_wait`) is spent (a).
    pub(crate) beyond_max_wait: Vec<String>,
    /// Broken invariants about where attempts went (b).
    pub(crate) placement: Vec<String>,
    pub(crate) live_at_end: usize,
    pub(crate) totals_balance: bool,
}

/// The call that produced a step.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Cause {
    Start,
    Resume,
    /// `finish` of an attempt on this deployment with this outcome.
    Finish(DeploymentId, Kind),
}

pub(crate) struct Driver {
    pub(crate) engine: Engine,
    pub(crate) config: Config,
    pub(crate) arrivals: Vec<Arrival>,
    pub(crate) outcomes: Vec<OutcomeSpec>,
    pub(crate) next_outcome: usize,
    pub(crate) queue: BTreeMap<(Duration, u64), Event>,
    pub(crate) seq: u64,
    pub(crate) live: HashMap<RequestId, LiveRequest>,
    pub(crate) report: Report,
}

const MAX_STEPS: usize = 200_000;

impl Driver {
    fn new(config: Config, seed: u64, arrivals: Vec<Arrival>, outcomes: Vec<OutcomeSpec>) -> Self {
        Driver {
            engine: Engine::new(config.clone(), seed),
            config,
            arrivals,
            outcomes,
            next_outcome: 0,
            queue: BTreeMap::new(),
            seq: 0,
            live: HashMap::new(),
            report: Report::default(),
        }
    }

    pub(crate) fn schedule(&mut self, at: Duration, event: Event) {
        self.seq += 1;
        self.queue.insert((at, self.seq), event);
    }

    fn run(mut self) -> Report {
        let mut t = Duration::ZERO;
        for i in 0..self.arrivals.len() {
            t += Duration::from_millis(self.arrivals[i].gap_ms);
            self.schedule(t, Event::Arrive(i));
        }
        while let Some(((now, _), event)) = self.queue.pop_first() {
            if self.report.log.len() > MAX_STEPS {
                self.report
                    .lifecycle
                    .push(format!("more than {MAX_STEPS} steps: livelock?"));
                break;
            }
            let pre: Vec<DeploymentState> = self.engine.states().to_vec();
            match event {
                Event::Arrive(i) => {
                    let a = self.arrivals[i];
                    let tier = TierId::from_index(a.tier % self.config.tiers.len());
                    let request = Request {
                        tier,
                        input_tokens: a.input_tokens,
                        output_tokens: a.output_tokens,
                    };
                    let step = self.engine.start(request, now);
                    let id = step.request();
                    if self.report.started.contains(&id) {
                        self.report
                            .lifecycle
                            .push(format!("start returned an id already used: {step:?}"));
                    }
                    self.report.started.push(id);
                    self.live.insert(
                        id,
                        LiveRequest {
                            request,
                            tier: request.tier,
                            attempts: 0,
                            sent: Vec::new(),
                            last_failure: None,
                            in_flight: false,
                            waiting: false,
                            waited: Duration::ZERO,
                            wait_began: Duration::ZERO,
                        },
                    );
                    self.handle(id, Cause::Start, step, now, &pre);
                }
                Event::Resume(id) => {
                    let Some(r) = self.live.get_mut(&id) else {
                        self.report
                            .lifecycle
                            .push(format!("resume scheduled for ended request {id:?}"));
                        continue;
                    };
                    r.waiting = false;
                    r.waited += now - r.wait_began;
                    let step = self.engine.resume(id, now);
                    self.handle(id, Cause::Resume, step, now, &pre);
                }
                Event::Attempt(id, spec) => {
                    let moved_to = self.live.get(&id).and_then(|r| {
                        let d = *r.sent.last()?;
                        self.context_fallback_of(d, spec.kind)
                    });
                    let r = self.live.get_mut(&id).expect("attempt of a live request");
                    r.in_flight = false;
                    let d = *r.sent.last().expect("an attempt was sent");
                    if spec.kind == Kind::Cancel {
                        if !self.engine.cancel(id, now) {
                            self.report
                                .lifecycle
                                .push(format!("cancel of live request {id:?} returned false"));
                        }
                        self.live.remove(&id);
                        self.report.cancelled.insert(id);
                        continue;
                    }
                    let outcome = outcome_of(&spec, &r.request);
                    if let Outcome::Failure { kind, .. } = outcome {
                        r.last_failure = Some(kind);
                    }
                    if let Some(longer) = moved_to {
                        r.tier = longer;
                    }
                    let step = self.engine.finish(id, &outcome, now);
                    self.handle(id, Cause::Finish(d, spec.kind), step, now, &pre);
                }
            }
        }
        // Nothing may be left: every request ended by a terminal step or a cancel.
        for (id, r) in &self.live {
            self.report.lifecycle.push(format!(
                "request {id:?} never ended (in flight: {}, waiting: {})",
                r.in_flight, r.waiting
            ));
        }
        self.report.live_at_end = self.engine.live_requests();
        let totals = self.engine.metrics().totals;
        self.report.totals_balance = totals.started == self.report.started.len() as u64
            && totals.succeeded + totals.failed() + totals.cancelled == totals.started;
        self.report
    }
}

pub(crate) fn run(
    spec: &ConfigSpec,
    seed: u64,
    arrivals: &[Arrival],
    outcomes: &[OutcomeSpec],
) -> Report {
    Driver::new(spec.config(), seed, arrivals.to_vec(), outcomes.to_vec()).run()
}
