//! Hedged requests (`hedge` on a tier): while an attempt shows no first byte, ask the engine
//! when a second attempt is due ([`engine::Engine::hedge_at`]); at that time it may send one to
//! another deployment with spare headroom. Then the first attempt to show its first byte (a
//! stream's first content frame, or a whole answer) wins, and the other one's future is
//! dropped — which closes its upstream connection — with a `cancelled` trace row. An attempt
//! that fails while the other is out is reported and the request waits for the other; a
//! started stream is never doubled.

use std::fmt::Write as _;

use tokio::time::sleep_until;

use engine::{FailureKind, HedgeStats, Outcome, Step};

use crate::attempt::{client_error_outcome, AttemptResult};
use crate::launch::{Launched, Sender};
use crate::life::Life;

/// How an attempt (hedged or not) came out. Returned once per attempt and matched at once:
/// its size costs a move on the stack, where boxing the answer would cost an allocation per
/// request.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Raced {
    /// The answer of the attempt that counts (the only one, or a race's winner, or the one
    /// left after the other failed); the engine has a single attempt in flight again.
    Answer(Launched, AttemptResult),
    /// The engine's next step after both attempts of a race failed.
    Step(Step),
}

/// Waits for `first`'s answer, hedging it when its tier says so.
pub(crate) async fn race(sender: &mut Sender<'_>, life: &mut Life, mut first: Launched) -> Raced {
    if !first.live.hedging {
        let answer = (&mut first.answer).await;
        return Raced::Answer(first, answer);
    }
    loop {
        let mut second = loop {
            let Some(at) = life.hedge_at() else {
                let answer = (&mut first.answer).await;
                return Raced::Answer(first, answer);
            };
            tokio::select! {
                answer = &mut first.answer => return Raced::Answer(first, answer),
                () = sleep_until(at.into()) => {}
            }
            // Due, unless the tier's quantile moved on meanwhile (then `hedge_at` says when).
            let Some((live, d, number)) = life.hedge() else {
                continue;
            };
            match sender.launch(&live, d, number) {
                Ok(launched) => break launched,
                Err(u) => {
                    // The request cannot be put in that deployment's shape: a client error
                    // there, reported; the first attempt goes on.
                    let outcome = Outcome::failure(FailureKind::Client);
                    if let Some(step) = life.finish_alongside(&u.a, &outcome, 400, None) {
                        return Raced::Step(step);
                    }
                }
            }
        };
        life.hedge = Some(second.a.clone());
        let (winner, answer, other) = tokio::select! {
            answer = &mut first.answer => (first, answer, second),
            answer = &mut second.answer => (second, answer, first),
        };
        life.current = Some(winner.a.clone());
        life.hedge = None;
        match outcome_of(&answer) {
            // The winner's first byte (or whole answer): the other attempt is dropped here.
            None => {
                if life.first_byte_of(winner.a.number).is_some() {
                    life.cancelled(&other.a);
                }
                return Raced::Answer(winner, answer);
            }
            Some(Err(())) => {
                // The deadline passed: the engine ends the request and both attempts with it.
                life.cancelled(&other.a);
                return Raced::Answer(winner, answer);
            }
            Some(Ok((outcome, status, ttft))) => {
                if let Some(step) = life.finish_alongside(&winner.a, &outcome, status, ttft) {
                    return Raced::Step(step);
                }
                // The other attempt carries the request on (and may be hedged in its turn).
                life.current = Some(other.a.clone());
                first = other;
            }
        }
    }
}

/// What the engine is told of an answer that is not a first byte: `Ok` a failure to report,
/// `Err` the request's deadline; `None` for an answer (whole or the start of a stream).
type Reported = Option<Result<(Outcome, u16, Option<std::time::Duration>), ()>>;

fn outcome_of(answer: &AttemptResult) -> Reported {
    match answer {
        AttemptResult::Complete { .. } | AttemptResult::Stream { .. } => None,
        AttemptResult::Expired => Some(Err(())),
        AttemptResult::ClientError {
            parts,
            ttft,
            context_length,
            ..
        } => {
            let outcome = client_error_outcome(parts, *context_length);
            Some(Ok((outcome, parts.status.as_u16(), Some(*ttft))))
        }
        AttemptResult::Failed {
            outcome,
            status,
            ttft,
        } => Some(Ok((*outcome, *status, *ttft))),
    }
}

/// Hedging's counters on `/metrics`.
pub(crate) fn render_metrics(out: &mut String, h: &HedgeStats) {
    crate::metrics::header(
        out,
        "switchyard_hedges_total",
        "counter",
        "Hedged attempts (tiers with `hedge`): sent, and won (their first byte came first).",
    );
    for (result, n) in [("sent", h.sent), ("won", h.won)] {
        let _ = writeln!(out, "switchyard_hedges_total{{result=\"{result}\"}} {n}");
    }
    crate::metrics::header(
        out,
        "switchyard_hedge_loser_input_tokens_total",
        "counter",
        "Input tokens of attempts abandoned because the other attempt of their request won.",
    );
    let _ = writeln!(
        out,
        "switchyard_hedge_loser_input_tokens_total {}",
        h.cancelled_input_tokens
    );
}
