use anyhow::{bail, Context};
use embargo::client::verify::{check_witnessed, WitnessRequirement};
use embargo::client::Client;
use embargo::core::checkpoint::SignedCheckpoint;
use embargo::core::note::PublicKey;
use embargo::core::proof::TlogProof;
use embargo::core::tlog;
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct Args {
    /// The log's verifier key.
    #[arg(long)]
    vkey: PublicKey,
    /// The logged entry (leaf bytes) the proof is for.
    #[arg(long, requires = "proof")]
    entry: Option<PathBuf>,
    /// The .tlog-proof file.
    proof: Option<PathBuf>,
    /// An older checkpoint file (for a consistency check).
    #[arg(long, requires = "new", conflicts_with = "entry")]
    old: Option<PathBuf>,
    /// A newer checkpoint file.
    #[arg(long, requires = "old")]
    new: Option<PathBuf>,
    /// Where to fetch the consistency proof from.
    #[arg(long, value_parser = super::log_url)]
    log: Option<String>,
    /// Witnesses the proof's checkpoint (or the --new checkpoint) must be cosigned by.
    #[command(flatten)]
    witnesses: super::WitnessFlags,
}

fn read(path: &PathBuf) -> anyhow::Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))
}

pub async fn run(a: Args) -> anyhow::Result<()> {
    let required = a.witnesses.requirement()?;
    let required = required.as_ref();
    match (a.entry, a.proof, a.old, a.new) {
        (Some(entry), Some(proof), None, None) => {
            verify_inclusion(&a.vkey, &entry, &proof, required)
        }
        (None, None, Some(old), Some(new)) => {
            let log = a
                .log
                .context("a consistency check needs --log URL to fetch the proof from")?;
            verify_consistency(&a.vkey, &old, &new, &log, required).await
        }
        _ => bail!("use either `--entry FILE PROOF` or `--old CP --new CP --log URL`"),
    }
}

fn verify_inclusion(
    vkey: &PublicKey,
    entry: &PathBuf,
    proof: &PathBuf,
    required: Option<&WitnessRequirement>,
) -> anyhow::Result<()> {
    let entry_bytes =
        std::fs::read(entry).with_context(|| format!("cannot read {}", entry.display()))?;
    let proof = TlogProof::parse(&read(proof)?)?;
    let cp = proof.verify(vkey, &entry_bytes)?;
    check_witnessed(&cp, required)?;
    println!(
        "OK: {} is entry {} of {} at tree size {}",
        entry.display(),
        proof.index,
        cp.checkpoint.origin,
        cp.size()
    );
    Ok(())
}

async fn verify_consistency(
    vkey: &PublicKey,
    old: &PathBuf,
    new: &PathBuf,
    log: &str,
    required: Option<&WitnessRequirement>,
) -> anyhow::Result<()> {
    let old_cp = SignedCheckpoint::verify(&read(old)?, vkey)
        .with_context(|| format!("{} is not a valid checkpoint", old.display()))?;
    let new_cp = SignedCheckpoint::verify(&read(new)?, vkey)
        .with_context(|| format!("{} is not a valid checkpoint", new.display()))?;
    check_witnessed(&new_cp, required)?;
    let (o, n) = (old_cp.size(), new_cp.size());
    if o > n {
        bail!("the old checkpoint ({o} entries) is larger than the new one ({n}): swap --old and --new");
    }
    if o == 0 {
        println!("OK: every tree extends the empty tree");
        return Ok(());
    }
    let proof = if o == n {
        Vec::new()
    } else {
        Client::new(log).consistency_proof(o, n).await?
    };
    tlog::verify_consistency(&proof, o, old_cp.root(), n, new_cp.root())
        .context("the two checkpoints are NOT consistent: the log forked or rewrote history; keep both files as evidence")?;
    println!("OK: the tree of size {n} extends the tree of size {o}");
    Ok(())
}
