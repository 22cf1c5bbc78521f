//! What the end-to-end tests check of an answer they received.

/// Whether an answer's body is a whole one: a stream that ended with `data: [DONE]` and carried
/// no error event, or a JSON answer with its `usage`.
pub fn answer_complete(body: &[u8], stream: bool) -> bool {
    if stream {
        let text = String::from_utf8_lossy(body);
        text.ends_with("data: [DONE]\n\n") && !text.contains("data: {\"error\"")
    } else {
        serde_json::from_slice::<serde_json::Value>(body).is_ok_and(|v| v.get("usage").is_some())
    }
}
