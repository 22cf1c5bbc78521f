use proptest::prelude::*;

use super::assemble;
use super::strategies::{answer, as_events, json_tree, mutate, normalised, translatable};
use crate::protocol::canonical::StreamEvent;
use crate::protocol::responses::{
    parse_request, parse_response, render_request, render_response, Decoder, Encoder,
};

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn render_then_parse_gives_the_request_back(req in translatable()) {
        let body = render_request(&req, &req.model).unwrap();
        prop_assert_eq!(parse_request(&body).unwrap(), req);
    }

    #[test]
    fn a_streamed_answer_reassembles_to_the_whole_answer(
        r in answer(),
        cut in 0usize..16,
        chunk in 1usize..64,
        interleave in any::<bool>(),
    ) {
        let whole = parse_response(&render_response(&r, &r.model)).unwrap();
        prop_assert_eq!(&whole, &normalised(&r));
        let mut enc = Encoder::new(&r.model);
        let mut bytes = Vec::new();
        for e in as_events(&r, cut, interleave) {
            enc.encode(&e, &mut bytes);
        }
        let mut dec = Decoder::new();
        let mut events = Vec::new();
        for piece in bytes.chunks(chunk) {
            dec.feed(piece, &mut events);
        }
        dec.finish(&mut events);
        prop_assert_eq!(events.last(), Some(&StreamEvent::End));
        prop_assert_eq!(assemble(&events), whole);
    }

    #[test]
    fn the_decoder_never_panics_on_arbitrary_bytes(chunks in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..200), 0..8)) {
        let mut dec = Decoder::new();
        let mut events = Vec::new();
        for c in &chunks {
            dec.feed(c, &mut events);
        }
        dec.finish(&mut events);
    }

    #[test]
    fn the_decoder_never_panics_on_plausible_events(
        events in prop::collection::vec((
            prop::sample::select(vec![
                "response.created", "response.output_text.delta", "response.output_text.done",
                "response.output_item.added", "response.output_item.done",
                "response.function_call_arguments.delta", "response.function_call_arguments.done",
                "response.completed", "response.incomplete", "response.failed", "error", "",
            ]),
            prop::sample::select(vec![
                "{}", "null", "[]", "{\"item\":{\"type\":\"function_call\"}}",
                "{\"item\":{\"type\":\"message\",\"content\":[{\"type\":\"refusal\"}]}}",
                "{\"output_index\":18446744073709551615,\"delta\":\"x\"}",
                "{\"item_id\":7,\"delta\":7}", "{\"response\":{\"usage\":{\"input_tokens\":1e99}}}",
                "{\"response\":5}", "{\"type\":\"response.completed\"}",
            ]),
        ), 0..12),
    ) {
        let mut bytes = Vec::new();
        for (name, data) in &events {
            crate::protocol::sse::write_event(&mut bytes, name, data);
        }
        let mut dec = Decoder::new();
        let mut out = Vec::new();
        dec.feed(&bytes, &mut out);
        dec.finish(&mut out);
        let ended = matches!(out.last(), Some(StreamEvent::End | StreamEvent::Error { .. }));
        prop_assert!(ended);
    }

    #[test]
    fn parsers_never_panic(body in prop::collection::vec(any::<u8>(), 0..300)) {
        let _ = parse_request(&body);
        let _ = parse_response(&body);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Whatever a client sends (here: a valid request with parts replaced by odd JSON),
    /// parsing never panics, and a request that parses renders to a body that parses back to
    /// the same request (parsing already normalises).
    #[test]
    fn parsed_requests_survive_a_render(
        req in translatable(),
        changes in prop::collection::vec((any::<usize>(), json_tree()), 1..4),
    ) {
        let mut body: serde_json::Value =
            serde_json::from_slice(&render_request(&req, &req.model).unwrap()).unwrap();
        for (target, with) in changes {
            mutate(&mut body, target, with);
        }
        let bytes = serde_json::to_vec(&body).unwrap();
        if let Ok(mut req) = parse_request(&bytes) {
            if let Ok(rendered) = render_request(&req, &req.model) {
                // Budgets of 1 to 15 are raised to the API's least, 16.
                req.max_tokens = req.max_tokens.map(|n| if n == 0 { 0 } else { n.max(16) });
                prop_assert_eq!(parse_request(&rendered), Ok(req));
            }
        }
    }

    /// Parsing any answer (a valid one with parts replaced by odd JSON) never panics, and one
    /// that parses renders and parses back the same (but for the finish reason's
    /// normalisation).
    #[test]
    fn parsed_answers_survive_a_render(
        r in answer(),
        changes in prop::collection::vec((any::<usize>(), json_tree()), 1..4),
    ) {
        let mut body: serde_json::Value = serde_json::from_slice(&render_response(&r, &r.model)).unwrap();
        for (target, with) in changes {
            mutate(&mut body, target, with);
        }
        let bytes = serde_json::to_vec(&body).unwrap();
        if let Ok(resp) = parse_response(&bytes) {
            let again = parse_response(&render_response(&resp, &resp.model)).unwrap();
            prop_assert_eq!(again, normalised(&resp));
        }
    }
}
