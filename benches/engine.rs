//! One `start` + `finish` round trip of the engine, per strategy, at 3, 16, 128 and 1,000
//! deployments in one tier (every deployment with RPM/TPM limits, so headroom is computed).
//!
//! Run: `cargo bench --bench engine`. Targets: median ≤ 250 ns at 16 deployments and ≤ 2 µs at
//! 1,000. Results are written up in docs/bench-engine.md.
//!
//! A second group, `round_trip_sessions`, runs the same round trip at 16 deployments with
//! session affinity (`[affinity] sessions = 4096`, every request in one of 1,000 sessions,
//! `start_in_session`) and hedging on (`hedge = { after = "p95" }`, `hedge_at` asked after
//! every `Send`; the answer comes before a hedge is due, as for most requests).

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use engine::{Config, Engine, Outcome, Request, Step, StrategyKind};

#[path = "../engine/examples/common/bench_tier.rs"]
mod bench_tier;
use bench_tier::bench_tier;

const SIZES: [usize; 4] = [3, 16, 128, 1_000];

/// One tier of `n` deployments with varied weights and limits high enough never to bind.
fn config(n: usize, strategy: StrategyKind) -> Config {
    bench_tier(n, strategy, "")
}

fn round_trips(c: &mut Criterion) {
    let mut group = c.benchmark_group("round_trip");
    for strategy in StrategyKind::EVERY {
        for n in SIZES {
            group.bench_with_input(BenchmarkId::new(strategy.name(), n), &n, |b, &n| {
                let mut engine = Engine::new(config(n, strategy), 1);
                let request = Request {
                    tier: engine.route("main").expect("tier"),
                    input_tokens: 500,
                    output_tokens: 200,
                };
                let outcome = Outcome::success(Duration::from_millis(40), 500, 180);
                let mut now = Duration::ZERO;
                b.iter(|| {
                    // Simulated time moves 1 ms per request, so windows and estimates age.
                    now += Duration::from_millis(1);
                    let Step::Send { request: id, .. } = engine.start(black_box(request), now)
                    else {
                        panic!("expected Send");
                    };
                    let done =
                        engine.finish(id, black_box(&outcome), now + Duration::from_millis(300));
                    black_box(done)
                });
            });
        }
    }
    group.finish();
}

fn round_trips_with_sessions_and_hedging(c: &mut Criterion) {
    let mut group = c.benchmark_group("round_trip_sessions");
    let n = 16;
    let extra = "hedge = { after = \"p95\" }\n\n[affinity]\nsessions = 4096\n";
    for strategy in StrategyKind::EVERY {
        group.bench_with_input(BenchmarkId::new(strategy.name(), n), &n, |b, &n| {
            let mut engine = Engine::new(bench_tier(n, strategy, extra), 1);
            let request = Request {
                tier: engine.route("main").expect("tier"),
                input_tokens: 500,
                output_tokens: 200,
            };
            let outcome = Outcome::success(Duration::from_millis(40), 500, 180);
            let mut now = Duration::ZERO;
            let mut i = 0u64;
            b.iter(|| {
                now += Duration::from_millis(1);
                i += 1;
                let step = engine.start_in_session(black_box(request), i % 1000, now);
                let Step::Send { request: id, .. } = step else {
                    panic!("expected Send");
                };
                black_box(engine.hedge_at(id));
                let done = engine.finish(id, black_box(&outcome), now + Duration::from_millis(300));
                black_box(done)
            });
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(1));
    targets = round_trips, round_trips_with_sessions_and_hedging
}
criterion_main!(benches);
