//! Errors of reading and replaying a trace: each names the file and, for a row, the line, the
//! field, the value found and what was expected.

use std::fmt;

/// One row that cannot be replayed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct RowError {
    /// The trace file.
    pub file: String,
    /// 1-based line of the row (the header is line 1).
    pub line: u64,
    /// The column, as named in the header.
    pub field: String,
    /// The value found (shortened if long).
    pub value: String,
    /// What was expected instead.
    pub expected: String,
}

impl fmt::Display for RowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}: {}: found {:?}, expected {}",
            self.file, self.line, self.field, self.value, self.expected
        )
    }
}

/// Why a trace cannot be replayed.
#[derive(Debug, thiserror::Error)]
pub enum TraceError {
    /// The file could not be opened or read (including corrupt gzip data).
    #[error("cannot read {file}{after}: {cause}", after = after_line(*.line))]
    Io {
        /// The trace file.
        file: String,
        /// Last line read before the failure, if any.
        line: Option<u64>,
        /// The cause.
        cause: std::io::Error,
    },
    /// The header row is missing or names no known format.
    #[error("{file}:1: {message}")]
    Header {
        /// The trace file.
        file: String,
        /// What is wrong and what was expected.
        message: String,
    },
    /// A row is malformed (and `--skip-bad-rows` was not given).
    #[error(transparent)]
    Row(#[from] RowError),
    /// A row's timestamp is earlier than one already replayed.
    #[error(
        "{file}:{line}: timestamp is {back_ms:.3} ms earlier than line {previous_line}'s: the trace \
         is not sorted by time; pass --sort to sort it in memory{hint}"
    )]
    Unsorted {
        /// The trace file.
        file: String,
        /// The out-of-order row.
        line: u64,
        /// The row it goes back from.
        previous_line: u64,
        /// How far back, ms.
        back_ms: f64,
        /// Extra advice.
        hint: String,
    },
    /// Nothing to replay.
    #[error("{file}: no rows to replay{detail}")]
    Empty {
        /// The trace file.
        file: String,
        /// Why (window, skipped rows, …).
        detail: String,
    },
    /// The file changed between the scan and a run.
    #[error("{file}: the trace changed while it was being replayed ({message})")]
    Changed {
        /// The trace file.
        file: String,
        /// What differed.
        message: String,
    },
    /// An option is out of range.
    #[error("{0}")]
    Option(String),
}

fn after_line(line: Option<u64>) -> String {
    line.map(|l| format!(" after line {l}")).unwrap_or_default()
}

/// Shortens a value for an error message.
pub(crate) fn shown(value: &[u8]) -> String {
    let text = String::from_utf8_lossy(value);
    if text.chars().count() > 60 {
        let cut: String = text.chars().take(57).collect();
        format!("{cut}...")
    } else {
        text.into_owned()
    }
}
