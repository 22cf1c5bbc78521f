//! Requests in: a Responses API body parsed into a [`ChatRequest`].

use serde_json::{json, Map, Value};

use crate::protocol::canonical::{
    ChatRequest, ImageSource, Message, Part, Role, Tool, ToolChoice, Untranslatable,
};

type Object = Map<String, Value>;

/// Fields refused whenever they are present (not `null`), with why.
#[rustfmt::skip]
const REFUSED: &[(&str, &str)] = &[
    ("previous_response_id", "stored responses live on one provider; send the whole input"),
    ("conversation", "stored conversations live on one provider; send the whole input"),
    ("prompt", "stored prompt templates live on one provider"),
    ("top_logprobs", "log probabilities are not translated"),
    ("max_tool_calls", "a cap on built-in tool calls has no equivalent elsewhere"),
];

/// Fields accepted and ignored (see the module documentation for why), then fields read.
#[rustfmt::skip]
const ACCEPTED: &[&str] = &[
    "store", "reasoning", "metadata", "parallel_tool_calls", "service_tier", "stream_options",
    "prompt_cache_key", "prompt_cache_retention", "safety_identifier", "model", "instructions", "input",
    "max_output_tokens", "temperature", "top_p", "stream", "tools", "tool_choice", "user",
    "background", "include", "truncation", "text",
];

pub(super) use crate::protocol::fields::bad as err;

/// `at.key`, or `key` at the top level.
fn path(at: &str, key: &str) -> String {
    if at.is_empty() {
        key.to_owned()
    } else {
        format!("{at}.{key}")
    }
}

/// The field's value, `null` counting as absent.
fn get<'a>(obj: &'a Object, key: &str) -> Option<&'a Value> {
    obj.get(key).filter(|v| !v.is_null())
}

/// An optional string field.
fn opt_str<'a>(obj: &'a Object, key: &str, at: &str) -> Result<Option<&'a str>, Untranslatable> {
    get(obj, key)
        .map(|v| {
            v.as_str()
                .ok_or_else(|| err(path(at, key), "must be a string"))
        })
        .transpose()
}

/// A required string field.
fn req_str<'a>(obj: &'a Object, key: &str, at: &str) -> Result<&'a str, Untranslatable> {
    opt_str(obj, key, at)?.ok_or_else(|| err(path(at, key), "is required"))
}

fn as_object<'a>(v: &'a Value, field: &str) -> Result<&'a Object, Untranslatable> {
    v.as_object().ok_or_else(|| err(field, "must be an object"))
}

/// Appends parts to the last turn if it has this role, else starts a turn.
fn push(messages: &mut Vec<Message>, role: Role, content: Vec<Part>) {
    match messages.last_mut() {
        Some(m) if m.role == role => m.content.extend(content),
        _ => messages.push(Message { role, content }),
    }
}

/// The text of parts that must all be text (`content` is their field).
fn text_only(parts: Vec<Part>, content: &str, why: &str) -> Result<String, Untranslatable> {
    let mut text = String::new();
    for (j, part) in parts.into_iter().enumerate() {
        match part {
            Part::Text(t) => text.push_str(&t),
            _ => return Err(err(format!("{content}[{j}].type"), why)),
        }
    }
    Ok(text)
}

/// Parses a `POST /v1/responses` body. Fields that cannot be translated are refused naming the
/// field (see the module documentation for the full list and the normalisation applied).
pub fn parse_request(body: &[u8]) -> Result<ChatRequest, Untranslatable> {
    let value: Value =
        serde_json::from_slice(body).map_err(|e| err("body", format!("not valid JSON: {e}")))?;
    let obj = as_object(&value, "body")?;
    for (key, v) in obj {
        if !v.is_null() && !ACCEPTED.contains(&key.as_str()) {
            let why = REFUSED.iter().find(|(k, _)| k == key).map(|(_, why)| *why);
            return Err(err(key, why.unwrap_or("unknown field")));
        }
    }
    check_stateless(obj)?;
    let mut req = ChatRequest {
        model: req_str(obj, "model", "")?.to_owned(),
        ..ChatRequest::default()
    };
    let mut system: Vec<String> = opt_str(obj, "instructions", "")?
        .map(str::to_owned)
        .into_iter()
        .collect();
    match get(obj, "input") {
        None => {}
        Some(Value::String(s)) => push(&mut req.messages, Role::User, vec![Part::Text(s.clone())]),
        Some(Value::Array(items)) => {
            for (i, item) in items.iter().enumerate() {
                parse_item(item, &format!("input[{i}]"), &mut req.messages, &mut system)?;
            }
        }
        Some(_) => return Err(err("input", "must be a string or an array of items")),
    }
    req.system = (!system.is_empty()).then(|| system.join("\n\n"));
    if let Some(v) = get(obj, "max_output_tokens") {
        let n = v.as_u64().and_then(|n| u32::try_from(n).ok());
        req.max_tokens = Some(n.ok_or_else(|| err("max_output_tokens", "must be 0 to 2^32-1"))?);
    }
    for (key, slot) in [
        ("temperature", &mut req.temperature),
        ("top_p", &mut req.top_p),
    ] {
        if let Some(v) = get(obj, key) {
            *slot = Some(v.as_f64().ok_or_else(|| err(key, "must be a number"))?);
        }
    }
    if let Some(v) = get(obj, "stream") {
        req.stream = v
            .as_bool()
            .ok_or_else(|| err("stream", "must be true or false"))?;
    }
    if let Some(v) = get(obj, "tools") {
        let tools = v
            .as_array()
            .ok_or_else(|| err("tools", "must be an array"))?;
        for (i, t) in tools.iter().enumerate() {
            req.tools.push(parse_tool(t, &format!("tools[{i}]"))?);
        }
    }
    if let Some(v) = get(obj, "tool_choice") {
        req.tool_choice = Some(parse_tool_choice(v)?);
    }
    let user = opt_str(obj, "user", "")?;
    let user = user.or(opt_str(obj, "safety_identifier", "")?);
    req.user = user.map(str::to_owned);
    Ok(req)
}

/// Refuses the values of `background`, `include`, `truncation` and `text` that need the
/// provider's own server-side features.
fn check_stateless(obj: &Object) -> Result<(), Untranslatable> {
    match get(obj, "background").map(Value::as_bool) {
        None | Some(Some(false)) => {}
        Some(Some(true)) => {
            return Err(err(
                "background",
                "background responses live on one provider",
            ))
        }
        Some(None) => return Err(err("background", "must be true or false")),
    }
    match get(obj, "include").map(Value::as_array) {
        None => {}
        // Agent clients (Codex) ask for encrypted reasoning to replay it: nothing to translate,
        // and no reasoning items are produced, so asking is harmless.
        Some(Some(items))
            if items
                .iter()
                .all(|i| i.as_str() == Some("reasoning.encrypted_content")) => {}
        Some(Some(_)) => return Err(err("include", "extra output data is not translated")),
        Some(None) => return Err(err("include", "must be an array")),
    }
    match get(obj, "truncation").map(Value::as_str) {
        None | Some(Some("disabled")) => {}
        _ => {
            return Err(err(
                "truncation",
                "only \"disabled\": other providers do not truncate",
            ))
        }
    }
    if let Some(v) = get(obj, "text") {
        for (key, v) in as_object(v, "text")? {
            match key.as_str() {
                _ if v.is_null() => {}
                "verbosity" => {}
                "format" if v.get("type").and_then(Value::as_str) == Some("text") => {}
                "format" => return Err(err("text.format", "structured output is not translated")),
                _ => return Err(err(format!("text.{key}"), "unknown field")),
            }
        }
    }
    Ok(())
}

/// One `input` item: a message (system/developer text goes to `system`), a function call or a
/// function call's output.
fn parse_item(
    item: &Value,
    at: &str,
    messages: &mut Vec<Message>,
    system: &mut Vec<String>,
) -> Result<(), Untranslatable> {
    let obj = as_object(item, at)?;
    match opt_str(obj, "type", at)?.unwrap_or("message") {
        "message" => {
            let role = req_str(obj, "role", at)?;
            let field = path(at, "content");
            let content = get(obj, "content").ok_or_else(|| err(&field, "is required"))?;
            match role {
                "user" => push(messages, Role::User, parse_content(content, &field)?),
                "assistant" => push(messages, Role::Assistant, parse_content(content, &field)?),
                "system" | "developer" => {
                    let why = "a system or developer message can only hold text";
                    system.push(text_only(parse_content(content, &field)?, &field, why)?);
                }
                other => return Err(err(path(at, "role"), format!("unknown role {other:?}"))),
            }
        }
        "function_call" => {
            let call = Part::ToolCall {
                id: req_str(obj, "call_id", at)?.to_owned(),
                name: req_str(obj, "name", at)?.to_owned(),
                arguments: req_str(obj, "arguments", at)?.to_owned(),
            };
            push(messages, Role::Assistant, vec![call]);
        }
        "function_call_output" => {
            let call_id = req_str(obj, "call_id", at)?.to_owned();
            let field = path(at, "output");
            let content = match get(obj, "output").ok_or_else(|| err(&field, "is required"))? {
                Value::String(s) => s.clone(),
                output @ Value::Array(_) => {
                    let why = "only text tool output can be translated";
                    text_only(parse_content(output, &field)?, &field, why)?
                }
                _ => return Err(err(field, "must be a string or an array of content")),
            };
            let is_error = false;
            push(
                messages,
                Role::User,
                vec![Part::ToolResult {
                    call_id,
                    content,
                    is_error,
                }],
            );
        }
        // Reasoning an agent client replays from an earlier answer: provider-specific and
        // encrypted, it means nothing to another deployment; left out.
        "reasoning" => {}
        other => {
            let why = "only message, function_call and function_call_output items are translated";
            return Err(err(
                path(at, "type"),
                format!("input item {other:?}: {why}"),
            ));
        }
    }
    Ok(())
}

/// A message's content: a string, or an array of text, refusal and image parts.
fn parse_content(content: &Value, at: &str) -> Result<Vec<Part>, Untranslatable> {
    let parts = match content {
        Value::String(s) => return Ok(vec![Part::Text(s.clone())]),
        Value::Array(parts) => parts,
        _ => return Err(err(at, "must be a string or an array of content parts")),
    };
    let mut out = Vec::with_capacity(parts.len());
    for (j, part) in parts.iter().enumerate() {
        let at = format!("{at}[{j}]");
        let obj = as_object(part, &at)?;
        out.push(match req_str(obj, "type", &at)? {
            "input_text" | "output_text" => Part::Text(req_str(obj, "text", &at)?.to_owned()),
            "refusal" => Part::Text(req_str(obj, "refusal", &at)?.to_owned()),
            "input_image" if get(obj, "file_id").is_some() => {
                let why = "uploaded files live on one provider; send a URL or a data: URL";
                return Err(err(path(&at, "file_id"), why));
            }
            "input_image" => Part::Image(image_source(req_str(obj, "image_url", &at)?)),
            other => {
                let why = format!("content part {other:?} cannot be translated");
                return Err(err(path(&at, "type"), why));
            }
        });
    }
    Ok(out)
}

/// A `data:<media type>;base64,<data>` URL becomes inline data; any other URL stays one.
fn image_source(url: &str) -> ImageSource {
    let inline = url
        .strip_prefix("data:")
        .and_then(|rest| rest.split_once(";base64,"));
    match inline {
        Some((media_type, data)) if !media_type.is_empty() && !media_type.contains([',', ';']) => {
            ImageSource::Base64 {
                media_type: media_type.to_owned(),
                data: data.to_owned(),
            }
        }
        _ => ImageSource::Url(url.to_owned()),
    }
}

fn parse_tool(t: &Value, at: &str) -> Result<Tool, Untranslatable> {
    let obj = as_object(t, at)?;
    match req_str(obj, "type", at)? {
        "function" => {}
        other => {
            let why = format!("built-in tool {other:?} runs on OpenAI's servers");
            return Err(err(path(at, "type"), why));
        }
    }
    Ok(Tool {
        name: req_str(obj, "name", at)?.to_owned(),
        description: opt_str(obj, "description", at)?.map(str::to_owned),
        parameters: get(obj, "parameters")
            .cloned()
            .unwrap_or_else(|| json!({"type": "object", "properties": {}})),
    })
}

fn parse_tool_choice(v: &Value) -> Result<ToolChoice, Untranslatable> {
    match v {
        Value::String(s) => match s.as_str() {
            "auto" => Ok(ToolChoice::Auto),
            "none" => Ok(ToolChoice::None),
            "required" => Ok(ToolChoice::Required),
            other => Err(err("tool_choice", format!("unknown tool choice {other:?}"))),
        },
        Value::Object(obj) => match opt_str(obj, "type", "tool_choice")? {
            Some("function") => Ok(ToolChoice::Named(
                req_str(obj, "name", "tool_choice")?.to_owned(),
            )),
            _ => Err(err(
                "tool_choice.type",
                "only a function tool can be chosen",
            )),
        },
        _ => Err(err("tool_choice", "must be a string or an object")),
    }
}
