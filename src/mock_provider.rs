//! `switchyard mock-provider`: one modelled deployment of a scenario served over HTTP (see
//! `docs/mock-provider.md`).

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context as _;

/// Arguments of `switchyard mock-provider`.
#[derive(clap::Args)]
pub struct MockProviderArgs {
    /// Scenario file whose world (and workload output sizes) to model.
    #[arg(long)]
    pub scenario: PathBuf,
    /// Id of the deployment to behave like (a `[[deployment]]` id of the scenario).
    #[arg(long, value_name = "ID")]
    pub deployment: String,
    /// Address to listen on, e.g. 127.0.0.1:9001 (the base URL is then http://ADDR/v1).
    #[arg(long, value_name = "ADDR")]
    pub listen: String,
    /// Real seconds per modelled second: 0.01 runs latencies, limit windows and incidents 100×
    /// faster.
    #[arg(long, default_value_t = 1.0, value_name = "X")]
    pub time_scale: f64,
    /// Seed of the random streams (default: the scenario's seed, which gives the simulator's
    /// draws).
    #[arg(long)]
    pub seed: Option<u64>,
}

/// Serves until SIGTERM or Ctrl-C.
pub fn run(args: MockProviderArgs) -> anyhow::Result<()> {
    let scenario = sim::Scenario::load(&args.scenario)?;
    let mut opts =
        mock::provider::MockOptions::for_deployment(Arc::new(scenario), &args.deployment)
            .with_context(|| format!("scenario {}", args.scenario.display()))?;
    opts.time_scale = args.time_scale;
    if let Some(seed) = args.seed {
        opts.seed = seed;
    }
    mock::provider::run(opts, &args.listen).with_context(|| {
        format!(
            "mock provider for deployment {:?} of {}",
            args.deployment,
            args.scenario.display()
        )
    })?;
    Ok(())
}
