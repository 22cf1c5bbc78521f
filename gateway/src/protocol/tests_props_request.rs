//! Property tests: requests survive rendering and parsing in each shape, and across shapes.

use proptest::prelude::*;

use super::tests_gen::{anthropic_normal, openai_normal, request};
use super::{anthropic, openai_chat};

proptest! {
    #[test]
    fn openai_request_round_trips(req in request()) {
        let body = openai_chat::render_request(&req, &req.model).unwrap();
        let back = openai_chat::parse_request(&body).unwrap();
        prop_assert_eq!(back, openai_normal(req));
    }

    #[test]
    fn anthropic_request_round_trips(req in request()) {
        let body = anthropic::render_request(&req, &req.model).unwrap();
        let back = anthropic::parse_request(&body).unwrap();
        prop_assert_eq!(back, anthropic_normal(req));
    }

    /// An OpenAI request sent to Anthropic and back keeps every translatable field; only the
    /// turns merged for Anthropic (then split again the OpenAI way) and the default
    /// `max_tokens` differ.
    #[test]
    fn openai_to_anthropic_to_openai_keeps_every_field(req in request()) {
        let client = openai_chat::render_request(&req, "client-model").unwrap();
        let first = openai_chat::parse_request(&client).unwrap();
        let upstream = anthropic::render_request(&first, "claude").unwrap();
        let middle = anthropic::parse_request(&upstream).unwrap();
        let again = openai_chat::render_request(&middle, "client-model").unwrap();
        let last = openai_chat::parse_request(&again).unwrap();
        let want = openai_normal(anthropic_normal(first));
        prop_assert_eq!(last, want);
    }

    /// An Anthropic request sent to OpenAI and back keeps everything but tool results' error
    /// flags (OpenAI has none).
    #[test]
    fn anthropic_to_openai_to_anthropic_keeps_every_field(req in request()) {
        let client = anthropic::render_request(&req, "client-model").unwrap();
        let first = anthropic::parse_request(&client).unwrap();
        let upstream = openai_chat::render_request(&first, "gpt").unwrap();
        let middle = openai_chat::parse_request(&upstream).unwrap();
        let again = anthropic::render_request(&middle, "client-model").unwrap();
        let last = anthropic::parse_request(&again).unwrap();
        let want = anthropic_normal(openai_normal(first));
        prop_assert_eq!(last, want);
    }

    #[test]
    fn request_parsers_never_panic(body in proptest::collection::vec(any::<u8>(), 0..256)) {
        let _ = openai_chat::parse_request(&body);
        let _ = anthropic::parse_request(&body);
    }
}
