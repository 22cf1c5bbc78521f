use serde_json::{json, Value};

use super::bytes;
use crate::protocol::canonical::{ChatResponse, FinishReason, Part, Usage};
use crate::protocol::responses::{parse_response, render_response};

/// A response in the documented shape: a reasoning item (skipped), a message and a call.
fn documented() -> Value {
    json!({
        "id": "resp_67ccd3a9da748190baa7f1570fe91ac604becb25c45c1d41",
        "object": "response",
        "created_at": 1741476777,
        "status": "completed",
        "error": null,
        "incomplete_details": null,
        "instructions": null,
        "max_output_tokens": null,
        "model": "gpt-4o-2024-08-06",
        "output": [
            {"type": "reasoning", "id": "rs_1", "summary": []},
            {
                "type": "message",
                "id": "msg_67ccd3acc8d48190a77525dc6de64b4104becb25c45c1d41",
                "status": "completed",
                "role": "assistant",
                "content": [
                    {"type": "output_text", "text": "The image depicts a scenic landscape", "annotations": []},
                    {"type": "output_text", "text": " with a wooden boardwalk.", "annotations": []}
                ]
            },
            {
                "type": "function_call",
                "id": "fc_12345xyz",
                "call_id": "call_12345xyz",
                "name": "get_weather",
                "arguments": "{\"location\":\"Paris, France\"}",
                "status": "completed"
            }
        ],
        "parallel_tool_calls": true,
        "previous_response_id": null,
        "store": true,
        "temperature": 1.0,
        "text": {"format": {"type": "text"}},
        "tool_choice": "auto",
        "tools": [],
        "top_p": 1.0,
        "truncation": "disabled",
        "usage": {
            "input_tokens": 328,
            "input_tokens_details": {"cached_tokens": 128},
            "output_tokens": 52,
            "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": 380
        },
        "user": null,
        "metadata": {}
    })
}

#[test]
fn the_documented_response_parses() {
    let resp = parse_response(&bytes(documented())).unwrap();
    assert_eq!(
        resp,
        ChatResponse {
            id: "resp_67ccd3a9da748190baa7f1570fe91ac604becb25c45c1d41".into(),
            model: "gpt-4o-2024-08-06".into(),
            content: vec![
                Part::Text("The image depicts a scenic landscape with a wooden boardwalk.".into()),
                Part::ToolCall {
                    id: "call_12345xyz".into(),
                    name: "get_weather".into(),
                    arguments: "{\"location\":\"Paris, France\"}".into()
                },
            ],
            finish: Some(FinishReason::ToolCalls),
            usage: Usage {
                input_tokens: 328,
                output_tokens: 52,
                cache_read_tokens: 128,
                cache_write_tokens: 0
            },
        }
    );
}

#[test]
fn incomplete_refused_and_failed_responses() {
    let mut v = documented();
    v["status"] = json!("incomplete");
    v["incomplete_details"] = json!({"reason": "max_output_tokens"});
    assert_eq!(
        parse_response(&bytes(v.clone())).unwrap().finish,
        Some(FinishReason::Length)
    );
    v["incomplete_details"] = json!({"reason": "content_filter"});
    assert_eq!(
        parse_response(&bytes(v.clone())).unwrap().finish,
        Some(FinishReason::ContentFilter)
    );

    let mut v = documented();
    v["output"] = json!([{"type": "message", "id": "m", "role": "assistant", "status": "completed",
        "content": [{"type": "refusal", "refusal": "I can't help with that."}]}]);
    let resp = parse_response(&bytes(v.clone())).unwrap();
    assert_eq!(
        resp.content,
        vec![Part::Text("I can't help with that.".into())]
    );
    assert_eq!(resp.finish, Some(FinishReason::ContentFilter));

    v["output"] = json!([{"type": "message", "content": [{"type": "output_text", "text": "hi"}]}]);
    assert_eq!(
        parse_response(&bytes(v.clone())).unwrap().finish,
        Some(FinishReason::Stop)
    );

    v["status"] = json!("failed");
    v["error"] = json!({"code": "server_error", "message": "The model crashed."});
    assert_eq!(parse_response(&bytes(v)).unwrap_err(), "The model crashed.");
    assert!(parse_response(b"[1]").is_err());
    assert!(parse_response(b"nope").is_err());
}

#[test]
fn render_writes_the_documented_response_shape() {
    let resp = ChatResponse {
        id: "resp_abc".into(),
        model: "upstream-model".into(),
        content: vec![
            Part::Text("Let me ".into()),
            Part::Text("check.".into()),
            Part::ToolCall {
                id: "call_1".into(),
                name: "weather".into(),
                arguments: "{}".into(),
            },
        ],
        finish: Some(FinishReason::ToolCalls),
        usage: Usage {
            input_tokens: 10,
            output_tokens: 5,
            cache_read_tokens: 4,
            cache_write_tokens: 2,
        },
    };
    let v: Value = serde_json::from_slice(&render_response(&resp, "client-model")).unwrap();
    assert_eq!(v["id"], "resp_abc");
    assert_eq!(v["object"], "response");
    assert_eq!(v["created_at"], 0);
    assert_eq!(v["status"], "completed");
    assert_eq!(v["incomplete_details"], Value::Null);
    assert_eq!(v["model"], "client-model");
    assert_eq!(
        v["output"],
        json!([
            {"type": "message", "id": "msg_abc_0", "status": "completed", "role": "assistant",
             "content": [{"type": "output_text", "text": "Let me check.", "annotations": []}]},
            {"type": "function_call", "id": "fc_abc_1", "status": "completed", "call_id": "call_1",
             "name": "weather", "arguments": "{}"}
        ])
    );
    assert_eq!(
        v["usage"],
        json!({"input_tokens": 10, "input_tokens_details": {"cached_tokens": 4}, "output_tokens": 5,
               "output_tokens_details": {"reasoning_tokens": 0}, "total_tokens": 15})
    );
    let cut = ChatResponse {
        finish: Some(FinishReason::Length),
        ..resp.clone()
    };
    let v: Value = serde_json::from_slice(&render_response(&cut, "m")).unwrap();
    assert_eq!(v["status"], "incomplete");
    assert_eq!(
        v["incomplete_details"],
        json!({"reason": "max_output_tokens"})
    );
    let big = ChatResponse {
        usage: Usage {
            input_tokens: u32::MAX,
            output_tokens: u32::MAX,
            ..Usage::default()
        },
        ..resp
    };
    let v: Value = serde_json::from_slice(&render_response(&big, "m")).unwrap();
    assert_eq!(v["usage"]["total_tokens"], 2 * u64::from(u32::MAX));
}
