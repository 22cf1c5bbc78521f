//! End to end: `switchyard compare` names a winner only when its lead is significant on the same
//! seeds. Strategies that make identical choices never get a winner; on the shipped outage and
//! saturation scenarios adaptive's lead over random is significant once the runs are paired,
//! although each strategy's own confidence interval overlaps the other's.

mod cli;

use cli::TempDir;

use std::path::Path;
use std::process::{Command, Output};

/// Two tiers with one deployment each, so a strategy has nothing to choose: every strategy that
/// does not draw random numbers makes the same choices as every other on every seed.
const ONE_PER_TIER: &str = include_str!("data/one-per-tier.toml");

const LABELS: [&str; 8] = [
    "success rate",
    "p50 latency (ms)",
    "p99 latency (ms)",
    "mean latency (ms)",
    "429s",
    "attempts per request",
    "fallback attempts",
    "cost",
];

fn switchyard(args: &[&str], out: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_switchyard"))
        .args(args)
        .arg("--out")
        .arg(out)
        .output()
        .expect("run switchyard")
}

/// Runs `compare` and returns its standard output.
fn compare(args: &[&str], out: &Path) -> String {
    let output = switchyard(args, out);
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "switchyard {args:?} failed: {stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

fn scenario(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("scenarios")
        .join(name)
        .display()
        .to_string()
}

/// `summary.csv` as (header, rows); fields hold no commas or quotes.
fn summary(dir: &Path) -> (Vec<String>, Vec<Vec<String>>) {
    table(dir, "summary.csv")
}

/// A CSV file of the report whose fields hold no commas or quotes, as (header, rows).
fn table(dir: &Path, name: &str) -> (Vec<String>, Vec<Vec<String>>) {
    let text = std::fs::read_to_string(dir.join(name)).expect(name);
    let mut lines = text
        .lines()
        .map(|l| l.split(',').map(str::to_owned).collect());
    let header: Vec<String> = lines.next().expect("header");
    let rows: Vec<Vec<String>> = lines.collect();
    for r in &rows {
        assert_eq!(r.len(), header.len(), "{r:?}");
    }
    (header, rows)
}

/// The value of `column` in the row of `strategy`.
fn field<'a>(csv: &'a (Vec<String>, Vec<Vec<String>>), strategy: &str, column: &str) -> &'a str {
    let c = csv
        .0
        .iter()
        .position(|h| h == column)
        .unwrap_or_else(|| panic!("no column {column}"));
    let row = csv
        .1
        .iter()
        .find(|r| r[0] == strategy)
        .unwrap_or_else(|| panic!("no row {strategy}"));
    &row[c]
}

fn number(s: &str) -> f64 {
    s.parse()
        .unwrap_or_else(|_| panic!("{s:?} is not a number"))
}

#[test]
fn identical_choices_never_name_a_winner() {
    let work = TempDir::new("compare-paired", "identical");
    let file = work.0.join("one-per-tier.toml");
    std::fs::write(&file, ONE_PER_TIER).expect("write scenario");
    let file = file.display().to_string();
    let out = work.0.join("report");
    let stdout = compare(
        &[
            "compare",
            &file,
            "--strategies",
            "weighted-round-robin,least-outstanding,capacity-aware",
            "--seeds",
            "20",
        ],
        &out,
    );
    for label in LABELS {
        assert!(
            stdout.contains(&format!("\nbest {label}: no significant difference\n")),
            "{label}:\n{stdout}"
        );
    }
    assert!(
        stdout.contains("every strategy has the same value on every one of the 20 seeds"),
        "{stdout}"
    );
    // The files agree: every difference is exactly 0 and none is significant.
    let csv = summary(&out);
    for s in [
        "weighted-round-robin",
        "least-outstanding",
        "capacity-aware",
    ] {
        assert_eq!(field(&csv, s, "seeds"), "20");
        for m in ["success_rate", "latency_p99_ms", "rate_limit_hits", "cost"] {
            assert_eq!(number(field(&csv, s, &format!("{m}_diff"))), 0.0, "{s} {m}");
            assert_eq!(field(&csv, s, &format!("{m}_significant")), "no", "{s} {m}");
        }
    }
    let md = std::fs::read_to_string(out.join("report.md")).expect("report.md");
    assert!(
        !md.contains("significantly ahead of every other strategy"),
        "{md}"
    );
    assert!(
        md.contains("## Paired differences from the baseline"),
        "{md}"
    );
    let html = std::fs::read_to_string(out.join("index.html")).expect("index.html");
    assert!(
        html.contains("<h2 id=\"paired\">") && !html.contains("num sig"),
        "{html}"
    );
}

#[test]
fn adaptive_beats_random_in_the_provider_outage() {
    let work = TempDir::new("compare-paired", "outage");
    let out = work.0.join("report");
    let file = scenario("provider-outage.toml");
    let args = ["compare", &file, "--strategies", "adaptive,random"];
    let stdout = compare(&[&args[..], &["--seeds", "10"]].concat(), &out);
    for label in ["success rate", "p99 latency (ms)", "429s"] {
        assert!(
            stdout.contains(&format!("\nbest {label}: adaptive\n")),
            "{label}:\n{stdout}"
        );
    }
    let csv = summary(&out);
    // Baseline is the leader, adaptive; random is significantly worse on both metrics.
    assert_eq!(field(&csv, "random", "success_rate_baseline"), "adaptive");
    assert!(number(field(&csv, "random", "success_rate_diff")) < 0.0);
    assert_eq!(field(&csv, "random", "success_rate_significant"), "yes");
    assert!(number(field(&csv, "random", "latency_p99_ms_diff")) > 0.0);
    assert_eq!(field(&csv, "random", "latency_p99_ms_significant"), "yes");
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("summary.json")).expect("summary.json"))
            .expect("summary.json parses");
    let runs = json.as_array().expect("an array of runs");
    assert_eq!(runs.len(), 20);
    let last = &runs[19]["paired"]["success_rate"];
    assert_eq!(last["baseline"], "adaptive");
    assert_eq!(last["significant"], true);

    // --seeds auto stops at the first batch where the lead is significant.
    let stdout = compare(&[&args[..], &["--seeds", "auto"]].concat(), &out);
    assert!(
        stdout.contains("seeds auto: decided after 3 seeds: adaptive leads on success rate"),
        "{stdout}"
    );
    assert!(
        stdout.contains("\nbest success rate: adaptive\n"),
        "{stdout}"
    );
}

#[test]
fn pairing_separates_strategies_whose_intervals_overlap() {
    // The example: on rate-limit-saturation adaptive and random are 96.82 % ± 1.21 and
    // 96.52 % ± 1.25 over 20 seeds, but adaptive is ahead on the same seeds.
    let work = TempDir::new("compare-paired", "saturation");
    let out = work.0.join("report");
    let file = scenario("rate-limit-saturation.toml");
    let stdout = compare(
        &[
            "compare",
            &file,
            "--strategies",
            "random,adaptive",
            "--seeds",
            "20",
            "--baseline",
            "random",
        ],
        &out,
    );
    let csv = summary(&out);
    let (a, r) = (
        number(field(&csv, "adaptive", "success_rate")),
        number(field(&csv, "random", "success_rate")),
    );
    let (ca, cr) = (
        number(field(&csv, "adaptive", "success_rate_ci95")),
        number(field(&csv, "random", "success_rate_ci95")),
    );
    assert!(a - r < ca + cr, "the separate intervals overlap");
    assert_eq!(field(&csv, "adaptive", "success_rate_baseline"), "random");
    let (d, h) = (
        number(field(&csv, "adaptive", "success_rate_diff")),
        number(field(&csv, "adaptive", "success_rate_diff_ci95")),
    );
    // The paired interval is taken over each seed's own difference (runs.csv, one row per
    // strategy and seed): its half-width is Student's t (19 degrees of freedom) × their
    // standard error, which pairing seeds wrongly would change.
    let (header, rows) = table(&out, "runs.csv");
    let col = |name: &str| header.iter().position(|h| h == name).expect(name);
    let (strategy, seed, rate) = (col("strategy"), col("seed"), col("success_rate"));
    let of = |s: &str| -> std::collections::BTreeMap<String, f64> {
        rows.iter()
            .filter(|r| r[strategy] == s)
            .map(|r| (r[seed].clone(), number(&r[rate])))
            .collect()
    };
    let (by_seed_a, by_seed_r) = (of("adaptive"), of("random"));
    assert_eq!(by_seed_a.len(), 20);
    let diffs: Vec<f64> = by_seed_a.iter().map(|(k, v)| v - by_seed_r[k]).collect();
    let mean = diffs.iter().sum::<f64>() / 20.0;
    let sd = (diffs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / 19.0).sqrt();
    assert!(
        (d - mean).abs() < 1e-12,
        "mean of per-seed differences: {d} vs {mean}"
    );
    let t = h / (sd / 20f64.sqrt());
    assert!(
        (t - 2.093).abs() < 1e-3,
        "half-width {h} is {t} standard errors"
    );
    assert!(d - h > 0.0, "paired interval {d} ± {h} excludes 0");
    assert_eq!(field(&csv, "random", "success_rate_diff"), "0");
    assert!(
        stdout.contains("\nbest success rate: adaptive\n"),
        "{stdout}"
    );
    assert!(stdout.contains("baseline: random"), "{stdout}");
}

#[test]
fn one_seed_names_no_winner_and_bad_choices_are_refused() {
    let work = TempDir::new("compare-paired", "refused");
    let out = work.0.join("report");
    let file = scenario("provider-outage.toml");
    let stdout = compare(
        &[
            "compare",
            &file,
            "--strategies",
            "adaptive,random",
            "--seeds",
            "1",
        ],
        &out,
    );
    for label in LABELS {
        assert!(
            stdout.contains(&format!("\nbest {label}: no significant difference\n")),
            "{label}:\n{stdout}"
        );
    }
    for (args, message) in [
        (
            &["--strategies", "adaptive,random", "--baseline", "peak-ewma"][..],
            "--baseline peak-ewma is not among the strategies compared (adaptive, random)",
        ),
        (
            &["--strategies", "random,random"][..],
            "--strategies lists random twice",
        ),
        (
            &["--seeds", "some"][..],
            "must be a whole number ≥ 1, or `auto`",
        ),
        (
            &["--seeds", "5", "--max-seeds", "10"][..],
            "--max-seeds only applies with --seeds auto",
        ),
        (
            &["--seeds", "auto", "--max-seeds", "1"][..],
            "--max-seeds must be at least 2",
        ),
    ] {
        let output = switchyard(&[&["compare", &file][..], args].concat(), &out);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{args:?} succeeded");
        assert!(stderr.contains(message), "{args:?}: {stderr}");
    }
}

#[test]
fn seeds_auto_adds_batches_and_matches_a_fixed_run() {
    // On rate-limit-saturation adaptive's lead over random needs more than 3 and 5 seeds.
    let work = TempDir::new("compare-paired", "auto");
    let (auto, fixed) = (work.0.join("auto"), work.0.join("fixed"));
    let file = scenario("rate-limit-saturation.toml");
    let args = ["compare", &file, "--strategies", "adaptive,random"];
    let stdout = compare(&[&args[..], &["--seeds", "auto"]].concat(), &auto);
    assert!(
        stdout.contains("× 10 seed(s) = 20 runs")
            && stdout
                .contains("seeds auto: decided after 10 seeds: adaptive leads on success rate"),
        "{stdout}"
    );
    // The batches are the seeds a fixed run of 10 uses, so the files are the same.
    compare(&[&args[..], &["--seeds", "10"]].concat(), &fixed);
    for f in ["summary.csv", "runs.csv", "summary.json", "report.md"] {
        let (a, b) = (
            std::fs::read(auto.join(f)).expect("auto"),
            std::fs::read(fixed.join(f)).expect("fixed"),
        );
        assert!(a == b, "{f} differs between --seeds auto and --seeds 10");
    }
    // A cap below the deciding batch stops there and says so.
    let stdout = compare(
        &[&args[..], &["--seeds", "auto", "--max-seeds", "5"]].concat(),
        &auto,
    );
    assert!(
        stdout.contains("seeds auto: reached the cap of 5 seeds (--max-seeds) without a significant leader on success rate"),
        "{stdout}"
    );
    assert!(
        stdout.contains("\nbest success rate: no significant difference\n"),
        "{stdout}"
    );
}

#[test]
fn header_learning_decides_the_hot_spot() {
    // hot-spot: weight 4 on azure-new, whose true quota (60k tokens/min) is a fifth of the
    // configured 300k. Azure sends only `x-ratelimit-remaining-*`, so the engine never learns the
    // limit: random follows the weight into 429s, adaptive reads the remaining headroom and
    // takes none — significantly fewer on the same seeds.
    let work = TempDir::new("compare-paired", "hot-spot");
    let out = work.0.join("report");
    let file = scenario("hot-spot.toml");
    let args = [
        "compare",
        &file,
        "--strategies",
        "random,adaptive",
        "--seeds",
        "10",
        "--baseline",
        "random",
    ];
    let stdout = compare(&args, &out);
    let csv = summary(&out);
    assert!(
        number(field(&csv, "random", "rate_limit_hits")) > 100.0,
        "{stdout}"
    );
    assert_eq!(
        number(field(&csv, "adaptive", "rate_limit_hits")),
        0.0,
        "{stdout}"
    );
    let (d, h) = (
        number(field(&csv, "adaptive", "rate_limit_hits_diff")),
        number(field(&csv, "adaptive", "rate_limit_hits_diff_ci95")),
    );
    assert!(d + h < 0.0, "adaptive − random 429s {d} ± {h} excludes 0");
    assert_eq!(
        field(&csv, "adaptive", "rate_limit_hits_significant"),
        "yes"
    );
    assert!(stdout.contains("\nbest 429s: adaptive\n"), "{stdout}");

    // The same world with Azure reporting its limit too: the engine adopts it after the first
    // answer and neither strategy meets a single 429.
    let text = std::fs::read_to_string(&file).expect("hot-spot.toml");
    assert!(text.contains("rate_limit_headers = \"remaining\""));
    let full = work.0.join("hot-spot-full-headers.toml");
    std::fs::write(
        &full,
        text.replace(
            "rate_limit_headers = \"remaining\"",
            "rate_limit_headers = \"full\"",
        ),
    )
    .expect("write scenario");
    let full = full.display().to_string();
    let out = work.0.join("full");
    compare(
        &[
            "compare",
            &full,
            "--strategies",
            "random,adaptive",
            "--seeds",
            "10",
        ],
        &out,
    );
    let csv = summary(&out);
    for s in ["random", "adaptive"] {
        assert_eq!(number(field(&csv, s, "rate_limit_hits")), 0.0, "{s}");
    }
}
