//! `switchyard`: balance LLM traffic across providers, models and keys — simulate, compare,
//! replay and serve with one engine.

mod args;
mod check;
mod compare;
mod fit;
mod mock_provider;
mod progress;
mod replay;
mod serve;
mod simulate;
mod status;
mod whatif;

use std::process::ExitCode;

/// mimalloc instead of the system allocator (docs/gateway.md, "Where the time goes").
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
    /// Replay a recorded trace's arrivals against a scenario's world and gateway config.
    Replay(replay::ReplayArgs),
    /// Fit provider models (a scenario's world) from a recorded trace.
    Fit(fit::FitArgs),
    /// Would a config change be better or worse on recorded traffic? Paired runs, CIs, a gate.
    Whatif(whatif::WhatifArgs),
    /// Validate gateway configs and scenario files without running them.
    Check(check::CheckArgs),
    /// Run the gateway (OpenAI and Anthropic APIs) with a config file.
    Serve(serve::ServeArgs),
    /// Show what a running gateway's balancer believes now (its GET /admin/state) as tables.
    Status(status::StatusArgs),
    /// Serve one modelled deployment of a scenario over HTTP (for tests and demos).
    MockProvider(mock_provider::MockProviderArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if !matches!(cli.command, Command::Serve(_) | Command::MockProvider(_)) {
        restore_default_sigpipe();
    }
    let result = match cli.command {
        Command::Compare(args) => compare::run(args),
        Command::Simulate(args) => simulate::run(args),
        Command::Replay(args) => replay::run(args),
        Command::Fit(args) => fit::run(args),
        Command::Whatif(args) => whatif::run(args),
        Command::Check(args) => check::run(args),
        Command::Serve(args) => serve::run(args),
        Command::MockProvider(args) => mock_provider::run(args),
        Command::Status(args) => status::run(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Lets `switchyard compare … | head` end quietly, as command-line tools do, instead of
/// panicking on a closed stdout (Rust ignores SIGPIPE by default). Not for servers, which must
/// survive a client closing its socket.
fn restore_default_sigpipe() {
    #[cfg(unix)]
    // SAFETY: called at the start of main, before any thread exists; SIG_DFL is a valid handler.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}
