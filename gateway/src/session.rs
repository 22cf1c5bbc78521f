//! A request's session key for affinity (`[affinity]`): the configured header
//! (`x-session-id` by default), else the body's OpenAI `prompt_cache_key`, OpenAI `user` or
//! Anthropic `metadata.user_id`, hashed to the opaque `u64` the engine keys its table by.

use http::HeaderMap;

/// FNV-1a, 64 bits, of a session name: stable across runs and processes, so a session keeps
/// its key over a gateway restart (the table itself starts empty then).
pub fn hash(name: &str) -> u64 {
    name.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// The session key of a request: the header named `header`, if present and not empty, else
/// the one its body names (see [`crate::request::ParsedRequest::session`]).
pub fn key(header: &str, headers: &HeaderMap, from_body: Option<u64>) -> Option<u64> {
    headers
        .get(header)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(hash)
        .or(from_body)
}

/// The session name a body carries: `prompt_cache_key`, then `user`, then
/// `metadata.user_id`; empty strings do not count.
pub fn from_body(
    prompt_cache_key: Option<&str>,
    user: Option<&str>,
    metadata_user_id: Option<&str>,
) -> Option<u64> {
    [prompt_cache_key, user, metadata_user_id]
        .into_iter()
        .flatten()
        .map(str::trim)
        .find(|s| !s.is_empty())
        .map(hash)
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    #[test]
    fn header_first_then_body_fields_in_order() {
        let mut h = HeaderMap::new();
        assert_eq!(key("x-session-id", &h, Some(5)), Some(5));
        h.insert("x-session-id", HeaderValue::from_static("conv-1"));
        assert_eq!(key("x-session-id", &h, Some(5)), Some(hash("conv-1")));
        assert_eq!(key("x-other", &h, None), None);
        h.insert("x-session-id", HeaderValue::from_static("  "));
        assert_eq!(
            key("x-session-id", &h, Some(5)),
            Some(5),
            "blank header ignored"
        );
        assert_eq!(from_body(Some("k"), Some("u"), Some("m")), Some(hash("k")));
        assert_eq!(from_body(None, Some("u"), Some("m")), Some(hash("u")));
        assert_eq!(from_body(Some(""), None, Some("m")), Some(hash("m")));
        assert_eq!(from_body(None, None, None), None);
        assert_ne!(hash("a"), hash("b"));
        assert_eq!(hash(""), 0xcbf2_9ce4_8422_2325);
    }
}
