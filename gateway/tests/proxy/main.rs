//! End-to-end tests: the gateway in front of mock upstreams on 127.0.0.1.

#[path = "../common/mod.rs"]
mod common;
mod support;

mod api;
mod connections;
mod context_length;
mod failover;
mod routing;
mod streaming;
mod trace;
