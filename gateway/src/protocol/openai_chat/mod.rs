//! OpenAI chat completions (`POST /v1/chat/completions`): requests, answers, streams and errors
//! translated to and from the [canonical](super::canonical) form.
//!
//! What a caller must know about the translation (all of it is covered by tests):
//!
//! * `system` and `developer` messages are hoisted, wherever they stood, into
//!   [`ChatRequest::system`], joined by blank lines; a message's text parts are concatenated.
//! * Consecutive `tool` messages become one user turn of [`Part::ToolResult`]s; rendering splits
//!   a user turn back into `tool` messages (one per result) and `user` messages (runs of other
//!   parts). OpenAI has no error flag on tool results: `is_error` is dropped when rendering.
//! * An assistant message's text comes before its `tool_calls` (OpenAI cannot interleave them);
//!   a `refusal` is read as text.
//! * `max_completion_tokens` wins over `max_tokens` when both are given; rendering writes
//!   `max_completion_tokens` (OpenAI's current name).
//! * Refused with [`Untranslatable`] naming the field: `n` other than 1, `logprobs`,
//!   `top_logprobs`, `audio`, `modalities` other than text, `response_format` other than text,
//!   non-zero `frequency_penalty`/`presence_penalty`, a non-empty `logit_bias`,
//!   `reasoning_effort`, `verbosity`, `web_search_options`, `functions`, `function_call`,
//!   `parallel_tool_calls: false`, non-function tools or tool choices, `input_audio`/`file`
//!   parts, assistant `audio`, `data:` image URLs that are not base64.
//! * Ignored (no effect on what the model says): `stream_options`, `store`, `metadata`, `seed`,
//!   `service_tier`, `prompt_cache_key`, `safety_identifier`, `prediction`, a function's
//!   `strict`, an image's `detail`, a message's `name`, and fields this module does not know.
//! * Answers: the text parts are joined into one `content` string; `created` is always 0;
//!   OpenAI reports no cache writes, so [`Usage::cache_write_tokens`] is lost (reads are
//!   `prompt_tokens_details.cached_tokens`, and `prompt_tokens` includes cached tokens).
//! * Streams: the [`Encoder`] holds the last [`StreamEvent::Usage`] and writes it as one
//!   usage chunk (`choices: []`) just before `data: [DONE]`, as OpenAI does with
//!   `stream_options.include_usage`; the [`Decoder`] reports a stream that ends without
//!   `[DONE]` as an [`StreamEvent::Error`].

mod render;
mod request;
mod response;
mod stream;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_answer;

pub use render::render_request;
pub use request::parse_request;
pub use response::{parse_response, render_response};
pub use stream::{Decoder, Encoder};

use serde_json::{json, Value};

use super::canonical::Usage;
#[cfg(doc)]
use super::canonical::{ChatRequest, Part, StreamEvent, Untranslatable};
use super::ErrorKind;

/// Whether a client's request body asks for usage in its stream
/// (`stream_options.include_usage`), for [`Encoder::new`]; `false` for anything unreadable.
pub fn include_usage(body: &[u8]) -> bool {
    serde_json::from_slice::<Value>(body)
        .is_ok_and(|v| v["stream_options"]["include_usage"] == Value::Bool(true))
}

/// An error answer in OpenAI's shape: `{"error":{"message","type","code"}}`, with the same
/// vocabulary the gateway uses elsewhere (a bad key is `invalid_request_error` /
/// `invalid_api_key`, as OpenAI answers it).
pub fn error_body(kind: ErrorKind, message: &str) -> Vec<u8> {
    let (kind, code) = match kind {
        ErrorKind::InvalidRequest => ("invalid_request_error", "invalid_request"),
        ErrorKind::Authentication => ("invalid_request_error", "invalid_api_key"),
        ErrorKind::NotFound => ("invalid_request_error", "model_not_found"),
        ErrorKind::RateLimit => ("rate_limit_error", "rate_limit_exceeded"),
        ErrorKind::Api => ("upstream_error", "upstream_server_error"),
        ErrorKind::Overloaded => ("server_error", "overloaded"),
    };
    json!({"error": {"message": message, "type": kind, "code": code}})
        .to_string()
        .into_bytes()
}

/// One SSE event reporting an error inside a stream:
/// `data: {"error":{"message":…,"type":"upstream_error","code":"stream_interrupted"}}`.
pub fn stream_error(message: &str) -> Vec<u8> {
    let data = json!({"error": {"message": message, "type": "upstream_error", "code": "stream_interrupted"}});
    let mut out = Vec::new();
    super::sse::write_event(&mut out, "", &data.to_string());
    out
}

/// OpenAI's `usage` object.
fn usage_json(u: &Usage) -> Value {
    json!({
        "prompt_tokens": u.input_tokens,
        "completion_tokens": u.output_tokens,
        "total_tokens": u.input_tokens.saturating_add(u.output_tokens),
        "prompt_tokens_details": {"cached_tokens": u.cache_read_tokens},
    })
}

/// Reads OpenAI's `usage` object (absent numbers count 0).
fn parse_usage(v: &Value) -> Usage {
    let n = |v: &Value| v.as_u64().map_or(0, |n| n.min(u64::from(u32::MAX)) as u32);
    Usage {
        input_tokens: n(&v["prompt_tokens"]),
        output_tokens: n(&v["completion_tokens"]),
        cache_read_tokens: n(&v["prompt_tokens_details"]["cached_tokens"]),
        cache_write_tokens: 0,
    }
}

/// OpenAI's `finish_reason` for a canonical one.
fn finish_name(f: super::canonical::FinishReason) -> &'static str {
    use super::canonical::FinishReason as F;
    match f {
        F::Stop => "stop",
        F::Length => "length",
        F::ToolCalls => "tool_calls",
        F::ContentFilter => "content_filter",
    }
}

/// The canonical reason for OpenAI's `finish_reason` (unknown ones are `None`).
fn parse_finish(v: &Value) -> Option<super::canonical::FinishReason> {
    use super::canonical::FinishReason as F;
    match v.as_str()? {
        "stop" => Some(F::Stop),
        "length" => Some(F::Length),
        "tool_calls" | "function_call" => Some(F::ToolCalls),
        "content_filter" => Some(F::ContentFilter),
        _ => None,
    }
}
