//! Metrics: the snapshot's shares, attempts, retries, rate-limit hits, utilisation, cost
//! and totals after a known sequence of requests.

use engine::{FailReason, Outcome, Step};

use crate::support::*;

#[test]
fn snapshot_reports_shares_rate_limits_and_cost() {
    let toml = format!(
        "[[tier]]\nname = \"main\"\nstrategy = \"weighted-round-robin\"\n\n{}{}",
        deployment(
            "a",
            "main",
            "weight = 3\nrpm = 100\ninput_price = 2.0\noutput_price = 8.0"
        ),
        deployment(
            "b",
            "main",
            "weight = 1\ninput_price = 1.0\noutput_price = 4.0"
        ),
    );
    let mut e = engine(&toml);
    let [a, b] = ["a", "b"].map(|d| dep(&e, d));
    let mut picks = Vec::new();
    for _ in 0..8 {
        let (id, d, _) = sent(e.start(request(&e, "main", 1_000, 500), ms(0)));
        picks.push(d);
        assert_eq!(
            e.finish(id, &Outcome::success(ms(30), 1_000, 500), ms(0)),
            Step::Done { request: id }
        );
    }
    // Smooth WRR at 3:1 interleaves a a b a per cycle.
    assert_eq!(picks, [a, a, b, a, a, a, b, a]);
    let snap = e.snapshot(ms(0));
    let (sa, sb) = (&snap.deployments[a.index()], &snap.deployments[b.index()]);
    assert_eq!((sa.attempts, sb.attempts), (6, 2));
    assert_eq!((sa.configured_share, sb.configured_share), (0.75, 0.25));
    assert_eq!((sa.actual_share, sb.actual_share), (0.75, 0.25));
    // a: 6 × (1000 × 2 + 500 × 8) / 1e6; b: 2 × (1000 × 1 + 500 × 4) / 1e6.
    assert!((sa.cost - 0.036).abs() < 1e-12, "{}", sa.cost);
    assert!((sb.cost - 0.006).abs() < 1e-12, "{}", sb.cost);
    assert_eq!((sa.input_tokens, sa.output_tokens), (6_000, 3_000));
    assert_share(sa.utilisation.rpm, 0.06);
    assert_eq!(sb.utilisation.rpm, 0.0, "no limit, no utilisation");
    assert_eq!(snap.tiers[0].requests, 8);
    assert_eq!(snap.tiers[0].successes, 8);
    assert_eq!(snap.tiers[0].strategy, "weighted-round-robin");

    // After two full WRR cycles the scores are back at 0, so a is next: its 429 (retry-after
    // 30s) moves the retry to b. The following request finds only b usable; b's 429 leaves
    // nothing within max_wait (10s), so it fails with a's cooldown end as the earliest time.
    let now = secs(1);
    let (id, d, _) = sent(e.start(request(&e, "main", 1_000, 500), now));
    assert_eq!(d, a);
    let (_, retry, n) = sent(e.finish(id, &Outcome::rate_limited(Some(secs(30))), now));
    assert_eq!((retry, n), (b, 2));
    e.finish(id, &Outcome::success(ms(30), 1_000, 500), now);
    let (id, d, _) = sent(e.start(request(&e, "main", 1_000, 500), now + ms(1)));
    assert_eq!(d, b);
    assert_eq!(
        e.finish(id, &Outcome::rate_limited(Some(secs(30))), now + ms(1)),
        Step::Failed {
            request: id,
            reason: FailReason::NoCapacity {
                earliest: Some(secs(31))
            }
        }
    );
    let snap = e.snapshot(secs(2));
    let (sa, sb) = (&snap.deployments[a.index()], &snap.deployments[b.index()]);
    assert_eq!((sa.rate_limited, sb.rate_limited), (1, 1));
    assert_eq!((sa.attempts, sb.attempts), (7, 4));
    assert_eq!((sa.retries, sb.retries), (0, 1));
    assert!(sa.cooling_down && sb.cooling_down);
    assert!(
        (sb.cost - 0.009).abs() < 1e-12,
        "a 429 costs nothing: {}",
        sb.cost
    );
    assert_eq!(snap.totals.started, 10);
    assert_eq!(snap.totals.succeeded, 9);
    assert_eq!(snap.totals.failed_no_capacity, 1);
    assert_eq!(snap.tiers[0].failures, 1);
}
