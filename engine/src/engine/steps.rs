//! The request's next step (send, wait, done or failed), sending an attempt and ending a
//! request.

use std::time::Duration;

use super::*;

impl Engine {
    /// Records a terminal step's metrics and frees the slot.
    pub(super) fn end(&mut self, slot: usize, failure: Option<FailReason>, now: Duration) {
        let s = &self.slots[slot];
        // An orphan's tier is gone: it counts in the totals only.
        let mut tier = match s.orphaned {
            false => Some(&mut self.metrics.tiers[s.request.tier.index()]),
            true => None,
        };
        if let Some(t) = tier.as_mut().filter(|_| s.fell_back) {
            t.fell_back += 1;
        }
        match failure {
            None => {
                if let Some(t) = tier {
                    t.successes += 1;
                    metrics::record(&mut t.latency, now.saturating_sub(s.started));
                }
                self.metrics.totals.succeeded += 1;
            }
            Some(reason) => {
                if let Some(t) = tier {
                    t.failures += 1;
                }
                if let Some(c) = &s.client {
                    self.clients[c.client.index()].failed += 1;
                }
                self.metrics.totals.count_failure(&reason);
            }
        }
        self.free_slot(slot);
    }

    pub(super) fn next_step(&mut self, slot: usize, now: Duration) -> Step {
        let request = self.id_of(slot);
        let s = &self.slots[slot];
        if s.orphaned {
            // Its tier is gone from the config: nothing will ever serve it.
            let reason = FailReason::NoCapacity { earliest: None };
            self.end(slot, Some(reason), now);
            return Step::Failed { request, reason };
        }
        let out_of_attempts = usize::from(s.attempts) >= self.config.retry.max_attempts;
        if now >= s.deadline || out_of_attempts {
            let reason = if now >= s.deadline {
                FailReason::Deadline
            } else {
                FailReason::AttemptsExhausted {
                    last: s.last_failure.unwrap_or(FailureKind::Server),
                }
            };
            self.end(slot, Some(reason), now);
            return Step::Failed { request, reason };
        }
        if let Some((deployment, fallback)) = self.choose(slot, now) {
            let attempt = self.send(slot, deployment, fallback, now);
            return Step::Send {
                request,
                deployment,
                attempt,
            };
        }
        let earliest = self.earliest_usable(slot, now);
        let s = &self.slots[slot];
        let until = earliest.map(|t| t.max(now.saturating_add(Duration::from_micros(1))));
        let reason = match until {
            Some(t) if t > s.deadline => FailReason::Deadline,
            Some(t)
                if s.waited.saturating_add(t.saturating_sub(now)) <= self.config.retry.max_wait =>
            {
                self.slots[slot].waiting_since = Some(now);
                self.metrics.totals.waits += 1;
                return Step::Wait { request, until: t };
            }
            // The reason is what happened: attempts that failed, or limits that never freed.
            _ => match s.last_failure {
                _ if self.chain_disabled(s.tier) => FailReason::AllDisabled,
                Some(last) if last.is_health_failure() => FailReason::AttemptsExhausted { last },
                _ => FailReason::NoCapacity { earliest },
            },
        };
        self.end(slot, Some(reason), now);
        Step::Failed { request, reason }
    }

    pub(super) fn send(
        &mut self,
        slot: usize,
        d: DeploymentId,
        fallback: bool,
        now: Duration,
    ) -> u8 {
        let flight = self.launch(slot, d, now);
        let s = &mut self.slots[slot];
        s.fell_back |= fallback;
        s.hedge_lead = Duration::ZERO;
        s.current = Some(flight);
        let m = &mut self.metrics.deployments[d.index()];
        if s.attempts > 1 {
            m.retries += 1;
        }
        if fallback {
            m.fallbacks += 1;
        }
        s.attempts
    }

    /// A new attempt of the request in `slot` on `d` (a retry, a fallback or a hedge): charged
    /// against `d`'s limits and in-flight count, numbered, counted; the caller puts it on the
    /// wire. Always inlined: on the round trip's hot path a call costs ~40 instructions
    /// (callgrind, `scripts/engine-instructions.sh`).
    #[inline(always)]
    pub(super) fn launch(&mut self, slot: usize, d: DeploymentId, now: Duration) -> InFlight {
        let tokens = self.slots[slot].request.estimated_tokens();
        let state = &mut self.states[d.index()];
        state.on_send(now);
        let probe = state.breaker.on_send();
        state.rpm.charge(now, 1);
        state.rpd.charge(now, 1);
        state.tpm.charge(now, tokens);
        let s = &mut self.slots[slot];
        s.attempts += 1;
        self.metrics.deployments[d.index()].attempts += 1;
        InFlight {
            deployment: d,
            sent_at: now,
            charged_tokens: tokens,
            probe,
            first_byte: false,
            cached_input: 0,
            attempt: s.attempts,
        }
    }
}
