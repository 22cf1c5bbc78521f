//! Simulator throughput: simulated requests per second, end to end (arrivals, world model,
//! engine decisions, statistics), on the 40-deployment benchmark scenario and on `default`.
//!
//! `cargo bench --bench sim`

use std::path::Path;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use engine::StrategyKind;
use sim::{RunOptions, Scenario};

const REQUESTS: u64 = 100_000;

fn load(path: &str) -> Scenario {
    let mut s = Scenario::load(Path::new(env!("CARGO_MANIFEST_DIR")).join(path).as_path())
        .unwrap_or_else(|e| panic!("{e}"));
    // Long enough that every run reaches REQUESTS arrivals (the scenario's own duration may not).
    s.settings.duration = Duration::from_secs(100 * 86_400);
    s.settings.max_requests = Some(REQUESTS);
    s
}

fn simulate(c: &mut Criterion) {
    let mut group = c.benchmark_group("simulate");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3))
        .throughput(Throughput::Elements(REQUESTS));
    for (name, path) in [
        ("large-40", "benches/scenarios/large.toml"),
        ("default", "scenarios/default.toml"),
    ] {
        let scenario = load(path);
        for strategy in [
            StrategyKind::Random,
            StrategyKind::WeightedRoundRobin,
            StrategyKind::PeakEwma,
            StrategyKind::Adaptive,
        ] {
            group.bench_with_input(
                BenchmarkId::new(name, strategy),
                &strategy,
                |b, &strategy| {
                    b.iter(|| {
                        let r = sim::run(
                            &scenario,
                            RunOptions {
                                strategy: Some(strategy),
                                seed: 1,
                                trace: None,
                                progress: None,
                            },
                        );
                        assert!(r.summary.requests > 0);
                        r.summary.successes
                    })
                },
            );
        }
    }
    group.finish();
}

criterion_group!(benches, simulate);
criterion_main!(benches);
