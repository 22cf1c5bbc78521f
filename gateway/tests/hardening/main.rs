//! Connection-level hardening: unfinished bodies and heads time out, the connection cap holds,
//! hyper's own rejections carry OpenAI error bodies, streams count as in flight until they end,
//! and hostile input always gets a well-formed answer.

#[path = "../common/mod.rs"]
mod common;
mod support;

mod connections;
mod hostile_input;
mod rejections;
mod timeouts;
