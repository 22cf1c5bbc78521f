//! The trace CSV (`--trace-out`): one row per attempt, written by a dedicated thread fed through a
//! channel, so request handling never waits on the disk.
//!
//! Header: `timestamp_ms,request_id,attempt,model,tier,deployment,outcome,status,input_tokens,`
//! `output_tokens,latency_ms,ttft_ms,stream,client,limit_requests,limit_tokens,`
//! `remaining_requests,remaining_tokens,arrived_ms,cached_tokens,retry_after_ms` (the simulator's `sim::trace::HEADER`). `timestamp_ms` is when the attempt was sent, in ms since
//! the gateway started; `outcome` is `ok`, a failure kind (`rate_limited`, `server_error`,
//! `timeout`, `connection`, `client_error`), `cancelled` (the client went away with the
//! attempt in flight: a censored latency), `refused` (the request failed before any attempt,
//! e.g. no deployment had headroom: attempt 1, empty deployment, latency 0) or `client_refused`
//! (the same, refused by its `[[client]]`'s own tier, limits or budgets: the gateway's own
//! 403/429, never a provider's); `status` is the provider's HTTP status or 0; tokens are the
//! provider's usage on success and the gateway's estimate otherwise; `ttft_ms` is empty when no
//! first byte arrived, and for a non-streamed answer (`stream` = `false`) it is the whole answer's
//! arrival; `client` is the client key's name (empty without one); the last four columns are
//! the provider's `x-ratelimit-limit-*` / `x-ratelimit-remaining-*` headers, empty when absent;
//! `arrived_ms` is when the request arrived (its first attempt may wait for headroom);
//! `cached_tokens` the input tokens a success read from the provider's prompt cache, as its
//! usage said (OpenAI `prompt_tokens_details.cached_tokens`, Anthropic
//! `cache_read_input_tokens`; 0 when it said nothing and for failures); `retry_after_ms` the
//! wait the provider's `retry-after-ms` / `retry-after` asked for on a failure (as the engine
//! took it: it cools the deployment down that long from the answer's arrival), empty when none.
//!
//! Every time is engine time: with `serve --speed N` the trace is in the modelled world's
//! milliseconds (real × N) and limits per modelled minute, so `fit` on it gives the modelled
//! world directly.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender, SyncSender};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use engine::{FailureKind, LimitHeaders};

/// The CSV header, exactly.
pub const HEADER: &str = "timestamp_ms,request_id,attempt,model,tier,deployment,outcome,status,input_tokens,output_tokens,latency_ms,ttft_ms,stream,client,limit_requests,limit_tokens,remaining_requests,remaining_tokens,arrived_ms,cached_tokens,retry_after_ms";

/// How often buffered rows reach the file at the latest.
pub const FLUSH_EVERY: Duration = Duration::from_secs(1);

/// One attempt.
#[derive(Debug, Clone)]
pub struct Row {
    /// When the attempt was sent, since gateway start.
    pub sent: Duration,
    /// The gateway's request number.
    pub request_id: u64,
    /// 1-based attempt number.
    pub attempt: u8,
    /// Model name the client asked for.
    pub model: Arc<str>,
    /// Tier name.
    pub tier: Arc<str>,
    /// Deployment id.
    pub deployment: Arc<str>,
    /// `None` for success.
    pub failure: Option<FailureKind>,
    /// Replaces the outcome: `cancelled` (the client went away with the attempt in flight),
    /// `refused` (the engine failed the request before any attempt; no deployment) or
    /// `client_refused` (its client's own limits refused it; no deployment).
    pub note: Option<&'static str>,
    /// HTTP status, 0 when none.
    pub status: u16,
    /// Input tokens.
    pub input_tokens: u32,
    /// Output tokens.
    pub output_tokens: u32,
    /// Attempt latency.
    pub latency: Duration,
    /// Time to first byte, if one arrived.
    pub ttft: Option<Duration>,
    /// Whether the client asked for a stream.
    pub stream: bool,
    /// The client key's name, if the request came with one.
    pub client: Option<Arc<str>>,
    /// The provider's rate-limit headers on the answer.
    pub limits: LimitHeaders,
    /// When the request arrived, since gateway start.
    pub arrived: Duration,
    /// Input tokens read from the provider's prompt cache (successes).
    pub cached_tokens: u32,
    /// The wait a failure's `retry-after` asked for, in engine time.
    pub retry_after: Option<Duration>,
}

enum Msg {
    Row(Box<Row>),
    Flush(SyncSender<()>),
}

/// The sending side; cheap to share.
pub struct TraceSink {
    tx: Sender<Msg>,
    thread: std::sync::Mutex<Option<JoinHandle<()>>>,
}

impl TraceSink {
    /// Creates the file, writes the header and starts the writer thread.
    pub fn create(path: &Path) -> io::Result<TraceSink> {
        let mut out = BufWriter::with_capacity(64 * 1024, File::create(path)?);
        writeln!(out, "{HEADER}")?;
        out.flush()?;
        let (tx, rx) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("switchyard-trace".into())
            .spawn(move || writer(rx, out))?;
        Ok(TraceSink {
            tx,
            thread: std::sync::Mutex::new(Some(thread)),
        })
    }

    /// Queues a row (never blocks).
    pub fn record(&self, row: Row) {
        let _ = self.tx.send(Msg::Row(Box::new(row)));
    }

    /// Writes everything queued so far to the file, waiting at most `timeout`.
    pub fn flush(&self, timeout: Duration) {
        let (ack, done) = mpsc::sync_channel(1);
        if self.tx.send(Msg::Flush(ack)).is_ok() {
            let _ = done.recv_timeout(timeout);
        }
    }
}

impl Drop for TraceSink {
    fn drop(&mut self) {
        self.flush(Duration::from_secs(5));
        let (tx, _) = mpsc::channel();
        drop(std::mem::replace(&mut self.tx, tx));
        let thread = self.thread.lock().ok().and_then(|mut t| t.take());
        if let Some(t) = thread {
            let _ = t.join();
        }
    }
}

fn writer(rx: Receiver<Msg>, mut out: BufWriter<File>) {
    let mut dirty = false;
    loop {
        match rx.recv_timeout(FLUSH_EVERY) {
            Ok(Msg::Row(row)) => {
                if let Err(e) = write_row(&mut out, &row) {
                    tracing::warn!(error = %e, "trace: cannot write row");
                }
                dirty = true;
            }
            Ok(Msg::Flush(ack)) => {
                flush(&mut out, &mut dirty);
                let _ = ack.send(());
            }
            Err(RecvTimeoutError::Timeout) => flush(&mut out, &mut dirty),
            Err(RecvTimeoutError::Disconnected) => {
                flush(&mut out, &mut dirty);
                return;
            }
        }
    }
}

fn flush(out: &mut BufWriter<File>, dirty: &mut bool) {
    if *dirty {
        if let Err(e) = out.flush() {
            tracing::warn!(error = %e, "trace: cannot flush");
        }
        *dirty = false;
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Writes one CSV row.
pub fn write_row(out: &mut impl Write, r: &Row) -> io::Result<()> {
    write!(
        out,
        "{:.3},{},{},{},{},{},{},{},{},{},{:.3},",
        ms(r.sent),
        r.request_id,
        r.attempt,
        csv_field(&r.model),
        csv_field(&r.tier),
        csv_field(&r.deployment),
        r.note
            .unwrap_or_else(|| r.failure.map_or("ok", FailureKind::name)),
        r.status,
        r.input_tokens,
        r.output_tokens,
        ms(r.latency),
    )?;
    if let Some(t) = r.ttft {
        write!(out, "{:.3}", ms(t))?;
    }
    write!(
        out,
        ",{},{}",
        r.stream,
        r.client.as_deref().map_or("".into(), csv_field)
    )?;
    let l = &r.limits;
    for v in [
        l.limit_requests,
        l.limit_tokens,
        l.remaining_requests,
        l.remaining_tokens,
    ] {
        out.write_all(b",")?;
        if let Some(v) = v {
            write!(out, "{v}")?;
        }
    }
    write!(out, ",{:.3},{},", ms(r.arrived), r.cached_tokens)?;
    if let Some(d) = r.retry_after {
        write!(out, "{:.3}", ms(d))?;
    }
    out.write_all(b"\n")
}

/// Quotes a field when it holds a comma, quote or line break (RFC 4180).
pub fn csv_field(s: &str) -> std::borrow::Cow<'_, str> {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\"")).into()
    } else {
        s.into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_matches_the_simulator() {
        assert_eq!(HEADER, sim_header());
    }

    fn sim_header() -> &'static str {
        "timestamp_ms,request_id,attempt,model,tier,deployment,outcome,status,input_tokens,output_tokens,latency_ms,ttft_ms,stream,client,limit_requests,limit_tokens,remaining_requests,remaining_tokens,arrived_ms,cached_tokens,retry_after_ms"
    }

    #[test]
    fn rows_are_formatted() {
        let row = Row {
            sent: Duration::from_micros(12_345),
            request_id: 7,
            attempt: 2,
            model: "gpt,4".into(),
            tier: "std".into(),
            deployment: "b".into(),
            failure: Some(FailureKind::RateLimited),
            note: None,
            status: 429,
            input_tokens: 10,
            output_tokens: 256,
            latency: Duration::from_micros(1500),
            ttft: None,
            stream: false,
            client: Some("team,a".into()),
            limits: LimitHeaders {
                limit_requests: Some(90),
                remaining_requests: Some(0),
                ..LimitHeaders::default()
            },
            arrived: Duration::from_micros(10_000),
            cached_tokens: 0,
            retry_after: Some(Duration::from_micros(2_500)),
        };
        let mut out = Vec::new();
        write_row(&mut out, &row).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "12.345,7,2,\"gpt,4\",std,b,rate_limited,429,10,256,1.500,,false,\"team,a\",90,,0,,10.000,0,2.500\n"
        );
    }
}
