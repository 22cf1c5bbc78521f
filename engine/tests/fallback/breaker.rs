//! The circuit breaker and panic mode: ejection after `failure_threshold` consecutive
//! failures, a single half-open probe after `open_for`, a failed probe reopening it for
//! twice as long, and panic mode ignoring breakers (never cooldowns) when every
//! deployment is ejected.

use engine::state::Blocked;
use engine::{DeploymentId, Engine, FailReason, FailureKind, Step};

use crate::support::*;

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
