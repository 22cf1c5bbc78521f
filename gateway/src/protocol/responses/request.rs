//! Requests: a Responses API body to and from a [`ChatRequest`].

use serde_json::{json, Map, Value};

use crate::protocol::canonical::{
    ChatRequest, ImageSource, Message, Part, Role, Tool, ToolChoice, Untranslatable,
};

/// Fields refused whenever they are present (not `null`), with why.
const REFUSED: &[(&str, &str)] = &[
    (
        "previous_response_id",
        "stored responses live on the provider that made them; send the whole conversation as input",
    ),
    (
        "conversation",
        "stored conversations live on one provider; send the whole conversation as input",
    ),
    ("prompt", "stored prompt templates live on one provider"),
    ("top_logprobs", "log probabilities are not translated"),
    ("max_tool_calls", "a cap on built-in tool calls cannot be enforced by other providers"),
];

/// Fields accepted and ignored (see the module documentation for why).
const IGNORED: &[&str] = &[
    "store",
    "reasoning",
    "metadata",
    "parallel_tool_calls",
    "service_tier",
    "stream_options",
    "prompt_cache_key",
    "safety_identifier",
];

/// Fields read below.
const KNOWN: &[&str] = &[
    "model",
    "instructions",
    "input",
    "max_output_tokens",
    "temperature",
    "top_p",
    "stream",
    "tools",
    "tool_choice",
    "user",
    "background",
    "include",
    "truncation",
    "text",
];

fn err(field: impl Into<String>, reason: impl Into<String>) -> Untranslatable {
    Untranslatable {
        field: field.into(),
        reason: reason.into(),
    }
}

/// The field's value, `null` counting as absent.
fn get<'a>(obj: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    obj.get(key).filter(|v| !v.is_null())
}

fn as_str<'a>(v: &'a Value, field: &str) -> Result<&'a str, Untranslatable> {
    v.as_str().ok_or_else(|| err(field, "must be a string"))
}

/// A required string field of an object.
fn req_str<'a>(
    obj: &'a Map<String, Value>,
    key: &str,
    at: &str,
) -> Result<&'a str, Untranslatable> {
    let field = format!("{at}.{key}");
    as_str(
        get(obj, key).ok_or_else(|| err(&field, "is required"))?,
        &field,
    )
}

fn as_object<'a>(v: &'a Value, field: &str) -> Result<&'a Map<String, Value>, Untranslatable> {
    v.as_object().ok_or_else(|| err(field, "must be an object"))
}

/// Appends parts to the last turn if it has this role, else starts a turn.
fn push(messages: &mut Vec<Message>, role: Role, parts: Vec<Part>) {
    match messages.last_mut() {
        Some(m) if m.role == role => m.content.extend(parts),
        _ => messages.push(Message {
            role,
            content: parts,
        }),
    }
}

/// Parses a `POST /v1/responses` body. Fields that cannot be translated are refused naming the
/// field (see the module documentation for the full list and the normalisation applied).
pub fn parse_request(body: &[u8]) -> Result<ChatRequest, Untranslatable> {
    let value: Value =
        serde_json::from_slice(body).map_err(|e| err("body", format!("not valid JSON: {e}")))?;
    let obj = as_object(&value, "body")?;
    for (key, v) in obj {
        if v.is_null() || KNOWN.contains(&key.as_str()) || IGNORED.contains(&key.as_str()) {
            continue;
        }
        match REFUSED.iter().find(|(k, _)| k == key) {
            Some((_, why)) => return Err(err(key, *why)),
            None => return Err(err(key, "unknown field")),
        }
    }
    let mut req = ChatRequest {
        model: as_str(
            get(obj, "model").ok_or_else(|| err("model", "is required"))?,
            "model",
        )?
        .to_owned(),
        ..ChatRequest::default()
    };
    check_stateless(obj)?;
    let mut system = Vec::new();
    if let Some(v) = get(obj, "instructions") {
        system.push(as_str(v, "instructions")?.to_owned());
    }
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
        req.max_tokens =
            Some(n.ok_or_else(|| err("max_output_tokens", "must be a whole number below 2^32"))?);
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
    for key in ["user", "safety_identifier"] {
        if let (None, Some(v)) = (&req.user, get(obj, key)) {
            req.user = Some(as_str(v, key)?.to_owned());
        }
    }
    Ok(req)
}

/// Refuses the values of `background`, `include`, `truncation` and `text` that need the
/// provider's own server-side features.
fn check_stateless(obj: &Map<String, Value>) -> Result<(), Untranslatable> {
    if let Some(v) = get(obj, "background") {
        match v.as_bool() {
            Some(false) => {}
            Some(true) => {
                return Err(err(
                    "background",
                    "background responses are stored and polled on one provider",
                ))
            }
            None => return Err(err("background", "must be true or false")),
        }
    }
    if let Some(v) = get(obj, "include") {
        let items = v
            .as_array()
            .ok_or_else(|| err("include", "must be an array"))?;
        if !items.is_empty() {
            return Err(err(
                "include",
                "extra output data (reasoning, search results, logprobs) is not translated",
            ));
        }
    }
    if let Some(v) = get(obj, "truncation") {
        match v.as_str() {
            Some("disabled") => {}
            _ => return Err(err("truncation", "only \"disabled\" can be translated: other providers do not truncate the input for you")),
        }
    }
    if let Some(v) = get(obj, "text") {
        for (key, v) in as_object(v, "text")? {
            match key.as_str() {
                _ if v.is_null() => {}
                "verbosity" => {}
                "format" if v.get("type").and_then(Value::as_str) == Some("text") => {}
                "format" => {
                    return Err(err(
                        "text.format",
                        "structured output (json_schema, json_object) is not translated",
                    ))
                }
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
    let kind = match get(obj, "type") {
        None => "message",
        Some(v) => as_str(v, &format!("{at}.type"))?,
    };
    match kind {
        "message" => {
            let role = req_str(obj, "role", at)?;
            let content = get(obj, "content").ok_or_else(|| err(format!("{at}.content"), "is required"))?;
            let inner = format!("{at}.content");
            match role {
                "user" => push(messages, Role::User, parse_content(content, &inner)?),
                "assistant" => push(messages, Role::Assistant, parse_content(content, &inner)?),
                "system" | "developer" => {
                    let mut text = String::new();
                    for (j, part) in parse_content(content, &inner)?.into_iter().enumerate() {
                        match part {
                            Part::Text(t) => text.push_str(&t),
                            _ => return Err(err(format!("{inner}[{j}].type"), "a system or developer message can only hold text")),
                        }
                    }
                    system.push(text);
                }
                other => return Err(err(format!("{at}.role"), format!("unknown role {other:?}"))),
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
            let field = format!("{at}.output");
            let content = match get(obj, "output").ok_or_else(|| err(&field, "is required"))? {
                Value::String(s) => s.clone(),
                Value::Array(_) => {
                    let mut text = String::new();
                    for (j, part) in parse_content(&obj["output"], &field)?.into_iter().enumerate() {
                        match part {
                            Part::Text(t) => text.push_str(&t),
                            _ => return Err(err(format!("{field}[{j}].type"), "only text tool output can be translated")),
                        }
                    }
                    text
                }
                _ => return Err(err(field, "must be a string or an array of content")),
            };
            let result = Part::ToolResult {
                call_id,
                content,
                is_error: false,
            };
            push(messages, Role::User, vec![result]);
        }
        other => {
            return Err(err(
                format!("{at}.type"),
                format!("input item {other:?} cannot be translated: only message, function_call and function_call_output items can"),
            ))
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
        match req_str(obj, "type", &at)? {
            "input_text" | "output_text" => {
                out.push(Part::Text(req_str(obj, "text", &at)?.to_owned()))
            }
            "refusal" => out.push(Part::Text(req_str(obj, "refusal", &at)?.to_owned())),
            "input_image" => {
                if get(obj, "file_id").is_some() {
                    return Err(err(format!("{at}.file_id"), "uploaded files live on one provider; send the image by URL or as a data: URL"));
                }
                out.push(Part::Image(image_source(req_str(obj, "image_url", &at)?)));
            }
            other => {
                return Err(err(
                    format!("{at}.type"),
                    format!("content part {other:?} cannot be translated"),
                ))
            }
        }
    }
    Ok(out)
}

/// A `data:<media type>;base64,<data>` URL becomes inline data; any other URL stays one.
fn image_source(url: &str) -> ImageSource {
    if let Some((media_type, data)) = url
        .strip_prefix("data:")
        .and_then(|rest| rest.split_once(";base64,"))
    {
        if !media_type.is_empty() && !media_type.contains([',', ';']) {
            return ImageSource::Base64 {
                media_type: media_type.to_owned(),
                data: data.to_owned(),
            };
        }
    }
    ImageSource::Url(url.to_owned())
}

fn parse_tool(t: &Value, at: &str) -> Result<Tool, Untranslatable> {
    let obj = as_object(t, at)?;
    match req_str(obj, "type", at)? {
        "function" => {}
        other => {
            return Err(err(
                format!("{at}.type"),
                format!("built-in tool {other:?} runs on OpenAI's servers; only function tools can be translated"),
            ))
        }
    }
    let description = match get(obj, "description") {
        Some(v) => Some(as_str(v, &format!("{at}.description"))?.to_owned()),
        None => None,
    };
    Ok(Tool {
        name: req_str(obj, "name", at)?.to_owned(),
        description,
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
        Value::Object(obj) => match get(obj, "type").and_then(Value::as_str) {
            Some("function") => Ok(ToolChoice::Named(req_str(obj, "name", "tool_choice")?.to_owned())),
            _ => Err(err("tool_choice.type", "only a function can be chosen; built-in tools and allowed_tools cannot be translated")),
        },
        _ => Err(err("tool_choice", "must be a string or an object")),
    }
}

fn image_url(src: &ImageSource) -> String {
    match src {
        ImageSource::Url(url) => url.clone(),
        ImageSource::Base64 { media_type, data } => format!("data:{media_type};base64,{data}"),
    }
}

/// Renders a request for a deployment that speaks the Responses API, asking for `model`.
/// Always sends `store: false` (nothing is ever looked up later). Refuses stop sequences (the
/// Responses API has none), images in assistant turns, and tool calls or results in the wrong
/// role's turn. A tool result's `is_error` is not rendered (this shape has no such flag).
pub fn render_request(req: &ChatRequest, model: &str) -> Result<Vec<u8>, Untranslatable> {
    if !req.stop.is_empty() {
        return Err(err("stop", "the Responses API has no stop sequences"));
    }
    let mut input = Vec::new();
    for (i, m) in req.messages.iter().enumerate() {
        let (role, text_type) = match m.role {
            Role::User => ("user", "input_text"),
            Role::Assistant => ("assistant", "output_text"),
        };
        let start = input.len();
        let mut run = Vec::new();
        let flush = |run: &mut Vec<Value>, input: &mut Vec<Value>| {
            if !run.is_empty() {
                let content = std::mem::take(run);
                input.push(json!({"type": "message", "role": role, "content": content}));
            }
        };
        for (j, part) in m.content.iter().enumerate() {
            let at = || format!("messages[{i}].content[{j}]");
            match (m.role, part) {
                (_, Part::Text(t)) => run.push(json!({"type": text_type, "text": t})),
                (Role::User, Part::Image(src)) => {
                    run.push(json!({"type": "input_image", "image_url": image_url(src)}))
                }
                (Role::Assistant, Part::Image(_)) => {
                    return Err(err(
                        at(),
                        "the Responses API has no images in assistant turns",
                    ))
                }
                (
                    Role::Assistant,
                    Part::ToolCall {
                        id,
                        name,
                        arguments,
                    },
                ) => {
                    flush(&mut run, &mut input);
                    input.push(json!({"type": "function_call", "call_id": id, "name": name, "arguments": arguments}));
                }
                (
                    Role::User,
                    Part::ToolResult {
                        call_id, content, ..
                    },
                ) => {
                    flush(&mut run, &mut input);
                    input.push(json!({"type": "function_call_output", "call_id": call_id, "output": content}));
                }
                (Role::User, Part::ToolCall { .. }) => {
                    return Err(err(at(), "a tool call must be in an assistant turn"))
                }
                (Role::Assistant, Part::ToolResult { .. }) => {
                    return Err(err(at(), "a tool result must be in a user turn"))
                }
            }
        }
        flush(&mut run, &mut input);
        if input.len() == start {
            input.push(json!({"type": "message", "role": role, "content": []}));
        }
    }
    let mut body = Map::new();
    body.insert("model".into(), json!(model));
    if let Some(system) = &req.system {
        body.insert("instructions".into(), json!(system));
    }
    body.insert("input".into(), Value::Array(input));
    if let Some(n) = req.max_tokens {
        body.insert("max_output_tokens".into(), json!(n));
    }
    if let Some(t) = req.temperature {
        body.insert("temperature".into(), json!(t));
    }
    if let Some(p) = req.top_p {
        body.insert("top_p".into(), json!(p));
    }
    body.insert("stream".into(), json!(req.stream));
    body.insert("store".into(), json!(false));
    if !req.tools.is_empty() {
        let tools: Vec<Value> = req
            .tools
            .iter()
            .map(|t| {
                let mut tool =
                    json!({"type": "function", "name": t.name, "parameters": t.parameters});
                if let Some(d) = &t.description {
                    tool["description"] = json!(d);
                }
                tool
            })
            .collect();
        body.insert("tools".into(), Value::Array(tools));
    }
    if let Some(choice) = &req.tool_choice {
        let choice = match choice {
            ToolChoice::Auto => json!("auto"),
            ToolChoice::None => json!("none"),
            ToolChoice::Required => json!("required"),
            ToolChoice::Named(name) => json!({"type": "function", "name": name}),
        };
        body.insert("tool_choice".into(), choice);
    }
    if let Some(user) = &req.user {
        body.insert("user".into(), json!(user));
    }
    Ok(serde_json::to_vec(&Value::Object(body)).expect("a JSON value always serialises"))
}
