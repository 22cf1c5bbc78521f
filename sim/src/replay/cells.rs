//! Opening a trace (regular files only, gzip detected) and the cells of its rows: header
//! names, counts, milliseconds, and the checks every row gets (no more fields than the header,
//! no repeated column), shared by the replay and fit readers.

use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use super::error::{shown, RowError, TraceError};

/// Opens a regular file for reading (a FIFO or a device is refused: a replay reads the file
/// more than once), decompressing gzip (recognised by its magic bytes).
pub(crate) fn open_input(path: &Path) -> Result<(Box<dyn Read>, bool), TraceError> {
    let file_name = path.display().to_string();
    let io = |cause| TraceError::Io {
        file: file_name.clone(),
        line: None,
        cause,
    };
    let file = crate::files::open_regular(path).map_err(io)?;
    let mut reader = BufReader::with_capacity(1 << 16, file);
    let gzip = reader.fill_buf().map_err(io)?.starts_with(&[0x1f, 0x8b]);
    Ok(if gzip {
        (Box::new(flate2::read::MultiGzDecoder::new(reader)), true)
    } else {
        (Box::new(reader), false)
    })
}

/// A CSV reader over a trace file, decompressed if it was gzip.
pub(crate) type TraceCsv = csv::Reader<Box<dyn Read>>;

/// Opens a CSV trace (gzip or not) and reads its header row. Records end at LF only: a CR
/// before it is trimmed with the last field, and line numbers stay right for CRLF files (csv's
/// own CRLF handling numbers them one short).
pub(crate) fn open_csv(path: &Path) -> Result<(TraceCsv, csv::ByteRecord, bool), TraceError> {
    let file = path.display().to_string();
    let (input, gzip) = open_input(path)?;
    let mut csv = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .trim(csv::Trim::All)
        .terminator(csv::Terminator::Any(b'\n'))
        .buffer_capacity(1 << 16)
        .from_reader(input);
    let mut header = csv::ByteRecord::new();
    match csv.read_byte_record(&mut header) {
        Ok(true) => Ok((csv, header, gzip)),
        Ok(false) => Err(TraceError::Header {
            file,
            message: "the file is empty; expected a header row".into(),
        }),
        Err(e) => Err(TraceError::Io {
            file,
            line: None,
            cause: e.into(),
        }),
    }
}

/// A header's column names, byte-order mark and surrounding spaces trimmed.
pub(crate) fn header_names<'h>(header: impl IntoIterator<Item = &'h [u8]>) -> Vec<String> {
    header
        .into_iter()
        .enumerate()
        .map(|(i, f)| {
            let s = String::from_utf8_lossy(f);
            let s = if i == 0 {
                s.trim_start_matches('\u{feff}')
            } else {
                &s
            };
            s.trim().to_owned()
        })
        .collect()
}

pub(crate) const TOKENS: &str = "a whole number of tokens from 0 to 4294967295";

/// What a trace timestamp must be (own format), for error messages.
pub const TIMESTAMP: &str =
    "a time in milliseconds: a number from -9e12 to 9e12 (about ±285 years)";

/// A row with more fields than the header, as an error naming its first extra field.
pub(crate) fn longer_than_header(
    record: &csv::ByteRecord,
    header: usize,
    file: &str,
) -> Option<RowError> {
    (record.len() > header).then(|| RowError {
        file: file.to_owned(),
        line: record.position().map_or(0, |p| p.line()),
        field: format!("field {}", header + 1),
        value: shown(&record[header]),
        expected: format!(
            "at most {header} fields, as many as the header (the row has {})",
            record.len()
        ),
    })
}

/// The first column name (case-insensitive, non-empty) the header repeats.
pub(crate) fn duplicate_column(names: &[String]) -> Option<&str> {
    names.iter().enumerate().find_map(|(i, n)| {
        (!n.is_empty() && names[..i].iter().any(|m| m.eq_ignore_ascii_case(n)))
            .then_some(n.as_str())
    })
}

/// A line holding nothing but whitespace (e.g. a lone CR).
pub(crate) fn is_blank(record: &csv::ByteRecord) -> bool {
    record.len() == 1 && record[0].is_empty()
}

/// A non-negative whole number (plain digits, or a number with a zero fraction such as `12.0`).
pub fn parse_count(v: &[u8]) -> Option<u32> {
    if !v.is_empty() && v.len() <= 10 && v.iter().all(u8::is_ascii_digit) {
        let n = v.iter().fold(0u64, |n, &c| n * 10 + u64::from(c - b'0'));
        return u32::try_from(n).ok();
    }
    let f: f64 = std::str::from_utf8(v).ok()?.parse().ok()?;
    (f.is_finite() && f >= 0.0 && f.fract() == 0.0 && f <= f64::from(u32::MAX)).then_some(f as u32)
}

/// Milliseconds as a finite number into nanoseconds.
pub fn parse_millis(v: &[u8]) -> Option<i64> {
    let ms: f64 = std::str::from_utf8(v).ok()?.parse().ok()?;
    (ms.is_finite() && ms.abs() <= 9.0e12).then(|| (ms * 1e6).round() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicate_columns_are_found() {
        let names = |s: &str| s.split(',').map(str::to_owned).collect::<Vec<_>>();
        assert_eq!(duplicate_column(&names("a,b,A")), Some("A"));
        assert_eq!(duplicate_column(&names("a,,b,")), None);
    }

    #[test]
    fn counts_and_millis() {
        assert_eq!(parse_count(b"0"), Some(0));
        assert_eq!(parse_count(b"4294967295"), Some(u32::MAX));
        assert_eq!(parse_count(b"4294967296"), None);
        assert_eq!(parse_count(b"12.0"), Some(12));
        assert_eq!(parse_count(b"12.5"), None);
        assert_eq!(parse_count(b"-1"), None);
        assert_eq!(parse_count(b""), None);
        assert_eq!(parse_count(b"NaN"), None);
        assert_eq!(parse_millis(b"1520.25"), Some(1_520_250_000));
        assert_eq!(parse_millis(b"inf"), None);
        assert_eq!(parse_millis(b"1e300"), None);
    }
}
