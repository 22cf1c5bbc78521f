//! Retry within the tier, then fallback tiers in order: the untried deployments of the
//! request's own tier first, then each fallback tier as listed, never the deployment that
//! just failed while another is usable, and the backoff before re-sending.

use engine::{DeploymentId, FailReason, FailureKind, Step, StrategyKind};

use crate::support::*;

/// main = {a, b, c}, falling back to backup = {z}.
fn main_and_backup(strategy: StrategyKind) -> String {
    format!(
        "[[tier]]\nname = \"main\"\nstrategy = \"{}\"\nfallback = [\"backup\"]\n\n\
         [[tier]]\nname = \"backup\"\nstrategy = \"{}\"\n\n{}{}{}{}\
         [retry]\nmax_attempts = 5\njitter = 0\n",
        strategy.name(),
        strategy.name(),
        deployment("a", "main", "weight = 3"),
        deployment("b", "main", "weight = 2"),
        deployment("c", "main", "weight = 1"),
        deployment("z", "backup", ""),
    )
}

#[test]
fn retries_untried_deployments_of_the_tier_then_the_fallback_tier_for_every_strategy() {
    for strategy in StrategyKind::EVERY {
        for (what, outcome) in retryable_failures() {
            let mut e = engine(&main_and_backup(strategy));
            let main: Vec<DeploymentId> = ["a", "b", "c"].iter().map(|d| dep(&e, d)).collect();
            let z = dep(&e, "z");
            let now = secs(1);
            let (id, first, n) = sent(e.start(request(&e, "main", 100, 100), now));
            assert_eq!(n, 1);
            assert!(
                main.contains(&first),
                "{strategy}/{what}: first attempt in main"
            );
            let (_, second, n) = sent(e.finish(id, &outcome, now));
            assert_eq!(n, 2);
            assert!(
                main.contains(&second) && second != first,
                "{strategy}/{what}: second attempt on another main deployment, got {second:?} after {first:?}"
            );
            let (_, third, n) = sent(e.finish(id, &outcome, now));
            assert_eq!(n, 3);
            assert!(
                main.contains(&third) && third != first && third != second,
                "{strategy}/{what}: third attempt on the last untried main deployment"
            );
            let (_, fourth, n) = sent(e.finish(id, &outcome, now));
            assert_eq!(
                (fourth, n),
                (z, 4),
                "{strategy}/{what}: then the fallback tier"
            );
            assert_eq!(e.finish(id, &ok(), now), Step::Done { request: id });
            let snap = e.snapshot(now);
            assert_eq!(snap.deployments[z.index()].fallbacks, 1);
            assert_eq!(snap.deployments[z.index()].retries, 1);
            assert_eq!(snap.tiers[0].fell_back, 1);
            assert_eq!(snap.tiers[0].successes, 1);
            assert_eq!(snap.totals.succeeded, 1);
            assert_eq!(e.live_requests(), 0);
        }
    }
}

#[test]
fn weighted_round_robin_retry_order_is_exact() {
    // Scores start at 0 and each pick adds the weights of the candidates:
    // attempt 1: a=3, b=2, c=1 → a (a −= 6); attempt 2 over {b, c}: b=4, c=2 → b; then c.
    let mut e = engine(&main_and_backup(StrategyKind::WeightedRoundRobin));
    let [a, b, c, z] = ["a", "b", "c", "z"].map(|d| dep(&e, d));
    let (id, d1, _) = sent(e.start(request(&e, "main", 10, 10), ms(0)));
    let (_, d2, _) = sent(e.finish(id, &failure(FailureKind::Server), ms(10)));
    let (_, d3, _) = sent(e.finish(id, &failure(FailureKind::Timeout), ms(20)));
    let (_, d4, _) = sent(e.finish(id, &failure(FailureKind::Connection), ms(30)));
    assert_eq!([d1, d2, d3, d4], [a, b, c, z]);
    let step = e.finish(id, &failure(FailureKind::Server), ms(40));
    // Everything tried; the backoff before re-sending is 100ms · 2³ after the 4th attempt.
    assert_eq!(
        step,
        Step::Wait {
            request: id,
            until: ms(40 + 800)
        }
    );
}

#[test]
fn fallback_tiers_are_tried_in_the_listed_order() {
    let toml = format!(
        "[[tier]]\nname = \"frontier\"\nstrategy = \"weighted-round-robin\"\nfallback = [\"cheap\", \"standard\"]\n\n\
         [[tier]]\nname = \"standard\"\n\n[[tier]]\nname = \"cheap\"\n\n{}{}{}\
         [retry]\nmax_attempts = 4\njitter = 0\n",
        deployment("f", "frontier", ""),
        deployment("s", "standard", ""),
        deployment("c", "cheap", ""),
    );
    let mut e = engine(&toml);
    let [f, s, c] = ["f", "s", "c"].map(|d| dep(&e, d));
    let (id, d1, _) = sent(e.start(request(&e, "frontier", 10, 10), ms(0)));
    assert_eq!(d1, f);
    let (_, d2, n) = sent(e.finish(id, &failure(FailureKind::Server), ms(0)));
    assert_eq!((d2, n), (c, 2), "first fallback: cheap, as listed");
    let (_, d3, n) = sent(e.finish(id, &failure(FailureKind::Server), ms(0)));
    assert_eq!((d3, n), (s, 3), "second fallback: standard");
    // All three tried: wait out the backoff (100ms · 2² after attempt 3), then start over from
    // the request's own tier, skipping the deployment that just failed.
    let step = e.finish(id, &failure(FailureKind::Server), ms(0));
    assert_eq!(
        step,
        Step::Wait {
            request: id,
            until: ms(400)
        }
    );
    let (_, d4, n) = sent(e.resume(id, ms(400)));
    assert_eq!((d4, n), (f, 4));
    assert_eq!(
        e.finish(id, &failure(FailureKind::Timeout), ms(400)),
        Step::Failed {
            request: id,
            reason: FailReason::AttemptsExhausted {
                last: FailureKind::Timeout
            }
        }
    );
    let snap = e.snapshot(ms(400));
    assert_eq!(snap.tiers[0].fell_back, 1);
    assert_eq!(snap.tiers[0].failures, 1);
    assert_eq!(snap.deployments[c.index()].fallbacks, 1);
    assert_eq!(snap.deployments[s.index()].fallbacks, 1);
    assert_eq!(snap.deployments[f.index()].retries, 1);

    // A fallback tier's own requests never climb back up to the tier that lists it.
    let (id, d, _) = sent(e.start(request(&e, "cheap", 10, 10), secs(100)));
    assert_eq!(d, c);
    let step = e.finish(id, &failure(FailureKind::Server), secs(100));
    assert_eq!(
        step,
        Step::Wait {
            request: id,
            until: secs(100) + ms(100)
        },
        "cheap has no fallback: only its own deployment, after the backoff"
    );
}

#[test]
fn the_own_tier_is_exhausted_before_any_fallback() {
    let toml = format!(
        "[[tier]]\nname = \"main\"\nstrategy = \"least-outstanding\"\nfallback = [\"backup\"]\n\n\
         [[tier]]\nname = \"backup\"\n\n{}{}{}",
        deployment("a", "main", ""),
        deployment("b", "main", ""),
        deployment("z", "backup", ""),
    );
    let mut e = engine(&toml);
    let [a, b, z] = ["a", "b", "z"].map(|d| dep(&e, d));
    let (id, d1, _) = sent(e.start(request(&e, "main", 10, 10), ms(0)));
    let (_, d2, _) = sent(e.finish(id, &failure(FailureKind::Timeout), ms(5)));
    let mut pair = [d1, d2];
    pair.sort();
    assert_eq!(pair, [a, b]);
    let (_, d3, _) = sent(e.finish(id, &failure(FailureKind::Timeout), ms(6)));
    assert_eq!(d3, z);
}

#[test]
fn never_resends_to_the_deployment_that_just_failed_while_another_is_usable() {
    let toml = format!(
        "[[tier]]\nname = \"main\"\nstrategy = \"weighted-round-robin\"\n\n{}{}\
         [retry]\nmax_attempts = 6\njitter = 0\nbackoff_base = \"100ms\"\nbackoff_max = \"10s\"\n",
        deployment("a", "main", "weight = 2"),
        deployment("b", "main", "weight = 1"),
    );
    let mut e = engine(&toml);
    let [a, b] = ["a", "b"].map(|d| dep(&e, d));
    let fail = failure(FailureKind::Timeout);
    let (id, d1, _) = sent(e.start(request(&e, "main", 10, 10), ms(0)));
    assert_eq!(d1, a);
    let (_, d2, _) = sent(e.finish(id, &fail, ms(0)));
    assert_eq!(d2, b);
    // Both tried: backoff 100ms · 2 after the second attempt.
    assert_eq!(
        e.finish(id, &fail, ms(0)),
        Step::Wait {
            request: id,
            until: ms(200)
        }
    );
    let (_, d3, n) = sent(e.resume(id, ms(200)));
    assert_eq!((d3, n), (a, 3), "a, not b which just failed");
    assert_eq!(
        e.finish(id, &fail, ms(200)),
        Step::Wait {
            request: id,
            until: ms(600)
        }
    );
    let (_, d4, n) = sent(e.resume(id, ms(600)));
    assert_eq!((d4, n), (b, 4), "b, not a which just failed");
    assert_eq!(e.finish(id, &ok(), ms(700)), Step::Done { request: id });
}

#[test]
fn a_lone_deployment_is_retried_after_the_backoff() {
    let toml = format!(
        "[[tier]]\nname = \"main\"\n\n{}[retry]\njitter = 0\nbackoff_base = \"250ms\"\n",
        deployment("a", "main", ""),
    );
    let mut e = engine(&toml);
    let a = dep(&e, "a");
    let (id, _, _) = sent(e.start(request(&e, "main", 10, 10), secs(3)));
    assert_eq!(
        e.finish(id, &failure(FailureKind::Connection), secs(3)),
        Step::Wait {
            request: id,
            until: secs(3) + ms(250)
        }
    );
    assert_eq!(sent(e.resume(id, secs(3) + ms(250))), (id, a, 2));
}
