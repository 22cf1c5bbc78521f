//! A request's life in the engine as the proxy sees it: each attempt's outcome reported, the
//! trace row written, and — when the handler or the relayed stream is dropped before a terminal
//! step (client gone) — the request cancelled so its in-flight slot is released.

use std::sync::Arc;
use std::time::{Duration, Instant};

use engine::{DeploymentId, FailReason, FailureKind, Outcome, RequestId, Step};
use tracing::debug;

use crate::live::Live;
use crate::state::Shared;
use crate::trace::Row;

/// One attempt as sent.
#[derive(Debug, Clone)]
pub(crate) struct Attempt {
    /// The deployment's id (for the trace).
    pub(crate) name: Arc<str>,
    pub(crate) number: u8,
    pub(crate) sent: Instant,
    /// When it was sent, in engine time.
    pub(crate) sent_at: Duration,
}

/// A request's life in the engine. Dropping it before a terminal step (client gone) cancels the
/// request, releasing its in-flight slot.
pub(crate) struct Life {
    pub(crate) gw: Arc<Shared>,
    pub(crate) id: RequestId,
    pub(crate) live: bool,
    /// The gateway's running request number (logs and traces).
    pub(crate) number: u64,
    pub(crate) model: Arc<str>,
    /// The routed tier's name (for the trace).
    pub(crate) tier: Arc<str>,
    /// The config whose ids the engine's last step used: a reload swaps the gateway's, never
    /// this one while the request holds it.
    pub(crate) config: Arc<Live>,
    pub(crate) input_tokens: u32,
    pub(crate) output_tokens: u32,
    /// Whether the client asked for a stream (for the trace).
    pub(crate) stream: bool,
    /// The client key's name, if any (for the trace).
    pub(crate) client: Option<Arc<str>>,
    /// The attempt in flight, if any: recorded as `cancelled` if the client goes away.
    pub(crate) current: Option<Attempt>,
    /// A hedge in flight beside it, likewise.
    pub(crate) hedge: Option<Attempt>,
    /// When the request arrived, in engine time (for the trace).
    pub(crate) arrived: Duration,
    /// Input tokens the successful attempt read from the provider's prompt cache (trace).
    pub(crate) cached: u32,
}

impl Life {
    /// Reports an attempt's outcome (what the provider said, in real time: `ttft`,
    /// `retry-after`, rate-limit headers) in engine time and records its trace row.
    pub(crate) fn finish(
        &mut self,
        a: &Attempt,
        outcome: &Outcome,
        status: u16,
        ttft: Option<Duration>,
    ) -> Step {
        let now = self.gw.now();
        let outcome = &self.gw.clock.outcome(outcome);
        let ttft = ttft.map(|t| self.gw.clock.engine(t));
        let step = {
            let mut engine = self.gw.lock();
            let step = engine.finish(self.id, outcome, now);
            keep_config(&mut self.config, &engine, step);
            step
        };
        self.live = !step.is_terminal();
        self.current = None;
        self.record(a, outcome, status, ttft, now);
        step
    }

    /// Reports the last attempt's outcome and ends the request whatever the engine would do
    /// next (a started stream is never restarted elsewhere). Times as in [`Life::finish`].
    pub(crate) fn finish_final(
        &mut self,
        a: &Attempt,
        outcome: &Outcome,
        status: u16,
        ttft: Option<Duration>,
    ) {
        let now = self.gw.now();
        let outcome = &self.gw.clock.outcome(outcome);
        let ttft = ttft.map(|t| self.gw.clock.engine(t));
        self.gw.lock().finish_final(self.id, outcome, now);
        self.live = false;
        self.current = None;
        self.record(a, outcome, status, ttft, now);
    }

    /// The provider read `tokens` of the attempt's input from its prompt cache (reported in
    /// the answer's usage): the success is priced with the cached price for those, and the
    /// trace row says so.
    pub(crate) fn cache_read(&mut self, tokens: u32) {
        self.cached = tokens;
        if tokens > 0 {
            self.gw.lock().cache_read(self.id, tokens);
        }
    }

    /// The attempt's first byte arrived (a stream began): a sign of life for the engine.
    pub(crate) fn first_byte(&self) {
        let now = self.gw.now();
        self.gw.lock().first_byte(self.id, now);
    }

    /// When the attempt in flight is to be hedged, if its tier hedges and it may.
    pub(crate) fn hedge_at(&self) -> Option<Instant> {
        let at = self.gw.lock().hedge_at(self.id)?;
        Some(self.gw.clock.instant(at))
    }

    /// Asks the engine for a hedge now: the deployment (an id of the returned config) and the
    /// attempt number, or `None` when none is due or none of the tier's other deployments can
    /// take one.
    pub(crate) fn hedge(&mut self) -> Option<(Arc<Live>, DeploymentId, u8)> {
        let now = self.gw.now();
        let mut engine = self.gw.lock();
        let step = engine.hedge(self.id, now)?;
        keep_config(&mut self.config, &engine, step);
        match step {
            Step::Send {
                deployment,
                attempt,
                ..
            } => Some((self.config.clone(), deployment, attempt)),
            _ => None,
        }
    }

    /// Attempt `attempt` showed its first byte (or its whole answer) first: the engine names
    /// the other attempt, which lost, for cancelling.
    pub(crate) fn first_byte_of(&mut self, attempt: u8) -> Option<u8> {
        let now = self.gw.now();
        self.gw.lock().first_byte_of(self.id, attempt, now)
    }

    /// Reports attempt `a`, which failed while the other attempt of the request is still out;
    /// the engine's next step, if the request's fate no longer waits for the other (`None`:
    /// it does). Times as in [`Life::finish`].
    pub(crate) fn finish_alongside(
        &mut self,
        a: &Attempt,
        outcome: &Outcome,
        status: u16,
        ttft: Option<Duration>,
    ) -> Option<Step> {
        let now = self.gw.now();
        let outcome = &self.gw.clock.outcome(outcome);
        let ttft = ttft.map(|t| self.gw.clock.engine(t));
        let step = {
            let mut engine = self.gw.lock();
            let hedged = engine.finish_of(self.id, a.number, outcome, now);
            if let Some(step) = hedged.step {
                keep_config(&mut self.config, &engine, step);
            }
            hedged.step
        };
        if let Some(step) = step {
            self.live = !step.is_terminal();
        }
        self.record(a, outcome, status, ttft, now);
        step
    }

    /// A `cancelled` trace row for attempt `a`, abandoned by the gateway (the other attempt of
    /// its request won, or the request ended).
    pub(crate) fn cancelled(&self, a: &Attempt) {
        let now = self.gw.now();
        // A censored latency: the answer would have taken longer than this.
        let outcome = Outcome::failure(FailureKind::Timeout);
        self.record_row(a, &outcome, 0, None, now, Some("cancelled"));
    }

    /// The deadline passed: the request fails with the engine's deadline reason.
    pub(crate) fn expire(&mut self, a: Option<&Attempt>) -> Step {
        let now = self.gw.now();
        let step = self.gw.lock().expire(self.id, now);
        self.live = false;
        self.current = None;
        if let Some(a) = a {
            let outcome = Outcome::failure(FailureKind::Timeout);
            self.record(a, &outcome, 0, None, now);
        }
        step.unwrap_or(Step::Failed {
            request: self.id,
            reason: FailReason::Deadline,
        })
    }

    pub(crate) fn resume(&mut self) -> Step {
        let now = self.gw.now();
        let step = {
            let mut engine = self.gw.lock();
            let step = engine.resume(self.id, now);
            keep_config(&mut self.config, &engine, step);
            step
        };
        self.live = !step.is_terminal();
        step
    }

    fn record(
        &self,
        a: &Attempt,
        outcome: &Outcome,
        status: u16,
        ttft: Option<Duration>,
        now: Duration,
    ) {
        self.record_row(a, outcome, status, ttft, now, None);
    }

    /// The request failed before any attempt: one `refused` row (attempt 1, no deployment), so
    /// the trace holds every request.
    pub(crate) fn refused(&self) {
        let now = self.gw.now();
        let a = Attempt {
            name: Arc::from(""),
            number: 1,
            sent: Instant::now(),
            sent_at: now,
        };
        let outcome = Outcome::failure(FailureKind::Connection);
        self.record_row(&a, &outcome, 0, None, now, Some("refused"));
    }

    fn record_row(
        &self,
        a: &Attempt,
        outcome: &Outcome,
        status: u16,
        ttft: Option<Duration>,
        now: Duration,
        note: Option<&'static str>,
    ) {
        let Some(trace) = &self.gw.trace else { return };
        let (failure, input_tokens, output_tokens, limits, retry_after) = match *outcome {
            Outcome::Success {
                input_tokens,
                output_tokens,
                headers,
                ..
            } => (None, input_tokens, output_tokens, headers, None),
            Outcome::Failure {
                kind,
                headers,
                retry_after,
                ..
            } => (
                Some(kind),
                self.input_tokens,
                self.output_tokens,
                headers,
                retry_after,
            ),
        };
        trace.record(Row {
            sent: a.sent_at,
            request_id: self.number,
            attempt: a.number,
            model: self.model.clone(),
            tier: self.tier.clone(),
            deployment: a.name.clone(),
            failure,
            note,
            status,
            input_tokens,
            output_tokens,
            latency: now.saturating_sub(a.sent_at),
            ttft,
            stream: self.stream,
            client: self.client.clone(),
            limits,
            arrived: self.arrived,
            cached_tokens: if failure.is_none() { self.cached } else { 0 },
            retry_after,
        });
    }
}

/// Keeps the config a `Send` step's deployment id refers to (read under the same lock).
fn keep_config(config: &mut Arc<Live>, engine: &crate::state::EngineGuard<'_>, step: Step) {
    if matches!(step, Step::Send { .. }) && !Arc::ptr_eq(config, engine.live()) {
        *config = engine.live().clone();
    }
}

impl Drop for Life {
    fn drop(&mut self) {
        if self.live {
            let now = self.gw.now();
            self.gw.lock().cancel(self.id, now);
            for a in [self.current.take(), self.hedge.take()]
                .into_iter()
                .flatten()
            {
                self.cancelled(&a);
            }
            debug!(request = self.number, "client went away: request cancelled");
        }
    }
}

/// A request its client's own tier, limits or budgets refused before the engine took it (the
/// gateway's own 403/429, not a provider's): one `client_refused` row (attempt 1, no
/// deployment, status 0, latency 0), so the trace holds every request and `fit` never takes the
/// refusal for a provider's limit.
pub(crate) fn client_refused(
    gw: &Shared,
    number: u64,
    (model, tier): (Arc<str>, Arc<str>),
    (input_tokens, output_tokens): (u32, u32),
    stream: bool,
    client: Arc<str>,
) {
    let Some(trace) = &gw.trace else { return };
    let now = gw.now();
    trace.record(Row {
        sent: now,
        request_id: number,
        attempt: 1,
        model,
        tier,
        deployment: Arc::from(""),
        failure: Some(FailureKind::Client),
        note: Some("client_refused"),
        status: 0,
        input_tokens,
        output_tokens,
        latency: Duration::ZERO,
        ttft: None,
        stream,
        client: Some(client),
        limits: engine::LimitHeaders::default(),
        arrived: now,
        cached_tokens: 0,
        retry_after: None,
    });
}
