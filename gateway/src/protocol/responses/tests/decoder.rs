use serde_json::{json, Value};

use crate::protocol::canonical::{FinishReason, StreamEvent, Usage};
use crate::protocol::responses::Decoder;
use crate::protocol::sse::write_event;

/// A stream in the documented shape: text, then a function call, then completion.
fn documented() -> Vec<u8> {
    let resp = |status: &str, output: Value, usage: Value| {
        json!({"id": "resp_1", "object": "response", "created_at": 1741290958, "status": status,
               "model": "gpt-4.1-2025-04-14", "output": output, "usage": usage})
    };
    let msg = json!({"id": "msg_1", "type": "message", "status": "in_progress", "role": "assistant", "content": []});
    let call = json!({"id": "fc_1", "type": "function_call", "status": "in_progress", "arguments": "",
                      "call_id": "call_1", "name": "get_weather"});
    let usage = json!({"input_tokens": 37, "input_tokens_details": {"cached_tokens": 0}, "output_tokens": 11,
                       "output_tokens_details": {"reasoning_tokens": 0}, "total_tokens": 48});
    let events = [
        (
            "response.created",
            json!({"response": resp("in_progress", json!([]), Value::Null)}),
        ),
        (
            "response.in_progress",
            json!({"response": resp("in_progress", json!([]), Value::Null)}),
        ),
        (
            "response.output_item.added",
            json!({"output_index": 0, "item": msg}),
        ),
        (
            "response.content_part.added",
            json!({"item_id": "msg_1", "output_index": 0, "content_index": 0,
            "part": {"type": "output_text", "text": "", "annotations": []}}),
        ),
        (
            "response.output_text.delta",
            json!({"item_id": "msg_1", "output_index": 0, "content_index": 0, "delta": "Hi"}),
        ),
        (
            "response.output_text.delta",
            json!({"item_id": "msg_1", "output_index": 0, "content_index": 0, "delta": " there"}),
        ),
        (
            "response.output_text.done",
            json!({"item_id": "msg_1", "output_index": 0, "content_index": 0, "text": "Hi there"}),
        ),
        (
            "response.content_part.done",
            json!({"item_id": "msg_1", "output_index": 0, "content_index": 0,
            "part": {"type": "output_text", "text": "Hi there", "annotations": []}}),
        ),
        (
            "response.output_item.done",
            json!({"output_index": 0, "item": {"id": "msg_1", "type": "message",
            "status": "completed", "role": "assistant", "content": [{"type": "output_text", "text": "Hi there"}]}}),
        ),
        (
            "response.output_item.added",
            json!({"output_index": 1, "item": call}),
        ),
        (
            "response.function_call_arguments.delta",
            json!({"item_id": "fc_1", "output_index": 1, "delta": "{\"location\":"}),
        ),
        (
            "response.function_call_arguments.delta",
            json!({"item_id": "fc_1", "output_index": 1, "delta": "\"Paris\"}"}),
        ),
        (
            "response.function_call_arguments.done",
            json!({"item_id": "fc_1", "output_index": 1, "arguments": "{\"location\":\"Paris\"}"}),
        ),
        (
            "response.output_item.done",
            json!({"output_index": 1, "item": {"id": "fc_1", "type": "function_call",
            "status": "completed", "arguments": "{\"location\":\"Paris\"}", "call_id": "call_1", "name": "get_weather"}}),
        ),
        ("response.some_future_event", json!({"whatever": true})),
        (
            "response.completed",
            json!({"response": resp("completed", json!([]), usage)}),
        ),
    ];
    let mut out = Vec::new();
    for (i, (name, mut data)) in events.into_iter().enumerate() {
        data["type"] = json!(name);
        data["sequence_number"] = json!(i);
        write_event(&mut out, name, &data.to_string());
    }
    out
}

/// Everything a fresh decoder reads from `bytes`, finish included.
pub(super) fn decode(bytes: &[u8]) -> Vec<StreamEvent> {
    let mut d = Decoder::new();
    let mut out = Vec::new();
    d.feed(bytes, &mut out);
    d.finish(&mut out);
    out
}

#[test]
fn the_documented_stream_decodes_whatever_the_chunking() {
    let text = documented();
    let expected = vec![
        StreamEvent::Start {
            id: "resp_1".into(),
            model: "gpt-4.1-2025-04-14".into(),
        },
        StreamEvent::TextDelta("Hi".into()),
        StreamEvent::TextDelta(" there".into()),
        StreamEvent::ToolCallStart {
            index: 0,
            id: "call_1".into(),
            name: "get_weather".into(),
        },
        StreamEvent::ToolArgumentsDelta {
            index: 0,
            json: "{\"location\":".into(),
        },
        StreamEvent::ToolArgumentsDelta {
            index: 0,
            json: "\"Paris\"}".into(),
        },
        StreamEvent::Usage(Usage {
            input_tokens: 37,
            output_tokens: 11,
            cache_read_tokens: 0,
            cache_write_tokens: 0,
        }),
        StreamEvent::Finish(FinishReason::ToolCalls),
        StreamEvent::End,
    ];
    assert_eq!(decode(&text), expected);
    for cut in (0..text.len()).step_by(7) {
        let mut d = Decoder::new();
        let mut out = Vec::new();
        d.feed(&text[..cut], &mut out);
        d.feed(&text[cut..], &mut out);
        d.finish(&mut out);
        assert_eq!(out, expected, "cut at {cut}");
    }
}

#[test]
fn text_and_arguments_only_in_done_events_still_arrive() {
    let mut text = Vec::new();
    let events = [
        json!({"type": "response.created", "response": {"id": "r", "model": "m"}}),
        json!({"type": "response.output_text.done", "output_index": 0, "content_index": 0, "text": "whole"}),
        json!({"type": "response.output_item.done", "output_index": 0, "item": {"type": "message",
            "content": [{"type": "output_text", "text": "whole"}]}}),
        json!({"type": "response.output_item.done", "output_index": 1, "item": {"type": "function_call",
            "id": "fc", "call_id": "c", "name": "f", "arguments": "{}"}}),
        json!({"type": "response.incomplete", "response": {"status": "incomplete",
            "incomplete_details": {"reason": "max_output_tokens"}}}),
    ];
    for e in events {
        // No `event:` lines: the data's `type` names the event.
        write_event(&mut text, "", &e.to_string());
    }
    assert_eq!(
        decode(&text),
        vec![
            StreamEvent::Start {
                id: "r".into(),
                model: "m".into()
            },
            StreamEvent::TextDelta("whole".into()),
            StreamEvent::ToolCallStart {
                index: 0,
                id: "c".into(),
                name: "f".into()
            },
            StreamEvent::ToolArgumentsDelta {
                index: 0,
                json: "{}".into()
            },
            StreamEvent::Finish(FinishReason::Length),
            StreamEvent::End,
        ]
    );
}

#[test]
fn failures_and_cut_streams_are_errors() {
    let mut text = Vec::new();
    write_event(
        &mut text,
        "response.created",
        &json!({"response": {"id": "r", "model": "m"}}).to_string(),
    );
    write_event(
        &mut text,
        "error",
        &json!({"type": "error", "code": "ERR", "message": "Rate limited", "param": null})
            .to_string(),
    );
    write_event(
        &mut text,
        "response.output_text.delta",
        &json!({"delta": "late"}).to_string(),
    );
    let events = decode(&text);
    assert_eq!(
        events[1..],
        [StreamEvent::Error {
            message: "Rate limited".into()
        }]
    );

    let mut text = Vec::new();
    write_event(
        &mut text,
        "response.failed",
        &json!({"response": {"id": "r", "status": "failed",
        "error": {"code": "server_error", "message": "Model crashed"}}})
        .to_string(),
    );
    assert_eq!(
        decode(&text),
        [StreamEvent::Error {
            message: "Model crashed".into()
        }]
    );

    let mut text = Vec::new();
    write_event(
        &mut text,
        "response.created",
        &json!({"response": {"id": "r", "model": "m"}}).to_string(),
    );
    write_event(&mut text, "response.output_text.delta", "{not json");
    let events = decode(&text);
    assert_eq!(events.len(), 2);
    assert!(
        matches!(&events[1], StreamEvent::Error { message } if message.contains("ended before"))
    );
}

#[test]
fn a_reasoning_model_stream_counts_only_function_calls() {
    let events = [
        json!({"type": "response.created", "response": {"id": "resp_r", "model": "o4-mini"}}),
        json!({"type": "response.output_item.added", "output_index": 0,
               "item": {"type": "reasoning", "id": "rs_1", "summary": []}}),
        json!({"type": "response.reasoning_summary_text.delta", "output_index": 0, "delta": "thinking"}),
        json!({"type": "response.output_item.done", "output_index": 0,
               "item": {"type": "reasoning", "id": "rs_1", "summary": []}}),
        json!({"type": "response.output_item.added", "output_index": 1,
               "item": {"type": "message", "id": "msg_1", "role": "assistant", "content": []}}),
        json!({"type": "response.output_text.delta", "item_id": "msg_1", "output_index": 1,
               "content_index": 0, "delta": "Sure."}),
        json!({"type": "response.output_text.done", "item_id": "msg_1", "output_index": 1,
               "content_index": 0, "text": "Sure."}),
        json!({"type": "response.output_item.done", "output_index": 1, "item": {"type": "message",
               "id": "msg_1", "content": [{"type": "output_text", "text": "Sure."}]}}),
        json!({"type": "response.output_item.added", "output_index": 2, "item": {"type": "function_call",
               "id": "fc_1", "call_id": "call_1", "name": "f", "arguments": ""}}),
        json!({"type": "response.function_call_arguments.delta", "item_id": "fc_1", "output_index": 2,
               "delta": "{}"}),
        json!({"type": "response.function_call_arguments.done", "item_id": "fc_1", "output_index": 2,
               "arguments": "{}"}),
        json!({"type": "response.output_item.done", "output_index": 2, "item": {"type": "function_call",
               "id": "fc_1", "call_id": "call_1", "name": "f", "arguments": "{}"}}),
        json!({"type": "response.completed", "response": {"status": "completed",
               "usage": {"input_tokens": 5, "output_tokens": 7,
                         "output_tokens_details": {"reasoning_tokens": 4}}}}),
    ];
    let mut text = Vec::new();
    for (i, mut e) in events.into_iter().enumerate() {
        e["sequence_number"] = json!(i);
        let name = e["type"].as_str().unwrap().to_owned();
        write_event(&mut text, &name, &e.to_string());
    }
    assert_eq!(
        decode(&text),
        [
            StreamEvent::Start {
                id: "resp_r".into(),
                model: "o4-mini".into()
            },
            StreamEvent::TextDelta("Sure.".into()),
            StreamEvent::ToolCallStart {
                index: 0,
                id: "call_1".into(),
                name: "f".into()
            },
            StreamEvent::ToolArgumentsDelta {
                index: 0,
                json: "{}".into()
            },
            StreamEvent::Usage(Usage {
                input_tokens: 5,
                output_tokens: 7,
                ..Usage::default()
            }),
            StreamEvent::Finish(FinishReason::ToolCalls),
            StreamEvent::End,
        ]
    );
}
