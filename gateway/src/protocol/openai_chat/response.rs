//! OpenAI chat completion objects (non-streamed answers), parsed and rendered.

use serde_json::{json, Value};

use super::{finish_name, parse_finish, parse_usage, usage_json};
use crate::protocol::canonical::{ChatResponse, Part};

/// Parses a `chat.completion` object (its first choice); an `{"error":…}` body or a body
/// without choices is an `Err` with a readable message.
pub fn parse_response(body: &[u8]) -> Result<ChatResponse, String> {
    let doc: Value =
        serde_json::from_slice(body).map_err(|e| format!("answer is not JSON: {e}"))?;
    if let Some(err) = doc.get("error").filter(|e| !e.is_null()) {
        return Err(match err["message"].as_str() {
            Some(m) => m.to_owned(),
            None => err.to_string(),
        });
    }
    let choice = doc["choices"]
        .get(0)
        .ok_or_else(|| "answer has no choices".to_owned())?;
    let msg = &choice["message"];
    let mut content = Vec::new();
    match &msg["content"] {
        Value::String(s) => content.push(Part::Text(s.clone())),
        Value::Array(parts) => {
            for p in parts {
                if let Some(t) = p["text"].as_str() {
                    content.push(Part::Text(t.to_owned()));
                }
            }
        }
        _ => {}
    }
    if let Some(r) = msg["refusal"].as_str() {
        content.push(Part::Text(r.to_owned()));
    }
    if let Some(calls) = msg["tool_calls"].as_array() {
        for c in calls {
            let f = &c["function"];
            content.push(Part::ToolCall {
                id: c["id"].as_str().unwrap_or_default().to_owned(),
                name: f["name"].as_str().unwrap_or_default().to_owned(),
                arguments: f["arguments"].as_str().unwrap_or_default().to_owned(),
            });
        }
    }
    Ok(ChatResponse {
        id: doc["id"].as_str().unwrap_or_default().to_owned(),
        model: doc["model"].as_str().unwrap_or_default().to_owned(),
        content,
        finish: parse_finish(&choice["finish_reason"]),
        usage: parse_usage(&doc["usage"]),
    })
}

/// Renders a `chat.completion` object named `model`: text parts joined into `content` (null
/// when there is no text part), tool calls in `tool_calls`, `created` 0.
pub fn render_response(resp: &ChatResponse, model: &str) -> Vec<u8> {
    let mut text: Option<String> = None;
    let mut calls = Vec::new();
    for p in &resp.content {
        match p {
            Part::Text(t) => text.get_or_insert_with(String::new).push_str(t),
            Part::ToolCall {
                id,
                name,
                arguments,
            } => calls.push(json!({
                "id": id,
                "type": "function",
                "function": {"name": name, "arguments": arguments},
            })),
            Part::Image(_) | Part::ToolResult { .. } => {}
        }
    }
    let mut message = json!({"role": "assistant", "content": text});
    if !calls.is_empty() {
        message["tool_calls"] = Value::Array(calls);
    }
    json!({
        "id": resp.id,
        "object": "chat.completion",
        "created": 0,
        "model": model,
        "choices": [{
            "index": 0,
            "message": message,
            "logprobs": null,
            "finish_reason": resp.finish.map(finish_name),
        }],
        "usage": usage_json(&resp.usage),
    })
    .to_string()
    .into_bytes()
}
