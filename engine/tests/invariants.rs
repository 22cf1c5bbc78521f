//! Property tests of the engine's invariants, driven through the public API only.
//!
//! A small event-driven driver feeds the engine random configs (1–12 deployments over 1–3 tiers
//! with fallbacks, random weights, limits and strategies) and random arrivals and outcomes, and
//! follows every step the way a real driver must: `Send` → `finish` after the attempt's latency
//! (or `cancel`), `Wait` → `resume` at `until`. Along the way it checks, at every decision:
//!
//! * (a) every started request ends exactly once: one `Done`/`Failed` (or the driver's cancel),
//!   never a step for a request that already ended, and nothing left live at the end;
//! * (b) every `Send` goes to a deployment that was usable at that instant — not cooling down,
//!   with rate-limit headroom, breaker closed (or panic mode, which ignores only the breaker) —
//!   and follows the fallback order (untried before tried, own tier before fallback tiers, never
//!   the deployment that just failed while another is usable; a tier whose strategy declines
//!   it may be passed over, but never in favour of panic mode);
//! * (c) smooth weighted round robin gives exactly the configured shares over every full cycle;
//! * (d) same config + seed + inputs ⇒ the same steps; another seed changes `random`'s picks.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt::Write as _;
use std::time::Duration;

use engine::state::{Blocked, DeploymentState};
use engine::{
    Config, DeploymentId, Engine, FailReason, FailureKind, LimitHeaders, Outcome, Request,
    RequestId, Step, StrategyKind, TierId,
};
use proptest::prelude::*;

// ---------------------------------------------------------------------------------------------
// Generated inputs
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone)]
struct TierSpec {
    strategy: StrategyKind,
    fallback: Vec<usize>,
    /// A later tier taking requests too long for this one.
    context: Option<usize>,
}

#[derive(Debug, Clone)]
struct DeploymentSpec {
    tier: usize,
    weight: u32,
    rpm: Option<u32>,
    tpm: Option<u32>,
    rpd: Option<u32>,
}

#[derive(Debug, Clone)]
struct ConfigSpec {
    tiers: Vec<TierSpec>,
    deployments: Vec<DeploymentSpec>,
    max_attempts: u32,
    backoff_base_ms: u64,
    jitter: f64,
    max_wait_s: u64,
    /// rate_limited, server_error, timeout, connection.
    retry_on: [bool; 4],
    cooldown_ms: u64,
    failure_threshold: u32,
    open_for_ms: u64,
}

impl ConfigSpec {
    fn toml(&self) -> String {
        let mut s = String::new();
        for (i, t) in self.tiers.iter().enumerate() {
            let fallback: Vec<String> = t.fallback.iter().map(|f| format!("\"t{f}\"")).collect();
            writeln!(
                s,
                "[[tier]]\nname = \"t{i}\"\nstrategy = \"{}\"\nfallback = [{}]",
                t.strategy.name(),
                fallback.join(", ")
            )
            .unwrap();
            if let Some(c) = t.context {
                writeln!(s, "context_fallback = \"t{c}\"").unwrap();
            }
            s.push('\n');
        }
        for (i, d) in self.deployments.iter().enumerate() {
            writeln!(
                s,
                "[[deployment]]\nid = \"d{i}\"\nprovider = \"p{}\"\nmodel = \"m\"\ntier = \"t{}\"\n\
                 weight = {}\ninput_price = 1.5\noutput_price = 6.0",
                i % 3,
                d.tier,
                d.weight
            )
            .unwrap();
            for (name, limit) in [("rpm", d.rpm), ("tpm", d.tpm), ("rpd", d.rpd)] {
                if let Some(v) = limit {
                    writeln!(s, "{name} = {v}").unwrap();
                }
            }
            s.push('\n');
        }
        let kinds = ["rate_limited", "server_error", "timeout", "connection"];
        let retry_on: Vec<String> = kinds
            .iter()
            .zip(self.retry_on)
            .filter(|(_, on)| *on)
            .map(|(k, _)| format!("\"{k}\""))
            .collect();
        writeln!(
            s,
            "[retry]\nmax_attempts = {}\nbackoff_base = \"{}ms\"\nbackoff_max = \"{}ms\"\n\
             jitter = {:?}\nmax_wait = \"{}s\"\nretry_on = [{}]\n",
            self.max_attempts,
            self.backoff_base_ms,
            self.backoff_base_ms * 8,
            self.jitter,
            self.max_wait_s,
            retry_on.join(", ")
        )
        .unwrap();
        writeln!(
            s,
            "[health]\ncooldown = \"{}ms\"\nfailure_threshold = {}\nopen_for = \"{}ms\"\n",
            self.cooldown_ms, self.failure_threshold, self.open_for_ms
        )
        .unwrap();
        s
    }

    fn config(&self) -> Config {
        let text = self.toml();
        Config::from_toml(&text)
            .unwrap_or_else(|e| panic!("generated config rejected: {e}\n{text}"))
    }
}

fn strategy_kind() -> impl Strategy<Value = StrategyKind> {
    proptest::sample::select(StrategyKind::EVERY.to_vec())
}

fn config_spec() -> impl Strategy<Value = ConfigSpec> {
    // Mostly small tiers (scanned); sometimes tiers large enough to be sampled or scheduled.
    (1usize..=3, prop_oneof![3 => 1usize..=12, 1 => 65usize..=90])
        .prop_flat_map(|(tiers, deployments)| {
            let tiers = tiers.min(deployments);
            (
                proptest::collection::vec(
                    (
                        strategy_kind(),
                        any::<u8>(),
                        any::<bool>(),
                        proptest::option::of(any::<u8>()),
                    ),
                    tiers,
                ),
                proptest::collection::vec(
                    (
                        0..tiers,
                        0u32..=5,
                        proptest::option::of(1u32..=30),
                        proptest::option::of(2_000u32..=20_000),
                        proptest::option::of(1u32..=60),
                    ),
                    deployments,
                ),
                1u32..=6,
                1u64..=500,
                prop_oneof![Just(0.0), Just(0.2), Just(0.5), Just(1.0)],
                0u64..=120,
                any::<[bool; 4]>(),
                100u64..=10_000,
                1u32..=5,
                100u64..=30_000,
            )
        })
        .prop_map(
            |(
                tiers,
                deployments,
                max_attempts,
                backoff_base_ms,
                jitter,
                max_wait_s,
                retry_on,
                cooldown_ms,
                failure_threshold,
                open_for_ms,
            )| {
                let n = tiers.len();
                let tiers = tiers
                    .into_iter()
                    .enumerate()
                    .map(|(i, (strategy, mask, reverse, context))| {
                        // Only tiers after this one: fallbacks stay acyclic.
                        let mut fallback: Vec<usize> =
                            (i + 1..n).filter(|j| mask & (1 << j) != 0).collect();
                        if reverse {
                            fallback.reverse();
                        }
                        // Only later tiers, too: context fallbacks stay acyclic.
                        let context = context
                            .filter(|_| i + 1 < n)
                            .map(|p| i + 1 + usize::from(p) % (n - i - 1));
                        TierSpec {
                            strategy,
                            fallback,
                            context,
                        }
                    })
                    .collect();
                let deployments = deployments
                    .into_iter()
                    .enumerate()
                    .map(|(i, (tier, weight, rpm, tpm, rpd))| {
                        // Every tier gets a deployment with a positive weight.
                        let (tier, weight) = if i < n {
                            (i, weight.max(1))
                        } else {
                            (tier, weight)
                        };
                        DeploymentSpec {
                            tier,
                            weight,
                            rpm,
                            tpm,
                            rpd,
                        }
                    })
                    .collect();
                ConfigSpec {
                    tiers,
                    deployments,
                    max_attempts,
                    backoff_base_ms,
                    jitter,
                    max_wait_s,
                    retry_on,
                    cooldown_ms,
                    failure_threshold,
                    open_for_ms,
                }
            },
        )
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    Success,
    RateLimited {
        retry_after_ms: Option<u64>,
    },
    Server,
    Timeout,
    Connection,
    Client {
        status: u16,
    },
    /// A 400 saying the input exceeds the context window.
    ContextLength,
    /// The driver gives up on the request while the attempt is out.
    Cancel,
}

/// Rate-limit headers: remaining requests, reset requests (ms), remaining tokens, reset tokens (ms).
type HeaderSpec = (Option<u64>, Option<u64>, Option<u64>, Option<u64>);

#[derive(Debug, Clone, Copy)]
struct OutcomeSpec {
    kind: Kind,
    latency_ms: u64,
    headers: Option<HeaderSpec>,
}

fn outcome_spec() -> impl Strategy<Value = OutcomeSpec> {
    let kind = prop_oneof![
        5 => Just(Kind::Success),
        2 => proptest::option::of(0u64..=20_000)
            .prop_map(|retry_after_ms| Kind::RateLimited { retry_after_ms }),
        1 => Just(Kind::Server),
        1 => Just(Kind::Timeout),
        1 => Just(Kind::Connection),
        1 => proptest::sample::select(vec![400u16, 401, 404, 413])
            .prop_map(|status| Kind::Client { status }),
        1 => Just(Kind::ContextLength),
        1 => Just(Kind::Cancel),
    ];
    let headers = proptest::option::weighted(
        0.2,
        (
            proptest::option::of(0u64..=40),
            proptest::option::of(0u64..=60_000),
            proptest::option::of(0u64..=30_000),
            proptest::option::of(0u64..=60_000),
        ),
    );
    (kind, 1u64..=8_000, headers).prop_map(|(kind, latency_ms, headers)| OutcomeSpec {
        kind,
        latency_ms,
        headers,
    })
}

#[derive(Debug, Clone, Copy)]
struct Arrival {
    gap_ms: u64,
    tier: usize,
    input_tokens: u32,
    output_tokens: u32,
}

fn arrivals() -> impl Strategy<Value = Vec<Arrival>> {
    proptest::collection::vec(
        (0u64..=3_000, 0usize..3, 1u32..=3_000, 1u32..=3_000).prop_map(
            |(gap_ms, tier, input_tokens, output_tokens)| Arrival {
                gap_ms,
                tier,
                input_tokens,
                output_tokens,
            },
        ),
        1..=50,
    )
}

// ---------------------------------------------------------------------------------------------
// The driver
// ---------------------------------------------------------------------------------------------

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
enum Event {
    Arrive(usize),
    Attempt(RequestId, OutcomeSpec),
    Resume(RequestId),
}

/// What the driver knows about a live request.
#[derive(Debug, Clone)]
struct LiveRequest {
    request: Request,
    /// The tier whose chain is tried: the routed one, or a context fallback moved to.
    tier: TierId,
    attempts: u8,
    /// Deployments sent to so far, in order (all but a live attempt's failed and were retried).
    sent: Vec<DeploymentId>,
    last_failure: Option<FailureKind>,
    in_flight: bool,
    waiting: bool,
    /// Time spent in waits so far, and when the current one began.
    waited: Duration,
    wait_began: Duration,
}

/// What happened in one run.
#[derive(Debug, Default)]
struct Report {
    /// Every step, with the time it was returned.
    log: Vec<(Duration, Step)>,
    started: Vec<RequestId>,
    /// Terminal steps received per request.
    terminals: HashMap<RequestId, u32>,
    cancelled: HashSet<RequestId>,
    /// Broken invariants about request lifecycles (a).
    lifecycle: Vec<String>,
    /// Waits that end after the request's wait budget (`retry.max_wait`) is spent (a).
    beyond_max_wait: Vec<String>,
    /// Broken invariants about where attempts went (b).
    placement: Vec<String>,
    live_at_end: usize,
    totals_balance: bool,
}

/// The call that produced a step.
#[derive(Debug, Clone, Copy)]
enum Cause {
    Start,
    Resume,
    /// `finish` of an attempt on this deployment with this outcome.
    Finish(DeploymentId, Kind),
}

struct Driver {
    engine: Engine,
    config: Config,
    arrivals: Vec<Arrival>,
    outcomes: Vec<OutcomeSpec>,
    next_outcome: usize,
    queue: BTreeMap<(Duration, u64), Event>,
    seq: u64,
    live: HashMap<RequestId, LiveRequest>,
    report: Report,
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

    fn schedule(&mut self, at: Duration, event: Event) {
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

    fn handle(
        &mut self,
        id: RequestId,
        cause: Cause,
        step: Step,
        now: Duration,
        pre: &[DeploymentState],
    ) {
        self.report.log.push((now, step));
        if step.request() != id {
            self.report
                .lifecycle
                .push(format!("step for {id:?} names another request: {step:?}"));
            return;
        }
        if step.is_terminal() {
            *self.report.terminals.entry(id).or_insert(0) += 1;
        }
        let r = self.live.get(&id).cloned().expect("step of a live request");
        let retry = &self.config.retry;
        // What the outcome dictates.
        if let Cause::Finish(_, kind) = cause {
            let expected: Option<Step> = match kind {
                Kind::Success => Some(Step::Done { request: id }),
                Kind::Client { status } => Some(Step::Failed {
                    request: id,
                    reason: FailReason::ClientError {
                        status: Some(status),
                    },
                }),
                Kind::ContextLength => match cause {
                    Cause::Finish(d, _) if self.context_fallback_of(d, kind).is_none() => {
                        Some(Step::Failed {
                            request: id,
                            reason: FailReason::ClientError { status: Some(400) },
                        })
                    }
                    _ if usize::from(r.attempts) >= retry.max_attempts => Some(Step::Failed {
                        request: id,
                        reason: FailReason::AttemptsExhausted {
                            last: FailureKind::ContextLength,
                        },
                    }),
                    _ => None,
                },
                _ => {
                    let k = r.last_failure.expect("a failure was recorded");
                    if !retry.retry_on[k as usize] {
                        Some(Step::Failed {
                            request: id,
                            reason: FailReason::NotRetried { kind: k },
                        })
                    } else if usize::from(r.attempts) >= retry.max_attempts {
                        Some(Step::Failed {
                            request: id,
                            reason: FailReason::AttemptsExhausted { last: k },
                        })
                    } else {
                        None
                    }
                }
            };
            if let Some(expected) = expected {
                if step != expected {
                    self.report.lifecycle.push(format!(
                        "after {kind:?} on attempt {}: expected {expected:?}, got {step:?}",
                        r.attempts
                    ));
                }
            } else if matches!(step, Step::Done { .. }) {
                // (AttemptsExhausted before the last attempt is checked with the terminal step:
                // only when nothing usable is left within the wait budget.)
                self.report.lifecycle.push(format!(
                    "after retryable {kind:?} on attempt {} of {}: {step:?}",
                    r.attempts, retry.max_attempts
                ));
            }
        }
        match step {
            Step::Send {
                deployment,
                attempt,
                ..
            } => {
                if usize::from(attempt) != usize::from(r.attempts) + 1
                    || usize::from(attempt) > retry.max_attempts
                {
                    self.report.lifecycle.push(format!(
                        "attempt {attempt} after {} attempts (max {})",
                        r.attempts, retry.max_attempts
                    ));
                }
                let finished = match cause {
                    Cause::Finish(d, _) => Some(d),
                    _ => None,
                };
                self.check_placement(&r, deployment, finished, now, pre);
                let spec = self.outcomes[self.next_outcome % self.outcomes.len()];
                self.next_outcome += 1;
                let r = self.live.get_mut(&id).unwrap();
                r.attempts = attempt;
                r.sent.push(deployment);
                r.in_flight = true;
                self.schedule(
                    now + Duration::from_millis(spec.latency_ms),
                    Event::Attempt(id, spec),
                );
            }
            Step::Wait { until, .. } => {
                if until <= now {
                    self.report.lifecycle.push(format!(
                        "wait until {until:?} at {now:?}: not in the future"
                    ));
                }
                if r.waited + (until - now) > retry.max_wait {
                    self.report.beyond_max_wait.push(format!(
                        "wait until {until:?} at {now:?} (waited {:?} before, max_wait {:?})",
                        r.waited, retry.max_wait
                    ));
                }
                self.check_nothing_usable(&r, now, "Wait");
                let live = self.live.get_mut(&id).unwrap();
                live.waiting = true;
                live.wait_began = now;
                self.schedule(until, Event::Resume(id));
            }
            Step::Done { .. } => {
                self.live.remove(&id);
            }
            Step::Failed { reason, .. } => {
                match reason {
                    FailReason::NoCapacity { earliest } => {
                        let within = |e: Duration| {
                            r.waited + (e.max(now + Duration::from_micros(1)) - now)
                                <= retry.max_wait
                        };
                        if earliest.is_some_and(within) {
                            self.report.lifecycle.push(format!(
                                "NoCapacity with earliest {earliest:?} within max_wait (waited {:?})",
                                r.waited
                            ));
                        }
                        self.check_nothing_usable(&r, now, "NoCapacity");
                    }
                    FailReason::AttemptsExhausted { last } => {
                        // Fewer attempts only when what is left is out of the wait budget
                        // after a failure of the deployment's health.
                        if usize::from(r.attempts) != retry.max_attempts {
                            if !last.is_health_failure() {
                                self.report.lifecycle.push(format!(
                                    "AttemptsExhausted after {} of {} attempts, last {last:?}",
                                    r.attempts, retry.max_attempts
                                ));
                            }
                            self.check_nothing_usable(&r, now, "AttemptsExhausted");
                        }
                    }
                    FailReason::Deadline | FailReason::AllDisabled => {
                        // Neither a deadline nor refused keys are generated here.
                        self.report
                            .lifecycle
                            .push(format!("{reason:?} without a deadline or a refused key"));
                    }
                    FailReason::ClientError { .. } | FailReason::NotRetried { .. } => {
                        if !matches!(cause, Cause::Finish(..)) {
                            self.report
                                .lifecycle
                                .push(format!("{reason:?} without an attempt ({cause:?})"));
                        }
                    }
                }
                self.live.remove(&id);
            }
        }
    }

    /// The request's tier chain: its tier, then the tier's fallbacks in order.
    fn chain(&self, tier: TierId) -> Vec<TierId> {
        let mut chain = vec![tier];
        chain.extend(self.config.tier(tier).fallback.iter().copied());
        chain
    }

    /// (deployment, position of its tier in the chain) for the whole chain.
    /// Where a `kind` outcome on `d` moves the request: the context fallback of `d`'s tier,
    /// for a context-length error.
    fn context_fallback_of(&self, d: DeploymentId, kind: Kind) -> Option<TierId> {
        if kind != Kind::ContextLength {
            return None;
        }
        self.config
            .tier(self.config.deployment(d).tier)
            .context_fallback
    }

    fn chain_deployments(&self, tier: TierId) -> Vec<(DeploymentId, usize)> {
        self.chain(tier)
            .into_iter()
            .enumerate()
            .flat_map(|(p, t)| self.config.tier(t).deployments.iter().map(move |&d| (d, p)))
            .collect()
    }

    /// A Wait or NoCapacity must mean no untried deployment of the chain was usable.
    fn check_nothing_usable(&mut self, r: &LiveRequest, now: Duration, what: &str) {
        let tokens = r.request.estimated_tokens();
        for (x, _) in self.chain_deployments(r.tier) {
            let untried = !r.sent.contains(&x);
            if untried && self.engine.states()[x.index()].check(now, tokens).is_ok() {
                self.report.placement.push(format!(
                    "{what} at {now:?} although untried {x:?} was usable"
                ));
            }
        }
    }

    /// Checks a `Send` of `r` to `d` at `now` against the state the engine decided on.
    ///
    /// Every deployment other than `d` is unchanged by the send, so its state after the call is
    /// exactly what the engine saw. `d` itself was charged by the send: unless it is the one
    /// whose attempt this very call finished, its state before the call is what the engine saw.
    /// If it is (`d == finished`), `finish` changed it before choosing, so its cooldown and
    /// windows are re-derived from the state after the call (a charge fitted iff the window is
    /// not overdrawn afterwards).
    fn check_placement(
        &mut self,
        r: &LiveRequest,
        d: DeploymentId,
        finished: Option<DeploymentId>,
        now: Duration,
        pre: &[DeploymentState],
    ) {
        let tokens = r.request.estimated_tokens();
        let post = self.engine.states();
        let chain = self.chain_deployments(r.tier);
        let mut v = Vec::new();
        let Some(&(_, position)) = chain.iter().find(|(x, _)| *x == d) else {
            self.report
                .placement
                .push(format!("sent {d:?} outside the chain of tier {:?}", r.tier));
            return;
        };
        let tried = |x: DeploymentId| r.sent.contains(&x);
        let ok = |x: DeploymentId| post[x.index()].check(now, tokens).is_ok();
        let last_failed = r.sent.last().copied();

        // Was d usable, or only blocked by its breaker (panic mode)?
        let panic = if finished == Some(d) {
            let s = &post[d.index()];
            // A charge of n fitted before iff nothing is overdrawn after it.
            let fits = |w: &engine::limits::Window| w.fits(now, 0);
            if now < s.cooldown_until {
                v.push(format!(
                    "sent {d:?} while cooling down until {:?}",
                    s.cooldown_until
                ));
            }
            if !(fits(&s.rpm) && fits(&s.tpm) && fits(&s.rpd)) {
                v.push(format!("sent {d:?} without headroom for {tokens} tokens"));
            }
            // Breaker unknown here; the LastFailed rule below demands no other usable anyway.
            None
        } else {
            match pre[d.index()].check(now, tokens) {
                Ok(()) => Some(false),
                Err(Blocked::Breaker) => Some(true),
                Err(why) => {
                    v.push(format!("sent {d:?} although blocked: {why:?}"));
                    Some(false)
                }
            }
        };
        let others = || chain.iter().filter(move |(x, _)| *x != d);
        // A tier's strategy may decline the tier when every candidate looks broken, and the
        // request spills on (`Balancer::declines`; of the strategies only adaptive does). A
        // usable deployment of an adaptive tier may therefore be passed over for a later tier
        // or an already-tried deployment: the ordering rules below only count deployments of
        // tiers that never decline. Passing any usable deployment over for a breaker-ejected one
        // (panic mode) is never allowed.
        let declining = |x: DeploymentId| {
            self.config.tier(self.config.deployment(x).tier).strategy == StrategyKind::Adaptive
        };
        if panic == Some(true) {
            if let Some((x, _)) = others().find(|(x, _)| ok(*x) && (tried(d) || !tried(*x))) {
                v.push(format!(
                    "panic-mode send to {d:?} although {x:?} was usable"
                ));
            }
        }
        let counts = |x: DeploymentId| ok(x) && !declining(x);
        if tried(d) {
            if let Some((x, _)) = others().find(|(x, _)| counts(*x) && !tried(*x)) {
                v.push(format!("resent to {d:?} although untried {x:?} was usable"));
            }
        }
        if last_failed == Some(d) {
            if let Some((x, _)) = others().find(|(x, _)| counts(*x)) {
                v.push(format!(
                    "resent to {d:?}, which just failed, although {x:?} was usable"
                ));
            }
        }
        if panic == Some(false) {
            let earlier = others().find(|&&(x, p)| {
                p < position
                    && counts(x)
                    && if tried(d) {
                        tried(x) && last_failed != Some(x)
                    } else {
                        !tried(x)
                    }
            });
            if let Some((x, p)) = earlier {
                v.push(format!(
                    "sent to {d:?} (chain position {position}) although {x:?} (position {p}) was usable"
                ));
            }
        }
        let context = format!("at {now:?}, attempt {} of {:?}", r.attempts + 1, r.request);
        for msg in v {
            self.report.placement.push(format!("{context}: {msg}"));
        }
    }
}

fn run(spec: &ConfigSpec, seed: u64, arrivals: &[Arrival], outcomes: &[OutcomeSpec]) -> Report {
    Driver::new(spec.config(), seed, arrivals.to_vec(), outcomes.to_vec()).run()
}

// ---------------------------------------------------------------------------------------------
// Properties
// ---------------------------------------------------------------------------------------------

proptest! {
    #![proptest_config(ProptestConfig { cases: 192, ..ProptestConfig::default() })]

    /// (a) Every started request gets exactly one terminal step or is cancelled by the driver;
    /// none is lost, none answered twice, nothing stays live.
    #[test]
    fn every_request_ends_exactly_once(
        spec in config_spec(),
        seed in any::<u64>(),
        arrivals in arrivals(),
        outcomes in proptest::collection::vec(outcome_spec(), 1..=40),
    ) {
        let report = run(&spec, seed, &arrivals, &outcomes);
        prop_assert!(report.lifecycle.is_empty(), "{:#?}", report.lifecycle);
        prop_assert_eq!(report.started.len(), arrivals.len());
        for id in &report.started {
            let terminals = report.terminals.get(id).copied().unwrap_or(0);
            let cancelled = u32::from(report.cancelled.contains(id));
            prop_assert_eq!(
                terminals + cancelled, 1,
                "request {:?}: {} terminal steps, cancelled: {}", id, terminals, cancelled
            );
        }
        prop_assert_eq!(report.live_at_end, 0);
        prop_assert!(report.totals_balance, "engine totals do not add up");
    }

    /// (a) A request is told to wait only while the wait ends within its budget: started +
    /// `retry.max_wait`; beyond that it fails with `NoCapacity` instead.
    #[test]
    fn waits_stay_within_max_wait(
        spec in config_spec(),
        seed in any::<u64>(),
        arrivals in arrivals(),
        outcomes in proptest::collection::vec(outcome_spec(), 1..=40),
    ) {
        let report = run(&spec, seed, &arrivals, &outcomes);
        prop_assert!(report.beyond_max_wait.is_empty(), "{:#?}", report.beyond_max_wait);
    }

    /// (b) No attempt goes to a deployment that is cooling down or out of headroom at that
    /// instant; the breaker is ignored only in panic mode; fallback order is respected.
    #[test]
    fn attempts_only_go_to_usable_deployments(
        spec in config_spec(),
        seed in any::<u64>(),
        arrivals in arrivals(),
        outcomes in proptest::collection::vec(outcome_spec(), 1..=40),
    ) {
        let report = run(&spec, seed, &arrivals, &outcomes);
        prop_assert!(report.placement.is_empty(), "{:#?}", report.placement);
    }

    /// (c) Weighted round robin over healthy deployments (smooth on small tiers, stride
    /// scheduled on large ones): every full cycle of Σw picks gives each deployment exactly its
    /// weight, however many attempts are in flight.
    #[test]
    fn weighted_round_robin_shares_are_exact_per_cycle(
        weights in prop_oneof![
            proptest::collection::vec(1u32..=6, 1..=8),
            proptest::collection::vec(1u32..=6, 65..=120),
        ],
        cycles in 1usize..=4,
        hold in proptest::collection::vec(any::<bool>(), 1..=64),
    ) {
        let mut toml = String::from(
            "[[tier]]\nname = \"main\"\nstrategy = \"weighted-round-robin\"\n\n",
        );
        for (i, w) in weights.iter().enumerate() {
            writeln!(
                toml,
                "[[deployment]]\nid = \"d{i}\"\nprovider = \"p\"\nmodel = \"m\"\ntier = \"main\"\nweight = {w}\n"
            ).unwrap();
        }
        let mut engine = Engine::new(Config::from_toml(&toml).unwrap(), 3);
        let tier = TierId::from_index(0);
        let total: u32 = weights.iter().sum();
        let mut picks = Vec::new();
        let mut held = Vec::new();
        for i in 0..cycles * total as usize {
            let now = Duration::from_millis(i as u64);
            let step = engine.start(Request { tier, input_tokens: 10, output_tokens: 10 }, now);
            let Step::Send { request, deployment, attempt: 1 } = step else {
                return Err(TestCaseError::fail(format!("expected a first Send, got {step:?}")));
            };
            picks.push(deployment.index());
            if hold[i % hold.len()] {
                held.push(request);
            } else {
                let done = engine.finish(request, &Outcome::success(Duration::from_millis(5), 10, 10), now);
                prop_assert_eq!(done, Step::Done { request });
            }
        }
        for request in held {
            let now = Duration::from_secs(3600);
            let done = engine.finish(request, &Outcome::success(Duration::from_millis(5), 10, 10), now);
            prop_assert_eq!(done, Step::Done { request });
        }
        for (c, cycle) in picks.chunks(total as usize).enumerate() {
            let mut counts = vec![0u32; weights.len()];
            for &d in cycle {
                counts[d] += 1;
            }
            prop_assert_eq!(&counts, &weights, "cycle {}: {:?}", c, cycle);
        }
        let snapshot = engine.snapshot(Duration::from_secs(3600));
        for (i, d) in snapshot.deployments.iter().enumerate() {
            prop_assert_eq!(d.attempts, u64::from(weights[i]) * cycles as u64);
            prop_assert!((d.actual_share - d.configured_share).abs() < 1e-12);
        }
    }

    /// (d) Same config, seed and inputs ⇒ the identical sequence of steps and the same metrics.
    #[test]
    fn same_seed_and_inputs_give_the_same_steps(
        spec in config_spec(),
        seed in any::<u64>(),
        arrivals in arrivals(),
        outcomes in proptest::collection::vec(outcome_spec(), 1..=40),
    ) {
        let first = run(&spec, seed, &arrivals, &outcomes);
        let second = run(&spec, seed, &arrivals, &outcomes);
        prop_assert!(!first.log.is_empty());
        prop_assert_eq!(&first.log, &second.log);
        prop_assert_eq!(&first.started, &second.started);
    }

    /// (d) A different seed changes the `random` strategy's picks (4 equal deployments,
    /// 64 requests: the chance of two seeds agreeing is 4⁻⁶⁴).
    #[test]
    fn another_seed_changes_random_picks(a in any::<u64>(), b in any::<u64>()) {
        prop_assume!(a != b);
        let spec = ConfigSpec {
            tiers: vec![TierSpec { strategy: StrategyKind::Random, fallback: vec![], context: None }],
            deployments: (0..4)
                .map(|_| DeploymentSpec { tier: 0, weight: 1, rpm: None, tpm: None, rpd: None })
                .collect(),
            max_attempts: 3,
            backoff_base_ms: 100,
            jitter: 0.0,
            max_wait_s: 10,
            retry_on: [true; 4],
            cooldown_ms: 1_000,
            failure_threshold: 5,
            open_for_ms: 1_000,
        };
        let arrivals: Vec<Arrival> = (0..64)
            .map(|_| Arrival { gap_ms: 10, tier: 0, input_tokens: 10, output_tokens: 10 })
            .collect();
        let outcomes = [OutcomeSpec { kind: Kind::Success, latency_ms: 5, headers: None }];
        let first = run(&spec, a, &arrivals, &outcomes);
        let again = run(&spec, a, &arrivals, &outcomes);
        let other = run(&spec, b, &arrivals, &outcomes);
        prop_assert_eq!(&first.log, &again.log);
        prop_assert_ne!(&first.log, &other.log);
        let sends = |r: &Report| r.log.iter().filter(|(_, s)| matches!(s, Step::Send { .. })).count();
        prop_assert_eq!(sends(&first), 64);
        prop_assert_eq!(sends(&other), 64);
    }
}
