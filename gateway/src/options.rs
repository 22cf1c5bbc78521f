//! The options of `switchyard serve` and their defaults: listen address, threading model,
//! connection cap.

use std::path::PathBuf;
use std::time::Duration;

use crate::settings::{
    DEFAULT_BODY_READ_TIMEOUT, DEFAULT_HEADER_READ_TIMEOUT, DEFAULT_MAX_BODY_BYTES,
    DEFAULT_MAX_CONNECTIONS, DEFAULT_SHUTDOWN_TIMEOUT,
};

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
    /// Run N times faster than the config's modelled time ([`crate::Settings::speed`]).
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
