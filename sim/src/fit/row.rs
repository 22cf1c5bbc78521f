//! One attempt row of a recorded trace as the fit reads it ([`Attempt`]), and what its outcome
//! (or, without an outcome column, its HTTP status) came to ([`Class`]).

use crate::replay::{parse_count, RowError};

/// What an attempt came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// Success.
    Ok,
    /// 429.
    RateLimited,
    /// 5xx.
    Server,
    /// No answer in time.
    Timeout,
    /// Connection failed (or no status and no outcome column).
    Connection,
    /// Other 4xx.
    Client,
    /// The client went away (or the request's deadline passed) with the attempt in flight: a
    /// censored observation, not a failure of the deployment.
    Cancelled,
    /// The request failed before any attempt (no deployment): counts as a request only.
    Refused,
    /// Its `[[client]]`'s own limits refused the request (`client_refused`: the gateway's own
    /// refusal, never a provider's 429): a request of that client only.
    ClientRefused,
}

impl Class {
    /// Whether the row is a request that never reached a deployment.
    pub fn is_refusal(self) -> bool {
        matches!(self, Class::Refused | Class::ClientRefused)
    }
}

/// One parsed attempt row; strings borrow the reader's buffer.
#[derive(Debug, Clone, Copy)]
pub struct Attempt<'r> {
    /// 1-based line.
    pub line: u64,
    /// When it was sent, ns from the recording's start.
    pub at: i64,
    /// Attempt number (1 without an attempt column).
    pub attempt: u32,
    /// Requested model, if the trace has the column.
    pub model: Option<&'r str>,
    /// Tier, if the trace has the column.
    pub tier: Option<&'r str>,
    /// Deployment id.
    pub deployment: &'r str,
    /// Outcome.
    pub class: Class,
    /// Input tokens.
    pub input: u32,
    /// Output tokens.
    pub output: u32,
    /// Attempt latency, ms.
    pub latency_ms: f64,
    /// Time to first token, ms (absent when no first byte arrived).
    pub ttft_ms: Option<f64>,
    /// Whether the attempt streamed, if the trace says (`stream` column).
    pub stream: Option<bool>,
    /// The client key's name, if the trace has the column and the request had one.
    pub client: Option<&'r str>,
    /// `x-ratelimit-limit-requests` of the answer, if recorded.
    pub limit_requests: Option<u64>,
    /// `x-ratelimit-limit-tokens` of the answer, if recorded.
    pub limit_tokens: Option<u64>,
    /// `x-ratelimit-remaining-requests` of the answer, if recorded.
    pub remaining_requests: Option<u64>,
    /// `x-ratelimit-remaining-tokens` of the answer, if recorded.
    pub remaining_tokens: Option<u64>,
    /// When the request arrived, ns from the recording's start, if recorded.
    pub arrived: Option<i64>,
}

/// What a row's `outcome` cell (column `outcome`, if the trace has one) or else its `status`
/// cell (column `status`, 0 when the trace has neither) says the attempt came to.
pub(super) fn classify(
    rec: &csv::ByteRecord,
    outcome: Option<usize>,
    status: Option<usize>,
    bad: &dyn Fn(usize, &[u8], &str) -> RowError,
) -> Result<Class, RowError> {
    if let Some(col) = outcome {
        let v = rec.get(col).unwrap_or_default();
        return Ok(match v {
            b"ok" | b"success" => Class::Ok,
            b"rate_limited" => Class::RateLimited,
            b"server_error" => Class::Server,
            b"timeout" => Class::Timeout,
            b"connection" => Class::Connection,
            b"client_error" | b"context_length" => Class::Client,
            b"cancelled" => Class::Cancelled,
            b"refused" => Class::Refused,
            b"client_refused" => Class::ClientRefused,
            _ => {
                return Err(bad(
                    col,
                    v,
                    "ok, rate_limited, server_error, timeout, connection, client_error, \
                     context_length, cancelled, refused or client_refused",
                ))
            }
        });
    }
    let col = status.unwrap_or(0);
    let v = rec.get(col).unwrap_or_default();
    let status = parse_count(v)
        .filter(|s| *s < 1000)
        .ok_or_else(|| bad(col, v, "an HTTP status (0 when none)"))?;
    Ok(match status {
        200..=299 => Class::Ok,
        429 => Class::RateLimited,
        408 => Class::Timeout,
        400..=499 => Class::Client,
        500..=599 => Class::Server,
        _ => Class::Connection,
    })
}
