//! `switchyard compare` on a small scenario with an incident writes every report file: the
//! CSVs parse, the PNGs are well-formed and sized like their SVGs, `index.html` links only to
//! files that exist, `report.md` names winners and the outage, and the same seed gives
//! byte-identical report files.

use std::path::Path;
use std::process::Command;

use crate::cli::TempDir;
use crate::support::*;

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
