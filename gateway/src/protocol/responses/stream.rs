//! Streams: Responses API server-sent events to and from [`StreamEvent`]s.

use std::collections::HashSet;

use serde_json::{json, Value};

use super::response::{
    call_item, failure_message, finish_of, incomplete_reason, item_id, message_item,
    response_value, usage_from,
};
use crate::protocol::canonical::{ChatResponse, FinishReason, Part, StreamEvent, Usage};
use crate::protocol::sse::{write_event, SseEvent, SseReader};

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

/// Appends one `error` event.
pub(super) fn write_error(out: &mut Vec<u8>, message: &str, sequence_number: u64) {
    let data = json!({
        "type": "error",
        "code": "upstream_error",
        "message": message,
        "param": null,
        "sequence_number": sequence_number,
    });
    write_event(out, "error", &data.to_string());
}

/// Writes [`StreamEvent`]s as a Responses API event stream.
///
/// `Start` is `response.created` and `response.in_progress`; the first text opens a message
/// item (`response.output_item.added`, `response.content_part.added`) and each `TextDelta` is a
/// `response.output_text.delta`; a tool call is a `function_call` item
/// (`response.output_item.added`, then `response.function_call_arguments.delta`s). Items are
/// closed (`….done` events carrying their whole text or arguments) when another kind of item
/// starts or at `End`: a message when a tool call starts, tool calls (which may interleave)
/// when text resumes. `End` closes everything and sends `response.completed` (or
/// `response.incomplete` for `Length`/`ContentFilter`) with the whole `response` object,
/// including `usage`; for that the encoder keeps the text and arguments it has sent (every
/// delta is still written at once). `Error` is an `error` event followed by `response.failed`
/// (the answer so far, `status: "failed"`, the message as its `error`). Every event carries its
/// `sequence_number` from 0. Events before `Start` start the stream with the id `resp_gateway`;
/// nothing is written after `End` or `Error`.
#[derive(Debug)]
pub struct Encoder {
    model: String,
    id: String,
    seq: u64,
    started: bool,
    done: bool,
    /// One part per output item, in output order: the message texts and function calls so far.
    items: Vec<Part>,
    /// Output index of the open message item.
    open_text: Option<usize>,
    /// `(tool-call index, output index, still open)` of each function call.
    calls: Vec<(u32, usize, bool)>,
    finish: Option<FinishReason>,
    usage: Usage,
}

impl Encoder {
    /// An encoder whose `response` objects name `model` (the model the client asked for; the
    /// model in `Start` is not shown).
    pub fn new(model: &str) -> Encoder {
        Encoder {
            model: model.to_owned(),
            id: String::new(),
            seq: 0,
            started: false,
            done: false,
            items: Vec::new(),
            open_text: None,
            calls: Vec::new(),
            finish: None,
            usage: Usage::default(),
        }
    }

    fn emit(&mut self, out: &mut Vec<u8>, name: &str, mut data: Value) {
        data["type"] = json!(name);
        data["sequence_number"] = json!(self.seq);
        self.seq += 1;
        write_event(out, name, &data.to_string());
    }

    /// Emits `response.output_item.added` or `.done` for the item at `index`.
    fn emit_item(&mut self, out: &mut Vec<u8>, name: &str, index: usize, item: Value) {
        self.emit(out, name, json!({"output_index": index, "item": item}));
    }

    fn start(&mut self, id: &str, out: &mut Vec<u8>) {
        if self.started {
            return;
        }
        self.started = true;
        self.id = match id {
            "" => "resp_gateway".into(),
            id => id.to_owned(),
        };
        let mut response = self.response();
        response["status"] = json!("in_progress");
        response["usage"] = Value::Null;
        self.emit(out, "response.created", json!({"response": response}));
        self.emit(out, "response.in_progress", json!({"response": response}));
    }

    /// The answer so far as a `response` object.
    fn response(&self) -> Value {
        let resp = ChatResponse {
            id: self.id.clone(),
            model: self.model.clone(),
            content: self.items.clone(),
            finish: self.finish,
            usage: self.usage,
        };
        response_value(&resp, &self.model)
    }

    /// `item_id`, `output_index` (and `content_index` 0 for text) of the item at `index`.
    fn place(&self, index: usize) -> Value {
        match self.items.get(index) {
            Some(Part::ToolCall { .. }) => {
                json!({"item_id": item_id("fc", &self.id, index), "output_index": index})
            }
            _ => {
                let id = item_id("msg", &self.id, index);
                json!({"item_id": id, "output_index": index, "content_index": 0})
            }
        }
    }

    /// `place` with more fields.
    fn at(&self, index: usize, fields: Value) -> Value {
        let mut v = self.place(index);
        if let (Some(v), Value::Object(fields)) = (v.as_object_mut(), fields) {
            v.extend(fields);
        }
        v
    }

    /// Opens a message item for text; returns its output index.
    fn open_message(&mut self, out: &mut Vec<u8>) -> usize {
        let index = self.items.len();
        self.items.push(Part::Text(String::new()));
        self.open_text = Some(index);
        let id = item_id("msg", &self.id, index);
        let item = json!({"type": "message", "id": id, "status": "in_progress",
                          "role": "assistant", "content": []});
        self.emit_item(out, "response.output_item.added", index, item);
        let part = json!({"type": "output_text", "text": "", "annotations": []});
        let added = self.at(index, json!({"part": part}));
        self.emit(out, "response.content_part.added", added);
        index
    }

    fn close_text(&mut self, out: &mut Vec<u8>) {
        let Some(index) = self.open_text.take() else {
            return;
        };
        let Some(Part::Text(text)) = self.items.get(index).cloned() else {
            return;
        };
        let done = self.at(index, json!({"text": text, "logprobs": []}));
        self.emit(out, "response.output_text.done", done);
        let part = json!({"type": "output_text", "text": text, "annotations": []});
        let done = self.at(index, json!({"part": part}));
        self.emit(out, "response.content_part.done", done);
        let item = message_item(&item_id("msg", &self.id, index), &text);
        self.emit_item(out, "response.output_item.done", index, item);
    }

    fn close_calls(&mut self, out: &mut Vec<u8>) {
        for k in 0..self.calls.len() {
            let (_, index, open) = self.calls[k];
            if !open {
                continue;
            }
            self.calls[k].2 = false;
            let Some(Part::ToolCall {
                id,
                name,
                arguments,
            }) = self.items.get(index).cloned()
            else {
                continue;
            };
            let done = self.at(index, json!({"name": name, "arguments": arguments}));
            self.emit(out, "response.function_call_arguments.done", done);
            let item = item_id("fc", &self.id, index);
            let item = call_item(&item, &id, &name, &arguments, "completed");
            self.emit_item(out, "response.output_item.done", index, item);
        }
    }

    /// Writes the events for one [`StreamEvent`].
    pub fn encode(&mut self, event: &StreamEvent, out: &mut Vec<u8>) {
        if self.done {
            return;
        }
        match event {
            StreamEvent::Start { id, .. } => self.start(id, out),
            _ => self.start("", out),
        }
        match event {
            StreamEvent::Start { .. } => {}
            StreamEvent::TextDelta(t) if t.is_empty() => {}
            StreamEvent::TextDelta(t) => {
                self.close_calls(out);
                let index = match self.open_text {
                    Some(index) => index,
                    None => self.open_message(out),
                };
                if let Some(Part::Text(text)) = self.items.get_mut(index) {
                    text.push_str(t);
                }
                let delta = self.at(index, json!({"delta": t, "logprobs": []}));
                self.emit(out, "response.output_text.delta", delta);
            }
            StreamEvent::ToolCallStart { index, id, name } => {
                if self.calls.iter().any(|c| c.0 == *index) {
                    return;
                }
                self.close_text(out);
                let at = self.items.len();
                let item = call_item(&item_id("fc", &self.id, at), id, name, "", "in_progress");
                let (id, name) = (id.clone(), name.clone());
                let arguments = String::new();
                self.items.push(Part::ToolCall {
                    id,
                    name,
                    arguments,
                });
                self.calls.push((*index, at, true));
                self.emit_item(out, "response.output_item.added", at, item);
            }
            StreamEvent::ToolArgumentsDelta { index, json } => {
                let Some(&(_, at, true)) = self.calls.iter().find(|c| c.0 == *index) else {
                    return;
                };
                if json.is_empty() {
                    return;
                }
                if let Some(Part::ToolCall { arguments, .. }) = self.items.get_mut(at) {
                    arguments.push_str(json);
                }
                let delta = self.at(at, json!({"delta": json}));
                self.emit(out, "response.function_call_arguments.delta", delta);
            }
            StreamEvent::Finish(f) => self.finish = Some(*f),
            StreamEvent::Usage(u) => self.usage = *u,
            StreamEvent::Error { message } => {
                self.done = true;
                let seq = self.seq;
                self.seq += 1;
                write_error(out, message, seq);
                let mut response = self.response();
                response["status"] = json!("failed");
                response["error"] = json!({"code": "server_error", "message": message});
                response["incomplete_details"] = Value::Null;
                self.emit(out, "response.failed", json!({"response": response}));
            }
            StreamEvent::End => {
                self.close_text(out);
                self.close_calls(out);
                self.done = true;
                let response = self.response();
                let name = match response["status"].as_str() {
                    Some("incomplete") => "response.incomplete",
                    _ => "response.completed",
                };
                self.emit(out, name, json!({"response": response}));
            }
        }
    }
}
