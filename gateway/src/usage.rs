//! Token usage in upstream answers: the `usage` of a JSON answer, and of an SSE stream's final
//! chunk (found while the stream is relayed, without buffering it), plus the stream's error
//! events.

use serde::Deserialize;

#[derive(Deserialize)]
struct UsageDoc {
    #[serde(default)]
    usage: Option<Usage>,
}

#[derive(Deserialize)]
struct Usage {
    #[serde(default, alias = "input_tokens")]
    prompt_tokens: Option<u64>,
    #[serde(default, alias = "output_tokens")]
    completion_tokens: Option<u64>,
    /// OpenAI: `prompt_tokens_details.cached_tokens` (Responses: `input_tokens_details`).
    #[serde(default, alias = "input_tokens_details")]
    prompt_tokens_details: Option<Details>,
    /// Anthropic: cache reads and writes, counted outside `input_tokens`.
    #[serde(default)]
    cache_read_input_tokens: Option<u64>,
    #[serde(default)]
    cache_creation_input_tokens: Option<u64>,
}

#[derive(Deserialize)]
struct Details {
    #[serde(default)]
    cached_tokens: Option<u64>,
}

/// Tokens of one answer as the provider counted them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Tokens {
    /// Input tokens, cache reads and writes included.
    pub input: u32,
    /// Output tokens.
    pub output: u32,
    /// Input tokens read from the provider's prompt cache.
    pub cached: u32,
}

impl Usage {
    fn tokens(self) -> Tokens {
        let c = |v: Option<u64>| u32::try_from(v.unwrap_or(0)).unwrap_or(u32::MAX);
        let read = c(self.cache_read_input_tokens);
        let written = c(self.cache_creation_input_tokens);
        let details = self.prompt_tokens_details.and_then(|d| d.cached_tokens);
        Tokens {
            // OpenAI's count includes cached tokens; Anthropic's leaves reads and writes out.
            input: c(self.prompt_tokens)
                .saturating_add(read)
                .saturating_add(written),
            output: c(self.completion_tokens),
            cached: c(details).max(read),
        }
    }
}

/// The tokens of a JSON answer's `usage`, if it has one.
///
/// Fast path: read the value after the last `"usage":` key (a raw `"usage"` can only be a key or
/// a plain string value, since quotes inside strings are escaped); otherwise parse the document.
pub fn usage_of(body: &[u8]) -> Option<Tokens> {
    const KEY: &[u8] = b"\"usage\"";
    static FINDER: std::sync::LazyLock<memchr::memmem::FinderRev<'static>> =
        std::sync::LazyLock::new(|| memchr::memmem::FinderRev::new(KEY));
    if let Some(pos) = FINDER.rfind(body) {
        if pos == 0 || body[pos - 1] != b'\\' {
            if let Some(value) = body[pos + KEY.len()..]
                .trim_ascii_start()
                .strip_prefix(b":")
            {
                let mut de = serde_json::Deserializer::from_slice(value);
                if let Ok(u) = Option::<Usage>::deserialize(&mut de) {
                    return u.map(Usage::tokens);
                }
            }
        }
    }
    let doc: UsageDoc = serde_json::from_slice(body).ok()?;
    doc.usage.map(Usage::tokens)
}

/// Longest SSE line the usage scanner looks into; longer lines are passed on unread.
const MAX_SCANNED_LINE: usize = 1 << 20;

/// Watches an SSE stream for the `usage` of its final chunk and for error events.
#[derive(Debug, Default)]
pub struct UsageScanner {
    line: Vec<u8>,
    overflow: bool,
    /// Tokens of the last chunk that carried usage.
    pub usage: Option<Tokens>,
    /// The stream carried an `{"error": …}` event.
    pub saw_error: bool,
}

impl UsageScanner {
    /// Feeds a chunk of the stream.
    pub fn feed(&mut self, mut chunk: &[u8]) {
        while !chunk.is_empty() {
            match chunk.iter().position(|&b| b == b'\n') {
                Some(i) => {
                    self.push(&chunk[..i]);
                    self.end_line();
                    chunk = &chunk[i + 1..];
                }
                None => {
                    self.push(chunk);
                    break;
                }
            }
        }
    }

    /// Ends the stream (a last line without newline still counts).
    pub fn finish(&mut self) {
        self.end_line();
    }

    fn push(&mut self, part: &[u8]) {
        if self.overflow || self.line.len() + part.len() > MAX_SCANNED_LINE {
            self.overflow = true;
            self.line.clear();
        } else {
            self.line.extend_from_slice(part);
        }
    }

    fn end_line(&mut self) {
        if !self.overflow {
            let line = self.line.strip_suffix(b"\r").unwrap_or(&self.line);
            if let Some(data) = line.strip_prefix(b"data:") {
                let data = data.trim_ascii();
                if data.starts_with(b"{\"error\"") {
                    self.saw_error = true;
                } else if contains(data, b"\"usage\"") {
                    if let Some(mut tokens) = usage_of(data) {
                        // Anthropic counts input in `message_start` and output in
                        // `message_delta`: a later usage without input keeps the earlier input.
                        if let (0, Some(earlier)) = (tokens.input, self.usage) {
                            tokens.input = earlier.input;
                            tokens.cached = tokens.cached.max(earlier.cached);
                        }
                        self.usage = Some(tokens);
                    }
                }
            }
        }
        self.line.clear();
        self.overflow = false;
    }
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(input: u32, output: u32, cached: u32) -> Tokens {
        Tokens {
            input,
            output,
            cached,
        }
    }

    #[test]
    fn scanner_finds_usage_across_chunk_boundaries() {
        let stream = b"data: {\"choices\":[{\"delta\":{\"content\":\"hi\"}}]}\n\ndata: {\"choices\":[],\"usage\":{\"prompt_tokens\":12,\"completion_tokens\":34}}\r\n\r\ndata: [DONE]\n\n";
        for split in 1..stream.len() {
            let mut s = UsageScanner::default();
            s.feed(&stream[..split]);
            s.feed(&stream[split..]);
            s.finish();
            assert_eq!(s.usage, Some(t(12, 34, 0)), "split at {split}");
            assert!(!s.saw_error);
        }
    }

    #[test]
    fn scanner_keeps_anthropic_input_and_output_counts() {
        let mut s = UsageScanner::default();
        s.feed(b"event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"usage\":{\"input_tokens\":9,\"output_tokens\":1}}}\n\n");
        s.feed(b"event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\"},\"usage\":{\"output_tokens\":5}}\n\n");
        s.finish();
        assert_eq!(s.usage, Some(t(9, 5, 0)));
    }

    #[test]
    fn scanner_sees_error_events() {
        let mut s = UsageScanner::default();
        s.feed(b"data: {\"error\":{\"message\":\"overloaded\"}}\n\n");
        s.finish();
        assert!(s.saw_error);
        assert_eq!(s.usage, None);
    }

    #[test]
    fn usage_of_answers() {
        assert_eq!(
            usage_of(br#"{"id":"x","usage":{"prompt_tokens":9,"completion_tokens":7,"total_tokens":16}}"#),
            Some(t(9, 7, 0))
        );
        assert_eq!(
            usage_of(br#"{"usage":{"prompt_tokens":5,"total_tokens":5}}"#),
            Some(t(5, 0, 0))
        );
        assert_eq!(usage_of(br#"{"usage":null}"#), None);
        assert_eq!(usage_of(b"not json"), None);
        // Usage first, a quoted "usage" inside content, whitespace around the colon.
        assert_eq!(
            usage_of(br#"{"usage" : {"prompt_tokens":1,"completion_tokens":2},"choices":[{"message":{"content":"say \"usage\": {}"}}]}"#),
            Some(t(1, 2, 0))
        );
        assert_eq!(
            usage_of(br#"{"choices":[{"message":{"content":"\"usage\":{\"prompt_tokens\":5}"}}]}"#),
            None
        );
        assert_eq!(
            usage_of(
                br#"{"input_tokens_details":{},"usage":{"input_tokens":3,"output_tokens":4}}"#
            ),
            Some(t(3, 4, 0))
        );
    }

    #[test]
    fn cached_input_is_read_from_either_providers_usage() {
        // OpenAI: cached tokens are part of prompt_tokens.
        assert_eq!(
            usage_of(br#"{"usage":{"prompt_tokens":2000,"completion_tokens":10,"prompt_tokens_details":{"cached_tokens":1536}}}"#),
            Some(t(2000, 10, 1536))
        );
        // Responses API.
        assert_eq!(
            usage_of(br#"{"usage":{"input_tokens":900,"output_tokens":3,"input_tokens_details":{"cached_tokens":512}}}"#),
            Some(t(900, 3, 512))
        );
        // Anthropic: reads and writes come on top of input_tokens.
        assert_eq!(
            usage_of(br#"{"usage":{"input_tokens":10,"cache_creation_input_tokens":20,"cache_read_input_tokens":30,"output_tokens":5}}"#),
            Some(t(60, 5, 30))
        );
        // Anthropic streams: reads in message_start, output in message_delta.
        let mut s = UsageScanner::default();
        s.feed(b"data: {\"type\":\"message_start\",\"message\":{\"usage\":{\"input_tokens\":4,\"cache_read_input_tokens\":96,\"output_tokens\":1}}}\n\n");
        s.feed(b"data: {\"type\":\"message_delta\",\"usage\":{\"output_tokens\":7}}\n\n");
        s.finish();
        assert_eq!(s.usage, Some(t(100, 7, 96)));
    }
}
