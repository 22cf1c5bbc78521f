//! The start of an SSE stream, held back until it carries content.
//!
//! Providers often open a stream with frames that say nothing yet: SSE comments (`: ping`), a
//! chunk whose only delta is `{"role":"assistant"}`, an empty `content`. Committing the answer
//! to the client on such a frame would make a failure that follows — an in-band `{"error":…}`
//! event, a dropped connection, a stall — impossible to fall back from. So the proxy holds those
//! frames (at most [`MAX_HELD_BYTES`] or [`MAX_HELD_FRAMES`]) until the first frame with content,
//! then sends them all; an error event before any content is a failed attempt instead.

use std::collections::VecDeque;

use bytes::Bytes;
use serde_json::Value;

/// Most bytes held before the stream is committed whatever it says.
pub const MAX_HELD_BYTES: usize = 64 * 1024;
/// Most frames held before the stream is committed whatever they say.
pub const MAX_HELD_FRAMES: usize = 64;

/// What the frames so far say about the stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Nothing but start-up frames: keep holding.
    Hold,
    /// Content (or something not known to be start-up): commit and relay.
    Commit,
    /// An error event before any content: the attempt failed.
    Error,
}

/// The frames of a stream not yet committed.
#[derive(Debug, Default)]
pub struct Startup {
    frames: VecDeque<Bytes>,
    bytes: usize,
    line: Vec<u8>,
}

impl Startup {
    /// Adds a frame and says whether to keep holding.
    pub fn push(&mut self, data: Bytes) -> Verdict {
        self.bytes += data.len();
        let mut verdict = Verdict::Hold;
        for &b in data.iter() {
            if b != b'\n' {
                self.line.push(b);
                continue;
            }
            verdict = classify(&self.line);
            self.line.clear();
            if verdict != Verdict::Hold {
                break;
            }
        }
        self.frames.push_back(data);
        if verdict == Verdict::Hold
            && (self.bytes > MAX_HELD_BYTES || self.frames.len() >= MAX_HELD_FRAMES)
        {
            verdict = Verdict::Commit;
        }
        verdict
    }

    /// The frames held, in order, to be sent first.
    pub fn into_frames(self) -> VecDeque<Bytes> {
        self.frames
    }

    /// Everything held, as one body (a stream that ended before any content).
    pub fn concat(self) -> Bytes {
        if self.frames.len() == 1 {
            return self.frames.into_iter().next().unwrap_or_default();
        }
        let mut all = Vec::with_capacity(self.bytes);
        for f in &self.frames {
            all.extend_from_slice(f);
        }
        Bytes::from(all)
    }
}

/// One complete SSE line.
fn classify(line: &[u8]) -> Verdict {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    if line.is_empty() || line.starts_with(b":") {
        return Verdict::Hold;
    }
    for field in [&b"event:"[..], b"id:", b"retry:"] {
        if line.starts_with(field) {
            return Verdict::Hold;
        }
    }
    let Some(data) = line.strip_prefix(b"data:") else {
        return Verdict::Commit;
    };
    let data = data.trim_ascii();
    if data.starts_with(b"{\"error\"") {
        return Verdict::Error;
    }
    match serde_json::from_slice::<Value>(data) {
        Ok(v) if v.get("error").is_some_and(|e| !e.is_null()) => Verdict::Error,
        Ok(v) => match v.get("type").and_then(Value::as_str) {
            Some(kind) => typed_event(kind, &v),
            None if says_nothing_yet(&v) => Verdict::Hold,
            None => Verdict::Commit,
        },
        _ => Verdict::Commit,
    }
}

/// An event that names its type (Anthropic Messages, OpenAI Responses).
fn typed_event(kind: &str, v: &Value) -> Verdict {
    match kind {
        "message_start"
        | "ping"
        | "response.created"
        | "response.in_progress"
        | "response.content_part.added" => Verdict::Hold,
        // A text block opens empty; a tool_use block is content already.
        "content_block_start" => {
            if v["content_block"]["type"] == "text" && v["content_block"]["text"] == "" {
                Verdict::Hold
            } else {
                Verdict::Commit
            }
        }
        "response.output_item.added" if v["item"]["type"] == "message" => Verdict::Hold,
        "error" | "response.failed" => Verdict::Error,
        _ => Verdict::Commit,
    }
}

/// An OpenAI chat chunk whose choices carry only a role and empty content, no finish reason
/// and no usage.
fn says_nothing_yet(chunk: &Value) -> bool {
    let Some(choices) = chunk.get("choices").and_then(Value::as_array) else {
        return false;
    };
    if chunk.get("usage").is_some_and(|u| !u.is_null()) || choices.is_empty() {
        return false;
    }
    choices.iter().all(|c| {
        let finished = c.get("finish_reason").is_some_and(|f| !f.is_null());
        let delta_empty = c.get("delta").and_then(Value::as_object).is_some_and(|d| {
            d.iter().all(|(k, v)| match k.as_str() {
                "role" => true,
                "content" | "refusal" => v.is_null() || v.as_str() == Some(""),
                _ => v.is_null(),
            })
        });
        !finished && delta_empty
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROLE: &str = "data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"},\"finish_reason\":null}]}\n\n";
    const CONTENT: &str =
        "data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hi\"}}]}\n\n";
    const ERROR: &str = "data: {\"error\":{\"message\":\"overloaded\"}}\n\n";

    fn verdicts(frames: &[&str]) -> Vec<Verdict> {
        let mut s = Startup::default();
        frames
            .iter()
            .map(|f| s.push(Bytes::copy_from_slice(f.as_bytes())))
            .collect()
    }

    #[test]
    fn role_chunks_and_comments_are_held_until_content() {
        assert_eq!(
            verdicts(&[": ping\n\n", ROLE, CONTENT]),
            [Verdict::Hold, Verdict::Hold, Verdict::Commit]
        );
    }

    #[test]
    fn an_error_before_content_fails_the_attempt() {
        assert_eq!(verdicts(&[ROLE, ERROR]), [Verdict::Hold, Verdict::Error]);
        assert_eq!(
            verdicts(&[": keep-alive\n\n", ERROR]),
            [Verdict::Hold, Verdict::Error]
        );
    }

    #[test]
    fn lines_split_across_frames_are_read_whole() {
        let all = format!("{ROLE}{CONTENT}");
        for cut in 1..all.len() {
            // The proxy stops at the first verdict that is not Hold.
            let v = verdicts(&[&all[..cut], &all[cut..]]);
            let first = v.iter().find(|&&v| v != Verdict::Hold);
            assert_eq!(first, Some(&Verdict::Commit), "cut at {cut}: {v:?}");
        }
    }

    #[test]
    fn unknown_or_final_frames_commit() {
        for frame in [
            "data: [DONE]\n\n",
            "data: not json\n\n",
            "garbage\n",
            "data: {\"choices\":[{\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n",
            "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":1}}\n\n",
            "data: {\"choices\":[{\"delta\":{\"tool_calls\":[{\"index\":0}]}}]}\n\n",
        ] {
            assert_eq!(verdicts(&[frame]), [Verdict::Commit], "{frame}");
        }
    }

    #[test]
    fn anthropic_and_responses_start_up_events_are_held() {
        let start = "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{}}\n\n";
        let ping = "event: ping\ndata: {\"type\":\"ping\"}\n\n";
        let block = "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n";
        let delta = "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Hi\"}}\n\n";
        let overloaded = "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}\n\n";
        assert_eq!(
            verdicts(&[start, ping, block, delta]),
            [Verdict::Hold, Verdict::Hold, Verdict::Hold, Verdict::Commit]
        );
        assert_eq!(
            verdicts(&[start, ping, overloaded]),
            [Verdict::Hold, Verdict::Hold, Verdict::Error]
        );
        let created =
            "event: response.created\ndata: {\"type\":\"response.created\",\"response\":{}}\n\n";
        let text = "event: response.output_text.delta\ndata: {\"type\":\"response.output_text.delta\",\"delta\":\"Hi\"}\n\n";
        assert_eq!(verdicts(&[created, text]), [Verdict::Hold, Verdict::Commit]);
    }

    #[test]
    fn holding_is_bounded() {
        let mut s = Startup::default();
        let mut last = Verdict::Hold;
        for _ in 0..MAX_HELD_FRAMES {
            last = s.push(Bytes::from_static(b": ping\n\n"));
        }
        assert_eq!(last, Verdict::Commit);
        let mut s = Startup::default();
        let big = vec![b'x'; MAX_HELD_BYTES + 1];
        assert_eq!(s.push(Bytes::from(big)), Verdict::Commit);
    }
}
