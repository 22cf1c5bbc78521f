//! `switchyard compare SCENARIO`: every strategy on the same seeded workload and world, written
//! as a report folder a person can open in a browser.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;
use engine::StrategyKind;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use sim::output::{comparison_table, write_comparison_files};
use sim::Scenario;

/// Arguments of `switchyard compare`.
#[derive(clap::Args)]
pub struct CompareArgs {
    /// Scenario file (TOML).
    pub scenario: PathBuf,
    /// Strategies to compare, comma-separated (default: the scenario's list, else all).
    #[arg(long, value_delimiter = ',')]
    pub strategies: Vec<StrategyKind>,
    /// Seeds per strategy; with more than one, means and 95 % confidence intervals are reported.
    #[arg(long, default_value_t = 1)]
    pub seeds: u64,
    /// Report folder (default: reports/<scenario name>/).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Stop arrivals after this many requests (a short version of the scenario).
    #[arg(long)]
    pub requests: Option<u64>,
    /// Worker threads (default: one per core).
    #[arg(long)]
    pub threads: Option<usize>,
}

/// Runs the command.
pub fn run(args: CompareArgs) -> anyhow::Result<()> {
    let mut scenario = Scenario::load(&args.scenario)?;
    if let Some(n) = args.requests {
        scenario.settings.max_requests = Some(n);
    }
    anyhow::ensure!(args.seeds >= 1, "--seeds must be at least 1");
    let strategies = if args.strategies.is_empty() {
        scenario.settings.strategies.clone()
    } else {
        args.strategies.clone()
    };
    let seeds: Vec<u64> = (0..args.seeds)
        .map(|i| scenario.settings.seed.wrapping_add(i))
        .collect();
    let threads = args
        .threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let out = args
        .out
        .unwrap_or_else(|| PathBuf::from("reports").join(&scenario.name));
    let started = Instant::now();
    let bar = ProgressBar::with_draw_target(
        Some((strategies.len() * seeds.len()) as u64),
        ProgressDrawTarget::stderr(),
    );
    if let Ok(style) =
        ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} runs, {elapsed}")
    {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_prefix(scenario.name.clone());
    let comparison = sim::compare::compare(&scenario, &strategies, &seeds, threads, &|done, _| {
        bar.set_position(done as u64)
    });
    bar.finish_and_clear();
    let simulated = started.elapsed();
    write_comparison_files(&out, &comparison)?;
    let files = sim::report::write_report(&out, &scenario, &comparison)
        .with_context(|| format!("cannot write the report into {}", out.display()))?;
    let runs = strategies.len() * seeds.len();
    let requests: u64 = comparison
        .strategies
        .iter()
        .flat_map(|s| &s.runs)
        .map(|r| r.summary.requests)
        .sum();
    println!(
        "{}: {} strategies × {} seed(s) = {} runs, {} requests simulated in {:.2} s on {} thread(s); report written in {:.2} s total",
        scenario.name,
        strategies.len(),
        seeds.len(),
        runs,
        requests,
        simulated.as_secs_f64(),
        threads,
        started.elapsed().as_secs_f64()
    );
    println!();
    print!("{}", comparison_table(&comparison));
    println!();
    for (metric, label) in sim::compare::METRICS {
        let best = comparison.best(metric);
        let names: Vec<&str> = best.iter().map(|s| s.strategy.name()).collect();
        match names.len() {
            0 => {}
            1 => println!("best {label}: {}", names[0]),
            n if n == comparison.strategies.len() => println!("best {label}: all tie"),
            _ => println!("best {label}: {} (tie)", names.join(", ")),
        }
    }
    println!(
        "\nwrote {}/ (summary.csv, runs.csv, deployments.csv, timeseries.csv, summary.json)",
        out.display()
    );
    for f in files {
        println!("wrote {}", f.display());
    }
    Ok(())
}
