//! Replaying recorded traces as arrivals: the requests' times and token counts come from a CSV
//! file (plain or gzip), everything else (world, gateway config, strategies) from a scenario.
//!
//! [`Replay::open`] reads the whole file once, streaming, to validate it (bad rows, order,
//! unknown models) and learn its span; each run then gets a fresh [`TraceSource`] that reads
//! the file again lazily, so memory stays flat whatever the trace's length (except with
//! `sort`, which holds every row in memory). A source that meets an error mid-run (the file
//! changed, the disk failed) stops and records it: check [`Replay::take_error`] after a run.
//!
//! Formats are detected from the header (see [`format`]); rows with `attempt` > 1 are retries
//! and are not replayed. Without a `model` or `tier` column each request's model is drawn from
//! the scenario's `[workload] mix` (seeded).

pub mod azure;
mod cells;
pub mod error;
pub mod format;
mod order;
mod reader;
mod source;

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Mutex;
use std::time::Duration;

pub(crate) use cells::{duplicate_column, header_names, is_blank, longer_than_header, open_csv};
pub use cells::{parse_count, parse_millis, TIMESTAMP};
pub use error::{RowError, TraceError};
pub use format::Format;
pub use reader::{ReadStats, LOGGED_BAD_ROWS};
pub use source::TraceSource;

use crate::run::stream;
use crate::Scenario;
use order::{read_sorted, Ordered};
use reader::{ModelTable, ReadSettings, Record, RowReader};
use source::{Cursor, RecordSource, Streamed};

/// Per-attempt traces (with an `attempt` column) are written when attempts finish, so their
/// send times may be this far out of order by default.
pub const ATTEMPT_TRACE_DISORDER: Duration = Duration::from_secs(600);

/// A slice of the trace, as offsets from its first timestamp (`10m..20m`, `..5m`, `30s..`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Window {
    /// Start (inclusive); `None` from the beginning.
    pub from: Option<Duration>,
    /// End (exclusive); `None` to the end.
    pub to: Option<Duration>,
}

impl FromStr for Window {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let (from, to) = s.split_once("..").ok_or_else(|| {
            format!("invalid window {s:?}; expected FROM..TO such as \"10m..20m\", \"..5m\" or \"30s..\"")
        })?;
        let side = |t: &str| -> Result<Option<Duration>, String> {
            let t = t.trim();
            if t.is_empty() {
                Ok(None)
            } else {
                engine::config::duration::parse(t).map(Some)
            }
        };
        let window = Window {
            from: side(from)?,
            to: side(to)?,
        };
        if let (Some(f), Some(t)) = (window.from, window.to) {
            if t <= f {
                return Err(format!(
                    "invalid window {s:?}: the end must be after the start"
                ));
            }
        }
        Ok(window)
    }
}

impl fmt::Display for Window {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let side = |d: Option<Duration>| d.map(|d| format!("{:?}", d)).unwrap_or_default();
        write!(f, "{}..{}", side(self.from), side(self.to))
    }
}

/// How to replay a trace.
#[derive(Debug, Clone)]
pub struct ReplayOptions {
    /// Force a format instead of detecting it from the header.
    pub format: Option<Format>,
    /// Time compression: 2 replays twice as fast.
    pub speed: f64,
    /// Only this slice of the trace.
    pub window: Window,
    /// Skip malformed rows instead of stopping at the first.
    pub skip_bad_rows: bool,
    /// Sort rows by time in memory (the whole trace is loaded).
    pub sort: bool,
    /// How far rows may be out of time order and still be streamed: each row is held back
    /// until a row this much later has been read, and a row earlier than one already released
    /// is an error (`None`: 0 for arrival traces, [`ATTEMPT_TRACE_DISORDER`] for per-attempt
    /// traces). Memory grows with the rows inside this span, not with the trace.
    pub max_disorder: Option<Duration>,
    /// Send every request as this model (overrides the trace's model column and the mix).
    pub model: Option<String>,
}

impl Default for ReplayOptions {
    fn default() -> Self {
        ReplayOptions {
            format: None,
            speed: 1.0,
            window: Window::default(),
            skip_bad_rows: false,
            sort: false,
            max_disorder: None,
            model: None,
        }
    }
}

/// A requested model seen in the trace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelCount {
    /// Model (or tier) name as written.
    pub name: String,
    /// Tier it routes to.
    pub tier: String,
    /// Rows (arrivals and skipped window rows) naming it.
    pub rows: u64,
}

/// What the scan of a trace found.
#[derive(Debug, Clone)]
pub struct TraceInfo {
    /// The file.
    pub file: String,
    /// Its format.
    pub format: Format,
    /// Whether it was gzip-compressed.
    pub gzip: bool,
    /// Rows read, retries and bad rows skipped.
    pub read: ReadStats,
    /// Requests replayed.
    pub arrivals: u64,
    /// Rows before the window's start.
    pub before_window: u64,
    /// Replay time of the first arrival.
    pub first_arrival: Duration,
    /// Replay time of the last arrival (the replay's span).
    pub last_arrival: Duration,
    /// Models from the trace's `model`/`tier` column (empty when drawn from the mix).
    pub models: Vec<ModelCount>,
    /// Whether models are drawn from the scenario's workload mix.
    pub models_from_mix: bool,
    /// Whether the rows were sorted in memory.
    pub sorted_in_memory: bool,
    /// The reorder tolerance used when streaming.
    pub max_disorder: Duration,
}

/// A validated trace ready to be replayed any number of times.
pub struct Replay {
    path: PathBuf,
    settings: ReadSettings,
    options: ReplayOptions,
    tolerance: Duration,
    models: ModelTable,
    sorted: Option<Vec<Record>>,
    info: TraceInfo,
    error: Mutex<Option<TraceError>>,
}

impl Replay {
    /// Opens and scans the trace at `path` against `scenario`'s routes, checking every row
    /// (up to the window's end) without keeping them (unless `options.sort`).
    pub fn open(
        path: &Path,
        scenario: &Scenario,
        options: ReplayOptions,
    ) -> Result<Replay, TraceError> {
        if !(options.speed.is_finite() && options.speed > 0.0) {
            return Err(TraceError::Option(format!(
                "--speed {} must be a number > 0 (2 replays twice as fast)",
                options.speed
            )));
        }
        let settings = ReadSettings {
            format: options.format,
            skip_bad_rows: options.skip_bad_rows,
            model: options.model.clone(),
        };
        let config = &scenario.config;
        let mut reader = RowReader::open(path, &settings, config, None)?;
        let columns = reader.columns().clone();
        let tolerance = options
            .max_disorder
            .unwrap_or(if columns.attempt.is_some() {
                ATTEMPT_TRACE_DISORDER
            } else {
                Duration::ZERO
            });
        let (from, to) = window_nanos(options.window);
        let (reader, sorted, scan) = if options.sort {
            let rows = read_sorted(&mut reader)?;
            let scan = scan(Cursor::new(rows.iter(), from, to, options.speed))?;
            (reader, Some(rows), scan)
        } else {
            let mut streamed = Streamed {
                reader,
                ordered: Ordered::new(nanos(tolerance), disorder_hint(tolerance)),
            };
            let scan = scan(Cursor::new(&mut streamed, from, to, options.speed))?;
            (streamed.reader, None, scan)
        };
        let file = path.display().to_string();
        let models_from_mix =
            options.model.is_none() && columns.model.is_none() && columns.tier.is_none();
        let mut models = reader.models;
        models.frozen = true;
        let info = TraceInfo {
            file: file.clone(),
            format: columns.format,
            gzip: reader.gzip,
            read: reader.stats,
            arrivals: scan.arrivals,
            before_window: scan.before_window,
            first_arrival: scan.first,
            last_arrival: scan.last,
            models: models
                .names
                .iter()
                .zip(&models.tiers)
                .zip(&models.counts)
                .map(|((name, tier), rows)| ModelCount {
                    name: name.clone(),
                    tier: config.tiers[tier.index()].name.clone(),
                    rows: *rows,
                })
                .collect(),
            models_from_mix,
            sorted_in_memory: sorted.is_some(),
            max_disorder: tolerance,
        };
        if info.arrivals == 0 {
            let mut detail = Vec::new();
            if info.read.rows == 0 {
                detail.push("the file has a header and no rows".to_owned());
            }
            if info.read.retries > 0 {
                detail.push(format!(
                    "{} retry rows (attempt > 1) are not arrivals",
                    info.read.retries
                ));
            }
            if info.read.skipped > 0 {
                detail.push(format!("{} bad rows skipped", info.read.skipped));
            }
            if options.window != Window::default() {
                detail.push(format!("window {} selects nothing", options.window));
            }
            let detail = if detail.is_empty() {
                String::new()
            } else {
                format!(" ({})", detail.join("; "))
            };
            return Err(TraceError::Empty { file, detail });
        }
        Ok(Replay {
            path: path.to_owned(),
            settings,
            options,
            tolerance,
            models,
            sorted,
            info,
            error: Mutex::new(None),
        })
    }

    /// What the scan found.
    pub fn info(&self) -> &TraceInfo {
        &self.info
    }

    /// A fresh source of this trace's arrivals for one run under `seed` (the seed only matters
    /// when models are drawn from the scenario's mix). `scenario` must be the one the trace was
    /// opened with (its settings may have changed since, e.g. by [`Replay::prepare`]).
    pub fn source<'a>(&'a self, scenario: &'a Scenario, seed: u64) -> TraceSource<'a> {
        let (from, to) = window_nanos(self.options.window);
        let rows: Box<dyn RecordSource + 'a> = match &self.sorted {
            Some(rows) => Box::new(rows.iter()),
            None => match RowReader::open(
                &self.path,
                &self.settings,
                &scenario.config,
                Some(self.models.clone()),
            ) {
                Ok(reader) => Box::new(Streamed {
                    reader,
                    ordered: Ordered::new(nanos(self.tolerance), disorder_hint(self.tolerance)),
                }),
                Err(e) => {
                    self.record_error(e);
                    Box::new([].iter())
                }
            },
        };
        TraceSource::new(
            self,
            Cursor::new(rows, from, to, self.options.speed),
            &scenario.workload,
            stream(seed, "replay/models"),
        )
    }

    /// Makes `scenario`'s settings fit the replay: no request cap, a duration covering the
    /// trace (the workload's duration does not cut a replay short anyway), and time-series
    /// buckets no narrower than span/1000. Returns a note when the bucket was widened.
    pub fn prepare(&self, scenario: &mut Scenario) -> Option<String> {
        let span = self.info.last_arrival;
        let settings = &mut scenario.settings;
        settings.max_requests = None;
        settings.duration = span + Duration::from_secs(1);
        let buckets = span.as_secs_f64() / settings.bucket.as_secs_f64().max(1e-9);
        if buckets > 2000.0 {
            let bucket = Duration::from_secs((span.as_secs_f64() / 1000.0).ceil() as u64);
            let note = format!(
                "time-series bucket widened from {} to {} for a {} replay",
                humantime::format_duration(settings.bucket),
                humantime::format_duration(bucket),
                humantime::format_duration(Duration::from_secs(span.as_secs()))
            );
            settings.bucket = bucket;
            return Some(note);
        }
        None
    }

    /// The first error a source met during a run (taken: later calls return `None` until
    /// another error occurs). A run whose source failed must be discarded.
    pub fn take_error(&self) -> Option<TraceError> {
        self.error.lock().unwrap_or_else(|e| e.into_inner()).take()
    }

    pub(crate) fn record_error(&self, e: TraceError) {
        let mut slot = self.error.lock().unwrap_or_else(|e| e.into_inner());
        if slot.is_none() {
            *slot = Some(e);
        }
    }
}

struct Scan {
    arrivals: u64,
    before_window: u64,
    first: Duration,
    last: Duration,
}

fn scan<R: RecordSource>(mut cursor: Cursor<R>) -> Result<Scan, TraceError> {
    let mut s = Scan {
        arrivals: 0,
        before_window: 0,
        first: Duration::ZERO,
        last: Duration::ZERO,
    };
    while let Some((at, _)) = cursor.next()? {
        if s.arrivals == 0 {
            s.first = at;
        }
        s.last = at;
        s.arrivals += 1;
    }
    s.before_window = cursor.before_window;
    Ok(s)
}

fn nanos(d: Duration) -> i64 {
    i64::try_from(d.as_nanos()).unwrap_or(i64::MAX)
}

fn window_nanos(w: Window) -> (i64, Option<i64>) {
    (w.from.map_or(0, nanos), w.to.map(nanos))
}

fn disorder_hint(tolerance: Duration) -> String {
    if tolerance.is_zero() {
        ", or stream rows up to a bound out of order with --max-disorder".into()
    } else {
        format!(
            ", or raise --max-disorder (now {})",
            humantime::format_duration(tolerance)
        )
    }
}
