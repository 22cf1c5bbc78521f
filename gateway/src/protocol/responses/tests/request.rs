use serde_json::{json, Value};

use super::bytes;
use crate::protocol::canonical::{ChatRequest, ImageSource, Message, Part, Role, Tool, ToolChoice};
use crate::protocol::responses::{parse_request, render_request};

#[test]
fn a_string_input_with_instructions_and_every_setting() {
    let body = json!({
        "model": "gpt-4.1",
        "instructions": "You are a terse assistant.",
        "input": "Tell me a three sentence bedtime story about a unicorn.",
        "max_output_tokens": 256,
        "temperature": 0.7,
        "top_p": 0.9,
        "stream": true,
        "user": "user-1234",
        "store": true,
        "metadata": {"ticket": "42"},
        "parallel_tool_calls": false,
        "reasoning": {"effort": "low", "summary": "auto"},
        "text": {"format": {"type": "text"}, "verbosity": "low"},
        "background": false,
        "include": [],
        "truncation": "disabled",
        "previous_response_id": null,
        "service_tier": "auto",
        "stream_options": {"include_obfuscation": false},
        "prompt_cache_key": "k",
    });
    let req = parse_request(&bytes(body)).unwrap();
    assert_eq!(
        req,
        ChatRequest {
            model: "gpt-4.1".into(),
            system: Some("You are a terse assistant.".into()),
            messages: vec![Message {
                role: Role::User,
                content: vec![Part::Text(
                    "Tell me a three sentence bedtime story about a unicorn.".into()
                )],
            }],
            max_tokens: Some(256),
            temperature: Some(0.7),
            top_p: Some(0.9),
            stop: vec![],
            stream: true,
            tools: vec![],
            tool_choice: None,
            user: Some("user-1234".into()),
        }
    );
}

#[test]
fn an_item_list_with_images_and_a_tool_round() {
    let body = json!({
        "model": "gpt-4o",
        "instructions": "Be helpful.",
        "input": [
            {"role": "developer", "content": "Answer in French."},
            {"role": "user", "content": [
                {"type": "input_text", "text": "What is in this image, and the weather there?"},
                {"type": "input_image", "image_url": "https://example.com/paris.jpg", "detail": "high"},
                {"type": "input_image", "image_url": "data:image/png;base64,iVBORw0KGgo="}
            ]},
            {"type": "message", "role": "assistant", "id": "msg_1", "status": "completed",
             "content": [{"type": "output_text", "text": "Let me check.", "annotations": []}]},
            {"type": "function_call", "id": "fc_1", "call_id": "call_a", "name": "get_weather",
             "arguments": "{\"city\":\"Paris\"}", "status": "completed"},
            {"type": "function_call", "call_id": "call_b", "name": "get_time", "arguments": "{}"},
            {"type": "function_call_output", "call_id": "call_a", "output": "18C, sunny"},
            {"type": "function_call_output", "call_id": "call_b",
             "output": [{"type": "input_text", "text": "14:"}, {"type": "input_text", "text": "05"}]},
            {"role": "system", "content": [{"type": "input_text", "text": "Be brief."}]},
            {"role": "user", "content": "Thanks!"}
        ],
        "tools": [{
            "type": "function", "name": "get_weather", "description": "Current weather",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
            "strict": true
        }, {"type": "function", "name": "get_time"}],
        "tool_choice": {"type": "function", "name": "get_weather"}
    });
    let req = parse_request(&bytes(body)).unwrap();
    assert_eq!(
        req.system.as_deref(),
        Some("Be helpful.\n\nAnswer in French.\n\nBe brief.")
    );
    let user = |content| Message {
        role: Role::User,
        content,
    };
    let assistant = |content| Message {
        role: Role::Assistant,
        content,
    };
    assert_eq!(
        req.messages,
        vec![
            user(vec![
                Part::Text("What is in this image, and the weather there?".into()),
                Part::Image(ImageSource::Url("https://example.com/paris.jpg".into())),
                Part::Image(ImageSource::Base64 {
                    media_type: "image/png".into(),
                    data: "iVBORw0KGgo=".into()
                }),
            ]),
            assistant(vec![
                Part::Text("Let me check.".into()),
                Part::ToolCall {
                    id: "call_a".into(),
                    name: "get_weather".into(),
                    arguments: "{\"city\":\"Paris\"}".into()
                },
                Part::ToolCall {
                    id: "call_b".into(),
                    name: "get_time".into(),
                    arguments: "{}".into()
                },
            ]),
            user(vec![
                Part::ToolResult {
                    call_id: "call_a".into(),
                    content: "18C, sunny".into(),
                    is_error: false
                },
                Part::ToolResult {
                    call_id: "call_b".into(),
                    content: "14:05".into(),
                    is_error: false
                },
                Part::Text("Thanks!".into()),
            ]),
        ]
    );
    assert_eq!(
        req.tools,
        vec![
            Tool {
                name: "get_weather".into(),
                description: Some("Current weather".into()),
                parameters: json!({"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}),
            },
            Tool {
                name: "get_time".into(),
                description: None,
                parameters: json!({"type": "object", "properties": {}}),
            },
        ]
    );
    assert_eq!(
        req.tool_choice,
        Some(ToolChoice::Named("get_weather".into()))
    );
}

#[test]
fn tool_choices_and_safety_identifier() {
    for (choice, expected) in [
        (json!("auto"), ToolChoice::Auto),
        (json!("none"), ToolChoice::None),
        (json!("required"), ToolChoice::Required),
    ] {
        let body = json!({"model": "m", "input": "hi", "tool_choice": choice});
        assert_eq!(
            parse_request(&bytes(body)).unwrap().tool_choice,
            Some(expected)
        );
    }
    let body = json!({"model": "m", "input": "hi", "safety_identifier": "hashed-7"});
    assert_eq!(
        parse_request(&bytes(body)).unwrap().user.as_deref(),
        Some("hashed-7")
    );
    let body = json!({"model": "m", "input": "hi", "user": "u", "safety_identifier": "s"});
    assert_eq!(
        parse_request(&bytes(body)).unwrap().user.as_deref(),
        Some("u")
    );
    let body = json!({"model": "m"});
    assert!(parse_request(&bytes(body)).unwrap().messages.is_empty());
}

#[test]
fn render_writes_the_documented_request_shape() {
    let req = ChatRequest {
        model: "client-name".into(),
        system: Some("Be brief.".into()),
        messages: vec![
            Message {
                role: Role::User,
                content: vec![
                    Part::Text("Weather in Paris?".into()),
                    Part::Image(ImageSource::Base64 {
                        media_type: "image/jpeg".into(),
                        data: "/9j/4AAQ".into(),
                    }),
                ],
            },
            Message {
                role: Role::Assistant,
                content: vec![
                    Part::Text("Checking.".into()),
                    Part::ToolCall {
                        id: "call_1".into(),
                        name: "weather".into(),
                        arguments: "{\"city\":\"Paris\"}".into(),
                    },
                ],
            },
            Message {
                role: Role::User,
                content: vec![Part::ToolResult {
                    call_id: "call_1".into(),
                    content: "sunny".into(),
                    is_error: true,
                }],
            },
        ],
        max_tokens: Some(100),
        temperature: Some(0.5),
        top_p: None,
        stop: vec![],
        stream: true,
        tools: vec![Tool {
            name: "weather".into(),
            description: Some("Weather now".into()),
            parameters: json!({"type": "object"}),
        }],
        tool_choice: Some(ToolChoice::Required),
        user: Some("u1".into()),
    };
    let body: Value =
        serde_json::from_slice(&render_request(&req, "gpt-4.1-mini").unwrap()).unwrap();
    assert_eq!(
        body,
        json!({
            "model": "gpt-4.1-mini",
            "instructions": "Be brief.",
            "input": [
                {"type": "message", "role": "user", "content": [
                    {"type": "input_text", "text": "Weather in Paris?"},
                    {"type": "input_image", "image_url": "data:image/jpeg;base64,/9j/4AAQ"}
                ]},
                {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "Checking."}]},
                {"type": "function_call", "call_id": "call_1", "name": "weather", "arguments": "{\"city\":\"Paris\"}"},
                {"type": "function_call_output", "call_id": "call_1", "output": "sunny"}
            ],
            "max_output_tokens": 100,
            "temperature": 0.5,
            "stream": true,
            "store": false,
            "tools": [{"type": "function", "name": "weather", "description": "Weather now", "parameters": {"type": "object"}}],
            "tool_choice": "required",
            "user": "u1"
        })
    );
    for (asked, sent) in [(1, 16), (15, 16), (16, 16), (0, 0), (u32::MAX, u32::MAX)] {
        let small = ChatRequest {
            max_tokens: Some(asked),
            ..ChatRequest::default()
        };
        let body: Value = serde_json::from_slice(&render_request(&small, "m").unwrap()).unwrap();
        assert_eq!(body["max_output_tokens"], sent, "asked {asked}");
    }
    let named = ChatRequest {
        tool_choice: Some(ToolChoice::Named("weather".into())),
        ..req
    };
    let body: Value = serde_json::from_slice(&render_request(&named, "m").unwrap()).unwrap();
    assert_eq!(
        body["tool_choice"],
        json!({"type": "function", "name": "weather"})
    );
}

/// An agent client (Codex) replaying its encrypted reasoning: the reasoning item is left out
/// and `include: ["reasoning.encrypted_content"]` is accepted, so the turn still translates.
#[test]
fn replayed_reasoning_from_agent_clients_is_left_out() {
    let body = json!({
        "model": "gpt-5-codex",
        "include": ["reasoning.encrypted_content"],
        "input": [
            {"type": "message", "role": "user", "content": "list the files"},
            {"type": "reasoning", "id": "rs_1", "summary": [], "encrypted_content": "gAAA…"},
            {"type": "function_call", "call_id": "call_1", "name": "shell", "arguments": "{\"cmd\":\"ls\"}"},
            {"type": "function_call_output", "call_id": "call_1", "output": "README.md"}
        ]
    });
    let req = parse_request(&bytes(body)).expect("translatable");
    assert_eq!(req.messages.len(), 3);
    assert!(matches!(req.messages[1].content[0], Part::ToolCall { .. }));
}
