//! Anthropic Messages streams, decoded and encoded.

use serde_json::{json, Value};

use super::{count, parse_stop, stop_name, stream_error, usage_json};
use crate::protocol::canonical::{FinishReason, StreamEvent, Usage};
use crate::protocol::sse::{write_event, SseReader};

/// Turns an Anthropic Messages stream into [`StreamEvent`]s, whatever the chunk boundaries.
///
/// `message_start` is [`StreamEvent::Start`] and a [`StreamEvent::Usage`]; a `tool_use` block
/// is a [`StreamEvent::ToolCallStart`] (tool calls counted from 0) and its `input_json_delta`s
/// [`StreamEvent::ToolArgumentsDelta`]s (`{}` at its end if it streamed none); `text_delta`s are
/// [`StreamEvent::TextDelta`]s; `message_delta` is [`StreamEvent::Finish`] and the cumulative
/// [`StreamEvent::Usage`]; `message_stop` is [`StreamEvent::End`]; `event: error`, an event
/// that is not JSON, or the stream ending before `message_stop` is [`StreamEvent::Error`].
/// `ping`, `thinking` blocks and unknown events are skipped; nothing after an end or an
/// error is reported.
#[derive(Debug, Default)]
pub struct Decoder {
    sse: SseReader,
    ended: bool,
    /// Anthropic's counts so far: input (without cache), cache writes, cache reads, output.
    counts: [u32; 4],
    /// Open tool_use blocks: block index, tool call index, whether arguments came.
    tools: Vec<(u64, u32, bool)>,
    next_tool: u32,
}

impl Decoder {
    /// Feeds bytes of the stream; the events they complete are appended to `out`.
    pub fn feed(&mut self, chunk: &[u8], out: &mut Vec<StreamEvent>) {
        let mut events = Vec::new();
        self.sse.feed(chunk, &mut events);
        for e in events {
            self.event(&e.event, &e.data, out);
        }
    }

    /// Ends the stream: an unfinished last event still counts, and a stream that never sent
    /// `message_stop` (nor an error) ends with [`StreamEvent::Error`].
    pub fn finish(&mut self, out: &mut Vec<StreamEvent>) {
        let mut events = Vec::new();
        self.sse.finish(&mut events);
        for e in events {
            self.event(&e.event, &e.data, out);
        }
        if !self.ended {
            self.ended = true;
            out.push(StreamEvent::Error {
                message: "the upstream stream ended before message_stop".into(),
            });
        }
    }

    fn event(&mut self, name: &str, data: &str, out: &mut Vec<StreamEvent>) {
        if self.ended {
            return;
        }
        let Ok(v) = serde_json::from_str::<Value>(data) else {
            self.ended = true;
            out.push(StreamEvent::Error {
                message: "the upstream sent a stream event that is not JSON".into(),
            });
            return;
        };
        let kind = v["type"].as_str().unwrap_or(name);
        match kind {
            "message_start" => {
                let m = &v["message"];
                out.push(StreamEvent::Start {
                    id: m["id"].as_str().unwrap_or_default().to_owned(),
                    model: m["model"].as_str().unwrap_or_default().to_owned(),
                });
                self.usage(&m["usage"], out);
            }
            "content_block_start" => {
                let b = &v["content_block"];
                match b["type"].as_str() {
                    Some("text") => self.text(&b["text"], out),
                    Some("tool_use") => {
                        let index = self.next_tool;
                        self.next_tool += 1;
                        out.push(StreamEvent::ToolCallStart {
                            index,
                            id: b["id"].as_str().unwrap_or_default().to_owned(),
                            name: b["name"].as_str().unwrap_or_default().to_owned(),
                        });
                        let given = b["input"].as_object().is_some_and(|o| !o.is_empty());
                        if given {
                            out.push(StreamEvent::ToolArgumentsDelta {
                                index,
                                json: b["input"].to_string(),
                            });
                        }
                        let block = v["index"].as_u64().unwrap_or(u64::MAX);
                        self.tools.retain(|t| t.0 != block);
                        self.tools.push((block, index, given));
                    }
                    _ => {}
                }
            }
            "content_block_delta" => {
                let d = &v["delta"];
                match d["type"].as_str() {
                    Some("text_delta") => self.text(&d["text"], out),
                    Some("input_json_delta") => {
                        let block = v["index"].as_u64().unwrap_or(u64::MAX);
                        let json = d["partial_json"].as_str().unwrap_or_default();
                        let tool = self.tools.iter_mut().find(|t| t.0 == block);
                        if let (Some(tool), false) = (tool, json.is_empty()) {
                            tool.2 = true;
                            out.push(StreamEvent::ToolArgumentsDelta {
                                index: tool.1,
                                json: json.to_owned(),
                            });
                        }
                    }
                    _ => {}
                }
            }
            "content_block_stop" => {
                let block = v["index"].as_u64().unwrap_or(u64::MAX);
                if let Some(k) = self.tools.iter().position(|t| t.0 == block) {
                    let (_, index, given) = self.tools.remove(k);
                    if !given {
                        out.push(StreamEvent::ToolArgumentsDelta {
                            index,
                            json: "{}".into(),
                        });
                    }
                }
            }
            "message_delta" => {
                if let Some(f) = parse_stop(&v["delta"]["stop_reason"]) {
                    out.push(StreamEvent::Finish(f));
                }
                self.usage(&v["usage"], out);
            }
            "message_stop" => {
                self.ended = true;
                out.push(StreamEvent::End);
            }
            "error" => {
                self.ended = true;
                let message = match v["error"]["message"].as_str() {
                    Some(m) => m.to_owned(),
                    None => v["error"].to_string(),
                };
                out.push(StreamEvent::Error { message });
            }
            _ => {}
        }
    }

    fn text(&mut self, t: &Value, out: &mut Vec<StreamEvent>) {
        if let Some(t) = t.as_str().filter(|t| !t.is_empty()) {
            out.push(StreamEvent::TextDelta(t.to_owned()));
        }
    }

    /// Updates the counts a `usage` object carries and reports the total so far.
    fn usage(&mut self, u: &Value, out: &mut Vec<StreamEvent>) {
        if !u.is_object() {
            return;
        }
        let keys = [
            "input_tokens",
            "cache_creation_input_tokens",
            "cache_read_input_tokens",
            "output_tokens",
        ];
        for (slot, key) in self.counts.iter_mut().zip(keys) {
            if !u[key].is_null() {
                *slot = count(&u[key]);
            }
        }
        let [input, write, read, output] = self.counts;
        out.push(StreamEvent::Usage(Usage {
            input_tokens: input.saturating_add(write).saturating_add(read),
            output_tokens: output,
            cache_read_tokens: read,
            cache_write_tokens: write,
        }));
    }
}

/// What content block is open in the stream being written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Open {
    Text,
    Tool(u32),
}

/// Writes [`StreamEvent`]s as an Anthropic Messages stream, opening and closing content blocks
/// as text and tool calls alternate.
///
/// [`StreamEvent::Finish`] and [`StreamEvent::Usage`] are held for the `message_delta` written
/// at [`StreamEvent::End`] (followed by `message_stop`); [`StreamEvent::Error`] is
/// [`stream_error`]. Arguments for a tool call whose block was already closed (Anthropic cannot
/// reopen it) end the stream with an error. Nothing is written after an end or an error.
#[derive(Debug, Default)]
pub struct Encoder {
    started: bool,
    done: bool,
    open: Option<Open>,
    /// Index of the next content block.
    block: u32,
    finish: Option<FinishReason>,
    usage: Usage,
}

impl Encoder {
    /// A new encoder.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends the SSE bytes for `event` to `out`.
    pub fn encode(&mut self, event: &StreamEvent, out: &mut Vec<u8>) {
        if self.done {
            return;
        }
        if let StreamEvent::Start { id, model } = event {
            self.start(id, model, out);
            return;
        }
        self.start("", "", out);
        match event {
            StreamEvent::Start { .. } => {}
            StreamEvent::TextDelta(t) => {
                if self.open != Some(Open::Text) {
                    self.close(out);
                    self.open_block(Open::Text, json!({"type": "text", "text": ""}), out);
                }
                self.delta(json!({"type": "text_delta", "text": t}), out);
            }
            StreamEvent::ToolCallStart { index, id, name } => {
                self.close(out);
                let b = json!({"type": "tool_use", "id": id, "name": name, "input": {}});
                self.open_block(Open::Tool(*index), b, out);
            }
            StreamEvent::ToolArgumentsDelta { index, json } => {
                if self.open == Some(Open::Tool(*index)) {
                    self.delta(
                        json!({"type": "input_json_delta", "partial_json": json}),
                        out,
                    );
                } else {
                    self.done = true;
                    out.extend_from_slice(&stream_error(
                        "tool call arguments arrived after their block closed",
                    ));
                }
            }
            StreamEvent::Finish(f) => self.finish = Some(*f),
            StreamEvent::Usage(u) => self.usage = *u,
            StreamEvent::Error { message } => {
                self.done = true;
                out.extend_from_slice(&stream_error(message));
            }
            StreamEvent::End => {
                self.done = true;
                self.close(out);
                let data = json!({
                    "type": "message_delta",
                    "delta": {"stop_reason": self.finish.map(stop_name), "stop_sequence": null},
                    "usage": usage_json(&self.usage),
                });
                write_event(out, "message_delta", &data.to_string());
                write_event(out, "message_stop", r#"{"type":"message_stop"}"#);
            }
        }
    }

    fn start(&mut self, id: &str, model: &str, out: &mut Vec<u8>) {
        if std::mem::replace(&mut self.started, true) {
            return;
        }
        let data = json!({"type": "message_start", "message": {
            "id": id,
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": [],
            "stop_reason": null,
            "stop_sequence": null,
            "usage": usage_json(&self.usage),
        }});
        write_event(out, "message_start", &data.to_string());
    }

    fn open_block(&mut self, open: Open, block: Value, out: &mut Vec<u8>) {
        self.open = Some(open);
        let data =
            json!({"type": "content_block_start", "index": self.block, "content_block": block});
        write_event(out, "content_block_start", &data.to_string());
    }

    fn delta(&self, delta: Value, out: &mut Vec<u8>) {
        let data = json!({"type": "content_block_delta", "index": self.block, "delta": delta});
        write_event(out, "content_block_delta", &data.to_string());
    }

    fn close(&mut self, out: &mut Vec<u8>) {
        if self.open.take().is_some() {
            let data = json!({"type": "content_block_stop", "index": self.block});
            write_event(out, "content_block_stop", &data.to_string());
            self.block += 1;
        }
    }
}
