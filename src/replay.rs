//! `switchyard replay TRACE --scenario SCENARIO`: a recorded trace's arrivals and token counts
//! against a scenario's world, gateway config and strategies; one run per strategy printed like
//! `simulate`, or with `--compare` the same report folder as `compare`.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{anyhow, Context};
use engine::StrategyKind;
use sim::output::{deployment_table, summary_table, write_run_files};
use sim::replay::{Format, Replay, ReplayOptions, TraceInfo, Window};
use sim::{ArrivalSource, RunOptions, RunResult, Scenario};

use crate::compare::Plan;
use crate::progress::Progress;

/// Arguments of `switchyard replay`.
#[derive(clap::Args)]
pub struct ReplayArgs {
    /// Trace file (CSV, optionally gzip-compressed): switchyard's own trace
    /// (timestamp_ms,input_tokens,output_tokens[,model|tier][,attempt,…]) or an Azure LLM
    /// inference trace (TIMESTAMP,ContextTokens,GeneratedTokens).
    pub trace: PathBuf,
    /// Scenario (TOML) supplying the world, the gateway config and the strategies.
    #[arg(long)]
    pub scenario: PathBuf,
    /// Time compression: 2 replays twice as fast, 0.5 at half speed.
    #[arg(long, default_value_t = 1.0, allow_negative_numbers = true,
          value_parser = crate::args::positive)]
    pub speed: f64,
    /// Replay only a slice, as offsets from the trace's first timestamp: 10m..20m, ..5m, 30s..
    #[arg(long)]
    pub window: Option<Window>,
    /// Run every strategy (or --strategies) and write the report `compare` writes.
    #[arg(long)]
    pub compare: bool,
    /// Strategies, comma-separated (default: the tiers' configured strategies in one run;
    /// with --compare the scenario's list).
    #[arg(long, value_delimiter = ',')]
    pub strategies: Vec<StrategyKind>,
    /// Seeds per strategy with --compare (seeds matter only when models come from the mix).
    #[arg(long, requires = "compare", allow_negative_numbers = true,
          value_parser = crate::args::at_least_one)]
    pub seeds: Option<u64>,
    /// Output folder (default: reports/<name>/, never the working directory).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Trace format, instead of detecting it from the header: own or azure.
    #[arg(long)]
    pub format: Option<Format>,
    /// Skip malformed rows (reporting how many and where) instead of stopping at the first.
    #[arg(long)]
    pub skip_bad_rows: bool,
    /// Sort rows by timestamp first. Loads the whole trace into memory (about 32 bytes a row).
    #[arg(long)]
    pub sort: bool,
    /// Stream rows that are out of time order by up to this much (default 0, or 10m for
    /// per-attempt traces, which are written as attempts finish).
    #[arg(long, value_parser = engine::config::duration::parse)]
    pub max_disorder: Option<Duration>,
    /// Send every request as this model (default: the trace's model/tier column, else drawn
    /// from the scenario's [workload] mix).
    #[arg(long)]
    pub model: Option<String>,
    /// Worker threads with --compare (default: one per core).
    #[arg(long, requires = "compare", allow_negative_numbers = true,
          value_parser = crate::args::threads)]
    pub threads: Option<usize>,
}

/// Runs the command.
pub fn run(args: ReplayArgs) -> anyhow::Result<()> {
    let mut scenario = Scenario::load(&args.scenario)?;
    let options = ReplayOptions {
        format: args.format,
        speed: args.speed,
        window: args.window.unwrap_or_default(),
        skip_bad_rows: args.skip_bad_rows,
        sort: args.sort,
        max_disorder: args.max_disorder,
        model: args.model.clone(),
    };
    let started = Instant::now();
    let replay =
        Replay::open(&args.trace, &scenario, options).context("cannot replay the trace")?;
    let scanned = started.elapsed();
    print_info(replay.info(), &args, &scenario, scanned);
    if let Some(note) = replay.prepare(&mut scenario) {
        println!("note: {note}");
    }
    scenario.name = format!("{}-replay-{}", scenario.name, trace_stem(&args.trace));
    println!();
    if args.compare {
        compare(&args, &scenario, &replay)
    } else {
        single(&args, &scenario, &replay)
    }
}

fn single(args: &ReplayArgs, scenario: &Scenario, replay: &Replay) -> anyhow::Result<()> {
    let strategies: Vec<Option<StrategyKind>> = if args.strategies.is_empty() {
        vec![None]
    } else {
        args.strategies.iter().copied().map(Some).collect()
    };
    let seed = scenario.settings.seed;
    let mut results: Vec<RunResult> = Vec::new();
    let started = Instant::now();
    for strategy in strategies {
        let label = strategy.map_or_else(|| scenario.config.strategy_label(), |s| s.to_string());
        let mut progress = Progress::new(&label, scenario.settings.duration);
        let mut on_progress = |t| progress.update(t);
        let mut source = replay.source(scenario, seed);
        let result = sim::run_with(
            scenario,
            &mut source,
            RunOptions {
                strategy,
                seed,
                trace: None,
                progress: Some(&mut on_progress),
            },
        );
        progress.finish();
        if let Some(e) = replay.take_error() {
            return Err(anyhow!(e).context("the replay stopped part-way; no files were written"));
        }
        results.push(result);
    }
    let wall = started.elapsed();
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from("reports").join(&scenario.name));
    let refs: Vec<&RunResult> = results.iter().collect();
    write_run_files(&out, &refs)
        .with_context(|| format!("cannot write results into {}", out.display()))?;
    let requests: u64 = results.iter().map(|r| r.summary.requests).sum();
    println!(
        "{}: {} run(s), {} requests simulated in {:.2} s wall, {:.0} requests/s",
        scenario.name,
        results.len(),
        requests,
        wall.as_secs_f64(),
        requests as f64 / wall.as_secs_f64().max(1e-9)
    );
    for r in &results {
        let s = &r.summary;
        println!(
            "{}: {} arrived = {} succeeded + {} failed + {} in flight at end",
            s.strategy, s.requests, s.successes, s.failures, s.in_flight_at_end
        );
    }
    println!();
    let summaries: Vec<_> = results.iter().map(|r| &r.summary).collect();
    print!("{}", summary_table(&summaries));
    for r in &results {
        println!("\n{}:", r.summary.strategy);
        print!("{}", deployment_table(&r.deployments));
    }
    println!(
        "\nwrote {}/{{summary.csv,deployments.csv,timeseries.csv,summary.json}}",
        out.display()
    );
    Ok(())
}

fn compare(args: &ReplayArgs, scenario: &Scenario, replay: &Replay) -> anyhow::Result<()> {
    let plan = Plan::new(
        scenario,
        &args.strategies,
        args.seeds.unwrap_or(1),
        args.threads,
        args.out.clone(),
        None,
    )?;
    let started = Instant::now();
    let bar = plan.progress_bar(&scenario.name);
    let factory = |seed| Box::new(replay.source(scenario, seed)) as Box<dyn ArrivalSource + '_>;
    let comparison = sim::compare::compare_with(
        scenario,
        &plan.strategies,
        &plan.seeds,
        plan.threads,
        &factory,
        &|done, _| bar.set_position(done as u64),
    );
    bar.finish_and_clear();
    if let Some(e) = replay.take_error() {
        return Err(anyhow!(e).context("the replay stopped part-way; no report was written"));
    }
    plan.write_and_print(scenario, &comparison, started, None)
}

fn print_info(info: &TraceInfo, args: &ReplayArgs, scenario: &Scenario, scanned: Duration) {
    let read = &info.read;
    println!(
        "trace {} ({} format{}): {} rows read, {} requests to replay over {:.1} s{}{} (scanned in {:.2} s)",
        info.file,
        info.format,
        if info.gzip { ", gzip" } else { "" },
        read.rows,
        info.arrivals,
        info.last_arrival.as_secs_f64(),
        if args.speed == 1.0 { String::new() } else { format!(" at speed ×{}", args.speed) },
        args.window.map(|w| format!(", window {w}")).unwrap_or_default(),
        scanned.as_secs_f64()
    );
    if read.retries > 0 {
        println!(
            "  {} retry rows (attempt > 1) are not arrivals and were left out",
            read.retries
        );
    }
    if info.before_window > 0 {
        println!(
            "  {} rows before the window were left out",
            info.before_window
        );
    }
    if read.skipped > 0 {
        let lines: Vec<String> = read
            .first_skipped
            .iter()
            .map(|e| e.line.to_string())
            .collect();
        let more = if read.skipped > read.first_skipped.len() as u64 {
            ", …"
        } else {
            ""
        };
        println!(
            "  skipped {} bad row(s) (lines {}{more})",
            read.skipped,
            lines.join(", ")
        );
        for e in &read.first_skipped {
            println!("    {e}");
        }
    }
    if info.sorted_in_memory {
        println!("  rows sorted by time in memory (--sort)");
    }
    if info.models_from_mix {
        let mut prev = 0.0;
        let mix: Vec<String> = scenario
            .workload
            .mix
            .iter()
            .map(|m| {
                let share = m.cumulative - prev;
                prev = m.cumulative;
                format!("{} {:.0}%", m.model, share * 100.0)
            })
            .collect();
        println!(
            "  no model column: models drawn from the scenario's mix ({})",
            mix.join(", ")
        );
    } else {
        let models: Vec<String> = info
            .models
            .iter()
            .map(|m| format!("{} → {} ({} rows)", m.name, m.tier, m.rows))
            .collect();
        println!("  models: {}", models.join(", "));
    }
}

fn trace_stem(path: &Path) -> String {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "trace".into());
    let name = name.strip_suffix(".gz").unwrap_or(&name);
    let name = name.strip_suffix(".csv").unwrap_or(name);
    name.to_owned()
}
