//! Failures that are not retried: client errors, failure kinds missing from
//! `retry.retry_on`, and running out of `retry.max_attempts`.

use engine::{FailReason, FailureKind, Step};

use crate::support::*;

#[test]
fn client_errors_are_never_retried() {
    let toml = format!(
        "[[tier]]\nname = \"main\"\nstrategy = \"weighted-round-robin\"\n\n{}{}",
        deployment("a", "main", "weight = 2"),
        deployment("b", "main", "weight = 1"),
    );
    let mut e = engine(&toml);
    let [a, b] = ["a", "b"].map(|d| dep(&e, d));
    for (i, status) in [400u16, 401, 404, 413].into_iter().enumerate() {
        let now = secs(i as u64);
        let (id, _, _) = sent(e.start(request(&e, "main", 10, 10), now));
        assert_eq!(
            e.finish(id, &client_error(status), now),
            Step::Failed {
                request: id,
                reason: FailReason::ClientError {
                    status: Some(status)
                }
            }
        );
    }
    let snap = e.snapshot(secs(5));
    assert_eq!(snap.totals.failed_client, 4);
    assert_eq!(snap.totals.failed(), 4);
    let attempts = snap.deployments[a.index()].attempts + snap.deployments[b.index()].attempts;
    assert_eq!(attempts, 4, "one attempt per request, no retries");
    assert_eq!(
        snap.deployments[a.index()].client_errors + snap.deployments[b.index()].client_errors,
        4
    );
    assert_eq!(snap.deployments[a.index()].retries, 0);
    // Client errors say nothing about the deployment's health.
    assert_eq!(e.states()[a.index()].check(secs(5), 20), Ok(()));
    assert_eq!(e.states()[b.index()].check(secs(5), 20), Ok(()));
    assert_eq!(e.live_requests(), 0);
}

#[test]
fn kinds_missing_from_retry_on_fail_at_once() {
    let toml = format!(
        "[[tier]]\nname = \"main\"\n\n{}{}[retry]\nretry_on = [\"server_error\"]\n",
        deployment("a", "main", ""),
        deployment("b", "main", ""),
    );
    let mut e = engine(&toml);
    for kind in [
        FailureKind::RateLimited,
        FailureKind::Timeout,
        FailureKind::Connection,
    ] {
        let (id, _, _) = sent(e.start(request(&e, "main", 10, 10), secs(1)));
        assert_eq!(
            e.finish(id, &failure(kind), secs(1)),
            Step::Failed {
                request: id,
                reason: FailReason::NotRetried { kind }
            }
        );
    }
    // Once the 429's cooldown is over, server errors are still retried on the other deployment.
    let (id, first, _) = sent(e.start(request(&e, "main", 10, 10), secs(10)));
    let (_, second, n) = sent(e.finish(id, &failure(FailureKind::Server), secs(10)));
    assert_eq!(n, 2, "server errors are still retried");
    assert_ne!(first, second);
    assert_eq!(e.metrics().totals.failed_not_retried, 3);
}

#[test]
fn exhausting_max_attempts_fails_with_the_last_kind() {
    let toml = format!(
        "[[tier]]\nname = \"main\"\nstrategy = \"weighted-round-robin\"\n\n{}{}{}[retry]\nmax_attempts = 2\n",
        deployment("a", "main", "weight = 3"),
        deployment("b", "main", "weight = 2"),
        deployment("c", "main", "weight = 1"),
    );
    let mut e = engine(&toml);
    let c = dep(&e, "c");
    let (id, _, _) = sent(e.start(request(&e, "main", 10, 10), ms(0)));
    let (_, _, n) = sent(e.finish(id, &failure(FailureKind::Server), ms(10)));
    assert_eq!(n, 2);
    assert_eq!(
        e.finish(id, &failure(FailureKind::Timeout), ms(20)),
        Step::Failed {
            request: id,
            reason: FailReason::AttemptsExhausted {
                last: FailureKind::Timeout
            }
        }
    );
    let snap = e.snapshot(ms(20));
    assert_eq!(snap.deployments[c.index()].attempts, 0, "no third attempt");
    assert_eq!(snap.totals.failed_attempts_exhausted, 1);
    assert_eq!(e.live_requests(), 0);
}
