//! One module per API shape, plus the shape-neutral form they translate through.
//!
//! Every shape module offers the same pieces, so the proxy's attempt loop stays shape-agnostic:
//!
//! | piece | signature |
//! |---|---|
//! | request in | `parse_request(body: &[u8]) -> Result<ChatRequest, Untranslatable>` |
//! | request out | `render_request(req: &ChatRequest, model: &str) -> Result<Vec<u8>, Untranslatable>` |
//! | answer in | `parse_response(body: &[u8]) -> Result<ChatResponse, String>` |
//! | answer out | `render_response(resp: &ChatResponse, model: &str) -> Vec<u8>` |
//! | stream in | `Decoder::feed(&mut self, chunk: &[u8], out: &mut Vec<StreamEvent>)`, `Decoder::finish(&mut self, out)` |
//! | stream out | `Encoder::encode(&mut self, event: &StreamEvent, out: &mut Vec<u8>)` |
//! | errors | `error_body(kind: ErrorKind, message: &str) -> Vec<u8>`, `stream_error(message: &str) -> Vec<u8>` |

pub mod anthropic;
pub mod canonical;
mod fields;
pub mod openai_chat;
pub mod responses;
pub mod sse;
#[cfg(test)]
mod tests_cross;
#[cfg(test)]
mod tests_gen;
#[cfg(test)]
mod tests_props_request;
#[cfg(test)]
mod tests_props_stream;

/// What an error is about, for rendering it in each shape's own error vocabulary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The request is malformed or cannot be served as asked (400).
    InvalidRequest,
    /// Missing or wrong gateway key (401).
    Authentication,
    /// No such model/tier/path (404).
    NotFound,
    /// Rate limited or no capacity (429/503).
    RateLimit,
    /// An upstream failed or timed out (5xx).
    Api,
    /// The upstreams are overloaded (529-like).
    Overloaded,
}
