//! The mock's error answers, in the provider's API shape: OpenAI's
//! `{"error":{"message","type","param","code"}}` or Anthropic's
//! `{"type":"error","error":{"type","message"}}` ([`super::anthropic::error_body`]), with the
//! status each provider uses for each modelled failure.

use bytes::Bytes;
use engine::config::Api;
use http::header::{self, HeaderValue};
use http::{Response, StatusCode};

use super::answer::{quoted, MockBody};
use super::anthropic;

/// OpenAI's error shape, keys in OpenAI's order; the `type` follows the status (`requests` for
/// a 429, as OpenAI writes it).
fn openai_body(status: StatusCode, message: &str, code: &str) -> Bytes {
    let kind = match status.as_u16() {
        429 => "requests",
        500..=599 => "server_error",
        _ => "invalid_request_error",
    };
    Bytes::from(format!(
        r#"{{"error":{{"message":{},"type":{},"param":null,"code":{}}}}}"#,
        quoted(message),
        quoted(kind),
        quoted(code)
    ))
}

/// Marks a response as JSON.
pub(crate) fn json_type(res: &mut Response<MockBody>) {
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
}

/// An error answer in `api`'s shape; `code` is OpenAI's machine-readable code (Anthropic's
/// error type follows from the status).
pub(crate) fn error(api: Api, status: StatusCode, message: &str, code: &str) -> Response<MockBody> {
    let body = match api {
        Api::OpenAi => openai_body(status, message, code),
        Api::Anthropic => anthropic::error_body(status, message),
    };
    let mut res = Response::new(MockBody::full(body));
    *res.status_mut() = status;
    json_type(&mut res);
    res
}

/// A modelled outage (`mode = "503"`): OpenAI's 503, Anthropic's 529 `overloaded_error`.
pub(crate) fn outage(api: Api) -> Response<MockBody> {
    match api {
        Api::OpenAi => error(
            api,
            StatusCode::SERVICE_UNAVAILABLE,
            "the mock provider is in a modelled outage",
            "service_unavailable",
        ),
        Api::Anthropic => error(
            api,
            overloaded(),
            "Overloaded (a modelled outage of switchyard mock-provider)",
            "overloaded",
        ),
    }
}

/// Anthropic's 529 (not a registered HTTP status, but a valid code).
fn overloaded() -> StatusCode {
    StatusCode::from_u16(529).unwrap_or(StatusCode::SERVICE_UNAVAILABLE)
}

/// Over the true rate limits: 429 (`rate_limit_exceeded`, Anthropic's `rate_limit_error`).
pub(crate) fn rate_limited(api: Api) -> Response<MockBody> {
    let message = match api {
        Api::OpenAi => "Rate limit reached for requests (modelled by switchyard mock-provider). Please try again later.",
        Api::Anthropic => "This request would exceed your rate limit (modelled by switchyard mock-provider). Please try again later.",
    };
    error(
        api,
        StatusCode::TOO_MANY_REQUESTS,
        message,
        "rate_limit_exceeded",
    )
}

/// Input + max_tokens (`tokens`) above the context `window`: 400 in each provider's words
/// (OpenAI's `context_length_exceeded`, Anthropic's "prompt is too long").
pub(crate) fn context_length(api: Api, tokens: u64, window: u64) -> Response<MockBody> {
    let message = match api {
        Api::OpenAi => format!(
            "This model's maximum context length is {window} tokens. However, you requested {tokens} tokens (modelled). Please reduce the length of the messages or completion."
        ),
        Api::Anthropic => format!("prompt is too long: {tokens} tokens > {window} maximum"),
    };
    error(
        api,
        StatusCode::BAD_REQUEST,
        &message,
        "context_length_exceeded",
    )
}

/// The error-rate draw: 500 (`server_error`, Anthropic's `api_error`).
pub(crate) fn server_error(api: Api) -> Response<MockBody> {
    error(
        api,
        StatusCode::INTERNAL_SERVER_ERROR,
        "The server had an error while processing your request (modelled).",
        "server_error",
    )
}
