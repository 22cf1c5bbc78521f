//! Anthropic's Messages shape (`POST /v1/messages`) of the mock's answers: the whole message,
//! its SSE events in Anthropic's order (`message_start`, `content_block_start`, `ping`,
//! `content_block_delta`…, `content_block_stop`, `message_delta`, `message_stop`), and the
//! error body `{"type":"error","error":{"type":…,"message":…}}`.
//!
//! Keys are written in Anthropic's order by hand (`serde_json::json!` would sort them).

use bytes::Bytes;
use http::StatusCode;

use super::answer::{quoted, Generation};

/// `stop_reason`: `max_tokens` when the request's `max_tokens` cut the answer.
fn stop_reason(g: &Generation) -> &'static str {
    if g.capped {
        "max_tokens"
    } else {
        "end_turn"
    }
}

/// `"id":…,"type":"message","role":"assistant","model":…`
fn head(g: &Generation) -> String {
    format!(
        r#""id":{},"type":"message","role":"assistant","model":{}"#,
        quoted(&g.id),
        quoted(&g.model)
    )
}

/// One SSE event: `event: NAME` and its `data:` line.
fn event(name: &str, data: &str) -> String {
    format!("event: {name}\ndata: {data}\n\n")
}

/// The whole (non-streamed) message.
pub(crate) fn message(g: &Generation) -> String {
    format!(
        r#"{{{},"content":[{{"type":"text","text":{}}}],"stop_reason":"{}","stop_sequence":null,"usage":{{"input_tokens":{},"output_tokens":{}}}}}"#,
        head(g),
        quoted(&g.text()),
        stop_reason(g),
        g.input_tokens,
        g.output_tokens
    )
}

/// `message_start` (usage so far: the input, one output token), `content_block_start` of the
/// text block, and a `ping`, as Anthropic sends them before the first delta.
pub(crate) fn opening_events(g: &Generation) -> String {
    let start = format!(
        r#"{{"type":"message_start","message":{{{},"content":[],"stop_reason":null,"stop_sequence":null,"usage":{{"input_tokens":{},"output_tokens":1}}}}}}"#,
        head(g),
        g.input_tokens
    );
    let block =
        r#"{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}"#;
    format!(
        "{}{}{}",
        event("message_start", &start),
        event("content_block_start", block),
        event("ping", r#"{"type":"ping"}"#)
    )
}

/// The `content_block_delta` carrying one token's text (already a JSON string literal).
pub(crate) fn token_event(text: &str) -> String {
    event(
        "content_block_delta",
        &format!(
            r#"{{"type":"content_block_delta","index":0,"delta":{{"type":"text_delta","text":{text}}}}}"#
        ),
    )
}

/// `content_block_stop`, `message_delta` with the stop reason and the output tokens, and
/// `message_stop`.
pub(crate) fn closing_events(g: &Generation) -> String {
    let delta = format!(
        r#"{{"type":"message_delta","delta":{{"stop_reason":"{}","stop_sequence":null}},"usage":{{"output_tokens":{}}}}}"#,
        stop_reason(g),
        g.output_tokens
    );
    format!(
        "{}{}{}",
        event(
            "content_block_stop",
            r#"{"type":"content_block_stop","index":0}"#
        ),
        event("message_delta", &delta),
        event("message_stop", r#"{"type":"message_stop"}"#)
    )
}

/// Anthropic's error type for a status: `rate_limit_error` (429), `overloaded_error` (529),
/// `api_error` (other 5xx), `invalid_request_error` (400 and other 4xx), and so on.
fn error_type(status: StatusCode) -> &'static str {
    match status.as_u16() {
        401 => "authentication_error",
        403 => "permission_error",
        404 => "not_found_error",
        413 => "request_too_large",
        429 => "rate_limit_error",
        529 => "overloaded_error",
        500..=599 => "api_error",
        _ => "invalid_request_error",
    }
}

/// `{"type":"error","error":{"type":…,"message":…}}` for `status`.
pub(crate) fn error_body(status: StatusCode, message: &str) -> Bytes {
    Bytes::from(format!(
        r#"{{"type":"error","error":{{"type":"{}","message":{}}}}}"#,
        error_type(status),
        quoted(message)
    ))
}
