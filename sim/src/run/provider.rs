//! The provider side of an attempt: what the front door decides at once (outage, context length,
//! 429, error, hang), queueing for a provider's limited concurrency, and service — the latency
//! drawn, prompt-cache reads, and the attempt timeouts the gateway applies.

use std::time::Duration;

use engine::{FailureKind, LimitHeaders, Outcome};
use rand::Rng as _;

use super::events::Kind;
use super::request::{Flight, Phase};
use super::{failure, Simulation};
use crate::stats::Column;
use crate::world::OutageMode;

impl Simulation<'_> {
    /// Sends attempt `attempt` of request `slot` to deployment `d` in a free lane.
    pub(super) fn dispatch(&mut self, slot: usize, d: usize, attempt: u8) {
        let token = self.next_token();
        let now = self.now;
        let lane = {
            let r = &mut self.requests[slot];
            let lane = r.free_lane();
            r.lanes[lane] = Flight {
                token,
                phase: Phase::Pending,
                deployment: d as u32,
                attempt,
                sent_at: now,
                pending: None,
                cached: 0,
            };
            r.attempts = r.attempts.max(attempt);
            lane
        };
        self.series.count(now, d, Column::Attempts);
        self.front_door(slot, lane, d);
        if let Some(id) = self.requests[slot].id {
            if let Some(at) = self.engine.hedge_at(id) {
                self.schedule(at, Kind::Hedge, slot as u32, token);
            }
        }
    }

    /// What happens to the attempt in `lane` when it reaches the provider.
    fn front_door(&mut self, slot: usize, lane: usize, d: usize) {
        let now = self.now;
        let token = self.requests[slot].lanes[lane].token;
        let world = &self.scenario.world;
        let wd = &world.deployments[d];
        let endpoint = &self.scenario.config.deployments[d].endpoint;
        let cond = world.conditions(d, now);
        let r = self.requests[slot];
        let timeout = |this: &mut Self| {
            if let Some(fb) = endpoint.first_byte_timeout.or(endpoint.total_timeout) {
                this.requests[slot].lanes[lane].pending = Some(failure(
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
                    lane,
                    wd.rejection_latency / 10,
                    failure(FailureKind::Connection, None, None, LimitHeaders::default()),
                );
            }
            Some(OutageMode::Unavailable) => {
                return self.answer(
                    slot,
                    lane,
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
        let tokens =
            u64::from(r.a.input_tokens) + u64::from(r.a.estimated_output.max(r.a.output_tokens));
        if wd.context_exceeded(tokens).is_some() {
            // Rejected before any quota is charged, as providers validate the request first.
            let outcome = failure(
                FailureKind::ContextLength,
                Some(400),
                None,
                LimitHeaders::default(),
            );
            return self.answer(slot, lane, wd.rejection_latency, outcome);
        }
        let headers = LimitHeaders::default();
        if let Err(rejection) = self.limiters[d].admit(now, tokens, cond.limit_factor) {
            let outcome = failure(
                FailureKind::RateLimited,
                Some(429),
                Some(rejection.retry_after),
                rejection.headers,
            );
            return self.answer(slot, lane, wd.rejection_latency, outcome);
        }
        let rng = &mut self.rngs[d];
        let u: f64 = rng.random();
        if u < wd.error_rate + cond.extra_error_rate {
            let latency = crate::time::secs(wd.ttft.sample(rng) * cond.latency_factor);
            return self.answer(
                slot,
                lane,
                latency,
                failure(FailureKind::Server, Some(500), None, headers),
            );
        }
        if u < wd.error_rate + cond.extra_error_rate + wd.timeout_rate {
            return timeout(self);
        }
        self.requests[slot].lanes[lane].pending = Some(Outcome::Success {
            ttft: Duration::ZERO,
            input_tokens: r.a.input_tokens,
            output_tokens: r.a.output_tokens,
            headers,
        });
        let p = wd.provider;
        let q = &mut self.providers[p];
        if q.in_service < q.capacity {
            q.in_service += 1;
            self.start_service(slot, lane);
        } else {
            q.waiting.push_back((slot as u32, token));
            self.requests[slot].lanes[lane].phase = Phase::Queued;
            if let Some(fb) = endpoint.first_byte_timeout {
                self.schedule(now + fb, Kind::FirstByteDeadline, slot as u32, token);
            }
        }
    }

    /// The attempt in `lane` is answered with `outcome` after `after`.
    fn answer(&mut self, slot: usize, lane: usize, after: Duration, outcome: Outcome) {
        let flight = &mut self.requests[slot].lanes[lane];
        flight.pending = Some(outcome);
        let token = flight.token;
        self.schedule(self.now + after, Kind::Deliver, slot as u32, token);
    }

    /// Service begins (capacity already taken): draw latency, apply attempt timeouts.
    fn start_service(&mut self, slot: usize, lane: usize) {
        let now = self.now;
        let r = self.requests[slot];
        let flight = r.lanes[lane];
        let d = flight.deployment as usize;
        let wd = &self.scenario.world.deployments[d];
        let endpoint = &self.scenario.config.deployments[d].endpoint;
        let factor = self.scenario.world.conditions(d, now).latency_factor;
        let cache = self.scenario.world.providers[wd.provider].prompt_cache;
        let (cached, saving) = match (cache, r.a.session) {
            (Some(c), Some(session)) => {
                let cached = self.caches.serve(d, &c, session, r.a.input_tokens, now);
                let share = f64::from(cached) / f64::from(r.a.input_tokens.max(1));
                (cached, c.ttft_saving * share)
            }
            _ => (0, 0.0),
        };
        let rng = &mut self.rngs[d];
        let ttft = crate::time::secs(wd.ttft.sample(rng) * factor * (1.0 - saving));
        let generation =
            crate::time::secs(f64::from(r.a.output_tokens) * wd.per_token.sample(rng) * factor);
        let waited = now.saturating_sub(flight.sent_at);
        if self.providers[wd.provider].capacity != u32::MAX {
            self.schedule(
                now + ttft + generation,
                Kind::ServiceEnd,
                wd.provider as u32,
                0,
            );
        }
        // The head of a non-streamed answer is the whole answer, as the gateway sees it.
        let head = if r.a.stream { ttft } else { ttft + generation };
        let timeout_at = match (endpoint.first_byte_timeout, endpoint.total_timeout) {
            (Some(fb), _) if waited + head > fb => Some(flight.sent_at + fb),
            (_, Some(total)) if waited + ttft + generation > total => Some(flight.sent_at + total),
            _ => None,
        };
        let (at, outcome) = match (timeout_at, flight.pending) {
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
        let flight = &mut self.requests[slot].lanes[lane];
        flight.cached = cached;
        flight.phase = Phase::Pending;
        flight.pending = Some(outcome);
        let token = flight.token;
        self.schedule(at, Kind::Deliver, slot as u32, token);
        if timeout_at.is_none() {
            self.schedule(now + head, Kind::FirstByte, slot as u32, token);
        }
    }

    /// Provider `provider` finished one request: the next queued attempt still out starts.
    pub(super) fn service_end(&mut self, provider: usize) {
        self.providers[provider].in_service -= 1;
        while let Some((slot, token)) = self.providers[provider].waiting.pop_front() {
            let slot = slot as usize;
            let Some(lane) = self.requests[slot].lane_of(token) else {
                continue;
            };
            if self.requests[slot].lanes[lane].phase == Phase::Queued {
                self.providers[provider].in_service += 1;
                self.start_service(slot, lane);
                break;
            }
        }
    }
}
