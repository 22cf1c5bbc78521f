//! The gateway side of the loop: arrivals, the engine's steps carried out, answers and first
//! bytes reported (per attempt, so a hedged request's race is decided by the engine), hedges
//! sent when due, losers cancelled, client timeouts and deadlines.

use engine::{FailureKind, LimitHeaders, Outcome, Request, Step};

use super::events::{Event, Kind};
use super::request::{Phase, SimRequest};
use super::{client_name, failure, Arrival, Simulation};
use crate::stats::Column;
use crate::trace::TraceRow;

impl Simulation<'_> {
    pub(super) fn arrive(&mut self, a: Arrival, uid: u64) {
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
            (Some(c), session) => match self.engine.start_for(c, request, session, self.now) {
                Ok(step) => step,
                Err(_) => {
                    // Refused by the client's own limits: counted by the engine, no slot.
                    self.series.request_ended(self.now, None);
                    if let Some(sink) = self.trace.as_mut() {
                        let tier = &self.scenario.config.tiers[a.tier.index()].name;
                        let tokens = (a.input_tokens, a.estimated_output);
                        let model = &self.models[a.model as usize];
                        let row =
                            TraceRow::client_refused(uid, self.now, model, tier, tokens, a.stream);
                        sink.attempt(&row.of_client(client_name(&self.scenario.config, Some(c))));
                    }
                    return;
                }
            },
        };
        let slot = step.request().slot();
        if slot >= self.requests.len() {
            self.requests.resize(slot + 1, SimRequest::empty(a.tier));
        }
        self.requests[slot] = SimRequest::arrived(a, step.request(), uid, client);
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

    pub(super) fn apply(&mut self, step: Step) {
        let slot = step.request().slot();
        match step {
            Step::Send {
                deployment,
                attempt,
                ..
            } => self.dispatch(slot, deployment.index(), attempt),
            Step::Wait { until, .. } => {
                let token = self.next_token();
                self.requests[slot].wait_token = token;
                // Waiters never resume at one instant (see `resume_at`).
                let at = crate::time::resume_at(until, token);
                self.schedule(at, Kind::Resume, slot as u32, token);
            }
            Step::Done { .. } => {
                let r = &mut self.requests[slot];
                r.live = false;
                let latency = self.now.saturating_sub(r.a.at);
                self.stats.attempts += u64::from(r.attempts);
                self.stats.success(latency);
                let client = r.client;
                self.client_tallies.succeeded(client, latency);
                self.series.request_ended(self.now, Some(latency));
            }
            Step::Failed { .. } => {
                let r = &mut self.requests[slot];
                r.live = false;
                let r = *r;
                if r.attempts == 0 {
                    if let Some(sink) = self.trace.as_mut() {
                        let row = TraceRow::refused(
                            r.uid,
                            self.now,
                            &self.models[r.a.model as usize],
                            &self.scenario.config.tiers[r.a.tier.index()].name,
                            (r.a.input_tokens, r.a.estimated_output),
                            r.a.stream,
                        );
                        let client = client_name(&self.scenario.config, r.client);
                        sink.attempt(&row.arrived(r.a.at).of_client(client));
                    }
                }
                self.stats.attempts += u64::from(r.attempts);
                self.series.request_ended(self.now, None);
            }
        }
    }

    pub(super) fn handle(&mut self, e: Event) {
        let slot = e.slot as usize;
        if e.kind == Kind::ServiceEnd {
            return self.service_end(slot);
        }
        let r = &self.requests[slot];
        let Some(id) = r.id else { return };
        if e.kind == Kind::Resume {
            if r.live && r.wait_token == e.token {
                let step = self.engine.resume(id, self.now);
                self.apply(step);
            }
            return;
        }
        let Some(lane) = r.lane_of(e.token) else {
            return;
        };
        let phase = r.lanes[lane].phase;
        match e.kind {
            Kind::Deliver if phase == Phase::Pending => self.deliver(slot, lane),
            Kind::FirstByteDeadline if phase == Phase::Queued => {
                let flight = &mut self.requests[slot].lanes[lane];
                flight.phase = Phase::Pending;
                flight.pending = Some(failure(
                    FailureKind::Timeout,
                    None,
                    None,
                    LimitHeaders::default(),
                ));
                self.deliver(slot, lane);
            }
            Kind::FirstByte => {
                let attempt = r.lanes[lane].attempt;
                if let Some(loser) = self.engine.first_byte_of(id, attempt, self.now) {
                    self.cancel_attempt(slot, loser);
                }
            }
            Kind::Hedge => match self.engine.hedge(id, self.now) {
                Some(step) => self.apply(step),
                // The tier's quantile moved on since the attempt was sent: ask again then.
                None => {
                    if let Some(at) = self.engine.hedge_at(id).filter(|&at| at > self.now) {
                        self.schedule(at, Kind::Hedge, slot as u32, e.token);
                    }
                }
            },
            _ => {}
        }
    }

    /// The answer of the attempt in `lane` reaches the gateway.
    fn deliver(&mut self, slot: usize, lane: usize) {
        let r = &mut self.requests[slot];
        let flight = r.lanes[lane];
        let Some(mut outcome) = flight.pending else {
            return;
        };
        r.clear(lane);
        let r = *r;
        let d = flight.deployment as usize;
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
                    flight.attempt,
                    flight.sent_at,
                    self.now,
                    &self.models[r.a.model as usize],
                    &self.scenario.config.tiers[r.a.tier.index()].name,
                    &self.scenario.config.deployments[d].id,
                    r.a.input_tokens,
                    &outcome,
                    r.a.stream,
                    r.a.estimated_output,
                )
                .arrived(r.a.at)
                .of_client(client_name(&self.scenario.config, r.client))
                .cached(if outcome.failure_kind().is_none() {
                    flight.cached
                } else {
                    0
                }),
            );
        }
        let Some(id) = r.id else { return };
        if let Outcome::Success { input_tokens, .. } = outcome {
            // A success was served (start_service), which set this attempt's cache read.
            let cached = flight.cached;
            self.cache.input_tokens += u64::from(input_tokens);
            self.cache.cached_input_tokens += u64::from(cached);
            self.cache.hits += u64::from(cached > 0);
            self.cache.attempts += 1;
            self.engine.cache_read(id, cached);
        }
        let hedged = self
            .engine
            .finish_of(id, flight.attempt, &outcome, self.now);
        if let Some(loser) = hedged.cancel {
            self.cancel_attempt(slot, loser);
        }
        if let Some(step) = hedged.step {
            self.apply(step);
        }
    }

    /// The engine abandoned attempt `attempt` (the other attempt of its request won the race):
    /// the gateway closes its connection, and its answer, when it comes, is dropped.
    fn cancel_attempt(&mut self, slot: usize, attempt: u8) {
        let r = self.requests[slot];
        let Some(lane) = r.lane_of_attempt(attempt) else {
            return;
        };
        self.trace_cancelled(&r, lane);
        self.requests[slot].clear(lane);
    }

    /// A `cancelled` trace row for the attempt in `lane`.
    fn trace_cancelled(&mut self, r: &SimRequest, lane: usize) {
        let Some(sink) = self.trace.as_mut() else {
            return;
        };
        let flight = r.lanes[lane];
        sink.attempt(
            &TraceRow::cancelled(
                r.uid,
                flight.attempt,
                flight.sent_at,
                self.now,
                &self.models[r.a.model as usize],
                &self.scenario.config.tiers[r.a.tier.index()].name,
                &self.scenario.config.deployments[flight.deployment as usize].id,
                (r.a.input_tokens, r.a.estimated_output),
                r.a.stream,
            )
            .arrived(r.a.at)
            .of_client(client_name(&self.scenario.config, r.client)),
        );
    }

    pub(super) fn client_timeout(&mut self, slot: u32, uid: u64) {
        let slot = slot as usize;
        let r = &mut self.requests[slot];
        if !(r.live && r.uid == uid) {
            return;
        }
        r.live = false;
        let r = *r;
        let Some(id) = r.id else { return };
        for lane in 0..r.lanes.len() {
            if r.lanes[lane].phase != Phase::Idle {
                self.trace_cancelled(&r, lane);
            }
        }
        self.stats.attempts += u64::from(r.attempts);
        self.stats.client_timeouts += 1;
        self.engine.cancel(id, self.now);
        self.series.request_ended(self.now, None);
    }

    /// The request's deadline passed with an attempt in flight or while it waited: the engine
    /// ends it (the attempt is abandoned like a client's cancel).
    pub(super) fn deadline_passed(&mut self, slot: u32, uid: u64) {
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
}
