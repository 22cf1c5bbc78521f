//! `switchyard whatif` judging the changes issue 16 names, on traffic recorded from a world where
//! one key's true limit (300 requests a minute) is below its share of the load and the provider
//! sends no rate-limit headers, so the gateway learns the limit only from 429s:
//!
//! * a candidate that halves that key's weight: a significant drop in 429s, reported `better`;
//! * a candidate identical to the baseline: no significant difference on any metric over 20
//!   seeds, and the gate passes;
//! * a harmful candidate (the key's limit raised above the truth in the gateway's config): exit
//!   code 1, the broken rule named.

mod cli;

use cli::*;

/// The world and the truthful gateway config: key-a's config says 300 a minute, as its truth.
const BASE: &str = r#"
[simulation]
name = "two-keys"
seed = 3
duration = "5m"

[workload]
arrivals = { poisson = { rate = 16.0 } }
input_tokens = { lognormal = { median = 300, p99 = 2000 } }
output_tokens = { lognormal = { median = 100, p99 = 600 } }
max_tokens = 800

[[tier]]
name = "standard"
strategy = "weighted-round-robin"

[[deployment]]
id = "key-a"
provider = "openai"
model = "gpt-4o-mini"
tier = "standard"
weight = 1
rpm = 300
tpm = 10000000

[[deployment]]
id = "key-b"
provider = "openai"
model = "gpt-4o-mini"
tier = "standard"
weight = 1
rpm = 1000
tpm = 10000000

[retry]
max_attempts = 3

[[world.provider]]
name = "openai"
rate_limit_headers = "none"
ttft = { lognormal = { median = "400ms", p99 = "2s" } }
per_token = { lognormal = { median = "10ms", p99 = "25ms" } }

  [[world.provider.deployment]]
  id = "key-a"
  rpm = 300
  tpm = 10000000

  [[world.provider.deployment]]
  id = "key-b"
  rpm = 1000
  tpm = 10000000
"#;

/// key-a's gateway settings in [`BASE`].
const KEY_A: &str = "id = \"key-a\"\nprovider = \"openai\"\nmodel = \"gpt-4o-mini\"\ntier = \"standard\"\nweight = 1\nrpm = 300\n";

/// Writes [`BASE`] with key-a's `weight` and `rpm` as given; returns its path.
fn config(dir: &std::path::Path, name: &str, weight: &str, rpm: u32) -> String {
    assert!(BASE.contains(KEY_A));
    let key_a = KEY_A
        .replace("weight = 1", &format!("weight = {weight}"))
        .replace("rpm = 300", &format!("rpm = {rpm}"));
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(&path, BASE.replacen(KEY_A, &key_a, 1)).expect("write the config");
    path.display().to_string()
}

/// The world, the recorded traffic (a simulated run of it) and the folder.
struct Setup {
    dir: std::path::PathBuf,
    world: String,
    trace: String,
}

fn setup(name: &str) -> Setup {
    let dir = fresh_dir("whatif-limits", name);
    let world = config(&dir, "world", "1", 300);
    let trace = dir.join("recorded.csv").display().to_string();
    let sim_out = dir.join("recorded");
    let out = switchyard(&[
        "simulate",
        &world,
        "--trace-out",
        &trace,
        "--out",
        sim_out.to_str().expect("UTF-8"),
    ]);
    assert!(out.ok, "{}", out.stderr);
    Setup { dir, world, trace }
}

/// `whatif` of `baseline` → `candidate` on the recorded traffic over 20 seeds.
fn whatif(s: &Setup, baseline: &str, candidate: &str, fail_on: &str) -> Output {
    let out = s.dir.join("whatif");
    switchyard(&[
        "whatif",
        "--trace",
        &s.trace,
        "--world",
        &s.world,
        "--baseline",
        baseline,
        "--candidate",
        candidate,
        "--seeds",
        "20",
        "--fail-on",
        fail_on,
        "--out",
        out.to_str().expect("UTF-8"),
    ])
}

/// The cells of the summary row of `metric`: baseline, candidate, difference, verdict.
fn row<'a>(stdout: &'a str, metric: &str) -> Vec<&'a str> {
    let line = stdout
        .lines()
        .find(|l| l.starts_with(&format!("| {metric} |")))
        .unwrap_or_else(|| panic!("no {metric} row in\n{stdout}"));
    line.split('|').map(str::trim).skip(2).take(4).collect()
}

fn number(cell: &str) -> f64 {
    cell.split_whitespace()
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("not a number: {cell:?}"))
}

#[test]
fn halving_the_over_limit_keys_weight_drops_its_429s_significantly() {
    let s = setup("halved");
    // The gateway believes 600 a minute for key-a (the truth is 300), so half the traffic goes
    // there and meets 429s; the candidate sends it half as much.
    let baseline = config(&s.dir, "believes-600", "1", 600);
    let candidate = config(&s.dir, "believes-600-halved", "0.5", 600);
    let out = whatif(&s, &baseline, &candidate, "429s>+10%");
    assert!(out.ok, "{}{}", out.stdout, out.stderr);
    let hits = row(&out.stdout, "429s");
    let (before, after) = (number(hits[0]), number(hits[1]));
    assert!(before >= 100.0, "the baseline meets 429s: {hits:?}");
    assert!(after < before / 2.0, "{hits:?}");
    assert_eq!(hits[3], "better", "{hits:?}");
    assert_eq!(row(&out.stdout, "attempts per request")[3], "better");
    assert!(out.stdout.contains("**Pass**"), "{}", out.stdout);
}

#[test]
fn an_identical_candidate_differs_in_nothing_over_20_seeds() {
    let s = setup("identical");
    let baseline = config(&s.dir, "believes-600", "1", 600);
    let candidate = config(&s.dir, "believes-600-copy", "1", 600);
    let out = whatif(&s, &baseline, &candidate, "429s>+0%,success<-0pt,p99>+0%");
    assert!(out.ok, "{}{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("(20 seeds"), "{}", out.stdout);
    let rows: Vec<&str> = out.stdout.lines().filter(|l| l.starts_with("| ")).collect();
    assert_eq!(rows.len(), 9, "{}", out.stdout); // header + 8 metrics
    for r in &rows[1..] {
        assert!(r.ends_with("| no significant difference |"), "{r}");
    }
    // The baseline is not trivial: it meets 429s, which the candidate meets identically.
    let hits = row(&out.stdout, "429s");
    assert!(number(hits[0]) >= 100.0 && hits[0] == hits[1], "{hits:?}");
    assert!(out.stdout.contains("**Pass**"), "{}", out.stdout);
}

#[test]
fn raising_a_limit_above_the_truth_fails_the_gate_naming_the_rule() {
    let s = setup("raised");
    let candidate = config(&s.dir, "believes-600", "1", 600);
    let out = whatif(&s, &s.world, &candidate, "success<-0.1pt,429s>+10%");
    assert!(!out.ok, "{}", out.stdout);
    assert!(
        out.stderr.contains("the candidate regresses: 429s>+10%"),
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains("success<-0.1pt"), "{}", out.stderr);
    let hits = row(&out.stdout, "429s");
    assert_eq!(
        number(hits[0]),
        0.0,
        "the truthful config meets none: {hits:?}"
    );
    assert!(number(hits[1]) >= 100.0, "{hits:?}");
    assert_eq!(hits[3], "worse", "{hits:?}");
    assert!(out.stdout.contains("**Fail**"), "{}", out.stdout);
}
