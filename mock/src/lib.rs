//! switchyard's mock LLM providers, for tests and demos — kept out of the production crates.
//!
//! - [`upstream`] (re-exported at the root): [`MockUpstream`], a small scripted upstream on
//!   `127.0.0.1` speaking OpenAI's and Anthropic's shapes, told per request what to do
//!   ([`Behaviour`]: status, delay, pacing, cut streams); [`closed_port_url`] refuses
//!   connections.
//! - [`answers`]: its fixed answers and error bodies in each shape.
//! - [`provider`]: `switchyard mock-provider`, a real HTTP server that behaves like one modelled
//!   deployment of a scenario's world (latency, limits, errors, incidents), in OpenAI's or
//!   Anthropic's API. See `docs/mock-provider.md`.

#![warn(missing_docs)]

pub mod answers;
pub mod provider;
pub mod upstream;

pub use upstream::{
    closed_port_url, sse_events, Behaviour, MockStats, MockUpstream, CHAT_ANSWER, EMBEDDING_ANSWER,
};
