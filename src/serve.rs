//! `switchyard serve`: placeholder until the gateway lands.

/// Arguments of `switchyard serve`.
#[derive(clap::Args)]
pub struct ServeArgs {
    /// Gateway config file (TOML, same schema as a scenario's gateway section).
    #[arg(long)]
    pub config: std::path::PathBuf,
}

/// Runs the gateway.
pub fn run(_args: ServeArgs) -> anyhow::Result<()> {
    anyhow::bail!("the gateway is not built yet")
}
