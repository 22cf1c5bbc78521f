//! The round trip of `benches/engine.rs` (one `start` + `finish`, 16 deployments by default)
//! as a plain loop, for counting instructions, which a loaded machine does not inflate the way
//! it inflates wall time:
//!
//! ```sh
//! cargo build --release -p switchyard-engine --example round_trip
//! perf stat -e instructions:u target/release/examples/round_trip <strategy> <iterations> [sessions] [n]
//! ```
//!
//! Run it twice with different iteration counts: the difference in instructions divided by the
//! difference in iterations is the cost of one round trip, without the config parsing and
//! engine construction. With `sessions`, the round trip is the one of the bench's
//! `round_trip_sessions` group (affinity and hedging on, every request in one of 1,000
//! sessions, `hedge_at` asked after every `Send`).

use std::hint::black_box;
use std::time::Duration;

use engine::{Engine, Outcome, Request, Step, StrategyKind};

mod common;
use common::bench_tier::bench_tier;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let usage = "usage: round_trip <strategy> <iterations> [sessions] [deployments]";
    let strategy: StrategyKind = args.get(1).expect(usage).parse().expect(usage);
    let iterations: u64 = args.get(2).expect(usage).parse().expect(usage);
    let sessions = args.get(3).is_some_and(|a| a == "sessions");
    let n: usize = args.get(4).map_or(16, |a| a.parse().expect(usage));
    let extra = if sessions {
        "hedge = { after = \"p95\" }\n\n[affinity]\nsessions = 4096\n"
    } else {
        ""
    };
    let mut engine = Engine::new(bench_tier(n, strategy, extra), 1);
    let request = Request {
        tier: engine.route("main").expect("tier"),
        input_tokens: 500,
        output_tokens: 200,
    };
    let outcome = Outcome::success(Duration::from_millis(40), 500, 180);
    let mut now = Duration::ZERO;
    for i in 1..=iterations {
        now += Duration::from_millis(1);
        let step = if sessions {
            engine.start_in_session(black_box(request), i % 1000, now)
        } else {
            engine.start(black_box(request), now)
        };
        let Step::Send { request: id, .. } = step else {
            panic!("expected Send");
        };
        if sessions {
            black_box(engine.hedge_at(id));
        }
        let done = engine.finish(id, black_box(&outcome), now + Duration::from_millis(300));
        black_box(done);
    }
}
