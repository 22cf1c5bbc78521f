//! Unit tests of [`super`] (request.rs).

use super::*;

#[test]
fn chat_fields_and_estimate() {
    let body = br#"{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hello world!"},{"role":"system","content":[{"type":"text","text":"abcd"}]}],"max_tokens":16,"stream":true}"#;
    let p = parse(body, Endpoint::Chat).unwrap();
    assert_eq!(p.model, "gpt-4o-mini");
    assert!(p.stream);
    assert_eq!(p.input_tokens, 4); // 16 chars / 4
    assert_eq!(p.output_tokens, 16);
    assert_eq!(&body[p.model_span.0..p.model_span.1], br#""gpt-4o-mini""#);
}

#[test]
fn anthropic_and_responses_bodies_are_estimated_too() {
    // Anthropic: messages and system count; max_tokens is the output estimate.
    let p = parse(
        br#"{"model":"claude","system":"abcd","max_tokens":64,"messages":[{"role":"user","content":"abcdefgh"}]}"#,
        Endpoint::Messages,
    )
    .unwrap();
    assert_eq!(
        (p.model.as_str(), p.input_tokens, p.output_tokens),
        ("claude", 3, 64)
    );
    // Responses: input and instructions count; max_output_tokens is the output estimate.
    let p = parse(
        br#"{"model":"gpt","instructions":"abcd","input":"abcdefgh","max_output_tokens":99,"stream":true}"#,
        Endpoint::Responses,
    )
    .unwrap();
    assert_eq!((p.input_tokens, p.output_tokens, p.stream), (3, 99, true));
    let p = parse(br#"{"model":"gpt","input":"hi"}"#, Endpoint::Responses).unwrap();
    assert_eq!(p.output_tokens, DEFAULT_OUTPUT_TOKENS);
    assert_eq!(
        Endpoint::from_path("/v1/messages"),
        Some(Endpoint::Messages)
    );
    assert_eq!(
        Endpoint::from_path("/v1/responses"),
        Some(Endpoint::Responses)
    );
}

#[test]
fn defaults_and_other_endpoints() {
    let p = parse(br#"{"model":"m","prompt":"abcde"}"#, Endpoint::Completions).unwrap();
    assert_eq!(
        (p.input_tokens, p.output_tokens, p.stream),
        (2, DEFAULT_OUTPUT_TOKENS, false)
    );
    let p = parse(
        br#"{"model":"m","input":["ab","cd"]}"#,
        Endpoint::Embeddings,
    )
    .unwrap();
    assert_eq!((p.input_tokens, p.output_tokens), (1, 0));
    let p = parse(
        br#"{"model":"m","max_tokens":null,"max_completion_tokens":9}"#,
        Endpoint::Chat,
    )
    .unwrap();
    assert_eq!(p.output_tokens, 9);
}

#[test]
fn escaped_model_names() {
    let body = br#"{ "model" : "a\u0062c", "messages": [] }"#;
    let p = parse(body, Endpoint::Chat).unwrap();
    assert_eq!(p.model, "abc");
    let out = rewrite_model(&Bytes::from_static(body), p.model_span, "\"up\"");
    assert_eq!(&out[..], br#"{ "model" : "up", "messages": [] }"#);
}

#[test]
fn rejects_bad_bodies() {
    for (body, want) in [
        (&b"{not json"[..], "not valid JSON"),
        (br#"{"messages":[]}"#, "no \"model\""),
        (br#"{"model":3}"#, "model: expected a string"),
        (
            br#"{"model":"m","stream":"yes"}"#,
            "stream: expected a boolean",
        ),
        (
            br#"{"model":"m","max_tokens":-1}"#,
            "max_tokens: expected a non-negative integer",
        ),
        (
            br#"{"model":"m","max_completion_tokens":"9"}"#,
            "max_completion_tokens: expected",
        ),
        (br#"{"model":"m","stream":tru}"#, "not valid JSON"),
        (
            br#"{"model":"m","model":"n"}"#,
            "model: the field appears twice",
        ),
        (
            br#"{"model":"m","messages":[],"messages":[]}"#,
            "messages: the field appears twice",
        ),
        (br#"[1,2]"#, "the request body must be a JSON object"),
        (br#""text""#, "the request body must be a JSON object"),
        (br#"null"#, "the request body must be a JSON object"),
        (br#"{"model":"m"} trailing"#, "not valid JSON"),
    ] {
        let err = parse(body, Endpoint::Chat).unwrap_err();
        assert!(err.0.contains(want), "{err} should contain {want}");
    }
}

#[test]
fn rewrite_keeps_identical_bodies_uncopied() {
    let body = Bytes::from_static(br#"{"model":"m"}"#);
    let p = parse(&body, Endpoint::Chat).unwrap();
    let same = rewrite_model(&body, p.model_span, "\"m\"");
    assert_eq!(same.as_ptr(), body.as_ptr());
}

mod fuzz {
    use super::*;
    use proptest::prelude::*;

    const VALID: &str = r#"{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi ☃"}],"max_tokens":16,"stream":true,"prompt":"x","input":["a"],"max_completion_tokens":null}"#;

    fn check(body: &[u8]) {
        for endpoint in Endpoint::ALL {
            match parse(body, endpoint) {
                Ok(p) => {
                    let (start, end) = p.model_span;
                    assert!(start < end && end <= body.len());
                    let out = rewrite_model(&Bytes::copy_from_slice(body), p.model_span, "\"m\"");
                    assert!(parse(&out, endpoint).is_ok(), "the rewritten body parses");
                }
                Err(e) => assert!(!e.0.is_empty(), "a rejection says why"),
            }
        }
    }

    /// A (field, value, valid) triple: a typed field, a JSON value for it, and whether the
    /// parser must accept that value there (`null` stands for "not given" where optional).
    fn typed_field_case() -> impl Strategy<Value = (&'static str, &'static str, bool)> {
        const COUNT_OK: &[&str] = &["0", "7", "18446744073709551615", "null"];
        const COUNT_BAD: &[&str] = &[
            "\"x\"",
            "\"9\"",
            "-1",
            "1.5",
            "[]",
            "{}",
            "true",
            "18446744073709551616",
        ];
        let table: [(
            &'static str,
            &'static [&'static str],
            &'static [&'static str],
        ); 4] = [
            (
                "stream",
                &["true", "false", "null"],
                &["\"x\"", "\"true\"", "-1", "0", "1.5", "[]", "{}"],
            ),
            ("max_tokens", COUNT_OK, COUNT_BAD),
            ("max_completion_tokens", COUNT_OK, COUNT_BAD),
            (
                "model",
                &["\"x\""],
                &[
                    "null",
                    "-1",
                    "1.5",
                    "[]",
                    "{}",
                    "true",
                    "18446744073709551616",
                ],
            ),
        ];
        let cases: Vec<(&'static str, &'static str, bool)> = table
            .iter()
            .flat_map(|&(field, ok, bad)| {
                let ok = ok.iter().map(move |&v| (field, v, true));
                ok.chain(bad.iter().map(move |&v| (field, v, false)))
            })
            .collect();
        prop::sample::select(cases)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn arbitrary_bytes_never_panic(body in proptest::collection::vec(any::<u8>(), 0..256)) {
            check(&body);
        }

        #[test]
        fn mutated_valid_bodies_never_panic(
            edits in proptest::collection::vec((0usize..4, any::<usize>(), any::<u8>()), 1..6),
        ) {
            let mut body = VALID.as_bytes().to_vec();
            for (op, at, byte) in edits {
                let at = at % (body.len() + 1);
                match op {
                    0 => body.insert(at, byte),
                    1 if at < body.len() => { body.remove(at); }
                    2 if at < body.len() => body[at] = byte,
                    _ => body.truncate(at),
                }
            }
            check(&body);
        }

        #[test]
        fn wrongly_typed_fields_are_named((field, value, valid) in typed_field_case()) {
            let body = format!(r#"{{"model":"m","{field}":{value}}}"#);
            let body = if field == "model" { format!(r#"{{"model":{value}}}"#) } else { body };
            match parse(body.as_bytes(), Endpoint::Chat) {
                Ok(p) => {
                    prop_assert!(valid, "{body} was accepted, but {field} = {value} is not valid");
                    // Accepted values are also read, not just let through.
                    match field {
                        "stream" => prop_assert_eq!(p.stream, value == "true", "{}", body),
                        "model" => prop_assert_eq!(p.model, "x", "{}", body),
                        _ => prop_assert_eq!(
                            p.output_tokens,
                            value.parse::<u64>().map_or(DEFAULT_OUTPUT_TOKENS, clamp_u32),
                            "{}",
                            body
                        ),
                    }
                }
                Err(e) => {
                    prop_assert!(!valid, "{body} was rejected ({}), but {field} = {value} is valid", e.0);
                    prop_assert!(e.0.contains(&format!("{field}: expected")), "{}", e.0);
                }
            }
        }
    }
}
