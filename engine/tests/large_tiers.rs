//! Behaviour on tiers too large to scan on every decision (more than 64 deployments), where
//! `least-latency` and `capacity-aware` rank a random sample plus their previous pick and
//! `weighted-round-robin` follows a stride schedule. (Exact round-robin shares on large tiers
//! are a property test in invariants.rs.)

use std::fmt::Write as _;
use std::time::Duration;

use engine::{Config, Engine, FailureKind, LimitHeaders, Outcome, Request, Step, StrategyKind};

const TIER: usize = 200;

/// One tier of `TIER` equal deployments; `extra` is appended to every deployment.
fn engine(strategy: StrategyKind, extra: &str) -> Engine {
    let mut toml = format!("[[tier]]\nname = \"main\"\nstrategy = \"{strategy}\"\n\n");
    for i in 0..TIER {
        writeln!(
            toml,
            "[[deployment]]\nid = \"d{i}\"\nprovider = \"p\"\nmodel = \"m\"\ntier = \"main\"\n{extra}\n"
        )
        .expect("writing to a String");
    }
    Engine::new(Config::from_toml(&toml).expect("valid config"), 11)
}

fn request(e: &Engine) -> Request {
    Request {
        tier: e.route("main").expect("tier"),
        input_tokens: 100,
        output_tokens: 50,
    }
}

/// Sends one request at `now` and finishes it at once with `latency_of(deployment)`; returns
/// the deployment.
fn round_trip(e: &mut Engine, now: Duration, latency_of: impl Fn(usize) -> Duration) -> usize {
    let Step::Send {
        request,
        deployment,
        ..
    } = e.start(request(e), now)
    else {
        panic!("expected a Send at {now:?}");
    };
    let latency = latency_of(deployment.index());
    let done = e.finish(request, &Outcome::success(latency, 100, 50), now + latency);
    assert_eq!(done, Step::Done { request });
    deployment.index()
}

#[test]
fn least_latency_settles_on_the_fastest_of_a_large_tier() {
    let mut e = engine(StrategyKind::LeastLatency, "");
    let fast = 137;
    let latency_of = |d: usize| Duration::from_millis(if d == fast { 20 } else { 200 });
    let mut picks = Vec::new();
    for i in 0..3_000u64 {
        picks.push(round_trip(
            &mut e,
            Duration::from_millis(10 * i),
            latency_of,
        ));
    }
    let late = &picks[2_000..];
    let on_fast = late.iter().filter(|&&d| d == fast).count();
    // A scan would send everything to the fast one, apart from re-probes of idle estimates.
    assert!(
        on_fast * 10 >= late.len() * 9,
        "{on_fast} of the last {} requests went to the fastest deployment",
        late.len()
    );
}

#[test]
fn capacity_aware_drains_a_large_tier_evenly() {
    // 200 keys of 60 requests/minute, asked for 6,000 requests in one instant: half of every
    // key's budget. Always taking the roomiest key gives each exactly 30; random choice would
    // spread them roughly 15 to 46.
    let mut e = engine(StrategyKind::CapacityAware, "rpm = 60\n");
    let mut counts = vec![0u32; TIER];
    let now = Duration::from_secs(1);
    for _ in 0..6_000 {
        let Step::Send {
            request,
            deployment,
            ..
        } = e.start(request(&e), now)
        else {
            panic!("expected a Send");
        };
        counts[deployment.index()] += 1;
        let ok = Outcome::success(Duration::from_millis(5), 100, 50);
        assert_eq!(e.finish(request, &ok, now), Step::Done { request });
    }
    let min = counts.iter().min().copied().unwrap_or(0);
    let max = counts.iter().max().copied().unwrap_or(0);
    assert!(
        (27..=33).contains(&min) && (27..=33).contains(&max),
        "per-key counts range {min}..={max}"
    );
}

#[test]
fn weighted_round_robin_skips_a_cooled_down_deployment_of_a_large_tier() {
    let mut e = engine(StrategyKind::WeightedRoundRobin, "");
    let now = Duration::from_secs(1);
    // The first pick fails with a 429: that deployment cools down and the retry goes elsewhere.
    let Step::Send {
        request,
        deployment: first,
        ..
    } = e.start(request(&e), now)
    else {
        panic!("expected a Send");
    };
    let rate_limited = Outcome::Failure {
        kind: FailureKind::RateLimited,
        status: Some(429),
        retry_after: Some(Duration::from_secs(30)),
        headers: LimitHeaders::default(),
    };
    let Step::Send {
        deployment: retry, ..
    } = e.finish(request, &rate_limited, now)
    else {
        panic!("expected the retry to be sent");
    };
    assert_ne!(retry, first);
    for i in 0..2 * TIER as u64 {
        let d = round_trip(&mut e, now + Duration::from_millis(i), |_| {
            Duration::from_millis(1)
        });
        assert_ne!(d, first.index(), "sent to the deployment cooling down");
    }
}
