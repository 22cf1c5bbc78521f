//! The OpenAI Responses API shape (`POST /v1/responses`), translated to and from the
//! shape-neutral form in [`super::canonical`].
//!
//! The pieces follow the table in [`super`]: [`parse_request`]/[`render_request`],
//! [`parse_response`]/[`render_response`], the stream [`Decoder`] (`Decoder::new()`) and
//! [`Encoder`] (`Encoder::new(model)`, the model name the client sees), and
//! [`error_body`]/[`stream_error`].
//!
//! # What is translated, ignored or refused
//!
//! Requests are stateless chat turns: `model`, `instructions`, `input` (a string, or
//! `message`, `function_call` and `function_call_output` items), `max_output_tokens`,
//! `temperature`, `top_p`, `stream`, function `tools`, `tool_choice` and `user`.
//!
//! Refused with [`Untranslatable`](super::canonical::Untranslatable) naming the field (answered
//! 400, never dropped silently), because they need server-side state or a feature other shapes
//! lack: `previous_response_id`, `conversation`, `background: true`, `prompt`, a non-empty
//! `include`, `text.format` other than `text`, `truncation` other than `disabled`,
//! `top_logprobs`, `max_tool_calls`, built-in tools (`web_search_preview`, `file_search`,
//! `computer_use_preview`, `mcp`, …; field `tools[i].type`) and tool choices naming them
//! (`tool_choice.type`), input items other than messages and function calls/outputs (e.g.
//! `reasoning`, `item_reference`; field `input[i].type`), `input_file` and audio parts, images
//! by `file_id`, non-text tool output, and unknown top-level fields (unknown fields inside items,
//! parts and tools are ignored).
//!
//! Accepted and ignored (documented normalisation): `store` (the gateway keeps nothing, so
//! storing is moot; rendered requests send `store: false`), `reasoning` (effort is a hint the
//! deployment's own default replaces; no reasoning items are ever produced — refusing it would
//! turn away every reasoning-aware client), `metadata`, `parallel_tool_calls`, `service_tier`,
//! `stream_options`, `prompt_cache_key`, `prompt_cache_retention`, `text.verbosity`, a tool's `strict`, an image's
//! `detail`, the `id`/`status` of replayed items. `safety_identifier` becomes `user` when
//! `user` is absent. A `null` value is the same as an absent field.
//!
//! Further normalisation a caller should know: consecutive input items of the same role are
//! merged into one turn (a `message` followed by `function_call`s is one assistant turn;
//! `function_call_output`s and a following user message are one user turn);
//! `system`/`developer` messages are moved into the system prompt after `instructions`, joined
//! with blank lines (parts of one message are concatenated); `data:` image URLs become inline
//! base64 images; `refusal` parts become text (and a refused answer finishes with
//! `ContentFilter`); tool results carry no error flag in this shape (`is_error` is not
//! rendered and parses as `false`); function-call item ids (`fc_…`) are dropped, `call_id` is
//! the call's id. A tool without `parameters` gets the empty object schema. Rendering raises a
//! `max_tokens` of 1 to 15 to 16, the least the Responses API accepts (so a `max_tokens: 1`
//! probe may get up to 16 tokens).
//!
//! Answers: `created_at` is 0, item ids are derived from the answer's id (`msg_<id>_<n>`,
//! `fc_<id>_<n>`, a leading `resp_` dropped) identically in [`render_response`] and the
//! [`Encoder`]; the answer's id is passed through as is (not forced to `resp_…`). Adjacent text
//! is one message item; `cache_write_tokens` cannot be said (this shape counts only cached
//! reads) and parses as 0.

mod decoder;
mod encoder;
mod render;
mod request;
mod response;
#[cfg(test)]
mod tests;

pub use decoder::Decoder;
pub use encoder::Encoder;
pub use render::render_request;
pub use request::parse_request;
pub use response::{parse_response, render_response};

use super::ErrorKind;

/// The `type` and `code` of an OpenAI error of this kind.
fn error_kind(kind: ErrorKind) -> (&'static str, &'static str) {
    match kind {
        ErrorKind::InvalidRequest => ("invalid_request_error", "invalid_request"),
        ErrorKind::Authentication => ("invalid_request_error", "invalid_api_key"),
        ErrorKind::NotFound => ("invalid_request_error", "model_not_found"),
        ErrorKind::RateLimit => ("rate_limit_error", "rate_limit_exceeded"),
        ErrorKind::Api => ("upstream_error", "upstream_error"),
        ErrorKind::Overloaded => ("server_error", "overloaded"),
    }
}

/// An OpenAI error document: `{"error":{"message":…,"type":…,"code":…}}`.
pub fn error_body(kind: ErrorKind, message: &str) -> Vec<u8> {
    let (kind, code) = error_kind(kind);
    crate::error::error_json(message, kind, code).into_bytes()
}

/// One Responses-stream `error` event (`event: error`, data
/// `{"type":"error","code":…,"message":…,"param":null,"sequence_number":0}`), for a stream that
/// fails before or outside an [`Encoder`].
pub fn stream_error(message: &str) -> Vec<u8> {
    let mut out = Vec::new();
    encoder::write_error(&mut out, message, 0);
    out
}
