//! `switchyard fit TRACE --out scenario.toml` (placeholder).

use std::path::PathBuf;

/// Arguments of `switchyard fit`.
#[derive(clap::Args)]
pub struct FitArgs {
    /// Trace file recorded by the gateway or `simulate --trace-out`.
    pub trace: PathBuf,
}

/// Runs the command.
pub fn run(_args: FitArgs) -> anyhow::Result<()> {
    anyhow::bail!("fit is not built yet")
}
