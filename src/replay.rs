//! `switchyard replay TRACE --scenario SCENARIO` (placeholder).

use std::path::PathBuf;

/// Arguments of `switchyard replay`.
#[derive(clap::Args)]
pub struct ReplayArgs {
    /// Trace file (CSV, optionally .gz).
    pub trace: PathBuf,
}

/// Runs the command.
pub fn run(_args: ReplayArgs) -> anyhow::Result<()> {
    anyhow::bail!("replay is not built yet")
}
