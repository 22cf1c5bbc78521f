//! `Engine::reconfigure`: learned state survives a reload for deployments whose id survives,
//! removed ones drain, new ones start fresh, and every live request still ends exactly once.

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;
use std::time::Duration;

use engine::state::DeploymentState;
use engine::{
    Config, Engine, FailReason, FailureKind, LimitHeaders, Outcome, Request, RequestId, Step,
};
use proptest::prelude::*;

const MS: Duration = Duration::from_millis(1);

/// A deployment of the pool: `d{i}` with limits fixed by its number, so a reload never changes
/// a kept deployment's configured limits.
fn deployment(i: usize, tier: usize) -> String {
    let rpm = [None, Some(30), Some(600), Some(5)][i % 4];
    let mut s = format!(
        "[[deployment]]\nid = \"d{i}\"\nprovider = \"p{i}\"\nmodel = \"m\"\ntier = \"t{tier}\"\n"
    );
    if let Some(rpm) = rpm {
        writeln!(s, "rpm = {rpm}").unwrap();
    }
    s
}

/// A config of tiers `t{..}` (each with fallbacks to every later tier listed) and deployments
/// `(d, tier)`.
fn config(tiers: &[usize], deployments: &[(usize, usize)]) -> Config {
    let mut s = String::from("[retry]\nmax_attempts = 4\nmax_wait = \"2s\"\n\n");
    for (k, t) in tiers.iter().enumerate() {
        let fallback: Vec<String> = tiers[k + 1..].iter().map(|f| format!("\"t{f}\"")).collect();
        writeln!(
            s,
            "[[tier]]\nname = \"t{t}\"\nstrategy = \"{}\"\nfallback = [{}]\n",
            [
                "adaptive",
                "weighted-round-robin",
                "least-latency",
                "random"
            ][t % 4],
            fallback.join(", ")
        )
        .unwrap();
    }
    for &(d, t) in deployments {
        s.push_str(&deployment(d, t));
        s.push('\n');
    }
    Config::from_toml(&s).unwrap_or_else(|e| panic!("{e}\n{s}"))
}

fn state_of(engine: &Engine, id: &str) -> DeploymentState {
    let d = engine.config().deployment_by_id(id).expect(id);
    engine.states()[d.index()].clone()
}

fn sent(engine: &Engine, step: Step) -> (RequestId, String) {
    match step {
        Step::Send {
            request,
            deployment,
            ..
        } => (request, engine.config().deployment(deployment).id.clone()),
        other => panic!("expected a send, got {other:?}"),
    }
}

fn request(engine: &Engine, tier: &str) -> Request {
    Request {
        tier: engine.route(tier).unwrap(),
        input_tokens: 10,
        output_tokens: 10,
    }
}

#[test]
fn kept_deployments_keep_what_they_learned() {
    let mut engine = Engine::new(config(&[0], &[(0, 0), (1, 0), (2, 0)]), 1);
    let mut now = Duration::ZERO;
    for i in 0..30u64 {
        now += 7 * MS;
        let mut step = engine.start(request(&engine, "t0"), now);
        let outcome = match i % 5 {
            0 => Outcome::rate_limited(Some(Duration::from_secs(3))),
            1 => Outcome::failure(FailureKind::Server),
            _ => Outcome::success(40 * MS * (1 + i as u32 % 3), 10, 10),
        };
        let mut first = true;
        while let Step::Send { request, .. } = step {
            let o = if first {
                &outcome
            } else {
                &Outcome::success(30 * MS, 10, 10)
            };
            first = false;
            step = engine.finish(request, o, now + 50 * MS);
        }
    }
    let before: Vec<DeploymentState> = ["d1", "d2"].iter().map(|d| state_of(&engine, d)).collect();
    // d0 removed, d3 added, d2 moved to a new tier listed first, the strategy changed.
    let report = engine.reconfigure(config(&[5, 0], &[(3, 5), (2, 5), (1, 0)]), now);
    assert_eq!(report.kept, ["d2", "d1"]);
    assert_eq!(report.added, ["d3"]);
    assert_eq!(report.removed, ["d0"]);
    assert_eq!(state_of(&engine, "d1"), before[0]);
    assert_eq!(state_of(&engine, "d2"), before[1]);
    let fresh = DeploymentState::new(
        engine
            .config()
            .deployment(engine.config().deployment_by_id("d3").unwrap()),
    );
    assert_eq!(state_of(&engine, "d3"), fresh);
    assert_eq!(engine.draining().count(), 0, "nothing was out on d0");
    // Metrics follow the deployment too.
    let snap = engine.snapshot(now);
    let d1 = snap.deployments.iter().find(|d| d.id == "d1").unwrap();
    assert!(d1.attempts > 0);
    let d3 = snap.deployments.iter().find(|d| d.id == "d3").unwrap();
    assert_eq!(d3.attempts, 0);
}

#[test]
fn a_changed_limit_applies_and_keeps_what_was_used() {
    let text = |rpm: u32| {
        format!(
            "[[tier]]\nname = \"t\"\nstrategy = \"random\"\n[[deployment]]\nid = \"a\"\n\
             provider = \"p\"\nmodel = \"m\"\ntier = \"t\"\nrpm = {rpm}\n"
        )
    };
    let mut engine = Engine::new(Config::from_toml(&text(10)).unwrap(), 1);
    for _ in 0..6 {
        let step = engine.start(request(&engine, "t"), Duration::ZERO);
        let (id, _) = sent(&engine, step);
        engine.finish(id, &Outcome::success(MS, 10, 10), Duration::ZERO);
    }
    engine.reconfigure(Config::from_toml(&text(100)).unwrap(), Duration::ZERO);
    let s = state_of(&engine, "a");
    assert_eq!(s.rpm.limit(), Some(100));
    assert!((s.rpm.available(Duration::ZERO) - 4.0).abs() < 1e-9);
}

#[test]
fn a_limit_learned_from_headers_survives_a_reload_that_keeps_the_configured_one() {
    let text = |rpm: u32, weight: u32| {
        format!(
            "[[tier]]\nname = \"t\"\nstrategy = \"random\"\n[[deployment]]\nid = \"a\"\n\
             provider = \"p\"\nmodel = \"m\"\ntier = \"t\"\nrpm = {rpm}\nweight = {weight}\n"
        )
    };
    let mut engine = Engine::new(Config::from_toml(&text(1000, 1)).unwrap(), 1);
    let step = engine.start(request(&engine, "t"), Duration::ZERO);
    let (id, _) = sent(&engine, step);
    let headers = LimitHeaders {
        limit_requests: Some(50),
        remaining_requests: Some(40),
        ..LimitHeaders::default()
    };
    let outcome = Outcome::Success {
        ttft: MS,
        input_tokens: 10,
        output_tokens: 10,
        headers,
    };
    engine.finish(id, &outcome, Duration::ZERO);
    let learned = state_of(&engine, "a");
    assert_eq!(learned.rpm.limit(), Some(50));
    engine.reconfigure(Config::from_toml(&text(1000, 3)).unwrap(), Duration::ZERO);
    assert_eq!(state_of(&engine, "a"), learned);
    engine.reconfigure(Config::from_toml(&text(2000, 3)).unwrap(), Duration::ZERO);
    assert_eq!(
        state_of(&engine, "a").rpm.limit(),
        Some(2000),
        "the operator's new limit wins"
    );
}

#[test]
fn a_removed_deployment_drains_and_is_never_picked_again() {
    let mut engine = Engine::new(config(&[0], &[(0, 0), (1, 0)]), 3);
    let now = Duration::ZERO;
    let mut out = Vec::new();
    for _ in 0..4 {
        let step = engine.start(request(&engine, "t0"), now);
        out.push(sent(&engine, step));
    }
    assert!(out.iter().any(|(_, d)| d == "d0"));
    engine.reconfigure(config(&[0], &[(1, 0), (2, 0)]), now);
    let draining: Vec<_> = engine.draining().collect();
    let on_d0 = out.iter().filter(|(_, d)| d == "d0").count() as u32;
    assert_eq!(draining, [("d0", on_d0)]);
    assert_eq!(engine.config().deployments.len(), 2);
    assert_eq!(
        engine.states().len(),
        2,
        "draining entries stay out of states()"
    );
    for (i, (id, d)) in out.into_iter().enumerate() {
        let outcome = if i % 2 == 0 {
            Outcome::failure(FailureKind::Server)
        } else {
            Outcome::success(MS, 10, 10)
        };
        let mut step = engine.finish(id, &outcome, now + MS);
        while let Step::Send { .. } = step {
            let (id, next) = sent(&engine, step);
            assert_ne!(next, "d0", "retry of a request that was on {d}");
            step = engine.finish(id, &Outcome::success(MS, 10, 10), now + 2 * MS);
        }
        assert!(matches!(step, Step::Done { .. }), "{step:?}");
    }
    assert_eq!(engine.draining().count(), 0);
    assert_eq!(engine.live_requests(), 0);
    // The idle draining entry is dropped at the next reload; coming back, it starts fresh.
    engine.reconfigure(config(&[0], &[(0, 0), (1, 0)]), now);
    assert_eq!(engine.states().len(), 2);
}

#[test]
fn a_request_whose_tier_vanished_finishes_its_attempt_then_fails_cleanly() {
    let mut engine = Engine::new(config(&[0, 1], &[(0, 0), (1, 1)]), 3);
    let now = Duration::ZERO;
    let step = engine.start(request(&engine, "t0"), now);
    let a = sent(&engine, step);
    let step = engine.start(request(&engine, "t0"), now);
    let b = sent(&engine, step);
    let report = engine.reconfigure(config(&[1], &[(1, 1)]), now);
    assert_eq!(report.orphaned, 2);
    let done = engine.finish(a.0, &Outcome::success(MS, 10, 10), now + MS);
    assert_eq!(done, Step::Done { request: a.0 });
    let failed = engine.finish(b.0, &Outcome::failure(FailureKind::Server), now + MS);
    assert_eq!(
        failed,
        Step::Failed {
            request: b.0,
            reason: FailReason::NoCapacity { earliest: None }
        }
    );
    assert_eq!(engine.live_requests(), 0);
}

// ---------------------------------------------------------------------------------------------
// Property: random reloads interleaved with random requests.
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone)]
enum Op {
    /// Start a request routed to `t{tier}` (skipped if no such tier now).
    Start { tier: usize },
    /// Finish the `k`-th live attempt (mod count) with an outcome.
    Finish { k: usize, outcome: u8 },
    /// Resume the `k`-th waiting request (mod count).
    Resume { k: usize },
    /// Cancel the `k`-th live request.
    Cancel { k: usize },
    /// Reload with these tiers (non-empty) and deployments (non-empty, by pool number).
    Reload {
        tiers: Vec<usize>,
        deployments: Vec<usize>,
        placement: Vec<usize>,
    },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0..4usize).prop_map(|tier| Op::Start { tier }),
        4 => (any::<usize>(), 0..5u8).prop_map(|(k, outcome)| Op::Finish { k, outcome }),
        1 => any::<usize>().prop_map(|k| Op::Resume { k }),
        1 => any::<usize>().prop_map(|k| Op::Cancel { k }),
        1 => (
            prop::sample::subsequence((0..4usize).collect::<Vec<_>>(), 1..=3),
            prop::sample::subsequence((0..7usize).collect::<Vec<_>>(), 1..=7),
            prop::collection::vec(any::<usize>(), 7),
        )
            .prop_map(|(tiers, deployments, placement)| Op::Reload { tiers, deployments, placement }),
    ]
}

/// Places deployments on tiers so that every tier has one (fewer tiers if deployments run out).
fn placed(
    tiers: &[usize],
    deployments: &[usize],
    placement: &[usize],
) -> (Vec<usize>, Vec<(usize, usize)>) {
    let tiers: Vec<usize> = tiers.iter().copied().take(deployments.len()).collect();
    let pairs = deployments
        .iter()
        .enumerate()
        .map(|(i, &d)| {
            let t = if i < tiers.len() {
                tiers[i]
            } else {
                tiers[placement[i] % tiers.len()]
            };
            (d, t)
        })
        .collect();
    (tiers, pairs)
}

#[derive(Debug)]
enum Live {
    Sent(#[allow(dead_code)] String),
    Waiting,
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn reloads_never_lose_a_request(seed in any::<u64>(), ops in prop::collection::vec(op(), 1..120)) {
        let mut engine = Engine::new(config(&[0, 1], &[(0, 0), (1, 0), (2, 1)]), seed);
        let mut live: HashMap<RequestId, Live> = HashMap::new();
        // A slot is reused, but its handle's generation is new each time: a handle that ends
        // twice is a request answered twice.
        let mut ended: HashSet<RequestId> = HashSet::new();
        let mut now = Duration::ZERO;
        let follow = |engine: &Engine, live: &mut HashMap<RequestId, Live>, ended: &mut HashSet<RequestId>, step: Step| -> Result<(), TestCaseError> {
            match step {
                Step::Send { request, deployment, .. } => {
                    let id = engine.config().deployment(deployment).id.clone();
                    live.insert(request, Live::Sent(id));
                }
                Step::Wait { request, .. } => { live.insert(request, Live::Waiting); }
                Step::Done { request } | Step::Failed { request, .. } => {
                    prop_assert!(live.remove(&request).is_some(), "ended twice or never started");
                    prop_assert!(ended.insert(request), "{:?} ended twice", request);
                }
            }
            Ok(())
        };
        for op in ops {
            now += 3 * MS;
            match op {
                Op::Start { tier } => {
                    let Some(t) = engine.route(&format!("t{tier}")) else { continue };
                    let step = engine.start(Request { tier: t, input_tokens: 5, output_tokens: 5 }, now);
                    prop_assert!(!live.contains_key(&step.request()));
                    live.insert(step.request(), Live::Waiting);
                    follow(&engine, &mut live, &mut ended, step)?;
                }
                Op::Finish { k, outcome } => {
                    let mut sent: Vec<RequestId> = live.iter().filter(|(_, l)| matches!(l, Live::Sent(_))).map(|(r, _)| *r).collect();
                    if sent.is_empty() { continue }
                    sent.sort_by_key(|r| r.slot());
                    let r = sent[k % sent.len()];
                    let outcome = match outcome {
                        0 => Outcome::rate_limited(Some(Duration::from_millis(50))),
                        1 => Outcome::failure(FailureKind::Server),
                        2 => Outcome::failure(FailureKind::Timeout),
                        _ => Outcome::success(2 * MS, 5, 5),
                    };
                    let step = engine.finish(r, &outcome, now);
                    follow(&engine, &mut live, &mut ended, step)?;
                }
                Op::Resume { k } => {
                    let mut waiting: Vec<RequestId> = live.iter().filter(|(_, l)| matches!(l, Live::Waiting)).map(|(r, _)| *r).collect();
                    if waiting.is_empty() { continue }
                    waiting.sort_by_key(|r| r.slot());
                    let step = engine.resume(waiting[k % waiting.len()], now);
                    follow(&engine, &mut live, &mut ended, step)?;
                }
                Op::Cancel { k } => {
                    let mut all: Vec<RequestId> = live.keys().copied().collect();
                    if all.is_empty() { continue }
                    all.sort_by_key(|r| r.slot());
                    let r = all[k % all.len()];
                    prop_assert!(engine.cancel(r, now));
                    live.remove(&r);
                }
                Op::Reload { tiers, deployments, placement } => {
                    let (tiers, pairs) = placed(&tiers, &deployments, &placement);
                    let new = config(&tiers, &pairs);
                    let before: Vec<(String, DeploymentState)> = engine
                        .config()
                        .deployments
                        .iter()
                        .zip(engine.states())
                        .map(|(d, s)| (d.id.clone(), s.clone()))
                        .collect();
                    engine.reconfigure(new, now);
                    for (id, state) in before {
                        if engine.config().deployment_by_id(&id).is_some() {
                            prop_assert_eq!(&state_of(&engine, &id), &state, "{} changed", id);
                        }
                    }
                    // In-flight counts add up: live ones plus draining ones.
                    let out: u32 = engine.states().iter().map(|s| s.in_flight).sum::<u32>()
                        + engine.draining().map(|(_, n)| n).sum::<u32>();
                    let sent = live.values().filter(|l| matches!(l, Live::Sent(_))).count() as u32;
                    prop_assert_eq!(out, sent);
                }
            }
            prop_assert_eq!(engine.live_requests(), live.len());
        }
        // Drain everything: every request ends exactly once.
        let mut guard = 0;
        while let Some((&r, l)) = live.iter().min_by_key(|(r, _)| r.slot()) {
            guard += 1;
            prop_assert!(guard < 10_000);
            now += 10 * MS;
            let step = match l {
                Live::Sent(_) => engine.finish(r, &Outcome::success(MS, 5, 5), now),
                Live::Waiting => engine.resume(r, now),
            };
            follow(&engine, &mut live, &mut ended, step)?;
        }
        prop_assert_eq!(engine.live_requests(), 0);
        prop_assert_eq!(engine.draining().count(), 0);
    }
}
