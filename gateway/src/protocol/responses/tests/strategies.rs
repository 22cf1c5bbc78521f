//! Strategies for the property tests: translatable requests, answers, their stream events,
//! and odd JSON to splice into valid bodies.

use proptest::prelude::*;
use serde_json::json;

use crate::protocol::canonical::{
    ChatRequest, ChatResponse, FinishReason, ImageSource, Message, Part, Role, StreamEvent, Tool,
    ToolChoice, Usage,
};

fn image() -> impl Strategy<Value = ImageSource> {
    prop_oneof![
        "https://[a-z]{1,8}\\.example/[a-z0-9]{0,8}\\.png".prop_map(ImageSource::Url),
        ("image/(png|jpeg|webp)", "[A-Za-z0-9+/]{0,24}={0,2}")
            .prop_map(|(media_type, data)| ImageSource::Base64 { media_type, data }),
    ]
}

fn user_part() -> impl Strategy<Value = Part> {
    prop_oneof![
        any::<String>().prop_map(Part::Text),
        image().prop_map(Part::Image),
        ("call_[a-z0-9]{1,6}", any::<String>()).prop_map(|(call_id, content)| Part::ToolResult {
            call_id,
            content,
            is_error: false
        }),
    ]
}

fn tool_call() -> impl Strategy<Value = Part> {
    (
        "call_[a-z0-9]{1,6}",
        "[a-zA-Z_][a-zA-Z0-9_]{0,10}",
        any::<String>(),
    )
        .prop_map(|(id, name, arguments)| Part::ToolCall {
            id,
            name,
            arguments,
        })
}

fn assistant_part() -> impl Strategy<Value = Part> {
    prop_oneof![any::<String>().prop_map(Part::Text), tool_call()]
}

/// Turns of alternating roles (consecutive same-role turns are merged by design).
fn messages() -> impl Strategy<Value = Vec<Message>> {
    (
        any::<bool>(),
        prop::collection::vec(
            (
                prop::collection::vec(user_part(), 0..4),
                prop::collection::vec(assistant_part(), 0..4),
            ),
            0..4,
        ),
    )
        .prop_map(|(user_first, turns)| {
            let mut out = Vec::new();
            for (i, (user, assistant)) in turns.into_iter().enumerate() {
                let (role, content) = if (i % 2 == 0) == user_first {
                    (Role::User, user)
                } else {
                    (Role::Assistant, assistant)
                };
                out.push(Message { role, content });
            }
            out
        })
}

fn unit() -> impl Strategy<Value = Option<f64>> {
    prop::option::of((0u32..=200).prop_map(|k| f64::from(k) / 100.0))
}

fn tool() -> impl Strategy<Value = Tool> {
    (
        "[a-zA-Z_]{1,10}",
        prop::option::of(any::<String>()),
        "[a-z]{1,6}",
    )
        .prop_map(|(name, description, prop)| Tool {
            name,
            description,
            parameters: json!({"type": "object", "properties": {prop: {"type": "string"}}}),
        })
}

fn tool_choice() -> impl Strategy<Value = ToolChoice> {
    prop_oneof![
        Just(ToolChoice::Auto),
        Just(ToolChoice::None),
        Just(ToolChoice::Required),
        "[a-z_]{1,8}".prop_map(ToolChoice::Named),
    ]
}

prop_compose! {
    /// Any request this shape can carry: no stop sequences, no tool-result error flags, no
    /// images from the assistant, alternating roles.
    pub(super) fn translatable()(
        model in "[a-z0-9.-]{1,16}",
        system in prop::option::of(any::<String>()),
        messages in messages(),
        max_tokens in prop::option::of(prop_oneof![Just(0u32), 16u32..]),
        temperature in unit(),
        top_p in unit(),
        stream in any::<bool>(),
        tools in prop::collection::vec(tool(), 0..3),
        tool_choice in prop::option::of(tool_choice()),
        user in prop::option::of(any::<String>()),
    ) -> ChatRequest {
        ChatRequest { model, system, messages, max_tokens, temperature, top_p, stop: vec![], stream, tools, tool_choice, user }
    }
}

prop_compose! {
    pub(super) fn answer()(
        id in "resp_[a-z0-9]{1,8}",
        model in "[a-z0-9.-]{1,16}",
        content in prop::collection::vec(prop_oneof![".{1,12}".prop_map(Part::Text), tool_call()], 0..6),
        finish in prop::option::of(prop_oneof![
            Just(FinishReason::Stop), Just(FinishReason::Length),
            Just(FinishReason::ToolCalls), Just(FinishReason::ContentFilter),
        ]),
        usage in (any::<u32>(), any::<u32>(), any::<u32>(), any::<u32>()),
    ) -> ChatResponse {
        let (input_tokens, output_tokens, cache_read_tokens, cache_write_tokens) = usage;
        let usage = Usage { input_tokens, output_tokens, cache_read_tokens, cache_write_tokens };
        ChatResponse { id, model, content, finish, usage }
    }
}

/// What a round trip through this shape keeps of an answer: adjacent texts joined, the finish
/// reason this shape can say (derived from its status and whether tools were called), no
/// cache-write count.
pub(super) fn normalised(r: &ChatResponse) -> ChatResponse {
    let mut content: Vec<Part> = Vec::new();
    for p in &r.content {
        match (content.last_mut(), p) {
            (Some(Part::Text(s)), Part::Text(t)) => s.push_str(t),
            _ => content.push(p.clone()),
        }
    }
    let calls = content.iter().any(|p| matches!(p, Part::ToolCall { .. }));
    let finish = match r.finish {
        Some(FinishReason::Length) => FinishReason::Length,
        Some(FinishReason::ContentFilter) => FinishReason::ContentFilter,
        _ if calls => FinishReason::ToolCalls,
        _ => FinishReason::Stop,
    };
    let usage = Usage {
        cache_write_tokens: 0,
        ..r.usage
    };
    ChatResponse {
        content,
        finish: Some(finish),
        usage,
        ..r.clone()
    }
}

/// The answer as a stream of events, text and arguments cut in pieces at `cut`; with
/// `interleave`, a run of tool calls starts them all before any of their arguments.
pub(super) fn as_events(r: &ChatResponse, cut: usize, interleave: bool) -> Vec<StreamEvent> {
    let split = |s: &str| -> Vec<String> {
        let at = (0..=cut.min(s.len()))
            .rev()
            .find(|&i| s.is_char_boundary(i))
            .unwrap_or(0);
        [&s[..at], &s[at..]]
            .into_iter()
            .filter(|p| !p.is_empty())
            .map(str::to_owned)
            .collect()
    };
    let mut out = vec![StreamEvent::Start {
        id: r.id.clone(),
        model: r.model.clone(),
    }];
    let mut index = 0;
    let mut pending = Vec::new();
    for p in &r.content {
        match p {
            Part::Text(t) => {
                out.append(&mut pending);
                out.extend(split(t).into_iter().map(StreamEvent::TextDelta))
            }
            Part::ToolCall {
                id,
                name,
                arguments,
            } => {
                out.push(StreamEvent::ToolCallStart {
                    index,
                    id: id.clone(),
                    name: name.clone(),
                });
                pending.extend(
                    split(arguments)
                        .into_iter()
                        .map(|json| StreamEvent::ToolArgumentsDelta { index, json }),
                );
                if !interleave {
                    out.append(&mut pending);
                }
                index += 1;
            }
            _ => {}
        }
    }
    out.append(&mut pending);
    out.push(StreamEvent::Usage(r.usage));
    out.extend(r.finish.map(StreamEvent::Finish));
    out.push(StreamEvent::End);
    out
}

#[rustfmt::skip]
const WORDS: &[&str] = &[
    "message", "function_call", "function_call_output", "user", "assistant", "system",
    "developer", "input_text", "output_text", "input_image", "refusal", "function", "auto",
    "required", "none", "text", "disabled", "data:image/png;base64,AA", "https://x.example/a.png",
    "completed", "incomplete", "failed", "max_output_tokens", "content_filter", "",
];

#[rustfmt::skip]
const KEYS: &[&str] = &[
    "model", "input", "type", "role", "content", "text", "image_url", "file_id", "call_id",
    "name", "arguments", "output", "tools", "tool_choice", "instructions", "status", "usage",
    "input_tokens", "output_tokens", "incomplete_details", "reason", "error", "message", "refusal",
    "parameters", "description", "max_output_tokens", "temperature", "stream", "user", "format",
];

/// JSON trees built from the words and keys this shape reads.
pub(super) fn json_tree() -> impl Strategy<Value = serde_json::Value> {
    use serde_json::Value;
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        prop::sample::select(vec![0.5, 1.25, -3.0, 1e300]).prop_map(Value::from),
        prop::sample::select(WORDS).prop_map(Value::from),
    ];
    leaf.prop_recursive(5, 96, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::vec((prop::sample::select(KEYS), inner), 0..7).prop_map(|kv| {
                Value::Object(kv.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
            }),
        ]
    })
}

/// Replaces the `target`-th value (in preorder, modulo the count) of `v` by `with`.
pub(super) fn mutate(v: &mut serde_json::Value, target: usize, with: serde_json::Value) {
    fn count(v: &serde_json::Value) -> usize {
        1 + match v {
            serde_json::Value::Array(a) => a.iter().map(count).sum(),
            serde_json::Value::Object(o) => o.values().map(count).sum(),
            _ => 0,
        }
    }
    fn walk(v: &mut serde_json::Value, n: &mut usize, with: &mut Option<serde_json::Value>) {
        if *n == 0 {
            if let Some(w) = with.take() {
                *v = w;
            }
            return;
        }
        *n -= 1;
        match v {
            serde_json::Value::Array(a) => a.iter_mut().for_each(|x| walk(x, n, with)),
            serde_json::Value::Object(o) => o.values_mut().for_each(|x| walk(x, n, with)),
            _ => {}
        }
    }
    let mut n = target % count(v);
    walk(v, &mut n, &mut Some(with));
}
