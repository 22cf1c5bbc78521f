//! `switchyard compare SCENARIO`: every strategy on the same seeded workload and world, written
//! as a report folder a person can open in a browser.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;
use engine::StrategyKind;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use sim::compare::Comparison;
use sim::output::{comparison_table, write_comparison_files};
use sim::paired::{self, text};
use sim::Scenario;

/// How many seeds `compare` runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seeds {
    /// Exactly this many.
    Fixed(u64),
    /// Batches of 3, 5, 10, 20, … until the leader is significantly ahead, up to `--max-seeds`.
    Auto,
}

/// Parses `--seeds`: a positive number or `auto`.
fn parse_seeds(s: &str) -> Result<Seeds, String> {
    if s.eq_ignore_ascii_case("auto") {
        return Ok(Seeds::Auto);
    }
    crate::args::at_least_one(s)
        .map(Seeds::Fixed)
        .map_err(|e| format!("{e}, or `auto`"))
}

/// Arguments of `switchyard compare`.
#[derive(clap::Args)]
pub struct CompareArgs {
    /// Scenario file (TOML).
    pub scenario: PathBuf,
    /// Strategies to compare, comma-separated (default: the scenario's list, else all).
    #[arg(long, value_delimiter = ',')]
    pub strategies: Vec<StrategyKind>,
    /// Seeds per strategy, or `auto`: with more than one, means, 95 % confidence intervals and
    /// paired differences are reported; `auto` adds seeds (3, 5, 10, 20, …) until the leader is
    /// significantly ahead on success rate (p99 latency if success rates tie), or --max-seeds.
    #[arg(long, default_value = "3", allow_negative_numbers = true, value_parser = parse_seeds)]
    pub seeds: Seeds,
    /// With --seeds auto: the most seeds to run [default: 40].
    #[arg(long, allow_negative_numbers = true, value_parser = crate::args::at_least_one)]
    pub max_seeds: Option<u64>,
    /// Strategy that paired differences are taken against (default: the best by each metric's
    /// mean). The winner is the same either way.
    #[arg(long)]
    pub baseline: Option<StrategyKind>,
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
    let max_seeds = args.max_seeds.unwrap_or(40);
    let schedule: Vec<u64> = match args.seeds {
        Seeds::Fixed(n) => {
            anyhow::ensure!(
                args.max_seeds.is_none(),
                "--max-seeds only applies with --seeds auto"
            );
            vec![n]
        }
        Seeds::Auto => {
            anyhow::ensure!(
                max_seeds >= 2,
                "--max-seeds must be at least 2 (one seed gives no confidence interval)"
            );
            paired::seed_schedule(max_seeds as usize)
                .into_iter()
                .map(|n| n as u64)
                .collect()
        }
    };
    let mut plan = Plan::new(
        &scenario,
        &args.strategies,
        schedule[0],
        args.threads,
        args.out,
        args.baseline,
    )?;
    let started = Instant::now();
    let bar = plan.progress_bar(&scenario.name);
    let mut comparison = sim::compare::compare(
        &scenario,
        &plan.strategies,
        &plan.seeds,
        plan.threads,
        &|done, _| bar.set_position(done as u64),
    );
    comparison.baseline = args.baseline;
    let mut auto = None;
    if args.seeds == Seeds::Auto {
        for &n in &schedule[1..] {
            if decided(&comparison) {
                break;
            }
            let more = Plan::seeds_from(&scenario, comparison.seeds.len() as u64, n);
            let before = (plan.strategies.len() * comparison.seeds.len()) as u64;
            bar.set_length(plan.strategies.len() as u64 * n);
            comparison.extend(sim::compare::compare(
                &scenario,
                &plan.strategies,
                &more,
                plan.threads,
                &|done, _| bar.set_position(before + done as u64),
            ));
        }
        plan.seeds = comparison.seeds.clone();
        let metric = paired::deciding_metric(&comparison);
        auto = Some(text::auto_line(&comparison, metric, max_seeds as usize));
    }
    bar.finish_and_clear();
    plan.write_and_print(&scenario, &comparison, started, auto.as_deref())
}

/// Whether `--seeds auto` can stop: the leader on the deciding metric is significantly ahead of
/// every other strategy.
fn decided(c: &Comparison) -> bool {
    paired::verdict(c, paired::deciding_metric(c), None).is_some_and(|v| v.winner().is_some())
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
        baseline: Option<StrategyKind>,
    ) -> anyhow::Result<Plan> {
        anyhow::ensure!(seeds >= 1, "--seeds must be at least 1");
        let strategies = if strategies.is_empty() {
            scenario.settings.strategies.clone()
        } else {
            strategies.to_vec()
        };
        for (i, s) in strategies.iter().enumerate() {
            anyhow::ensure!(
                !strategies[..i].contains(s),
                "--strategies lists {s} twice; each strategy runs once per seed"
            );
        }
        if let Some(b) = baseline {
            anyhow::ensure!(
                strategies.contains(&b),
                "--baseline {b} is not among the strategies compared ({})",
                strategies
                    .iter()
                    .map(|s| s.name())
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
        Ok(Plan {
            strategies,
            seeds: Plan::seeds_from(scenario, 0, seeds),
            threads: threads
                .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get())),
            out: out.unwrap_or_else(|| PathBuf::from("reports").join(&scenario.name)),
        })
    }

    /// Seeds number `from` to `to` (exclusive) of a scenario: its seed, then the next ones.
    pub fn seeds_from(scenario: &Scenario, from: u64, to: u64) -> Vec<u64> {
        (from..to)
            .map(|i| scenario.settings.seed.wrapping_add(i))
            .collect()
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

    /// Writes the data files and the report, then prints the table, the paired differences and
    /// the winners; `auto` is what `--seeds auto` concluded.
    pub fn write_and_print(
        &self,
        scenario: &Scenario,
        comparison: &Comparison,
        started: Instant,
        auto: Option<&str>,
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
        if let Some(line) = auto {
            println!("{line}");
        }
        println!();
        print!("{}", comparison_table(comparison));
        let verdicts = paired::verdicts(comparison);
        if let Some(table) = text::diff_table(comparison, &verdicts) {
            println!(
                "\npaired differences, strategy − baseline on the same seed ({}; * = the 95 % interval excludes 0); baseline: {}",
                match comparison.seeds.len() {
                    1 => "one seed: no interval".to_owned(),
                    n => format!("mean ± 95 % CI over {n} seeds"),
                },
                text::baseline_words(comparison)
            );
            print!("{table}");
        }
        println!();
        for line in text::closing_lines(comparison, &verdicts) {
            println!("{line}");
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
