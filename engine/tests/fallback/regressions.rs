//! Regressions for engine bugs these tests found (fixed in cefe232 and e9f68ba): a 503's
//! retry-after, stale attempts beside a half-open probe, panic mode beside a declined
//! tier, waits ending when the budget has refilled, `finish_final`, and sampled picks on
//! large tiers.

use std::time::Duration;

use engine::state::Blocked;
use engine::{Config, Engine, FailReason, FailureKind, LimitHeaders, Outcome, Request, Step};

use crate::support::*;

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
