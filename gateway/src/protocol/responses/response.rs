//! Whole answers: a Responses API `response` object to and from a [`ChatResponse`].

use serde_json::{json, Value};

use crate::protocol::canonical::{ChatResponse, FinishReason, Part, Usage};

/// Parses a `response` object. A `failed` response, or one carrying an `error`, is `Err` with
/// its message. Text of adjacent `output_text`/`refusal` parts and message items is joined into
/// one text part, and empty text is dropped; items other than messages and function calls
/// (e.g. `reasoning`) are skipped. `cache_write_tokens` is always 0 (this shape does not count
/// cache writes).
pub fn parse_response(body: &[u8]) -> Result<ChatResponse, String> {
    let v: Value = serde_json::from_slice(body).map_err(|e| format!("not a JSON response: {e}"))?;
    response_from_value(&v)
}

/// [`parse_response`] on a parsed value.
fn response_from_value(v: &Value) -> Result<ChatResponse, String> {
    if !v.is_object() {
        return Err("the response is not a JSON object".into());
    }
    let status = v.get("status").and_then(Value::as_str).unwrap_or("");
    if status == "failed" || v.get("error").is_some_and(|e| !e.is_null()) {
        return Err(failure_message(v));
    }
    let text = |key: &str| v.get(key).and_then(Value::as_str).unwrap_or("").to_owned();
    let mut content = Vec::new();
    let mut refused = false;
    for item in v
        .get("output")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        match item.get("type").and_then(Value::as_str) {
            Some("message") => {
                let parts = item.get("content").and_then(Value::as_array);
                for part in parts.into_iter().flatten() {
                    let key = match part.get("type").and_then(Value::as_str) {
                        Some("output_text") => "text",
                        Some("refusal") => {
                            refused = true;
                            "refusal"
                        }
                        _ => continue,
                    };
                    if let Some(t) = part.get(key).and_then(Value::as_str) {
                        push_text(&mut content, t);
                    }
                }
            }
            Some("function_call") => {
                let field = |key: &str| {
                    item.get(key)
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_owned()
                };
                content.push(Part::ToolCall {
                    id: field("call_id"),
                    name: field("name"),
                    arguments: field("arguments"),
                });
            }
            _ => {}
        }
    }
    let tool_calls = content.iter().any(|p| matches!(p, Part::ToolCall { .. }));
    Ok(ChatResponse {
        id: text("id"),
        model: text("model"),
        finish: finish_of(status, incomplete_reason(v), tool_calls, refused),
        usage: v.get("usage").map(usage_from).unwrap_or_default(),
        content,
    })
}

/// A failed response's (or an `error` event's) message.
pub(super) fn failure_message(v: &Value) -> String {
    let error = v.get("error").filter(|e| !e.is_null()).unwrap_or(v);
    match error.get("message").and_then(Value::as_str) {
        Some(m) => m.to_owned(),
        None => "the upstream response failed".to_owned(),
    }
}

/// `incomplete_details.reason`, if any.
pub(super) fn incomplete_reason(v: &Value) -> Option<&str> {
    v.get("incomplete_details")?.get("reason")?.as_str()
}

/// Appends text, joining it to a text part just before; empty text is dropped.
pub(super) fn push_text(content: &mut Vec<Part>, t: &str) {
    if t.is_empty() {
        return;
    }
    match content.last_mut() {
        Some(Part::Text(s)) => s.push_str(t),
        _ => content.push(Part::Text(t.to_owned())),
    }
}

/// Why an answer with this status stopped: `completed` is `ToolCalls` when it called tools,
/// `ContentFilter` when it refused, else `Stop`; `incomplete` is `Length` for
/// `max_output_tokens` and `ContentFilter` for `content_filter`.
pub(super) fn finish_of(
    status: &str,
    reason: Option<&str>,
    tool_calls: bool,
    refused: bool,
) -> Option<FinishReason> {
    match (status, reason) {
        ("completed", _) if tool_calls => Some(FinishReason::ToolCalls),
        ("completed", _) if refused => Some(FinishReason::ContentFilter),
        ("completed", _) => Some(FinishReason::Stop),
        ("incomplete", Some("max_output_tokens")) => Some(FinishReason::Length),
        ("incomplete", Some("content_filter")) => Some(FinishReason::ContentFilter),
        _ => None,
    }
}

/// A `usage` object's counts (missing numbers are 0; numbers past `u32::MAX` saturate).
pub(super) fn usage_from(u: &Value) -> Usage {
    let n = |v: Option<&Value>| {
        v.and_then(Value::as_u64)
            .map_or(0, |n| u32::try_from(n).unwrap_or(u32::MAX))
    };
    Usage {
        input_tokens: n(u.get("input_tokens")),
        output_tokens: n(u.get("output_tokens")),
        cache_read_tokens: n(u.pointer("/input_tokens_details/cached_tokens")),
        cache_write_tokens: 0,
    }
}

fn usage_value(u: &Usage) -> Value {
    json!({
        "input_tokens": u.input_tokens,
        "input_tokens_details": {"cached_tokens": u.cache_read_tokens},
        "output_tokens": u.output_tokens,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": u64::from(u.input_tokens) + u64::from(u.output_tokens),
    })
}

/// The id of output item `index` of answer `response_id`: `msg_…` for messages, `fc_…` for
/// function calls. Deterministic, so the stream encoder and [`render_response`] agree.
pub(super) fn item_id(prefix: &str, response_id: &str, index: usize) -> String {
    let base = response_id.strip_prefix("resp_").unwrap_or(response_id);
    format!("{prefix}_{base}_{index}")
}

/// A finished message item holding `text`.
pub(super) fn message_item(id: &str, text: &str) -> Value {
    json!({
        "type": "message",
        "id": id,
        "status": "completed",
        "role": "assistant",
        "content": [{"type": "output_text", "text": text, "annotations": []}],
    })
}

/// A function call item.
pub(super) fn call_item(
    id: &str,
    call_id: &str,
    name: &str,
    arguments: &str,
    status: &str,
) -> Value {
    json!({
        "type": "function_call",
        "id": id,
        "status": status,
        "call_id": call_id,
        "name": name,
        "arguments": arguments,
    })
}

/// `status` and `incomplete_details` for a finish reason.
fn status_of(finish: Option<FinishReason>) -> (&'static str, Value) {
    match finish {
        Some(FinishReason::Length) => ("incomplete", json!({"reason": "max_output_tokens"})),
        Some(FinishReason::ContentFilter) => ("incomplete", json!({"reason": "content_filter"})),
        _ => ("completed", Value::Null),
    }
}

/// The `response` object for an answer, with `model` as its model. Also used for the stream's
/// last event.
pub(super) fn response_value(resp: &ChatResponse, model: &str) -> Value {
    let mut output = Vec::new();
    let mut text: Option<String> = None;
    let flush = |text: &mut Option<String>, output: &mut Vec<Value>| {
        if let Some(t) = text.take() {
            let id = item_id("msg", &resp.id, output.len());
            output.push(message_item(&id, &t));
        }
    };
    for part in &resp.content {
        match part {
            Part::Text(t) => text.get_or_insert_with(String::new).push_str(t),
            Part::ToolCall {
                id,
                name,
                arguments,
            } => {
                flush(&mut text, &mut output);
                let item = item_id("fc", &resp.id, output.len());
                output.push(call_item(&item, id, name, arguments, "completed"));
            }
            Part::Image(_) | Part::ToolResult { .. } => {}
        }
    }
    flush(&mut text, &mut output);
    let (status, incomplete) = status_of(resp.finish);
    json!({
        "id": resp.id,
        "object": "response",
        "created_at": 0,
        "status": status,
        "error": null,
        "incomplete_details": incomplete,
        "instructions": null,
        "model": model,
        "output": output,
        "parallel_tool_calls": true,
        "tool_choice": "auto",
        "tools": [],
        "text": {"format": {"type": "text"}},
        "metadata": {},
        "usage": usage_value(&resp.usage),
    })
}

/// Renders an answer as a `response` object with `model` as its model. `created_at` is 0;
/// item ids are derived from the answer's id (`msg_<id>_<n>`, `fc_<id>_<n>`, a leading `resp_`
/// removed). `Length` renders as `incomplete` (`max_output_tokens`), `ContentFilter` as
/// `incomplete` (`content_filter`), anything else as `completed`. Adjacent text parts become
/// one message item; image and tool-result parts (which no answer holds) are skipped.
pub fn render_response(resp: &ChatResponse, model: &str) -> Vec<u8> {
    serde_json::to_vec(&response_value(resp, model)).expect("a JSON value always serialises")
}
