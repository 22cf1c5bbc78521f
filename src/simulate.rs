//! `switchyard simulate SCENARIO`: one run of a scenario, printed as tables and written as files.

use std::io::BufWriter;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;
use engine::StrategyKind;
use sim::output::{deployment_table, summary_table, write_run_files};
use sim::trace::CsvTrace;
use sim::{RunOptions, Scenario};

use crate::progress::Progress;

/// Arguments of `switchyard simulate`.
#[derive(clap::Args)]
pub struct SimulateArgs {
    /// Scenario file (TOML).
    pub scenario: PathBuf,
    /// Run every tier with this strategy instead of the configured ones.
    #[arg(long)]
    pub strategy: Option<StrategyKind>,
    /// Seed (default: the scenario's).
    #[arg(long, allow_negative_numbers = true, value_parser = crate::args::count)]
    pub seed: Option<u64>,
    /// Stop arrivals after this many requests.
    #[arg(long, allow_negative_numbers = true, value_parser = crate::args::count)]
    pub requests: Option<u64>,
    /// Folder for summary.csv, deployments.csv, timeseries.csv and summary.json
    /// (default: runs/<scenario name>/).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Write one CSV row per attempt to this file (the trace format `replay` and `fit` read).
    /// An existing path that is not a regular file (a symlink, a FIFO) is refused.
    #[arg(long)]
    pub trace_out: Option<PathBuf>,
}

/// Runs the command.
pub fn run(args: SimulateArgs) -> anyhow::Result<()> {
    let mut scenario = Scenario::load(&args.scenario)?;
    if let Some(n) = args.requests {
        scenario.settings.max_requests = Some(n);
    }
    let seed = args.seed.unwrap_or(scenario.settings.seed);
    let mut trace = match &args.trace_out {
        Some(path) => Some(CsvTrace::new(BufWriter::new(
            sim::files::create_output(path)
                .with_context(|| format!("cannot create trace file {}", path.display()))?,
        ))),
        None => None,
    };
    let mut progress = Progress::new(&scenario.name, scenario.settings.duration);
    let mut on_progress = |t| progress.update(t);
    let started = Instant::now();
    let result = sim::run(
        &scenario,
        RunOptions {
            strategy: args.strategy,
            seed,
            trace: trace.as_mut().map(|t| t as &mut dyn sim::trace::TraceSink),
            progress: Some(&mut on_progress),
        },
    );
    let wall = started.elapsed();
    progress.finish();
    if let (Some(t), Some(path)) = (trace, &args.trace_out) {
        t.finish()
            .with_context(|| format!("cannot write trace file {}", path.display()))?;
    }
    let out = args
        .out
        .unwrap_or_else(|| PathBuf::from("runs").join(&scenario.name));
    write_run_files(&out, &[&result])?;
    let s = &result.summary;
    println!(
        "{}: {} requests over {:.0} s simulated (seed {}), {:.2} s wall, {:.0} requests/s",
        scenario.name,
        s.requests,
        s.simulated_seconds,
        seed,
        wall.as_secs_f64(),
        s.requests as f64 / wall.as_secs_f64().max(1e-9)
    );
    println!(
        "conservation: {} arrived = {} succeeded + {} failed + {} in flight at end\n",
        s.requests, s.successes, s.failures, s.in_flight_at_end
    );
    print!("{}", summary_table(&[s]));
    println!();
    print!("{}", deployment_table(&result.deployments));
    if !result.clients.is_empty() {
        println!();
        print!("{}", sim::clients::text_table(&result.clients));
    }
    println!(
        "\nwrote {}/{{summary.csv,deployments.csv,timeseries.csv,summary.json{}}}",
        out.display(),
        if result.clients.is_empty() {
            ""
        } else {
            ",clients.csv"
        }
    );
    Ok(())
}
