//! Session affinity (`[affinity]`, `Engine::start_in_session`) and prompt-cache pricing
//! (`Engine::cache_read`, `cached_input_price`): exact steps on small configs, and a property
//! test that a sticky pick is never a deployment the engine could not use.

use std::time::Duration;

use engine::{Config, DeploymentId, Engine, Outcome, Request, RequestId, Step};
use proptest::prelude::*;

fn ms(v: u64) -> Duration {
    Duration::from_millis(v)
}

/// Three equal deployments under weighted round robin (which alternates a → b → c), one with a
/// small rpm limit; affinity as given.
fn config(affinity: &str) -> String {
    format!(
        r#"
[[tier]]
name = "t"
strategy = "weighted-round-robin"

[[deployment]]
id = "a"
provider = "p"
model = "m"
tier = "t"
rpm = 10
input_price = 2.0
output_price = 8.0
cached_input_price = 0.5

[[deployment]]
id = "b"
provider = "p"
model = "m"
tier = "t"

[[deployment]]
id = "c"
provider = "p"
model = "m"
tier = "t"

{affinity}
"#
    )
}

fn engine(affinity: &str) -> Engine {
    Engine::new(Config::from_toml(&config(affinity)).expect("valid"), 7)
}

fn request(e: &Engine) -> Request {
    Request {
        tier: e.route("t").expect("tier"),
        input_tokens: 1000,
        output_tokens: 100,
    }
}

#[track_caller]
fn sent(step: Step) -> (RequestId, DeploymentId) {
    match step {
        Step::Send {
            request,
            deployment,
            ..
        } => (request, deployment),
        other => panic!("expected Send, got {other:?}"),
    }
}

/// Starts a request of `session` at `now`, finishes it with `outcome`, returns where it went.
fn serve(e: &mut Engine, session: Option<u64>, now: Duration, outcome: &Outcome) -> usize {
    let r = request(e);
    let step = match session {
        Some(s) => e.start_in_session(r, s, now),
        None => e.start(r, now),
    };
    let (id, d) = sent(step);
    e.finish(id, outcome, now + ms(10));
    d.index()
}

fn ok() -> Outcome {
    Outcome::success(ms(50), 1000, 100)
}

const ON: &str = "[affinity]\nsessions = 64\nttl = \"1m\"\nmin_headroom = 0.25";

#[test]
fn a_session_returns_to_the_deployment_that_served_it() {
    let mut e = engine(ON);
    let t = Duration::from_secs(1);
    assert_eq!(serve(&mut e, Some(42), t, &ok()), 0, "round robin: a");
    // Round robin would go on to b, c, a…; the session keeps going back to a.
    for i in 1..4 {
        assert_eq!(serve(&mut e, Some(42), t + ms(100 * i), &ok()), 0);
    }
    assert_eq!(serve(&mut e, None, t + ms(500), &ok()), 1, "no session: b");
    assert_eq!(
        serve(&mut e, Some(7), t + ms(600), &ok()),
        2,
        "new session: c"
    );
    assert_eq!(serve(&mut e, Some(7), t + ms(700), &ok()), 2);
    let stats = e.affinity_stats();
    assert_eq!((stats.hits, stats.misses), (4, 2));
}

#[test]
fn a_clients_sessions_are_sticky_and_its_own() {
    let sha = "0".repeat(64);
    let clients = format!(
        "[[client]]\nname = \"x\"\nkey_sha256 = \"{sha}\"\n\n\
         [[client]]\nname = \"y\"\nkey_sha256 = \"{}\"",
        "1".repeat(64)
    );
    let mut e = engine(&format!("{ON}\n\n{clients}"));
    let (x, y) = (
        e.config().client_by_name("x").expect("x"),
        e.config().client_by_name("y").expect("y"),
    );
    let t = Duration::from_secs(1);
    let serve_for = |e: &mut Engine, client, i: u64| {
        let step = e
            .start_for_in_session(client, request(e), 42, t + ms(100 * i))
            .expect("admitted");
        let (id, d) = sent(step);
        e.finish(id, &ok(), t + ms(100 * i + 10));
        d.index()
    };
    assert_eq!(serve_for(&mut e, x, 0), 0, "round robin: a");
    assert_eq!(
        serve_for(&mut e, y, 1),
        1,
        "the same key of another client: not x's session"
    );
    for i in 2..5 {
        assert_eq!(serve_for(&mut e, x, i), 0, "x's session stays on a");
        assert_eq!(serve_for(&mut e, y, i), 1, "y's on b");
    }
    assert_eq!(e.client_states()[x.index()].succeeded, 4);
}

#[test]
fn off_by_default_and_forgotten_after_the_ttl() {
    let mut e = engine("");
    let t = Duration::from_secs(1);
    let picks: Vec<usize> = (0..3)
        .map(|i| serve(&mut e, Some(42), t + ms(100 * i), &ok()))
        .collect();
    assert_eq!(picks, [0, 1, 2], "sessions ignored without [affinity]");
    let mut e = engine(ON);
    assert_eq!(serve(&mut e, Some(42), t, &ok()), 0);
    assert_eq!(
        serve(&mut e, Some(42), t + Duration::from_secs(59), &ok()),
        0
    );
    assert_eq!(
        serve(&mut e, Some(42), t + Duration::from_secs(200), &ok()),
        1,
        "141 s after its last request the session is forgotten: round robin's turn (b)"
    );
}

#[test]
fn never_through_a_cooldown_or_short_headroom() {
    let mut e = engine(ON);
    let t = Duration::from_secs(1);
    assert_eq!(serve(&mut e, Some(42), t, &ok()), 0);
    // a 429 cools `a` down: the session goes elsewhere, and a retry never goes back.
    let (id, d) = sent(e.start_in_session(request(&e), 42, t + ms(100)));
    assert_eq!(d.index(), 0);
    let (_, retry) = sent(e.finish(id, &Outcome::rate_limited(Some(ms(5000))), t + ms(110)));
    assert_ne!(retry.index(), 0);
    assert_ne!(
        serve(&mut e, Some(42), t + ms(200), &ok()),
        0,
        "cooling down"
    );
    // Cooldown over, but `a` (rpm 10) has used 2 of 10: the session comes back while 25 %
    // headroom remains after the request, i.e. up to the 7th request of the minute.
    let later = t + Duration::from_secs(6);
    let mut e = engine(ON);
    assert_eq!(serve(&mut e, Some(42), later, &ok()), 0);
    let mut sticky = 1;
    for i in 1..10 {
        if serve(&mut e, Some(42), later + ms(10 * i), &ok()) == 0 {
            sticky += 1;
        }
    }
    assert_eq!(
        sticky, 7,
        "requests 8.. would leave less than 25 % of a's 10 rpm"
    );
}

#[test]
fn cached_input_tokens_are_priced_at_the_cached_price() {
    let mut e = engine(ON);
    let t = Duration::from_secs(1);
    let (id, d) = sent(e.start_in_session(request(&e), 1, t));
    assert_eq!(d.index(), 0);
    e.cache_read(id, 800);
    e.finish(id, &ok(), t + ms(10));
    // 200 × 2.0 + 800 × 0.5 + 100 × 8.0 per million.
    let cost = e.metrics().deployments[0].cost;
    assert!((cost - 1600.0 / 1e6).abs() < 1e-12, "{cost}");
    let (id, _) = sent(e.start_in_session(request(&e), 1, t + ms(100)));
    e.finish(id, &ok(), t + ms(110));
    let cost = e.metrics().deployments[0].cost - cost;
    assert!((cost - 2800.0 / 1e6).abs() < 1e-12, "no cache read: {cost}");
}

#[test]
fn the_session_header_defaults_to_x_session_id_and_is_lower_cased() {
    let c = Config::from_toml(&config("")).expect("valid");
    assert_eq!(c.affinity.header, "x-session-id");
    let c = Config::from_toml(&config("[affinity]\nheader = \"X-Conv\"")).expect("valid");
    assert_eq!(c.affinity.header, "x-conv");
}

#[test]
fn affinity_config_is_range_checked() {
    for (bad, message) in [
        (
            "[affinity]\nsessions = -1",
            "affinity.sessions = -1: expected an integer from 0 (off, the default) to 16777216",
        ),
        (
            "[affinity]\nttl = \"0s\"",
            "affinity.ttl = 0s: expected a duration > 0",
        ),
        (
            "[affinity]\nmin_headroom = 1.5",
            "affinity.min_headroom = 1.5: expected a fraction from 0 to 1",
        ),
        (
            "[affinity]\nheader = \"x session\"",
            "affinity.header = \"x session\": expected a header name (letters, digits, - and _)",
        ),
    ] {
        let e = Config::from_toml(&config(bad)).expect_err("rejected");
        assert_eq!(e.to_string(), message);
    }
}

proptest! {
    /// Whatever happens to the deployments (429s with cooldowns, server errors opening
    /// breakers, limits filling up), a sticky pick is never a deployment that was not usable
    /// at that moment, and every request ends exactly once.
    #[test]
    fn a_sticky_pick_is_always_usable(
        ops in proptest::collection::vec((0u64..6, 0u8..4, 1u64..3000), 1..200)
    ) {
        let mut e = engine("[affinity]\nsessions = 4\nttl = \"30s\"\nmin_headroom = 0.1\n[health]\nfailure_threshold = 2");
        let mut now = Duration::from_secs(1);
        for (session, outcome, gap) in ops {
            now += ms(gap);
            let usable: Vec<bool> = e.states().iter().map(|s| s.check(now, 1100).is_ok()).collect();
            let hits = e.affinity_stats().hits;
            let mut step = e.start_in_session(request(&e), session, now);
            if e.affinity_stats().hits > hits {
                // A sticky pick (the strategy's own picks may override breakers in panic mode).
                let Step::Send { deployment, .. } = step else {
                    panic!("a sticky pick is a Send, got {step:?}");
                };
                prop_assert!(usable[deployment.index()], "sticky pick of unusable {deployment:?}");
            }
            let mut ended = 0;
            for _ in 0..64 {
                step = match step {
                    Step::Send { request, .. } => {
                        let o = match outcome {
                            0 => Outcome::rate_limited(Some(ms(2000))),
                            1 => Outcome::failure(engine::FailureKind::Server),
                            _ => ok(),
                        };
                        e.finish(request, &o, now + ms(5))
                    }
                    Step::Wait { request, until } => e.resume(request, until),
                    Step::Done { .. } | Step::Failed { .. } => { ended += 1; break; }
                };
            }
            prop_assert_eq!(ended, 1);
        }
        prop_assert_eq!(e.live_requests(), 0);
    }
}
