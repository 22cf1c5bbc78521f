//! Hedged requests (`hedge = { after = "p95" | "3s", max = 1 }` on a tier): when an attempt has
//! shown no first byte by `after` — a fixed time, or a quantile of the tier's recent times to
//! first token — a second attempt goes to another usable deployment of the tier that keeps
//! [`HEDGE_RESERVE`] of its tightest limit to spare. The first first byte (or the first
//! success) wins and the other attempt is abandoned like a client's cancel; a failed attempt
//! leaves the other running. Never after a first byte: a stream that started is never doubled.
//!
//! A driver that hedges asks [`Engine::hedge_at`] after each `Send`, calls [`Engine::hedge`] at
//! that time, and reports per attempt with [`Engine::first_byte_of`] and [`Engine::finish_of`],
//! cancelling the attempt they name as the loser. A driver that never calls `hedge` sees no
//! difference. Every request still ends in exactly one terminal step.

use std::time::Duration;

use super::{Engine, InFlight};
use crate::config::objectives::HedgeAfter;
use crate::config::Config;
use crate::ids::{DeploymentId, RequestId};
use crate::outcome::{FailureKind, Outcome};
use crate::step::Step;

/// Fraction of a deployment's tightest limit a hedge must leave: hedges only spend headroom
/// that is spare, never a key's last few percent.
pub const HEDGE_RESERVE: f64 = 0.1;

/// Step size of the online quantile estimate, relative to the mean TTFT.
const QUANTILE_STEP: f64 = 0.05;

/// Counters of hedging, for metrics and reports.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HedgeStats {
    /// Hedged attempts sent.
    pub sent: u64,
    /// Requests whose hedge showed the first byte (or succeeded) first.
    pub won: u64,
    /// Attempts abandoned because the other attempt of their request won.
    pub cancelled: u64,
    /// Input tokens of those abandoned attempts, billed at their deployments' input price
    /// (the provider has read the prompt; nothing was generated before the other won).
    pub cancelled_input_tokens: u64,
}

/// What a hedging driver does after an attempt ended: the request's next step (`None`: the
/// other attempt is still out, wait for it), and which attempt to cancel, if one lost.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Hedged {
    /// The next step, as from [`Engine::finish`]; `None` while the other attempt runs.
    pub step: Option<Step>,
    /// The attempt number of the losing attempt, which the driver must cancel.
    pub cancel: Option<u8>,
}

/// An online estimate of one quantile of a tier's times to first token (stochastic
/// approximation: up by (1 − p)·step·mean on a sample above, down by p·… below, in equilibrium
/// a fraction 1 − p of samples lies above it).
#[derive(Debug, Clone, Copy, Default)]
struct Tracker {
    p: f64,
    mean: Option<f64>,
    quantile: Option<f64>,
}

impl Tracker {
    fn observe(&mut self, x: f64) {
        let mean = self.mean.map_or(x, |m| m + QUANTILE_STEP * (x - m));
        self.mean = Some(mean);
        self.quantile = Some(match self.quantile {
            None => x,
            Some(q) => {
                let below = if x <= q { 1.0 } else { 0.0 };
                (q + QUANTILE_STEP * mean * (self.p - below)).max(0.0)
            }
        });
    }
}

/// Per tier, its TTFT quantile tracker (tiers hedging after a quantile); and counters.
#[derive(Debug, Clone, Default)]
pub(super) struct Hedging {
    trackers: Vec<Option<Tracker>>,
    stats: HedgeStats,
}

impl Hedging {
    pub(super) fn new(config: &Config) -> Hedging {
        Hedging {
            trackers: config
                .tiers
                .iter()
                .map(|t| match t.hedge.map(|h| h.after) {
                    Some(HedgeAfter::Quantile(p)) => Some(Tracker {
                        p,
                        ..Tracker::default()
                    }),
                    _ => None,
                })
                .collect(),
            stats: HedgeStats::default(),
        }
    }
}

impl Engine {
    /// Counters of hedging since the engine was built.
    pub fn hedge_stats(&self) -> HedgeStats {
        self.hedging.stats
    }

    /// A successful attempt's time to first token on `d`, for its tier's quantile estimate.
    pub(super) fn observe_ttft(&mut self, d: DeploymentId, ttft: Duration) {
        let Some(deployment) = self.config.deployments.get(d.index()) else {
            return;
        };
        if let Some(Some(t)) = self.hedging.trackers.get_mut(deployment.tier.index()) {
            t.observe(ttft.as_secs_f64());
        }
    }

    /// When the request's attempt in flight should be hedged, if its tier hedges, it has not
    /// shown a first byte, no hedge is out, and the request has hedges and attempts left.
    /// `None` too while a quantile has no samples yet.
    pub fn hedge_at(&self, id: RequestId) -> Option<Duration> {
        let s = &self.slots[self.try_slot_index(id)?];
        let h = self.config.tiers.get(s.tier.index())?.hedge?;
        let c = s.current?;
        if s.orphaned
            || c.first_byte
            || s.hedge.is_some()
            || s.hedges >= h.max
            || usize::from(s.attempts) >= self.config.retry.max_attempts
        {
            return None;
        }
        let delay = match h.after {
            HedgeAfter::Fixed(d) => d,
            HedgeAfter::Quantile(_) => {
                let q = self.hedging.trackers[s.tier.index()]?.quantile?;
                Duration::from_secs_f64(q.clamp(0.0, 3600.0))
            }
        };
        Some(c.sent_at.saturating_add(delay))
    }

    /// Sends a hedge for the request if it is still due ([`Engine::hedge_at`] ≤ `now`) and a
    /// deployment of its tier other than the one in flight is untried, usable and keeps
    /// [`HEDGE_RESERVE`] of its limits: the one with the lowest TTFT estimate. The `Send` is
    /// carried out like any other; `None`: nothing to do.
    pub fn hedge(&mut self, id: RequestId, now: Duration) -> Option<Step> {
        if self.hedge_at(id)? > now {
            return None;
        }
        let slot = self.try_slot_index(id)?;
        let s = &self.slots[slot];
        let current = s.current?.deployment;
        let tokens = s.request.estimated_tokens();
        let (now_secs, default) = (
            now.as_secs_f64(),
            self.config.balancing.default_latency.as_secs_f64(),
        );
        let idle = self.rates.idle;
        let d = self
            .config
            .tier(s.tier)
            .deployments
            .iter()
            .copied()
            .filter(|&d| d != current && !s.has_tried(d))
            .filter(|&d| {
                let state = &self.states[d.index()];
                state.check_at(now, now_secs, tokens as f64).is_ok()
                    && state.headroom_after_at(now_secs, tokens as f64) >= HEDGE_RESERVE
            })
            .map(|d| {
                let ttft = self.states[d.index()].ttft.decayed_at(now_secs, idle);
                (d, ttft.unwrap_or(default))
            })
            .min_by(|a, b| a.1.total_cmp(&b.1))?
            .0;
        let flight = self.launch(slot, d, now);
        let s = &mut self.slots[slot];
        s.hedges += 1;
        s.hedge = Some(flight);
        let attempt = flight.attempt;
        self.hedging.stats.sent += 1;
        Some(Step::Send {
            request: id,
            deployment: d,
            attempt,
        })
    }

    /// The winner's flight becomes the request's only one; the loser is abandoned and billed
    /// its input tokens.
    fn settle_race(&mut self, slot: usize, hedge_won: bool, now: Duration) -> Option<u8> {
        let s = &mut self.slots[slot];
        let hedge = s.hedge.take()?;
        let loser = if hedge_won {
            s.current.replace(hedge)
        } else {
            Some(hedge)
        }?;
        if hedge_won {
            s.hedge_lead = hedge.sent_at.saturating_sub(loser.sent_at);
        }
        self.abandon_flight(loser, now);
        let input = u64::from(self.slots[slot].request.input_tokens);
        let price = self.deployment_any(loser.deployment).price;
        self.metrics.deployments[loser.deployment.index()].cost += price.cost(input, 0);
        self.hedging.stats.cancelled += 1;
        self.hedging.stats.cancelled_input_tokens += input;
        if hedge_won {
            self.hedging.stats.won += 1;
        }
        Some(loser.attempt)
    }

    /// [`Engine::first_byte`] for attempt `attempt`: with a hedge out, the first first byte
    /// wins; returns the losing attempt, which the driver must cancel.
    pub fn first_byte_of(&mut self, id: RequestId, attempt: u8, now: Duration) -> Option<u8> {
        let slot = self.try_slot_index(id)?;
        let hedge_won = self.slots[slot].hedge.map(|h| h.attempt) == Some(attempt);
        let loser = self.settle_race(slot, hedge_won, now);
        self.first_byte(id, now);
        loser
    }

    /// [`Engine::finish`] for attempt `attempt` of a request that may have a hedge out. A
    /// success wins the race (the other attempt is to be cancelled); a failure while the other
    /// attempt is still out is recorded against its deployment, and the request waits for the
    /// other (`step: None`). Without a hedge out this is exactly [`Engine::finish`].
    ///
    /// # Panics
    /// If `attempt` is not in flight (a driver bug, as for [`Engine::finish`]).
    pub fn finish_of(
        &mut self,
        id: RequestId,
        attempt: u8,
        outcome: &Outcome,
        now: Duration,
    ) -> Hedged {
        let slot = self.slot_index(id);
        let s = &self.slots[slot];
        let Some(hedge) = s.hedge else {
            return Hedged {
                step: Some(self.finish(id, outcome, now)),
                cancel: None,
            };
        };
        let is_hedge = hedge.attempt == attempt;
        assert!(
            is_hedge || s.current.map(|c| c.attempt) == Some(attempt),
            "finish_of called for an attempt not in flight"
        );
        if outcome.failure_kind().is_none() {
            let cancel = self.settle_race(slot, is_hedge, now);
            return Hedged {
                step: Some(self.finish(id, outcome, now)),
                cancel,
            };
        }
        // A failure: the other attempt keeps the request alive.
        let s = &mut self.slots[slot];
        let flight = if is_hedge {
            s.hedge.take()
        } else {
            std::mem::replace(&mut s.current, s.hedge.take())
        }
        .expect("checked above");
        self.fail_alongside(slot, &flight, outcome, now);
        Hedged {
            step: None,
            cancel: None,
        }
    }

    /// Health, limits and metrics of an attempt that failed while another attempt of its
    /// request is still out; the request's fate waits for that one.
    fn fail_alongside(&mut self, slot: usize, flight: &InFlight, outcome: &Outcome, now: Duration) {
        let d = flight.deployment;
        self.release(d);
        let kind = outcome.failure_kind().unwrap_or(FailureKind::Server);
        if !flight.first_byte {
            let answered = !matches!(kind, FailureKind::Timeout | FailureKind::Connection);
            self.states[d.index()].on_first_byte(now, answered);
        }
        if let Outcome::Failure { retry_after, .. } = *outcome {
            let elapsed = now.saturating_sub(flight.sent_at);
            self.on_failure(d, flight.probe, kind, retry_after, elapsed, now);
        }
        self.slots[slot].failed_on(d, kind);
        self.observe_headers(d, outcome, now);
    }
}
