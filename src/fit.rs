//! `switchyard fit TRACE --out scenario.toml`: fit provider models (latency, errors, timeouts,
//! observed 429s) and the workload from a recorded per-attempt trace, write a scenario that
//! `simulate` runs directly, and print how well the fit matches what was observed.

use std::path::PathBuf;

use anyhow::Context;
use sim::fit::{fit_trace, goodness_table, limits_table, rates_table, FitOptions, GatewayConfig};

/// Arguments of `switchyard fit`.
#[derive(clap::Args)]
pub struct FitArgs {
    /// Per-attempt trace recorded by the gateway (`serve --trace-out`) or by
    /// `simulate --trace-out` (CSV, optionally gzip-compressed).
    pub trace: PathBuf,
    /// Scenario file to write (TOML); replaced atomically. An existing path that is not a
    /// regular file (a symlink, a FIFO, a device) is refused.
    #[arg(long)]
    pub out: PathBuf,
    /// Scenario name (default: fitted-<trace name>).
    #[arg(long)]
    pub name: Option<String>,
    /// Skip malformed rows (reporting how many and where) instead of stopping at the first.
    #[arg(long)]
    pub skip_bad_rows: bool,
    /// The gateway config the trace was recorded under (or a scenario whose gateway tables
    /// are used): kept as it is (tiers, routes, weights, strategies, retry, timeouts); only the
    /// world and the workload are fitted.
    #[arg(long)]
    pub config: Option<PathBuf>,
}

/// Runs the command.
pub fn run(args: FitArgs) -> anyhow::Result<()> {
    if let Some(name) = &args.name {
        sim::scenario::limits::name(name).map_err(|m| anyhow::anyhow!("--name {m}"))?;
    }
    let config = match &args.config {
        Some(path) => Some(GatewayConfig::load(path).context("cannot use --config")?),
        None => None,
    };
    let options = FitOptions {
        skip_bad_rows: args.skip_bad_rows,
        name: args.name.clone(),
        config,
    };
    let fit = fit_trace(&args.trace, &options).context("cannot fit the trace")?;
    let text = fit.to_toml();
    // Check the file we are about to write is a scenario `simulate` accepts.
    sim::Scenario::parse(&text, &args.out.display().to_string(), &fit.name)
        .context("the fitted scenario does not validate (a bug in fit)")?;
    sim::output::write_atomically(&args.out, |w| w.write_all(text.as_bytes()))?;
    println!(
        "{}: {} rows, {} requests, {} attempts over {:.1} s ({:.2} requests/s), {} deployment(s)",
        fit.file,
        fit.rows,
        fit.requests,
        fit.attempts,
        fit.span_seconds,
        fit.arrival_rate,
        fit.deployments.len()
    );
    let engine_refused = fit.refused.saturating_sub(fit.client_refused);
    if engine_refused > 0 {
        println!(
            "{engine_refused} request(s) failed before any attempt (refused rows: no deployment had headroom)"
        );
    }
    if fit.client_refused > 0 {
        println!(
            "{} request(s) refused by their client's own limits (client_refused rows: requests of \
             their client, not provider 429s)",
            fit.client_refused
        );
    }
    if fit.skipped > 0 {
        let lines: Vec<String> = fit
            .first_skipped
            .iter()
            .map(|e| e.line.to_string())
            .collect();
        let more = if fit.skipped > fit.first_skipped.len() as u64 {
            ", …"
        } else {
            ""
        };
        println!(
            "skipped {} bad row(s) (lines {}{more})",
            fit.skipped,
            lines.join(", ")
        );
        for e in &fit.first_skipped {
            println!("  {e}");
        }
    }
    for warning in &fit.warnings {
        println!("warning: {warning}");
    }
    for o in &fit.outages {
        println!(
            "outage: {} {} from {:.1} s to {:.1} s ({} attempt(s) failed, {} succeeded)",
            o.deployment,
            o.mode.name(),
            o.start.as_secs_f64(),
            o.end.as_secs_f64(),
            o.failures,
            o.successes
        );
    }
    println!();
    print!("{}", rates_table(&fit));
    println!("\nrate limits:");
    print!("{}", limits_table(&fit));
    println!(
        "\ngoodness of fit (ms; latency of successful attempts; KS = largest gap between the \
         observed and fitted distributions, 0 to 1):"
    );
    print!("{}", goodness_table(&fit.goodness(1)));
    println!("\nwrote {}", args.out.display());
    Ok(())
}
