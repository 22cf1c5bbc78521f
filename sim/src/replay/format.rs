//! Trace formats and their detection from the header row.
//!
//! - `own`: the project's trace (`timestamp_ms,input_tokens,output_tokens`, optionally `attempt`,
//!   `model`, `tier` and the per-attempt columns the gateway and `simulate --trace-out` write).
//! - `azure`: the Azure LLM inference traces (`TIMESTAMP,ContextTokens,GeneratedTokens`).

use std::fmt;
use std::str::FromStr;

/// A trace format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// switchyard's own trace CSV.
    Own,
    /// The Azure LLM inference trace.
    Azure,
}

impl Format {
    /// The name used on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Format::Own => "own",
            Format::Azure => "azure",
        }
    }

    /// Column names as usually written.
    fn display_names(self) -> [&'static str; 3] {
        match self {
            Format::Own => ["timestamp_ms", "input_tokens", "output_tokens"],
            Format::Azure => ["TIMESTAMP", "ContextTokens", "GeneratedTokens"],
        }
    }

    /// Column names (lowercase) of timestamp, input tokens and output tokens.
    fn required(self) -> [&'static str; 3] {
        match self {
            Format::Own => ["timestamp_ms", "input_tokens", "output_tokens"],
            Format::Azure => ["timestamp", "contexttokens", "generatedtokens"],
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Format {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "own" | "switchyard" => Ok(Format::Own),
            "azure" => Ok(Format::Azure),
            _ => Err(format!(
                "unknown trace format {s:?}; expected \"own\" or \"azure\""
            )),
        }
    }
}

/// Where the columns a replay reads sit in a row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Columns {
    /// The format.
    pub format: Format,
    /// Timestamp column.
    pub timestamp: usize,
    /// Input tokens column.
    pub input: usize,
    /// Output tokens column.
    pub output: usize,
    /// Attempt number column (rows with attempt > 1 are retries, not arrivals).
    pub attempt: Option<usize>,
    /// Requested model column.
    pub model: Option<usize>,
    /// Tier column.
    pub tier: Option<usize>,
    /// Request number column (per-attempt traces).
    pub request: Option<usize>,
    /// Outcome column (per-attempt traces).
    pub outcome: Option<usize>,
    /// Whether the attempt streamed (per-attempt traces written since the column exists).
    pub stream: Option<usize>,
    /// When the request arrived (its first attempt may have been sent later).
    pub arrived: Option<usize>,
    /// Header names as written, for error messages.
    pub names: Vec<String>,
}

impl Columns {
    /// The header name of column `i`.
    pub fn name(&self, i: usize) -> &str {
        self.names.get(i).map_or("?", String::as_str)
    }
}

const EXPECTED: &str = "a header row naming timestamp_ms,input_tokens,output_tokens (switchyard \
                        trace) or TIMESTAMP,ContextTokens,GeneratedTokens (Azure LLM inference trace)";

/// Finds the columns from the header fields; `forced` overrides detection.
pub fn detect<'h>(
    header: impl IntoIterator<Item = &'h [u8]>,
    forced: Option<Format>,
) -> Result<Columns, String> {
    let names = super::cells::header_names(header);
    if let Some(name) = super::cells::duplicate_column(&names) {
        return Err(format!(
            "the column {name:?} appears twice in the header {:?}; expected each column once",
            names.join(",")
        ));
    }
    let lower: Vec<String> = names.iter().map(|n| n.to_ascii_lowercase()).collect();
    let find = |name: &str| lower.iter().position(|n| n == name);
    let format = match forced {
        Some(f) => f,
        None if find("timestamp_ms").is_some() => Format::Own,
        None if find("timestamp").is_some() && find("contexttokens").is_some() => Format::Azure,
        None => return Err(format!("expected {EXPECTED}; found {:?}", names.join(","))),
    };
    let [ts, input, output] = format.required();
    let missing: Vec<&str> = [ts, input, output]
        .into_iter()
        .zip(format.display_names())
        .filter(|(c, _)| find(c).is_none())
        .map(|(_, shown)| shown)
        .collect();
    if let ([], Some(timestamp), Some(input), Some(output)) =
        (missing.as_slice(), find(ts), find(input), find(output))
    {
        return Ok(Columns {
            format,
            timestamp,
            input,
            output,
            attempt: find("attempt"),
            model: find("model"),
            tier: find("tier"),
            request: find("request_id"),
            outcome: find("outcome"),
            stream: find("stream"),
            arrived: find("arrived_ms"),
            names,
        });
    }
    Err(format!(
        "the {format} format needs the columns {}; missing {} in {:?} (expected {EXPECTED})",
        format.display_names().join(","),
        missing.join(","),
        names.join(",")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cols(header: &str, forced: Option<Format>) -> Result<Columns, String> {
        detect(header.split(',').map(str::as_bytes), forced)
    }

    #[test]
    fn detects_both_formats() {
        let own = cols(crate::trace::HEADER, None).unwrap();
        assert_eq!(own.format, Format::Own);
        assert_eq!(
            (own.timestamp, own.attempt, own.model),
            (0, Some(2), Some(3))
        );
        let azure = cols("\u{feff}TIMESTAMP,ContextTokens,GeneratedTokens", None).unwrap();
        assert_eq!(azure.format, Format::Azure);
        assert_eq!((azure.input, azure.output, azure.model), (1, 2, None));
        let minimal = cols("input_tokens, output_tokens ,timestamp_ms,tier", None).unwrap();
        assert_eq!((minimal.timestamp, minimal.tier), (2, Some(3)));
    }

    #[test]
    fn names_what_is_missing() {
        let e = cols("a,b,c", None).unwrap_err();
        assert!(e.contains("TIMESTAMP,ContextTokens"), "{e}");
        let e = cols("TIMESTAMP,ContextTokens,GeneratedTokens", Some(Format::Own)).unwrap_err();
        assert!(
            e.contains("missing timestamp_ms,input_tokens,output_tokens"),
            "{e}"
        );
    }
}
