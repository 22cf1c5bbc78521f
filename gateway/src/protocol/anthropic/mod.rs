//! Anthropic Messages (`POST /v1/messages`, API version 2023-06-01): requests, answers, streams
//! and errors translated to and from the [canonical](super::canonical) form.
//!
//! What a caller must know about the translation (all of it is covered by tests):
//!
//! * `system` text blocks are joined by blank lines; `tool_result` text blocks are concatenated.
//! * A `tool_use` block's `input` object becomes the call's arguments serialised as compact
//!   JSON; rendering needs arguments that are a JSON object (empty arguments are `{}`), anything
//!   else is [`Untranslatable`].
//! * Rendering merges consecutive turns of the same role (Anthropic requires alternation), drops
//!   empty text parts from turns that hold anything else (Anthropic refuses empty text blocks;
//!   e.g. OpenAI's `"content": ""` beside `tool_calls`), and writes `max_tokens` as
//!   [`DEFAULT_MAX_TOKENS`] when the request has none; `top_p: 1` (no truncation) is left out,
//!   as recent Claude models refuse `top_p` beside `temperature`; a `temperature` above 1 is
//!   [`Untranslatable`] (Anthropic's range is 0 to 1).
//! * Canonical [`Usage::input_tokens`] includes cache reads and writes, Anthropic's
//!   `input_tokens` excludes them: both directions convert.
//! * `stop_reason`: `end_turn`, `stop_sequence` and `pause_turn` read as
//!   [`FinishReason::Stop`] (rendered `end_turn`), `max_tokens` and
//!   `model_context_window_exceeded` as [`FinishReason::Length`], `tool_use` as
//!   [`FinishReason::ToolCalls`], `refusal` as [`FinishReason::ContentFilter`].
//! * Refused with [`Untranslatable`] naming the field: `thinking` (unless disabled), `top_k`,
//!   `container`, `mcp_servers`, `context_management`, `output_format`, server tools (a tool
//!   with a `type` other than `custom`), `tool_choice.disable_parallel_tool_use`, and content
//!   blocks other than text, image (base64 or url), `tool_use` (assistant turns) and
//!   `tool_result` (user turns, text only) — e.g. `document`, `thinking`, `server_tool_use`.
//! * Ignored (no effect on what the model says): every `cache_control`, a text block's
//!   `citations`, `service_tier`, and fields this module does not know.
//! * Streams: the [`Encoder`] writes `message_start` when the answer starts (with the usage
//!   known then, usually none) and the full usage (input, cache and output) in `message_delta`
//!   at the end; the [`Decoder`] reports usage after `message_start` and again after
//!   `message_delta` (the last one holds), gives a tool call that streamed no arguments the
//!   arguments `{}`, and reports a stream that ends without `message_stop` as
//!   [`StreamEvent::Error`].

mod render;
mod request;
mod response;
mod stream;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_answer;

pub use render::{render_request, DEFAULT_MAX_TOKENS};
pub use request::parse_request;
pub use response::{parse_response, render_response};
pub use stream::{Decoder, Encoder};

use serde_json::{json, Value};

use super::canonical::{FinishReason, Usage};
#[cfg(doc)]
use super::canonical::{StreamEvent, Untranslatable};
use super::ErrorKind;

/// An error answer in Anthropic's shape:
/// `{"type":"error","error":{"type":"invalid_request_error"|…,"message":…}}`.
pub fn error_body(kind: ErrorKind, message: &str) -> Vec<u8> {
    error_json(kind, message).to_string().into_bytes()
}

/// One `event: error` reporting an error inside a stream (`api_error`).
pub fn stream_error(message: &str) -> Vec<u8> {
    let mut out = Vec::new();
    super::sse::write_event(
        &mut out,
        "error",
        &error_json(ErrorKind::Api, message).to_string(),
    );
    out
}

fn error_json(kind: ErrorKind, message: &str) -> Value {
    let kind = match kind {
        ErrorKind::InvalidRequest => "invalid_request_error",
        ErrorKind::Authentication => "authentication_error",
        ErrorKind::NotFound => "not_found_error",
        ErrorKind::RateLimit => "rate_limit_error",
        ErrorKind::Api => "api_error",
        ErrorKind::Overloaded => "overloaded_error",
    };
    json!({"type": "error", "error": {"type": kind, "message": message}})
}

/// Anthropic's `stop_reason` for a canonical one.
fn stop_name(f: FinishReason) -> &'static str {
    match f {
        FinishReason::Stop => "end_turn",
        FinishReason::Length => "max_tokens",
        FinishReason::ToolCalls => "tool_use",
        FinishReason::ContentFilter => "refusal",
    }
}

/// The canonical reason for Anthropic's `stop_reason` (unknown ones are `None`).
fn parse_stop(v: &Value) -> Option<FinishReason> {
    match v.as_str()? {
        "end_turn" | "stop_sequence" | "pause_turn" => Some(FinishReason::Stop),
        "max_tokens" | "model_context_window_exceeded" => Some(FinishReason::Length),
        "tool_use" => Some(FinishReason::ToolCalls),
        "refusal" => Some(FinishReason::ContentFilter),
        _ => None,
    }
}

/// A count from a JSON number (absent or negative is 0, too large is `u32::MAX`).
fn count(v: &Value) -> u32 {
    v.as_u64().map_or(0, |n| n.min(u64::from(u32::MAX)) as u32)
}

/// Reads Anthropic's `usage` (its `input_tokens` excludes cache reads and writes).
fn parse_usage(v: &Value) -> Usage {
    let read = count(&v["cache_read_input_tokens"]);
    let write = count(&v["cache_creation_input_tokens"]);
    Usage {
        input_tokens: count(&v["input_tokens"])
            .saturating_add(read)
            .saturating_add(write),
        output_tokens: count(&v["output_tokens"]),
        cache_read_tokens: read,
        cache_write_tokens: write,
    }
}

/// Anthropic's `usage` for a canonical one.
fn usage_json(u: &Usage) -> Value {
    json!({
        "input_tokens": u.input_tokens
            .saturating_sub(u.cache_read_tokens)
            .saturating_sub(u.cache_write_tokens),
        "output_tokens": u.output_tokens,
        "cache_read_input_tokens": u.cache_read_tokens,
        "cache_creation_input_tokens": u.cache_write_tokens,
    })
}
