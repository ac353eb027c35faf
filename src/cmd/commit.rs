use anyhow::{bail, Context};
use chrono::{DateTime, Utc};
use embargo::client::Client;
use embargo::core::dsse::Envelope;
use embargo::core::note::{KeyPair, PublicKey};
use embargo::core::predicate::{statement, Kind, ModelCommitment, ModelInfo};
use std::path::{Path, PathBuf};
use std::time::Duration;

#[derive(clap::Args)]
pub struct Args {
    /// The model: a file or a directory.
    path: PathBuf,
    /// The log's URL.
    #[arg(long, value_parser = super::log_url)]
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
    /// Also deposit the model encrypted in a timelocked escrow that opens by itself when the
    /// embargo ends, whether or not the platform reveals: `tlock`.
    #[arg(long, value_name = "SCHEME", value_parser = ["tlock"])]
    escrow: Option<String>,
    /// The drand chain the escrow is locked to: `quicknet`, or a chain info JSON file (what
    /// drand serves at /<chain hash>/info). The log must follow it (GET /v1/beacon).
    #[arg(long, default_value = "quicknet", requires = "escrow")]
    beacon: String,
    /// K: how many trustees' shares also open the escrow (with --trustee, once per trustee).
    #[arg(long = "trustees", value_name = "K", requires = "escrow")]
    trustees: Option<u8>,
    /// A trustee's verifier key (repeatable, at most 64).
    #[arg(long = "trustee", value_name = "VKEY", requires = "trustees")]
    trustee: Vec<PublicKey>,
    /// Keep the ciphertext in this file (default: a temporary file, removed once deposited).
    #[arg(long, requires = "escrow")]
    escrow_out: Option<PathBuf>,
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
            // Whole seconds, rounded up: the embargo is never shorter than asked.
            let up = chrono::SubsecRound::trunc_subsecs(t, 0);
            if up < t {
                up + chrono::Duration::seconds(1)
            } else {
                up
            }
        }
        (None, None) => bail!("give --reveal-after or --reveal-at"),
    };
    let path = a.path.clone();
    let manifest =
        tokio::task::spawn_blocking(move || super::digest::digest_with_progress(&path)).await??;
    let digest = manifest.digest().to_hex();
    let sealed = match &a.escrow {
        None => None,
        Some(_) => Some(seal(&a, &manifest, reveal_at).await?),
    };
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
        escrow: sealed.as_ref().map(|(e, _)| e.clone()),
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
    if let Some((e, file)) = &sealed {
        super::escrow::deposit_file(&client, answer.index, file).await?;
        eprintln!(
            "escrow: opens with round {} of chain {} (at or after {}){}",
            e.lock_round,
            e.chain_hash,
            reveal_at.to_rfc3339(),
            match e.threshold {
                Some(k) => format!(", or with {k} of its {} trustees' shares", e.trustees.len()),
                None => String::new(),
            }
        );
        if a.escrow_out.is_none() {
            let _ = std::fs::remove_file(file);
        }
    }
    println!("{}", answer.index);
    Ok(())
}

/// Seals the model for `--escrow`: returns the escrow for the commitment and the ciphertext.
async fn seal(
    a: &Args,
    manifest: &embargo::model::digest::Manifest,
    reveal_at: DateTime<Utc>,
) -> anyhow::Result<(embargo::core::predicate::Escrow, PathBuf)> {
    let chain = super::escrow::chain_from_flag(&a.beacon)?;
    let trustees = super::escrow::trustees_from_flags(a.trustees, &a.trustee)?;
    let lock = embargo::escrow::Lock {
        round: chain.round_at(reveal_at),
        chain,
        trustees,
    };
    let out = a.escrow_out.clone().unwrap_or_else(|| {
        std::env::temp_dir().join(format!("embargo-escrow-{:016x}.age", rand::random::<u64>()))
    });
    let (model, manifest, file) = (a.path.clone(), manifest.clone(), out.clone());
    let trustee_keys = a.trustee.clone();
    let started = std::time::Instant::now();
    let escrow = tokio::task::spawn_blocking(move || {
        super::escrow::seal_model(&model, &manifest, &lock, &trustee_keys, &file)
    })
    .await??;
    eprintln!(
        "sealed the model into a {}-byte escrow ({}) in {:.1}s",
        escrow.ciphertext_size,
        escrow.ciphertext_digest,
        started.elapsed().as_secs_f64()
    );
    Ok((escrow, out))
}
