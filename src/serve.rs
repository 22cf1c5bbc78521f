//! `switchyard serve`: the OpenAI-compatible gateway (see `docs/gateway.md`).

use std::path::PathBuf;
use std::time::Duration;

/// Arguments of `switchyard serve`.
#[derive(clap::Args)]
pub struct ServeArgs {
    /// Gateway config file (TOML, same schema as a scenario's gateway section).
    #[arg(long)]
    pub config: PathBuf,
    /// Address to listen on.
    #[arg(long, default_value = gateway::DEFAULT_LISTEN)]
    pub listen: String,
    /// Environment variable holding comma-separated client keys (Authorization: Bearer KEY).
    /// Without it the gateway accepts every client.
    #[arg(long, value_name = "NAME")]
    pub gateway_keys_env: Option<String>,
    /// Largest accepted request body in bytes (413 above).
    #[arg(long, default_value_t = gateway::DEFAULT_MAX_BODY_BYTES)]
    pub max_body_bytes: usize,
    /// Write one CSV row per upstream attempt to this file.
    #[arg(long, value_name = "FILE")]
    pub trace_out: Option<PathBuf>,
    /// Seed of the engine's random choices.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Seconds in-flight requests may run on after SIGTERM/Ctrl-C.
    #[arg(long, default_value_t = 30.0, value_name = "SECONDS")]
    pub shutdown_timeout: f64,
    /// Worker threads (default: one per core).
    #[arg(long)]
    pub workers: Option<usize>,
    /// `per-core`: one single-threaded event loop per worker, each with its own listener
    /// (SO_REUSEPORT) and upstream pools; `work-stealing`: one tokio multi-thread runtime.
    #[arg(long, default_value = "per-core")]
    pub threading: gateway::Threading,
}

/// Runs the gateway until SIGTERM or Ctrl-C.
pub fn run(args: ServeArgs) -> anyhow::Result<()> {
    let shutdown_timeout = Duration::try_from_secs_f64(args.shutdown_timeout).map_err(|_| {
        anyhow::anyhow!(
            "--shutdown-timeout {}: expected a number of seconds ≥ 0",
            args.shutdown_timeout
        )
    })?;
    let opts = gateway::ServeOptions {
        config: args.config,
        listen: args.listen,
        gateway_keys_env: args.gateway_keys_env,
        max_body_bytes: args.max_body_bytes,
        trace_out: args.trace_out,
        seed: args.seed,
        shutdown_timeout,
        worker_threads: args.workers,
        threading: args.threading,
    };
    gateway::run(opts)?;
    Ok(())
}
