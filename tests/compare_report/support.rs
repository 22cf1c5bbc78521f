//! Helpers shared by the compare-report tests: reading a report file and checking its format
//! (a strict RFC 4180 CSV parser and a CSV shape check, a PNG chunk walker with CRC-32, and
//! the values of HTML attributes).

use std::path::Path;

pub(crate) fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// Splits CSV text into records (RFC 4180: quoted fields may hold commas, quotes, newlines).
pub(crate) fn parse_csv(text: &str) -> Result<Vec<Vec<String>>, String> {
    let mut records = Vec::new();
    let mut record = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => field.push(c),
            (false, '"') if field.is_empty() => quoted = true,
            (false, '"') => return Err(format!("stray quote after {field:?}")),
            (false, ',') => record.push(std::mem::take(&mut field)),
            (false, '\r') => {}
            (false, '\n') => {
                record.push(std::mem::take(&mut field));
                records.push(std::mem::take(&mut record));
            }
            (false, c) => field.push(c),
        }
    }
    if quoted {
        return Err("unterminated quoted field".into());
    }
    if !field.is_empty() || !record.is_empty() {
        record.push(field);
        records.push(record);
    }
    Ok(records)
}

/// Checks a CSV file: a header of unique non-empty names, at least one row, every row as wide.
pub(crate) fn check_csv(path: &Path) -> Vec<Vec<String>> {
    let text = String::from_utf8(read(path)).expect("CSV is UTF-8");
    let records = parse_csv(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let header = records
        .first()
        .unwrap_or_else(|| panic!("{} is empty", path.display()));
    assert!(
        header.iter().all(|h| !h.is_empty()),
        "{}: empty header name",
        path.display()
    );
    let mut names = header.clone();
    names.sort();
    names.dedup();
    assert_eq!(
        names.len(),
        header.len(),
        "{}: duplicate header names",
        path.display()
    );
    assert!(records.len() > 1, "{} has no rows", path.display());
    for (i, r) in records.iter().enumerate() {
        assert_eq!(
            r.len(),
            header.len(),
            "{} line {}: {} fields, header has {}",
            path.display(),
            i + 1,
            r.len(),
            header.len()
        );
    }
    records
}

pub(crate) fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xffff_ffffu32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xedb8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// Walks a PNG's chunks: signature, IHDR first with a non-zero size, every chunk's CRC, IDAT
/// data, IEND last. Returns (width, height).
pub(crate) fn check_png(path: &Path) -> (u32, u32) {
    let bytes = read(path);
    let name = path.display();
    assert!(
        bytes.starts_with(b"\x89PNG\r\n\x1a\n"),
        "{name}: not a PNG signature"
    );
    let mut at = 8;
    let mut chunks: Vec<[u8; 4]> = Vec::new();
    let mut size = (0, 0);
    let mut idat = 0usize;
    while at + 12 <= bytes.len() {
        let len =
            u32::from_be_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]]) as usize;
        let kind: [u8; 4] = [bytes[at + 4], bytes[at + 5], bytes[at + 6], bytes[at + 7]];
        let end = at + 8 + len;
        assert!(end + 4 <= bytes.len(), "{name}: chunk runs past the end");
        let crc = u32::from_be_bytes([bytes[end], bytes[end + 1], bytes[end + 2], bytes[end + 3]]);
        assert_eq!(
            crc32(&bytes[at + 4..end]),
            crc,
            "{name}: bad CRC in a {:?} chunk",
            String::from_utf8_lossy(&kind)
        );
        let data = &bytes[at + 8..end];
        match &kind {
            b"IHDR" => {
                assert_eq!(len, 13, "{name}: IHDR length");
                size = (
                    u32::from_be_bytes([data[0], data[1], data[2], data[3]]),
                    u32::from_be_bytes([data[4], data[5], data[6], data[7]]),
                );
            }
            b"IDAT" => idat += len,
            _ => {}
        }
        chunks.push(kind);
        at = end + 4;
    }
    assert_eq!(
        at,
        bytes.len(),
        "{name}: trailing bytes after the last chunk"
    );
    assert_eq!(chunks.first(), Some(b"IHDR"), "{name}: IHDR is not first");
    assert_eq!(chunks.last(), Some(b"IEND"), "{name}: IEND is not last");
    assert!(idat > 0, "{name}: no image data");
    assert!(size.0 > 0 && size.1 > 0, "{name}: {size:?}");
    size
}

/// Values of `attr="…"` attributes in HTML text.
pub(crate) fn attribute_values<'a>(html: &'a str, attr: &str) -> Vec<&'a str> {
    let needle = format!("{attr}=\"");
    let mut out = Vec::new();
    let mut rest = html;
    while let Some(i) = rest.find(&needle) {
        rest = &rest[i + needle.len()..];
        if let Some(end) = rest.find('"') {
            out.push(&rest[..end]);
            rest = &rest[end..];
        }
    }
    out
}
