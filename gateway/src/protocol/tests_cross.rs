//! Examples across shapes: what a client of one shape gets from an upstream of the other.

use serde_json::{json, Value};

use super::canonical::{FinishReason, Part, StreamEvent, Usage};
use super::{anthropic, openai_chat};

#[test]
fn an_anthropic_answer_for_an_openai_client_counts_cached_input() {
    let upstream = json!({
        "id": "msg_1", "type": "message", "role": "assistant", "model": "claude-x",
        "content": [{"type": "text", "text": "Hello"}, {"type": "text", "text": " world"},
            {"type": "tool_use", "id": "toolu_1", "name": "f", "input": {"b": 1, "a": [true]}}],
        "stop_reason": "max_tokens", "stop_sequence": null,
        "usage": {"input_tokens": 10, "cache_creation_input_tokens": 20, "cache_read_input_tokens": 30, "output_tokens": 5},
    });
    let resp = anthropic::parse_response(upstream.to_string().as_bytes()).unwrap();
    let out: Value =
        serde_json::from_slice(&openai_chat::render_response(&resp, "gpt-alias")).unwrap();
    let choice = &out["choices"][0];
    assert_eq!(choice["message"]["content"], "Hello world");
    assert_eq!(
        choice["message"]["tool_calls"][0]["function"]["arguments"],
        r#"{"a":[true],"b":1}"#
    );
    assert_eq!(choice["finish_reason"], "length");
    assert_eq!(
        out["usage"],
        json!({"prompt_tokens": 60, "completion_tokens": 5, "total_tokens": 65,
            "prompt_tokens_details": {"cached_tokens": 30}})
    );
}

#[test]
fn an_openai_answer_for_an_anthropic_client() {
    let upstream = json!({
        "id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "gpt-4o",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": null, "refusal": "I can't help with that."},
            "finish_reason": "content_filter"}],
        "usage": {"prompt_tokens": 100, "completion_tokens": 8, "total_tokens": 108,
            "prompt_tokens_details": {"cached_tokens": 64}},
    });
    let resp = openai_chat::parse_response(upstream.to_string().as_bytes()).unwrap();
    assert_eq!(
        resp.content,
        vec![Part::Text("I can't help with that.".into())]
    );
    let out: Value =
        serde_json::from_slice(&anthropic::render_response(&resp, "claude-alias")).unwrap();
    assert_eq!(
        out["content"],
        json!([{"type": "text", "text": "I can't help with that."}])
    );
    assert_eq!(out["stop_reason"], "refusal");
    assert_eq!(
        out["usage"],
        json!({"input_tokens": 36, "output_tokens": 8, "cache_read_input_tokens": 64, "cache_creation_input_tokens": 0})
    );
}

fn decode_anthropic(s: &str) -> Vec<StreamEvent> {
    let mut d = anthropic::Decoder::default();
    let mut out = Vec::new();
    d.feed(s.as_bytes(), &mut out);
    d.finish(&mut out);
    out
}

#[test]
fn anthropic_stream_with_whole_tool_input_and_late_input_usage() {
    let events = decode_anthropic(concat!(
        "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"m\",\"model\":\"c\",\"usage\":{\"input_tokens\":3}}}\n\n",
        "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"tool_use\",\"id\":\"t\",\"name\":\"f\",\"input\":{\"x\":1}}}\n\n",
        "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n",
        "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"tool_use\"},\"usage\":{\"input_tokens\":4,\"cache_read_input_tokens\":6,\"output_tokens\":2}}\n\n",
        "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n",
    ));
    assert_eq!(
        &events[2..],
        &[
            StreamEvent::ToolCallStart {
                index: 0,
                id: "t".into(),
                name: "f".into()
            },
            StreamEvent::ToolArgumentsDelta {
                index: 0,
                json: "{\"x\":1}".into()
            },
            StreamEvent::Finish(FinishReason::ToolCalls),
            StreamEvent::Usage(Usage {
                input_tokens: 10,
                output_tokens: 2,
                cache_read_tokens: 6,
                cache_write_tokens: 0
            }),
            StreamEvent::End,
        ]
    );
    // Re-encoded for an OpenAI client: one tool call chunk pair, then finish, usage, [DONE].
    let mut enc = openai_chat::Encoder::default();
    let mut bytes = Vec::new();
    events.iter().for_each(|e| enc.encode(e, &mut bytes));
    let text = String::from_utf8(bytes).unwrap();
    let datas: Vec<&str> = text.split("\n\n").filter(|s| !s.is_empty()).collect();
    assert_eq!(datas.len(), 6, "{text}");
    assert!(datas[1].contains(r#""id":"t""#) && datas[2].contains(r#""arguments":"{\"x\":1}""#));
    assert!(datas[3].contains(r#""finish_reason":"tool_calls""#));
    assert!(datas[4].contains(r#""prompt_tokens":10"#));
    assert_eq!(datas[5], "data: [DONE]");
}
