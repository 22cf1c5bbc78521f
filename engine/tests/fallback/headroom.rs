//! Rate-limit headroom: `Wait` until the earliest headroom, `NoCapacity` beyond
//! `max_wait` or above every limit, token estimates corrected at finish, and provider
//! rate-limit headers correcting the local count.

use engine::state::Blocked;
use engine::{Engine, FailReason, FailureKind, LimitHeaders, Outcome, Step};

use crate::support::*;

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
