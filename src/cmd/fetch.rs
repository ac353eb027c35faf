//! `embargo fetch`: download a revealed model and check everything a user can check offline:
//! the digest, the inclusion of the commitment and the reveal in a checkpoint signed by the
//! log's key, and that checkpoint's consistency with the last one this client saw.

use anyhow::{bail, ensure, Context};
use embargo::client::verify::{check_witnessed, signer_valid_at, WitnessRequirement};
use embargo::client::Client;
use embargo::core::checkpoint::SignedCheckpoint;
use embargo::core::note::PublicKey;
use embargo::core::predicate::{Kind, Predicate};
use embargo::core::tlog;
use embargo::model::digest::Manifest;
use embargo::model::model_stream::{read_body, Header};
use futures_util::TryStreamExt;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

#[derive(clap::Args)]
pub struct Args {
    /// The commitment's entry index.
    index: u64,
    /// The log's URL.
    #[arg(long, value_parser = super::log_url)]
    log: String,
    /// The log's verifier key: everything is checked against it.
    #[arg(long)]
    vkey: PublicKey,
    /// Where to put the model (must not exist, or be empty).
    #[arg(long)]
    out: PathBuf,
    /// Where this client remembers the last checkpoint it saw of each log (default:
    /// $EMBARGO_STATE, else ~/.local/state/embargo/state.json).
    #[arg(long)]
    state: Option<PathBuf>,
    #[command(flatten)]
    witnesses: super::WitnessFlags,
}

/// What a client remembers between runs: the latest checkpoint seen per log origin.
#[derive(Serialize, Deserialize, Default)]
pub struct ClientState {
    pub checkpoints: BTreeMap<String, String>,
}

impl ClientState {
    pub fn default_path() -> PathBuf {
        if let Some(p) = std::env::var_os("EMBARGO_STATE") {
            return p.into();
        }
        let base = std::env::var_os("XDG_STATE_HOME")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".local/state")))
            .unwrap_or_else(|| PathBuf::from("."));
        base.join("embargo/state.json")
    }

    pub fn load(path: &Path) -> anyhow::Result<ClientState> {
        match std::fs::read(path) {
            Ok(b) => serde_json::from_slice(&b)
                .with_context(|| format!("{} is not an Embargo client state file", path.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(ClientState::default()),
            Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
        }
    }

    pub fn save(&self, path: &Path) -> anyhow::Result<()> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let tmp = path.with_extension("json.tmp");
        std::fs::write(&tmp, serde_json::to_vec_pretty(self)?)?;
        std::fs::rename(&tmp, path).with_context(|| format!("cannot write {}", path.display()))
    }
}

/// Checks that `new` extends the checkpoint this client saw before (if any).
pub async fn check_consistency(
    client: &Client,
    vkey: &PublicKey,
    previous: &str,
    new: &SignedCheckpoint,
) -> anyhow::Result<()> {
    let old = SignedCheckpoint::verify(previous, vkey)
        .context("the remembered checkpoint does not verify with --vkey")?;
    let (o, n) = (old.size(), new.size());
    if o > n {
        bail!("the log now shows a tree of {n} entries, but this client saw {o} before: the log rolled back or is showing you a different view; keep both checkpoints as evidence");
    }
    if o == 0 {
        return Ok(());
    }
    let proof = if o == n {
        Vec::new()
    } else {
        client.consistency_proof(o, n).await?
    };
    tlog::verify_consistency(&proof, o, old.root(), n, new.root()).context(
        "the log's checkpoint is NOT consistent with the one this client saw before: the log rewrote history or shows different users different trees",
    )?;
    Ok(())
}

pub(super) use embargo::client::verify::{included_entry, typed};

/// Writes the files of a model stream under `dir` and returns what they hash to.
pub(super) fn unpack(reader: impl Read, dir: &Path) -> anyhow::Result<Manifest> {
    let mut r = BufReader::with_capacity(1 << 20, reader);
    let header = Header::read_from(&mut r)?;
    let mut current: Option<(String, BufWriter<std::fs::File>)> = None;
    let manifest = read_body(&header, &mut r, |path, bytes| {
        if current.as_ref().is_none_or(|(p, _)| p != path) {
            let dest = dir.join(path);
            if let Some(parent) = dest.parent() {
                std::fs::create_dir_all(parent)?;
            }
            current = Some((
                path.to_owned(),
                BufWriter::new(std::fs::File::create_new(&dest)?),
            ));
        }
        let (_, w) = current.as_mut().expect("just opened");
        if bytes.is_empty() {
            w.flush()?;
            current = None;
        } else {
            w.write_all(bytes)?;
        }
        Ok(())
    })?;
    Ok(manifest)
}

/// What [`fetch_verified`] downloaded and checked.
pub struct Fetched {
    pub model_name: String,
    pub model_version: String,
    pub platform: String,
    /// The SHA3-256 model digest, hex.
    pub digest: String,
    pub total_size: u64,
    pub file_count: usize,
    pub committed_at: String,
    pub reveal_index: u64,
    pub on_time: bool,
    pub checkpoint_size: u64,
    pub origin: String,
}

pub async fn run(a: Args) -> anyhow::Result<()> {
    let required = a.witnesses.requirement()?;
    let f = fetch_verified(
        &a.log,
        &a.vkey,
        a.index,
        &a.out,
        a.state.clone(),
        required.as_ref(),
    )
    .await?;
    println!(
        "OK: {} {} by {} (sha3-256:{}, {} bytes in {} files) is in {}",
        f.model_name,
        f.model_version,
        f.platform,
        f.digest,
        f.total_size,
        f.file_count,
        a.out.display()
    );
    println!(
        "    committed at entry {} ({}), revealed at entry {}{}, both in checkpoint {} of {}",
        a.index,
        f.committed_at,
        f.reveal_index,
        if f.on_time { "" } else { " (late)" },
        f.checkpoint_size,
        f.origin
    );
    Ok(())
}

/// Downloads the revealed model of commitment `index` into `out` (which must not exist, or be
/// empty) and checks everything `embargo fetch` checks: the log's checkpoint against `vkey`,
/// its consistency with the one this client saw before (`state`, default
/// [`ClientState::default_path`]), the inclusion of the commitment and the reveal, the
/// commitment's signature by a key the log's registration entries bind to the platform, the
/// reveal's signature by the log, and the model's digest and size; with `witnesses`, the
/// checkpoint's cosignatures first. Nothing is kept if a check fails.
pub async fn fetch_verified(
    log: &str,
    vkey: &PublicKey,
    index: u64,
    out: &Path,
    state: Option<PathBuf>,
    witnesses: Option<&WitnessRequirement>,
) -> anyhow::Result<Fetched> {
    let a = FetchTarget {
        log: log.to_owned(),
        vkey: vkey.clone(),
        index,
        out: out.to_owned(),
        state,
    };
    if a.out.exists()
        && std::fs::read_dir(&a.out)
            .map(|mut d| d.next().is_some())
            .unwrap_or(true)
    {
        bail!(
            "{} exists and is not an empty directory: choose another --out",
            a.out.display()
        );
    }
    let client = Client::new(&a.log);
    let cp = SignedCheckpoint::verify(&client.checkpoint().await?, &a.vkey)
        .context("the log's checkpoint is not signed by --vkey")?;
    check_witnessed(&cp, witnesses)?;
    let state_path = a.state.clone().unwrap_or_else(ClientState::default_path);
    let mut state = ClientState::load(&state_path)?;
    if let Some(previous) = state.checkpoints.get(&cp.checkpoint.origin) {
        check_consistency(&client, &a.vkey, previous, &cp).await?;
    }

    let commitment_leaf = included_entry(&client, &a.vkey, &cp, a.index).await?;
    let commitment = typed(&commitment_leaf, Kind::ModelCommitment, a.index)?;
    let Predicate::ModelCommitment(c) = &commitment.predicate else {
        unreachable!("parsed as a commitment")
    };

    // Signed by a key the log's own registration entries bound to the platform and had not
    // revoked at the commitment's index.
    signer_valid_at(
        &client,
        &a.vkey,
        &cp,
        &commitment_leaf,
        &c.platform,
        a.index,
    )
    .await?;

    let view = client.commitment(a.index).await?;
    let reveal_index = view
        .commitment
        .reveal
        .as_ref()
        .map(|r| r.index)
        .with_context(|| {
            format!(
                "commitment {} is {}: its model has not been revealed",
                a.index,
                format!("{:?}", view.status).to_lowercase()
            )
        })?;
    let reveal_leaf = included_entry(&client, &a.vkey, &cp, reveal_index).await?;
    reveal_leaf
        .envelope
        .verify(|id| (id == a.vkey.key_ref()).then_some(&a.vkey))
        .context("the reveal entry is not signed by the log")?;
    let reveal = typed(&reveal_leaf, Kind::Reveal, reveal_index)?;
    let Predicate::Reveal(r) = &reveal.predicate else {
        unreachable!("parsed as a reveal")
    };
    ensure!(
        r.commitment == a.index && reveal.subject_digest == commitment.subject_digest,
        "reveal entry {reveal_index} is not about commitment {}",
        a.index
    );
    ensure!(
        r.matches_commitment != Some(false),
        "the log recorded that this commitment's revealed bytes do NOT match it"
    );

    let name = a
        .out
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("model");
    let partial = a.out.with_file_name(format!(".{name}.embargo-partial"));
    if partial.exists() {
        std::fs::remove_dir_all(&partial)?;
    }
    std::fs::create_dir_all(&partial)?;
    let resp = client.model(a.index).await?;
    let reader = tokio_util::io::SyncIoBridge::new(tokio_util::io::StreamReader::new(
        resp.bytes_stream().map_err(std::io::Error::other),
    ));
    let dir = partial.clone();
    let unpacked = tokio::task::spawn_blocking(move || unpack(reader, &dir)).await?;
    let manifest = match unpacked {
        Ok(m) => m,
        Err(e) => {
            let _ = std::fs::remove_dir_all(&partial);
            return Err(e.context("the download failed; nothing was kept"));
        }
    };
    let got = manifest.digest().to_hex();
    if got != commitment.subject_digest || manifest.total_size() != c.model.total_size {
        let _ = std::fs::remove_dir_all(&partial);
        bail!("the downloaded model hashes to {got}, but commitment {} is for {}: the log served other bytes; nothing was kept", a.index, commitment.subject_digest);
    }
    if a.out.exists() {
        std::fs::remove_dir(&a.out)?;
    }
    std::fs::rename(&partial, &a.out)
        .with_context(|| format!("cannot move the model into {}", a.out.display()))?;
    state
        .checkpoints
        .insert(cp.checkpoint.origin.clone(), cp.text.clone());
    state.save(&state_path)?;
    Ok(Fetched {
        model_name: c.model.name.clone(),
        model_version: c.model.version.clone(),
        platform: c.platform.clone(),
        digest: got,
        total_size: manifest.total_size(),
        file_count: manifest.file_count(),
        committed_at: commitment_leaf.logged_at.to_rfc3339(),
        reveal_index,
        on_time: r.on_time,
        checkpoint_size: cp.size(),
        origin: cp.checkpoint.origin.clone(),
    })
}

/// The inputs of [`fetch_verified`], named as `run`'s flags were.
struct FetchTarget {
    log: String,
    vkey: PublicKey,
    index: u64,
    out: PathBuf,
    state: Option<PathBuf>,
}
