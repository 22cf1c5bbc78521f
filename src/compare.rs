//! `switchyard compare SCENARIO`: every strategy on the same seeded workload and world, written
//! as a report folder a person can open in a browser.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;
use engine::StrategyKind;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use sim::compare::Comparison;
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
    #[arg(long, default_value_t = 3, allow_negative_numbers = true,
          value_parser = crate::args::at_least_one)]
    pub seeds: u64,
    /// Report folder (default: reports/<scenario name>/).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Stop arrivals after this many requests (a short version of the scenario).
    #[arg(long, allow_negative_numbers = true, value_parser = crate::args::count)]
    pub requests: Option<u64>,
    /// Worker threads (default: one per core).
    #[arg(long, allow_negative_numbers = true, value_parser = crate::args::threads)]
    pub threads: Option<usize>,
}

/// Runs the command.
pub fn run(args: CompareArgs) -> anyhow::Result<()> {
    let mut scenario = Scenario::load(&args.scenario)?;
    if let Some(n) = args.requests {
        scenario.settings.max_requests = Some(n);
    }
    let plan = Plan::new(
        &scenario,
        &args.strategies,
        args.seeds,
        args.threads,
        args.out,
    )?;
    let started = Instant::now();
    let bar = plan.progress_bar(&scenario.name);
    let comparison = sim::compare::compare(
        &scenario,
        &plan.strategies,
        &plan.seeds,
        plan.threads,
        &|done, _| bar.set_position(done as u64),
    );
    bar.finish_and_clear();
    plan.write_and_print(&scenario, &comparison, started)
}

/// Which runs a comparison makes, on how many threads, and where it writes (shared by
/// `compare` and `replay --compare`).
pub struct Plan {
    /// Strategies, in report order.
    pub strategies: Vec<StrategyKind>,
    /// Seeds, one run per strategy and seed.
    pub seeds: Vec<u64>,
    /// Worker threads.
    pub threads: usize,
    /// Report folder.
    pub out: PathBuf,
}

impl Plan {
    /// The plan from the command line's choices; defaults come from the scenario.
    pub fn new(
        scenario: &Scenario,
        strategies: &[StrategyKind],
        seeds: u64,
        threads: Option<usize>,
        out: Option<PathBuf>,
    ) -> anyhow::Result<Plan> {
        anyhow::ensure!(seeds >= 1, "--seeds must be at least 1");
        Ok(Plan {
            strategies: if strategies.is_empty() {
                scenario.settings.strategies.clone()
            } else {
                strategies.to_vec()
            },
            seeds: (0..seeds)
                .map(|i| scenario.settings.seed.wrapping_add(i))
                .collect(),
            threads: threads
                .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get())),
            out: out.unwrap_or_else(|| PathBuf::from("reports").join(&scenario.name)),
        })
    }

    /// A bar counting finished runs (hidden when stderr is not a terminal).
    pub fn progress_bar(&self, label: &str) -> ProgressBar {
        let bar = ProgressBar::with_draw_target(
            Some((self.strategies.len() * self.seeds.len()) as u64),
            ProgressDrawTarget::stderr(),
        );
        if let Ok(style) =
            ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} runs, {elapsed}")
        {
            bar.set_style(style.progress_chars("=> "));
        }
        bar.set_prefix(label.to_owned());
        bar
    }

    /// Writes the data files and the report, then prints the table and the winners.
    pub fn write_and_print(
        &self,
        scenario: &Scenario,
        comparison: &Comparison,
        started: Instant,
    ) -> anyhow::Result<()> {
        let simulated = started.elapsed();
        write_comparison_files(&self.out, comparison)
            .with_context(|| format!("cannot write the comparison into {}", self.out.display()))?;
        let files = sim::report::write_report(&self.out, scenario, comparison)
            .with_context(|| format!("cannot write the report into {}", self.out.display()))?;
        let requests: u64 = comparison
            .strategies
            .iter()
            .flat_map(|s| &s.runs)
            .map(|r| r.summary.requests)
            .sum();
        println!(
            "{}: {} strategies × {} seed(s) = {} runs, {} requests simulated in {:.2} s on {} thread(s); report written in {:.2} s total",
            scenario.name,
            self.strategies.len(),
            self.seeds.len(),
            self.strategies.len() * self.seeds.len(),
            requests,
            simulated.as_secs_f64(),
            self.threads,
            started.elapsed().as_secs_f64()
        );
        println!();
        print!("{}", comparison_table(comparison));
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
            self.out.display()
        );
        for f in files {
            println!("wrote {}", f.display());
        }
        Ok(())
    }
}
