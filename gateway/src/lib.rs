//! switchyard's gateway: an OpenAI-compatible HTTP proxy that embeds the engine.
//!
//! The engine decides (tier, deployment, retry, fallback, wait); this crate only carries out its
//! [`engine::Step`]s over HTTP and reports each attempt's [`engine::Outcome`]. The engine lives
//! behind one `std::sync::Mutex`, held for the microseconds of a `start`/`finish` call and never
//! across an await.
//!
//! - [`run`]: what `switchyard serve` calls — reads the config, builds a multi-thread runtime,
//!   listens, serves until SIGTERM/Ctrl-C.
//! - [`Gateway`] + [`serve`]: the same pieces for embedding and tests (bind `127.0.0.1:0`).
//! - [`mock`]: a small OpenAI-style upstream for tests and demos.
//!
//! See `docs/gateway.md` for endpoints, errors, metrics and the trace format.

mod body;
pub mod error;
pub mod headers;
mod metrics;
pub mod mock;
mod proxy;
pub mod request;
mod server;
mod state;
pub mod trace;
mod upstream;

use std::path::PathBuf;
use std::time::Duration;

use tokio::net::TcpListener;
use tracing::info;

pub use body::Body;
pub use error::{ApiError, GatewayError};
pub use proxy::{usage_of, UsageScanner, DEPLOYMENT_HEADER, TIER_HEADER};
pub use server::serve;
pub use state::{Gateway, Settings, DEFAULT_MAX_BODY_BYTES, DEFAULT_SHUTDOWN_TIMEOUT};

/// Default listen address of `switchyard serve`.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";

/// Everything `switchyard serve` needs to run.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// The gateway config file (TOML).
    pub config: PathBuf,
    /// Address to listen on, e.g. `127.0.0.1:8080`.
    pub listen: String,
    /// Name of the environment variable holding comma-separated client keys; `None` = no auth.
    pub gateway_keys_env: Option<String>,
    /// Largest accepted request body in bytes.
    pub max_body_bytes: usize,
    /// Per-attempt trace CSV to write, if any.
    pub trace_out: Option<PathBuf>,
    /// Seed of the engine's random choices.
    pub seed: u64,
    /// How long in-flight requests may finish after SIGTERM/Ctrl-C.
    pub shutdown_timeout: Duration,
    /// Runtime worker threads (default: one per core).
    pub worker_threads: Option<usize>,
}

impl ServeOptions {
    /// Options with the defaults for a config file.
    pub fn new(config: impl Into<PathBuf>) -> ServeOptions {
        ServeOptions {
            config: config.into(),
            listen: DEFAULT_LISTEN.to_owned(),
            gateway_keys_env: None,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            trace_out: None,
            seed: 0,
            shutdown_timeout: DEFAULT_SHUTDOWN_TIMEOUT,
            worker_threads: None,
        }
    }
}

/// Reads and checks a gateway config file; errors name the file and line.
pub fn load_config(path: &std::path::Path) -> Result<engine::Config, GatewayError> {
    let text = std::fs::read_to_string(path).map_err(|cause| GatewayError::ReadConfig {
        path: path.to_owned(),
        cause,
    })?;
    engine::Config::from_toml(&text).map_err(|cause| GatewayError::Config {
        path: path.to_owned(),
        line: cause.line_in(&text),
        cause: Box::new(cause),
    })
}

/// Reads comma-separated client keys from the environment variable `name`.
pub fn gateway_keys_from_env(name: &str) -> Result<Vec<String>, GatewayError> {
    let keys: Vec<String> = std::env::var(name)
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|k| !k.is_empty())
        .map(str::to_owned)
        .collect();
    if keys.is_empty() {
        return Err(GatewayError::MissingGatewayKeys(name.to_owned()));
    }
    Ok(keys)
}

/// Installs the `tracing` subscriber: human-readable lines on stderr, filtered by `RUST_LOG`
/// (default `info`). Does nothing if a subscriber is already installed.
pub fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

/// Runs the gateway until SIGTERM or Ctrl-C: loads the config, reads every API key variable,
/// builds a multi-thread runtime and serves.
pub fn run(opts: ServeOptions) -> Result<(), GatewayError> {
    init_logging();
    let config = load_config(&opts.config)?;
    let gateway_keys = match &opts.gateway_keys_env {
        Some(name) => gateway_keys_from_env(name)?,
        None => Vec::new(),
    };
    let settings = Settings {
        gateway_keys,
        max_body_bytes: opts.max_body_bytes,
        seed: opts.seed,
        trace_out: opts.trace_out.clone(),
        shutdown_timeout: opts.shutdown_timeout,
    };
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    builder.enable_all().thread_name("switchyard");
    if let Some(n) = opts.worker_threads {
        builder.worker_threads(n.max(1));
    }
    let runtime = builder.build()?;
    let gateway = {
        // The upstream clients want a runtime handle to spawn their connection tasks.
        let _guard = runtime.enter();
        Gateway::from_env(config, settings)?
    };
    runtime.block_on(async {
        let listener =
            TcpListener::bind(&opts.listen)
                .await
                .map_err(|cause| GatewayError::Bind {
                    addr: opts.listen.clone(),
                    cause,
                })?;
        let addr = listener.local_addr()?;
        info!(
            %addr,
            deployments = gateway.config().deployments.len(),
            tiers = gateway.config().tiers.len(),
            auth = !gateway.settings().gateway_keys.is_empty(),
            "switchyard gateway listening"
        );
        serve(listener, gateway.clone(), shutdown_signal()).await
    })?;
    gateway.flush_trace();
    drop(gateway);
    runtime.shutdown_timeout(Duration::from_secs(1));
    Ok(())
}

/// Resolves on SIGTERM or Ctrl-C (SIGINT).
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => info!("Ctrl-C: shutting down"),
        () = term => info!("SIGTERM: shutting down"),
    }
}
