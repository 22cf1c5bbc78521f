//! The provider's true limits (`sim::limiter`, which both the simulator and `mock-provider` use)
//! keep the promise of their window's name, for any sequence of requests:
//!
//! * `fixed` never admits more than the limit within one window (minute on the minute);
//! * `sliding` never more than the limit within any window of its length;
//! * `token-bucket` never more than its burst plus the refill over the span: within any span of
//!   `d` seconds, at most `burst × limit + limit × d ÷ 60` (so within a minute, limit + burst;
//!   the burst is at least one unit);
//!
//! and every 429's `retry-after` is truthful: the same request, sent alone after it, fits.

use std::time::Duration;

use proptest::prelude::*;
use sim::limiter::{Limiter, WindowKind};

/// One request: milliseconds after the previous one, and its tokens.
type Request = (u32, u64);

/// Gaps cluster near zero (bursts) but reach past a minute (quiet spells).
fn requests() -> impl Strategy<Value = Vec<Request>> {
    let gap = prop_oneof![0u32..50, 0u32..2_000, 0u32..90_000];
    prop::collection::vec((gap, 1u64..2_000), 1..400)
}

fn kind() -> impl Strategy<Value = WindowKind> {
    prop_oneof![
        Just(WindowKind::Fixed),
        Just(WindowKind::Sliding),
        (0.05f64..2.0).prop_map(|burst| WindowKind::TokenBucket { burst }),
    ]
}

/// Sends every request once; returns (time in seconds, tokens) of those admitted.
fn admitted(limiter: &mut Limiter, requests: &[Request]) -> Vec<(f64, u64)> {
    let mut now = Duration::ZERO;
    let mut out = Vec::new();
    for &(gap, tokens) in requests {
        now += Duration::from_millis(u64::from(gap));
        if limiter.admit(now, tokens, 1.0).is_ok() {
            out.push((now.as_secs_f64(), tokens));
        }
    }
    out
}

/// Most `units` admitted within `[from, to]` (inclusive) over every span starting at an
/// admission, with the allowance `bound(span seconds)`; `Err` names the first span over it.
fn check_spans(
    admitted: &[(f64, u64)],
    units: impl Fn(&(f64, u64)) -> f64,
    in_span: impl Fn(f64, f64) -> bool,
    bound: impl Fn(f64) -> f64,
) -> Result<(), String> {
    for (i, first) in admitted.iter().enumerate() {
        let mut sum = 0.0;
        for later in admitted[i..].iter().take_while(|a| in_span(first.0, a.0)) {
            sum += units(later);
            let allowed = bound(later.0 - first.0);
            if sum > allowed + 1e-6 {
                return Err(format!(
                    "{sum} admitted from {:.3} s to {:.3} s, more than {allowed}",
                    first.0, later.0
                ));
            }
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn no_window_admits_more_than_its_name_promises(
        rpm in 1u64..120,
        tpm in 2_000u64..50_000,
        kind in kind(),
        requests in requests(),
    ) {
        let mut limiter = Limiter::new(Some(rpm), Some(tpm), None, kind);
        let admitted = admitted(&mut limiter, &requests);
        for counting_tokens in [false, true] {
            let limit = if counting_tokens { tpm } else { rpm } as f64;
            let units = |a: &(f64, u64)| if counting_tokens { a.1 as f64 } else { 1.0 };
            let verdict = match kind {
                // Same window: the same multiple of 60 s.
                WindowKind::Fixed => check_spans(
                    &admitted,
                    units,
                    |a, b| (a / 60.0).floor() == (b / 60.0).floor(),
                    |_| limit,
                ),
                WindowKind::Sliding => {
                    check_spans(&admitted, units, |a, b| b < a + 60.0, |_| limit)
                }
                WindowKind::TokenBucket { burst } => check_spans(
                    &admitted,
                    units,
                    |_, _| true,
                    |span| (burst * limit).max(1.0) + limit * span / 60.0,
                ),
            };
            prop_assert!(verdict.is_ok(), "{kind:?} limit {limit}: {}", verdict.unwrap_err());
        }
    }

    #[test]
    fn a_429s_retry_after_is_truthful(
        rpm in 1u64..120,
        // Every request fits the smallest bucket (burst 0.05 × 40,000 tokens).
        tpm in 40_000u64..100_000,
        kind in kind(),
        requests in requests(),
        tokens in 1u64..2_000,
    ) {
        let mut limiter = Limiter::new(Some(rpm), Some(tpm), None, kind);
        let sent = admitted(&mut limiter, &requests);
        let end: u64 = requests.iter().map(|r| u64::from(r.0)).sum();
        let now = Duration::from_millis(end);
        match limiter.clone().admit(now, tokens, 1.0) {
            Ok(()) => {}
            Err(rejection) => {
                // A microsecond of slack for the conversion to and from seconds.
                let later = now + rejection.retry_after + Duration::from_micros(1);
                prop_assert!(
                    limiter.admit(later, tokens, 1.0).is_ok(),
                    "{kind:?}: still refused {:?} after a 429 at {now:?} ({} admitted before)",
                    rejection.retry_after,
                    sent.len()
                );
            }
        }
    }
}

#[test]
fn a_token_bucket_reaches_its_bound_after_a_quiet_minute() {
    // The bound above is reached: a full bucket (burst 0.5 × 60) and a minute of refill (60).
    let mut limiter = Limiter::new(Some(60), None, None, WindowKind::TokenBucket { burst: 0.5 });
    // One request at 60 s, then one every quarter second up to 120 s.
    let every_quarter_second: Vec<Request> = std::iter::once((60_000, 1))
        .chain(std::iter::repeat_n((250, 1), 240))
        .collect();
    let admitted = admitted(&mut limiter, &every_quarter_second);
    // 90 exactly, or 89 if the last refill lands a rounding error short of a whole request.
    assert!((89..=90).contains(&admitted.len()), "{}", admitted.len());
}
