//! Anthropic Messages requests, rendered.

use serde_json::{json, Map, Value};

use crate::protocol::canonical::{
    ChatRequest, ImageSource, Part, Role, ToolChoice, Untranslatable,
};
use crate::protocol::fields::bad;

/// `max_tokens` written when the request has none (Anthropic requires it).
pub const DEFAULT_MAX_TOKENS: u32 = 4096;

/// Renders an Anthropic Messages body for `model`: consecutive same-role turns merged, empty
/// text parts dropped from turns that hold something else, tool results as `tool_result` blocks
/// of user turns, `max_tokens` defaulting to [`DEFAULT_MAX_TOKENS`].
pub fn render_request(req: &ChatRequest, model: &str) -> Result<Vec<u8>, Untranslatable> {
    let mut turns: Vec<(Role, Vec<Value>)> = Vec::new();
    for (i, m) in req.messages.iter().enumerate() {
        let mut blocks = Vec::new();
        for (j, p) in m.content.iter().enumerate() {
            blocks.push(block(p, m.role, &format!("messages[{i}].content[{j}]"))?);
        }
        match turns.last_mut() {
            Some((role, prev)) if *role == m.role => prev.extend(blocks),
            _ => turns.push((m.role, blocks)),
        }
    }
    let messages = turns.into_iter().map(|(role, blocks)| {
        let role = match role {
            Role::User => "user",
            Role::Assistant => "assistant",
        };
        let content = turn_content(blocks);
        json!({"role": role, "content": content})
    });
    let mut body = Map::new();
    body.insert("model".into(), json!(model));
    body.insert(
        "max_tokens".into(),
        json!(req.max_tokens.unwrap_or(DEFAULT_MAX_TOKENS)),
    );
    if let Some(s) = &req.system {
        body.insert("system".into(), json!(s));
    }
    body.insert("messages".into(), Value::Array(messages.collect()));
    if let Some(t) = req.temperature {
        if !(0.0..=1.0).contains(&t) {
            return Err(bad(
                "temperature",
                "Anthropic accepts a temperature from 0 to 1",
            ));
        }
        body.insert("temperature".into(), json!(t));
    }
    // top_p 1 truncates nothing; recent Claude models refuse top_p beside temperature, which
    // OpenAI clients often send together with top_p 1.
    if let Some(p) = req.top_p.filter(|p| *p != 1.0) {
        body.insert("top_p".into(), json!(p));
    }
    if !req.stop.is_empty() {
        body.insert("stop_sequences".into(), json!(req.stop));
    }
    if req.stream {
        body.insert("stream".into(), json!(true));
    }
    if !req.tools.is_empty() {
        let tools = req.tools.iter().map(|t| {
            let mut tool = Map::new();
            tool.insert("name".into(), json!(t.name));
            if let Some(d) = &t.description {
                tool.insert("description".into(), json!(d));
            }
            let schema = match &t.parameters {
                Value::Null => json!({"type": "object", "properties": {}}),
                v => v.clone(),
            };
            tool.insert("input_schema".into(), schema);
            Value::Object(tool)
        });
        body.insert("tools".into(), Value::Array(tools.collect()));
    }
    if let Some(c) = &req.tool_choice {
        let c = match c {
            ToolChoice::Auto => json!({"type": "auto"}),
            ToolChoice::None => json!({"type": "none"}),
            ToolChoice::Required => json!({"type": "any"}),
            ToolChoice::Named(n) => json!({"type": "tool", "name": n}),
        };
        body.insert("tool_choice".into(), c);
    }
    if let Some(u) = &req.user {
        body.insert("metadata".into(), json!({"user_id": u}));
    }
    Ok(Value::Object(body).to_string().into_bytes())
}

/// A turn's content: a lone text block as a string; empty text blocks dropped (Anthropic refuses
/// them) unless the turn has nothing else, which is then the empty string.
fn turn_content(mut blocks: Vec<Value>) -> Value {
    let empty_text = |b: &Value| b["type"] == "text" && b["text"] == "";
    if !blocks.is_empty() && blocks.iter().all(empty_text) {
        return json!("");
    }
    blocks.retain(|b| !empty_text(b));
    match blocks.as_slice() {
        [b] if b["type"] == "text" => b["text"].clone(),
        _ => Value::Array(blocks),
    }
}

/// One content block; `path` names the part for errors.
fn block(p: &Part, role: Role, path: &str) -> Result<Value, Untranslatable> {
    Ok(match (p, role) {
        (Part::Text(t), _) => json!({"type": "text", "text": t}),
        (Part::Image(ImageSource::Url(u)), Role::User) => {
            json!({"type": "image", "source": {"type": "url", "url": u}})
        }
        (Part::Image(ImageSource::Base64 { media_type, data }), Role::User) => json!({
            "type": "image",
            "source": {"type": "base64", "media_type": media_type, "data": data},
        }),
        (
            Part::ToolCall {
                id,
                name,
                arguments,
            },
            Role::Assistant,
        ) => {
            let input = if arguments.trim().is_empty() {
                json!({})
            } else {
                match serde_json::from_str::<Value>(arguments) {
                    Ok(v @ Value::Object(_)) => v,
                    _ => {
                        return Err(bad(
                            format!("{path}.arguments"),
                            "Anthropic needs tool call arguments that are a JSON object",
                        ))
                    }
                }
            };
            json!({"type": "tool_use", "id": id, "name": name, "input": input})
        }
        (
            Part::ToolResult {
                call_id,
                content,
                is_error,
            },
            Role::User,
        ) => {
            let mut b = json!({"type": "tool_result", "tool_use_id": call_id, "content": content});
            if *is_error {
                b["is_error"] = json!(true);
            }
            b
        }
        (Part::Image(_), Role::Assistant) => {
            return Err(bad(path, "Anthropic assistant turns cannot hold images"))
        }
        (Part::ToolCall { .. }, Role::User) => return Err(bad(path, "a tool call in a user turn")),
        (Part::ToolResult { .. }, Role::Assistant) => {
            return Err(bad(path, "a tool result in an assistant turn"))
        }
    })
}
