//! The `embargo` command: a thin layer over the library. Each subcommand lives in `cmd/`.

mod cmd;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "embargo",
    version,
    about = "A delayed-publication transparency log for AI models"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Generate an Ed25519 signing key in the signed-note format.
    Keygen(cmd::keygen::Args),
    /// Run the log: the C2SP read API, submissions and proofs over HTTP.
    Serve(cmd::serve::Args),
    /// Sign an in-toto statement, submit it and verify the log's proof.
    Submit(cmd::submit::Args),
    /// Check a saved proof offline, or the consistency of two checkpoints.
    Verify(cmd::verify::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Keygen(a) => cmd::keygen::run(a),
        Command::Serve(a) => cmd::serve::run(a),
        Command::Submit(a) => cmd::runtime().and_then(|rt| rt.block_on(cmd::submit::run(a))),
        Command::Verify(a) => cmd::runtime().and_then(|rt| rt.block_on(cmd::verify::run(a))),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("embargo: {e:#}");
            ExitCode::FAILURE
        }
    }
}
