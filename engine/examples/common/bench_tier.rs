//! The tier every engine benchmark measures, shared by the criterion bench (`benches/engine.rs`)
//! and the instruction-counting example (`engine/examples/round_trip.rs`) so that both time the
//! same round trip.

use std::fmt::Write as _;

use engine::{Config, StrategyKind};

/// One tier `main` of `n` deployments with varied weights and limits high enough never to bind,
/// with `extra` (tier keys and tables) after the tier's strategy.
pub fn bench_tier(n: usize, strategy: StrategyKind, extra: &str) -> Config {
    let mut toml = format!("[[tier]]\nname = \"main\"\nstrategy = \"{strategy}\"\n{extra}\n");
    for i in 0..n {
        writeln!(
            toml,
            "[[deployment]]\nid = \"d{i}\"\nprovider = \"p{}\"\nmodel = \"m\"\ntier = \"main\"\n\
             weight = {}\nrpm = {}\ntpm = 1000000000\ninput_price = 0.5\noutput_price = 1.5\n",
            i % 5,
            1 + i % 4,
            10_000_000 + i,
        )
        .expect("writing to a String");
    }
    Config::from_toml(&toml).expect("valid bench config")
}
