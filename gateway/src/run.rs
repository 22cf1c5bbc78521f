//! `switchyard serve`'s main loop: load everything, bind the listeners, and serve with the
//! chosen [`Threading`] until SIGTERM/Ctrl-C.

use std::time::Duration;

use tokio::net::TcpListener;
use tracing::info;

use crate::config_file::{admin_key_from_env, gateway_keys_from_env, load_config};
use crate::error::GatewayError;
use crate::options::{default_max_connections, ServeOptions, Threading};
use crate::server::serve;
use crate::settings::Settings;
use crate::signals::{reload_on_hangup, shutdown_signal};
use crate::state::Gateway;

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
