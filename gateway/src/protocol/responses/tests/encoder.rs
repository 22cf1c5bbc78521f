use serde_json::{json, Value};

use super::decoder::decode;
use crate::protocol::canonical::{FinishReason, StreamEvent, Usage};
use crate::protocol::responses::{error_body, stream_error, Encoder};
use crate::protocol::sse::SseReader;
use crate::protocol::ErrorKind;

/// Names of the events in an encoded stream, with their data, checking sequence numbers.
fn events_of(bytes: &[u8]) -> Vec<(String, Value)> {
    let mut r = SseReader::default();
    let mut raw = Vec::new();
    r.feed(bytes, &mut raw);
    r.finish(&mut raw);
    raw.into_iter()
        .enumerate()
        .map(|(i, e)| {
            let data: Value = serde_json::from_str(&e.data).unwrap();
            assert_eq!(data["type"], e.event.as_str());
            assert_eq!(data["sequence_number"], i, "{e:?}");
            (e.event, data)
        })
        .collect()
}

#[test]
fn the_encoder_writes_the_documented_sequence() {
    let mut enc = Encoder::new("client-model");
    let mut out = Vec::new();
    for e in [
        StreamEvent::Start {
            id: "resp_x".into(),
            model: "upstream".into(),
        },
        StreamEvent::TextDelta("Hel".into()),
        StreamEvent::TextDelta("lo".into()),
        StreamEvent::ToolCallStart {
            index: 0,
            id: "call_a".into(),
            name: "f".into(),
        },
        StreamEvent::ToolArgumentsDelta {
            index: 0,
            json: "{\"a\":".into(),
        },
        StreamEvent::ToolCallStart {
            index: 1,
            id: "call_b".into(),
            name: "g".into(),
        },
        StreamEvent::ToolArgumentsDelta {
            index: 0,
            json: "1}".into(),
        },
        StreamEvent::ToolArgumentsDelta {
            index: 1,
            json: "{}".into(),
        },
        StreamEvent::Usage(Usage {
            input_tokens: 9,
            output_tokens: 3,
            cache_read_tokens: 1,
            cache_write_tokens: 0,
        }),
        StreamEvent::Finish(FinishReason::ToolCalls),
        StreamEvent::End,
        StreamEvent::TextDelta("after the end".into()),
    ] {
        enc.encode(&e, &mut out);
    }
    let events = events_of(&out);
    let names: Vec<&str> = events.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "response.created",
            "response.in_progress",
            "response.output_item.added",
            "response.content_part.added",
            "response.output_text.delta",
            "response.output_text.delta",
            "response.output_text.done",
            "response.content_part.done",
            "response.output_item.done",
            "response.output_item.added",
            "response.function_call_arguments.delta",
            "response.output_item.added",
            "response.function_call_arguments.delta",
            "response.function_call_arguments.delta",
            "response.function_call_arguments.done",
            "response.output_item.done",
            "response.function_call_arguments.done",
            "response.output_item.done",
            "response.completed",
        ]
    );
    assert_eq!(events[0].1["response"]["status"], "in_progress");
    assert_eq!(events[0].1["response"]["model"], "client-model");
    assert_eq!(events[4].1["item_id"], "msg_x_0");
    assert_eq!(events[6].1["text"], "Hello");
    assert_eq!(events[12].1["output_index"], 1);
    assert_eq!(events[13].1["output_index"], 2);
    assert_eq!(events[14].1["arguments"], "{\"a\":1}");
    let done = &events[18].1["response"];
    assert_eq!(done["status"], "completed");
    assert_eq!(done["usage"]["total_tokens"], 12);
    assert_eq!(done["usage"]["input_tokens_details"]["cached_tokens"], 1);
    assert_eq!(done["output"][0]["content"][0]["text"], "Hello");
    assert_eq!(done["output"][2]["id"], "fc_x_2");
    assert_eq!(done["output"][2]["arguments"], "{}");
    // The decoder reads the encoder's output back.
    let decoded = decode(&out);
    assert_eq!(decoded.last(), Some(&StreamEvent::End));
}

#[test]
fn encoder_errors_and_an_incomplete_end() {
    let mut enc = Encoder::new("m");
    let mut out = Vec::new();
    enc.encode(&StreamEvent::TextDelta("partial".into()), &mut out);
    enc.encode(
        &StreamEvent::Error {
            message: "upstream timed out".into(),
        },
        &mut out,
    );
    enc.encode(&StreamEvent::End, &mut out);
    let events = events_of(&out);
    assert_eq!(events.len(), 7, "{events:?}");
    assert_eq!(events[0].1["response"]["id"], "resp_gateway");
    let (name, data) = &events[5];
    assert_eq!(name, "error");
    assert_eq!(data["message"], "upstream timed out");
    let (name, data) = &events[6];
    assert_eq!(name, "response.failed");
    assert_eq!(data["response"]["status"], "failed");
    assert_eq!(data["response"]["error"]["message"], "upstream timed out");
    assert_eq!(
        data["response"]["output"][0]["content"][0]["text"],
        "partial"
    );

    let mut enc = Encoder::new("m");
    let mut out = Vec::new();
    for e in [
        StreamEvent::Start {
            id: "r".into(),
            model: "m".into(),
        },
        StreamEvent::Finish(FinishReason::Length),
        StreamEvent::End,
    ] {
        enc.encode(&e, &mut out);
    }
    let events = events_of(&out);
    let (name, data) = events.last().unwrap();
    assert_eq!(name, "response.incomplete");
    assert_eq!(
        data["response"]["incomplete_details"]["reason"],
        "max_output_tokens"
    );
}

#[test]
fn error_documents() {
    let v: Value =
        serde_json::from_slice(&error_body(ErrorKind::NotFound, "no model \"x\"")).unwrap();
    assert_eq!(
        v,
        json!({"error": {"message": "no model \"x\"", "type": "invalid_request_error", "code": "model_not_found"}})
    );
    for kind in [
        ErrorKind::InvalidRequest,
        ErrorKind::Authentication,
        ErrorKind::RateLimit,
        ErrorKind::Api,
        ErrorKind::Overloaded,
    ] {
        let v: Value = serde_json::from_slice(&error_body(kind, "m")).unwrap();
        assert!(v["error"]["type"].is_string() && v["error"]["code"].is_string());
    }
    let text = stream_error("boom\nline two");
    let events = events_of(&text);
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].0, "error");
    assert_eq!(events[0].1["message"], "boom\nline two");
    assert_eq!(
        decode(&text),
        [StreamEvent::Error {
            message: "boom\nline two".into()
        }]
    );
}

#[test]
fn the_encoder_drops_what_cannot_be_said() {
    let mut enc = Encoder::new("m");
    let mut out = Vec::new();
    for e in [
        StreamEvent::Start {
            id: "resp_y".into(),
            model: "m".into(),
        },
        StreamEvent::TextDelta(String::new()),
        StreamEvent::ToolArgumentsDelta {
            index: 5,
            json: "{}".into(),
        },
        StreamEvent::ToolCallStart {
            index: 0,
            id: "c".into(),
            name: "f".into(),
        },
        StreamEvent::ToolCallStart {
            index: 0,
            id: "c".into(),
            name: "f".into(),
        },
        StreamEvent::ToolArgumentsDelta {
            index: 0,
            json: "{}".into(),
        },
        StreamEvent::TextDelta("after".into()),
        StreamEvent::ToolArgumentsDelta {
            index: 0,
            json: "late".into(),
        },
        StreamEvent::Start {
            id: "again".into(),
            model: "m".into(),
        },
        StreamEvent::End,
    ] {
        enc.encode(&e, &mut out);
    }
    let names: Vec<String> = events_of(&out).into_iter().map(|(n, _)| n).collect();
    assert_eq!(
        names,
        [
            "response.created",
            "response.in_progress",
            "response.output_item.added",
            "response.function_call_arguments.delta",
            "response.function_call_arguments.done",
            "response.output_item.done",
            "response.output_item.added",
            "response.content_part.added",
            "response.output_text.delta",
            "response.output_text.done",
            "response.content_part.done",
            "response.output_item.done",
            "response.completed",
        ]
    );
    let decoded = decode(&out);
    assert_eq!(
        decoded,
        [
            StreamEvent::Start {
                id: "resp_y".into(),
                model: "m".into()
            },
            StreamEvent::ToolCallStart {
                index: 0,
                id: "c".into(),
                name: "f".into()
            },
            StreamEvent::ToolArgumentsDelta {
                index: 0,
                json: "{}".into()
            },
            StreamEvent::TextDelta("after".into()),
            StreamEvent::Usage(Usage::default()),
            StreamEvent::Finish(FinishReason::ToolCalls),
            StreamEvent::End,
        ]
    );
}
