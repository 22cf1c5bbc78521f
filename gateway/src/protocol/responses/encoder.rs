//! Streams out: [`StreamEvent`]s written as a Responses API event stream.

use serde_json::{json, Value};

use super::response::{call_item, item_id, message_item, response_value};
use crate::protocol::canonical::{ChatResponse, FinishReason, Part, StreamEvent, Usage};
use crate::protocol::sse::write_event;

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
/// nothing is written after `End` or `Error`. Dropped as unsayable: empty deltas, a repeated
/// `ToolCallStart` for an index, arguments for a call never started or already closed (text
/// came after it), and a second `Start`. Item ids are those [`super::render_response`] gives.
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
