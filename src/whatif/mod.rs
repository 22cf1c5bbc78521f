//! `switchyard whatif --trace T --baseline A.toml --candidate B.toml`: would this config change
//! make things better or worse on recorded traffic?
//!
//! The world comes from fitting the trace (or `--world SCENARIO`); the trace's arrivals and
//! token counts are replayed under both gateway configs over N seeds with common random numbers
//! (seed i is the same world draws for both), and every headline metric is reported as the
//! paired difference candidate − baseline with its 95 % interval. `--fail-on` rules turn a
//! significant regression into a non-zero exit, so a CI job can gate a config change on last
//! week's traffic; `--out` gets a markdown summary fit for a pull-request comment (`whatif.md`)
//! and the report page (`index.html`, as `compare` writes one).

mod rules;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context};
use sim::compare::{metric_value, METRICS};
use sim::fit::{fit_trace, FitOptions, GatewayConfig};
use sim::paired::{text::direction, PairedDiff};
use sim::replay::{Replay, ReplayOptions};
use sim::report::{write_pair_report, PairedRuns};
use sim::{RunOptions, Scenario};

pub use rules::{parse_rules, Rule};

/// Arguments of `switchyard whatif`.
#[derive(clap::Args)]
pub struct WhatifArgs {
    /// Recorded traffic: a per-attempt trace as `serve --trace-out` writes it (fitted for the
    /// world unless --world is given), or any trace `replay` reads when --world is given.
    #[arg(long)]
    pub trace: PathBuf,
    /// The config running today (a gateway config, or a scenario whose gateway tables are used).
    #[arg(long)]
    pub baseline: PathBuf,
    /// The proposed config.
    #[arg(long)]
    pub candidate: PathBuf,
    /// Take the world (providers, limits, latency) and simulation settings from this scenario
    /// instead of fitting the trace.
    #[arg(long)]
    pub world: Option<PathBuf>,
    /// Seeds (paired runs per config).
    #[arg(long, default_value_t = 10, allow_negative_numbers = true,
          value_parser = crate::args::at_least_one)]
    pub seeds: u64,
    /// Regressions that fail the command, e.g. "success_rate<-0.1pt,p99>+5%" (see docs).
    #[arg(long)]
    pub fail_on: Option<String>,
    /// Write the markdown summary (whatif.md) and the HTML report (index.html) into this folder
    /// (default:
    /// reports/whatif-<candidate file stem>/, never the working directory).
    #[arg(long)]
    pub out: Option<PathBuf>,
}

/// The tables of a file that make up the gateway config.
const GATEWAY_TABLES: [&str; 7] = [
    "deployment",
    "tier",
    "route",
    "retry",
    "health",
    "balancing",
    "client",
];

/// One metric's comparison.
struct Row {
    metric: &'static str,
    label: &'static str,
    baseline: f64,
    candidate: f64,
    diff: PairedDiff,
}

/// Runs the command; an error (exit 1) also when a `--fail-on` rule is broken.
pub fn run(args: WhatifArgs) -> anyhow::Result<()> {
    let rules = match &args.fail_on {
        Some(text) => parse_rules(text).map_err(|e| anyhow!(e))?,
        None => Vec::new(),
    };
    let (world_text, world_name) = world(&args)?;
    let baseline = scenario_with(&world_text, &world_name, &args.baseline)?;
    let candidate = scenario_with(&world_text, &world_name, &args.candidate)?;
    let seeds = args.seeds as usize;
    println!(
        "whatif: {} → {} on {} ({} seeds, world: {world_name})",
        args.baseline.display(),
        args.candidate.display(),
        args.trace.display(),
        seeds
    );
    let base_runs = replay_runs(&args.trace, baseline, seeds)?;
    let cand_runs = replay_runs(&args.trace, candidate, seeds)?;
    let rows: Vec<Row> = METRICS
        .iter()
        .map(|&(metric, label)| {
            let b: Vec<f64> = base_runs.iter().map(|r| metric_value(r, metric)).collect();
            let c: Vec<f64> = cand_runs.iter().map(|r| metric_value(r, metric)).collect();
            Row {
                metric,
                label,
                baseline: mean(&b),
                candidate: mean(&c),
                diff: PairedDiff::of(&c, &b),
            }
        })
        .collect();
    let broken: Vec<&Rule> = rules
        .iter()
        .filter(|rule| {
            rows.iter()
                .find(|r| r.metric == rule.metric)
                .is_some_and(|r| rule.fails(&r.diff, r.baseline))
        })
        .collect();
    let summary = markdown(&args, seeds, &rows, &rules, &broken);
    println!("\n{summary}");
    let stem = args
        .candidate
        .file_stem()
        .map_or_else(|| "candidate".into(), |s| s.to_string_lossy().into_owned());
    let default_out = PathBuf::from("reports").join(format!("whatif-{stem}"));
    {
        let dir = args.out.as_ref().unwrap_or(&default_out);
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        let path = dir.join("whatif.md");
        sim::output::write_atomically(&path, |w| w.write_all(summary.as_bytes()))
            .with_context(|| format!("cannot write {}", path.display()))?;
        println!("wrote {}", path.display());
        let page = PairedRuns {
            title: format!("whatif: {world_name}"),
            intro: format!(
                "Replayed {} over {seeds} paired seeds under {} (baseline) and {} (candidate); \
                 world: {world_name}.",
                args.trace.display(),
                args.baseline.display(),
                args.candidate.display()
            ),
            names: [&file_name(&args.baseline), &file_name(&args.candidate)],
            baseline: &base_runs,
            candidate: &cand_runs,
            notes: gate_lines(&rules, &broken),
        };
        let path = dir.join("index.html");
        write_pair_report(&path, &page)
            .with_context(|| format!("cannot write {}", path.display()))?;
        println!("wrote {}", path.display());
    }
    if !broken.is_empty() {
        let names: Vec<String> = broken.iter().map(|r| r.to_string()).collect();
        bail!("the candidate regresses: {}", names.join(", "));
    }
    Ok(())
}

/// The world scenario's text and name: `--world`, or the trace fitted.
fn world(args: &WhatifArgs) -> anyhow::Result<(String, String)> {
    if let Some(path) = &args.world {
        let text = sim::files::read_text(path, sim::files::MAX_SCENARIO_BYTES)
            .with_context(|| format!("{}: cannot read", path.display()))?;
        // Checked whole first, so its errors name its own lines.
        let s = Scenario::parse(&text, &path.display().to_string(), &stem(path))
            .map_err(|e| anyhow!("{e}"))?;
        return Ok((text, s.name));
    }
    // The trace was recorded under the baseline: its tiers, routes and timeouts are kept.
    let config = GatewayConfig::load(&args.baseline).map_err(|e| anyhow!("{e}"))?;
    let options = FitOptions {
        config: Some(config),
        ..FitOptions::default()
    };
    let fit = fit_trace(&args.trace, &options).map_err(|e| anyhow!("{e}"))?;
    Ok((fit.to_toml(), fit.name.clone()))
}

/// The file's name without its folder, for column headings.
fn file_name(path: &Path) -> String {
    path.file_name().map_or_else(
        || path.display().to_string(),
        |s| s.to_string_lossy().into_owned(),
    )
}

fn stem(path: &Path) -> String {
    path.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// The world with `config_path`'s gateway tables in place of its own.
fn scenario_with(world: &str, name: &str, config_path: &Path) -> anyhow::Result<Scenario> {
    let file = config_path.display().to_string();
    let text = sim::files::read_text(config_path, sim::files::MAX_SCENARIO_BYTES)
        .with_context(|| format!("{file}: cannot read"))?;
    let config: toml::Table = toml::from_str(&text).map_err(|e| {
        let e = engine::ConfigError::from_toml_in(e, &text);
        anyhow!("{file}{}: {e}", line_suffix(&e, &text))
    })?;
    let gateway: toml::Table = config
        .into_iter()
        .filter(|(k, _)| GATEWAY_TABLES.contains(&k.as_str()))
        .collect();
    // The config alone must be valid, with its own line numbers in errors.
    let gateway_text = toml::to_string(&gateway).context("re-encoding the config")?;
    engine::Config::from_toml(&gateway_text).map_err(|e| anyhow!("{file}: {e}"))?;
    let mut merged: toml::Table = toml::from_str(world).context("the world scenario")?;
    merged.retain(|k, _| !GATEWAY_TABLES.contains(&k));
    merged.extend(gateway);
    let merged_text = toml::to_string(&merged).context("re-encoding the scenario")?;
    Scenario::parse(&merged_text, &format!("{name} with {file}"), name)
        .map_err(|e| anyhow!("{file} does not fit the world {name}: {e}"))
}

fn line_suffix(e: &engine::ConfigError, text: &str) -> String {
    e.line_in(text).map(|l| format!(":{l}")).unwrap_or_default()
}

/// N seeded replays of the trace under one scenario.
fn replay_runs(
    trace: &Path,
    mut scenario: Scenario,
    seeds: usize,
) -> anyhow::Result<Vec<sim::RunResult>> {
    let options = ReplayOptions {
        format: None,
        speed: 1.0,
        window: Default::default(),
        skip_bad_rows: false,
        sort: false,
        max_disorder: None,
        model: None,
    };
    let replay = Replay::open(trace, &scenario, options).context("cannot replay the trace")?;
    replay.prepare(&mut scenario);
    let first = scenario.settings.seed;
    let mut runs = Vec::with_capacity(seeds);
    for i in 0..seeds as u64 {
        let seed = first.wrapping_add(i);
        let mut source = replay.source(&scenario, seed);
        let result = sim::run_with(
            &scenario,
            &mut source,
            RunOptions {
                strategy: None,
                seed,
                trace: None,
                progress: None,
            },
        );
        if let Some(e) = replay.take_error() {
            return Err(anyhow!(e).context("the replay stopped part-way"));
        }
        runs.push(result);
    }
    Ok(runs)
}

fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len().max(1) as f64
}

/// The summary: a table of paired differences, the verdict per metric, the rules.
fn markdown(
    args: &WhatifArgs,
    seeds: usize,
    rows: &[Row],
    rules: &[Rule],
    broken: &[&Rule],
) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "### whatif: `{}` → `{}`\n\nReplayed `{}` over {seeds} paired seeds (same arrivals and world draws for both configs).\n",
        args.baseline.display(),
        args.candidate.display(),
        args.trace.display()
    );
    s.push_str("| metric | baseline | candidate | candidate − baseline (95 % CI) | verdict |\n");
    s.push_str("|---|---:|---:|---:|---|\n");
    for r in rows {
        let (b, c, d, ci) = if r.metric == "success_rate" {
            (
                format!("{:.2} %", r.baseline * 100.0),
                format!("{:.2} %", r.candidate * 100.0),
                format!("{:+.2} pt", r.diff.diff * 100.0),
                format!("± {:.2}", r.diff.ci95 * 100.0),
            )
        } else {
            (
                format!("{:.3}", r.baseline),
                format!("{:.3}", r.candidate),
                format!("{:+.3}", r.diff.diff),
                format!("± {:.3}", r.diff.ci95),
            )
        };
        let ci = if r.diff.ci95.is_nan() {
            String::new()
        } else {
            ci
        };
        let verdict = direction(r.metric, &r.diff);
        let _ = writeln!(s, "| {} | {b} | {c} | {d} {ci} | {verdict} |", r.label);
    }
    if !rules.is_empty() {
        let names: Vec<String> = rules.iter().map(|r| format!("`{r}`")).collect();
        let _ = writeln!(s, "\nGate: {}", names.join(", "));
        if broken.is_empty() {
            s.push_str("**Pass**: no rule is broken.\n");
        } else {
            let names: Vec<String> = broken.iter().map(|r| format!("`{r}`")).collect();
            let _ = writeln!(s, "**Fail**: broken: {}.", names.join(", "));
        }
    }
    s
}

/// The gate in plain words for the HTML report (nothing without rules).
fn gate_lines(rules: &[Rule], broken: &[&Rule]) -> Vec<String> {
    if rules.is_empty() {
        return Vec::new();
    }
    let names: Vec<String> = rules.iter().map(Rule::to_string).collect();
    let outcome = if broken.is_empty() {
        "Pass: no rule is broken.".to_owned()
    } else {
        let names: Vec<String> = broken.iter().map(|r| r.to_string()).collect();
        format!("Fail: broken: {}.", names.join(", "))
    };
    vec![format!("Gate: {}.", names.join(", ")), outcome]
}
