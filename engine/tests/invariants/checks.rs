//! The driver's checks of every step (invariants (a) and (b)): what an outcome dictates,
//! attempt numbers, waits within the budget, terminal reasons, and that every `Send` goes
//! to a usable deployment in fallback order.

use std::time::Duration;

use engine::state::{Blocked, DeploymentState};
use engine::{DeploymentId, FailReason, FailureKind, RequestId, Step, StrategyKind, TierId};

use crate::driver::{Cause, Driver, Event, LiveRequest};
use crate::inputs::Kind;

impl Driver {
    pub(crate) fn handle(
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
    pub(crate) fn context_fallback_of(&self, d: DeploymentId, kind: Kind) -> Option<TierId> {
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
