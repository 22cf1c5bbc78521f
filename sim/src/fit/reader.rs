//! Reads per-attempt rows of a recorded trace (the gateway's or `simulate --trace-out`'s),
//! streaming, with columns found by name in the header.

use std::path::Path;

use crate::replay::error::shown;
use crate::replay::{
    duplicate_column, header_names, is_blank, longer_than_header, open_csv, parse_count,
    parse_millis, RowError, LOGGED_BAD_ROWS, TIMESTAMP,
};
use crate::scenario::limits::MAX_NAME_CHARS;

use super::row::{classify, Attempt};
use super::FitError;

struct Cols {
    timestamp: usize,
    attempt: Option<usize>,
    model: Option<usize>,
    tier: Option<usize>,
    deployment: usize,
    outcome: Option<usize>,
    status: Option<usize>,
    input: usize,
    output: usize,
    latency: usize,
    ttft: usize,
    stream: Option<usize>,
    client: Option<usize>,
    arrived: Option<usize>,
    /// limit_requests, limit_tokens, remaining_requests, remaining_tokens.
    limits: [Option<usize>; 4],
    names: Vec<String>,
}

/// Streams attempt rows.
pub struct AttemptReader {
    file: String,
    csv: csv::Reader<Box<dyn std::io::Read>>,
    record: csv::ByteRecord,
    cols: Cols,
    skip_bad: bool,
    /// Data rows read.
    pub rows: u64,
    /// Bad rows skipped.
    pub skipped: u64,
    /// The first few skipped rows.
    pub first_skipped: Vec<RowError>,
}

/// The optional rate-limit header columns, in [`Attempt`] order.
pub const LIMIT_COLUMNS: [&str; 4] = [
    "limit_requests",
    "limit_tokens",
    "remaining_requests",
    "remaining_tokens",
];

const REQUIRED: [&str; 6] = [
    "timestamp_ms",
    "deployment",
    "latency_ms",
    "ttft_ms",
    "input_tokens",
    "output_tokens",
];

impl AttemptReader {
    /// Opens `path` and finds the columns.
    pub fn open(path: &Path, skip_bad: bool) -> Result<AttemptReader, FitError> {
        let file = path.display().to_string();
        let (csv, header, _) = open_csv(path)?;
        let names = header_names(header.iter());
        let header_err = |message: String| FitError::Header {
            file: file.clone(),
            message,
        };
        if let Some(name) = duplicate_column(&names) {
            return Err(header_err(format!(
                "the column {name:?} appears twice in the header {:?}; expected each column once",
                names.join(",")
            )));
        }
        let find = |n: &str| names.iter().position(|c| c.eq_ignore_ascii_case(n));
        let missing: Vec<&str> = REQUIRED.into_iter().filter(|c| find(c).is_none()).collect();
        let (outcome, status) = (find("outcome"), find("status"));
        if !missing.is_empty() || (outcome.is_none() && status.is_none()) {
            let mut missing = missing.join(",");
            if outcome.is_none() && status.is_none() {
                if !missing.is_empty() {
                    missing.push(',');
                }
                missing.push_str("outcome or status");
            }
            return Err(header_err(format!(
                "fitting needs a per-attempt trace with the columns {} and outcome or status \
                 (as the gateway's --trace-out and `simulate --trace-out` write); missing {missing} in {:?}",
                REQUIRED.join(","),
                names.join(",")
            )));
        }
        let col = |n: &str| find(n).unwrap_or(0);
        let cols = Cols {
            timestamp: col("timestamp_ms"),
            attempt: find("attempt"),
            model: find("model"),
            tier: find("tier"),
            deployment: col("deployment"),
            outcome,
            status,
            input: col("input_tokens"),
            output: col("output_tokens"),
            latency: col("latency_ms"),
            ttft: col("ttft_ms"),
            stream: find("stream"),
            client: find("client"),
            arrived: find("arrived_ms"),
            limits: LIMIT_COLUMNS.map(find),
            names,
        };
        Ok(AttemptReader {
            file,
            csv,
            record: csv::ByteRecord::new(),
            cols,
            skip_bad,
            rows: 0,
            skipped: 0,
            first_skipped: Vec::new(),
        })
    }

    /// Whether the trace says which model each request asked for.
    pub fn has_model(&self) -> bool {
        self.cols.model.is_some()
    }

    /// Whether the trace numbers attempts.
    pub fn has_attempt(&self) -> bool {
        self.cols.attempt.is_some()
    }

    /// The next attempt row; bad rows are skipped (if asked) or returned as errors.
    pub fn next_attempt(&mut self) -> Result<Option<Attempt<'_>>, FitError> {
        loop {
            match self.csv.read_byte_record(&mut self.record) {
                Ok(true) => {}
                Ok(false) => return Ok(None),
                Err(e) => {
                    return Err(FitError::Io {
                        file: self.file.clone(),
                        cause: e.into(),
                    })
                }
            }
            if is_blank(&self.record) {
                continue;
            }
            self.rows += 1;
            match parse(&self.record, &self.cols, &self.file) {
                Ok(_) => break,
                Err(e) if self.skip_bad => {
                    self.skipped += 1;
                    if self.first_skipped.len() < LOGGED_BAD_ROWS {
                        self.first_skipped.push(e);
                    }
                }
                Err(e) => return Err(FitError::Row(e)),
            }
        }
        // Parse again to hand out borrows of the buffer (the loop above cannot return them).
        parse(&self.record, &self.cols, &self.file)
            .map(Some)
            .map_err(FitError::Row)
    }
}

fn parse<'r>(rec: &'r csv::ByteRecord, c: &Cols, file: &str) -> Result<Attempt<'r>, RowError> {
    if let Some(e) = longer_than_header(rec, c.names.len(), file) {
        return Err(e);
    }
    let line = rec.position().map_or(0, |p| p.line());
    let bad = |col: usize, v: &[u8], expected: &str| RowError {
        file: file.to_owned(),
        line,
        field: c.names.get(col).cloned().unwrap_or_default(),
        value: shown(v),
        expected: expected.to_owned(),
    };
    let get = |col: usize| -> Result<&'r [u8], RowError> {
        rec.get(col).ok_or_else(|| {
            bad(
                col,
                b"",
                &format!(
                    "a value (the row has {} fields, the header {})",
                    rec.len(),
                    c.names.len()
                ),
            )
        })
    };
    let text = |col: usize| -> Result<&'r str, RowError> {
        let v = get(col)?;
        let t = std::str::from_utf8(v).map_err(|_| bad(col, v, "UTF-8 text"))?;
        if t.chars().count() > MAX_NAME_CHARS {
            return Err(bad(col, v, NAME));
        }
        Ok(t)
    };
    let millis = |col: usize| -> Result<f64, RowError> {
        let v = get(col)?;
        std::str::from_utf8(v)
            .ok()
            .and_then(|t| t.parse::<f64>().ok())
            .filter(|x| (0.0..=MAX_LATENCY_MS).contains(x))
            .ok_or_else(|| bad(col, v, LATENCY))
    };
    let count = |col: usize, expected: &str| -> Result<u32, RowError> {
        let v = get(col)?;
        parse_count(v).ok_or_else(|| bad(col, v, expected))
    };
    let v = get(c.timestamp)?;
    let at = parse_millis(v).ok_or_else(|| bad(c.timestamp, v, TIMESTAMP))?;
    let attempt = match c.attempt {
        Some(col) => match count(col, "an attempt number ≥ 1")? {
            0 => return Err(bad(col, b"0", "an attempt number ≥ 1")),
            n => n,
        },
        None => 1,
    };
    let deployment = text(c.deployment)?;
    let class = classify(rec, c.outcome, c.status, &bad)?;
    if deployment.is_empty() && !class.is_refusal() {
        return Err(bad(c.deployment, b"", "a deployment id"));
    }
    let ttft_ms = match get(c.ttft)? {
        b"" => None,
        _ => Some(millis(c.ttft)?),
    };
    let stream = match c.stream {
        None => None,
        Some(col) => match get(col)? {
            b"" => None,
            b"true" | b"1" => Some(true),
            b"false" | b"0" => Some(false),
            v => return Err(bad(col, v, "true, false, 1, 0 or nothing")),
        },
    };
    let mut limits = [None; 4];
    for (slot, col) in limits.iter_mut().zip(c.limits) {
        if let Some(col) = col {
            let v = get(col)?;
            if !v.is_empty() {
                let n = std::str::from_utf8(v)
                    .ok()
                    .and_then(|t| t.parse::<u64>().ok())
                    .filter(|n| *n <= MAX_LIMIT)
                    .ok_or_else(|| bad(col, v, LIMIT))?;
                *slot = Some(n);
            }
        }
    }
    let arrived = match c.arrived {
        Some(col) => match get(col)? {
            b"" => None,
            v => Some(parse_millis(v).ok_or_else(|| bad(col, v, TIMESTAMP))?),
        },
        None => None,
    };
    let client = match c.client {
        Some(col) => Some(text(col)?).filter(|t| !t.is_empty()),
        None => None,
    };
    Ok(Attempt {
        line,
        at,
        attempt,
        model: c.model.map(text).transpose()?,
        tier: c.tier.map(text).transpose()?,
        deployment,
        class,
        input: count(c.input, TOKENS)?,
        output: count(c.output, TOKENS)?,
        latency_ms: millis(c.latency)?,
        ttft_ms,
        stream,
        client,
        limit_requests: limits[0],
        limit_tokens: limits[1],
        remaining_requests: limits[2],
        remaining_tokens: limits[3],
        arrived,
    })
}

/// Longest attempt latency or time to first token accepted: 1 day, in ms.
pub const MAX_LATENCY_MS: f64 = 86_400_000.0;

const LATENCY: &str = "a duration in milliseconds from 0 to 86400000 (1 day)";
const TOKENS: &str = "a whole number of tokens from 0 to 4294967295";
const NAME: &str = "a name of at most 200 characters";
const LIMIT: &str =
    "a whole number from 0 to 1000000000000 (a rate-limit header value), or nothing";

/// Largest rate-limit header value accepted (10¹²).
pub const MAX_LIMIT: u64 = 1_000_000_000_000;
