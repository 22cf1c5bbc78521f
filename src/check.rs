//! `switchyard check FILE…`: validates gateway configs and scenario files without running them.

use std::path::PathBuf;

use anyhow::Context;
use engine::Config;
use sim::Scenario;

/// Arguments of `switchyard check`.
#[derive(clap::Args)]
pub struct CheckArgs {
    /// Gateway config or scenario files (a file with a [simulation] table is a scenario).
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
}

/// Runs the command: every file is checked; any error makes the exit status non-zero.
pub fn run(args: CheckArgs) -> anyhow::Result<()> {
    let mut failed = 0;
    for path in &args.files {
        match check(path) {
            Ok(summary) => println!("ok    {}: {summary}", path.display()),
            Err(e) => {
                failed += 1;
                println!("error {e:#}");
            }
        }
    }
    anyhow::ensure!(
        failed == 0,
        "{failed} of {} file(s) failed the check",
        args.files.len()
    );
    Ok(())
}

fn check(path: &std::path::Path) -> anyhow::Result<String> {
    // A regular file of bounded size: `check /dev/zero` fails at once instead of filling memory.
    let text = sim::files::read_text(path, sim::files::MAX_SCENARIO_BYTES)
        .with_context(|| format!("{}: cannot read", path.display()))?;
    let is_scenario = text
        .lines()
        .any(|l| l.trim_start().starts_with("[simulation]"));
    let config = if is_scenario {
        let scenario = Scenario::load(path)?;
        let s = &scenario.settings;
        return Ok(format!(
            "scenario {:?}: {} in {}, {}, {}, {} simulated, {}",
            scenario.name,
            counted(
                scenario.config.deployments.len(),
                "deployment",
                "deployments"
            ),
            counted(scenario.config.tiers.len(), "tier", "tiers"),
            counted(scenario.world.providers.len(), "provider", "providers"),
            counted(scenario.world.incidents.len(), "incident", "incidents"),
            humantime_short(s.duration),
            counted(s.strategies.len(), "strategy", "strategies")
        ));
    } else {
        Config::from_toml(&text).map_err(|e| {
            let line = e
                .line_in(&text)
                .map(|l| format!(":{l}"))
                .unwrap_or_default();
            anyhow::anyhow!("{}{line}: {e}", path.display())
        })?
    };
    // The same endpoint checks `serve` runs (not the API key variables: they belong to the
    // machine that serves).
    gateway::check_endpoints(&config).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    Ok(format!(
        "gateway config: {} in {}, {}",
        counted(config.deployments.len(), "deployment", "deployments"),
        counted(config.tiers.len(), "tier", "tiers"),
        counted(config.routes.len(), "route", "routes")
    ))
}

/// `1 tier`, `2 tiers`.
fn counted(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

fn humantime_short(d: std::time::Duration) -> String {
    let secs = d.as_secs();
    match secs {
        s if s % 3600 == 0 => format!("{}h", s / 3600),
        s if s % 60 == 0 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}
