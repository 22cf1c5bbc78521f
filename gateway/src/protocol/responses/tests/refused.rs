//! Every request field this shape cannot carry is refused naming the field.

use serde_json::{json, Value};

use super::bytes;
use crate::protocol::canonical::{ChatRequest, ImageSource, Message, Part, Role};
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
            with(json!({"include": ["message.output_text.logprobs"]})),
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
