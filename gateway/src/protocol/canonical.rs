//! The shape-neutral form of a chat exchange that every API shape translates to and from.
//!
//! A request in one API shape (OpenAI chat completions, OpenAI Responses, Anthropic Messages)
//! that is balanced to a deployment speaking another is parsed into a [`ChatRequest`], rendered
//! in the deployment's shape, and its answer comes back the same way: a [`ChatResponse`], or a
//! stream of [`StreamEvent`]s decoded from the upstream's SSE and encoded in the client's, one
//! event at a time (nothing of the answer is buffered). Each shape is one module with the same
//! five pieces (parse/render request, parse/render response, stream decoder/encoder), so a
//! further shape is one new module. Same-shape requests never pass through here: they are sent
//! byte for byte with only `model` replaced.

use serde_json::Value;

/// Who said a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The end user (tool results travel in user turns too, as [`Part::ToolResult`]).
    User,
    /// The model.
    Assistant,
}

/// An image given by URL or inline data.
#[derive(Debug, Clone, PartialEq)]
pub enum ImageSource {
    /// A fetchable `https://` URL.
    Url(String),
    /// Inline base64 data with its media type, e.g. `image/png`.
    Base64 {
        /// e.g. `image/png`.
        media_type: String,
        /// The base64 text, without a `data:` prefix.
        data: String,
    },
}

/// One piece of a message's content.
#[derive(Debug, Clone, PartialEq)]
pub enum Part {
    /// Plain text.
    Text(String),
    /// An image.
    Image(ImageSource),
    /// The model asks for a tool to be called.
    ToolCall {
        /// Call id, echoed by the result.
        id: String,
        /// Tool name.
        name: String,
        /// Arguments as a JSON text (OpenAI's form; Anthropic's `input` object serialised).
        arguments: String,
    },
    /// The result of a tool call, sent back by the client.
    ToolResult {
        /// The call's id.
        call_id: String,
        /// The result as text.
        content: String,
        /// Whether the tool failed.
        is_error: bool,
    },
}

/// One turn of the conversation.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    /// Who said it.
    pub role: Role,
    /// What was said, in order.
    pub content: Vec<Part>,
}

/// A tool the model may call.
#[derive(Debug, Clone, PartialEq)]
pub struct Tool {
    /// Name.
    pub name: String,
    /// What it does.
    pub description: Option<String>,
    /// JSON schema of its arguments.
    pub parameters: Value,
}

/// Whether and which tools the model must call.
#[derive(Debug, Clone, PartialEq)]
pub enum ToolChoice {
    /// The model decides.
    Auto,
    /// No tool calls.
    None,
    /// At least one tool call.
    Required,
    /// This tool.
    Named(String),
}

/// A chat request, whatever shape it came in.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ChatRequest {
    /// Requested model (routing uses it; the upstream gets its own model name).
    pub model: String,
    /// System prompt (OpenAI `system`/`developer` messages and Responses `instructions` joined
    /// with blank lines; Anthropic `system`).
    pub system: Option<String>,
    /// The conversation.
    pub messages: Vec<Message>,
    /// Most output tokens (`max_tokens`, `max_completion_tokens`, `max_output_tokens`).
    pub max_tokens: Option<u32>,
    /// Sampling temperature.
    pub temperature: Option<f64>,
    /// Nucleus sampling.
    pub top_p: Option<f64>,
    /// Stop sequences.
    pub stop: Vec<String>,
    /// Whether the answer streams.
    pub stream: bool,
    /// Tools offered.
    pub tools: Vec<Tool>,
    /// Tool choice, if given.
    pub tool_choice: Option<ToolChoice>,
    /// End-user id (OpenAI `user`, Anthropic `metadata.user_id`).
    pub user: Option<String>,
}

/// Why the model stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FinishReason {
    /// Natural end or a stop sequence.
    Stop,
    /// The token limit.
    Length,
    /// It called tools.
    ToolCalls,
    /// A content filter or refusal.
    ContentFilter,
}

/// Tokens counted by the provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Usage {
    /// Input tokens (cache reads and writes included).
    pub input_tokens: u32,
    /// Output tokens.
    pub output_tokens: u32,
    /// Input tokens read from the provider's prompt cache.
    pub cache_read_tokens: u32,
    /// Input tokens written to the provider's prompt cache.
    pub cache_write_tokens: u32,
}

/// A whole (non-streamed) answer.
#[derive(Debug, Clone, PartialEq)]
pub struct ChatResponse {
    /// The provider's id of the answer.
    pub id: String,
    /// The model that answered.
    pub model: String,
    /// Text and tool calls, in order.
    pub content: Vec<Part>,
    /// Why it stopped (`None` if the provider did not say).
    pub finish: Option<FinishReason>,
    /// Tokens.
    pub usage: Usage,
}

/// One step of a streamed answer.
#[derive(Debug, Clone, PartialEq)]
pub enum StreamEvent {
    /// The answer began.
    Start {
        /// Answer id.
        id: String,
        /// Model.
        model: String,
    },
    /// More text.
    TextDelta(String),
    /// A tool call begins (`index` counts tool calls from 0 within the answer).
    ToolCallStart {
        /// Which tool call.
        index: u32,
        /// Call id.
        id: String,
        /// Tool name.
        name: String,
    },
    /// More of a tool call's JSON arguments.
    ToolArgumentsDelta {
        /// Which tool call.
        index: u32,
        /// A piece of the arguments' JSON text.
        json: String,
    },
    /// Why it stopped.
    Finish(FinishReason),
    /// Token counts (may come more than once; the last one holds).
    Usage(Usage),
    /// The provider reported an error inside the stream.
    Error {
        /// Its message.
        message: String,
    },
    /// The stream ended normally.
    End,
}

/// A field of a request that cannot be expressed in the target shape: answered 400 naming it,
/// never dropped silently.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Untranslatable {
    /// The field, e.g. `messages[2].content[0].type` or `previous_response_id`.
    pub field: String,
    /// Why, e.g. "audio input has no Anthropic equivalent".
    pub reason: String,
}

impl std::fmt::Display for Untranslatable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.field, self.reason)
    }
}
