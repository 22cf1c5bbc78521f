//! Requests in the shapes of OpenAI's documentation, and every refused field by name.

use serde_json::{json, Value};

use super::*;
use crate::protocol::canonical::{ChatRequest, ImageSource, Message, Part, Role, Tool, ToolChoice};

pub(super) fn text(t: &str) -> Part {
    Part::Text(t.into())
}

pub(super) fn call(id: &str, name: &str, args: &str) -> Part {
    Part::ToolCall {
        id: id.into(),
        name: name.into(),
        arguments: args.into(),
    }
}

pub(super) fn result(id: &str, content: &str) -> Part {
    Part::ToolResult {
        call_id: id.into(),
        content: content.into(),
        is_error: false,
    }
}

fn weather_tool() -> Value {
    json!({"type": "function", "function": {
        "name": "get_weather",
        "description": "Get the current weather",
        "parameters": {"type": "object", "properties": {"location": {"type": "string"}}, "required": ["location"]},
        "strict": true,
    }})
}

#[test]
fn parses_a_documented_conversation() {
    let body = json!({
        "model": "gpt-4o",
        "messages": [
            {"role": "developer", "content": "You are terse."},
            {"role": "system", "content": [{"type": "text", "text": "Answer in "}, {"type": "text", "text": "English."}]},
            {"role": "user", "content": [
                {"type": "text", "text": "What is in this image, and the weather in Paris?"},
                {"type": "image_url", "image_url": {"url": "https://example.com/cat.png", "detail": "high"}},
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}},
            ]},
            {"role": "assistant", "content": null, "tool_calls": [
                {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{\"location\":\"Paris\"}"}},
                {"id": "call_2", "type": "function", "function": {"name": "get_weather", "arguments": "{\"location\":\"Lyon\"}"}},
            ]},
            {"role": "tool", "tool_call_id": "call_1", "content": "18C"},
            {"role": "tool", "tool_call_id": "call_2", "content": [{"type": "text", "text": "20C"}]},
            {"role": "user", "content": "Thanks", "name": "ann"},
        ],
        "tools": [weather_tool()],
        "tool_choice": {"type": "function", "function": {"name": "get_weather"}},
        "max_tokens": 100,
        "temperature": 0.5,
        "top_p": 0.9,
        "stop": "END",
        "stream": true,
        "stream_options": {"include_usage": true},
        "store": false,
        "metadata": {"k": "v"},
        "seed": 7,
        "n": 1,
        "user": "user-123",
    });
    let req = parse_request(body.to_string().as_bytes()).unwrap();
    let expected = ChatRequest {
        model: "gpt-4o".into(),
        system: Some("You are terse.\n\nAnswer in English.".into()),
        messages: vec![
            Message {
                role: Role::User,
                content: vec![
                    text("What is in this image, and the weather in Paris?"),
                    Part::Image(ImageSource::Url("https://example.com/cat.png".into())),
                    Part::Image(ImageSource::Base64 {
                        media_type: "image/png".into(),
                        data: "iVBORw0KGgo=".into(),
                    }),
                ],
            },
            Message {
                role: Role::Assistant,
                content: vec![
                    call("call_1", "get_weather", r#"{"location":"Paris"}"#),
                    call("call_2", "get_weather", r#"{"location":"Lyon"}"#),
                ],
            },
            Message {
                role: Role::User,
                content: vec![result("call_1", "18C"), result("call_2", "20C")],
            },
            Message {
                role: Role::User,
                content: vec![text("Thanks")],
            },
        ],
        max_tokens: Some(100),
        temperature: Some(0.5),
        top_p: Some(0.9),
        stop: vec!["END".into()],
        stream: true,
        tools: vec![Tool {
            name: "get_weather".into(),
            description: Some("Get the current weather".into()),
            parameters: weather_tool()["function"]["parameters"].clone(),
        }],
        tool_choice: Some(ToolChoice::Named("get_weather".into())),
        user: Some("user-123".into()),
    };
    assert_eq!(req, expected);
}

#[test]
fn max_completion_tokens_wins_and_choices_parse() {
    let body = json!({"model": "m", "messages": [], "max_tokens": 5, "max_completion_tokens": 9,
        "stop": ["a", "b"], "tool_choice": "required"});
    let req = parse_request(body.to_string().as_bytes()).unwrap();
    assert_eq!(req.max_tokens, Some(9));
    assert_eq!(req.stop, vec!["a", "b"]);
    assert_eq!(req.tool_choice, Some(ToolChoice::Required));
    for (c, want) in [("auto", ToolChoice::Auto), ("none", ToolChoice::None)] {
        let body = json!({"model": "m", "messages": [], "tool_choice": c});
        let req = parse_request(body.to_string().as_bytes()).unwrap();
        assert_eq!(req.tool_choice, Some(want));
    }
}

#[test]
fn refused_fields_are_named() {
    let user = |content: Value| json!([{"role": "user", "content": content}]);
    let cases: Vec<(Value, &str)> = vec![
        (json!({"n": 2}), "n"),
        (json!({"logprobs": true}), "logprobs"),
        (json!({"top_logprobs": 2}), "top_logprobs"),
        (
            json!({"audio": {"voice": "alloy", "format": "wav"}}),
            "audio",
        ),
        (json!({"modalities": ["text", "audio"]}), "modalities"),
        (
            json!({"response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema": {}}}}),
            "response_format.type",
        ),
        (json!({"frequency_penalty": 0.5}), "frequency_penalty"),
        (json!({"presence_penalty": -1}), "presence_penalty"),
        (json!({"logit_bias": {"50256": -100}}), "logit_bias"),
        (json!({"parallel_tool_calls": false}), "parallel_tool_calls"),
        (json!({"reasoning_effort": "high"}), "reasoning_effort"),
        (json!({"web_search_options": {}}), "web_search_options"),
        (json!({"functions": []}), "functions"),
        (
            json!({"messages": user(json!([{"type": "text", "text": "hi"}, {"type": "input_audio", "input_audio": {"data": "AAA", "format": "wav"}}]))}),
            "messages[0].content[1].type",
        ),
        (
            json!({"messages": user(json!([{"type": "file", "file": {"file_id": "f"}}]))}),
            "messages[0].content[0].type",
        ),
        (
            json!({"messages": user(json!([{"type": "image_url", "image_url": {"url": "data:text/plain,hi"}}]))}),
            "messages[0].content[0].image_url.url",
        ),
        (
            json!({"messages": [{"role": "function", "name": "f", "content": "x"}]}),
            "messages[0].role",
        ),
        (
            json!({"messages": [{"role": "assistant", "audio": {"id": "a"}}]}),
            "messages[0].audio",
        ),
        (
            json!({"messages": [{"role": "assistant", "tool_calls": [{"id": "c", "type": "custom", "custom": {}}]}]}),
            "messages[0].tool_calls[0].type",
        ),
        (
            json!({"tools": [{"type": "custom", "custom": {"name": "x"}}]}),
            "tools[0].type",
        ),
        (
            json!({"tool_choice": {"type": "allowed_tools", "allowed_tools": {}}}),
            "tool_choice.type",
        ),
        (json!({"max_tokens": -1}), "max_tokens"),
        (json!({"stop": 3}), "stop"),
    ];
    for (patch, field) in cases {
        let mut body = json!({"model": "m", "messages": [{"role": "user", "content": "hi"}]});
        for (k, v) in patch.as_object().unwrap() {
            body[k] = v.clone();
        }
        let err = parse_request(body.to_string().as_bytes()).unwrap_err();
        assert_eq!(err.field, field, "{body}: {err}");
    }
    assert_eq!(parse_request(b"{nope").unwrap_err().field, "body");
    assert_eq!(parse_request(b"{}").unwrap_err().field, "messages");
}

#[test]
fn renders_tool_results_as_tool_messages_and_asks_for_stream_usage() {
    let req = ChatRequest {
        model: "client".into(),
        system: Some("sys".into()),
        messages: vec![
            Message {
                role: Role::Assistant,
                content: vec![text("let me check"), call("c1", "f", "{}")],
            },
            Message {
                role: Role::User,
                content: vec![
                    result("c1", "ok"),
                    Part::ToolResult {
                        call_id: "c2".into(),
                        content: "failed".into(),
                        is_error: true,
                    },
                    text("and?"),
                    Part::Image(ImageSource::Base64 {
                        media_type: "image/jpeg".into(),
                        data: "AAAA".into(),
                    }),
                ],
            },
        ],
        max_tokens: Some(10),
        stream: true,
        ..ChatRequest::default()
    };
    let body: Value = serde_json::from_slice(&render_request(&req, "gpt-4o").unwrap()).unwrap();
    assert_eq!(
        body,
        json!({
            "model": "gpt-4o",
            "messages": [
                {"role": "system", "content": "sys"},
                {"role": "assistant", "content": "let me check", "tool_calls": [
                    {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}]},
                {"role": "tool", "tool_call_id": "c1", "content": "ok"},
                {"role": "tool", "tool_call_id": "c2", "content": "failed"},
                {"role": "user", "content": [
                    {"type": "text", "text": "and?"},
                    {"type": "image_url", "image_url": {"url": "data:image/jpeg;base64,AAAA"}}]},
            ],
            "max_completion_tokens": 10,
            "stream": true,
            "stream_options": {"include_usage": true},
        })
    );
    let bad_turn = ChatRequest {
        messages: vec![Message {
            role: Role::Assistant,
            content: vec![text("x"), Part::Image(ImageSource::Url("https://x".into()))],
        }],
        ..ChatRequest::default()
    };
    let err = render_request(&bad_turn, "m").unwrap_err();
    assert_eq!(err.field, "messages[0].content[1]");
}
