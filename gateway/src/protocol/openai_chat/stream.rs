//! OpenAI `chat.completion.chunk` streams, decoded and encoded.

use serde_json::{json, Value};

use super::{finish_name, parse_finish, parse_usage, stream_error, usage_json};
use crate::protocol::canonical::{StreamEvent, Usage};
use crate::protocol::sse::{write_event, SseReader};

/// Turns an OpenAI chunk stream into [`StreamEvent`]s, whatever the chunk boundaries.
///
/// The first chunk is [`StreamEvent::Start`]; a tool call starts when its entry in
/// `delta.tool_calls` brings an id (a new id at an index already seen is a new call);
/// `data: [DONE]` is [`StreamEvent::End`]; `data: {"error":…}`, a chunk that is not JSON, or
/// the stream ending before `[DONE]` is [`StreamEvent::Error`]. Nothing after an end or an
/// error is reported.
#[derive(Debug, Default)]
pub struct Decoder {
    sse: SseReader,
    started: bool,
    ended: bool,
    /// For each OpenAI `tool_calls[].index` seen: the canonical index and the call's id.
    tools: Vec<(u64, u32, String)>,
    next_tool: u32,
}

impl Decoder {
    /// Feeds bytes of the stream; the events they complete are appended to `out`.
    pub fn feed(&mut self, chunk: &[u8], out: &mut Vec<StreamEvent>) {
        let mut events = Vec::new();
        self.sse.feed(chunk, &mut events);
        for e in events {
            self.event(&e.data, out);
        }
    }

    /// Ends the stream: an unfinished last event still counts, and a stream that never said
    /// `[DONE]` (nor reported an error) ends with [`StreamEvent::Error`].
    pub fn finish(&mut self, out: &mut Vec<StreamEvent>) {
        let mut events = Vec::new();
        self.sse.finish(&mut events);
        for e in events {
            self.event(&e.data, out);
        }
        if !self.ended {
            self.ended = true;
            out.push(StreamEvent::Error {
                message: "the upstream stream ended before [DONE]".into(),
            });
        }
    }

    fn event(&mut self, data: &str, out: &mut Vec<StreamEvent>) {
        if self.ended {
            return;
        }
        let data = data.trim();
        if data == "[DONE]" {
            self.ended = true;
            out.push(StreamEvent::End);
            return;
        }
        let Ok(chunk) = serde_json::from_str::<Value>(data) else {
            self.ended = true;
            out.push(StreamEvent::Error {
                message: "the upstream sent a stream chunk that is not JSON".into(),
            });
            return;
        };
        if let Some(err) = chunk.get("error").filter(|e| !e.is_null()) {
            self.ended = true;
            let message = match err["message"].as_str() {
                Some(m) => m.to_owned(),
                None => err.to_string(),
            };
            out.push(StreamEvent::Error { message });
            return;
        }
        if !self.started {
            self.started = true;
            out.push(StreamEvent::Start {
                id: chunk["id"].as_str().unwrap_or_default().to_owned(),
                model: chunk["model"].as_str().unwrap_or_default().to_owned(),
            });
        }
        if let Some(choices) = chunk["choices"].as_array() {
            for choice in choices
                .iter()
                .filter(|c| c["index"].as_u64().unwrap_or(0) == 0)
            {
                self.delta(&choice["delta"], out);
                if let Some(f) = parse_finish(&choice["finish_reason"]) {
                    out.push(StreamEvent::Finish(f));
                }
            }
        }
        if chunk["usage"].is_object() {
            out.push(StreamEvent::Usage(parse_usage(&chunk["usage"])));
        }
    }

    fn delta(&mut self, delta: &Value, out: &mut Vec<StreamEvent>) {
        for key in ["content", "refusal"] {
            if let Some(t) = delta[key].as_str().filter(|t| !t.is_empty()) {
                out.push(StreamEvent::TextDelta(t.to_owned()));
            }
        }
        let Some(calls) = delta["tool_calls"].as_array() else {
            return;
        };
        for (pos, call) in calls.iter().enumerate() {
            let oai = call["index"].as_u64().unwrap_or(pos as u64);
            let id = call["id"].as_str().filter(|id| !id.is_empty());
            let seen = self.tools.iter().position(|t| t.0 == oai);
            let index = match (seen, id) {
                (Some(k), Some(id)) if self.tools[k].2 != id => None,
                (Some(k), _) => Some(self.tools[k].1),
                (None, _) => None,
            };
            let index = match index {
                Some(i) => i,
                None => {
                    let index = self.next_tool;
                    self.next_tool += 1;
                    let id = id.unwrap_or_default().to_owned();
                    self.tools.retain(|t| t.0 != oai);
                    self.tools.push((oai, index, id.clone()));
                    out.push(StreamEvent::ToolCallStart {
                        index,
                        id,
                        name: call["function"]["name"]
                            .as_str()
                            .unwrap_or_default()
                            .to_owned(),
                    });
                    index
                }
            };
            if let Some(json) = call["function"]["arguments"]
                .as_str()
                .filter(|a| !a.is_empty())
            {
                out.push(StreamEvent::ToolArgumentsDelta {
                    index,
                    json: json.to_owned(),
                });
            }
        }
    }
}

/// Writes [`StreamEvent`]s as an OpenAI chunk stream.
///
/// [`StreamEvent::Usage`] is held and written, the last one, as a usage chunk (`choices: []`)
/// just before `data: [DONE]` (unless made with `Encoder::new(false)`, for clients that did not
/// ask for `stream_options.include_usage`); [`StreamEvent::Error`] is [`stream_error`]. Nothing
/// is written after an end or an error.
#[derive(Debug)]
pub struct Encoder {
    id: String,
    model: String,
    include_usage: bool,
    usage: Option<Usage>,
    done: bool,
}

impl Default for Encoder {
    fn default() -> Self {
        Self::new(true)
    }
}

impl Encoder {
    /// An encoder; `include_usage` says whether a usage chunk is written before `[DONE]`.
    pub fn new(include_usage: bool) -> Self {
        Self {
            id: String::new(),
            model: String::new(),
            include_usage,
            usage: None,
            done: false,
        }
    }

    /// Appends the SSE bytes for `event` to `out`.
    pub fn encode(&mut self, event: &StreamEvent, out: &mut Vec<u8>) {
        if self.done {
            return;
        }
        match event {
            StreamEvent::Start { id, model } => {
                self.id.clone_from(id);
                self.model.clone_from(model);
                self.chunk(json!({"role": "assistant", "content": ""}), None, out);
            }
            StreamEvent::TextDelta(t) => self.chunk(json!({"content": t}), None, out),
            StreamEvent::ToolCallStart { index, id, name } => self.chunk(
                json!({"tool_calls": [{
                    "index": index,
                    "id": id,
                    "type": "function",
                    "function": {"name": name, "arguments": ""},
                }]}),
                None,
                out,
            ),
            StreamEvent::ToolArgumentsDelta { index, json } => self.chunk(
                json!({"tool_calls": [{"index": index, "function": {"arguments": json}}]}),
                None,
                out,
            ),
            StreamEvent::Finish(f) => self.chunk(json!({}), Some(finish_name(*f)), out),
            StreamEvent::Usage(u) => self.usage = Some(*u),
            StreamEvent::Error { message } => {
                self.done = true;
                out.extend_from_slice(&stream_error(message));
            }
            StreamEvent::End => {
                self.done = true;
                if let Some(u) = self.usage.filter(|_| self.include_usage) {
                    let data = json!({
                        "id": self.id,
                        "object": "chat.completion.chunk",
                        "created": 0,
                        "model": self.model,
                        "choices": [],
                        "usage": usage_json(&u),
                    });
                    write_event(out, "", &data.to_string());
                }
                write_event(out, "", "[DONE]");
            }
        }
    }

    fn chunk(&self, delta: Value, finish: Option<&str>, out: &mut Vec<u8>) {
        let data = json!({
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": 0,
            "model": self.model,
            "choices": [{"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish}],
        });
        write_event(out, "", &data.to_string());
    }
}
