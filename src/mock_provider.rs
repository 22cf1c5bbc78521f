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
    /// Run N times faster than modelled time: latencies, limit windows and incidents all
    /// shrink by N (`--speed 100`: a 60 s window lasts 0.6 s). The same direction as
    /// `replay --speed`.
    #[arg(long, value_name = "N", allow_negative_numbers = true,
          value_parser = crate::args::positive, conflicts_with = "time_scale")]
    pub speed: Option<f64>,
    /// Deprecated: real seconds per modelled second (`--time-scale 0.01` = `--speed 100`).
    #[arg(long, value_name = "X", hide = true)]
    pub time_scale: Option<f64>,
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
    opts.time_scale = match (args.speed, args.time_scale) {
        (Some(speed), _) => 1.0 / speed,
        (None, Some(scale)) => {
            eprintln!(
                "warning: --time-scale is deprecated; use --speed N (N times faster): \
                 --time-scale {scale} is --speed {}",
                1.0 / scale
            );
            scale
        }
        (None, None) => 1.0,
    };
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
