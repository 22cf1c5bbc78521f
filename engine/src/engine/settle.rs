//! A finished attempt: its deployment's health, limits and metrics updated, then the request's
//! next step (done, failed, a retry or a fallback).

use std::time::Duration;

use super::*;

impl Engine {
    pub(super) fn finish_attempt(
        &mut self,
        id: RequestId,
        outcome: &Outcome,
        now: Duration,
        may_retry: bool,
    ) -> Step {
        let slot = self.slot_index(id);
        let flight = self.slots[slot]
            .current
            .take()
            .expect("finish called for a request with no attempt in flight");
        let d = flight.deployment;
        self.release(d);
        if !flight.first_byte {
            // A timeout or a dropped connection is no sign of life; anything else is.
            let answered = !matches!(
                outcome.failure_kind(),
                Some(FailureKind::Timeout | FailureKind::Connection)
            );
            self.states[d.index()].on_first_byte(now, answered);
        }
        let step = self.settle(slot, &flight, outcome, now, may_retry);
        // The provider's word on remaining quota comes last: it overrides local estimates.
        self.observe_headers(d, outcome, now);
        step
    }

    /// Health, limits and metrics of a finished attempt, then the request's next step.
    pub(super) fn settle(
        &mut self,
        slot: usize,
        flight: &InFlight,
        outcome: &Outcome,
        now: Duration,
        may_retry: bool,
    ) -> Step {
        let id = self.id_of(slot);
        let d = flight.deployment;
        let elapsed = now.saturating_sub(flight.sent_at);
        match *outcome {
            Outcome::Success {
                ttft,
                input_tokens,
                output_tokens,
                ..
            } => {
                self.on_success(d, flight, elapsed, ttft, input_tokens, output_tokens, now);
                self.remember_session(slot, d, now);
                let lead = self.slots[slot].hedge_lead;
                self.observe_ttft(d, ttft.saturating_add(lead));
                if let Some(c) = self.slots[slot].client.take() {
                    let price = self.deployment_any(d).price;
                    let actual = crate::spend::nanos(
                        &price,
                        u64::from(input_tokens),
                        u64::from(output_tokens),
                    );
                    let estimated = self.slots[slot].request.estimated_tokens();
                    let state = &mut self.clients[c.client.index()];
                    state.settle(c.at, c.reserved, actual);
                    let used = u64::from(input_tokens) + u64::from(output_tokens);
                    state.correct_tokens(c.at, estimated, used);
                    state.succeeded += 1;
                }
                self.end(slot, None, now);
                Step::Done { request: id }
            }
            Outcome::Failure {
                kind,
                status,
                retry_after,
                ..
            } => {
                self.on_failure(d, flight.probe, kind, retry_after, elapsed, now);
                // Nothing in this chain takes the input: go where longer inputs fit, if anywhere.
                let moves_to = match kind {
                    FailureKind::ContextLength if may_retry && !self.is_retired(d) => {
                        self.config
                            .tier(self.config.deployment(d).tier)
                            .context_fallback
                    }
                    _ => None,
                };
                // A refused key is the deployment's fault, not the request's: always elsewhere.
                let retried =
                    kind == FailureKind::Auth || self.config.retry.retry_on[kind as usize];
                let reason = if moves_to.is_some() {
                    None
                } else if matches!(kind, FailureKind::Client | FailureKind::ContextLength) {
                    Some(FailReason::ClientError { status })
                } else if !may_retry || !retried {
                    Some(FailReason::NotRetried { kind })
                } else {
                    None
                };
                if let Some(reason) = reason {
                    self.end(slot, Some(reason), now);
                    return Step::Failed {
                        request: id,
                        reason,
                    };
                }
                let backoff = self.backoff(self.slots[slot].attempts);
                let s = &mut self.slots[slot];
                s.failed_on(d, kind);
                s.backoff_until = now.saturating_add(backoff);
                if let Some(longer) = moves_to {
                    // Its deployments are untried: no backoff to wait out.
                    s.tier = longer;
                    s.backoff_until = now;
                }
                self.next_step(slot, now)
            }
        }
    }
}
