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
use crate::launch::{Answer, Launched, Sender};
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
    let gw = sender.gw;
    if !first.live.hedging {
        let answer = first.answer(&gw.clock).await;
        return Raced::Answer(first, answer);
    }
    let mut first_answer = first.answer_owned(gw);
    loop {
        let (second, mut second_answer) = loop {
            let Some(at) = life.hedge_at() else {
                let answer = first_answer.await;
                return Raced::Answer(first, answer);
            };
            tokio::select! {
                answer = &mut first_answer => return Raced::Answer(first, answer),
                () = sleep_until(at.into()) => {}
            }
            // Due, unless the tier's quantile moved on meanwhile (then `hedge_at` says when).
            let Some((live, d, number)) = life.hedge() else {
                continue;
            };
            match sender.launch(&live, d, number) {
                Ok(mut launched) => {
                    let answer = launched.answer_owned(gw);
                    break (launched, answer);
                }
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
        let (winner, answer, other, other_answer): (_, _, _, Answer) = tokio::select! {
            answer = &mut first_answer => (first, answer, second, second_answer),
            answer = &mut second_answer => (second, answer, first, first_answer),
        };
        life.current = Some(winner.a.clone());
        life.hedge = None;
        match outcome_of(&answer) {
            // The winner's first byte (or whole answer): dropping the other's future closes
            // its upstream connection.
            None => {
                drop(other_answer);
                if life.first_byte_of(winner.a.number).is_some() {
                    life.cancelled(&other.a);
                }
                return Raced::Answer(winner, answer);
            }
            Some(Err(())) => {
                // The deadline passed: the engine ends the request and both attempts with it.
                drop(other_answer);
                life.cancelled(&other.a);
                return Raced::Answer(winner, answer);
            }
            Some(Ok((outcome, status, ttft))) => {
                if let Some(step) = life.finish_alongside(&winner.a, &outcome, status, ttft) {
                    return Raced::Step(step);
                }
                // The other attempt carries the request on (and may be hedged in its turn).
                life.current = Some(other.a.clone());
                (first, first_answer) = (other, other_answer);
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
