//! switchyard's simulator: modelled providers (latency, capacity, true rate limits, errors,
//! incidents) and workloads from scenario files, driving the same engine the gateway embeds, in
//! virtual time and deterministically from a seed.

pub mod clients;
pub mod compare;
pub mod dist;
pub mod files;
pub mod fit;
pub mod fleet;
pub mod limiter;
pub mod output;
pub mod paired;
pub mod replay;
pub mod report;
pub mod run;
pub mod scenario;
pub mod sessions;
pub mod stats;
pub mod time;
pub mod trace;
pub mod workload;
pub mod world;

pub use run::{run, run_with, Arrival, ArrivalSource, RunOptions, RunResult};
pub use scenario::{Scenario, ScenarioError};

/// The simulator's random source (portable and fast).
pub type Rng = rand_pcg::Pcg64Mcg;
