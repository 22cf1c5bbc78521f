use serde_json::{json, Value};

use super::bytes;
use crate::protocol::canonical::{ChatRequest, ImageSource, Message, Part, Role, Tool, ToolChoice};
use crate::protocol::responses::{parse_request, render_request};

fn field_of(body: Value) -> String {
    match parse_request(&bytes(body.clone())) {
        Ok(req) => panic!("{body} was accepted as {req:?}"),
        Err(e) => {
            assert!(!e.reason.is_empty());
            e.field
        }
    }
}

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
fn every_untranslatable_request_names_its_field() {
    let with = |extra: Value| {
        let mut body = json!({"model": "gpt-4.1", "input": "hi"});
        for (k, v) in extra.as_object().unwrap() {
            body[k] = v.clone();
        }
        body
    };
    let cases = [
        (
            with(json!({"previous_response_id": "resp_123"})),
            "previous_response_id",
        ),
        (with(json!({"conversation": "conv_123"})), "conversation"),
        (
            with(json!({"conversation": {"id": "conv_123"}})),
            "conversation",
        ),
        (with(json!({"background": true})), "background"),
        (
            with(json!({"include": ["reasoning.encrypted_content"]})),
            "include",
        ),
        (
            with(json!({"text": {"format": {"type": "json_schema", "name": "x", "schema": {}}}})),
            "text.format",
        ),
        (
            with(json!({"text": {"format": {"type": "json_object"}}})),
            "text.format",
        ),
        (with(json!({"text": {"colour": "red"}})), "text.colour"),
        (with(json!({"truncation": "auto"})), "truncation"),
        (with(json!({"prompt": {"id": "pmpt_1"}})), "prompt"),
        (with(json!({"top_logprobs": 3})), "top_logprobs"),
        (with(json!({"max_tool_calls": 2})), "max_tool_calls"),
        (with(json!({"frobnicate": 1})), "frobnicate"),
        (with(json!({"max_output_tokens": -1})), "max_output_tokens"),
        (with(json!({"temperature": "hot"})), "temperature"),
        (with(json!({"stream": "yes"})), "stream"),
        (with(json!({"user": 7})), "user"),
        (with(json!({"instructions": ["a"]})), "instructions"),
        (
            with(
                json!({"tools": [{"type": "function", "name": "f"}, {"type": "web_search_preview"}]}),
            ),
            "tools[1].type",
        ),
        (
            with(json!({"tools": [{"type": "file_search", "vector_store_ids": ["vs_1"]}]})),
            "tools[0].type",
        ),
        (
            with(json!({"tools": [{"type": "computer_use_preview", "display_width": 1024}]})),
            "tools[0].type",
        ),
        (
            with(json!({"tools": [{"type": "function"}]})),
            "tools[0].name",
        ),
        (
            with(json!({"tool_choice": {"type": "web_search_preview"}})),
            "tool_choice.type",
        ),
        (with(json!({"tool_choice": "sometimes"})), "tool_choice"),
        (with(json!({"input": 42})), "input"),
        (
            with(json!({"input": [{"type": "reasoning", "id": "rs_1", "summary": []}]})),
            "input[0].type",
        ),
        (
            with(json!({"input": [{"type": "item_reference", "id": "msg_1"}]})),
            "input[0].type",
        ),
        (with(json!({"input": ["hi"]})), "input[0]"),
        (
            with(json!({"input": [{"role": "tool", "content": "x"}]})),
            "input[0].role",
        ),
        (
            with(json!({"input": [{"role": "user"}]})),
            "input[0].content",
        ),
        (with(json!({"input": [{"content": "x"}]})), "input[0].role"),
        (
            with(
                json!({"input": [{"role": "user", "content": "a"}, {"role": "user", "content": [
            {"type": "input_image", "file_id": "file-123"}]}]}),
            ),
            "input[1].content[0].file_id",
        ),
        (
            with(
                json!({"input": [{"role": "user", "content": [{"type": "input_text", "text": "a"},
            {"type": "input_file", "file_id": "file-1"}]}]}),
            ),
            "input[0].content[1].type",
        ),
        (
            with(json!({"input": [{"role": "user", "content": [{"type": "input_audio"}]}]})),
            "input[0].content[0].type",
        ),
        (
            with(json!({"input": [{"role": "user", "content": [{"type": "input_text"}]}]})),
            "input[0].content[0].text",
        ),
        (
            with(json!({"input": [{"role": "developer", "content": [
            {"type": "input_image", "image_url": "https://x/y.png"}]}]})),
            "input[0].content[0].type",
        ),
        (
            with(json!({"input": [{"type": "function_call", "call_id": "c", "name": "f"}]})),
            "input[0].arguments",
        ),
        (
            with(json!({"input": [{"type": "function_call_output", "call_id": "c"}]})),
            "input[0].output",
        ),
        (
            with(
                json!({"input": [{"type": "function_call_output", "call_id": "c", "output": [
            {"type": "input_image", "image_url": "https://x/y.png"}]}]}),
            ),
            "input[0].output[0].type",
        ),
        (json!({"input": "hi"}), "model"),
        (json!(["not", "an", "object"]), "body"),
    ];
    for (body, field) in cases {
        assert_eq!(field_of(body.clone()), field, "{body}");
    }
    let e = parse_request(b"{not json").unwrap_err();
    assert_eq!(e.field, "body");
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

#[test]
fn render_refuses_what_the_shape_cannot_say() {
    let msg = |role, part| ChatRequest {
        messages: vec![Message {
            role,
            content: vec![part],
        }],
        ..ChatRequest::default()
    };
    let stop = ChatRequest {
        stop: vec!["END".into()],
        ..ChatRequest::default()
    };
    assert_eq!(render_request(&stop, "m").unwrap_err().field, "stop");
    let image = msg(
        Role::Assistant,
        Part::Image(ImageSource::Url("https://x/y.png".into())),
    );
    assert_eq!(
        render_request(&image, "m").unwrap_err().field,
        "messages[0].content[0]"
    );
    let call = msg(
        Role::User,
        Part::ToolCall {
            id: "c".into(),
            name: "f".into(),
            arguments: "{}".into(),
        },
    );
    assert_eq!(
        render_request(&call, "m").unwrap_err().field,
        "messages[0].content[0]"
    );
    let result = msg(
        Role::Assistant,
        Part::ToolResult {
            call_id: "c".into(),
            content: "x".into(),
            is_error: false,
        },
    );
    assert_eq!(
        render_request(&result, "m").unwrap_err().field,
        "messages[0].content[0]"
    );
}
