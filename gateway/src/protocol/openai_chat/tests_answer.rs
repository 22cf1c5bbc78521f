//! Answers and streams in the shapes of OpenAI's documentation, and error bodies.

use serde_json::{json, Value};

use super::tests::{call, text};
use super::*;
use crate::protocol::canonical::{ChatResponse, FinishReason, StreamEvent, Usage};

#[test]
fn parses_and_renders_a_documented_completion() {
    let body = json!({
        "id": "chatcmpl-abc", "object": "chat.completion", "created": 1741569952, "model": "gpt-4.1-2025-04-14",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "Checking.", "refusal": null,
            "tool_calls": [{"id": "call_9", "type": "function", "function": {"name": "get_weather", "arguments": "{\"location\":\"Paris\"}"}}],
            "annotations": []}, "logprobs": null, "finish_reason": "tool_calls"}],
        "usage": {"prompt_tokens": 19, "completion_tokens": 10, "total_tokens": 29,
            "prompt_tokens_details": {"cached_tokens": 4, "audio_tokens": 0},
            "completion_tokens_details": {"reasoning_tokens": 0}},
        "service_tier": "default",
    });
    let resp = parse_response(body.to_string().as_bytes()).unwrap();
    let expected = ChatResponse {
        id: "chatcmpl-abc".into(),
        model: "gpt-4.1-2025-04-14".into(),
        content: vec![
            text("Checking."),
            call("call_9", "get_weather", r#"{"location":"Paris"}"#),
        ],
        finish: Some(FinishReason::ToolCalls),
        usage: Usage {
            input_tokens: 19,
            output_tokens: 10,
            cache_read_tokens: 4,
            cache_write_tokens: 0,
        },
    };
    assert_eq!(resp, expected);
    let out: Value = serde_json::from_slice(&render_response(&resp, "client-model")).unwrap();
    assert_eq!(
        out,
        json!({
            "id": "chatcmpl-abc", "object": "chat.completion", "created": 0, "model": "client-model",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "Checking.",
                "tool_calls": [{"id": "call_9", "type": "function", "function": {"name": "get_weather", "arguments": "{\"location\":\"Paris\"}"}}]},
                "logprobs": null, "finish_reason": "tool_calls"}],
            "usage": {"prompt_tokens": 19, "completion_tokens": 10, "total_tokens": 29,
                "prompt_tokens_details": {"cached_tokens": 4}},
        })
    );
    let err =
        parse_response(br#"{"error":{"message":"Invalid model","type":"invalid_request_error"}}"#);
    assert_eq!(err.unwrap_err(), "Invalid model");
}

fn decode(bytes: &[u8]) -> Vec<StreamEvent> {
    let mut d = Decoder::default();
    let mut out = Vec::new();
    for b in bytes.chunks(7) {
        d.feed(b, &mut out);
    }
    d.finish(&mut out);
    out
}

#[test]
fn decodes_a_documented_stream_with_tool_calls_and_usage() {
    let chunk = |choices: Value, usage: Value| {
        let c = json!({"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1694268190,
            "model": "gpt-4o-mini", "system_fingerprint": "fp", "choices": choices, "usage": usage});
        format!("data: {c}\n\n")
    };
    let delta = |d: Value, f: Value| json!([{"index": 0, "delta": d, "logprobs": null, "finish_reason": f}]);
    let mut s = String::new();
    s += &chunk(
        delta(json!({"role": "assistant", "content": ""}), Value::Null),
        Value::Null,
    );
    s += &chunk(delta(json!({"content": "Hi"}), Value::Null), Value::Null);
    s += ": keep-alive\n\n";
    s += &chunk(
        delta(
            json!({"tool_calls": [{"index": 0, "id": "call_1", "type": "function", "function": {"name": "f", "arguments": ""}}]}),
            Value::Null,
        ),
        Value::Null,
    );
    s += &chunk(
        delta(
            json!({"tool_calls": [{"index": 0, "function": {"arguments": "{\"a\""}}]}),
            Value::Null,
        ),
        Value::Null,
    );
    s += &chunk(
        delta(
            json!({"tool_calls": [{"index": 0, "function": {"arguments": ":1}"}}]}),
            Value::Null,
        ),
        Value::Null,
    );
    // Some providers restart index 0 for each call: a new id is a new call.
    s += &chunk(
        delta(
            json!({"tool_calls": [{"index": 0, "id": "call_2", "function": {"name": "g", "arguments": "{}"}}]}),
            Value::Null,
        ),
        Value::Null,
    );
    s += &chunk(delta(json!({}), json!("tool_calls")), Value::Null);
    s += &chunk(
        json!([]),
        json!({"prompt_tokens": 9, "completion_tokens": 3, "total_tokens": 12}),
    );
    s += "data: [DONE]\n\n";
    let events = decode(s.as_bytes());
    assert_eq!(
        events,
        vec![
            StreamEvent::Start {
                id: "chatcmpl-1".into(),
                model: "gpt-4o-mini".into()
            },
            StreamEvent::TextDelta("Hi".into()),
            StreamEvent::ToolCallStart {
                index: 0,
                id: "call_1".into(),
                name: "f".into()
            },
            StreamEvent::ToolArgumentsDelta {
                index: 0,
                json: "{\"a\"".into()
            },
            StreamEvent::ToolArgumentsDelta {
                index: 0,
                json: ":1}".into()
            },
            StreamEvent::ToolCallStart {
                index: 1,
                id: "call_2".into(),
                name: "g".into()
            },
            StreamEvent::ToolArgumentsDelta {
                index: 1,
                json: "{}".into()
            },
            StreamEvent::Finish(FinishReason::ToolCalls),
            StreamEvent::Usage(Usage {
                input_tokens: 9,
                output_tokens: 3,
                ..Usage::default()
            }),
            StreamEvent::End,
        ]
    );
}

#[test]
fn stream_errors_and_truncation_are_reported() {
    let events = decode(b"data: {\"id\":\"x\",\"model\":\"m\",\"choices\":[]}\n\ndata: {\"error\":{\"message\":\"overloaded\"}}\n\ndata: [DONE]\n\n");
    assert_eq!(
        events[1],
        StreamEvent::Error {
            message: "overloaded".into()
        }
    );
    assert_eq!(events.len(), 2, "nothing after an error");
    let events = decode(b"data: {\"id\":\"x\",\"model\":\"m\",\"choices\":[]}\n\n");
    assert!(matches!(events.last(), Some(StreamEvent::Error { .. })));
    let events = decode(b"data: not json\n\n");
    assert!(matches!(events[..], [StreamEvent::Error { .. }]));
}

#[test]
fn encodes_chunks_usage_last_and_done() {
    let mut e = Encoder::default();
    let mut out = Vec::new();
    for ev in [
        StreamEvent::Start {
            id: "id1".into(),
            model: "m".into(),
        },
        StreamEvent::Usage(Usage {
            input_tokens: 5,
            ..Usage::default()
        }),
        StreamEvent::TextDelta("Hi".into()),
        StreamEvent::Finish(FinishReason::Stop),
        StreamEvent::Usage(Usage {
            input_tokens: 5,
            output_tokens: 2,
            ..Usage::default()
        }),
        StreamEvent::End,
        StreamEvent::TextDelta("ignored".into()),
    ] {
        e.encode(&ev, &mut out);
    }
    let text = String::from_utf8(out).unwrap();
    let datas: Vec<&str> = text.split("\n\n").filter(|s| !s.is_empty()).collect();
    assert_eq!(datas.len(), 5, "{text}");
    let chunk =
        |i: usize| serde_json::from_str::<Value>(datas[i].strip_prefix("data: ").unwrap()).unwrap();
    assert_eq!(
        chunk(0)["choices"][0]["delta"],
        json!({"role": "assistant", "content": ""})
    );
    assert_eq!(chunk(0)["object"], "chat.completion.chunk");
    assert_eq!(chunk(1)["choices"][0]["delta"]["content"], "Hi");
    assert_eq!(chunk(2)["choices"][0]["finish_reason"], "stop");
    assert_eq!(chunk(3)["choices"], json!([]));
    assert_eq!(chunk(3)["usage"]["completion_tokens"], 2);
    assert_eq!(datas[4], "data: [DONE]");
    assert!(include_usage(
        br#"{"stream":true,"stream_options":{"include_usage":true}}"#
    ));
    assert!(!include_usage(br#"{"stream":true}"#));
    let mut out = Vec::new();
    let mut e = Encoder::new(false);
    e.encode(&StreamEvent::Usage(Usage::default()), &mut out);
    e.encode(&StreamEvent::End, &mut out);
    assert_eq!(out, b"data: [DONE]\n\n");
}

#[test]
fn error_bodies_use_openai_vocabulary() {
    let v: Value =
        serde_json::from_slice(&error_body(ErrorKind::Authentication, "bad key")).unwrap();
    assert_eq!(
        v,
        json!({"error": {"message": "bad key", "type": "invalid_request_error", "code": "invalid_api_key"}})
    );
    let v: Value = serde_json::from_slice(&error_body(ErrorKind::RateLimit, "slow")).unwrap();
    assert_eq!(v["error"]["type"], "rate_limit_error");
    assert_eq!(
        String::from_utf8(stream_error("cut")).unwrap(),
        "data: {\"error\":{\"code\":\"stream_interrupted\",\"message\":\"cut\",\"type\":\"upstream_error\"}}\n\n"
    );
    let mut e = Encoder::default();
    let mut out = Vec::new();
    e.encode(
        &StreamEvent::Error {
            message: "cut".into(),
        },
        &mut out,
    );
    assert_eq!(out, stream_error("cut"));
}
