//! Requests in the shapes of Anthropic's documentation, and every refused field by name.

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

fn schema() -> Value {
    json!({"type": "object", "properties": {"location": {"type": "string"}}, "required": ["location"]})
}

#[test]
fn parses_a_documented_conversation() {
    let body = json!({
        "model": "claude-sonnet-4-5",
        "max_tokens": 1024,
        "system": [
            {"type": "text", "text": "You are a helpful assistant.", "cache_control": {"type": "ephemeral"}},
            {"type": "text", "text": "Be brief."},
        ],
        "messages": [
            {"role": "user", "content": [
                {"type": "text", "text": "What's the weather here?"},
                {"type": "image", "source": {"type": "base64", "media_type": "image/jpeg", "data": "/9j/4AAQ"}},
                {"type": "image", "source": {"type": "url", "url": "https://upload.wikimedia.org/a.jpg"}},
            ]},
            {"role": "assistant", "content": [
                {"type": "text", "text": "I'll check."},
                {"type": "tool_use", "id": "toolu_01A", "name": "get_weather", "input": {"location": "San Francisco, CA"}},
            ]},
            {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "toolu_01A", "content": "15 degrees", "cache_control": {"type": "ephemeral"}},
                {"type": "tool_result", "tool_use_id": "toolu_01B",
                    "content": [{"type": "text", "text": "not "}, {"type": "text", "text": "found"}], "is_error": true},
                {"type": "text", "text": "Thanks"},
            ]},
            {"role": "assistant", "content": "You're welcome"},
        ],
        "tools": [{"name": "get_weather", "description": "Get the current weather", "input_schema": schema(),
            "cache_control": {"type": "ephemeral"}}],
        "tool_choice": {"type": "any"},
        "temperature": 0.7,
        "top_p": 0.9,
        "stop_sequences": ["\n\nHuman:"],
        "stream": true,
        "metadata": {"user_id": "u-1"},
        "service_tier": "auto",
        "thinking": {"type": "disabled"},
    });
    let req = parse_request(body.to_string().as_bytes()).unwrap();
    let expected = ChatRequest {
        model: "claude-sonnet-4-5".into(),
        system: Some("You are a helpful assistant.\n\nBe brief.".into()),
        messages: vec![
            Message {
                role: Role::User,
                content: vec![
                    text("What's the weather here?"),
                    Part::Image(ImageSource::Base64 {
                        media_type: "image/jpeg".into(),
                        data: "/9j/4AAQ".into(),
                    }),
                    Part::Image(ImageSource::Url(
                        "https://upload.wikimedia.org/a.jpg".into(),
                    )),
                ],
            },
            Message {
                role: Role::Assistant,
                content: vec![
                    text("I'll check."),
                    call(
                        "toolu_01A",
                        "get_weather",
                        r#"{"location":"San Francisco, CA"}"#,
                    ),
                ],
            },
            Message {
                role: Role::User,
                content: vec![
                    Part::ToolResult {
                        call_id: "toolu_01A".into(),
                        content: "15 degrees".into(),
                        is_error: false,
                    },
                    Part::ToolResult {
                        call_id: "toolu_01B".into(),
                        content: "not found".into(),
                        is_error: true,
                    },
                    text("Thanks"),
                ],
            },
            Message {
                role: Role::Assistant,
                content: vec![text("You're welcome")],
            },
        ],
        max_tokens: Some(1024),
        temperature: Some(0.7),
        top_p: Some(0.9),
        stop: vec!["\n\nHuman:".into()],
        stream: true,
        tools: vec![Tool {
            name: "get_weather".into(),
            description: Some("Get the current weather".into()),
            parameters: schema(),
        }],
        tool_choice: Some(ToolChoice::Required),
        user: Some("u-1".into()),
    };
    assert_eq!(req, expected);
    let minimal =
        parse_request(br#"{"model":"m","messages":[],"tool_choice":{"type":"tool","name":"t"}}"#);
    let minimal = minimal.unwrap();
    assert_eq!(minimal.max_tokens, None, "a missing max_tokens is accepted");
    assert_eq!(minimal.tool_choice, Some(ToolChoice::Named("t".into())));
}

#[test]
fn refused_fields_are_named() {
    let user = |block: Value| json!([{"role": "user", "content": [block]}]);
    let assistant = |block: Value| json!([{"role": "assistant", "content": [block]}]);
    let cases: Vec<(Value, &str)> = vec![
        (
            json!({"thinking": {"type": "enabled", "budget_tokens": 2048}}),
            "thinking",
        ),
        (json!({"top_k": 5}), "top_k"),
        (json!({"mcp_servers": []}), "mcp_servers"),
        (json!({"container": "c"}), "container"),
        (
            json!({"messages": user(json!({"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": "x"}}))}),
            "messages[0].content[0].type",
        ),
        (
            json!({"messages": assistant(json!({"type": "thinking", "thinking": "hm", "signature": "s"}))}),
            "messages[0].content[0].type",
        ),
        (
            json!({"messages": assistant(json!({"type": "server_tool_use", "id": "s", "name": "web_search", "input": {}}))}),
            "messages[0].content[0].type",
        ),
        (
            json!({"messages": user(json!({"type": "tool_use", "id": "t", "name": "n", "input": {}}))}),
            "messages[0].content[0].type",
        ),
        (
            json!({"messages": user(json!({"type": "image", "source": {"type": "file", "file_id": "f"}}))}),
            "messages[0].content[0].source.type",
        ),
        (
            json!({"messages": user(json!({"type": "tool_result", "tool_use_id": "t",
                "content": [{"type": "image", "source": {"type": "url", "url": "https://x"}}]}))}),
            "messages[0].content[0].content[0].type",
        ),
        (
            json!({"tools": [{"type": "web_search_20250305", "name": "web_search", "max_uses": 5}]}),
            "tools[0].type",
        ),
        (
            json!({"tool_choice": {"type": "auto", "disable_parallel_tool_use": true}}),
            "tool_choice.disable_parallel_tool_use",
        ),
        (
            json!({"messages": [{"role": "system", "content": "x"}]}),
            "messages[0].role",
        ),
        (json!({"system": [{"type": "image"}]}), "system[0].type"),
        (json!({"max_tokens": "many"}), "max_tokens"),
    ];
    for (patch, field) in cases {
        let mut body = json!({"model": "m", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]});
        for (k, v) in patch.as_object().unwrap() {
            body[k] = v.clone();
        }
        let err = parse_request(body.to_string().as_bytes()).unwrap_err();
        assert_eq!(err.field, field, "{body}: {err}");
    }
    assert_eq!(parse_request(b"[]").unwrap_err().field, "body");
    assert_eq!(parse_request(b"{}").unwrap_err().field, "messages");
}

#[test]
fn renders_merged_turns_default_max_tokens_and_tool_results() {
    let req = ChatRequest {
        model: "client".into(),
        system: Some("sys".into()),
        messages: vec![
            Message {
                role: Role::User,
                content: vec![text("hi")],
            },
            Message {
                role: Role::Assistant,
                content: vec![call("c1", "f", ""), call("c2", "g", r#"{"x": 1}"#)],
            },
            Message {
                role: Role::User,
                content: vec![Part::ToolResult {
                    call_id: "c1".into(),
                    content: "boom".into(),
                    is_error: true,
                }],
            },
            Message {
                role: Role::User,
                content: vec![
                    Part::ToolResult {
                        call_id: "c2".into(),
                        content: "ok".into(),
                        is_error: false,
                    },
                    text("go on"),
                ],
            },
        ],
        temperature: Some(1.0),
        top_p: Some(1.0),
        stop: vec!["X".into()],
        tools: vec![Tool {
            name: "f".into(),
            description: None,
            parameters: Value::Null,
        }],
        tool_choice: Some(ToolChoice::None),
        user: Some("u".into()),
        ..ChatRequest::default()
    };
    let body: Value = serde_json::from_slice(&render_request(&req, "claude-x").unwrap()).unwrap();
    assert_eq!(
        body,
        json!({
            "model": "claude-x",
            "max_tokens": DEFAULT_MAX_TOKENS,
            "system": "sys",
            "messages": [
                {"role": "user", "content": "hi"},
                {"role": "assistant", "content": [
                    {"type": "tool_use", "id": "c1", "name": "f", "input": {}},
                    {"type": "tool_use", "id": "c2", "name": "g", "input": {"x": 1}}]},
                {"role": "user", "content": [
                    {"type": "tool_result", "tool_use_id": "c1", "content": "boom", "is_error": true},
                    {"type": "tool_result", "tool_use_id": "c2", "content": "ok"},
                    {"type": "text", "text": "go on"}]},
            ],
            "temperature": 1.0,
            "stop_sequences": ["X"],
            "tools": [{"name": "f", "input_schema": {"type": "object", "properties": {}}}],
            "tool_choice": {"type": "none"},
            "metadata": {"user_id": "u"},
        })
    );
    let one = |m: Message| ChatRequest {
        messages: vec![m],
        ..ChatRequest::default()
    };
    let cases = [
        (
            one(Message {
                role: Role::Assistant,
                content: vec![text("a"), call("c", "f", "[1, 2]")],
            }),
            "messages[0].content[1].arguments",
        ),
        (
            one(Message {
                role: Role::Assistant,
                content: vec![Part::Image(ImageSource::Url("https://x".into()))],
            }),
            "messages[0].content[0]",
        ),
        (
            one(Message {
                role: Role::User,
                content: vec![call("c", "f", "{}")],
            }),
            "messages[0].content[0]",
        ),
        (
            ChatRequest {
                temperature: Some(1.5),
                ..ChatRequest::default()
            },
            "temperature",
        ),
    ];
    for (req, field) in cases {
        assert_eq!(render_request(&req, "m").unwrap_err().field, field);
    }
}

#[test]
fn empty_text_beside_tool_calls_is_dropped() {
    let openai = br#"{"model":"m","messages":[{"role":"user","content":"weather?"},
        {"role":"assistant","content":"","tool_calls":[{"id":"call_1","type":"function","function":{"name":"f","arguments":"{}"}}]},
        {"role":"tool","tool_call_id":"call_1","content":"sunny"},{"role":"user","content":""}]}"#;
    let req = crate::protocol::openai_chat::parse_request(openai).unwrap();
    let body: Value = serde_json::from_slice(&render_request(&req, "c").unwrap()).unwrap();
    assert_eq!(
        body["messages"],
        json!([
            {"role": "user", "content": "weather?"},
            {"role": "assistant", "content": [{"type": "tool_use", "id": "call_1", "name": "f", "input": {}}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "call_1", "content": "sunny"}]},
        ])
    );
}
