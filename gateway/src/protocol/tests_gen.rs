//! Generators and normalisations shared by the protocol property tests.

use proptest::prelude::*;
use serde_json::Value;

use super::canonical::{
    ChatRequest, ChatResponse, FinishReason, ImageSource, Message, Part, Role, StreamEvent, Tool,
    ToolChoice, Usage,
};

/// Any text, newlines and non-ASCII included.
pub fn text() -> impl Strategy<Value = String> {
    "(?s).{0,12}"
}

fn name() -> impl Strategy<Value = String> {
    "[a-zA-Z_][a-zA-Z0-9_-]{0,10}"
}

/// A small JSON object of strings, whole numbers, booleans and nested objects (no floats: their
/// text is not unique).
pub fn object() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        text().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<bool>().prop_map(Value::from),
        Just(Value::Null),
    ];
    let value = leaf.prop_recursive(2, 8, 3, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..3).prop_map(Value::from),
            proptest::collection::btree_map(name(), inner, 0..3)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    });
    proptest::collection::btree_map(name(), value, 0..3)
        .prop_map(|m| Value::Object(m.into_iter().collect()))
}

/// Tool call arguments: a JSON object in compact form (what every shape can carry unchanged).
fn arguments() -> impl Strategy<Value = String> {
    object().prop_map(|v| v.to_string())
}

fn tool_call() -> impl Strategy<Value = Part> {
    (name(), name(), arguments()).prop_map(|(id, name, arguments)| Part::ToolCall {
        id,
        name,
        arguments,
    })
}

fn user_part() -> impl Strategy<Value = Part> {
    prop_oneof![
        text().prop_map(Part::Text),
        "https://[a-z]{1,8}\\.example/[a-z0-9]{0,8}\\.png"
            .prop_map(|u| Part::Image(ImageSource::Url(u))),
        ("image/(png|jpeg|gif|webp)", "[A-Za-z0-9+/]{0,16}={0,2}").prop_map(
            |(media_type, data)| { Part::Image(ImageSource::Base64 { media_type, data }) }
        ),
        (name(), text(), any::<bool>()).prop_map(|(call_id, content, is_error)| {
            Part::ToolResult {
                call_id,
                content,
                is_error,
            }
        }),
    ]
}

fn message() -> impl Strategy<Value = Message> {
    prop_oneof![
        proptest::collection::vec(user_part(), 0..4).prop_map(|content| Message {
            role: Role::User,
            content,
        }),
        (
            proptest::collection::vec(text().prop_map(Part::Text), 0..3),
            proptest::collection::vec(tool_call(), 0..3),
        )
            .prop_map(|(mut content, calls)| {
                content.extend(calls);
                Message {
                    role: Role::Assistant,
                    content,
                }
            }),
    ]
}

/// A number with a short exact decimal form, from 0 to 1.
fn unit() -> impl Strategy<Value = f64> {
    (0u8..=8).prop_map(|k| f64::from(k) / 8.0)
}

/// A request every shape can carry: tool calls only in assistant turns (text first), images
/// and tool results only in user turns, arguments JSON objects, temperature within 0..=1.
pub fn request() -> impl Strategy<Value = ChatRequest> {
    let tool = (name(), proptest::option::of(text()), object()).prop_map(
        |(name, description, parameters)| Tool {
            name,
            description,
            parameters,
        },
    );
    let choice = prop_oneof![
        Just(ToolChoice::Auto),
        Just(ToolChoice::None),
        Just(ToolChoice::Required),
        name().prop_map(ToolChoice::Named),
    ];
    (
        (
            name(),
            proptest::option::of(text()),
            proptest::collection::vec(message(), 0..6),
            proptest::option::of(any::<u32>()),
            proptest::option::of(unit()),
            proptest::option::of(unit()),
        ),
        (
            proptest::collection::vec(text(), 0..3),
            any::<bool>(),
            proptest::collection::vec(tool, 0..3),
            proptest::option::of(choice),
            proptest::option::of(text()),
        ),
    )
        .prop_map(
            |((model, system, messages, max_tokens, temperature, top_p), rest)| {
                let (stop, stream, tools, tool_choice, user) = rest;
                ChatRequest {
                    model,
                    system,
                    messages,
                    max_tokens,
                    temperature,
                    top_p,
                    stop,
                    stream,
                    tools,
                    tool_choice,
                    user,
                }
            },
        )
}

/// Adjacent turns of the same role merged into one (what Anthropic rendering does).
pub fn merge_turns(messages: Vec<Message>) -> Vec<Message> {
    let mut out: Vec<Message> = Vec::new();
    for m in messages {
        match out.last_mut() {
            Some(last) if last.role == m.role => last.content.extend(m.content),
            _ => out.push(m),
        }
    }
    out
}

fn only_results(m: &Message) -> bool {
    m.role == Role::User
        && !m.content.is_empty()
        && m.content
            .iter()
            .all(|p| matches!(p, Part::ToolResult { .. }))
}

/// What an OpenAI render and parse make of a request: user turns split into runs of tool results
/// and of other parts, adjacent tool-result turns merged, `is_error` dropped, assistant text
/// before tool calls.
pub fn openai_normal(mut req: ChatRequest) -> ChatRequest {
    let mut out: Vec<Message> = Vec::new();
    for m in req.messages {
        let mut runs: Vec<Message> = Vec::new();
        if m.role == Role::Assistant {
            let (mut texts, calls): (Vec<Part>, Vec<Part>) = m
                .content
                .into_iter()
                .partition(|p| matches!(p, Part::Text(_)));
            texts.extend(calls);
            runs.push(Message {
                role: Role::Assistant,
                content: texts,
            });
        } else if m.content.is_empty() {
            runs.push(m);
        } else {
            for p in m.content {
                let p = match p {
                    Part::ToolResult {
                        call_id, content, ..
                    } => Part::ToolResult {
                        call_id,
                        content,
                        is_error: false,
                    },
                    p => p,
                };
                let is_result = matches!(p, Part::ToolResult { .. });
                match runs.last_mut() {
                    Some(last) if only_results(last) == is_result => last.content.push(p),
                    _ => runs.push(Message {
                        role: Role::User,
                        content: vec![p],
                    }),
                }
            }
        }
        for run in runs {
            match out.last_mut() {
                Some(last) if only_results(last) && only_results(&run) => {
                    last.content.extend(run.content)
                }
                _ => out.push(run),
            }
        }
    }
    req.messages = out;
    req
}

/// What an Anthropic render and parse make of a request: same-role turns merged, empty texts
/// dropped from turns holding anything else (a turn of only empty texts is one empty text), the
/// default `max_tokens`, no `top_p` 1.
pub fn anthropic_normal(mut req: ChatRequest) -> ChatRequest {
    req.top_p = req.top_p.filter(|p| *p != 1.0);
    req.messages = merge_turns(req.messages);
    let empty = |p: &Part| matches!(p, Part::Text(t) if t.is_empty());
    for m in &mut req.messages {
        if !m.content.is_empty() && m.content.iter().all(empty) {
            m.content = vec![Part::Text(String::new())];
        } else {
            m.content.retain(|p| !empty(p));
        }
    }
    req.max_tokens
        .get_or_insert(super::anthropic::DEFAULT_MAX_TOKENS);
    req
}

/// An answer: text parts, then tool calls, with cache counts within the input.
pub fn response() -> impl Strategy<Value = ChatResponse> {
    let finish = proptest::option::of(prop_oneof![
        Just(FinishReason::Stop),
        Just(FinishReason::Length),
        Just(FinishReason::ToolCalls),
        Just(FinishReason::ContentFilter),
    ]);
    let usage = (0u32..1 << 20, 0u32..1 << 20, 0u32..1 << 18, 0u32..1 << 18).prop_map(
        |(extra, output_tokens, cache_read_tokens, cache_write_tokens)| Usage {
            input_tokens: extra + cache_read_tokens + cache_write_tokens,
            output_tokens,
            cache_read_tokens,
            cache_write_tokens,
        },
    );
    (
        name(),
        name(),
        proptest::collection::vec(text().prop_map(Part::Text), 0..3),
        proptest::collection::vec(tool_call(), 0..3),
        finish,
        usage,
    )
        .prop_map(|(id, model, mut content, calls, finish, usage)| {
            content.extend(calls);
            ChatResponse {
                id,
                model,
                content,
                finish,
                usage,
            }
        })
}

/// Adjacent text parts joined and empty ones dropped (what streaming makes of text).
pub fn stream_normal(mut resp: ChatResponse) -> ChatResponse {
    let mut out: Vec<Part> = Vec::new();
    for p in resp.content {
        match (out.last_mut(), p) {
            (_, Part::Text(t)) if t.is_empty() => {}
            (Some(Part::Text(last)), Part::Text(t)) => last.push_str(&t),
            (_, p) => out.push(p),
        }
    }
    resp.content = out;
    resp
}

/// The events of streaming `resp`, texts and arguments cut into pieces of `piece` characters.
pub fn events_of(resp: &ChatResponse, piece: usize) -> Vec<StreamEvent> {
    let pieces = |s: &str| -> Vec<String> {
        let chars: Vec<char> = s.chars().collect();
        chars
            .chunks(piece.max(1))
            .map(|c| c.iter().collect())
            .collect()
    };
    let mut out = vec![StreamEvent::Start {
        id: resp.id.clone(),
        model: resp.model.clone(),
    }];
    let mut index = 0;
    for p in &resp.content {
        match p {
            Part::Text(t) => out.extend(pieces(t).into_iter().map(StreamEvent::TextDelta)),
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
                out.extend(
                    pieces(arguments)
                        .into_iter()
                        .map(|json| StreamEvent::ToolArgumentsDelta { index, json }),
                );
                index += 1;
            }
            _ => {}
        }
    }
    out.extend(resp.finish.map(StreamEvent::Finish));
    out.push(StreamEvent::Usage(resp.usage));
    out.push(StreamEvent::End);
    out
}

/// The answer a stream of events adds up to (it must end normally).
pub fn assemble(events: &[StreamEvent]) -> ChatResponse {
    let mut resp = ChatResponse {
        id: String::new(),
        model: String::new(),
        content: Vec::new(),
        finish: None,
        usage: Usage::default(),
    };
    let mut calls: Vec<usize> = Vec::new();
    for e in events {
        match e {
            StreamEvent::Start { id, model } => {
                resp.id.clone_from(id);
                resp.model.clone_from(model);
            }
            StreamEvent::TextDelta(t) => match resp.content.last_mut() {
                Some(Part::Text(last)) => last.push_str(t),
                _ => resp.content.push(Part::Text(t.clone())),
            },
            StreamEvent::ToolCallStart { index, id, name } => {
                assert_eq!(*index as usize, calls.len(), "tool calls counted from 0");
                calls.push(resp.content.len());
                resp.content.push(Part::ToolCall {
                    id: id.clone(),
                    name: name.clone(),
                    arguments: String::new(),
                });
            }
            StreamEvent::ToolArgumentsDelta { index, json } => {
                match &mut resp.content[calls[*index as usize]] {
                    Part::ToolCall { arguments, .. } => arguments.push_str(json),
                    _ => unreachable!(),
                }
            }
            StreamEvent::Finish(f) => resp.finish = Some(*f),
            StreamEvent::Usage(u) => resp.usage = *u,
            StreamEvent::Error { message } => panic!("stream error: {message}"),
            StreamEvent::End => {}
        }
    }
    assert_eq!(events.last(), Some(&StreamEvent::End));
    resp
}
