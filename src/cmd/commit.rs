use anyhow::{bail, Context};
use chrono::{DateTime, Utc};
use embargo::client::Client;
use embargo::dsse::Envelope;
use embargo::note::{KeyPair, PublicKey};
use embargo::predicate::{statement, Kind, ModelCommitment, ModelInfo};
use std::path::{Path, PathBuf};
use std::time::Duration;

#[derive(clap::Args)]
pub struct Args {
    /// The model: a file or a directory.
    path: PathBuf,
    /// The log's URL.
    #[arg(long)]
    log: String,
    /// The platform's private key.
    #[arg(long)]
    key: PathBuf,
    /// The model's name.
    #[arg(long)]
    name: String,
    /// The model's version.
    #[arg(long)]
    version: String,
    /// Reveal this long from now (e.g. 365d).
    #[arg(long, value_parser = super::parse_duration, conflicts_with = "reveal_at", required_unless_present = "reveal_at")]
    reveal_after: Option<Duration>,
    /// Reveal at this time (RFC 3339, e.g. 2027-11-24T00:00:00Z).
    #[arg(long)]
    reveal_at: Option<DateTime<Utc>>,
    /// The platform's registered name (default: the key's name).
    #[arg(long)]
    platform: Option<String>,
    /// The model's format (default: from the file extension, or "directory").
    #[arg(long)]
    format: Option<String>,
    /// What the model is used for.
    #[arg(long)]
    purpose: Option<String>,
    /// The commitment this one replaces.
    #[arg(long)]
    supersedes: Option<u64>,
    /// The log's verifier key (otherwise trusted on first use).
    #[arg(long)]
    vkey: Option<PublicKey>,
    /// Where to save the commitment's proof (default: <name>-<version>.tlog-proof).
    #[arg(long)]
    out: Option<PathBuf>,
}

fn guess_format(path: &Path) -> String {
    if path.is_dir() {
        return "directory".into();
    }
    path.extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .unwrap_or_else(|| "file".into())
}

pub async fn run(a: Args) -> anyhow::Result<()> {
    let key = KeyPair::read_file(&a.key)?;
    let reveal_at = match (a.reveal_at, a.reveal_after) {
        (Some(t), _) => t,
        (None, Some(d)) => {
            let t =
                Utc::now() + chrono::Duration::from_std(d).context("--reveal-after is too long")?;
            chrono::SubsecRound::trunc_subsecs(t, 0)
        }
        (None, None) => bail!("give --reveal-after or --reveal-at"),
    };
    let path = a.path.clone();
    let manifest =
        tokio::task::spawn_blocking(move || super::digest::digest_with_progress(&path)).await??;
    let digest = manifest.digest().to_hex();
    let predicate = ModelCommitment {
        platform: a.platform.unwrap_or_else(|| key.name().to_owned()),
        model: ModelInfo {
            name: a.name.clone(),
            version: a.version.clone(),
            format: a.format.unwrap_or_else(|| guess_format(&a.path)),
            total_size: manifest.total_size(),
            file_count: manifest.file_count() as u64,
        },
        reveal_at,
        purpose: a.purpose,
        supersedes: a.supersedes,
        escrow: None,
    };
    let st = statement(
        Kind::ModelCommitment,
        &a.name,
        "sha3-256",
        &digest,
        &predicate,
    );
    let envelope = Envelope::sign(&serde_json::to_vec(&st)?, &key);
    let client = Client::new(&a.log);
    let log_key = super::log_key(&client, a.vkey).await?;
    let out = a.out.unwrap_or_else(|| {
        PathBuf::from(format!(
            "{}-{}.tlog-proof",
            a.name.replace('/', "_"),
            a.version
        ))
    });
    let (answer, cp) = super::submit_envelope(&client, &envelope, &log_key, &out)
        .await
        .context("the log refused the commitment")?;
    eprintln!(
        "committed {} {} (sha3-256:{digest}, {} bytes in {} files) as entry {} of {}; sealed until {}; proof saved to {}",
        a.name,
        a.version,
        manifest.total_size(),
        manifest.file_count(),
        answer.index,
        cp.checkpoint.origin,
        reveal_at.to_rfc3339(),
        out.display()
    );
    println!("{}", answer.index);
    Ok(())
}
