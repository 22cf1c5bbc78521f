//! switchyard's engine: the pure, deterministic core that routes LLM requests to a model tier,
//! balances them across the tier's deployments (provider × model × API key) and falls back when
//! an attempt fails.
//!
//! It is a sans-I/O state machine in the manner of `quinn-proto`: no sockets, files, threads or
//! clock reads. Drivers (the simulator, the HTTP gateway) pass `now` into every call and carry
//! out the [`Step`]s it returns. Same [`Config`], seed and calls ⇒ same steps.
//!
//! ```
//! use std::time::Duration;
//! use engine::{Config, Engine, Outcome, Request, Step};
//!
//! let config = Config::from_toml(r#"
//!     [[tier]]
//!     name = "standard"
//!     strategy = "weighted-round-robin"
//!
//!     [[deployment]]
//!     id = "openai-key1"
//!     provider = "openai"
//!     model = "gpt-4o-mini"
//!     tier = "standard"
//!     rpm = 500
//! "#).unwrap();
//! let mut engine = Engine::new(config, 7);
//! let tier = engine.route("standard").unwrap();
//! let now = Duration::ZERO;
//! let step = engine.start(Request { tier, input_tokens: 100, output_tokens: 50 }, now);
//! let Step::Send { request, .. } = step else { panic!() };
//! let done = engine.finish(request, &Outcome::success(Duration::from_millis(80), 100, 42), now);
//! assert_eq!(done, Step::Done { request });
//! ```

pub mod affinity;
pub mod clients;
pub mod cluster;
pub mod config;
mod engine;
pub mod error;
mod fastmath;
pub mod health;
mod ids;
pub mod latency;
pub mod limits;
pub mod metrics;
mod outcome;
pub mod spend;
pub mod state;
mod step;
pub mod strategy;

pub use clients::{ClientLimit, ClientRefusal};
pub use config::Config;
pub use engine::{Engine, HedgeStats, Hedged, Reconfigured};
pub use error::ConfigError;
pub use ids::{ClientId, DeploymentId, RequestId, TierId};
pub use metrics::{Metrics, Snapshot};
pub use outcome::{FailureKind, LimitHeaders, Outcome};
pub use step::{FailReason, Request, Step};
pub use strategy::StrategyKind;
