//! The fixed answers of the test mock ([`crate::upstream`]) in each API shape it speaks: OpenAI chat
//! completions (`…/chat/completions`) and Anthropic Messages (`…/v1/messages`), plain and
//! streamed, with a tool call when the request offers tools and has no tool result yet (so a
//! client can run a whole tool round trip), and each shape's error body.

use serde_json::{json, Value};

/// What a request asks of the mock.
#[derive(Debug, Clone, Default)]
pub struct Asked {
    /// The first tool offered, if the answer should call it.
    pub call_tool: Option<String>,
}

impl Asked {
    /// Reads a request body (either shape).
    pub fn of(doc: &Value) -> Asked {
        let has_result = doc["messages"].as_array().is_some_and(|ms| {
            ms.iter().any(|m| {
                m["role"] == "tool"
                    || m["content"]
                        .as_array()
                        .is_some_and(|c| c.iter().any(|b| b["type"] == "tool_result"))
            })
        });
        let first_tool = doc["tools"]
            .as_array()
            .and_then(|t| t.first())
            .and_then(|t| {
                t["name"]
                    .as_str()
                    .or_else(|| t["function"]["name"].as_str())
                    .map(str::to_owned)
            });
        Asked {
            call_tool: first_tool.filter(|_| !has_result),
        }
    }
}

/// Arguments of the mock's tool call.
pub const TOOL_ARGUMENTS: &str = r#"{"location":"Paris"}"#;

/// A non-streamed OpenAI chat answer.
pub fn openai_answer(asked: &Asked) -> String {
    let Some(tool) = &asked.call_tool else {
        return crate::upstream::CHAT_ANSWER.to_owned();
    };
    json!({
        "id": "chatcmpl-mock", "object": "chat.completion", "created": 1_700_000_000,
        "model": "mock-model",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": null,
            "tool_calls": [{"id": "call_mock", "type": "function",
                "function": {"name": tool, "arguments": TOOL_ARGUMENTS}}]},
            "finish_reason": "tool_calls"}],
        "usage": {"prompt_tokens": 9, "completion_tokens": 7, "total_tokens": 16}
    })
    .to_string()
}

/// The SSE events of a streamed OpenAI chat answer that calls a tool.
pub fn openai_tool_sse_events(tool: &str) -> Vec<String> {
    let chunk = |delta: Value, finish: Value| {
        format!(
            "data: {}\n\n",
            json!({"id": "chatcmpl-mock", "object": "chat.completion.chunk", "model": "mock-model",
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})
        )
    };
    vec![
        chunk(
            json!({"role": "assistant", "content": null, "tool_calls": [{"index": 0,
                "id": "call_mock", "type": "function",
                "function": {"name": tool, "arguments": ""}}]}),
            Value::Null,
        ),
        chunk(
            json!({"tool_calls": [{"index": 0, "function": {"arguments": TOOL_ARGUMENTS}}]}),
            Value::Null,
        ),
        chunk(json!({}), json!("tool_calls")),
        "data: {\"id\":\"chatcmpl-mock\",\"object\":\"chat.completion.chunk\",\"model\":\"mock-model\",\"choices\":[],\"usage\":{\"prompt_tokens\":9,\"completion_tokens\":5,\"total_tokens\":14}}\n\n".to_owned(),
        "data: [DONE]\n\n".to_owned(),
    ]
}

/// A non-streamed Anthropic answer.
pub fn anthropic_answer(asked: &Asked) -> String {
    let (content, stop) = match &asked.call_tool {
        None => (
            json!([{"type": "text", "text": "Hello from the mock."}]),
            "end_turn",
        ),
        Some(tool) => (
            json!([{"type": "tool_use", "id": "toolu_mock", "name": tool,
                "input": serde_json::from_str::<Value>(TOOL_ARGUMENTS).unwrap_or_default()}]),
            "tool_use",
        ),
    };
    json!({
        "id": "msg_mock", "type": "message", "role": "assistant", "model": "mock-model",
        "content": content, "stop_reason": stop, "stop_sequence": null,
        "usage": {"input_tokens": 9, "output_tokens": 7}
    })
    .to_string()
}

fn event(name: &str, data: &Value) -> String {
    format!("event: {name}\ndata: {data}\n\n")
}

/// The SSE events of a streamed Anthropic answer: `chunks` text deltas (`token0 `, …), or one
/// tool call, in Anthropic's order.
pub fn anthropic_sse_events(chunks: usize, asked: &Asked) -> Vec<String> {
    let mut out = vec![
        event(
            "message_start",
            &json!({"type": "message_start", "message": {"id": "msg_mock", "type": "message",
                "role": "assistant", "model": "mock-model", "content": [], "stop_reason": null,
                "stop_sequence": null, "usage": {"input_tokens": 9, "output_tokens": 1}}}),
        ),
        event("ping", &json!({"type": "ping"})),
    ];
    let stop = match &asked.call_tool {
        None => {
            out.push(event(
                "content_block_start",
                &json!({"type": "content_block_start", "index": 0,
                    "content_block": {"type": "text", "text": ""}}),
            ));
            for i in 0..chunks {
                out.push(event(
                    "content_block_delta",
                    &json!({"type": "content_block_delta", "index": 0,
                        "delta": {"type": "text_delta", "text": format!("token{i} ")}}),
                ));
            }
            "end_turn"
        }
        Some(tool) => {
            out.push(event(
                "content_block_start",
                &json!({"type": "content_block_start", "index": 0,
                    "content_block": {"type": "tool_use", "id": "toolu_mock", "name": tool,
                        "input": {}}}),
            ));
            out.push(event(
                "content_block_delta",
                &json!({"type": "content_block_delta", "index": 0,
                    "delta": {"type": "input_json_delta", "partial_json": TOOL_ARGUMENTS}}),
            ));
            "tool_use"
        }
    };
    out.push(event(
        "content_block_stop",
        &json!({"type": "content_block_stop", "index": 0}),
    ));
    out.push(event(
        "message_delta",
        &json!({"type": "message_delta", "delta": {"stop_reason": stop, "stop_sequence": null},
            "usage": {"output_tokens": 5}}),
    ));
    out.push(event("message_stop", &json!({"type": "message_stop"})));
    out
}

/// Anthropic's error body for a status: `rate_limit_error` for 429, `overloaded_error` for
/// 529, `authentication_error` for 401, and so on.
pub fn anthropic_error(status: u16) -> String {
    let kind = match status {
        400 => "invalid_request_error",
        401 => "authentication_error",
        403 => "permission_error",
        404 => "not_found_error",
        413 => "request_too_large",
        429 => "rate_limit_error",
        529 => "overloaded_error",
        _ => "api_error",
    };
    json!({"type": "error", "error": {"type": kind, "message": format!("mock answer {status}")}})
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tools_are_called_until_a_result_comes_back() {
        let offered = json!({"tools": [{"name": "weather", "input_schema": {}}],
            "messages": [{"role": "user", "content": "hi"}]});
        assert_eq!(Asked::of(&offered).call_tool.as_deref(), Some("weather"));
        let openai = json!({"tools": [{"type": "function", "function": {"name": "w"}}],
            "messages": [{"role": "tool", "tool_call_id": "c", "content": "sunny"}]});
        assert_eq!(Asked::of(&openai).call_tool, None);
        let answered = json!({"tools": [{"name": "weather"}],
            "messages": [{"role": "user", "content": [{"type": "tool_result",
                "tool_use_id": "t", "content": "sunny"}]}]});
        assert_eq!(Asked::of(&answered).call_tool, None);
    }

    #[test]
    fn answers_are_valid_json_in_their_shape() {
        for asked in [
            Asked::default(),
            Asked {
                call_tool: Some("w".into()),
            },
        ] {
            let a: Value = serde_json::from_str(&anthropic_answer(&asked)).unwrap();
            assert_eq!(a["type"], "message");
            let o: Value = serde_json::from_str(&openai_answer(&asked)).unwrap();
            assert_eq!(o["object"], "chat.completion");
            let events = anthropic_sse_events(3, &asked);
            assert!(events[0].starts_with("event: message_start\n"));
            assert!(events.last().unwrap().starts_with("event: message_stop\n"));
        }
        let e: Value = serde_json::from_str(&anthropic_error(529)).unwrap();
        assert_eq!(e["error"]["type"], "overloaded_error");
    }
}
