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
    /// API to speak: openai (POST /v1/chat/completions, /v1/completions, /v1/embeddings) or
    /// anthropic (POST /v1/messages). Default: the world deployment's `api`, else its gateway
    /// deployment's.
    #[arg(long, value_name = "API", value_parser = ["openai", "anthropic"])]
    pub api: Option<String>,
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
    match args.api.as_deref() {
        Some("anthropic") => opts.api = mock::provider::Api::Anthropic,
        Some(_) => opts.api = mock::provider::Api::OpenAi,
        None => {}
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
