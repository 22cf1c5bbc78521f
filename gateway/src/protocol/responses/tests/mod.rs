//! Tests of the Responses API shape: realistic payloads in the API's documented shapes, every
//! refused field, and property tests of the round trips.

mod decoder;
mod encoder;
mod props;
mod refused;
mod request;
mod response;
mod strategies;

use crate::protocol::canonical::{ChatResponse, Part, StreamEvent, Usage};

/// The bytes of a JSON value (test payloads are written as `json!` literals).
fn bytes(v: serde_json::Value) -> Vec<u8> {
    serde_json::to_vec(&v).unwrap()
}

/// Reassembles decoded stream events into the whole answer they describe.
fn assemble(events: &[StreamEvent]) -> ChatResponse {
    let mut resp = ChatResponse {
        id: String::new(),
        model: String::new(),
        content: Vec::new(),
        finish: None,
        usage: Usage::default(),
    };
    let mut calls: Vec<(u32, usize)> = Vec::new();
    for e in events {
        match e {
            StreamEvent::Start { id, model } => {
                resp.id = id.clone();
                resp.model = model.clone();
            }
            StreamEvent::TextDelta(t) => match resp.content.last_mut() {
                Some(Part::Text(s)) => s.push_str(t),
                _ => resp.content.push(Part::Text(t.clone())),
            },
            StreamEvent::ToolCallStart { index, id, name } => {
                calls.push((*index, resp.content.len()));
                resp.content.push(Part::ToolCall {
                    id: id.clone(),
                    name: name.clone(),
                    arguments: String::new(),
                });
            }
            StreamEvent::ToolArgumentsDelta { index, json } => {
                let at = calls
                    .iter()
                    .find(|c| c.0 == *index)
                    .expect("delta of a started call")
                    .1;
                if let Part::ToolCall { arguments, .. } = &mut resp.content[at] {
                    arguments.push_str(json);
                }
            }
            StreamEvent::Finish(f) => resp.finish = Some(*f),
            StreamEvent::Usage(u) => resp.usage = *u,
            StreamEvent::Error { message } => panic!("unexpected stream error {message}"),
            StreamEvent::End => {}
        }
    }
    resp
}
