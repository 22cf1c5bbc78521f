//! Property tests: streamed answers add up to the non-streamed ones in each shape, survive a
//! change of shape, and decoders never panic.

use proptest::prelude::*;
use serde_json::{json, Value};

use super::canonical::{ChatResponse, StreamEvent, Usage};
use super::tests_gen::{assemble, events_of, response, stream_normal, text};
use super::{anthropic, openai_chat, sse};

fn openai_stream(events: &[StreamEvent], cut: usize) -> Vec<StreamEvent> {
    let mut enc = openai_chat::Encoder::default();
    let mut bytes = Vec::new();
    for e in events {
        enc.encode(e, &mut bytes);
    }
    let mut dec = openai_chat::Decoder::default();
    let mut out = Vec::new();
    for c in bytes.chunks(cut) {
        dec.feed(c, &mut out);
    }
    dec.finish(&mut out);
    out
}

fn anthropic_stream(events: &[StreamEvent], cut: usize) -> Vec<StreamEvent> {
    let mut enc = anthropic::Encoder::new();
    let mut bytes = Vec::new();
    for e in events {
        enc.encode(e, &mut bytes);
    }
    let mut dec = anthropic::Decoder::default();
    let mut out = Vec::new();
    for c in bytes.chunks(cut) {
        dec.feed(c, &mut out);
    }
    dec.finish(&mut out);
    out
}

/// OpenAI carries no cache writes.
fn openai_usage(mut resp: ChatResponse) -> ChatResponse {
    resp.usage = Usage {
        cache_write_tokens: 0,
        ..resp.usage
    };
    resp
}

/// Usage events replaced by the last one (cache writes zeroed: OpenAI cannot carry them) just
/// before the end, where an OpenAI stream reports it.
pub fn usage_last(events: &[StreamEvent]) -> Vec<StreamEvent> {
    let last = events.iter().rev().find_map(|e| match e {
        StreamEvent::Usage(u) => Some(Usage {
            cache_write_tokens: 0,
            ..*u
        }),
        _ => None,
    });
    let mut out = Vec::new();
    for e in events {
        match e {
            StreamEvent::Usage(_) => {}
            StreamEvent::End => {
                out.extend(last.map(StreamEvent::Usage));
                out.push(StreamEvent::End);
            }
            e => out.push(e.clone()),
        }
    }
    out
}

proptest! {
    #[test]
    fn openai_stream_adds_up_to_the_answer(resp in response(), piece in 1usize..6, cut in 1usize..80) {
        let streamed = assemble(&openai_stream(&events_of(&resp, piece), cut));
        let whole = openai_chat::parse_response(&openai_chat::render_response(&resp, &resp.model)).unwrap();
        prop_assert_eq!(&streamed, &stream_normal(whole));
        prop_assert_eq!(streamed, openai_usage(stream_normal(resp)));
    }

    #[test]
    fn anthropic_stream_adds_up_to_the_answer(resp in response(), piece in 1usize..6, cut in 1usize..80) {
        let streamed = assemble(&anthropic_stream(&events_of(&resp, piece), cut));
        let whole = anthropic::parse_response(&anthropic::render_response(&resp, &resp.model)).unwrap();
        prop_assert_eq!(&streamed, &stream_normal(whole));
        prop_assert_eq!(streamed, stream_normal(resp));
    }

    /// An Anthropic stream re-encoded for an OpenAI client decodes to the same events (usage
    /// reported once, last, without cache writes), and the other way round.
    #[test]
    fn streams_survive_a_change_of_shape(resp in response(), piece in 1usize..6, cut in 1usize..80) {
        let from_anthropic = anthropic_stream(&events_of(&resp, piece), cut);
        let through_openai = openai_stream(&from_anthropic, cut);
        prop_assert_eq!(&through_openai, &usage_last(&from_anthropic));
        let from_openai = openai_stream(&events_of(&resp, piece), cut);
        let through_anthropic = anthropic_stream(&from_openai, cut);
        prop_assert_eq!(usage_last(&through_anthropic), usage_last(&from_openai));
    }

    #[test]
    fn stream_errors_cross_shapes(message in text()) {
        let events = vec![
            StreamEvent::Start { id: "i".into(), model: "m".into() },
            StreamEvent::TextDelta("x".into()),
            StreamEvent::Error { message },
        ];
        prop_assert_eq!(&openai_stream(&events, 3), &events);
        let mut through = anthropic_stream(&events, 3);
        through.retain(|e| !matches!(e, StreamEvent::Usage(_)));
        prop_assert_eq!(&through, &events);
    }

    #[test]
    fn decoders_never_panic_on_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..512), cut in 1usize..64) {
        for c in [bytes.len().max(1), cut] {
            let mut out = Vec::new();
            let mut d = openai_chat::Decoder::default();
            bytes.chunks(c).for_each(|b| d.feed(b, &mut out));
            d.finish(&mut out);
            let mut d = anthropic::Decoder::default();
            bytes.chunks(c).for_each(|b| d.feed(b, &mut out));
            d.finish(&mut out);
        }
    }

    /// Any sequence of events, in any order, is encoded without panicking into a stream the
    /// same shape's decoder reads without panicking.
    #[test]
    fn encoders_take_any_event_sequence(events in proptest::collection::vec(any_event(), 0..16)) {
        for decoded in [openai_stream(&events, 7), anthropic_stream(&events, 7)] {
            let ends = matches!(decoded.last(), Some(StreamEvent::End | StreamEvent::Error { .. }));
            prop_assert!(ends, "{:?}", decoded);
        }
    }

    /// Events that look like both APIs' chunks, with values of any type where numbers, strings
    /// and objects are expected.
    #[test]
    fn decoders_never_panic_on_chunkish_events(
        events in proptest::collection::vec((prop_oneof![Just(""), Just("message_start"), Just("content_block_delta"), Just("error")], chunkish()), 0..12),
    ) {
        let mut bytes = Vec::new();
        for (name, data) in &events {
            sse::write_event(&mut bytes, name, &data.to_string());
        }
        let mut out = Vec::new();
        let mut d = openai_chat::Decoder::default();
        d.feed(&bytes, &mut out);
        d.finish(&mut out);
        let mut d = anthropic::Decoder::default();
        d.feed(&bytes, &mut out);
        d.finish(&mut out);
        // Whatever the decoders made of it, the encoders take it.
        let mut sink = Vec::new();
        let mut oe = openai_chat::Encoder::default();
        let mut ae = anthropic::Encoder::new();
        for e in &out {
            oe.encode(e, &mut sink);
            ae.encode(e, &mut sink);
        }
    }
}

/// A JSON value shaped like stream chunks of both APIs, for fuzzing decoders.
fn chunkish() -> impl Strategy<Value = Value> {
    let words = prop_oneof![
        Just("message_start"),
        Just("content_block_start"),
        Just("content_block_delta"),
        Just("content_block_stop"),
        Just("message_delta"),
        Just("message_stop"),
        Just("tool_use"),
        Just("text"),
        Just("text_delta"),
        Just("input_json_delta"),
        Just("error"),
        Just("tool_calls"),
        Just("stop"),
        Just("end_turn"),
    ];
    let keys = prop_oneof![
        Just("type"),
        Just("index"),
        Just("delta"),
        Just("content_block"),
        Just("message"),
        Just("usage"),
        Just("choices"),
        Just("tool_calls"),
        Just("function"),
        Just("arguments"),
        Just("id"),
        Just("name"),
        Just("text"),
        Just("partial_json"),
        Just("input"),
        Just("error"),
        Just("finish_reason"),
        Just("stop_reason"),
        Just("content"),
        Just("output_tokens"),
        Just("input_tokens"),
        Just("prompt_tokens"),
        Just("message"),
    ];
    let leaf = prop_oneof![
        words.prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| json!(f)),
        text().prop_map(Value::from),
        Just(Value::Null),
        Just(json!({})),
    ];
    leaf.prop_recursive(3, 24, 4, move |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..3).prop_map(Value::from),
            proptest::collection::vec((keys.clone(), inner), 0..4).prop_map(|kv| {
                Value::Object(kv.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
            }),
        ]
    })
}

fn any_event() -> impl Strategy<Value = StreamEvent> {
    use super::canonical::FinishReason;
    prop_oneof![
        (text(), text()).prop_map(|(id, model)| StreamEvent::Start { id, model }),
        text().prop_map(StreamEvent::TextDelta),
        (0u32..3, text(), text()).prop_map(|(index, id, name)| StreamEvent::ToolCallStart {
            index,
            id,
            name
        }),
        (0u32..3, text()).prop_map(|(index, json)| StreamEvent::ToolArgumentsDelta { index, json }),
        prop_oneof![
            Just(FinishReason::Stop),
            Just(FinishReason::Length),
            Just(FinishReason::ToolCalls),
            Just(FinishReason::ContentFilter)
        ]
        .prop_map(StreamEvent::Finish),
        (any::<u32>(), any::<u32>(), any::<u32>(), any::<u32>()).prop_map(|(a, b, c, d)| {
            StreamEvent::Usage(Usage {
                input_tokens: a,
                output_tokens: b,
                cache_read_tokens: c,
                cache_write_tokens: d,
            })
        }),
        text().prop_map(|message| StreamEvent::Error { message }),
        Just(StreamEvent::End),
    ]
}
