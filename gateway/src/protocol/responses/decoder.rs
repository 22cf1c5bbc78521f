//! Streams in: a Responses API event stream read as [`StreamEvent`]s.

use std::collections::HashSet;

use serde_json::{json, Value};

use super::response::{failure_message, finish_of, incomplete_reason, usage_from};
use crate::protocol::canonical::StreamEvent;
use crate::protocol::sse::{SseEvent, SseReader};

/// One function call seen by the [`Decoder`].
#[derive(Debug)]
struct Call {
    output_index: Option<u64>,
    item_id: Option<String>,
    index: u32,
    got_arguments: bool,
}

/// Reads a Responses API event stream into [`StreamEvent`]s.
///
/// `response.created` is `Start`; `response.output_text.delta` (and `response.refusal.delta`)
/// are `TextDelta`; a `function_call` item added is `ToolCallStart` (tool calls counted from 0
/// in order of appearance); `response.function_call_arguments.delta` is `ToolArgumentsDelta`;
/// `response.completed`/`response.incomplete` are `Usage`, `Finish` and `End`;
/// `response.failed` and `error` are `Error`. Text or arguments that only arrive in a `.done`
/// event (no deltas before) are emitted from it. Unknown events and undecodable data are
/// ignored; nothing follows the first `End` or `Error`. A stream that ends without a terminal
/// event yields an `Error` from [`Decoder::finish`].
#[derive(Debug, Default)]
pub struct Decoder {
    sse: SseReader,
    started: bool,
    done: bool,
    refused: bool,
    calls: Vec<Call>,
    /// `(output_index, content_index)` of text parts that had deltas.
    texts: HashSet<(u64, u64)>,
}

impl Decoder {
    /// A decoder at the start of a stream.
    pub fn new() -> Decoder {
        Decoder::default()
    }

    /// Feeds a chunk of the upstream body; decoded events are appended to `out`.
    pub fn feed(&mut self, chunk: &[u8], out: &mut Vec<StreamEvent>) {
        let mut events = Vec::new();
        self.sse.feed(chunk, &mut events);
        for e in events {
            self.event(&e, out);
        }
    }

    /// Ends the stream: a last event without its blank line still counts, and a stream cut
    /// short of `response.completed` (or an error) yields an `Error`.
    pub fn finish(&mut self, out: &mut Vec<StreamEvent>) {
        let mut events = Vec::new();
        self.sse.finish(&mut events);
        for e in events {
            self.event(&e, out);
        }
        if !self.done {
            self.done = true;
            out.push(StreamEvent::Error {
                message: "the upstream stream ended before response.completed".into(),
            });
        }
    }

    fn start(&mut self, response: Option<&Value>, out: &mut Vec<StreamEvent>) {
        if !self.started {
            self.started = true;
            let field = |k: &str| {
                let v = response.and_then(|r| r.get(k)).and_then(Value::as_str);
                v.unwrap_or("").to_owned()
            };
            out.push(StreamEvent::Start {
                id: field("id"),
                model: field("model"),
            });
        }
    }

    fn call(&mut self, data: &Value) -> Option<&mut Call> {
        let output_index = data.get("output_index").and_then(Value::as_u64);
        let item = data
            .get("item_id")
            .or_else(|| data.pointer("/item/id"))
            .and_then(Value::as_str);
        self.calls.iter_mut().find(|c| {
            (output_index.is_some() && c.output_index == output_index)
                || (item.is_some() && c.item_id.as_deref() == item)
        })
    }

    /// Text at the place `at` names (`output_index`, `content_index`): always emitted from a
    /// delta, from a `.done` event only when no delta came for that place.
    fn text(&mut self, at: &Value, text: Option<&Value>, delta: bool, out: &mut Vec<StreamEvent>) {
        let index = |k: &str| at.get(k).and_then(Value::as_u64).unwrap_or(0);
        let fresh = self
            .texts
            .insert((index("output_index"), index("content_index")));
        match text.and_then(Value::as_str) {
            Some(t) if !t.is_empty() && (delta || fresh) => {
                out.push(StreamEvent::TextDelta(t.to_owned()))
            }
            _ => {}
        }
    }

    /// Arguments of the call `at` names (`output_index` or `item_id`): always emitted from a
    /// delta, from a `.done` event or item only when none came before.
    fn arguments(
        &mut self,
        at: &Value,
        args: Option<&Value>,
        delta: bool,
        out: &mut Vec<StreamEvent>,
    ) {
        let args = args.and_then(Value::as_str).unwrap_or("");
        let Some(call) = self.call(at) else { return };
        if args.is_empty() || (!delta && call.got_arguments) {
            return;
        }
        call.got_arguments = true;
        out.push(StreamEvent::ToolArgumentsDelta {
            index: call.index,
            json: args.to_owned(),
        });
    }

    /// A function call item, added (or done without having been added).
    fn call_item(&mut self, data: &Value, item: &Value, out: &mut Vec<StreamEvent>) {
        if self.call(data).is_none() {
            let index = u32::try_from(self.calls.len()).unwrap_or(u32::MAX);
            self.calls.push(Call {
                output_index: data.get("output_index").and_then(Value::as_u64),
                item_id: item.get("id").and_then(Value::as_str).map(str::to_owned),
                index,
                got_arguments: false,
            });
            let field = |k: &str| item.get(k).and_then(Value::as_str).unwrap_or("").to_owned();
            out.push(StreamEvent::ToolCallStart {
                index,
                id: field("call_id"),
                name: field("name"),
            });
        }
        let at = json!({"output_index": data.get("output_index"), "item_id": item.get("id")});
        self.arguments(&at, item.get("arguments"), false, out);
    }

    fn event(&mut self, e: &SseEvent, out: &mut Vec<StreamEvent>) {
        if self.done {
            return;
        }
        let Ok(data) = serde_json::from_str::<Value>(&e.data) else {
            return;
        };
        let name = match e.event.as_str() {
            "" => data.get("type").and_then(Value::as_str).unwrap_or(""),
            name => name,
        };
        let response = data.get("response");
        match name {
            "response.created" | "response.in_progress" => self.start(response, out),
            "response.output_text.delta" | "response.refusal.delta" => {
                self.start(None, out);
                self.refused |= name == "response.refusal.delta";
                self.text(&data, data.get("delta"), true, out);
            }
            "response.output_text.done" => self.text(&data, data.get("text"), false, out),
            "response.refusal.done" => {
                self.refused = true;
                self.text(&data, data.get("refusal"), false, out);
            }
            "response.function_call_arguments.delta" => {
                self.arguments(&data, data.get("delta"), true, out)
            }
            "response.function_call_arguments.done" => {
                self.arguments(&data, data.get("arguments"), false, out)
            }
            "response.output_item.added" | "response.output_item.done" => {
                let Some(item) = data.get("item") else { return };
                self.start(None, out);
                match item.get("type").and_then(Value::as_str) {
                    Some("function_call") => self.call_item(&data, item, out),
                    Some("message") if name == "response.output_item.done" => {
                        let index = data.get("output_index").cloned().unwrap_or(json!(0));
                        let parts = item.get("content").and_then(Value::as_array);
                        for (j, part) in parts.into_iter().flatten().enumerate() {
                            let refusal =
                                part.get("type").and_then(Value::as_str) == Some("refusal");
                            self.refused |= refusal;
                            let text = part.get(if refusal { "refusal" } else { "text" });
                            let at = json!({"output_index": index, "content_index": j});
                            self.text(&at, text, false, out);
                        }
                    }
                    _ => {}
                }
            }
            "response.completed" | "response.incomplete" => {
                self.start(response, out);
                let response = response.unwrap_or(&Value::Null);
                if let Some(u) = response.get("usage").filter(|u| u.is_object()) {
                    out.push(StreamEvent::Usage(usage_from(u)));
                }
                let default = name.trim_start_matches("response.");
                let status = response
                    .get("status")
                    .and_then(Value::as_str)
                    .unwrap_or(default);
                let calls = !self.calls.is_empty();
                if let Some(f) = finish_of(status, incomplete_reason(response), calls, self.refused)
                {
                    out.push(StreamEvent::Finish(f));
                }
                out.push(StreamEvent::End);
                self.done = true;
            }
            "response.failed" | "error" => {
                let source = response.unwrap_or(&data);
                out.push(StreamEvent::Error {
                    message: failure_message(source),
                });
                self.done = true;
            }
            _ => {}
        }
    }
}
