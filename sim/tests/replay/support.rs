//! Helpers shared by the replay tests: the default scenario, trace files written under the
//! test's temporary folder, opening a replay and collecting its arrivals, and a minimal trace.

use std::path::{Path, PathBuf};

use sim::replay::{Replay, ReplayOptions, TraceError};
use sim::{Arrival, ArrivalSource, Scenario};

pub(crate) const AZURE: &str =
    concat!(env!("CARGO_MANIFEST_DIR"), "/../traces/azure-2023-code.csv");
pub(crate) const DEFAULT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../scenarios/default.toml");

pub(crate) fn scenario() -> Scenario {
    Scenario::load(Path::new(DEFAULT)).unwrap_or_else(|e| panic!("{e}"))
}

/// A file under the test's temporary folder with these bytes.
pub(crate) fn file(name: &str, bytes: &[u8]) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("replay-tests");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

pub(crate) fn open(
    path: &Path,
    s: &Scenario,
    options: ReplayOptions,
) -> Result<Replay, TraceError> {
    Replay::open(path, s, options)
}

pub(crate) fn arrivals(replay: &Replay, s: &Scenario) -> Vec<Arrival> {
    let mut source = replay.source(s, 1);
    let all: Vec<Arrival> = std::iter::from_fn(|| source.next_arrival()).collect();
    assert!(replay.take_error().is_none());
    all
}

pub(crate) const MINIMAL: &str = "timestamp_ms,input_tokens,output_tokens,model\n\
                       0,100,10,gpt-4o\n\
                       250.5,200,20,gpt-4o-mini\n\
                       1000,300,30,frontier\n\
                       1000,400,40,gpt-4o\n\
                       4000,500,50,fast\n";
