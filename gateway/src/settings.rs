//! The gateway's settings that do not come from the config file (command-line flags), and
//! their defaults.

use std::path::PathBuf;
use std::time::Duration;

/// Default request body limit: 4 MiB.
pub const DEFAULT_MAX_BODY_BYTES: usize = 4 * 1024 * 1024;
/// Default time in-flight requests get to finish after a shutdown signal.
pub const DEFAULT_SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(30);
/// Default time a client gets to send a whole request body, counted from its request head.
pub const DEFAULT_BODY_READ_TIMEOUT: Duration = Duration::from_secs(30);
/// Default time a client gets to send a request head (also the idle keep-alive limit).
pub const DEFAULT_HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);
/// Default cap on open client connections (see [`Settings::max_connections`]).
pub const DEFAULT_MAX_CONNECTIONS: usize = 4096;

/// Gateway settings that are not in the config file (they come from command-line flags).
#[derive(Clone)]
pub struct Settings {
    /// Client keys accepted as `Authorization: Bearer …`; empty = no authentication.
    pub gateway_keys: Vec<String>,
    /// Largest accepted request body (413 above).
    pub max_body_bytes: usize,
    /// Seed of the engine's random choices.
    pub seed: u64,
    /// Where to write the per-attempt trace CSV, if anywhere.
    pub trace_out: Option<PathBuf>,
    /// How long in-flight requests may run on after a shutdown signal.
    pub shutdown_timeout: Duration,
    /// Time a client gets to send a whole request body after its head; a body still unfinished
    /// then is answered 408 (`request_timeout`) and the connection closed.
    pub body_read_timeout: Duration,
    /// Time a client gets to send a request head, and how long an idle keep-alive connection
    /// stays open; hyper closes the connection when it passes.
    pub header_read_timeout: Duration,
    /// Largest number of client connections open at once (all workers together). Further
    /// connections are not accepted until one closes: they wait in the listen backlog.
    pub max_connections: usize,
    /// The config file that SIGHUP and `POST /admin/reload` re-read; `None`: reload refused.
    pub config_path: Option<PathBuf>,
    /// Key of the admin endpoints (`/admin/*`, `Authorization: Bearer …`); `None`: they
    /// answer 404, as if they did not exist.
    pub admin_key: Option<String>,
    /// Run N times faster than the config's modelled time (`serve --speed N`): engine time is
    /// real time × N, and every duration of the config is compressed at once (see
    /// `docs/gateway.md`, "Speeding a run up"). 1 = real time; from 0.001 to 10,000.
    pub speed: f64,
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field(
                "gateway_keys",
                &format_args!("<{} redacted>", self.gateway_keys.len()),
            )
            .field("max_body_bytes", &self.max_body_bytes)
            .field("seed", &self.seed)
            .field("trace_out", &self.trace_out)
            .field("shutdown_timeout", &self.shutdown_timeout)
            .field("body_read_timeout", &self.body_read_timeout)
            .field("header_read_timeout", &self.header_read_timeout)
            .field("max_connections", &self.max_connections)
            .field("config_path", &self.config_path)
            .field("admin_key", &self.admin_key.as_ref().map(|_| "<redacted>"))
            .field("speed", &self.speed)
            .finish()
    }
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            gateway_keys: Vec::new(),
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            seed: 0,
            trace_out: None,
            shutdown_timeout: DEFAULT_SHUTDOWN_TIMEOUT,
            body_read_timeout: DEFAULT_BODY_READ_TIMEOUT,
            header_read_timeout: DEFAULT_HEADER_READ_TIMEOUT,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            config_path: None,
            admin_key: None,
            speed: 1.0,
        }
    }
}
