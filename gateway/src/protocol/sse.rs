//! Server-sent events, read and written: the framing every streamed API shape shares.
//!
//! [`SseReader`] splits a byte stream into events (`event:` name and joined `data:` lines) as
//! chunks arrive, whatever the chunk boundaries; [`write_event`] writes one. Lines longer than
//! [`MAX_LINE`] are dropped rather than buffered without bound.

/// Longest SSE line kept; longer ones are skipped.
pub const MAX_LINE: usize = 4 << 20;

/// One event: its name (`event:` line, empty if none) and its data (`data:` lines joined by
/// `\n`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SseEvent {
    /// The `event:` field, or empty.
    pub event: String,
    /// The `data:` field(s).
    pub data: String,
}

/// Splits a byte stream into [`SseEvent`]s.
#[derive(Debug, Default)]
pub struct SseReader {
    line: Vec<u8>,
    overflow: bool,
    event: String,
    data: String,
    has_data: bool,
}

impl SseReader {
    /// Feeds a chunk; complete events are appended to `out`.
    pub fn feed(&mut self, chunk: &[u8], out: &mut Vec<SseEvent>) {
        let mut rest = chunk;
        while let Some(i) = rest.iter().position(|&b| b == b'\n') {
            self.push(&rest[..i]);
            self.end_line(out);
            rest = &rest[i + 1..];
        }
        self.push(rest);
    }

    /// Ends the stream: a last event without its blank line still counts.
    pub fn finish(&mut self, out: &mut Vec<SseEvent>) {
        if !self.line.is_empty() {
            self.end_line(out);
        }
        self.dispatch(out);
    }

    fn push(&mut self, part: &[u8]) {
        if self.overflow || self.line.len() + part.len() > MAX_LINE {
            self.overflow = true;
            self.line.clear();
        } else {
            self.line.extend_from_slice(part);
        }
    }

    fn end_line(&mut self, out: &mut Vec<SseEvent>) {
        let overflow = std::mem::take(&mut self.overflow);
        let line = std::mem::take(&mut self.line);
        if overflow {
            return;
        }
        let line = line.strip_suffix(b"\r").unwrap_or(&line);
        if line.is_empty() {
            self.dispatch(out);
            return;
        }
        if line.starts_with(b":") {
            return;
        }
        let text = String::from_utf8_lossy(line);
        let (field, value) = match text.split_once(':') {
            Some((f, v)) => (f, v.strip_prefix(' ').unwrap_or(v)),
            None => (text.as_ref(), ""),
        };
        match field {
            "event" => self.event = value.to_owned(),
            "data" => {
                if self.has_data {
                    self.data.push('\n');
                }
                self.data.push_str(value);
                self.has_data = true;
            }
            _ => {}
        }
    }

    fn dispatch(&mut self, out: &mut Vec<SseEvent>) {
        if self.has_data {
            out.push(SseEvent {
                event: std::mem::take(&mut self.event),
                data: std::mem::take(&mut self.data),
            });
        }
        self.event.clear();
        self.has_data = false;
    }
}

/// Appends one event: `event: NAME` (when `event` is not empty) and `data: DATA`, then a blank
/// line.
pub fn write_event(out: &mut Vec<u8>, event: &str, data: &str) {
    if !event.is_empty() {
        out.extend_from_slice(b"event: ");
        out.extend_from_slice(event.as_bytes());
        out.push(b'\n');
    }
    for line in data.split('\n') {
        out.extend_from_slice(b"data: ");
        out.extend_from_slice(line.as_bytes());
        out.push(b'\n');
    }
    out.push(b'\n');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_survive_any_chunking() {
        let mut text = Vec::new();
        write_event(&mut text, "message_start", "{\"a\":1}");
        text.extend_from_slice(b": ping\r\n\r\n");
        write_event(&mut text, "", "two\nlines");
        let expected = vec![
            SseEvent {
                event: "message_start".into(),
                data: "{\"a\":1}".into(),
            },
            SseEvent {
                event: String::new(),
                data: "two\nlines".into(),
            },
        ];
        for cut in 0..text.len() {
            let mut r = SseReader::default();
            let mut out = Vec::new();
            r.feed(&text[..cut], &mut out);
            r.feed(&text[cut..], &mut out);
            r.finish(&mut out);
            assert_eq!(out, expected, "cut at {cut}");
        }
    }

    #[test]
    fn a_last_event_without_blank_line_counts() {
        let mut r = SseReader::default();
        let mut out = Vec::new();
        r.feed(b"data: [DONE]", &mut out);
        r.finish(&mut out);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].data, "[DONE]");
    }
}
