//! Answers and streams in the shapes of Anthropic's documentation, and error bodies.

use serde_json::{json, Value};

use super::tests::{call, text};
use super::*;
use crate::protocol::canonical::{ChatResponse, StreamEvent, Usage};

#[test]
fn parses_and_renders_a_documented_message() {
    let body = json!({
        "id": "msg_013Zva2CMHLNnXjNJJKqJ2EF", "type": "message", "role": "assistant",
        "model": "claude-sonnet-4-5-20250929",
        "content": [
            {"type": "thinking", "thinking": "hm", "signature": "s"},
            {"type": "text", "text": "Let me look."},
            {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"location": "Paris"}},
        ],
        "stop_reason": "tool_use", "stop_sequence": null,
        "usage": {"input_tokens": 2095, "output_tokens": 503, "cache_creation_input_tokens": 100,
            "cache_read_input_tokens": 50, "service_tier": "standard"},
    });
    let resp = parse_response(body.to_string().as_bytes()).unwrap();
    let expected = ChatResponse {
        id: "msg_013Zva2CMHLNnXjNJJKqJ2EF".into(),
        model: "claude-sonnet-4-5-20250929".into(),
        content: vec![
            text("Let me look."),
            call("toolu_1", "get_weather", r#"{"location":"Paris"}"#),
        ],
        finish: Some(FinishReason::ToolCalls),
        usage: Usage {
            input_tokens: 2245,
            output_tokens: 503,
            cache_read_tokens: 50,
            cache_write_tokens: 100,
        },
    };
    assert_eq!(resp, expected);
    let out: Value = serde_json::from_slice(&render_response(&resp, "claude-x")).unwrap();
    assert_eq!(
        out,
        json!({
            "id": "msg_013Zva2CMHLNnXjNJJKqJ2EF", "type": "message", "role": "assistant", "model": "claude-x",
            "content": [
                {"type": "text", "text": "Let me look."},
                {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"location": "Paris"}},
            ],
            "stop_reason": "tool_use", "stop_sequence": null,
            "usage": {"input_tokens": 2095, "output_tokens": 503, "cache_creation_input_tokens": 100,
                "cache_read_input_tokens": 50},
        })
    );
    for (stop, want) in [
        ("end_turn", FinishReason::Stop),
        ("stop_sequence", FinishReason::Stop),
        ("max_tokens", FinishReason::Length),
        ("refusal", FinishReason::ContentFilter),
    ] {
        let body = json!({"id": "m", "content": [], "stop_reason": stop, "usage": {}});
        let resp = parse_response(body.to_string().as_bytes()).unwrap();
        assert_eq!(resp.finish, Some(want));
    }
    let err = br#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#;
    assert_eq!(parse_response(err).unwrap_err(), "Overloaded");
}

fn decode(bytes: &[u8]) -> Vec<StreamEvent> {
    let mut d = Decoder::default();
    let mut out = Vec::new();
    for b in bytes.chunks(5) {
        d.feed(b, &mut out);
    }
    d.finish(&mut out);
    out
}

const DOC_STREAM: &str = r#"event: message_start
data: {"type": "message_start", "message": {"id": "msg_1nZd", "type": "message", "role": "assistant", "content": [], "model": "claude-opus-4-1", "stop_reason": null, "stop_sequence": null, "usage": {"input_tokens": 25, "cache_read_input_tokens": 10, "output_tokens": 1}}}

event: content_block_start
data: {"type": "content_block_start", "index": 0, "content_block": {"type": "thinking", "thinking": ""}}

event: content_block_delta
data: {"type": "content_block_delta", "index": 0, "delta": {"type": "thinking_delta", "thinking": "Let me think"}}

event: content_block_delta
data: {"type": "content_block_delta", "index": 0, "delta": {"type": "signature_delta", "signature": "EqQB"}}

event: content_block_stop
data: {"type": "content_block_stop", "index": 0}

event: content_block_start
data: {"type": "content_block_start", "index": 1, "content_block": {"type": "text", "text": ""}}

event: ping
data: {"type": "ping"}

event: content_block_delta
data: {"type": "content_block_delta", "index": 1, "delta": {"type": "text_delta", "text": "Hello"}}

event: content_block_delta
data: {"type": "content_block_delta", "index": 1, "delta": {"type": "text_delta", "text": "!"}}

event: content_block_stop
data: {"type": "content_block_stop", "index": 1}

event: content_block_start
data: {"type":"content_block_start","index":2,"content_block":{"type":"tool_use","id":"toolu_01T1","name":"get_weather","input":{}}}

event: content_block_delta
data: {"type":"content_block_delta","index":2,"delta":{"type":"input_json_delta","partial_json":""}}

event: content_block_delta
data: {"type":"content_block_delta","index":2,"delta":{"type":"input_json_delta","partial_json":"{\"location\":"}}

event: content_block_delta
data: {"type":"content_block_delta","index":2,"delta":{"type":"input_json_delta","partial_json":" \"Paris\"}"}}

event: content_block_stop
data: {"type":"content_block_stop","index":2}

event: content_block_start
data: {"type":"content_block_start","index":3,"content_block":{"type":"tool_use","id":"toolu_02","name":"now","input":{}}}

event: content_block_stop
data: {"type":"content_block_stop","index":3}

event: message_delta
data: {"type": "message_delta", "delta": {"stop_reason": "tool_use", "stop_sequence":null}, "usage": {"output_tokens": 15}}

event: message_stop
data: {"type": "message_stop"}

"#;

#[test]
fn decodes_a_documented_stream() {
    let start_usage = Usage {
        input_tokens: 35,
        output_tokens: 1,
        cache_read_tokens: 10,
        cache_write_tokens: 0,
    };
    assert_eq!(
        decode(DOC_STREAM.as_bytes()),
        vec![
            StreamEvent::Start {
                id: "msg_1nZd".into(),
                model: "claude-opus-4-1".into()
            },
            StreamEvent::Usage(start_usage),
            StreamEvent::TextDelta("Hello".into()),
            StreamEvent::TextDelta("!".into()),
            StreamEvent::ToolCallStart {
                index: 0,
                id: "toolu_01T1".into(),
                name: "get_weather".into()
            },
            StreamEvent::ToolArgumentsDelta {
                index: 0,
                json: "{\"location\":".into()
            },
            StreamEvent::ToolArgumentsDelta {
                index: 0,
                json: " \"Paris\"}".into()
            },
            StreamEvent::ToolCallStart {
                index: 1,
                id: "toolu_02".into(),
                name: "now".into()
            },
            StreamEvent::ToolArgumentsDelta {
                index: 1,
                json: "{}".into()
            },
            StreamEvent::Finish(FinishReason::ToolCalls),
            StreamEvent::Usage(Usage {
                output_tokens: 15,
                ..start_usage
            }),
            StreamEvent::End,
        ]
    );
}

#[test]
fn stream_errors_and_truncation_are_reported() {
    let cut = DOC_STREAM.find("event: message_delta").unwrap();
    let events = decode(&DOC_STREAM.as_bytes()[..cut]);
    assert!(
        matches!(events.last(), Some(StreamEvent::Error { .. })),
        "{events:?}"
    );
    let mut s = DOC_STREAM[..cut].to_owned();
    s += "event: error\ndata: {\"type\": \"error\", \"error\": {\"type\": \"overloaded_error\", \"message\": \"Overloaded\"}}\n\n";
    s += "event: message_stop\ndata: {\"type\": \"message_stop\"}\n\n";
    let events = decode(s.as_bytes());
    assert_eq!(
        events.last(),
        Some(&StreamEvent::Error {
            message: "Overloaded".into()
        })
    );
}

/// The (event name, data) pairs of an SSE text.
fn events_of(bytes: &[u8]) -> Vec<(String, Value)> {
    let mut r = crate::protocol::sse::SseReader::default();
    let mut out = Vec::new();
    r.feed(bytes, &mut out);
    r.finish(&mut out);
    out.into_iter()
        .map(|e| (e.event, serde_json::from_str(&e.data).unwrap()))
        .collect()
}

#[test]
fn encodes_blocks_in_order_with_usage_at_the_end() {
    let mut e = Encoder::new();
    let mut out = Vec::new();
    let usage = Usage {
        input_tokens: 30,
        output_tokens: 7,
        cache_read_tokens: 5,
        cache_write_tokens: 5,
    };
    for ev in [
        StreamEvent::Start {
            id: "id1".into(),
            model: "m".into(),
        },
        StreamEvent::TextDelta("Hi".into()),
        StreamEvent::TextDelta(" there".into()),
        StreamEvent::ToolCallStart {
            index: 0,
            id: "c1".into(),
            name: "f".into(),
        },
        StreamEvent::ToolArgumentsDelta {
            index: 0,
            json: "{}".into(),
        },
        StreamEvent::ToolCallStart {
            index: 1,
            id: "c2".into(),
            name: "g".into(),
        },
        StreamEvent::Finish(FinishReason::ToolCalls),
        StreamEvent::Usage(usage),
        StreamEvent::End,
    ] {
        e.encode(&ev, &mut out);
    }
    let events = events_of(&out);
    let names: Vec<&str> = events.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "message_start",
            "content_block_start",
            "content_block_delta",
            "content_block_delta",
            "content_block_stop",
            "content_block_start",
            "content_block_delta",
            "content_block_stop",
            "content_block_start",
            "content_block_stop",
            "message_delta",
            "message_stop",
        ]
    );
    for (name, data) in &events {
        assert_eq!(data["type"], name.as_str());
    }
    assert_eq!(events[0].1["message"]["id"], "id1");
    assert_eq!(events[5].1["index"], 1);
    assert_eq!(events[5].1["content_block"]["type"], "tool_use");
    assert_eq!(events[8].1["index"], 2);
    assert_eq!(events[10].1["delta"]["stop_reason"], "tool_use");
    assert_eq!(
        events[10].1["usage"],
        json!({"input_tokens": 20, "output_tokens": 7, "cache_read_input_tokens": 5, "cache_creation_input_tokens": 5})
    );
    let mut out = Vec::new();
    let mut e = Encoder::new();
    e.encode(
        &StreamEvent::ToolCallStart {
            index: 0,
            id: "c".into(),
            name: "f".into(),
        },
        &mut out,
    );
    e.encode(&StreamEvent::TextDelta("x".into()), &mut out);
    e.encode(
        &StreamEvent::ToolArgumentsDelta {
            index: 0,
            json: "{}".into(),
        },
        &mut out,
    );
    e.encode(&StreamEvent::End, &mut out);
    let last = events_of(&out).pop().unwrap();
    assert_eq!(
        last.0, "error",
        "arguments after their block closed end the stream"
    );
}

#[test]
fn error_bodies_use_anthropic_vocabulary() {
    use crate::protocol::ErrorKind;
    let v: Value = serde_json::from_slice(&error_body(ErrorKind::Overloaded, "busy")).unwrap();
    assert_eq!(
        v,
        json!({"type": "error", "error": {"type": "overloaded_error", "message": "busy"}})
    );
    for (kind, name) in [
        (ErrorKind::InvalidRequest, "invalid_request_error"),
        (ErrorKind::Authentication, "authentication_error"),
        (ErrorKind::NotFound, "not_found_error"),
        (ErrorKind::RateLimit, "rate_limit_error"),
        (ErrorKind::Api, "api_error"),
    ] {
        let v: Value = serde_json::from_slice(&error_body(kind, "m")).unwrap();
        assert_eq!(v["error"]["type"], name);
    }
    let events = events_of(&stream_error("cut"));
    assert_eq!(
        events,
        vec![(
            "error".to_owned(),
            json!({"type": "error", "error": {"type": "api_error", "message": "cut"}})
        )]
    );
    let mut out = Vec::new();
    let mut e = Encoder::new();
    e.encode(
        &StreamEvent::Error {
            message: "cut".into(),
        },
        &mut out,
    );
    let events = events_of(&out);
    assert_eq!(events.last().unwrap().0, "error");
}
