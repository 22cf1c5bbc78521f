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
//! - [`accept`], [`headers`], [`request`], [`error`]: pieces shared with the test and mock
//!   servers of the `switchyard-mock` crate.
//!
//! See `docs/gateway.md` for endpoints, errors, metrics and the trace format.

#![warn(missing_docs)]

pub mod accept;
mod admin;
mod attempt;
mod body;
mod clients;
pub mod clock;
mod cluster;
pub mod error;
mod failure;
pub mod headers;
mod hedge;
mod hyper_errors;
mod intake;
mod launch;
mod life;
mod live;
mod metrics;
pub mod protocol;
mod proxy;
mod relay;
pub mod reload;
pub mod request;
mod server;
pub mod session;
mod startup;
mod state;
pub mod trace;
mod translate;
mod upstream;
mod usage;

use std::path::PathBuf;
use std::time::Duration;

use tokio::net::TcpListener;
use tracing::info;

pub use attempt::says_context_length_exceeded;
pub use body::Body;
pub use error::{ApiError, GatewayError};
pub use proxy::{DEPLOYMENT_HEADER, TIER_HEADER};
pub use server::serve;
pub use state::{
    Gateway, Settings, DEFAULT_BODY_READ_TIMEOUT, DEFAULT_HEADER_READ_TIMEOUT,
    DEFAULT_MAX_BODY_BYTES, DEFAULT_MAX_CONNECTIONS, DEFAULT_SHUTDOWN_TIMEOUT,
};
pub use upstream::check_endpoints;
pub use usage::{usage_of, UsageScanner};

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
    /// Worker threads (default: one per core).
    pub worker_threads: Option<usize>,
    /// How the workers share the load.
    pub threading: Threading,
    /// Time a client gets to send a whole request body after its head (408 after).
    pub body_read_timeout: Duration,
    /// Time a client gets to send a request head; also the idle keep-alive limit.
    pub header_read_timeout: Duration,
    /// Cap on open client connections; `None` = [`default_max_connections`].
    pub max_connections: Option<usize>,
    /// Name of the environment variable holding the admin key (`/admin/*`); `None` = the
    /// admin endpoints are off (404).
    pub admin_key_env: Option<String>,
    /// Run N times faster than the config's modelled time ([`Settings::speed`]).
    pub speed: f64,
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
            threading: Threading::default(),
            body_read_timeout: DEFAULT_BODY_READ_TIMEOUT,
            header_read_timeout: DEFAULT_HEADER_READ_TIMEOUT,
            max_connections: None,
            admin_key_env: None,
            speed: 1.0,
        }
    }
}

/// The default cap on client connections: [`DEFAULT_MAX_CONNECTIONS`], lowered to what the
/// process's file-descriptor limit (`RLIMIT_NOFILE`, soft) allows: each client connection may
/// hold one upstream connection too, and 64 descriptors are kept for listeners, the trace file
/// and the like.
pub fn default_max_connections() -> usize {
    #[cfg(unix)]
    {
        let mut limit = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit writes into the struct we own; RLIMIT_NOFILE is a valid resource.
        let ok = unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } == 0;
        if ok && limit.rlim_cur != libc::RLIM_INFINITY {
            let soft = usize::try_from(limit.rlim_cur).unwrap_or(usize::MAX);
            return (soft.saturating_sub(64) / 2).clamp(1, DEFAULT_MAX_CONNECTIONS);
        }
    }
    DEFAULT_MAX_CONNECTIONS
}

/// Largest config file the gateway reads.
const MAX_CONFIG_BYTES: u64 = 64 << 20;

/// A config's text: a regular file of at most [`MAX_CONFIG_BYTES`] (never a FIFO or a device
/// read without end).
fn read_config(path: &std::path::Path) -> std::io::Result<String> {
    use std::io::{Error, ErrorKind, Read};
    let file = std::fs::File::open(path)?;
    let meta = file.metadata()?;
    if !meta.is_file() || meta.len() > MAX_CONFIG_BYTES {
        return Err(Error::new(
            ErrorKind::InvalidInput,
            "not a regular file of at most 64 MiB",
        ));
    }
    let mut text = String::new();
    file.take(MAX_CONFIG_BYTES).read_to_string(&mut text)?;
    Ok(text)
}

/// Reads and checks a gateway config file (the engine's checks, then [`check_endpoints`]);
/// errors name the file and line.
pub fn load_config(path: &std::path::Path) -> Result<engine::Config, GatewayError> {
    let text = read_config(path).map_err(|cause| GatewayError::ReadConfig {
        path: path.to_owned(),
        cause,
    })?;
    let config = engine::Config::from_toml(&text).map_err(|cause| GatewayError::Config {
        path: path.to_owned(),
        line: cause.line_in(&text),
        cause: Box::new(cause),
    })?;
    check_endpoints(&config)?;
    Ok(config)
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

/// Reads the admin key from the environment variable `name` (`--admin-key-env`).
pub fn admin_key_from_env(name: &str) -> Result<String, GatewayError> {
    match std::env::var(name) {
        Ok(k) if !k.trim().is_empty() => Ok(k.trim().to_owned()),
        _ => Err(GatewayError::MissingAdminKey(name.to_owned())),
    }
}

/// Installs the `tracing` subscriber: human-readable lines on stderr, filtered by `RUST_LOG`
/// (default `info`). Does nothing if a subscriber is already installed.
pub fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
}

/// Runs the gateway until SIGTERM or Ctrl-C: loads the config, reads every API key variable,
/// listens and serves with the chosen [`Threading`].
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
        body_read_timeout: opts.body_read_timeout,
        header_read_timeout: opts.header_read_timeout,
        max_connections: opts.max_connections.unwrap_or_else(default_max_connections),
        config_path: Some(opts.config.clone()),
        admin_key: match &opts.admin_key_env {
            Some(name) => Some(admin_key_from_env(name)?),
            None => None,
        },
        speed: opts.speed,
    };
    let gateway = Gateway::from_env(config, settings)?;
    let workers = opts
        .worker_threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        .max(1);
    let bind_error = |cause| GatewayError::Bind {
        addr: opts.listen.clone(),
        cause,
    };
    let addr = std::net::ToSocketAddrs::to_socket_addrs(opts.listen.as_str())
        .map_err(bind_error)?
        .next()
        .ok_or_else(|| bind_error(std::io::Error::other("the address resolves to nothing")))?;
    let listeners = match opts.threading {
        Threading::PerCore => bind_reuseport(addr, workers),
        Threading::WorkStealing => bind_reuseport(addr, 1),
    }
    .map_err(bind_error)?;
    info!(
        addr = %listeners[0].local_addr()?,
        deployments = gateway.config().deployments.len(),
        tiers = gateway.config().tiers.len(),
        auth = !gateway.settings().gateway_keys.is_empty(),
        admin = gateway.settings().admin_key.is_some(),
        threading = ?opts.threading,
        workers,
        max_connections = gateway.settings().max_connections,
        "switchyard gateway listening"
    );
    match opts.threading {
        Threading::PerCore => run_per_core(gateway.clone(), listeners)?,
        Threading::WorkStealing => {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .thread_name("switchyard")
                .worker_threads(workers)
                .build()?;
            runtime.block_on(async {
                let listeners: Vec<TcpListener> = listeners
                    .into_iter()
                    .map(TcpListener::from_std)
                    .collect::<Result<_, _>>()?;
                let mut listeners = listeners.into_iter();
                let listener = listeners.next().ok_or_else(|| {
                    GatewayError::Io(std::io::Error::other("no listener was bound"))
                })?;
                tokio::spawn(reload_on_hangup(gateway.clone()));
                serve(listener, gateway.clone(), shutdown_signal()).await
            })?;
            runtime.shutdown_timeout(Duration::from_secs(1));
        }
    }
    gateway.flush_trace();
    Ok(())
}

/// How the gateway uses threads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Threading {
    /// One single-threaded event loop per worker, each with its own `SO_REUSEPORT` listener and
    /// its own upstream connection pools (nginx's model): a request never changes thread, so no
    /// cross-thread wake-ups. The engine is shared behind its mutex. The default.
    #[default]
    PerCore,
    /// One tokio multi-thread runtime with work stealing, one listener.
    WorkStealing,
}

impl std::str::FromStr for Threading {
    type Err = String;
    fn from_str(s: &str) -> Result<Threading, String> {
        match s {
            "per-core" => Ok(Threading::PerCore),
            "work-stealing" => Ok(Threading::WorkStealing),
            other => Err(format!(
                "unknown threading {other:?}: expected \"per-core\" or \"work-stealing\""
            )),
        }
    }
}

/// `n` listening sockets on one address with `SO_REUSEPORT` (port 0 resolves once, then all
/// share the port the first got), non-blocking, ready for `TcpListener::from_std`.
fn bind_reuseport(
    addr: std::net::SocketAddr,
    n: usize,
) -> std::io::Result<Vec<std::net::TcpListener>> {
    use socket2::{Domain, Protocol, Socket, Type};
    if n > 1 && addr.port() != 0 {
        // SO_REUSEPORT would let a second gateway share a port that is already taken: check
        // first that nobody listens there.
        drop(std::net::TcpListener::bind(addr)?);
    }
    let mut addr = addr;
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
        socket.set_reuse_address(true)?;
        #[cfg(unix)]
        socket.set_reuse_port(n > 1)?;
        socket.set_nonblocking(true)?;
        socket.bind(&addr.into())?;
        socket.listen(4096)?;
        let listener: std::net::TcpListener = socket.into();
        addr = listener.local_addr()?;
        out.push(listener);
    }
    Ok(out)
}

/// Runs one current-thread runtime per listener until SIGTERM/Ctrl-C (watched on this thread)
/// or until a worker fails.
fn run_per_core(
    gateway: Gateway,
    listeners: Vec<std::net::TcpListener>,
) -> Result<(), GatewayError> {
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let (exit_tx, mut exit_rx) = tokio::sync::mpsc::unbounded_channel::<Result<(), GatewayError>>();
    let mut threads = Vec::with_capacity(listeners.len());
    for (i, listener) in listeners.into_iter().enumerate() {
        let gateway = gateway.worker();
        let mut stop = stop_rx.clone();
        let exit = exit_tx.clone();
        let thread = std::thread::Builder::new()
            .name(format!("switchyard-{i}"))
            .spawn(move || {
                let result = (|| {
                    let runtime = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()?;
                    runtime.block_on(async move {
                        let listener = TcpListener::from_std(listener)?;
                        serve(listener, gateway, async move {
                            let _ = stop.wait_for(|s| *s).await;
                        })
                        .await
                    })
                })();
                let _ = exit.send(result);
            })?;
        threads.push(thread);
    }
    drop(exit_tx);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let early = runtime.block_on(async {
        tokio::spawn(reload_on_hangup(gateway.clone()));
        tokio::select! {
            () = shutdown_signal() => None,
            exited = exit_rx.recv() => exited,
        }
    });
    let _ = stop_tx.send(true);
    let mut result = match early {
        Some(Err(e)) => Err(e),
        Some(Ok(())) | None => Ok(()),
    };
    for t in threads {
        if t.join().is_err() && result.is_ok() {
            result = Err(GatewayError::Io(std::io::Error::other(
                "a worker thread panicked",
            )));
        }
    }
    while let Ok(r) = exit_rx.try_recv() {
        if result.is_ok() {
            result = r;
        }
    }
    result
}

/// Reloads the config on every SIGHUP, for as long as the runtime runs (see [`reload`]).
pub async fn reload_on_hangup(gateway: Gateway) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let Ok(mut hup) = signal(SignalKind::hangup()) else {
            tracing::warn!("cannot watch SIGHUP: reload only through POST /admin/reload");
            return;
        };
        while hup.recv().await.is_some() {
            info!("SIGHUP: reloading the config");
            let gw = gateway.clone();
            // Reading the file and building upstreams is blocking work.
            let _ = tokio::task::spawn_blocking(move || gw.reload()).await;
        }
    }
    #[cfg(not(unix))]
    drop(gateway);
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
