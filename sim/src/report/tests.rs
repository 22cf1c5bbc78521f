use super::*;

use engine::StrategyKind;

/// A one-minute, two-deployment scenario with an outage of one key from 20 s to 40 s.
const SMALL: &str = r#"
[simulation]
seed = 7
duration = "60s"
bucket = "5s"

[workload]
arrivals = { poisson = { rate = 20.0 } }
input_tokens = { lognormal = { median = 500, p99 = 4000 } }
output_tokens = { lognormal = { median = 150, p99 = 800 } }
max_tokens = 1024
client_timeout = "30s"

[[workload.mix]]
model = "gpt-4o"
share = 1.0

[[tier]]
name = "frontier"
strategy = "adaptive"

[[route]]
model = "gpt-4o"
tier = "frontier"

[[deployment]]
id = "key1"
provider = "openai"
model = "gpt-4o"
tier = "frontier"
weight = 1
rpm = 2000
tpm = 1000000
input_price = 2.5
output_price = 10.0

[[deployment]]
id = "azure"
provider = "azure"
model = "gpt-4o"
tier = "frontier"
weight = 1
rpm = 2000
tpm = 1000000
input_price = 2.5
output_price = 10.0

[retry]
max_attempts = 3

[[world.provider]]
name = "openai"
ttft = { lognormal = { median = "300ms", p99 = "1s" } }
per_token = { lognormal = { median = "5ms", p99 = "10ms" } }

  [[world.provider.deployment]]
  id = "key1"
  rpm = 2000
  tpm = 1000000

[[world.provider]]
name = "azure"
ttft = { lognormal = { median = "500ms", p99 = "2s" } }
per_token = { lognormal = { median = "6ms", p99 = "12ms" } }

  [[world.provider.deployment]]
  id = "azure"
  rpm = 2000
  tpm = 1000000

[[world.incident]]
kind = "outage"
mode = "503"
target = "openai"
start = "20s"
end = "40s"
"#;

fn small() -> (Scenario, Comparison) {
    let scenario = match Scenario::parse(SMALL, "small.toml", "small") {
        Ok(s) => s,
        Err(e) => panic!("{e}"),
    };
    let c = crate::compare::compare(
        &scenario,
        &[StrategyKind::WeightedRoundRobin, StrategyKind::Adaptive],
        &[7],
        2,
        &|_, _| {},
    );
    (scenario, c)
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("switchyard-report-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

#[test]
fn writes_every_file_and_the_same_bytes_twice() {
    let (scenario, c) = small();
    let a = temp_dir("a");
    let b = temp_dir("b");
    let files_a = write_report(&a, &scenario, &c).expect("report a");
    let files_b = write_report(&b, &scenario, &c).expect("report b");
    assert_eq!(files_a.len(), 2 + 2 * 5);
    for (fa, fb) in files_a.iter().zip(&files_b) {
        let (ba, bb) = (
            std::fs::read(fa).expect("read a"),
            std::fs::read(fb).expect("read b"),
        );
        assert!(!ba.is_empty(), "{} is empty", fa.display());
        assert!(ba == bb, "{} differs between two writes", fa.display());
    }
    let md = std::fs::read_to_string(a.join("report.md")).expect("report.md");
    assert!(md.contains("## Winners"), "{md}");
    assert!(
        md.contains("## Paired differences from the baseline"),
        "{md}"
    );
    assert!(md.contains("one seed gives no confidence interval"), "{md}");
    assert!(md.contains("![Latency CDF](latency-cdf.svg)"), "{md}");
    let _ = std::fs::remove_dir_all(&a);
    let _ = std::fs::remove_dir_all(&b);
}

#[test]
fn sentences_describe_the_outage_from_the_data() {
    let (scenario, c) = small();
    let f = facts::Facts::new(&scenario, &c);
    let sentences: Vec<String> = narrative::sentences(&f).iter().map(|s| s.plain()).collect();
    assert_eq!(sentences.len(), 2);
    for s in &sentences {
        assert!(s.contains("during the openai outage (20s–40s)"), "{s}");
        assert!(s.contains("of frontier attempts to key1"), "{s}");
        assert!(s.contains("failed attempt"), "{s}");
    }
    // Weighted round robin keeps sending half the tier to the dead key: its failures show.
    let wrr = &f.strategies[0];
    let window = |b: usize| f.in_window(b, 20.0, 40.0);
    let failed = wrr.sum(
        &window,
        &[0],
        &[
            crate::stats::Column::RateLimited,
            crate::stats::Column::Errors,
        ],
    );
    assert!(failed > 0, "{}", sentences[0]);
    assert!(sentences[0].contains(&format!("{} failed attempt", format::thousands(failed))));
    let winners = paired::winners(&c, &crate::paired::verdicts(&c));
    assert_eq!(winners.len(), crate::compare::METRICS.len());
    // One seed: no interval, so no winner, whatever the means say.
    assert!(winners.iter().all(|w| !w.significant), "{winners:?}");
}

/// Writes the report of the shipped default scenario into `$SWITCHYARD_REPORT_DIR` (default: a
/// temporary folder), to look at the plots while working on them without the command line:
/// `SWITCHYARD_REPORT_DIR=/tmp/r cargo test -p switchyard-sim --release render_default -- --ignored`.
#[test]
#[ignore]
fn render_default() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/default.toml");
    let scenario = match Scenario::load(&path) {
        Ok(s) => s,
        Err(e) => panic!("{e}"),
    };
    let seeds = [scenario.settings.seed];
    let c = crate::compare::compare(
        &scenario,
        &scenario.settings.strategies,
        &seeds,
        2,
        &|_, _| {},
    );
    let dir = std::env::var_os("SWITCHYARD_REPORT_DIR")
        .map_or_else(|| temp_dir("default"), PathBuf::from);
    crate::output::write_comparison_files(&dir, &c).expect("data files");
    let started = std::time::Instant::now();
    let files = write_report(&dir, &scenario, &c).expect("report");
    eprintln!(
        "report of {} files in {:?} at {}",
        files.len(),
        started.elapsed(),
        dir.display()
    );
}
