//! Requests out: a [`ChatRequest`] rendered as a Responses API body.

use serde_json::{json, Value};

use super::request::err;
use crate::protocol::canonical::{
    ChatRequest, ImageSource, Message, Part, Role, Tool, ToolChoice, Untranslatable,
};

fn image_url(src: &ImageSource) -> String {
    match src {
        ImageSource::Url(url) => url.clone(),
        ImageSource::Base64 { media_type, data } => format!("data:{media_type};base64,{data}"),
    }
}

/// The input items of one turn: runs of text and images are one `message` item, each tool call
/// a `function_call` item, each tool result a `function_call_output` item; an empty turn is an
/// empty message.
fn render_turn(m: &Message, i: usize, input: &mut Vec<Value>) -> Result<(), Untranslatable> {
    let (role, text_type) = match m.role {
        Role::User => ("user", "input_text"),
        Role::Assistant => ("assistant", "output_text"),
    };
    let start = input.len();
    let mut run = Vec::new();
    let flush = |run: &mut Vec<Value>, input: &mut Vec<Value>| {
        if !run.is_empty() || input.len() == start {
            let content = std::mem::take(run);
            input.push(json!({"type": "message", "role": role, "content": content}));
        }
    };
    for (j, part) in m.content.iter().enumerate() {
        let refuse = |why: &str| Err(err(format!("messages[{i}].content[{j}]"), why));
        match (m.role, part) {
            (_, Part::Text(t)) => run.push(json!({"type": text_type, "text": t})),
            (Role::User, Part::Image(src)) => {
                run.push(json!({"type": "input_image", "image_url": image_url(src)}))
            }
            (
                Role::Assistant,
                Part::ToolCall {
                    id,
                    name,
                    arguments,
                },
            ) => {
                if !run.is_empty() {
                    flush(&mut run, input);
                }
                let call = json!({"call_id": id, "name": name, "arguments": arguments});
                input.push(with_type("function_call", call));
            }
            (
                Role::User,
                Part::ToolResult {
                    call_id, content, ..
                },
            ) => {
                if !run.is_empty() {
                    flush(&mut run, input);
                }
                let result = json!({"call_id": call_id, "output": content});
                input.push(with_type("function_call_output", result));
            }
            (Role::Assistant, Part::Image(_)) => return refuse("no images in assistant turns"),
            (Role::User, Part::ToolCall { .. }) => return refuse("tool calls are the assistant's"),
            (Role::Assistant, Part::ToolResult { .. }) => {
                return refuse("tool results are the user's")
            }
        }
    }
    flush(&mut run, input);
    Ok(())
}

/// `v` with `"type": kind` added.
fn with_type(kind: &str, mut v: Value) -> Value {
    v["type"] = json!(kind);
    v
}

/// The Responses API refuses `max_output_tokens` below 16: a budget of 1 to 15 (e.g. a
/// `max_tokens: 1` availability probe) is raised to 16; 0 passes through as the upstream's own
/// error.
const MIN_OUTPUT_TOKENS: u32 = 16;

fn render_max_tokens(n: u32) -> u32 {
    if n == 0 {
        0
    } else {
        n.max(MIN_OUTPUT_TOKENS)
    }
}

/// Renders a request for a deployment that speaks the Responses API, asking for `model`.
/// Always sends `store: false` (nothing is ever looked up later). Refuses stop sequences (the
/// Responses API has none), images in assistant turns, and tool calls or results in the wrong
/// role's turn. A tool result's `is_error` is not rendered (this shape has no such flag). A
/// `max_tokens` of 1 to 15 is raised to 16, the least this API accepts.
pub fn render_request(req: &ChatRequest, model: &str) -> Result<Vec<u8>, Untranslatable> {
    if !req.stop.is_empty() {
        return Err(err("stop", "the Responses API has no stop sequences"));
    }
    let mut input = Vec::new();
    for (i, m) in req.messages.iter().enumerate() {
        render_turn(m, i, &mut input)?;
    }
    let mut body = json!({"model": model, "input": input, "stream": req.stream, "store": false});
    let mut set = |key: &str, v: Value| body[key] = v;
    if let Some(system) = &req.system {
        set("instructions", json!(system));
    }
    if let Some(n) = req.max_tokens {
        set("max_output_tokens", json!(render_max_tokens(n)));
    }
    if let Some(t) = req.temperature {
        set("temperature", json!(t));
    }
    if let Some(p) = req.top_p {
        set("top_p", json!(p));
    }
    if !req.tools.is_empty() {
        let tool = |t: &Tool| {
            let mut tool = json!({"type": "function", "name": t.name, "parameters": t.parameters});
            if let Some(d) = &t.description {
                tool["description"] = json!(d);
            }
            tool
        };
        set("tools", req.tools.iter().map(tool).collect());
    }
    if let Some(choice) = &req.tool_choice {
        set(
            "tool_choice",
            match choice {
                ToolChoice::Auto => json!("auto"),
                ToolChoice::None => json!("none"),
                ToolChoice::Required => json!("required"),
                ToolChoice::Named(name) => json!({"type": "function", "name": name}),
            },
        );
    }
    if let Some(user) = &req.user {
        set("user", json!(user));
    }
    Ok(body.to_string().into_bytes())
}
