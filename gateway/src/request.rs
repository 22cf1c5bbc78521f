//! What the gateway reads from a client's JSON body, in one borrowed pass, without re-serializing.
//!
//! Token estimate (documented in `docs/gateway.md`):
//! - input ≈ characters of every string value in `messages` (chat, Anthropic messages),
//!   `system` (Anthropic), `prompt` (completions), `input` and `instructions` (embeddings,
//!   Responses), keys `role`, `type` and `name` excluded, divided by 4, rounded up;
//! - output = `max_completion_tokens`, else `max_tokens`, else `max_output_tokens` (Responses),
//!   else [`DEFAULT_OUTPUT_TOKENS`] (0 for embeddings).
//!
//! The upstream body is the client's body with the `model` value replaced in place (a byte
//! splice): every other byte, including key order and whitespace, reaches the provider unchanged.

use std::borrow::Cow;
use std::fmt;

use bytes::Bytes;
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::value::RawValue;

/// Output tokens assumed when the request names no `max_tokens`.
pub const DEFAULT_OUTPUT_TOKENS: u32 = 256;

/// The endpoints the gateway proxies, in OpenAI's and Anthropic's shapes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    /// `POST /v1/chat/completions`.
    Chat,
    /// `POST /v1/completions`.
    Completions,
    /// `POST /v1/embeddings`.
    Embeddings,
    /// `POST /v1/responses` (OpenAI Responses).
    Responses,
    /// `POST /v1/messages` (Anthropic Messages).
    Messages,
}

impl Endpoint {
    /// Every endpoint, in index order.
    pub const ALL: [Endpoint; 5] = [
        Endpoint::Chat,
        Endpoint::Completions,
        Endpoint::Embeddings,
        Endpoint::Responses,
        Endpoint::Messages,
    ];

    /// The path below an OpenAI-style API base (`…/v1`), e.g. `/chat/completions`; for
    /// Anthropic's Messages, the path below its base (`https://api.anthropic.com`).
    pub fn suffix(self) -> &'static str {
        match self {
            Endpoint::Chat => "/chat/completions",
            Endpoint::Completions => "/completions",
            Endpoint::Embeddings => "/embeddings",
            Endpoint::Responses => "/responses",
            Endpoint::Messages => "/v1/messages",
        }
    }

    /// Index into per-endpoint tables.
    pub fn index(self) -> usize {
        self as usize
    }

    /// The endpoint serving a gateway path, if any.
    pub fn from_path(path: &str) -> Option<Endpoint> {
        match path {
            "/v1/chat/completions" => Some(Endpoint::Chat),
            "/v1/completions" => Some(Endpoint::Completions),
            "/v1/embeddings" => Some(Endpoint::Embeddings),
            "/v1/responses" => Some(Endpoint::Responses),
            "/v1/messages" => Some(Endpoint::Messages),
            _ => None,
        }
    }
}

/// Why a body was rejected (answered with 400).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadRequest(pub String);

impl fmt::Display for BadRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The fields of a client request that matter to the gateway.
#[derive(Debug, Clone)]
pub struct ParsedRequest {
    /// The requested model name.
    pub model: String,
    /// Byte range of the JSON `model` value (quotes included) in the body.
    pub model_span: (usize, usize),
    /// `"stream": true`.
    pub stream: bool,
    /// Estimated input tokens.
    pub input_tokens: u32,
    /// Estimated output tokens.
    pub output_tokens: u32,
    /// Session key named by the body (`prompt_cache_key`, `user`, `metadata.user_id`),
    /// hashed; see [`crate::session`].
    pub session: Option<u64>,
}

/// The fields read from a body; every other key is skipped (but validated as JSON).
#[derive(Default)]
struct Fields<'a> {
    model: Option<&'a RawValue>,
    stream: Option<bool>,
    max_tokens: Option<u64>,
    max_completion_tokens: Option<u64>,
    max_output_tokens: Option<u64>,
    messages: Option<CharCount>,
    system: Option<CharCount>,
    instructions: Option<CharCount>,
    prompt: Option<CharCount>,
    input: Option<CharCount>,
    prompt_cache_key: Option<&'a RawValue>,
    user: Option<&'a RawValue>,
    metadata: Option<&'a RawValue>,
}

/// What the top-level visitor expects; a body of another JSON type is reported with
/// [`NOT_AN_OBJECT`].
const OBJECT: &str = "a JSON object";
/// The message for a body that is JSON but not an object.
const NOT_AN_OBJECT: &str = "the request body must be a JSON object";

impl<'de> Deserialize<'de> for Fields<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(FieldsVisitor)
    }
}

struct FieldsVisitor;

/// Stores a field's value, rejecting a second occurrence of the key (the upstream could read
/// another copy than the gateway did).
fn once<T, E: de::Error>(slot: &mut Option<T>, name: &str, value: T) -> Result<(), E> {
    if slot.is_some() {
        return Err(E::custom(format_args!("{name}: the field appears twice")));
    }
    *slot = Some(value);
    Ok(())
}

/// Decodes a field's raw value as `T`, the error naming the field and the expected type.
fn typed<'a, T: Deserialize<'a>, E: de::Error>(
    raw: &'a RawValue,
    name: &str,
    expected: &str,
) -> Result<T, E> {
    serde_json::from_str(raw.get())
        .map_err(|_| E::custom(format_args!("{name}: expected {expected}")))
}

impl<'de> Visitor<'de> for FieldsVisitor {
    type Value = Fields<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(OBJECT)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Fields<'de>, A::Error> {
        let mut f = Fields::default();
        let mut seen = [false; 4];
        while let Some(key) = map.next_key::<Cow<'de, str>>()? {
            match &*key {
                "model" => {
                    let raw: &'de RawValue = map.next_value()?;
                    once(&mut f.model, "model", raw)?;
                }
                "stream" => {
                    let raw: &'de RawValue = map.next_value()?;
                    let v: Option<bool> = typed(raw, "stream", "a boolean")?;
                    if std::mem::replace(&mut seen[0], true) {
                        return Err(de::Error::custom("stream: the field appears twice"));
                    }
                    f.stream = v;
                }
                "max_tokens" | "max_completion_tokens" | "max_output_tokens" => {
                    let raw: &'de RawValue = map.next_value()?;
                    let v: Option<u64> = typed(raw, &key, "a non-negative integer")?;
                    let (i, slot) = match &*key {
                        "max_tokens" => (1, &mut f.max_tokens),
                        "max_completion_tokens" => (2, &mut f.max_completion_tokens),
                        _ => (3, &mut f.max_output_tokens),
                    };
                    if std::mem::replace(&mut seen[i], true) {
                        return Err(de::Error::custom(format_args!(
                            "{key}: the field appears twice"
                        )));
                    }
                    *slot = v;
                }
                "messages" => once(&mut f.messages, "messages", map.next_value()?)?,
                "prompt" => once(&mut f.prompt, "prompt", map.next_value()?)?,
                "input" => once(&mut f.input, "input", map.next_value()?)?,
                "system" => once(&mut f.system, "system", map.next_value()?)?,
                "instructions" => once(&mut f.instructions, "instructions", map.next_value()?)?,
                "prompt_cache_key" => {
                    once(
                        &mut f.prompt_cache_key,
                        "prompt_cache_key",
                        map.next_value()?,
                    )?;
                }
                "user" => once(&mut f.user, "user", map.next_value()?)?,
                "metadata" => once(&mut f.metadata, "metadata", map.next_value()?)?,
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(f)
    }
}

/// Parses a client body. The whole document is validated as JSON.
pub fn parse(body: &[u8], endpoint: Endpoint) -> Result<ParsedRequest, BadRequest> {
    let fields: Fields<'_> = serde_json::from_slice(body).map_err(|e| {
        BadRequest(if !e.is_data() {
            format!("request body is not valid JSON: {e}")
        } else if e.to_string().contains(OBJECT) {
            NOT_AN_OBJECT.to_owned()
        } else {
            format!("request body: {e}")
        })
    })?;
    let raw = fields
        .model
        .ok_or_else(|| BadRequest("request body has no \"model\" field".into()))?;
    let model: Cow<'_, str> = serde_json::from_str(raw.get())
        .map_err(|_| BadRequest("request body: model: expected a string".into()))?;
    let start = (raw.get().as_ptr() as usize).wrapping_sub(body.as_ptr() as usize);
    let end = start.wrapping_add(raw.get().len());
    if start > body.len() || end > body.len() || body.get(start..end) != Some(raw.get().as_bytes())
    {
        return Err(BadRequest("could not locate \"model\" in the body".into()));
    }
    let chars = [
        fields.messages,
        fields.prompt,
        fields.input,
        fields.system,
        fields.instructions,
    ]
    .iter()
    .flatten()
    .map(|c| c.0)
    .fold(0u64, u64::saturating_add);
    let output = match endpoint {
        Endpoint::Embeddings => 0,
        _ => fields
            .max_completion_tokens
            .or(fields.max_tokens)
            .or(fields.max_output_tokens)
            .map_or(DEFAULT_OUTPUT_TOKENS, clamp_u32),
    };
    // Session names: strings only; anything else is the upstream's to judge.
    let text = |raw: Option<&RawValue>| -> Option<String> {
        raw.and_then(|r| serde_json::from_str::<String>(r.get()).ok())
    };
    let metadata_user_id = fields.metadata.and_then(|r| {
        serde_json::from_str::<serde_json::Value>(r.get())
            .ok()
            .and_then(|v| v.get("user_id").and_then(|u| u.as_str()).map(str::to_owned))
    });
    let session = crate::session::from_body(
        text(fields.prompt_cache_key).as_deref(),
        text(fields.user).as_deref(),
        metadata_user_id.as_deref(),
    );
    Ok(ParsedRequest {
        model: model.into_owned(),
        model_span: (start, end),
        stream: fields.stream.unwrap_or(false),
        input_tokens: clamp_u32(chars.div_ceil(4)),
        output_tokens: output,
        session,
    })
}

fn clamp_u32(v: u64) -> u32 {
    u32::try_from(v).unwrap_or(u32::MAX)
}

/// The body with the model value at `span` replaced by `model_json` (an encoded JSON string).
/// Returns the original bytes (no copy) when they already say that.
pub fn rewrite_model(body: &Bytes, span: (usize, usize), model_json: &str) -> Bytes {
    let (start, end) = span;
    if body.get(start..end) == Some(model_json.as_bytes()) {
        return body.clone();
    }
    let mut out = Vec::with_capacity(body.len() - (end - start) + model_json.len());
    out.extend_from_slice(&body[..start]);
    out.extend_from_slice(model_json.as_bytes());
    out.extend_from_slice(&body[end..]);
    Bytes::from(out)
}

/// Counts the characters of every string value in a JSON value, skipping the values of the keys
/// `role`, `type` and `name` (labels, not content). Allocates nothing for unescaped strings.
#[derive(Debug, Clone, Copy, Default)]
struct CharCount(u64);

impl<'de> Deserialize<'de> for CharCount {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(CountVisitor).map(CharCount)
    }
}

struct CountVisitor;

impl<'de> Visitor<'de> for CountVisitor {
    type Value = u64;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<u64, E> {
        Ok(v.chars().count() as u64)
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<u64, E> {
        Ok(0)
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<u64, E> {
        Ok(0)
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<u64, E> {
        Ok(0)
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<u64, E> {
        Ok(0)
    }
    fn visit_unit<E: de::Error>(self) -> Result<u64, E> {
        Ok(0)
    }
    fn visit_none<E: de::Error>(self) -> Result<u64, E> {
        Ok(0)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<u64, A::Error> {
        let mut n = 0u64;
        while let Some(CharCount(c)) = seq.next_element()? {
            n = n.saturating_add(c);
        }
        Ok(n)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<u64, A::Error> {
        let mut n = 0u64;
        while let Some(key) = map.next_key::<Cow<'de, str>>()? {
            if matches!(&*key, "role" | "type" | "name") {
                map.next_value::<IgnoredAny>()?;
            } else {
                n = n.saturating_add(map.next_value::<CharCount>()?.0);
            }
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests;
