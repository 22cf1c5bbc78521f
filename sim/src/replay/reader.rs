//! Streaming row reader: opens a trace (see [`super::cells`]), reads the header, and parses one row at a time into a [`Record`], reusing one buffer, so memory stays
//! flat however long the file.

use std::collections::HashMap;
use std::io::Read;
use std::path::Path;

use engine::{Config, TierId};

use super::azure;
use super::cells::{
    is_blank, longer_than_header, open_csv, parse_count, parse_millis, TIMESTAMP, TOKENS,
};
use super::error::{shown, RowError, TraceError};
use super::format::{detect, Columns, Format};

/// `Record::model` of a row without a model or tier column: drawn from the scenario's mix.
pub(crate) const FROM_MIX: u32 = u32::MAX;

/// How many skipped rows are kept for the report.
pub const LOGGED_BAD_ROWS: usize = 5;

/// One arrival as read from the trace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Record {
    /// Timestamp, ns (epoch for Azure, from the recording's start for the own format).
    pub at: i64,
    /// 1-based line.
    pub line: u64,
    /// Index into the model table, or [`FROM_MIX`].
    pub model: u32,
    /// Input tokens.
    pub input: u32,
    /// Output tokens.
    pub output: u32,
    /// The request number of a first attempt that failed: its output tokens are the gateway's
    /// estimate, replaced by a successful retry's when one is read (see [`RowReader::outputs`]).
    pub retried: Option<u64>,
    /// Whether the request streamed, if the trace says.
    pub stream: Option<bool>,
    /// The output tokens are only the gateway's estimate: the request never succeeded.
    pub estimated: bool,
}

/// Successful retries remembered until their first attempt is released (bounded).
const MAX_RETRY_OUTPUTS: usize = 1 << 20;

impl Record {
    /// A first attempt that failed takes its request's successful retry's output tokens, if
    /// one was read.
    pub(crate) fn settle(&mut self, reader: &mut RowReader<'_>) {
        if let Some(id) = self.retried.take() {
            match reader.outputs.remove(&id) {
                Some(output) => self.output = output,
                None => self.estimated = true,
            }
        }
    }
}

/// Counts of what a reader saw.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ReadStats {
    /// Data rows read (every row after the header).
    pub rows: u64,
    /// Rows with attempt > 1: retries, not arrivals.
    pub retries: u64,
    /// Bad rows skipped (`--skip-bad-rows`).
    pub skipped: u64,
    /// The first few skipped rows and why.
    pub first_skipped: Vec<RowError>,
}

/// Requested model names seen in a trace and the tiers they route to.
#[derive(Debug, Clone, Default)]
pub(crate) struct ModelTable {
    pub names: Vec<String>,
    pub tiers: Vec<TierId>,
    pub counts: Vec<u64>,
    index: HashMap<String, u32>,
    /// No new names may appear (a run after the scan).
    pub frozen: bool,
}

enum Unresolved {
    Unknown(String),
    Unseen(String),
}

impl ModelTable {
    fn resolve(
        &mut self,
        model: Option<&str>,
        tier: Option<&str>,
        config: &Config,
    ) -> Result<u32, Unresolved> {
        let model = model.filter(|m| !m.is_empty());
        let tier = tier.filter(|t| !t.is_empty());
        let Some(key) = model.or(tier) else {
            return Err(Unresolved::Unknown("a model or tier name".into()));
        };
        if let Some(&i) = self.index.get(key) {
            self.counts[i as usize] += 1;
            return Ok(i);
        }
        let routed = model
            .and_then(|m| config.route(m))
            .or_else(|| tier.and_then(|t| config.tier_by_name(t)));
        let Some(tier_id) = routed else {
            let tiers: Vec<&str> = config.tiers.iter().map(|t| t.name.as_str()).collect();
            return Err(Unresolved::Unknown(format!(
                "a model that matches a [[route]] of the scenario or one of its tier names ({})",
                tiers.join(", ")
            )));
        };
        if self.frozen {
            return Err(Unresolved::Unseen(key.to_owned()));
        }
        let i = self.names.len() as u32;
        self.names.push(key.to_owned());
        self.tiers.push(tier_id);
        self.counts.push(1);
        self.index.insert(key.to_owned(), i);
        Ok(i)
    }

    /// Resolves a name given on the command line.
    pub fn resolve_name(&mut self, name: &str, config: &Config) -> Option<u32> {
        self.resolve(Some(name), None, config).ok()
    }
}

/// Reads rows of a trace one at a time.
pub(crate) struct RowReader<'a> {
    file: String,
    csv: csv::Reader<Box<dyn Read>>,
    record: csv::ByteRecord,
    columns: Columns,
    config: &'a Config,
    pub models: ModelTable,
    forced_model: Option<u32>,
    skip_bad: bool,
    pub stats: ReadStats,
    /// Output tokens of successful retries by request number: what a request whose first
    /// attempt failed truly produced.
    pub outputs: HashMap<u64, u32>,
    pub gzip: bool,
}

/// What to read and how strictly.
#[derive(Debug, Clone, Default)]
pub(crate) struct ReadSettings {
    pub format: Option<Format>,
    pub skip_bad_rows: bool,
    pub model: Option<String>,
}

impl<'a> RowReader<'a> {
    /// Opens `path` and reads its header. `models` carries the table of an earlier scan (frozen).
    pub fn open(
        path: &Path,
        settings: &ReadSettings,
        config: &'a Config,
        models: Option<ModelTable>,
    ) -> Result<RowReader<'a>, TraceError> {
        let file = path.display().to_string();
        let (csv, header, gzip) = open_csv(path)?;
        let header_err = |message: String| TraceError::Header {
            file: file.clone(),
            message,
        };
        let columns = detect(header.iter(), settings.format).map_err(header_err)?;
        let mut models = models.unwrap_or_default();
        let forced_model = match &settings.model {
            Some(name) => {
                let i = models.resolve_name(name, config).ok_or_else(|| {
                    TraceError::Option(format!(
                        "--model {name:?} matches no [[route]] and no tier name of the scenario"
                    ))
                })?;
                if let Some(count) = models.counts.get_mut(i as usize) {
                    *count = 0;
                }
                Some(i)
            }
            None => None,
        };
        Ok(RowReader {
            file,
            csv,
            record: csv::ByteRecord::new(),
            columns,
            config,
            models,
            forced_model,
            skip_bad: settings.skip_bad_rows,
            stats: ReadStats::default(),
            outputs: HashMap::new(),
            gzip,
        })
    }

    /// The columns found in the header.
    pub fn columns(&self) -> &Columns {
        &self.columns
    }

    /// The file name used in messages.
    pub fn file(&self) -> &str {
        &self.file
    }

    /// The next arrival row (bad rows are skipped or returned as errors; retries are skipped).
    pub fn next_record(&mut self) -> Result<Option<Record>, TraceError> {
        loop {
            match self.csv.read_byte_record(&mut self.record) {
                Ok(true) => {}
                Ok(false) => return Ok(None),
                Err(e) => {
                    return Err(TraceError::Io {
                        file: self.file.clone(),
                        line: self.record.position().map(|p| p.line()),
                        cause: e.into(),
                    })
                }
            }
            if is_blank(&self.record) {
                continue;
            }
            self.stats.rows += 1;
            match self.parse() {
                Ok(Some(r)) => return Ok(Some(r)),
                Ok(None) => self.stats.retries += 1,
                Err(Bad::Row(e)) if self.skip_bad => {
                    self.stats.skipped += 1;
                    if self.stats.first_skipped.len() < LOGGED_BAD_ROWS {
                        self.stats.first_skipped.push(e);
                    }
                }
                Err(Bad::Row(e)) => return Err(TraceError::Row(e)),
                Err(Bad::Fatal(e)) => return Err(e),
            }
        }
    }

    fn line(&self) -> u64 {
        self.record.position().map_or(0, |p| p.line())
    }

    fn bad(&self, column: usize, value: &[u8], expected: impl Into<String>) -> Bad {
        Bad::Row(RowError {
            file: self.file.clone(),
            line: self.line(),
            field: self.columns.name(column).to_owned(),
            value: shown(value),
            expected: expected.into(),
        })
    }

    fn missing(&self, column: usize) -> Bad {
        self.bad(
            column,
            b"",
            format!(
                "a value (the row has {} fields, the header {})",
                self.record.len(),
                self.columns.names.len()
            ),
        )
    }

    fn field(&self, column: usize) -> Result<&[u8], Bad> {
        self.record.get(column).ok_or_else(|| self.missing(column))
    }

    /// Parses the current row: `None` for a retry.
    fn parse(&mut self) -> Result<Option<Record>, Bad> {
        if let Some(e) = longer_than_header(&self.record, self.columns.names.len(), &self.file) {
            return Err(Bad::Row(e));
        }
        let c = &self.columns;
        let (ts_col, in_col, out_col) = (c.timestamp, c.input, c.output);
        let (attempt_col, model_col, tier_col) = (c.attempt, c.model, c.tier);
        let (request_col, outcome_col, stream_col) = (c.request, c.outcome, c.stream);
        // Read leniently: they only refine the output tokens of retried requests.
        let request = request_col
            .and_then(|col| self.record.get(col))
            .and_then(|v| std::str::from_utf8(v).ok()?.parse::<u64>().ok());
        let ok = outcome_col
            .and_then(|col| self.record.get(col))
            .is_none_or(|v| matches!(v, b"ok" | b"success"));
        if let Some(col) = attempt_col {
            let v = self.field(col)?;
            match parse_count(v) {
                Some(1) => {}
                Some(n) if n > 1 => {
                    if let (true, Some(id)) = (ok, request) {
                        let v = self.field(c.output)?;
                        let output = parse_count(v).ok_or_else(|| self.bad(c.output, v, TOKENS))?;
                        if self.outputs.len() < MAX_RETRY_OUTPUTS {
                            self.outputs.insert(id, output);
                        }
                    }
                    return Ok(None);
                }
                _ => return Err(self.bad(col, v, "an attempt number ≥ 1")),
            }
        }
        let stream = match stream_col {
            Some(col) => match self.field(col)? {
                b"" => None,
                b"true" | b"1" => Some(true),
                b"false" | b"0" => Some(false),
                v => return Err(self.bad(col, v, "true, false, 1, 0 or nothing")),
            },
            None => None,
        };
        // The request's arrival, when recorded, else its first attempt's send time.
        let ts_col = match c.arrived {
            Some(col) if self.record.get(col).is_some_and(|v| !v.is_empty()) => col,
            _ => ts_col,
        };
        let v = self.field(ts_col)?;
        let at = match self.columns.format {
            Format::Own => parse_millis(v).ok_or_else(|| self.bad(ts_col, v, TIMESTAMP))?,
            Format::Azure => std::str::from_utf8(v)
                .ok()
                .and_then(|t| azure::parse_timestamp(t).ok())
                .ok_or_else(|| self.bad(ts_col, v, azure::EXPECTED))?,
        };
        let v = self.field(in_col)?;
        let input = parse_count(v).ok_or_else(|| self.bad(in_col, v, TOKENS))?;
        let v = self.field(out_col)?;
        let output = parse_count(v).ok_or_else(|| self.bad(out_col, v, TOKENS))?;
        let model = match (self.forced_model, model_col, tier_col) {
            (Some(m), _, _) => {
                if let Some(count) = self.models.counts.get_mut(m as usize) {
                    *count += 1;
                }
                m
            }
            (None, None, None) => FROM_MIX,
            (None, _, _) => self.model(model_col, tier_col)?,
        };
        Ok(Some(Record {
            at,
            line: self.line(),
            model,
            input,
            output,
            retried: request.filter(|_| !ok),
            stream,
            estimated: false,
        }))
    }

    fn model(&mut self, model_col: Option<usize>, tier_col: Option<usize>) -> Result<u32, Bad> {
        let mut texts: [Option<&str>; 2] = [None, None];
        for (slot, col) in [model_col, tier_col].into_iter().enumerate() {
            if let Some(c) = col {
                let Some(v) = self.record.get(c) else {
                    return Err(self.missing(c));
                };
                texts[slot] =
                    Some(std::str::from_utf8(v).map_err(|_| self.bad(c, v, "UTF-8 text"))?);
            }
        }
        let [model, tier] = texts;
        match self.models.resolve(model, tier, self.config) {
            Ok(i) => Ok(i),
            Err(Unresolved::Unknown(expected)) => {
                // Blame the column that was read: the model, else a non-empty tier, else the
                // (empty) model column if there is one.
                let col = if model.is_some_and(|m| !m.is_empty()) {
                    model_col
                } else if tier.is_some_and(|t| !t.is_empty()) {
                    tier_col
                } else {
                    model_col.or(tier_col)
                };
                let value = model.filter(|m| !m.is_empty()).or(tier).unwrap_or_default();
                Err(self.bad(col.unwrap_or(0), value.as_bytes(), expected))
            }
            Err(Unresolved::Unseen(name)) => Err(Bad::Fatal(TraceError::Changed {
                file: self.file.clone(),
                message: format!(
                    "line {}: model {name:?} was not in the file when it was scanned",
                    self.line()
                ),
            })),
        }
    }
}

enum Bad {
    Row(RowError),
    Fatal(TraceError),
}
