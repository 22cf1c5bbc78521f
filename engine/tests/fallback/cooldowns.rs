//! 429 cooldowns: `retry-after` cools a deployment down exactly until then (capped by
//! `health.max_cooldown`), a 429 without it uses `health.cooldown`, and a cooling
//! deployment gets no traffic.

use engine::state::Blocked;
use engine::{FailureKind, Outcome, Step};

use crate::support::*;

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
