//! Hedged requests (`hedge` on a tier): exact steps on a small config, and a property test that
//! a hedged request still ends in exactly one terminal step and that a hedge never goes to a
//! deployment that could not take it.

use std::time::Duration;

use engine::{Config, DeploymentId, Engine, FailureKind, Outcome, Request, RequestId, Step};
use proptest::prelude::*;

fn ms(v: u64) -> Duration {
    Duration::from_millis(v)
}

/// Three deployments under weighted round robin (a, then b, then c); `c` has a tiny rpm.
fn engine(hedge: &str) -> Engine {
    let toml = format!(
        r#"
[[tier]]
name = "t"
strategy = "weighted-round-robin"
hedge = {hedge}

[[deployment]]
id = "a"
provider = "p"
model = "m"
tier = "t"
weight = 3

[[deployment]]
id = "b"
provider = "p"
model = "m"
tier = "t"
weight = 2

[[deployment]]
id = "c"
provider = "p"
model = "m"
tier = "t"
rpm = 10
"#
    );
    Engine::new(Config::from_toml(&toml).expect("valid"), 7)
}

fn request(e: &Engine) -> Request {
    Request {
        tier: e.route("t").expect("tier"),
        input_tokens: 100,
        output_tokens: 50,
    }
}

#[track_caller]
fn sent(step: Option<Step>) -> (RequestId, DeploymentId, u8) {
    match step {
        Some(Step::Send {
            request,
            deployment,
            attempt,
        }) => (request, deployment, attempt),
        other => panic!("expected Send, got {other:?}"),
    }
}

fn ok() -> Outcome {
    Outcome::success(ms(50), 100, 50)
}

const FIXED: &str = r#"{ after = "500ms", max = 1 }"#;

#[test]
fn a_hedge_after_a_fixed_time_wins_with_the_first_byte() {
    let mut e = engine(FIXED);
    let t = Duration::from_secs(1);
    let (id, d, attempt) = sent(Some(e.start(request(&e), t)));
    assert_eq!((d.index(), attempt), (0, 1));
    assert_eq!(e.hedge_at(id), Some(t + ms(500)));
    assert_eq!(e.hedge(id, t + ms(499)), None, "not due yet");
    let (_, h, hedge_attempt) = sent(e.hedge(id, t + ms(500)));
    assert_eq!(
        (h.index(), hedge_attempt),
        (1, 2),
        "b: fastest by estimate among the others (all unmeasured: a tie, the first)"
    );
    assert_eq!(e.hedge_at(id), None, "max = 1");
    assert_eq!(e.states()[1].in_flight, 1);
    assert_eq!(
        e.first_byte_of(id, 2, t + ms(600)),
        Some(1),
        "cancel attempt 1"
    );
    assert_eq!(e.states()[0].in_flight, 0, "the loser is released");
    let done = e.finish_of(id, 2, &ok(), t + ms(700));
    assert_eq!(done.step, Some(Step::Done { request: id }));
    assert_eq!(done.cancel, None);
    let stats = e.hedge_stats();
    assert_eq!((stats.sent, stats.won, stats.cancelled), (1, 1, 1));
    assert_eq!(e.live_requests(), 0);
}

#[test]
fn the_loser_is_billed_its_input_tokens() {
    let toml = format!(
        r#"
[[tier]]
name = "t"
strategy = "weighted-round-robin"
hedge = {FIXED}

[[deployment]]
id = "a"
provider = "p"
model = "m"
tier = "t"
weight = 3
input_price = 2.0
output_price = 8.0

[[deployment]]
id = "b"
provider = "p"
model = "m"
tier = "t"
weight = 2
input_price = 1.0
output_price = 4.0
"#
    );
    let mut e = Engine::new(Config::from_toml(&toml).expect("valid"), 7);
    let t = Duration::from_secs(1);
    let (id, _, _) = sent(Some(e.start(request(&e), t)));
    let (_, h, _) = sent(e.hedge(id, t + ms(500)));
    assert_eq!(h.index(), 1);
    assert_eq!(e.first_byte_of(id, 2, t + ms(600)), Some(1));
    e.finish_of(id, 2, &ok(), t + ms(700));
    let m = &e.metrics().deployments;
    // The loser (a, $2/M input) read 100 input tokens; the winner (b) billed 100 in, 50 out.
    assert!(
        (m[0].cost - 100.0 * 2.0 / 1e6).abs() < 1e-12,
        "{}",
        m[0].cost
    );
    assert!((m[1].cost - (100.0 * 1.0 + 50.0 * 4.0) / 1e6).abs() < 1e-12);
    assert_eq!(e.hedge_stats().cancelled_input_tokens, 100);
}

#[test]
fn the_original_can_win_and_a_failed_hedge_leaves_it_running() {
    let mut e = engine(FIXED);
    let t = Duration::from_secs(1);
    let (id, _, _) = sent(Some(e.start(request(&e), t)));
    sent(e.hedge(id, t + ms(500)));
    let failed = e.finish_of(id, 2, &Outcome::failure(FailureKind::Server), t + ms(550));
    assert_eq!(failed.step, None, "attempt 1 is still out");
    assert_eq!(failed.cancel, None);
    let done = e.finish_of(id, 1, &ok(), t + ms(800));
    assert_eq!(done.step, Some(Step::Done { request: id }));
    assert_eq!(e.hedge_stats().won, 0);
    // A success without a first byte reported wins too and names the loser.
    let (id, _, _) = sent(Some(e.start(request(&e), t + ms(1000))));
    sent(e.hedge(id, t + ms(1500)));
    let done = e.finish_of(id, 1, &ok(), t + ms(1600));
    assert_eq!(
        (done.step, done.cancel),
        (Some(Step::Done { request: id }), Some(2))
    );
    assert_eq!(e.live_requests(), 0);
}

#[test]
fn never_after_a_first_byte_and_never_into_a_key_short_of_headroom() {
    let mut e = engine(FIXED);
    let t = Duration::from_secs(1);
    let (id, _, _) = sent(Some(e.start(request(&e), t)));
    assert_eq!(e.first_byte_of(id, 1, t + ms(100)), None);
    assert_eq!(
        e.hedge_at(id),
        None,
        "a stream that started is never doubled"
    );
    assert_eq!(e.hedge(id, t + ms(600)), None);
    e.finish_of(id, 1, &ok(), t + ms(700));
    // Two deployments, a and c (rpm as given), alternating: after 18 requests c has used 9.
    for (rpm, hedged) in [(10, false), (20, true)] {
        let toml = format!(
            "[[tier]]\nname = \"t\"\nstrategy = \"weighted-round-robin\"\nhedge = {FIXED}\n\
             [[deployment]]\nid = \"a\"\nprovider = \"p\"\nmodel = \"m\"\ntier = \"t\"\n\
             [[deployment]]\nid = \"c\"\nprovider = \"p\"\nmodel = \"m\"\ntier = \"t\"\nrpm = {rpm}\n"
        );
        let mut e = Engine::new(Config::from_toml(&toml).expect("valid"), 7);
        for _ in 0..18 {
            let (id, _, _) = sent(Some(e.start(request(&e), t)));
            e.finish(id, &ok(), t);
        }
        let (id, d, _) = sent(Some(e.start(request(&e), t)));
        assert_eq!(d.index(), 0);
        let hedge = e.hedge(id, t + ms(500));
        assert_eq!(
            hedge.is_some(),
            hedged,
            "rpm {rpm}: c would have {} of {rpm} left after the hedge",
            rpm - 10
        );
    }
}

#[test]
fn a_quantile_hedge_waits_for_samples_then_follows_them() {
    let mut e = engine(r#"{ after = "p90" }"#);
    let t = Duration::from_secs(1);
    let (id, _, _) = sent(Some(e.start(request(&e), t)));
    assert_eq!(e.hedge_at(id), None, "no TTFT samples yet");
    e.finish(id, &Outcome::success(ms(200), 100, 50), t + ms(300));
    let (id, _, _) = sent(Some(e.start(request(&e), t + ms(400))));
    assert_eq!(
        e.hedge_at(id),
        Some(t + ms(400) + ms(200)),
        "one sample: itself"
    );
}

#[test]
fn hedge_config_is_range_checked() {
    for (bad, message) in [
        (
            r#"{ after = "p20" }"#,
            "tier[0].hedge.after = \"p20\": expected a TTFT quantile from \"p50\" to \"p99.9\", or a duration from 1ms to 1h",
        ),
        (
            r#"{ after = "3s", max = 4 }"#,
            "tier[0].hedge.max = 4: expected an integer from 1 to 3",
        ),
    ] {
        let toml = format!("[[tier]]\nname = \"t\"\nhedge = {bad}\n[[deployment]]\nid = \"a\"\nprovider = \"p\"\nmodel = \"m\"\ntier = \"t\"\n");
        assert_eq!(Config::from_toml(&toml).expect_err("rejected").to_string(), message);
    }
}

proptest! {
    /// Random interleavings of first bytes, successes and failures across a request's attempts
    /// (the original, a hedge, retries): every request ends in exactly one terminal step, the
    /// driver is never told to cancel an attempt that is not out, and every hedge went to a
    /// deployment that could take the request when it was sent.
    #[test]
    fn a_hedged_request_ends_exactly_once(
        requests in proptest::collection::vec(
            proptest::collection::vec((0u8..4, 0usize..3), 1..12), 1..30)
    ) {
        let mut e = engine(r#"{ after = "100ms", max = 2 }"#);
        let mut now = Duration::from_secs(1);
        for events in requests {
            now += ms(50);
            let first = e.start(request(&e), now);
            let id = first.request();
            let mut out: Vec<u8> = Vec::new();
            let mut ended = 0u32;
            let mut next = Some(first);
            let mut events = events.into_iter();
            loop {
                match next.take() {
                    Some(Step::Send { attempt, .. }) => out.push(attempt),
                    Some(Step::Wait { until, .. }) => { now = now.max(until); next = Some(e.resume(id, now)); continue; }
                    Some(Step::Done { .. } | Step::Failed { .. }) => { ended += 1; break; }
                    None => {}
                }
                prop_assert!(!out.is_empty(), "a live request with nothing out and no step");
                now += ms(60);
                if let Some(at) = e.hedge_at(id) {
                    let usable: Vec<bool> = e.states().iter().map(|s| s.check(now.max(at), 150).is_ok()).collect();
                    if let Some(step) = e.hedge(id, now.max(at)) {
                        let Step::Send { deployment, attempt, .. } = step else { panic!("{step:?}") };
                        prop_assert!(usable[deployment.index()]);
                        out.push(attempt);
                    }
                }
                let (kind, pick) = events.next().unwrap_or((2, 0));
                let attempt = out[pick % out.len()];
                let h = match kind {
                    0 => {
                        if let Some(loser) = e.first_byte_of(id, attempt, now) {
                            prop_assert!(out.contains(&loser) && loser != attempt);
                            out.retain(|&a| a != loser);
                        }
                        continue;
                    }
                    1 => e.finish_of(id, attempt, &Outcome::failure(FailureKind::Server), now),
                    3 => e.finish_of(id, attempt, &Outcome::rate_limited(Some(ms(30))), now),
                    _ => e.finish_of(id, attempt, &ok(), now),
                };
                out.retain(|&a| a != attempt);
                if let Some(loser) = h.cancel {
                    prop_assert!(out.contains(&loser));
                    out.retain(|&a| a != loser);
                }
                next = h.step;
                if next.is_some() {
                    prop_assert!(out.is_empty(), "a next step while an attempt is still out: {out:?}");
                }
            }
            prop_assert_eq!(ended, 1);
        }
        prop_assert_eq!(e.live_requests(), 0);
        prop_assert!(e.states().iter().all(|s| s.in_flight == 0));
    }
}
