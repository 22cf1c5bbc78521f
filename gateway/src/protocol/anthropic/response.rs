//! Anthropic message objects (non-streamed answers), parsed and rendered.

use serde_json::{json, Value};

use super::{parse_stop, parse_usage, stop_name, usage_json};
use crate::protocol::canonical::{ChatResponse, Part};

/// Parses a `message` object; an `{"type":"error",…}` body is an `Err` with its message.
/// Blocks other than text and `tool_use` (e.g. `thinking`) are skipped.
pub fn parse_response(body: &[u8]) -> Result<ChatResponse, String> {
    let doc: Value =
        serde_json::from_slice(body).map_err(|e| format!("answer is not JSON: {e}"))?;
    if doc["type"] == "error" || doc.get("error").is_some_and(|e| !e.is_null()) {
        let err = &doc["error"];
        return Err(match err["message"].as_str() {
            Some(m) => m.to_owned(),
            None => err.to_string(),
        });
    }
    let blocks = doc["content"]
        .as_array()
        .ok_or_else(|| "answer has no content".to_owned())?;
    let mut content = Vec::new();
    for b in blocks {
        match b["type"].as_str() {
            Some("text") => content.push(Part::Text(
                b["text"].as_str().unwrap_or_default().to_owned(),
            )),
            Some("tool_use") => content.push(Part::ToolCall {
                id: b["id"].as_str().unwrap_or_default().to_owned(),
                name: b["name"].as_str().unwrap_or_default().to_owned(),
                arguments: match &b["input"] {
                    Value::Null => "{}".to_owned(),
                    v => v.to_string(),
                },
            }),
            _ => {}
        }
    }
    Ok(ChatResponse {
        id: doc["id"].as_str().unwrap_or_default().to_owned(),
        model: doc["model"].as_str().unwrap_or_default().to_owned(),
        content,
        finish: parse_stop(&doc["stop_reason"]),
        usage: parse_usage(&doc["usage"]),
    })
}

/// Renders a `message` object named `model`. Tool call arguments that are not a JSON object
/// are rendered as `{}` (an answer cannot be refused the way a request can).
pub fn render_response(resp: &ChatResponse, model: &str) -> Vec<u8> {
    let content: Vec<Value> = resp
        .content
        .iter()
        .filter_map(|p| match p {
            Part::Text(t) => Some(json!({"type": "text", "text": t})),
            Part::ToolCall {
                id,
                name,
                arguments,
            } => Some(json!({
                "type": "tool_use",
                "id": id,
                "name": name,
                "input": input_object(arguments),
            })),
            Part::Image(_) | Part::ToolResult { .. } => None,
        })
        .collect();
    json!({
        "id": resp.id,
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": resp.finish.map(stop_name),
        "stop_sequence": null,
        "usage": usage_json(&resp.usage),
    })
    .to_string()
    .into_bytes()
}

/// Tool call arguments as a JSON object (`{}` when they are not one).
pub(super) fn input_object(arguments: &str) -> Value {
    match serde_json::from_str::<Value>(arguments) {
        Ok(v @ Value::Object(_)) => v,
        _ => json!({}),
    }
}
