//! Behaviour tests of retries, fallback, cooldowns, the circuit breaker, rate-limit accounting
//! and metrics, each on a small TOML config with exact expected steps.
//!
//! Where a test depends on which deployment weighted round robin picks, the weights are chosen
//! so that no tie occurs, or the smooth-WRR arithmetic is spelled out next to the assertion.

use std::time::Duration;

use engine::state::Blocked;
use engine::{
    Config, DeploymentId, Engine, FailReason, FailureKind, LimitHeaders, Outcome, Request,
    RequestId, Step, StrategyKind,
};

fn ms(v: u64) -> Duration {
    Duration::from_millis(v)
}

fn secs(v: u64) -> Duration {
    Duration::from_secs(v)
}

fn engine(toml: &str) -> Engine {
    Engine::new(Config::from_toml(toml).expect("test config is valid"), 7)
}

fn dep(e: &Engine, id: &str) -> DeploymentId {
    e.config().deployment_by_id(id).expect("known deployment")
}

fn request(e: &Engine, tier: &str, input_tokens: u32, output_tokens: u32) -> Request {
    Request {
        tier: e.route(tier).expect("known tier"),
        input_tokens,
        output_tokens,
    }
}

/// The (request, deployment, attempt) of a `Send`, or a panic naming what came instead.
#[track_caller]
fn sent(step: Step) -> (RequestId, DeploymentId, u8) {
    match step {
        Step::Send {
            request,
            deployment,
            attempt,
        } => (request, deployment, attempt),
        other => panic!("expected Send, got {other:?}"),
    }
}

fn ok() -> Outcome {
    Outcome::success(ms(50), 100, 50)
}

fn failure(kind: FailureKind) -> Outcome {
    let status = match kind {
        FailureKind::RateLimited => Some(429),
        FailureKind::Server => Some(503),
        _ => None,
    };
    Outcome::Failure {
        kind,
        status,
        retry_after: None,
        headers: LimitHeaders::default(),
    }
}

fn client_error(status: u16) -> Outcome {
    Outcome::Failure {
        kind: FailureKind::Client,
        status: Some(status),
        retry_after: None,
        headers: LimitHeaders::default(),
    }
}

/// Deployment `id` of tier `tier` with extra `key = value` lines.
fn deployment(id: &str, tier: &str, extra: &str) -> String {
    format!(
        "[[deployment]]\nid = \"{id}\"\nprovider = \"p-{id}\"\nmodel = \"m\"\ntier = \"{tier}\"\n{extra}\n\n"
    )
}

/// Every retryable failure kind, as the outcomes a driver would report.
fn retryable_failures() -> Vec<(&'static str, Outcome)> {
    vec![
        ("429 without retry-after", failure(FailureKind::RateLimited)),
        ("429 with retry-after", Outcome::rate_limited(Some(secs(2)))),
        ("5xx", failure(FailureKind::Server)),
        ("timeout", failure(FailureKind::Timeout)),
        ("connection", failure(FailureKind::Connection)),
    ]
}

// ---------------------------------------------------------------------------------------------
// Retry within the tier, then fallback tiers in order
// ---------------------------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------------------------
// Failures that are not retried
// ---------------------------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------------------------
// 429 cooldowns
// ---------------------------------------------------------------------------------------------

#[test]
fn retry_after_cools_the_deployment_down_exactly_until_then() {
    let toml = format!(
        "[[tier]]\nname = \"main\"\n\n{}[retry]\njitter = 0\n",
        deployment("a", "main", ""),
    );
    let mut e = engine(&toml);
    let a = dep(&e, "a");
    let (first, _, _) = sent(e.start(request(&e, "main", 10, 10), secs(1)));
    let step = e.finish(first, &Outcome::rate_limited(Some(secs(7))), secs(1));
    assert_eq!(
        step,
        Step::Wait {
            request: first,
            until: secs(8)
        },
        "retry waits for the cooldown, not just the 100ms backoff"
    );
    let state = &e.states()[a.index()];
    assert_eq!(state.cooldown_until, secs(8));
    assert_eq!(state.check(secs(8) - ms(1), 1), Err(Blocked::Cooldown));
    assert_eq!(state.check(secs(8), 1), Ok(()));
    // A new request a millisecond early is told to wait, not sent.
    let second = e.start(request(&e, "main", 10, 10), secs(8) - ms(1));
    let second_id = second.request();
    assert_eq!(
        second,
        Step::Wait {
            request: second_id,
            until: secs(8)
        }
    );
    assert_eq!(sent(e.resume(first, secs(8))), (first, a, 2));
    assert_eq!(sent(e.resume(second_id, secs(8))), (second_id, a, 1));
    assert_eq!(e.snapshot(secs(8)).deployments[a.index()].rate_limited, 1);
}

#[test]
fn a_cooling_deployment_gets_no_traffic_until_its_retry_after() {
    let toml = format!(
        "[[tier]]\nname = \"main\"\nstrategy = \"weighted-round-robin\"\n\n{}{}",
        deployment("a", "main", ""),
        deployment("b", "main", ""),
    );
    let mut e = engine(&toml);
    let [a, b] = ["a", "b"].map(|d| dep(&e, d));
    let (id, d, _) = sent(e.start(request(&e, "main", 10, 10), secs(1)));
    assert_eq!(d, a, "tie at equal weights goes to the first");
    let (_, d, _) = sent(e.finish(id, &Outcome::rate_limited(Some(secs(7))), secs(1)));
    assert_eq!(d, b);
    e.finish(id, &ok(), secs(1));
    let mut during = Vec::new();
    for t in (1_100..8_000).step_by(250) {
        let (id, d, _) = sent(e.start(request(&e, "main", 10, 10), ms(t)));
        during.push(d);
        e.finish(id, &ok(), ms(t));
    }
    assert_eq!(during, vec![b; during.len()], "a is cooling down");
    let mut after = Vec::new();
    for t in [8_000, 8_001] {
        let (id, d, _) = sent(e.start(request(&e, "main", 10, 10), ms(t)));
        after.push(d);
        e.finish(id, &ok(), ms(t));
    }
    // a's WRR score stood still at −1 while it was not a candidate; b's sits at 1:
    // 8.000s: a=0, b=2 → b (b=0); 8.001s: a=1, b=1 → a.
    assert_eq!(after, vec![b, a]);
}

#[test]
fn a_429_without_retry_after_uses_the_configured_cooldown() {
    let toml = format!(
        "[[tier]]\nname = \"main\"\n\n{}[health]\ncooldown = \"3s\"\n[retry]\njitter = 0\n",
        deployment("a", "main", ""),
    );
    let mut e = engine(&toml);
    let a = dep(&e, "a");
    let (id, _, _) = sent(e.start(request(&e, "main", 10, 10), secs(2)));
    assert_eq!(
        e.finish(id, &failure(FailureKind::RateLimited), secs(2)),
        Step::Wait {
            request: id,
            until: secs(5)
        }
    );
    assert_eq!(e.states()[a.index()].cooldown_until, secs(5));
    assert!(e.snapshot(secs(4)).deployments[a.index()].cooling_down);
    assert!(!e.snapshot(secs(5)).deployments[a.index()].cooling_down);
}

#[test]
fn retry_after_is_capped_by_max_cooldown() {
    let toml = format!(
        "[[tier]]\nname = \"main\"\n\n{}[health]\nmax_cooldown = \"20s\"\n[retry]\nmax_wait = \"1m\"\njitter = 0\n",
        deployment("a", "main", ""),
    );
    let mut e = engine(&toml);
    let a = dep(&e, "a");
    let (id, _, _) = sent(e.start(request(&e, "main", 10, 10), secs(1)));
    assert_eq!(
        e.finish(id, &Outcome::rate_limited(Some(secs(300))), secs(1)),
        Step::Wait {
            request: id,
            until: secs(21)
        }
    );
    assert_eq!(e.states()[a.index()].cooldown_until, secs(21));
}

// ---------------------------------------------------------------------------------------------
// Circuit breaker and panic mode
// ---------------------------------------------------------------------------------------------

const BREAKER: &str =
    "[health]\nfailure_threshold = 3\nopen_for = \"10s\"\nmax_open_for = \"40s\"\n\
                       [retry]\nmax_attempts = 1\n";

/// Tier main = {a, b} (equal weights, WRR). Sends alternate a, b, a, b, a; a's three attempts
/// fail with 5xx, b's succeed; the third failure opens a's breaker at 400ms until 10.4s.
fn eject_a() -> (Engine, DeploymentId, DeploymentId) {
    let toml = format!(
        "[[tier]]\nname = \"main\"\nstrategy = \"weighted-round-robin\"\n\n{}{}{BREAKER}",
        deployment("a", "main", ""),
        deployment("b", "main", ""),
    );
    let mut e = engine(&toml);
    let [a, b] = ["a", "b"].map(|d| dep(&e, d));
    for i in 0..5u64 {
        let now = ms(100 * i);
        let (id, d, _) = sent(e.start(request(&e, "main", 10, 10), now));
        assert_eq!(d, if i % 2 == 0 { a } else { b }, "request {i}");
        if d == a {
            assert_eq!(
                e.states()[a.index()].check(now, 20),
                Ok(()),
                "fewer than 3 consecutive failures keep the breaker closed"
            );
            let step = e.finish(id, &failure(FailureKind::Server), now);
            assert!(matches!(
                step,
                Step::Failed {
                    reason: FailReason::AttemptsExhausted { .. },
                    ..
                }
            ));
        } else {
            assert_eq!(e.finish(id, &ok(), now), Step::Done { request: id });
        }
    }
    (e, a, b)
}

#[test]
fn the_breaker_opens_after_failure_threshold_consecutive_failures() {
    let (mut e, a, b) = eject_a();
    assert_eq!(
        e.states()[a.index()].check(ms(400), 20),
        Err(Blocked::Breaker)
    );
    assert_eq!(
        e.states()[a.index()].breaker.allowed_at(ms(400)),
        Some(ms(10_400))
    );
    let snap = e.snapshot(ms(400));
    assert_eq!(snap.deployments[a.index()].ejections, 1);
    assert!(snap.deployments[a.index()].breaker_open);
    assert_eq!(snap.deployments[a.index()].server_errors, 3);
    // While open, everything goes to b.
    for t in (500..10_400).step_by(300) {
        let (id, d, _) = sent(e.start(request(&e, "main", 10, 10), ms(t)));
        assert_eq!(d, b, "at {t}ms");
        e.finish(id, &ok(), ms(t));
    }
}

#[test]
fn a_single_half_open_probe_goes_through_after_open_for() {
    let (mut e, a, b) = eject_a();
    let now = ms(10_400);
    let mut probes = Vec::new();
    let mut others = Vec::new();
    for _ in 0..6 {
        let (id, d, _) = sent(e.start(request(&e, "main", 10, 10), now));
        if d == a {
            probes.push(id);
        } else {
            assert_eq!(d, b);
            others.push(id);
        }
    }
    assert_eq!(probes.len(), 1, "exactly one probe while it is out");
    assert_eq!(e.states()[a.index()].check(now, 20), Err(Blocked::Breaker));
    assert_eq!(
        e.finish(probes[0], &ok(), now + ms(50)),
        Step::Done { request: probes[0] }
    );
    for id in others {
        e.finish(id, &ok(), now + ms(50));
    }
    // The successful probe closed the breaker: a takes traffic again.
    assert_eq!(e.states()[a.index()].check(now + ms(50), 20), Ok(()));
    assert!(!e.snapshot(now + ms(50)).deployments[a.index()].breaker_open);
    let picks: Vec<DeploymentId> = (0..4)
        .map(|i| {
            let (id, d, _) = sent(e.start(request(&e, "main", 10, 10), now + ms(100 + i)));
            e.finish(id, &ok(), now + ms(100 + i));
            d
        })
        .collect();
    assert_eq!(picks.iter().filter(|&&d| d == a).count(), 2, "{picks:?}");
}

#[test]
fn a_failed_probe_reopens_the_breaker_for_twice_as_long() {
    let (mut e, a, b) = eject_a();
    let now = ms(10_400);
    // WRR: a's score stood still while ejected, so it is picked within two requests.
    let probe = loop {
        let (id, d, _) = sent(e.start(request(&e, "main", 10, 10), now));
        if d == a {
            break id;
        }
        assert_eq!(d, b);
        e.finish(id, &ok(), now);
    };
    e.finish(probe, &failure(FailureKind::Timeout), now + ms(100));
    let state = &e.states()[a.index()];
    assert_eq!(state.check(now + ms(100), 20), Err(Blocked::Breaker));
    assert_eq!(
        state.breaker.allowed_at(now + ms(100)),
        Some(now + ms(100) + secs(20))
    );
    assert_eq!(e.snapshot(now).deployments[a.index()].ejections, 2);
}

#[test]
fn panic_mode_ignores_breakers_when_every_deployment_is_ejected() {
    let toml = format!(
        "[[tier]]\nname = \"main\"\nstrategy = \"weighted-round-robin\"\n\n{}{}\
         [health]\nfailure_threshold = 1\nopen_for = \"30s\"\n[retry]\nmax_attempts = 1\n",
        deployment("a", "main", ""),
        deployment("b", "main", ""),
    );
    let mut e = engine(&toml);
    let [a, b] = ["a", "b"].map(|d| dep(&e, d));
    for expected in [a, b] {
        let (id, d, _) = sent(e.start(request(&e, "main", 10, 10), secs(1)));
        assert_eq!(d, expected);
        e.finish(id, &failure(FailureKind::Server), secs(1));
    }
    for d in [a, b] {
        assert_eq!(
            e.states()[d.index()].check(secs(2), 20),
            Err(Blocked::Breaker)
        );
    }
    // Both ejected: rather than failing everything, send anyway.
    let (id, d, n) = sent(e.start(request(&e, "main", 10, 10), secs(2)));
    assert!(d == a || d == b);
    assert_eq!(n, 1);
    assert_eq!(e.finish(id, &ok(), secs(2)), Step::Done { request: id });
    assert_eq!(
        e.states()[d.index()].check(secs(2), 20),
        Ok(()),
        "the panic send's success closed that breaker"
    );
}

#[test]
fn panic_mode_still_respects_cooldowns() {
    let toml = format!(
        "[[tier]]\nname = \"main\"\nstrategy = \"weighted-round-robin\"\n\n{}{}{}\
         [health]\nfailure_threshold = 1\nopen_for = \"30s\"\ncooldown = \"5s\"\n[retry]\nmax_attempts = 1\n",
        deployment("a", "main", "weight = 3"),
        deployment("b", "main", "weight = 2"),
        deployment("c", "main", "weight = 1"),
    );
    let mut e = engine(&toml);
    let [a, b, c] = ["a", "b", "c"].map(|d| dep(&e, d));
    // WRR 3:2:1 starts a, b, a, c: eject a and b, cool c down.
    let (id, d, _) = sent(e.start(request(&e, "main", 10, 10), secs(1)));
    assert_eq!(d, a);
    e.finish(id, &failure(FailureKind::Server), secs(1));
    let (id, d, _) = sent(e.start(request(&e, "main", 10, 10), secs(1)));
    assert_eq!(d, b);
    e.finish(id, &failure(FailureKind::Server), secs(1));
    let (id, d, _) = sent(e.start(request(&e, "main", 10, 10), secs(1)));
    assert_eq!(d, c);
    e.finish(id, &failure(FailureKind::RateLimited), secs(1));
    assert_eq!(
        e.states()[c.index()].check(secs(2), 20),
        Err(Blocked::Cooldown)
    );
    let mut held = Vec::new();
    for _ in 0..6 {
        let (id, d, _) = sent(e.start(request(&e, "main", 10, 10), secs(2)));
        assert!(
            d == a || d == b,
            "panic mode may use ejected a/b, never cooling c"
        );
        held.push(id);
    }
    for id in held {
        e.finish(id, &ok(), secs(2));
    }
}

// ---------------------------------------------------------------------------------------------
// Rate-limit headroom: Wait, NoCapacity, token estimates and provider headers
// ---------------------------------------------------------------------------------------------

/// Whether `actual` is `expected` up to 1µs (rate-limit budgets are tracked in f64).
#[track_caller]
fn assert_about(actual: Duration, expected: Duration) {
    let diff = actual.abs_diff(expected);
    assert!(
        diff <= Duration::from_micros(1),
        "{actual:?} is not {expected:?}"
    );
}

/// The rate limits here are exercised so that a fixed per-minute window and a continuously
/// refilled budget agree: one request per minute frees up exactly a minute after it was used,
/// and token counts are compared at the instant they were charged.
fn two_keys_one_rpm(max_wait: &str) -> Engine {
    let toml = format!(
        "[[tier]]\nname = \"main\"\nstrategy = \"weighted-round-robin\"\n\n{}{}[retry]\nmax_wait = \"{max_wait}\"\n",
        deployment("a", "main", "rpm = 1"),
        deployment("b", "main", "rpm = 1"),
    );
    let mut e = engine(&toml);
    // a's one request of the minute is used at 0s, b's at 5s.
    let (id, d, _) = sent(e.start(request(&e, "main", 10, 10), secs(0)));
    assert_eq!(d, dep(&e, "a"));
    e.finish(id, &ok(), secs(0));
    let (id, d, _) = sent(e.start(request(&e, "main", 10, 10), secs(5)));
    assert_eq!(d, dep(&e, "b"));
    e.finish(id, &ok(), secs(5));
    e
}

#[test]
fn no_headroom_anywhere_waits_until_the_earliest_headroom() {
    let mut e = two_keys_one_rpm("2m");
    let [a, b] = ["a", "b"].map(|d| dep(&e, d));
    assert_eq!(
        e.states()[a.index()].check(secs(6), 20),
        Err(Blocked::NoHeadroom)
    );
    assert_eq!(
        e.states()[b.index()].check(secs(6), 20),
        Err(Blocked::NoHeadroom)
    );
    let step = e.start(request(&e, "main", 10, 10), secs(6));
    let id = step.request();
    let Step::Wait { until, .. } = step else {
        panic!("expected Wait, got {step:?}");
    };
    assert_about(until, secs(60));
    // Not a moment earlier: resuming a millisecond early only waits again, for the same time.
    let early = e.resume(id, until - ms(1));
    let Step::Wait { until: again, .. } = early else {
        panic!("expected Wait, got {early:?}");
    };
    assert_about(again, until);
    assert_eq!(
        e.states()[a.index()].check(until - ms(1), 20),
        Err(Blocked::NoHeadroom)
    );
    // At `until` a (free again) takes it; b is still a few seconds away.
    assert_eq!(sent(e.resume(id, until)), (id, a, 1));
    assert_eq!(
        e.states()[b.index()].check(until, 20),
        Err(Blocked::NoHeadroom)
    );
    assert_eq!(e.metrics().totals.waits, 2);
}

#[test]
fn no_headroom_within_max_wait_fails_with_no_capacity() {
    let mut e = two_keys_one_rpm("10s");
    let step = e.start(request(&e, "main", 10, 10), secs(6));
    let Step::Failed {
        reason: FailReason::NoCapacity {
            earliest: Some(earliest),
        },
        ..
    } = step
    else {
        panic!("expected NoCapacity, got {step:?}");
    };
    assert_about(earliest, secs(60));
    assert_eq!(e.metrics().totals.failed_no_capacity, 1);
    assert_eq!(e.live_requests(), 0);
}

#[test]
fn a_request_larger_than_every_tpm_limit_fails_at_once() {
    let toml = format!(
        "[[tier]]\nname = \"main\"\n\n{}{}",
        deployment("a", "main", "tpm = 1000"),
        deployment("b", "main", "tpm = 2000"),
    );
    let mut e = engine(&toml);
    let step = e.start(request(&e, "main", 1500, 501), secs(1));
    assert_eq!(
        step,
        Step::Failed {
            request: step.request(),
            reason: FailReason::NoCapacity { earliest: None }
        }
    );
}

#[track_caller]
fn assert_share(actual: f64, expected: f64) {
    assert!(
        (actual - expected).abs() < 1e-9,
        "{actual} is not {expected}"
    );
}

#[test]
fn tokens_are_charged_with_the_estimate_and_corrected_at_finish() {
    let toml = format!(
        "[[tier]]\nname = \"main\"\n\n{}[retry]\nmax_wait = \"2m\"\n",
        deployment("a", "main", "tpm = 1000"),
    );
    let mut e = engine(&toml);
    let a = dep(&e, "a");
    let now = secs(0);
    let tpm = |e: &Engine| e.states()[a.index()].tpm;
    let (first, _, _) = sent(e.start(request(&e, "main", 300, 200), now));
    assert_share(tpm(&e).utilisation(now), 0.5);
    // 500 estimated + 600 does not fit in 1000.
    let waiting = e.start(request(&e, "main", 400, 200), now);
    assert!(
        matches!(waiting, Step::Wait { until, .. } if until > now),
        "{waiting:?}"
    );
    // The real usage was 150 tokens: 850 more fit exactly, 851 would not.
    let done = e.finish(first, &Outcome::success(ms(80), 100, 50), now);
    assert_eq!(done, Step::Done { request: first });
    assert_share(tpm(&e).utilisation(now), 0.15);
    assert!(tpm(&e).fits(now, 850));
    assert!(!tpm(&e).fits(now, 851));
    let (third, d, _) = sent(e.start(request(&e, "main", 800, 50), now));
    assert_eq!(d, a);
    assert_share(tpm(&e).utilisation(now), 1.0);
    assert_eq!(
        e.states()[a.index()].check(now, 1),
        Err(Blocked::NoHeadroom)
    );
    // Using fewer than estimated gives the difference back.
    e.finish(third, &Outcome::success(ms(80), 800, 0), now);
    assert_share(tpm(&e).utilisation(now), 0.95);
    assert!(tpm(&e).fits(now, 50) && !tpm(&e).fits(now, 51));
    // Using more than estimated is charged too.
    let (fourth, _, _) = sent(e.start(request(&e, "main", 10, 10), now));
    e.finish(fourth, &Outcome::success(ms(80), 10, 40), now);
    assert_share(tpm(&e).utilisation(now), 1.0);
    assert!(!tpm(&e).fits(now, 1));
}

#[test]
fn provider_headers_correct_the_local_count() {
    let toml = format!(
        "[[tier]]\nname = \"main\"\n\n{}[retry]\nmax_wait = \"30s\"\n",
        deployment("a", "main", "rpm = 100\ntpm = 10000"),
    );
    let mut e = engine(&toml);
    let a = dep(&e, "a");
    let t = secs(1);
    let (id, _, _) = sent(e.start(request(&e, "main", 100, 100), t));
    assert_share(e.states()[a.index()].rpm.utilisation(t), 0.01);
    let outcome = Outcome::Success {
        ttft: ms(40),
        input_tokens: 100,
        output_tokens: 100,
        headers: LimitHeaders {
            limit_requests: None,
            limit_tokens: None,
            remaining_requests: Some(0),
            reset_requests: Some(secs(20)),
            remaining_tokens: Some(9_000),
            reset_tokens: None,
        },
    };
    e.finish(id, &outcome, t);
    let state = &e.states()[a.index()];
    assert_share(state.rpm.utilisation(t), 1.0);
    assert_share(state.tpm.utilisation(t), 0.1);
    assert_eq!(
        state.check(t, 20),
        Err(Blocked::NoHeadroom),
        "the provider says none left"
    );
    // Usable again no later than the provider's reset, though the local count had room.
    let step = e.start(request(&e, "main", 10, 10), t);
    let Step::Wait { until, .. } = step else {
        panic!("expected Wait, got {step:?}");
    };
    assert!(until > t && until <= t + secs(20), "{until:?}");
    // (Resuming at `until` itself is a_wait_ends_when_the_budget_has_refilled's subject.)
    let (id, _, _) = sent(e.resume(step.request(), t + secs(20)));
    // A provider reporting more room than counted locally lowers the count, on failures too.
    let outcome = Outcome::Failure {
        kind: FailureKind::Server,
        status: Some(500),
        retry_after: None,
        headers: LimitHeaders {
            limit_requests: None,
            limit_tokens: None,
            remaining_requests: Some(98),
            ..LimitHeaders::default()
        },
    };
    let later = t + secs(20);
    e.finish(id, &outcome, later);
    assert_share(e.states()[a.index()].rpm.utilisation(later), 0.02);
}

// ---------------------------------------------------------------------------------------------
// Metrics
// ---------------------------------------------------------------------------------------------

#[test]
fn snapshot_reports_shares_rate_limits_and_cost() {
    let toml = format!(
        "[[tier]]\nname = \"main\"\nstrategy = \"weighted-round-robin\"\n\n{}{}",
        deployment(
            "a",
            "main",
            "weight = 3\nrpm = 100\ninput_price = 2.0\noutput_price = 8.0"
        ),
        deployment(
            "b",
            "main",
            "weight = 1\ninput_price = 1.0\noutput_price = 4.0"
        ),
    );
    let mut e = engine(&toml);
    let [a, b] = ["a", "b"].map(|d| dep(&e, d));
    let mut picks = Vec::new();
    for _ in 0..8 {
        let (id, d, _) = sent(e.start(request(&e, "main", 1_000, 500), ms(0)));
        picks.push(d);
        assert_eq!(
            e.finish(id, &Outcome::success(ms(30), 1_000, 500), ms(0)),
            Step::Done { request: id }
        );
    }
    // Smooth WRR at 3:1 interleaves a a b a per cycle.
    assert_eq!(picks, [a, a, b, a, a, a, b, a]);
    let snap = e.snapshot(ms(0));
    let (sa, sb) = (&snap.deployments[a.index()], &snap.deployments[b.index()]);
    assert_eq!((sa.attempts, sb.attempts), (6, 2));
    assert_eq!((sa.configured_share, sb.configured_share), (0.75, 0.25));
    assert_eq!((sa.actual_share, sb.actual_share), (0.75, 0.25));
    // a: 6 × (1000 × 2 + 500 × 8) / 1e6; b: 2 × (1000 × 1 + 500 × 4) / 1e6.
    assert!((sa.cost - 0.036).abs() < 1e-12, "{}", sa.cost);
    assert!((sb.cost - 0.006).abs() < 1e-12, "{}", sb.cost);
    assert_eq!((sa.input_tokens, sa.output_tokens), (6_000, 3_000));
    assert_share(sa.utilisation.rpm, 0.06);
    assert_eq!(sb.utilisation.rpm, 0.0, "no limit, no utilisation");
    assert_eq!(snap.tiers[0].requests, 8);
    assert_eq!(snap.tiers[0].successes, 8);
    assert_eq!(snap.tiers[0].strategy, "weighted-round-robin");

    // After two full WRR cycles the scores are back at 0, so a is next: its 429 (retry-after
    // 30s) moves the retry to b. The following request finds only b usable; b's 429 leaves
    // nothing within max_wait (10s), so it fails with a's cooldown end as the earliest time.
    let now = secs(1);
    let (id, d, _) = sent(e.start(request(&e, "main", 1_000, 500), now));
    assert_eq!(d, a);
    let (_, retry, n) = sent(e.finish(id, &Outcome::rate_limited(Some(secs(30))), now));
    assert_eq!((retry, n), (b, 2));
    e.finish(id, &Outcome::success(ms(30), 1_000, 500), now);
    let (id, d, _) = sent(e.start(request(&e, "main", 1_000, 500), now + ms(1)));
    assert_eq!(d, b);
    assert_eq!(
        e.finish(id, &Outcome::rate_limited(Some(secs(30))), now + ms(1)),
        Step::Failed {
            request: id,
            reason: FailReason::NoCapacity {
                earliest: Some(secs(31))
            }
        }
    );
    let snap = e.snapshot(secs(2));
    let (sa, sb) = (&snap.deployments[a.index()], &snap.deployments[b.index()]);
    assert_eq!((sa.rate_limited, sb.rate_limited), (1, 1));
    assert_eq!((sa.attempts, sb.attempts), (7, 4));
    assert_eq!((sa.retries, sb.retries), (0, 1));
    assert!(sa.cooling_down && sb.cooling_down);
    assert!(
        (sb.cost - 0.009).abs() < 1e-12,
        "a 429 costs nothing: {}",
        sb.cost
    );
    assert_eq!(snap.totals.started, 10);
    assert_eq!(snap.totals.succeeded, 9);
    assert_eq!(snap.totals.failed_no_capacity, 1);
    assert_eq!(snap.tiers[0].failures, 1);
}

// ---------------------------------------------------------------------------------------------
// Regressions for engine bugs these tests found (fixed in cefe232 and e9f68ba)
// ---------------------------------------------------------------------------------------------

#[test]
fn a_503_with_retry_after_cools_the_deployment_down() {
    let toml = format!(
        "[[tier]]\nname = \"main\"\n\n{}[retry]\njitter = 0\n",
        deployment("a", "main", ""),
    );
    let mut e = engine(&toml);
    let a = dep(&e, "a");
    let (id, _, _) = sent(e.start(request(&e, "main", 10, 10), secs(1)));
    let outcome = Outcome::Failure {
        kind: FailureKind::Server,
        status: Some(503),
        retry_after: Some(secs(4)),
        headers: LimitHeaders::default(),
    };
    assert_eq!(
        e.finish(id, &outcome, secs(1)),
        Step::Wait {
            request: id,
            until: secs(5)
        },
        "the retry honours the 503's retry-after, not just the 100ms backoff"
    );
    assert_eq!(e.states()[a.index()].cooldown_until, secs(5));
}

#[test]
fn a_stale_attempt_does_not_let_a_second_probe_through() {
    let toml = format!(
        "[[tier]]\nname = \"main\"\nstrategy = \"weighted-round-robin\"\n\n{}{}\
         [health]\nfailure_threshold = 1\nopen_for = \"10s\"\n[retry]\nmax_attempts = 1\n",
        deployment("a", "main", ""),
        deployment("b", "main", ""),
    );
    let mut e = engine(&toml);
    let [a, b] = ["a", "b"].map(|d| dep(&e, d));
    // WRR alternates a, b, a: the first attempt on a stays in flight, the second fails and
    // opens a's breaker until 10s.
    let (stale, d, _) = sent(e.start(request(&e, "main", 10, 10), secs(0)));
    assert_eq!(d, a);
    let (other, d, _) = sent(e.start(request(&e, "main", 10, 10), secs(0)));
    assert_eq!(d, b);
    e.finish(other, &ok(), secs(0));
    let (failing, d, _) = sent(e.start(request(&e, "main", 10, 10), secs(0)));
    assert_eq!(d, a);
    e.finish(failing, &failure(FailureKind::Server), secs(0));
    assert_eq!(
        e.states()[a.index()].check(secs(1), 20),
        Err(Blocked::Breaker)
    );
    // After open_for: one probe goes to a and stays out.
    let probe = loop {
        let (id, d, _) = sent(e.start(request(&e, "main", 10, 10), secs(10)));
        if d == a {
            break id;
        }
        e.finish(id, &ok(), secs(10));
    };
    assert_eq!(
        e.states()[a.index()].check(secs(10), 20),
        Err(Blocked::Breaker)
    );
    // The attempt sent long before the breaker opened now comes back with a 400. That says
    // nothing about the probe, which is still out: a must stay closed to new traffic.
    assert_eq!(
        e.finish(stale, &client_error(400), secs(11)),
        Step::Failed {
            request: stale,
            reason: FailReason::ClientError { status: Some(400) }
        }
    );
    assert_eq!(
        e.states()[a.index()].check(secs(11), 20),
        Err(Blocked::Breaker),
        "a must stay closed while its probe is out"
    );
    let mut held = Vec::new();
    for i in 0..4 {
        let (id, d, _) = sent(e.start(request(&e, "main", 10, 10), secs(11) + ms(i)));
        assert_eq!(
            d, b,
            "request {i} at 11s went to a: a second probe while the first is out"
        );
        held.push(id);
    }
    e.finish(probe, &ok(), secs(12));
    for id in held {
        e.finish(id, &ok(), secs(12));
    }
}

#[test]
fn panic_mode_is_not_used_while_a_declined_tier_is_usable() {
    let toml = format!(
        "[[tier]]\nname = \"main\"\nstrategy = \"random\"\nfallback = [\"backup\"]\n\n\
         [[tier]]\nname = \"backup\"\nstrategy = \"adaptive\"\n\n{}{}\
         [health]\nfailure_threshold = 1\n[retry]\nmax_attempts = 1\n",
        deployment("m", "main", ""),
        deployment("k", "backup", "rpm = 20"),
    );
    let mut e = engine(&toml);
    let [m, k] = ["m", "k"].map(|d| dep(&e, d));
    let now = secs(1);
    // k serves 19 of its 20 requests a minute: usable, but adaptive calls it suspect (less
    // than 5 % headroom left after one more) and declines its tier.
    for _ in 0..19 {
        let (id, d, _) = sent(e.start(request(&e, "backup", 10, 10), now));
        assert_eq!(d, k);
        e.finish(id, &ok(), now);
    }
    // m fails once and is ejected (threshold 1).
    let (id, d, _) = sent(e.start(request(&e, "main", 10, 10), now));
    assert_eq!(d, m);
    e.finish(id, &failure(FailureKind::Server), now);
    assert_eq!(e.states()[m.index()].check(now, 20), Err(Blocked::Breaker));
    assert_eq!(e.states()[k.index()].check(now, 20), Ok(()));
    // k is the only usable deployment of main's chain: panic mode must not override m's breaker.
    let (_, d, _) = sent(e.start(request(&e, "main", 10, 10), now));
    assert_eq!(d, k, "sent to the ejected deployment in panic mode");
}

#[test]
fn a_wait_ends_when_the_budget_has_refilled() {
    // 7 requests a minute refill one every 60/7 s = 8.571428571428…s.
    let toml = format!(
        "[[tier]]\nname = \"main\"\n\n{}[retry]\nmax_wait = \"1m\"\n",
        deployment("a", "main", "rpm = 7"),
    );
    let mut e = engine(&toml);
    let a = dep(&e, "a");
    for _ in 0..7 {
        let (id, _, _) = sent(e.start(request(&e, "main", 10, 10), secs(0)));
        e.finish(id, &ok(), secs(0));
    }
    let step = e.start(request(&e, "main", 10, 10), secs(0));
    let id = step.request();
    let Step::Wait { until, .. } = step else {
        panic!("expected Wait, got {step:?}");
    };
    assert_about(until, Duration::from_nanos(8_571_428_571));
    let rpm = e.states()[a.index()].rpm;
    assert!(
        rpm.fits(until, 1),
        "available_at said {until:?}, but one request does not fit then"
    );
    assert_eq!(sent(e.resume(id, until)), (id, a, 1));
}

#[test]
fn finish_final_ends_the_request_without_a_retry() {
    let config = Config::from_toml(
        "[[tier]]\nname = \"main\"\n\n[[deployment]]\nid = \"a\"\nprovider = \"p\"\nmodel = \"m\"\ntier = \"main\"\n\n[[deployment]]\nid = \"b\"\nprovider = \"p\"\nmodel = \"m\"\ntier = \"main\"\n",
    )
    .unwrap();
    let mut e = Engine::new(config, 1);
    let tier = e.route("main").unwrap();
    let req = Request {
        tier,
        input_tokens: 10,
        output_tokens: 10,
    };
    let Step::Send { request, .. } = e.start(req, Duration::ZERO) else {
        panic!("expected Send")
    };
    // A stream cut after its first bytes: another deployment is usable, but no retry follows.
    let step = e.finish_final(
        request,
        &Outcome::failure(FailureKind::Server),
        Duration::from_millis(5),
    );
    assert_eq!(
        step,
        Step::Failed {
            request,
            reason: FailReason::NotRetried {
                kind: FailureKind::Server
            }
        }
    );
    assert_eq!(e.live_requests(), 0);
    let Step::Send { request, .. } = e.start(req, Duration::from_millis(6)) else {
        panic!("expected Send")
    };
    let ok = Outcome::success(Duration::from_millis(1), 10, 10);
    assert_eq!(
        e.finish_final(request, &ok, Duration::from_millis(9)),
        Step::Done { request }
    );
    assert_eq!(
        e.snapshot(Duration::from_millis(9))
            .totals
            .failed_not_retried,
        1
    );
}

#[test]
fn large_tiers_are_sampled_yet_only_usable_deployments_are_picked() {
    // 100 deployments of one request per minute each: every request must land on a deployment
    // with room, so 100 requests use all 100 (sampled picks fall back to a scan once draws stop
    // finding room) and the 101st waits for a refill.
    for strategy in ["random", "least-outstanding", "peak-ewma", "adaptive"] {
        let mut toml = format!(
            "[[tier]]\nname = \"big\"\nstrategy = \"{strategy}\"\n\n[retry]\nmax_wait = \"2m\"\n"
        );
        for i in 0..100 {
            toml.push_str(&format!(
                "[[deployment]]\nid = \"d{i}\"\nprovider = \"p\"\nmodel = \"m\"\ntier = \"big\"\nrpm = 1\n\n"
            ));
        }
        let mut e = Engine::new(Config::from_toml(&toml).unwrap(), 3);
        let tier = e.route("big").unwrap();
        let req = Request {
            tier,
            input_tokens: 1,
            output_tokens: 1,
        };
        let mut used = std::collections::BTreeSet::new();
        let t = Duration::from_millis(10);
        for _ in 0..100 {
            let Step::Send {
                request,
                deployment,
                ..
            } = e.start(req, t)
            else {
                panic!("{strategy}: expected Send while deployments have room");
            };
            assert!(
                used.insert(deployment),
                "{strategy}: {deployment:?} picked twice in a minute"
            );
            e.finish(
                request,
                &Outcome::success(Duration::from_millis(1), 1, 1),
                t,
            );
        }
        assert!(
            matches!(e.start(req, t), Step::Wait { .. }),
            "{strategy}: nothing has room left"
        );
    }
}

#[test]
fn sampled_weighted_random_keeps_the_weights_on_large_tiers() {
    // 100 deployments with weights 1, 2, 3, 4 repeating; 200,000 requests; no limits. Each
    // weight class must get its share (10 %, 20 %, 30 %, 40 %) within 2 % of itself.
    let mut toml = String::from("[[tier]]\nname = \"big\"\nstrategy = \"random\"\n\n");
    for i in 0..100 {
        toml.push_str(&format!(
            "[[deployment]]\nid = \"d{i}\"\nprovider = \"p\"\nmodel = \"m\"\ntier = \"big\"\nweight = {}\n\n",
            i % 4 + 1
        ));
    }
    let mut e = Engine::new(Config::from_toml(&toml).unwrap(), 11);
    let tier = e.route("big").unwrap();
    let req = Request {
        tier,
        input_tokens: 1,
        output_tokens: 1,
    };
    let mut by_weight = [0u64; 4];
    let n = 200_000;
    for i in 0..n {
        let t = Duration::from_micros(i);
        let Step::Send {
            request,
            deployment,
            ..
        } = e.start(req, t)
        else {
            panic!("expected Send")
        };
        by_weight[deployment.index() % 4] += 1;
        e.finish(
            request,
            &Outcome::success(Duration::from_micros(1), 1, 1),
            t,
        );
    }
    for (class, &count) in by_weight.iter().enumerate() {
        let expected = (class + 1) as f64 / 10.0;
        let share = count as f64 / n as f64;
        assert!(
            (share / expected - 1.0).abs() < 0.02,
            "weight {}: share {share:.4}",
            class + 1
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Context-length errors: never retried in the tier, moved to its context fallback if any
// ---------------------------------------------------------------------------------------------

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
