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
    /// Print a model's SHA3-256 digest (a file or a directory).
    Digest(cmd::digest::Args),
    /// Commit to a model: log its digest with a reveal date.
    Commit(cmd::commit::Args),
    /// Show commitments and where they are: sealed, due, revealed, overdue.
    Status(cmd::status::Args),
    /// Upload a committed model so the log checks and publishes it.
    Reveal(cmd::reveal::Args),
    /// Download a revealed model and verify it against the log.
    Fetch(cmd::fetch::Args),
    /// Run a fairness suite against a model or a revealed commitment; exit 0 pass, 1 fail, 2 error.
    Audit(cmd::audit::Args),
    /// Timelocked escrows: trustees' shares, round signatures, deposits, a local test beacon.
    Escrow {
        #[command(subcommand)]
        command: cmd::escrow::Command,
    },
    /// Log a batch of decision records (JSONL) and write one receipt per record.
    Batch(cmd::batch::Args),
    /// Decision receipts: verify them offline.
    Receipt {
        #[command(subcommand)]
        command: cmd::receipt::Command,
    },
    /// Replay receipts against the revealed model: compare scores and order; exit 0 pass, 1 fail, 2 error.
    Replay(cmd::replay::Args),
    /// Register platforms and manage their keys (operator).
    Platform {
        #[command(subcommand)]
        command: cmd::party::Command,
    },
    /// Register auditors and manage their keys (operator).
    Auditor {
        #[command(subcommand)]
        command: cmd::party::Command,
    },
    /// Run a witness (C2SP tlog-witness): cosign checkpoints of the logs it is configured for.
    Witness {
        #[command(subcommand)]
        command: cmd::witness::Command,
    },
    /// Follow a log from its tiles alone: split views, broken rules, deadlines, audits; exit 0 quiet, 1 the log misbehaved, 2 error.
    Monitor(cmd::monitor::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Keygen(a) => cmd::keygen::run(a),
        Command::Serve(a) => cmd::serve::run(a),
        Command::Submit(a) => cmd::runtime().and_then(|rt| rt.block_on(cmd::submit::run(a))),
        Command::Verify(a) => cmd::runtime().and_then(|rt| rt.block_on(cmd::verify::run(a))),
        Command::Digest(a) => cmd::digest::run(a),
        Command::Commit(a) => cmd::runtime().and_then(|rt| rt.block_on(cmd::commit::run(a))),
        Command::Status(a) => cmd::runtime().and_then(|rt| rt.block_on(cmd::status::run(a))),
        Command::Reveal(a) => cmd::runtime().and_then(|rt| rt.block_on(cmd::reveal::run(a))),
        Command::Fetch(a) => cmd::runtime().and_then(|rt| rt.block_on(cmd::fetch::run(a))),
        Command::Audit(a) => std::process::exit(cmd::audit::run(a).into()),
        Command::Escrow { command } => {
            cmd::runtime().and_then(|rt| rt.block_on(cmd::escrow::run(command)))
        }
        Command::Batch(a) => cmd::batch::run(a),
        Command::Receipt { command } => std::process::exit(cmd::receipt::run(command).into()),
        Command::Replay(a) => std::process::exit(cmd::replay::run(a).into()),
        Command::Platform { command } => cmd::runtime().and_then(|rt| {
            rt.block_on(cmd::party::run(
                embargo::core::predicate::Role::Platform,
                command,
            ))
        }),
        Command::Auditor { command } => cmd::runtime().and_then(|rt| {
            rt.block_on(cmd::party::run(
                embargo::core::predicate::Role::Auditor,
                command,
            ))
        }),
        Command::Witness { command } => cmd::witness::run(command),
        Command::Monitor(a) => std::process::exit(cmd::monitor::run(a).into()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("embargo: {}", cmd::message(&e));
            ExitCode::FAILURE
        }
    }
}
