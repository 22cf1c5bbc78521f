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
mod config_file;
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
mod options;
pub mod protocol;
mod proxy;
mod relay;
pub mod reload;
pub mod request;
mod respond;
mod run;
mod server;
pub mod session;
mod settings;
mod signals;
mod startup;
mod state;
pub mod trace;
mod translate;
mod upstream;
mod usage;

pub use attempt::says_context_length_exceeded;
pub use body::Body;
pub use config_file::{admin_key_from_env, gateway_keys_from_env, load_config};
pub use error::{ApiError, GatewayError};
pub use options::{default_max_connections, ServeOptions, Threading, DEFAULT_LISTEN};
pub use proxy::{DEPLOYMENT_HEADER, TIER_HEADER};
pub use run::{init_logging, run};
pub use server::serve;
pub use settings::{
    Settings, DEFAULT_BODY_READ_TIMEOUT, DEFAULT_HEADER_READ_TIMEOUT, DEFAULT_MAX_BODY_BYTES,
    DEFAULT_MAX_CONNECTIONS, DEFAULT_SHUTDOWN_TIMEOUT,
};
pub use signals::{reload_on_hangup, shutdown_signal};
pub use state::Gateway;
pub use upstream::check_endpoints;
pub use usage::{usage_of, UsageScanner};
