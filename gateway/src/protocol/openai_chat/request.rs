//! OpenAI chat completions requests, parsed.

use serde_json::{json, Map, Value};

use crate::protocol::canonical::{
    ChatRequest, ImageSource, Message, Part, Role, Tool, ToolChoice, Untranslatable,
};
use crate::protocol::fields::{bad, json_object, number, string, uint};

/// Parses an OpenAI chat completions body; a field that would change the answer and has no
/// canonical equivalent is an [`Untranslatable`] naming it (see the [module](super) docs).
pub fn parse_request(body: &[u8]) -> Result<ChatRequest, Untranslatable> {
    let obj = &json_object(body)?;
    refuse_unsupported(obj)?;
    let get = |k: &str| obj.get(k).filter(|v| !v.is_null());
    let mut req = ChatRequest {
        model: match get("model") {
            Some(v) => string(v, "model")?,
            None => String::new(),
        },
        ..ChatRequest::default()
    };
    let messages = get("messages").ok_or_else(|| bad("messages", "missing"))?;
    parse_messages(messages, &mut req)?;
    req.max_tokens = match get("max_completion_tokens") {
        Some(v) => Some(uint(v, "max_completion_tokens")?),
        None => get("max_tokens")
            .map(|v| uint(v, "max_tokens"))
            .transpose()?,
    };
    req.temperature = get("temperature")
        .map(|v| number(v, "temperature"))
        .transpose()?;
    req.top_p = get("top_p").map(|v| number(v, "top_p")).transpose()?;
    req.stop = match get("stop") {
        None => Vec::new(),
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(a)) => a
            .iter()
            .enumerate()
            .map(|(i, s)| string(s, &format!("stop[{i}]")))
            .collect::<Result<_, _>>()?,
        Some(_) => return Err(bad("stop", "must be a string or an array of strings")),
    };
    req.stream = match get("stream") {
        None => false,
        Some(v) => v
            .as_bool()
            .ok_or_else(|| bad("stream", "must be a boolean"))?,
    };
    if let Some(tools) = get("tools") {
        let tools = tools
            .as_array()
            .ok_or_else(|| bad("tools", "must be an array"))?;
        for (i, t) in tools.iter().enumerate() {
            req.tools.push(parse_tool(t, &format!("tools[{i}]"))?);
        }
    }
    req.tool_choice = get("tool_choice").map(parse_tool_choice).transpose()?;
    req.user = get("user").map(|v| string(v, "user")).transpose()?;
    Ok(req)
}

/// Refuses the fields that change the answer and have no canonical equivalent.
fn refuse_unsupported(obj: &Map<String, Value>) -> Result<(), Untranslatable> {
    let set = |k: &str| obj.get(k).filter(|v| !v.is_null());
    if set("n").is_some_and(|v| v.as_u64() != Some(1)) {
        return Err(bad("n", "only one choice per request can be translated"));
    }
    if set("logprobs").is_some_and(|v| v != &Value::Bool(false)) {
        return Err(bad("logprobs", "log probabilities cannot be translated"));
    }
    if set("modalities").is_some_and(|v| v != &json!(["text"])) {
        return Err(bad("modalities", "only text output can be translated"));
    }
    if set("response_format").is_some_and(|v| v["type"] != "text") {
        return Err(bad(
            "response_format.type",
            "structured output formats cannot be translated",
        ));
    }
    for k in ["frequency_penalty", "presence_penalty"] {
        if set(k).is_some_and(|v| v.as_f64() != Some(0.0)) {
            return Err(bad(k, "penalties cannot be translated"));
        }
    }
    if set("logit_bias").is_some_and(|v| v.as_object().is_none_or(|m| !m.is_empty())) {
        return Err(bad("logit_bias", "token biases cannot be translated"));
    }
    if set("parallel_tool_calls") == Some(&Value::Bool(false)) {
        return Err(bad(
            "parallel_tool_calls",
            "turning parallel tool calls off cannot be translated",
        ));
    }
    for k in [
        "top_logprobs",
        "audio",
        "reasoning_effort",
        "verbosity",
        "web_search_options",
        "functions",
        "function_call",
    ] {
        if set(k).is_some() {
            return Err(bad(k, "has no equivalent in the canonical form"));
        }
    }
    Ok(())
}

fn parse_messages(list: &Value, req: &mut ChatRequest) -> Result<(), Untranslatable> {
    let list = list
        .as_array()
        .ok_or_else(|| bad("messages", "must be an array"))?;
    let mut system = Vec::new();
    for (i, m) in list.iter().enumerate() {
        let path = format!("messages[{i}]");
        let obj = m
            .as_object()
            .ok_or_else(|| bad(&path, "must be an object"))?;
        let get = |k: &str| obj.get(k).filter(|v| !v.is_null());
        let role = get("role").and_then(Value::as_str).unwrap_or("");
        let content = get("content");
        match role {
            "system" | "developer" => system.push(text_of(content, &format!("{path}.content"))?),
            "user" => {
                let content = user_content(content, &format!("{path}.content"))?;
                req.messages.push(Message {
                    role: Role::User,
                    content,
                });
            }
            "assistant" => {
                for k in ["audio", "function_call"] {
                    if get(k).is_some() {
                        return Err(bad(format!("{path}.{k}"), "cannot be translated"));
                    }
                }
                let mut parts = assistant_content(content, &format!("{path}.content"))?;
                if let Some(r) = get("refusal") {
                    parts.push(Part::Text(string(r, &format!("{path}.refusal"))?));
                }
                if let Some(calls) = get("tool_calls") {
                    let calls = calls
                        .as_array()
                        .ok_or_else(|| bad(format!("{path}.tool_calls"), "must be an array"))?;
                    for (j, c) in calls.iter().enumerate() {
                        parts.push(tool_call(c, &format!("{path}.tool_calls[{j}]"))?);
                    }
                }
                req.messages.push(Message {
                    role: Role::Assistant,
                    content: parts,
                });
            }
            "tool" => {
                let call_id = get("tool_call_id")
                    .ok_or_else(|| bad(format!("{path}.tool_call_id"), "missing"))?;
                let result = Part::ToolResult {
                    call_id: string(call_id, &format!("{path}.tool_call_id"))?,
                    content: text_of(content, &format!("{path}.content"))?,
                    is_error: false,
                };
                match req.messages.last_mut() {
                    Some(last) if is_tool_results(last) => last.content.push(result),
                    _ => req.messages.push(Message {
                        role: Role::User,
                        content: vec![result],
                    }),
                }
            }
            _ => {
                return Err(bad(
                    format!("{path}.role"),
                    format!("unknown role `{role}`"),
                ))
            }
        }
    }
    if !system.is_empty() {
        req.system = Some(system.join("\n\n"));
    }
    Ok(())
}

/// A user turn made only of tool results (what `tool` messages become).
fn is_tool_results(m: &Message) -> bool {
    m.role == Role::User
        && !m.content.is_empty()
        && m.content
            .iter()
            .all(|p| matches!(p, Part::ToolResult { .. }))
}

/// Text content: a string, or text parts concatenated (absent is empty).
fn text_of(content: Option<&Value>, path: &str) -> Result<String, Untranslatable> {
    match content {
        None => Ok(String::new()),
        Some(Value::String(s)) => Ok(s.clone()),
        Some(Value::Array(parts)) => {
            let mut text = String::new();
            for (j, p) in parts.iter().enumerate() {
                if p["type"] != "text" {
                    return Err(bad(format!("{path}[{j}].type"), "only text parts here"));
                }
                text.push_str(&string(&p["text"], &format!("{path}[{j}].text"))?);
            }
            Ok(text)
        }
        Some(_) => Err(bad(path, "must be a string or an array of parts")),
    }
}

fn user_content(content: Option<&Value>, path: &str) -> Result<Vec<Part>, Untranslatable> {
    let parts = match content {
        None => return Ok(Vec::new()),
        Some(Value::String(s)) => return Ok(vec![Part::Text(s.clone())]),
        Some(Value::Array(parts)) => parts,
        Some(_) => return Err(bad(path, "must be a string or an array of parts")),
    };
    let mut out = Vec::new();
    for (j, p) in parts.iter().enumerate() {
        let at = format!("{path}[{j}]");
        match p["type"].as_str().unwrap_or("") {
            "text" => out.push(Part::Text(string(&p["text"], &format!("{at}.text"))?)),
            "image_url" => {
                let url = match &p["image_url"] {
                    Value::String(s) => s,
                    v => v["url"]
                        .as_str()
                        .ok_or_else(|| bad(format!("{at}.image_url.url"), "missing"))?,
                };
                out.push(Part::Image(image(url, &format!("{at}.image_url.url"))?));
            }
            other => {
                return Err(bad(
                    format!("{at}.type"),
                    format!("`{other}` parts cannot be translated"),
                ))
            }
        }
    }
    Ok(out)
}

fn assistant_content(content: Option<&Value>, path: &str) -> Result<Vec<Part>, Untranslatable> {
    match content {
        None => Ok(Vec::new()),
        Some(Value::String(s)) => Ok(vec![Part::Text(s.clone())]),
        Some(Value::Array(parts)) => parts
            .iter()
            .enumerate()
            .map(|(j, p)| match p["type"].as_str().unwrap_or("") {
                "text" => Ok(Part::Text(string(
                    &p["text"],
                    &format!("{path}[{j}].text"),
                )?)),
                "refusal" => Ok(Part::Text(string(
                    &p["refusal"],
                    &format!("{path}[{j}].refusal"),
                )?)),
                _ => Err(bad(
                    format!("{path}[{j}].type"),
                    "only text parts in assistant turns",
                )),
            })
            .collect(),
        Some(_) => Err(bad(path, "must be a string or an array of parts")),
    }
}

/// An image URL: `data:MEDIA;base64,DATA` is inline data, anything else a URL.
fn image(url: &str, path: &str) -> Result<ImageSource, Untranslatable> {
    let Some(rest) = url.strip_prefix("data:") else {
        return Ok(ImageSource::Url(url.to_owned()));
    };
    match rest.split_once(";base64,") {
        Some((media_type, data)) => Ok(ImageSource::Base64 {
            media_type: media_type.to_owned(),
            data: data.to_owned(),
        }),
        None => Err(bad(path, "only base64 data URLs can be translated")),
    }
}

fn tool_call(c: &Value, path: &str) -> Result<Part, Untranslatable> {
    if c["type"].as_str().is_some_and(|t| t != "function") {
        return Err(bad(format!("{path}.type"), "only function tool calls"));
    }
    let f = &c["function"];
    Ok(Part::ToolCall {
        id: string(&c["id"], &format!("{path}.id"))?,
        name: string(&f["name"], &format!("{path}.function.name"))?,
        arguments: match &f["arguments"] {
            Value::Null => String::new(),
            v => string(v, &format!("{path}.function.arguments"))?,
        },
    })
}

fn parse_tool(t: &Value, path: &str) -> Result<Tool, Untranslatable> {
    if t["type"] != "function" {
        return Err(bad(
            format!("{path}.type"),
            "only function tools can be translated",
        ));
    }
    let f = &t["function"];
    Ok(Tool {
        name: string(&f["name"], &format!("{path}.function.name"))?,
        description: match &f["description"] {
            Value::Null => None,
            v => Some(string(v, &format!("{path}.function.description"))?),
        },
        parameters: f["parameters"].clone(),
    })
}

fn parse_tool_choice(v: &Value) -> Result<ToolChoice, Untranslatable> {
    match v {
        Value::String(s) => match s.as_str() {
            "auto" => Ok(ToolChoice::Auto),
            "none" => Ok(ToolChoice::None),
            "required" => Ok(ToolChoice::Required),
            _ => Err(bad("tool_choice", format!("unknown choice `{s}`"))),
        },
        _ if v["type"] == "function" => Ok(ToolChoice::Named(string(
            &v["function"]["name"],
            "tool_choice.function.name",
        )?)),
        _ => Err(bad("tool_choice.type", "only function tool choices")),
    }
}
