//! Which API shape a request is in, which one its deployment speaks, and how to get from one to
//! the other: pass the body through (same shape: only `model` replaced) or translate it through
//! the shape-neutral form ([`crate::protocol::canonical`]), answers and streams included.
//!
//! | client endpoint | OpenAI deployment | Anthropic deployment |
//! |---|---|---|
//! | `/v1/chat/completions` | as is | chat → Messages |
//! | `/v1/completions`, `/v1/embeddings` | as is | refused (no equivalent) |
//! | `/v1/responses` | Responses → chat (every OpenAI-compatible server has chat) | Responses → Messages |
//! | `/v1/messages` | Messages → chat | as is |

use bytes::Bytes;
use engine::config::Api;

use http::Response;

use crate::body::Body;
use crate::error::ApiError;
use crate::protocol::canonical::{ChatRequest, ChatResponse, StreamEvent, Untranslatable, Usage};
use crate::protocol::{anthropic, openai_chat, responses, ErrorKind};
use crate::request::Endpoint;

/// An API shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// OpenAI chat completions (and the other OpenAI endpoints' error shape).
    OpenAiChat,
    /// Anthropic Messages.
    Anthropic,
    /// OpenAI Responses.
    Responses,
}

/// How one attempt's request reaches its deployment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Plan {
    /// The client's body, `model` replaced, to this endpoint of the deployment.
    Passthrough,
    /// Translated from the client's shape into the deployment's.
    Translate {
        /// The client's shape.
        from: Shape,
        /// The deployment's shape.
        to: Shape,
    },
    /// The endpoint has no equivalent at this deployment.
    Refuse,
}

impl Shape {
    /// The shape of a client endpoint (errors of completions and embeddings are OpenAI's).
    pub fn of_client(endpoint: Endpoint) -> Shape {
        match endpoint {
            Endpoint::Messages => Shape::Anthropic,
            Endpoint::Responses => Shape::Responses,
            _ => Shape::OpenAiChat,
        }
    }

    /// The shape a deployment is spoken to in.
    pub fn of_upstream(api: Api) -> Shape {
        match api {
            Api::OpenAi => Shape::OpenAiChat,
            Api::Anthropic => Shape::Anthropic,
        }
    }

    /// The endpoint of the deployment a translated request goes to.
    pub fn endpoint(self) -> Endpoint {
        match self {
            Shape::OpenAiChat => Endpoint::Chat,
            Shape::Anthropic => Endpoint::Messages,
            Shape::Responses => Endpoint::Responses,
        }
    }

    /// Parses a client body of this shape.
    pub fn parse_request(self, body: &[u8]) -> Result<ChatRequest, Untranslatable> {
        match self {
            Shape::OpenAiChat => openai_chat::parse_request(body),
            Shape::Anthropic => anthropic::parse_request(body),
            Shape::Responses => responses::parse_request(body),
        }
    }

    /// Renders a request in this shape for `model`.
    pub fn render_request(self, req: &ChatRequest, model: &str) -> Result<Vec<u8>, Untranslatable> {
        match self {
            Shape::OpenAiChat => openai_chat::render_request(req, model),
            Shape::Anthropic => anthropic::render_request(req, model),
            Shape::Responses => responses::render_request(req, model),
        }
    }

    /// Parses an upstream answer of this shape.
    pub fn parse_response(self, body: &[u8]) -> Result<ChatResponse, String> {
        match self {
            Shape::OpenAiChat => openai_chat::parse_response(body),
            Shape::Anthropic => anthropic::parse_response(body),
            Shape::Responses => responses::parse_response(body),
        }
    }

    /// Renders an answer in this shape, naming the client's `model`.
    pub fn render_response(self, resp: &ChatResponse, model: &str) -> Vec<u8> {
        match self {
            Shape::OpenAiChat => openai_chat::render_response(resp, model),
            Shape::Anthropic => anthropic::render_response(resp, model),
            Shape::Responses => responses::render_response(resp, model),
        }
    }

    /// This shape's error document.
    pub fn error_body(self, kind: ErrorKind, message: &str) -> Vec<u8> {
        match self {
            Shape::OpenAiChat => openai_chat::error_body(kind, message),
            Shape::Anthropic => anthropic::error_body(kind, message),
            Shape::Responses => responses::error_body(kind, message),
        }
    }

    /// One SSE error event in this shape, ending a stream that failed midway.
    pub fn stream_error(self, message: &str) -> Vec<u8> {
        match self {
            Shape::OpenAiChat => openai_chat::stream_error(message),
            Shape::Anthropic => anthropic::stream_error(message),
            Shape::Responses => responses::stream_error(message),
        }
    }
}

/// How a request on `endpoint` reaches a deployment speaking `api`.
pub fn plan(endpoint: Endpoint, api: Api) -> Plan {
    match (endpoint, api) {
        (Endpoint::Messages, Api::Anthropic)
        | (Endpoint::Chat | Endpoint::Completions | Endpoint::Embeddings, Api::OpenAi) => {
            Plan::Passthrough
        }
        (Endpoint::Completions | Endpoint::Embeddings, Api::Anthropic) => Plan::Refuse,
        (client, api) => Plan::Translate {
            from: Shape::of_client(client),
            to: Shape::of_upstream(api),
        },
    }
}

enum Decoder {
    Chat(openai_chat::Decoder),
    Anthropic(anthropic::Decoder),
    Responses(responses::Decoder),
}

enum Encoder {
    Chat(openai_chat::Encoder),
    Anthropic(anthropic::Encoder),
    Responses(responses::Encoder),
}

/// A stream translated event by event: upstream bytes in, client bytes out, nothing of the
/// answer held back beyond an incomplete SSE line.
pub struct Transcoder {
    decoder: Decoder,
    encoder: Encoder,
    events: Vec<StreamEvent>,
    out: Vec<u8>,
    /// The last token counts the upstream reported.
    pub usage: Option<Usage>,
    /// The upstream's in-stream error, if it sent one.
    pub error: Option<String>,
    /// Whether the upstream ended the stream normally.
    pub ended: bool,
}

impl Transcoder {
    /// From `from` (the deployment's shape) to `to` (the client's), naming the client's model;
    /// `include_usage`: an OpenAI chat client asked for a usage chunk
    /// (`stream_options.include_usage`).
    pub fn new(from: Shape, to: Shape, model: &str, include_usage: bool) -> Transcoder {
        Transcoder {
            decoder: match from {
                Shape::OpenAiChat => Decoder::Chat(openai_chat::Decoder::default()),
                Shape::Anthropic => Decoder::Anthropic(anthropic::Decoder::default()),
                Shape::Responses => Decoder::Responses(responses::Decoder::new()),
            },
            encoder: match to {
                Shape::OpenAiChat => Encoder::Chat(openai_chat::Encoder::new(include_usage)),
                Shape::Anthropic => Encoder::Anthropic(anthropic::Encoder::new()),
                Shape::Responses => Encoder::Responses(responses::Encoder::new(model)),
            },
            events: Vec::new(),
            out: Vec::new(),
            usage: None,
            error: None,
            ended: false,
        }
    }

    /// Translates a chunk of the upstream stream.
    pub fn feed(&mut self, chunk: &[u8]) -> Bytes {
        match &mut self.decoder {
            Decoder::Chat(d) => d.feed(chunk, &mut self.events),
            Decoder::Anthropic(d) => d.feed(chunk, &mut self.events),
            Decoder::Responses(d) => d.feed(chunk, &mut self.events),
        }
        self.encode()
    }

    /// Ends the upstream stream and translates what is left.
    pub fn finish(&mut self) -> Bytes {
        match &mut self.decoder {
            Decoder::Chat(d) => d.finish(&mut self.events),
            Decoder::Anthropic(d) => d.finish(&mut self.events),
            Decoder::Responses(d) => d.finish(&mut self.events),
        }
        self.encode()
    }

    fn encode(&mut self) -> Bytes {
        for event in self.events.drain(..) {
            match &event {
                StreamEvent::Usage(u) => self.usage = Some(*u),
                StreamEvent::Error { message } => self.error = Some(message.clone()),
                StreamEvent::End => self.ended = true,
                _ => {}
            }
            match &mut self.encoder {
                Encoder::Chat(e) => e.encode(&event, &mut self.out),
                Encoder::Anthropic(e) => e.encode(&event, &mut self.out),
                Encoder::Responses(e) => e.encode(&event, &mut self.out),
            }
        }
        Bytes::from(std::mem::take(&mut self.out))
    }
}

/// The gateway's own error (no capacity, unknown model, bad key…) answered in the client's
/// shape: OpenAI's `{"error":{…}}` for the OpenAI endpoints, Anthropic's `{"type":"error",…}`
/// for `/v1/messages`; status and `retry-after` unchanged.
pub fn error_response(e: &ApiError, shape: Shape) -> Response<Body> {
    if shape != Shape::Anthropic {
        return e.response();
    }
    let mut res = e.response();
    *res.body_mut() = Body::full(Bytes::from(
        shape.error_body(error_kind(e.status.as_u16()), &e.message),
    ));
    res.headers_mut().remove(http::header::WWW_AUTHENTICATE);
    res
}

/// The error kind a gateway status stands for.
pub fn error_kind(status: u16) -> ErrorKind {
    match status {
        401 | 403 => ErrorKind::Authentication,
        404 => ErrorKind::NotFound,
        429 | 503 => ErrorKind::RateLimit,
        529 => ErrorKind::Overloaded,
        400..=499 => ErrorKind::InvalidRequest,
        _ => ErrorKind::Api,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_shapes_pass_through_and_others_translate() {
        assert_eq!(plan(Endpoint::Chat, Api::OpenAi), Plan::Passthrough);
        assert_eq!(plan(Endpoint::Messages, Api::Anthropic), Plan::Passthrough);
        assert_eq!(plan(Endpoint::Embeddings, Api::Anthropic), Plan::Refuse);
        assert_eq!(
            plan(Endpoint::Chat, Api::Anthropic),
            Plan::Translate {
                from: Shape::OpenAiChat,
                to: Shape::Anthropic
            }
        );
        assert_eq!(
            plan(Endpoint::Responses, Api::OpenAi),
            Plan::Translate {
                from: Shape::Responses,
                to: Shape::OpenAiChat
            }
        );
        assert_eq!(
            plan(Endpoint::Messages, Api::OpenAi),
            Plan::Translate {
                from: Shape::Anthropic,
                to: Shape::OpenAiChat
            }
        );
    }

    /// A streamed Anthropic answer of three text deltas, in Anthropic's event order (what the
    /// test upstream of `switchyard-mock` sends).
    const ANTHROPIC_EVENTS: [&str; 8] = [
        "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_mock\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"mock-model\",\"content\":[],\"stop_reason\":null,\"stop_sequence\":null,\"usage\":{\"input_tokens\":9,\"output_tokens\":1}}}\n\n",
        "event: ping\ndata: {\"type\":\"ping\"}\n\n",
        "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n",
        "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"token0 token1 \"}}\n\n",
        "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"token2 \"}}\n\n",
        "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n",
        "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\",\"stop_sequence\":null},\"usage\":{\"output_tokens\":5}}\n\n",
        "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n",
    ];

    #[test]
    fn an_anthropic_stream_reaches_an_openai_client_event_by_event() {
        let mut t = Transcoder::new(Shape::Anthropic, Shape::OpenAiChat, "gpt-4o-mini", true);
        let mut text = Vec::new();
        for event in ANTHROPIC_EVENTS {
            text.extend_from_slice(&t.feed(event.as_bytes()));
        }
        text.extend_from_slice(&t.finish());
        let text = String::from_utf8(text).unwrap();
        assert!(text.contains("token0 "), "{text}");
        assert!(text.contains("token2 "), "{text}");
        assert!(text.trim_end().ends_with("data: [DONE]"), "{text}");
        assert!(t.ended);
        assert_eq!(t.usage.map(|u| u.output_tokens), Some(5));
    }
}
