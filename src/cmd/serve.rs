use anyhow::Context;
use embargo::log::Log;
use embargo::note::{KeyPair, PublicKey};
use embargo::sequencer::Sequencer;
use embargo::server::{router, AppState};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

#[derive(clap::Args)]
pub struct Args {
    /// The log's data directory (tiles, entry bundles, checkpoint, index).
    #[arg(long)]
    data: PathBuf,
    /// The log's private key; its name is the log's origin.
    #[arg(long)]
    key: PathBuf,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: String,
    /// How long submissions pool before they are sequenced together (e.g. 100ms, 1s).
    #[arg(long, default_value = "200ms", value_parser = super::parse_duration)]
    interval: std::time::Duration,
    /// A verifier key allowed to submit entries (repeatable).
    #[arg(long = "allow-key", value_name = "VKEY")]
    allow_keys: Vec<PublicKey>,
}

pub fn run(a: Args) -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "embargo=info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let key = KeyPair::read_file(&a.key)?;
    let started = std::time::Instant::now();
    let (log, recovered) = Log::open(&a.data, key)
        .with_context(|| format!("cannot open the log in {}", a.data.display()))?;
    let sequencer = Sequencer::start(log.clone(), recovered, a.interval);
    let writers: HashMap<String, PublicKey> =
        a.allow_keys.into_iter().map(|k| (k.key_ref(), k)).collect();
    let cp = log.checkpoint();
    let state = Arc::new(AppState {
        log: log.clone(),
        sequencer,
        writers,
    });
    super::runtime()?.block_on(async move {
        let listener = tokio::net::TcpListener::bind(&a.listen)
            .await
            .with_context(|| format!("cannot listen on {}", a.listen))?;
        let addr = listener.local_addr()?;
        tracing::info!(
            origin = log.origin(),
            size = cp.size(),
            startup_ms = started.elapsed().as_millis() as u64,
            "log open"
        );
        eprintln!(
            "embargo: log {} ({} entries) listening on http://{addr}",
            log.origin(),
            cp.size()
        );
        eprintln!("embargo: vkey {}", log.key().public());
        axum::serve(listener, router(state))
            .with_graceful_shutdown(async {
                let _ = tokio::signal::ctrl_c().await;
            })
            .await
            .context("the HTTP server failed")
    })
}
