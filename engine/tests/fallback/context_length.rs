//! Context-length errors: never retried in the tier, moved to its context fallback if
//! any, a client error otherwise (and always once a stream has started).

use engine::{FailReason, FailureKind, LimitHeaders, Outcome, Step};

use crate::support::*;

fn context_length() -> Outcome {
    Outcome::Failure {
        kind: FailureKind::ContextLength,
        status: Some(400),
        retry_after: None,
        headers: LimitHeaders::default(),
    }
}

/// short = {s1, s2} (fallback backup = {b1}); `context` is short's context_fallback line.
fn short_long_backup(context: &str) -> String {
    format!(
        "[[tier]]\nname = \"short\"\nstrategy = \"weighted-round-robin\"\nfallback = [\"backup\"]\n{context}\n\n\
         [[tier]]\nname = \"long\"\n\n[[tier]]\nname = \"backup\"\n\n{}{}{}{}",
        deployment("s1", "short", ""),
        deployment("s2", "short", ""),
        deployment("l1", "long", ""),
        deployment("b1", "backup", ""),
    )
}

#[test]
fn a_context_length_error_moves_the_request_to_the_longer_context_tier() {
    let mut e = engine(&short_long_backup("context_fallback = \"long\""));
    let now = secs(1);
    let (id, first, _) = sent(e.start(request(&e, "short", 200_000, 100), now));
    assert!([dep(&e, "s1"), dep(&e, "s2")].contains(&first));
    // Not the other short deployment, not the ordinary fallback: the longer-context tier.
    let (_, second, attempt) = sent(e.finish(id, &context_length(), now));
    assert_eq!((second, attempt), (dep(&e, "l1"), 2));
    assert_eq!(e.finish(id, &ok(), now), Step::Done { request: id });
    let snap = e.snapshot(now);
    assert_eq!(
        (
            snap.tiers[0].requests,
            snap.tiers[0].successes,
            snap.tiers[0].fell_back
        ),
        (1, 1, 1),
        "counted once, on the routed tier, as fallen back"
    );
    let first_state = &e.states()[first.index()];
    assert_eq!(
        first_state.check(now, 1),
        Ok(()),
        "no cooldown or ejection for it"
    );
    assert_eq!(snap.deployments[first.index()].client_errors, 1);
    assert_eq!(snap.deployments[dep(&e, "l1").index()].fallbacks, 1);
}

#[test]
fn a_context_length_error_without_a_context_fallback_is_a_client_error() {
    let mut e = engine(&short_long_backup(""));
    let now = secs(1);
    let (id, _, _) = sent(e.start(request(&e, "short", 200_000, 100), now));
    assert_eq!(
        e.finish(id, &context_length(), now),
        Step::Failed {
            request: id,
            reason: FailReason::ClientError { status: Some(400) }
        }
    );
    // A stream that already started is never moved either.
    let mut e = engine(&short_long_backup("context_fallback = \"long\""));
    let (id, _, _) = sent(e.start(request(&e, "short", 200_000, 100), now));
    assert_eq!(
        e.finish_final(id, &context_length(), now),
        Step::Failed {
            request: id,
            reason: FailReason::ClientError { status: Some(400) }
        }
    );
}
