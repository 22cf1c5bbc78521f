//! `switchyard`: balance LLM traffic across providers, models and keys — simulate, compare,
//! replay and serve with one engine.

mod compare;
mod progress;
mod serve;
mod simulate;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Balance LLM traffic across providers, models and API keys.
#[derive(Parser)]
#[command(name = "switchyard", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Compare strategies on a scenario and write a report (tables, CSV, plots, HTML).
    Compare(compare::CompareArgs),
    /// Simulate one scenario and print what happened per strategy and deployment.
    Simulate(simulate::SimulateArgs),
    /// Run the OpenAI-compatible gateway with a config file.
    Serve(serve::ServeArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Compare(args) => compare::run(args),
        Command::Simulate(args) => simulate::run(args),
        Command::Serve(args) => serve::run(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
