//! `embargo witness`: run a C2SP tlog-witness that cosigns the logs it is configured for.
//! Argument parsing, start-up and printing only; the witness itself is `embargo::witness`.

use anyhow::Context;
use embargo::core::note::{KeyPair, PublicKey};
use embargo::witness::cosignature::Cosigner;
use embargo::witness::protocol::TrustedLogs;
use embargo::witness::{server, Witness};
use std::path::PathBuf;
use std::sync::Arc;

#[derive(clap::Subcommand)]
pub enum Command {
    /// Generate a witness key; prints the witness vkey (cosignature/v1, type 0x04) that logs
    /// and clients configure.
    Keygen(KeygenArgs),
    /// Print the witness vkey of an existing key file.
    Vkey(VkeyArgs),
    /// Serve POST /add-checkpoint for the listed logs.
    Serve(ServeArgs),
}

#[derive(clap::Args)]
pub struct KeygenArgs {
    /// The witness's name, a schemeless URL such as `witness.example.com/w1`.
    #[arg(long)]
    name: String,
    /// Where to write the private key (mode 0600; never overwritten). Use this key for
    /// cosigning only.
    #[arg(long)]
    out: PathBuf,
}

#[derive(clap::Args)]
pub struct VkeyArgs {
    /// The witness's private key file.
    #[arg(long)]
    key: PathBuf,
}

#[derive(clap::Args)]
pub struct ServeArgs {
    /// The witness's private key file (from `embargo witness keygen`).
    #[arg(long)]
    key: PathBuf,
    /// The data directory: the latest cosigned checkpoint of each log, and the lock that keeps
    /// a second witness out.
    #[arg(long)]
    data: PathBuf,
    /// A log to witness, as its verifier key; the key's name is the log's origin (repeatable,
    /// at least one).
    #[arg(long = "log", value_name = "VKEY", required = true)]
    logs: Vec<PublicKey>,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8090")]
    listen: String,
}

pub fn run(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Keygen(a) => keygen(a),
        Command::Vkey(a) => {
            println!("{}", cosigner(&a.key)?.public());
            Ok(())
        }
        Command::Serve(a) => serve(a),
    }
}

fn cosigner(path: &std::path::Path) -> anyhow::Result<Cosigner> {
    let pair = KeyPair::read_file(path)
        .with_context(|| format!("cannot load the witness key {}", path.display()))?;
    Ok(Cosigner::new(&pair))
}

fn keygen(a: KeygenArgs) -> anyhow::Result<()> {
    let pair = KeyPair::generate(&a.name).context("cannot generate the witness key")?;
    pair.write_file(&a.out)?;
    eprintln!(
        "wrote the witness's private key to {} (keep it secret; use it for cosigning only)",
        a.out.display()
    );
    println!("{}", Cosigner::new(&pair).public());
    Ok(())
}

fn serve(a: ServeArgs) -> anyhow::Result<()> {
    let cosigner = cosigner(&a.key)?;
    let logs = TrustedLogs::new(a.logs);
    let witness = Witness::open(cosigner, logs, &a.data)
        .with_context(|| format!("cannot open the witness state in {}", a.data.display()))?;
    let witness = Arc::new(witness);
    super::runtime()?.block_on(async move {
        let listener = tokio::net::TcpListener::bind(&a.listen)
            .await
            .with_context(|| format!("cannot listen on {}", a.listen))?;
        let addr = listener.local_addr()?;
        eprintln!("embargo: witness listening on http://{addr}");
        eprintln!("embargo: witness vkey {}", witness.public());
        let mut origins: Vec<&str> = witness.logs().origins().collect();
        origins.sort_unstable();
        eprintln!("embargo: witnessing {}", origins.join(", "));
        axum::serve(listener, server::router(witness.clone()))
            .with_graceful_shutdown(shutdown_signal())
            .await
            .context("the witness's HTTP server failed")
    })
}

/// Resolves on Ctrl-C or SIGTERM. Stopping is always safe: every cosignature returned was
/// durable first.
async fn shutdown_signal() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("installing the SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
    eprintln!("embargo: witness shutting down");
}
