//! Code the engine's examples share with the root crate's benches.

pub mod bench_tier;
