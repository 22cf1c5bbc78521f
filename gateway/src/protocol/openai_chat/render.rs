//! OpenAI chat completions requests, rendered.

use serde_json::{json, Map, Value};

use crate::protocol::canonical::{
    ChatRequest, ImageSource, Message, Part, Role, ToolChoice, Untranslatable,
};
use crate::protocol::fields::bad;

/// Renders an OpenAI chat completions body for `model` (streams ask for usage with
/// `stream_options.include_usage`).
pub fn render_request(req: &ChatRequest, model: &str) -> Result<Vec<u8>, Untranslatable> {
    let mut messages = Vec::new();
    if let Some(s) = &req.system {
        messages.push(json!({"role": "system", "content": s}));
    }
    for (i, m) in req.messages.iter().enumerate() {
        match m.role {
            Role::User => render_user(m, i, &mut messages)?,
            Role::Assistant => messages.push(render_assistant(m, i)?),
        }
    }
    let mut body = Map::new();
    body.insert("model".into(), json!(model));
    body.insert("messages".into(), Value::Array(messages));
    if let Some(n) = req.max_tokens {
        body.insert("max_completion_tokens".into(), json!(n));
    }
    if let Some(t) = req.temperature {
        body.insert("temperature".into(), json!(t));
    }
    if let Some(p) = req.top_p {
        body.insert("top_p".into(), json!(p));
    }
    if !req.stop.is_empty() {
        body.insert("stop".into(), json!(req.stop));
    }
    if req.stream {
        body.insert("stream".into(), json!(true));
        body.insert("stream_options".into(), json!({"include_usage": true}));
    }
    if !req.tools.is_empty() {
        let tools = req.tools.iter().map(|t| {
            let mut f = Map::new();
            f.insert("name".into(), json!(t.name));
            if let Some(d) = &t.description {
                f.insert("description".into(), json!(d));
            }
            if !t.parameters.is_null() {
                f.insert("parameters".into(), t.parameters.clone());
            }
            json!({"type": "function", "function": f})
        });
        body.insert("tools".into(), Value::Array(tools.collect()));
    }
    if let Some(c) = &req.tool_choice {
        let c = match c {
            ToolChoice::Auto => json!("auto"),
            ToolChoice::None => json!("none"),
            ToolChoice::Required => json!("required"),
            ToolChoice::Named(n) => json!({"type": "function", "function": {"name": n}}),
        };
        body.insert("tool_choice".into(), c);
    }
    if let Some(u) = &req.user {
        body.insert("user".into(), json!(u));
    }
    Ok(Value::Object(body).to_string().into_bytes())
}

/// A user turn: each tool result its own `tool` message, runs of other parts `user` messages.
fn render_user(m: &Message, i: usize, out: &mut Vec<Value>) -> Result<(), Untranslatable> {
    if m.content.is_empty() {
        out.push(json!({"role": "user", "content": []}));
        return Ok(());
    }
    let mut run: Vec<&Part> = Vec::new();
    for (j, p) in m.content.iter().enumerate() {
        match p {
            Part::ToolResult {
                call_id, content, ..
            } => {
                if !run.is_empty() {
                    out.push(json!({"role": "user", "content": user_parts(&run)}));
                    run.clear();
                }
                out.push(json!({"role": "tool", "tool_call_id": call_id, "content": content}));
            }
            Part::ToolCall { .. } => {
                return Err(bad(
                    format!("messages[{i}].content[{j}]"),
                    "a tool call in a user turn",
                ))
            }
            _ => run.push(p),
        }
    }
    if !run.is_empty() {
        out.push(json!({"role": "user", "content": user_parts(&run)}));
    }
    Ok(())
}

/// User content: one text part as a string, anything else as an array of parts.
fn user_parts(parts: &[&Part]) -> Value {
    if let [Part::Text(t)] = parts {
        return json!(t);
    }
    let parts = parts.iter().map(|p| match p {
        Part::Text(t) => json!({"type": "text", "text": t}),
        Part::Image(ImageSource::Url(u)) => json!({"type": "image_url", "image_url": {"url": u}}),
        Part::Image(ImageSource::Base64 { media_type, data }) => json!({
            "type": "image_url",
            "image_url": {"url": format!("data:{media_type};base64,{data}")},
        }),
        Part::ToolCall { .. } | Part::ToolResult { .. } => unreachable!("split out by render_user"),
    });
    Value::Array(parts.collect())
}

fn render_assistant(m: &Message, i: usize) -> Result<Value, Untranslatable> {
    let mut texts = Vec::new();
    let mut calls = Vec::new();
    for (j, p) in m.content.iter().enumerate() {
        match p {
            Part::Text(t) => texts.push(t),
            Part::ToolCall {
                id,
                name,
                arguments,
            } => calls.push(json!({
                "id": id,
                "type": "function",
                "function": {"name": name, "arguments": arguments},
            })),
            Part::Image(_) | Part::ToolResult { .. } => {
                return Err(bad(
                    format!("messages[{i}].content[{j}]"),
                    "OpenAI assistant turns hold only text and tool calls",
                ))
            }
        }
    }
    let content = match texts.as_slice() {
        [] => Value::Null,
        [t] => json!(t),
        ts => Value::Array(
            ts.iter()
                .map(|t| json!({"type": "text", "text": t}))
                .collect(),
        ),
    };
    let mut msg = json!({"role": "assistant", "content": content});
    if !calls.is_empty() {
        msg["tool_calls"] = Value::Array(calls);
    }
    Ok(msg)
}
