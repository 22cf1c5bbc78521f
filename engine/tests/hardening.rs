//! Regression tests of the hardening issue, at the engine: a refused key takes its deployment
//! out of rotation, the end-to-end deadline, `max_wait` bounding waits only (never the
//! attempts' own time), the reason a request fails being what happened, and configs whose
//! values would overflow time arithmetic being rejected at load.

use std::time::Duration;

use engine::{Config, DeploymentId, Engine, FailReason, FailureKind, Outcome, Request, Step};

fn secs(v: u64) -> Duration {
    Duration::from_secs(v)
}

fn ms(v: u64) -> Duration {
    Duration::from_millis(v)
}

/// Two deployments `a` and `b` in tier `standard` (round robin, a first), with extra lines.
fn two(extra: &str) -> Engine {
    let toml = format!(
        r#"
        [[tier]]
        name = "standard"
        strategy = "weighted-round-robin"

        [[deployment]]
        id = "a"
        provider = "p"
        model = "m"
        tier = "standard"
        weight = 2

        [[deployment]]
        id = "b"
        provider = "p"
        model = "m"
        tier = "standard"

        {extra}
        "#
    );
    Engine::new(Config::from_toml(&toml).expect("valid test config"), 7)
}

fn start(e: &mut Engine, now: Duration) -> Step {
    let tier = e.route("standard").expect("tier");
    e.start(
        Request {
            tier,
            input_tokens: 10,
            output_tokens: 10,
        },
        now,
    )
}

#[track_caller]
fn sent_to(step: Step) -> DeploymentId {
    match step {
        Step::Send { deployment, .. } => deployment,
        other => panic!("expected Send, got {other:?}"),
    }
}

fn auth(status: u16) -> Outcome {
    Outcome::Failure {
        kind: FailureKind::Auth,
        status: Some(status),
        retry_after: None,
        headers: Default::default(),
    }
}

#[test]
fn a_refused_key_is_retried_elsewhere_and_leaves_rotation() {
    let mut e = two("");
    let a = e.config().deployment_by_id("a").unwrap();
    let b = e.config().deployment_by_id("b").unwrap();
    let step = start(&mut e, secs(0));
    assert_eq!(sent_to(step), a);
    // 401 from a: retried at once on b, whatever retry_on says.
    let step = e.finish(step.request(), &auth(401), secs(1));
    assert_eq!(sent_to(step), b);
    assert_eq!(
        e.finish(step.request(), &Outcome::success(ms(5), 10, 10), secs(1)),
        Step::Done {
            request: step.request()
        }
    );
    assert!(e.states()[a.index()].disabled);
    // Every later request goes to b only, long after any cooldown would have ended.
    for i in 0..20 {
        let now = secs(10 + i * 600);
        let step = start(&mut e, now);
        assert_eq!(sent_to(step), b, "request {i}");
        e.finish(step.request(), &Outcome::success(ms(5), 10, 10), now);
    }
    let snap = e.snapshot(secs(20_000));
    let sa = snap.deployments.iter().find(|d| d.id == "a").unwrap();
    assert!(sa.disabled);
    assert_eq!(sa.auth_failures, 1);
    assert_eq!(sa.client_errors, 0);
}

#[test]
fn every_key_refused_fails_as_all_disabled() {
    let mut e = two("");
    let step = start(&mut e, secs(0));
    let step = e.finish(step.request(), &auth(403), secs(0));
    let last = e.finish(step.request(), &auth(402), secs(0));
    assert_eq!(
        last,
        Step::Failed {
            request: step.request(),
            reason: FailReason::AllDisabled
        }
    );
    // A new request fails at once, without an attempt.
    let step = start(&mut e, secs(1));
    assert!(matches!(
        step,
        Step::Failed {
            reason: FailReason::AllDisabled,
            ..
        }
    ));
    assert_eq!(e.metrics().totals.failed_all_disabled, 2);
    assert_eq!(e.live_requests(), 0);
}

/// Two deployments that hang: each attempt times out after 5 s. The default policy makes all
/// three attempts (the third after a backoff) and reports the timeouts, never "no capacity".
#[test]
fn attempts_that_time_out_do_not_spend_the_wait_budget() {
    let mut e = two("[retry]\nmax_wait = \"10s\"\njitter = 0.0");
    let mut step = start(&mut e, secs(0));
    let mut now = secs(0);
    let mut attempts = 0;
    loop {
        match step {
            Step::Send { request, .. } => {
                attempts += 1;
                now += secs(5);
                step = e.finish(request, &Outcome::failure(FailureKind::Timeout), now);
            }
            Step::Wait { request, until } => {
                assert!(until > now);
                now = until;
                step = e.resume(request, now);
            }
            Step::Failed { reason, .. } => {
                assert_eq!(
                    reason,
                    FailReason::AttemptsExhausted {
                        last: FailureKind::Timeout
                    }
                );
                break;
            }
            Step::Done { .. } => panic!("nothing succeeds here"),
        }
    }
    assert_eq!(attempts, 3);
    assert!(now >= secs(15), "three 5 s attempts, at {now:?}");
}

#[test]
fn waits_add_up_against_max_wait() {
    // Both deployments cool down 4 s after each 429; max_wait 6 s allows one such wait, not two.
    let mut e = two(
        "[retry]\nmax_wait = \"6s\"\nmax_attempts = 6\njitter = 0.0\n[health]\ncooldown = \"4s\"",
    );
    let mut step = start(&mut e, secs(0));
    let mut now = secs(0);
    let mut waited = Duration::ZERO;
    loop {
        match step {
            Step::Send { request, .. } => {
                step = e.finish(request, &Outcome::rate_limited(None), now);
            }
            Step::Wait { request, until } => {
                waited += until - now;
                now = until;
                step = e.resume(request, now);
            }
            Step::Failed { reason, .. } => {
                assert!(
                    matches!(reason, FailReason::NoCapacity { earliest: Some(_) }),
                    "{reason:?}"
                );
                break;
            }
            Step::Done { .. } => panic!("nothing succeeds here"),
        }
    }
    // 4 s for both cooldowns, then 0.4 s of backoff before re-sending to b (base 100 ms · 2²);
    // the next cooldown (3.6 s more) would pass the 6 s budget.
    assert_eq!(waited, ms(4_400));
}

#[test]
fn the_deadline_ends_waits_and_attempts() {
    let mut e = two("[retry]\ndeadline = \"3s\"\n[health]\ncooldown = \"5s\"");
    // Both deployments 429 → the next usable time (5 s) is past the deadline: fail now.
    let step = start(&mut e, secs(0));
    let step = e.finish(step.request(), &Outcome::rate_limited(None), secs(0));
    let last = e.finish(step.request(), &Outcome::rate_limited(None), secs(1));
    assert_eq!(
        last,
        Step::Failed {
            request: step.request(),
            reason: FailReason::Deadline
        }
    );

    // An attempt still in flight at the deadline: the driver expires the request; the
    // deployment is not blamed (no failure counted, its in-flight slot released).
    let mut e = two("[retry]\ndeadline = \"3s\"");
    let step = start(&mut e, secs(0));
    let id = step.request();
    let d = sent_to(step);
    assert_eq!(e.deadline(id), Some(secs(3)));
    assert_eq!(
        e.expire(id, secs(3)),
        Some(Step::Failed {
            request: id,
            reason: FailReason::Deadline
        })
    );
    assert_eq!(e.expire(id, secs(4)), None, "already ended");
    assert_eq!(e.deadline(id), None);
    assert_eq!(e.states()[d.index()].in_flight, 0);
    assert_eq!(e.metrics().deployments[d.index()].failures, [0; 7]);
    assert_eq!(e.metrics().totals.failed_deadline, 1);

    // A failure reported after the deadline ends the request as a deadline, not a retry.
    let step = start(&mut e, secs(10));
    let last = e.finish(
        step.request(),
        &Outcome::failure(FailureKind::Server),
        secs(14),
    );
    assert!(matches!(
        last,
        Step::Failed {
            reason: FailReason::Deadline,
            ..
        }
    ));
    // Without a deadline configured there is none.
    let mut e = two("");
    let step = start(&mut e, secs(0));
    assert_eq!(e.deadline(step.request()), None);
}

fn rejects(extra: &str, field: &str) {
    let toml = format!(
        "[[tier]]\nname = \"t\"\n[[tier]]\nname = \"u\"\n\
         [[deployment]]\nid = \"a\"\nprovider = \"p\"\nmodel = \"m\"\ntier = \"t\"\n\
         [[deployment]]\nid = \"b\"\nprovider = \"p\"\nmodel = \"m\"\ntier = \"u\"\n{extra}"
    );
    let err = Config::from_toml(&toml).expect_err(extra).to_string();
    assert!(err.contains(field), "{extra}: {err}");
}

#[test]
fn values_that_would_overflow_are_rejected_at_load() {
    rejects("[retry]\nmax_wait = \"18446744073709551615s\"", "365 days");
    rejects("[retry]\nbackoff_max = \"400d\"", "365 days");
    rejects("[health]\ncooldown = \"9999999d\"", "365 days");
    rejects("[retry]\ndeadline = \"0s\"", "retry.deadline");
    rejects(
        "[[deployment]]\nid = \"c\"\nprovider = \"p\"\nmodel = \"m\"\ntier = \"t\"\nfirst_byte_timeout = \"0s\"",
        "deployment[2].first_byte_timeout",
    );
    rejects(
        "[[deployment]]\nid = \"c\"\nprovider = \"p\"\nmodel = \"m\"\ntier = \"t\"\nweight = 1e308",
        "deployment[2].weight",
    );
    rejects(
        "[[deployment]]\nid = \"c\"\nprovider = \"p\"\nmodel = \"m\"\ntier = \"t\"\ntpm = 9223372036854775807",
        "deployment[2].tpm",
    );
    rejects(
        "[[deployment]]\nid = \"c\"\nprovider = \"p\"\nmodel = \"m\"\ntier = \"t\"\ninput_price = 1e300",
        "deployment[2].input_price",
    );
    rejects(
        "[health]\nfailure_threshold = 9223372036854775807",
        "health.failure_threshold",
    );
    rejects(
        "[balancing]\nerror_sensitivity = 1e300",
        "balancing.error_sensitivity",
    );
    rejects("[retry]\nretry_on = [\"auth\"]", "retry.retry_on[0]");
}

#[test]
fn mixed_fallback_and_context_fallback_cycles_are_rejected() {
    let toml = "[[tier]]\nname = \"t\"\ncontext_fallback = \"u\"\n\
                [[tier]]\nname = \"u\"\nfallback = [\"t\"]\n\
                [[deployment]]\nid = \"a\"\nprovider = \"p\"\nmodel = \"m\"\ntier = \"t\"\n\
                [[deployment]]\nid = \"b\"\nprovider = \"p\"\nmodel = \"m\"\ntier = \"u\"\n";
    let err = Config::from_toml(toml).unwrap_err().to_string();
    assert!(err.contains("t → u → t"), "{err}");
    assert!(err.contains("without a cycle"), "{err}");
}

#[test]
fn the_longest_durations_allowed_do_not_overflow() {
    // Every duration at its maximum, then a day of failures and waits far into the future.
    let mut e = two(
        "[retry]\nmax_wait = \"365d\"\nbackoff_base = \"365d\"\nbackoff_max = \"365d\"\n\
         deadline = \"365d\"\n\
         [health]\ncooldown = \"365d\"\nmax_cooldown = \"365d\"\nopen_for = \"365d\"\n\
         max_open_for = \"365d\"\nfailure_threshold = 1",
    );
    let far = secs(300 * 86_400);
    let mut step = start(&mut e, far);
    for _ in 0..10 {
        step = match step {
            Step::Send { request, .. } => e.finish(
                request,
                &Outcome::rate_limited(Some(secs(365 * 86_400))),
                far,
            ),
            Step::Wait { request, until } => e.resume(request, until),
            terminal => {
                assert!(terminal.is_terminal());
                break;
            }
        };
    }
    assert!(step.is_terminal(), "{step:?}");
}
