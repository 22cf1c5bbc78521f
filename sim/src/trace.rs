//! The project's own trace format: one CSV row per attempt, as the gateway records it and as
//! `replay` and `fit` read it.
//!
//! ```text
//! timestamp_ms,request_id,attempt,model,tier,deployment,outcome,status,input_tokens,output_tokens,latency_ms,ttft_ms,stream,client,limit_requests,limit_tokens,remaining_requests,remaining_tokens,arrived_ms,cached_tokens,retry_after_ms
//! 1520.250,17,1,gpt-4o,frontier,openai-key1,ok,200,812,164,2210.400,402.125,true,,,,,,1520.250,512,
//! ```
//! `timestamp_ms` is when the attempt was sent, from the start of the recording; `outcome` is
//! `ok`, a failure kind (`rate_limited`, `server_error`, `timeout`, `connection`,
//! `client_error`, `context_length`) or `cancelled` (the client gave up with the attempt in
//! flight: a censored latency), `refused` (the request failed before any attempt: attempt 1,
//! empty deployment, latency 0) or `client_refused` (the same, refused by its `[[client]]`'s own
//! tier, limits or budgets — not a provider's 429); `status` is the provider's HTTP status or 0
//! when there was none.
//! `ttft_ms` is when the head of the answer arrived: the first token of a streamed answer, the
//! whole answer of a non-streamed one (`stream` = `false`). `client` is the client key's name
//! (empty without one); the next four columns are the provider's `x-ratelimit-limit-*` and
//! `x-ratelimit-remaining-*` headers of the answer, empty when it sent none; `arrived_ms` is
//! when the request arrived (its first attempt may be sent later, after a wait for headroom);
//! `cached_tokens` the input tokens a success read from the deployment's prompt cache (the
//! provider's usage says so: OpenAI `cached_tokens`, Anthropic `cache_read_input_tokens`);
//! `retry_after_ms` the wait a failure's `retry-after` asked for (a 429's, or a 503's), empty
//! when it carried none (the engine cools the deployment down for that long from the failure's
//! arrival, `timestamp_ms` + `latency_ms`). Readers treat every
//! column after `ttft_ms` as optional, so traces written before they existed still read.

use std::io::Write;
use std::time::Duration;

use engine::Outcome;
use serde::{Deserialize, Serialize};

/// The header row of the trace format.
pub const HEADER: &str = "timestamp_ms,request_id,attempt,model,tier,deployment,outcome,status,input_tokens,output_tokens,latency_ms,ttft_ms,stream,client,limit_requests,limit_tokens,remaining_requests,remaining_tokens,arrived_ms,cached_tokens,retry_after_ms";

/// One attempt.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TraceRow {
    /// When the attempt was sent, ms from the start.
    pub timestamp_ms: f64,
    /// Request number (attempts of one request share it).
    pub request_id: u64,
    /// 1-based attempt number.
    pub attempt: u8,
    /// Requested model name.
    pub model: String,
    /// Tier it was routed to.
    pub tier: String,
    /// Deployment the attempt went to.
    pub deployment: String,
    /// `ok` or the failure kind.
    pub outcome: String,
    /// HTTP status, 0 if none.
    pub status: u16,
    /// Input tokens.
    pub input_tokens: u32,
    /// Output tokens.
    pub output_tokens: u32,
    /// Attempt latency, ms.
    pub latency_ms: f64,
    /// Time to the answer's head, ms (0 for failures): first token when streamed, the whole
    /// answer when not.
    pub ttft_ms: f64,
    /// Whether the attempt streamed.
    pub stream: bool,
    /// The client key's name, empty without one.
    pub client: String,
    /// `x-ratelimit-limit-requests` of the answer.
    pub limit_requests: Option<u64>,
    /// `x-ratelimit-limit-tokens` of the answer.
    pub limit_tokens: Option<u64>,
    /// `x-ratelimit-remaining-requests` of the answer.
    pub remaining_requests: Option<u64>,
    /// `x-ratelimit-remaining-tokens` of the answer.
    pub remaining_tokens: Option<u64>,
    /// When the request arrived, ms from the start (a first attempt may be sent later, when
    /// the gateway waited for headroom).
    pub arrived_ms: f64,
    /// Input tokens a success read from the deployment's prompt cache (0 otherwise).
    #[serde(default)]
    pub cached_tokens: u32,
    /// The wait a failure's `retry-after` asked for, ms (a 429's, or a 503's that said when to
    /// come back); empty when it carried none, and for successes.
    #[serde(default)]
    pub retry_after_ms: Option<f64>,
}

impl TraceRow {
    /// The row for an attempt sent at `sent` and answered at `now` with `outcome`. A failure
    /// records `estimated_output` output tokens (the gateway's estimate, as the gateway's trace
    /// does), a success the tokens it produced.
    #[allow(clippy::too_many_arguments)]
    pub fn from_attempt(
        request_id: u64,
        attempt: u8,
        sent: Duration,
        now: Duration,
        model: &str,
        tier: &str,
        deployment: &str,
        input_tokens: u32,
        outcome: &Outcome,
        stream: bool,
        estimated_output: u32,
    ) -> TraceRow {
        let ms = |d: Duration| (d.as_secs_f64() * 1e6).round() / 1e3;
        let (name, status, ttft, output) = match outcome {
            Outcome::Success {
                ttft,
                output_tokens,
                ..
            } => ("ok", 200, ms(*ttft), *output_tokens),
            Outcome::Failure { kind, status, .. } => {
                (kind.name(), status.unwrap_or(0), 0.0, estimated_output)
            }
        };
        let (headers, retry_after) = match outcome {
            Outcome::Success { headers, .. } => (*headers, None),
            Outcome::Failure {
                headers,
                retry_after,
                ..
            } => (*headers, retry_after.map(ms)),
        };
        TraceRow {
            timestamp_ms: ms(sent),
            request_id,
            attempt,
            model: model.to_owned(),
            tier: tier.to_owned(),
            deployment: deployment.to_owned(),
            outcome: name.to_owned(),
            status,
            input_tokens,
            output_tokens: output,
            latency_ms: ms(now.saturating_sub(sent)),
            ttft_ms: ttft,
            stream,
            client: String::new(),
            limit_requests: headers.limit_requests,
            limit_tokens: headers.limit_tokens,
            remaining_requests: headers.remaining_requests,
            remaining_tokens: headers.remaining_tokens,
            arrived_ms: ms(sent),
            cached_tokens: 0,
            retry_after_ms: retry_after,
        }
    }

    /// The same row for a request of this `[[client]]` (empty: none).
    pub fn of_client(mut self, name: &str) -> TraceRow {
        name.clone_into(&mut self.client);
        self
    }

    /// The same row with the input tokens its success read from a prompt cache.
    pub fn cached(mut self, tokens: u32) -> TraceRow {
        self.cached_tokens = tokens;
        self
    }

    /// The same row with the request's arrival time.
    pub fn arrived(mut self, at: Duration) -> TraceRow {
        self.arrived_ms = (at.as_secs_f64() * 1e6).round() / 1e3;
        self
    }
}

impl TraceRow {
    /// The row of an attempt sent at `sent` whose client gave up at `now` with it in flight: a
    /// censored latency (outcome `cancelled`, status 0, no first token).
    #[allow(clippy::too_many_arguments)]
    pub fn cancelled(
        request_id: u64,
        attempt: u8,
        sent: Duration,
        now: Duration,
        model: &str,
        tier: &str,
        deployment: &str,
        tokens: (u32, u32),
        stream: bool,
    ) -> TraceRow {
        let mut row = TraceRow::from_attempt(
            request_id,
            attempt,
            sent,
            now,
            model,
            tier,
            deployment,
            tokens.0,
            &Outcome::failure(engine::FailureKind::Timeout),
            stream,
            tokens.1,
        );
        row.outcome = "cancelled".to_owned();
        row
    }

    /// The row of a request the engine failed at `now` before any attempt (outcome `refused`,
    /// attempt 1, no deployment, latency 0), so the trace holds every request.
    pub fn refused(
        request_id: u64,
        now: Duration,
        model: &str,
        tier: &str,
        tokens: (u32, u32),
        stream: bool,
    ) -> TraceRow {
        let mut row = TraceRow::cancelled(request_id, 1, now, now, model, tier, "", tokens, stream);
        row.latency_ms = 0.0;
        row.outcome = "refused".to_owned();
        row
    }

    /// The row of a request its `[[client]]`'s own tier, limits or budgets refused at `now`
    /// (outcome `client_refused`, otherwise as [`TraceRow::refused`]): the gateway's own
    /// refusal, never a provider's 429.
    pub fn client_refused(
        request_id: u64,
        now: Duration,
        model: &str,
        tier: &str,
        tokens: (u32, u32),
        stream: bool,
    ) -> TraceRow {
        let mut row = TraceRow::refused(request_id, now, model, tier, tokens, stream);
        row.outcome = "client_refused".to_owned();
        row
    }
}

/// Receives trace rows as attempts finish.
pub trait TraceSink {
    /// One finished attempt.
    fn attempt(&mut self, row: &TraceRow);
}

/// Writes trace rows as CSV; the first I/O error is kept and reported by [`CsvTrace::finish`].
pub struct CsvTrace<W: Write> {
    writer: csv::Writer<W>,
    error: Option<csv::Error>,
}

impl<W: Write> CsvTrace<W> {
    /// A trace writer (the header is written with the first row).
    pub fn new(out: W) -> CsvTrace<W> {
        CsvTrace {
            writer: csv::Writer::from_writer(out),
            error: None,
        }
    }

    /// Flushes and returns the first error met, if any.
    pub fn finish(mut self) -> Result<(), csv::Error> {
        if let Some(e) = self.error.take() {
            return Err(e);
        }
        self.writer.flush().map_err(csv::Error::from)
    }
}

impl<W: Write> TraceSink for CsvTrace<W> {
    fn attempt(&mut self, row: &TraceRow) {
        if self.error.is_none() {
            if let Err(e) = self.writer.serialize(row) {
                self.error = Some(e);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use engine::FailureKind;

    #[test]
    fn writes_the_documented_header_and_rows() {
        let mut buf = Vec::new();
        {
            let mut t = CsvTrace::new(&mut buf);
            let ok = Outcome::success(Duration::from_millis(400), 10, 20);
            t.attempt(
                &TraceRow::from_attempt(
                    1,
                    1,
                    Duration::from_millis(1500),
                    Duration::from_millis(2500),
                    "m",
                    "t",
                    "d",
                    10,
                    &ok,
                    true,
                    50,
                )
                .cached(7),
            );
            let f = Outcome::rate_limited(Some(Duration::from_millis(250)));
            t.attempt(&TraceRow::from_attempt(
                2,
                1,
                Duration::ZERO,
                Duration::from_millis(30),
                "m",
                "t",
                "d",
                10,
                &f,
                false,
                50,
            ));
            t.finish().unwrap();
        }
        let text = String::from_utf8(buf).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], HEADER);
        assert_eq!(
            lines[1],
            "1500.0,1,1,m,t,d,ok,200,10,20,1000.0,400.0,true,,,,,,1500.0,7,"
        );
        assert_eq!(
            lines[2],
            format!(
                "0.0,2,1,m,t,d,{},429,10,50,30.0,0.0,false,,,,,,0.0,0,250.0",
                FailureKind::RateLimited.name()
            )
        );
    }
}
