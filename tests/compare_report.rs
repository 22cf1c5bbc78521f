//! End to end: `switchyard compare` on a small scenario with an incident writes every report file;
//! the CSVs parse, the PNGs are well-formed, `index.html` links only to files that exist, and the
//! same seed gives byte-identical report files.

mod cli;

use cli::TempDir;

use std::path::Path;
use std::process::Command;

/// A short two-tier, four-deployment scenario: one OpenAI key is down (503s) from 1m to 2m.
const SCENARIO: &str = r#"
# small — the shape of scenarios/default.toml, cut down for a quick end-to-end test.
[simulation]
name = "small"
seed = 11
duration = "4m"
bucket = "10s"
strategies = ["random", "weighted-round-robin", "capacity-aware", "adaptive"]

[workload]
arrivals = { poisson = { rate = 10.0 } }
input_tokens = { lognormal = { median = 800, p99 = 6000 } }
output_tokens = { lognormal = { median = 200, p99 = 1200 } }
max_tokens = 2048
client_timeout = "60s"

[[workload.mix]]
model = "gpt-4o"
share = 0.8

[[workload.mix]]
model = "gpt-4o-mini"
share = 0.2

[[tier]]
name = "frontier"
strategy = "adaptive"
fallback = ["fast"]

[[tier]]
name = "fast"
strategy = "adaptive"

[[route]]
model = "gpt-4o"
tier = "frontier"

[[route]]
model = "gpt-4o-mini"
tier = "fast"

[[deployment]]
id = "openai-key1"
provider = "openai"
model = "gpt-4o"
key = "key1"
tier = "frontier"
weight = 2
rpm = 500
tpm = 150000
input_price = 2.5
output_price = 10.0
first_byte_timeout = "20s"

[[deployment]]
id = "openai-key2"
provider = "openai"
model = "gpt-4o"
key = "key2"
tier = "frontier"
weight = 2
rpm = 500
tpm = 150000
input_price = 2.5
output_price = 10.0
first_byte_timeout = "20s"

[[deployment]]
id = "azure-eastus"
provider = "azure"
model = "gpt-4o"
key = "eastus"
tier = "frontier"
weight = 1
rpm = 300
tpm = 120000
input_price = 2.5
output_price = 10.0
first_byte_timeout = "20s"

[[deployment]]
id = "openai-mini"
provider = "openai"
model = "gpt-4o-mini"
key = "key1"
tier = "fast"
weight = 1
rpm = 5000
tpm = 2000000
input_price = 0.15
output_price = 0.6
first_byte_timeout = "20s"

[retry]
max_attempts = 3
max_wait = "10s"

[health]
cooldown = "5s"
failure_threshold = 5
open_for = "30s"

[[world.provider]]
name = "openai"
ttft = { lognormal = { median = "450ms", p99 = "2s" } }
per_token = { lognormal = { median = "11ms", p99 = "25ms" } }
error_rate = 0.003
concurrency = 400

  [[world.provider.deployment]]
  id = "openai-key1"
  rpm = 500
  tpm = 150000

  [[world.provider.deployment]]
  id = "openai-key2"
  rpm = 500
  tpm = 150000

  [[world.provider.deployment]]
  id = "openai-mini"
  rpm = 5000
  tpm = 2000000

[[world.provider]]
name = "azure"
ttft = { lognormal = { median = "700ms", p99 = "3s" } }
per_token = { lognormal = { median = "14ms", p99 = "30ms" } }
error_rate = 0.005
concurrency = 200

  [[world.provider.deployment]]
  id = "azure-eastus"
  rpm = 300
  tpm = 120000

[[world.incident]]
kind = "outage"
mode = "503"
target = "openai-key2"
start = "1m"
end = "2m"
"#;

const DATA: [&str; 5] = [
    "summary.csv",
    "runs.csv",
    "deployments.csv",
    "timeseries.csv",
    "summary.json",
];
const PLOTS: [&str; 5] = [
    "latency-cdf",
    "traffic-share",
    "failures",
    "cost-p99",
    "weights",
];

fn compare(scenario: &Path, out: &Path) {
    let output = Command::new(env!("CARGO_BIN_EXE_switchyard"))
        .arg("compare")
        .arg(scenario)
        .args(["--requests", "2000", "--seeds", "1", "--out"])
        .arg(out)
        .output()
        .expect("run switchyard");
    assert!(
        output.status.success(),
        "switchyard compare failed: {}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// Splits CSV text into records (RFC 4180: quoted fields may hold commas, quotes, newlines).
fn parse_csv(text: &str) -> Result<Vec<Vec<String>>, String> {
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
fn check_csv(path: &Path) -> Vec<Vec<String>> {
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

fn crc32(bytes: &[u8]) -> u32 {
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
fn check_png(path: &Path) -> (u32, u32) {
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
fn attribute_values<'a>(html: &'a str, attr: &str) -> Vec<&'a str> {
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

fn report_files() -> Vec<String> {
    let mut files = vec!["report.md".to_owned(), "index.html".to_owned()];
    for p in PLOTS {
        files.push(format!("{p}.svg"));
        files.push(format!("{p}.png"));
    }
    files
}

#[test]
fn compare_writes_a_complete_deterministic_report() {
    let work = TempDir::new("compare-report", "work");
    let scenario = work.0.join("small.toml");
    std::fs::write(&scenario, SCENARIO).expect("write scenario");
    let a = work.0.join("a");
    let b = work.0.join("b");
    compare(&scenario, &a);
    compare(&scenario, &b);

    for f in DATA.iter().map(|s| s.to_string()).chain(report_files()) {
        let path = a.join(&f);
        assert!(path.is_file(), "{} is missing", path.display());
        assert!(!read(&path).is_empty(), "{} is empty", path.display());
    }

    // The CSVs parse, with the rows expected of four strategies and one seed.
    let summary = check_csv(&a.join("summary.csv"));
    assert_eq!(summary.len(), 1 + 4, "one row per strategy");
    assert_eq!(summary[0][0], "strategy");
    let runs = check_csv(&a.join("runs.csv"));
    assert_eq!(runs.len(), 1 + 4, "one row per run");
    let deployments = check_csv(&a.join("deployments.csv"));
    assert_eq!(deployments.len(), 1 + 4 * 4, "one row per run × deployment");
    let series = check_csv(&a.join("timeseries.csv"));
    assert!(series.len() > 1 + 4 * 4, "several buckets per strategy");
    let json: serde_json::Value =
        serde_json::from_slice(&read(&a.join("summary.json"))).expect("summary.json parses");
    assert_eq!(json.as_array().map(Vec::len), Some(4));

    // The PNGs are well-formed and as large as their SVGs say.
    for p in PLOTS {
        let (w, h) = check_png(&a.join(format!("{p}.png")));
        let svg = String::from_utf8(read(&a.join(format!("{p}.svg")))).expect("SVG is UTF-8");
        assert!(svg.starts_with("<svg"), "{p}.svg does not start with <svg");
        assert!(svg.trim_end().ends_with("</svg>"), "{p}.svg is not closed");
        assert!(
            svg.contains(&format!("width=\"{w}\"")) && svg.contains(&format!("height=\"{h}\"")),
            "{p}.png is {w}×{h} but the SVG differs"
        );
    }

    // index.html is self-contained and links only to files beside it that exist.
    let html = String::from_utf8(read(&a.join("index.html"))).expect("HTML is UTF-8");
    assert!(
        !html.contains("http://") && !html.contains("https://"),
        "index.html refers to the network"
    );
    let mut links: Vec<&str> = attribute_values(&html, "src");
    links.extend(attribute_values(&html, "href"));
    assert!(
        links.len() >= 2 * PLOTS.len() + DATA.len(),
        "too few links: {links:?}"
    );
    for link in &links {
        if link.starts_with('#') {
            continue;
        }
        assert!(
            !link.contains("..") && !link.starts_with('/'),
            "{link} leaves the report folder"
        );
        assert!(
            a.join(link).is_file(),
            "index.html links to {link}, which does not exist"
        );
    }
    for p in PLOTS {
        assert!(
            html.contains(&format!("src=\"{p}.svg\"")),
            "index.html does not show {p}.svg"
        );
    }

    // report.md names a winner per metric and says what each strategy did during the outage.
    let md = String::from_utf8(read(&a.join("report.md"))).expect("report.md is UTF-8");
    assert!(md.contains("## Winners"), "{md}");
    for name in [
        "random",
        "weighted-round-robin",
        "capacity-aware",
        "adaptive",
    ] {
        assert!(
            md.contains(&format!(
                "- **{name}**: during the openai-key2 outage (1m–2m)"
            )),
            "{name}:\n{md}"
        );
    }
    for link in [
        "summary.csv",
        "runs.csv",
        "deployments.csv",
        "timeseries.csv",
        "summary.json",
    ] {
        assert!(
            md.contains(&format!("]({link})")),
            "report.md does not link {link}"
        );
    }

    // Same seed, same bytes.
    for f in report_files() {
        assert!(
            read(&a.join(&f)) == read(&b.join(&f)),
            "{f} differs between two runs with the same seed"
        );
    }
}

#[test]
fn csv_parser_handles_quotes() {
    let r = parse_csv("a,b\n\"x,1\",\"say \"\"hi\"\"\"\n").expect("parses");
    assert_eq!(r, vec![vec!["a", "b"], vec!["x,1", "say \"hi\""]]);
    assert_eq!(crc32(b"IEND"), 0xae42_6082);
}
