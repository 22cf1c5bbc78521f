//! Anthropic Messages requests, parsed.

use serde_json::{Map, Value};

use crate::protocol::canonical::{
    ChatRequest, ImageSource, Message, Part, Role, Tool, ToolChoice, Untranslatable,
};
use crate::protocol::fields::{bad, json_object, number, string, uint};

/// Parses an Anthropic Messages body; a field that would change the answer and has no
/// canonical equivalent is an [`Untranslatable`] naming it (see the [module](super) docs). A
/// missing `max_tokens` is accepted (`None`).
pub fn parse_request(body: &[u8]) -> Result<ChatRequest, Untranslatable> {
    let obj = &json_object(body)?;
    refuse_unsupported(obj)?;
    let get = |k: &str| obj.get(k).filter(|v| !v.is_null());
    let mut req = ChatRequest {
        model: get("model")
            .map(|v| string(v, "model"))
            .transpose()?
            .unwrap_or_default(),
        max_tokens: get("max_tokens")
            .map(|v| uint(v, "max_tokens"))
            .transpose()?,
        temperature: get("temperature")
            .map(|v| number(v, "temperature"))
            .transpose()?,
        top_p: get("top_p").map(|v| number(v, "top_p")).transpose()?,
        stream: match get("stream") {
            None => false,
            Some(v) => v
                .as_bool()
                .ok_or_else(|| bad("stream", "must be a boolean"))?,
        },
        user: match get("metadata") {
            Some(m) if !m["user_id"].is_null() => Some(string(&m["user_id"], "metadata.user_id")?),
            _ => None,
        },
        ..ChatRequest::default()
    };
    if let Some(stops) = get("stop_sequences") {
        let stops = stops
            .as_array()
            .ok_or_else(|| bad("stop_sequences", "must be an array of strings"))?;
        for (i, s) in stops.iter().enumerate() {
            req.stop.push(string(s, &format!("stop_sequences[{i}]"))?);
        }
    }
    req.system = match get("system") {
        None => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(Value::Array(blocks)) => {
            let mut texts = Vec::new();
            for (i, b) in blocks.iter().enumerate() {
                if b["type"] != "text" {
                    return Err(bad(format!("system[{i}].type"), "only text blocks"));
                }
                texts.push(string(&b["text"], &format!("system[{i}].text"))?);
            }
            (!texts.is_empty()).then(|| texts.join("\n\n"))
        }
        Some(_) => return Err(bad("system", "must be a string or an array of text blocks")),
    };
    let messages = get("messages")
        .and_then(Value::as_array)
        .ok_or_else(|| bad("messages", "missing or not an array"))?;
    for (i, m) in messages.iter().enumerate() {
        req.messages.push(message(m, &format!("messages[{i}]"))?);
    }
    if let Some(tools) = get("tools") {
        let tools = tools
            .as_array()
            .ok_or_else(|| bad("tools", "must be an array"))?;
        for (i, t) in tools.iter().enumerate() {
            req.tools.push(tool(t, &format!("tools[{i}]"))?);
        }
    }
    req.tool_choice = get("tool_choice").map(tool_choice).transpose()?;
    Ok(req)
}

/// Refuses the fields that change the answer and have no canonical equivalent.
fn refuse_unsupported(obj: &Map<String, Value>) -> Result<(), Untranslatable> {
    let set = |k: &str| obj.get(k).filter(|v| !v.is_null());
    if set("thinking").is_some_and(|t| t["type"] != "disabled") {
        return Err(bad("thinking", "extended thinking cannot be translated"));
    }
    for k in [
        "top_k",
        "container",
        "mcp_servers",
        "context_management",
        "output_format",
    ] {
        if set(k).is_some() {
            return Err(bad(k, "has no equivalent in the canonical form"));
        }
    }
    Ok(())
}

fn message(m: &Value, path: &str) -> Result<Message, Untranslatable> {
    let role = match m["role"].as_str() {
        Some("user") => Role::User,
        Some("assistant") => Role::Assistant,
        _ => return Err(bad(format!("{path}.role"), "must be `user` or `assistant`")),
    };
    let blocks = match &m["content"] {
        Value::String(s) => {
            return Ok(Message {
                role,
                content: vec![Part::Text(s.clone())],
            })
        }
        Value::Array(blocks) => blocks,
        _ => return Err(bad(format!("{path}.content"), "must be a string or blocks")),
    };
    let mut content = Vec::new();
    for (j, b) in blocks.iter().enumerate() {
        let at = format!("{path}.content[{j}]");
        let kind = b["type"].as_str().unwrap_or("");
        let part = match (kind, role) {
            ("text", _) => Part::Text(string(&b["text"], &format!("{at}.text"))?),
            ("image", Role::User) => Part::Image(image(&b["source"], &format!("{at}.source"))?),
            ("tool_use", Role::Assistant) => Part::ToolCall {
                id: string(&b["id"], &format!("{at}.id"))?,
                name: string(&b["name"], &format!("{at}.name"))?,
                arguments: match &b["input"] {
                    Value::Null => "{}".to_owned(),
                    v => v.to_string(),
                },
            },
            ("tool_result", Role::User) => Part::ToolResult {
                call_id: string(&b["tool_use_id"], &format!("{at}.tool_use_id"))?,
                content: tool_result_text(&b["content"], &format!("{at}.content"))?,
                is_error: b["is_error"].as_bool().unwrap_or(false),
            },
            _ => {
                return Err(bad(
                    format!("{at}.type"),
                    format!("`{kind}` blocks cannot be translated here"),
                ))
            }
        };
        content.push(part);
    }
    Ok(Message { role, content })
}

fn image(source: &Value, path: &str) -> Result<ImageSource, Untranslatable> {
    match source["type"].as_str() {
        Some("base64") => Ok(ImageSource::Base64 {
            media_type: string(&source["media_type"], &format!("{path}.media_type"))?,
            data: string(&source["data"], &format!("{path}.data"))?,
        }),
        Some("url") => Ok(ImageSource::Url(string(
            &source["url"],
            &format!("{path}.url"),
        )?)),
        _ => Err(bad(
            format!("{path}.type"),
            "only base64 and url images can be translated",
        )),
    }
}

/// A tool result's content: a string, or text blocks concatenated.
fn tool_result_text(content: &Value, path: &str) -> Result<String, Untranslatable> {
    match content {
        Value::Null => Ok(String::new()),
        Value::String(s) => Ok(s.clone()),
        Value::Array(blocks) => {
            let mut text = String::new();
            for (k, b) in blocks.iter().enumerate() {
                if b["type"] != "text" {
                    return Err(bad(
                        format!("{path}[{k}].type"),
                        "only text tool results can be translated",
                    ));
                }
                text.push_str(&string(&b["text"], &format!("{path}[{k}].text"))?);
            }
            Ok(text)
        }
        _ => Err(bad(path, "must be a string or text blocks")),
    }
}

fn tool(t: &Value, path: &str) -> Result<Tool, Untranslatable> {
    if t["type"].as_str().is_some_and(|k| k != "custom") {
        return Err(bad(
            format!("{path}.type"),
            "server tools cannot be translated",
        ));
    }
    Ok(Tool {
        name: string(&t["name"], &format!("{path}.name"))?,
        description: match &t["description"] {
            Value::Null => None,
            v => Some(string(v, &format!("{path}.description"))?),
        },
        parameters: t["input_schema"].clone(),
    })
}

fn tool_choice(c: &Value) -> Result<ToolChoice, Untranslatable> {
    if c["disable_parallel_tool_use"] == Value::Bool(true) {
        return Err(bad(
            "tool_choice.disable_parallel_tool_use",
            "turning parallel tool calls off cannot be translated",
        ));
    }
    match c["type"].as_str().unwrap_or("") {
        "auto" => Ok(ToolChoice::Auto),
        "any" => Ok(ToolChoice::Required),
        "none" => Ok(ToolChoice::None),
        "tool" => Ok(ToolChoice::Named(string(&c["name"], "tool_choice.name")?)),
        other => Err(bad("tool_choice.type", format!("unknown choice `{other}`"))),
    }
}
