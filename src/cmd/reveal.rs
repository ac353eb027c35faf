use anyhow::{bail, Context};
use base64::prelude::{Engine, BASE64_STANDARD};
use embargo::client::{model_upload_body, Client};
use embargo::core::note::{KeyPair, PublicKey};
use embargo::log::registry::reveal_request_message;
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct Args {
    /// The model: the same file or directory that was committed.
    path: PathBuf,
    /// The log's URL.
    #[arg(long, value_parser = super::log_url)]
    log: String,
    /// The commitment's entry index.
    #[arg(long)]
    commitment: u64,
    /// The committing platform's key (needed to reveal before reveal_at).
    #[arg(long)]
    key: Option<PathBuf>,
    /// The log's verifier key (otherwise trusted on first use).
    #[arg(long)]
    vkey: Option<PublicKey>,
    /// Where to save the reveal entry's proof (default: reveal-<INDEX>.tlog-proof).
    #[arg(long)]
    out: Option<PathBuf>,
}

pub async fn run(a: Args) -> anyhow::Result<()> {
    let client = Client::new(&a.log);
    let view = client.commitment(a.commitment).await?;
    let c = view.commitment;
    // Refuse early what the log would refuse: it answers before reading the upload, which a
    // streaming client may only see as a broken connection.
    if let Some(r) = &c.reveal {
        bail!(
            "commitment {} was already revealed at entry {}",
            c.index,
            r.index
        );
    }
    if view.status == embargo::log::registry::Status::Sealed && a.key.is_none() {
        bail!(
            "commitment {} is sealed until {}; before then only {} may reveal it: pass its --key",
            c.index,
            c.reveal_at.to_rfc3339(),
            c.platform
        );
    }
    let path = a.path.clone();
    let manifest =
        tokio::task::spawn_blocking(move || super::digest::digest_with_progress(&path)).await??;
    let digest = manifest.digest().to_hex();
    if digest != c.model_digest {
        bail!(
            "{} hashes to {digest}, but commitment {} is for {}: this is not the committed model",
            a.path.display(),
            c.index,
            c.model_digest
        );
    }
    let log_key = super::log_key(&client, a.vkey).await?;
    let signature = match &a.key {
        Some(k) => {
            let key = KeyPair::read_file(k)?;
            let sig = key.sign(&reveal_request_message(
                log_key.name(),
                c.index,
                &c.model_digest,
            ));
            Some(format!(
                "{} {}",
                key.public().key_ref(),
                BASE64_STANDARD.encode(sig)
            ))
        }
        None => None,
    };
    let body = model_upload_body(a.path.clone(), manifest.clone());
    let answer = client
        .reveal(c.index, body, signature)
        .await
        .with_context(|| format!("the log refused the reveal of commitment {}", c.index))?;
    let out = a
        .out
        .unwrap_or_else(|| PathBuf::from(format!("reveal-{}.tlog-proof", c.index)));
    let cp = super::check_and_save(&answer, &log_key, &out)?;
    eprintln!(
        "revealed commitment {} ({} bytes, sha3-256:{digest}) as entry {} of {}; proof saved to {}",
        c.index,
        manifest.total_size(),
        answer.index,
        cp.checkpoint.origin,
        out.display()
    );
    println!("{}", answer.index);
    Ok(())
}
