//! What translating between API shapes costs per request: an OpenAI chat request rendered for
//! an Anthropic deployment, its answer rendered back, and a 64-event answer stream transcoded
//! event by event (Anthropic SSE in, OpenAI chunks out), with the same request passed through
//! untranslated (`model` replaced in place) as the floor.
//!
//! Run: `cargo bench --bench translate`. Target (issue: "translation adds ≤ 20 µs per request
//! at p50"): request + answer ≤ 20 µs median. Results are written up in docs/gateway.md.

use std::hint::black_box;

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, Criterion};
use gateway::protocol::canonical::StreamEvent;
use gateway::protocol::{anthropic, openai_chat};

const REQUEST: &str = r#"{"model":"gpt-4o-mini","messages":[{"role":"system","content":"You are a terse assistant."},{"role":"user","content":"What is the weather in Paris today, and should I take an umbrella? Answer in one sentence."}],"max_tokens":256,"temperature":0.2,"tools":[{"type":"function","function":{"name":"get_weather","description":"Weather in a city","parameters":{"type":"object","properties":{"location":{"type":"string"}},"required":["location"]}}}]}"#;

const ANSWER: &str = r#"{"id":"msg_01","type":"message","role":"assistant","model":"claude-haiku","content":[{"type":"text","text":"It is 21 C and sunny in Paris: no umbrella needed."}],"stop_reason":"end_turn","stop_sequence":null,"usage":{"input_tokens":112,"output_tokens":17}}"#;

fn stream() -> Vec<Bytes> {
    let mut events = vec![
        "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_01\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"claude-haiku\",\"content\":[],\"stop_reason\":null,\"usage\":{\"input_tokens\":112,\"output_tokens\":1}}}\n\n".to_owned(),
        "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n".to_owned(),
    ];
    for i in 0..60 {
        events.push(format!("event: content_block_delta\ndata: {{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{{\"type\":\"text_delta\",\"text\":\"word{i} \"}}}}\n\n"));
    }
    events.push(
        "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n"
            .to_owned(),
    );
    events.push("event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\"},\"usage\":{\"output_tokens\":61}}\n\n".to_owned());
    events.push("event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n".to_owned());
    events.into_iter().map(Bytes::from).collect()
}

fn bench(c: &mut Criterion) {
    let body = Bytes::from_static(REQUEST.as_bytes());
    c.bench_function("passthrough: parse for routing + model splice", |b| {
        b.iter(|| {
            let parsed =
                gateway::request::parse(black_box(&body), gateway::request::Endpoint::Chat)
                    .expect("valid");
            gateway::request::rewrite_model(&body, parsed.model_span, "\"claude-haiku\"")
        })
    });
    c.bench_function("translate request: openai chat -> anthropic", |b| {
        b.iter(|| {
            let req = openai_chat::parse_request(black_box(REQUEST.as_bytes())).expect("valid");
            anthropic::render_request(&req, "claude-haiku").expect("translatable")
        })
    });
    c.bench_function("translate answer: anthropic -> openai chat", |b| {
        b.iter(|| {
            let answer = anthropic::parse_response(black_box(ANSWER.as_bytes())).expect("valid");
            openai_chat::render_response(&answer, "gpt-4o-mini")
        })
    });
    let events = stream();
    c.bench_function(
        "translate stream: 64 anthropic events -> openai chunks",
        |b| {
            b.iter(|| {
                let mut decoder = anthropic::Decoder::default();
                let mut encoder = openai_chat::Encoder::new(true);
                let mut decoded: Vec<StreamEvent> = Vec::new();
                let mut out = Vec::new();
                for e in &events {
                    decoder.feed(black_box(e), &mut decoded);
                    for ev in decoded.drain(..) {
                        encoder.encode(&ev, &mut out);
                    }
                }
                decoder.finish(&mut decoded);
                for ev in decoded.drain(..) {
                    encoder.encode(&ev, &mut out);
                }
                out
            })
        },
    );
}

criterion_group!(benches, bench);
criterion_main!(benches);
