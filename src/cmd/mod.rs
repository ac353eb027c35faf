//! Subcommands of the `embargo` binary. Each parses its flags, calls the library and prints
//! a short report; errors carry what went wrong and what to do.

pub mod audit;
pub mod batch;
pub mod commit;
pub mod digest;
pub mod escrow;
pub mod fetch;
pub mod keygen;
pub mod monitor;
pub mod party;
pub mod receipt;
pub mod replay;
pub mod reveal;
pub mod serve;
pub mod status;
pub mod submit;
pub mod verify;
pub mod witness;

use anyhow::{bail, Context};
use embargo::api::SubmitResponse;
use embargo::client::verify::WitnessRequirement;
use embargo::client::Client;
use embargo::core::checkpoint::SignedCheckpoint;
use embargo::core::dsse::Envelope;
use embargo::core::note::PublicKey;
use embargo::core::proof::TlogProof;
use embargo::witness::cosignature::WitnessKey;
use std::path::Path;
use std::time::Duration;

/// `--witness VKEY` (repeatable) and `--witness-threshold K`: the witnesses whose
/// cosignatures a checkpoint must carry before a command relies on it. The check itself is
/// the library's ([`embargo::client::verify::WitnessRequirement`]).
#[derive(clap::Args, Clone, Default)]
pub struct WitnessFlags {
    /// A witness whose cosignature the log's checkpoint must carry, as its cosignature/v1
    /// vkey (repeatable). Without it, checkpoints are checked against --vkey alone.
    #[arg(long = "witness", value_name = "VKEY")]
    witnesses: Vec<WitnessKey>,
    /// How many of the --witness keys must have cosigned (default: all of them).
    #[arg(long, value_name = "K")]
    witness_threshold: Option<usize>,
}

impl WitnessFlags {
    pub fn requirement(&self) -> anyhow::Result<Option<WitnessRequirement>> {
        Ok(WitnessRequirement::new(
            self.witnesses.clone(),
            self.witness_threshold,
        )?)
    }
}

/// Largest data set `embargo audit` reads (it is held in memory whole): 2 GiB.
pub const MAX_DATA_SET: u64 = 2 << 30;
/// Largest suite, receipt or key file the CLI reads whole: 64 MiB.
pub const MAX_SMALL_FILE: u64 = 64 << 20;

/// Reads `path`, which must be a regular file (not a device, FIFO or directory) of at most
/// `max` bytes; `what` names it in the refusal.
pub fn read_regular(path: &Path, what: &str, max: u64) -> anyhow::Result<Vec<u8>> {
    use std::io::Read;
    let shown = path.display();
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            bail!("{what} {shown}: no such file")
        }
        Err(e) => bail!("{what} {shown}: cannot read it ({e})"),
    };
    if !meta.is_file() {
        bail!("{what} {shown} is not a regular file (a directory, device or pipe): give a file");
    }
    if meta.len() > max {
        bail!(
            "{what} {shown} is {} bytes; at most {max} are read",
            meta.len()
        );
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    std::fs::File::open(path)
        .and_then(|f| f.take(max + 1).read_to_end(&mut bytes))
        .map_err(|e| anyhow::anyhow!("{what} {shown}: cannot read it ({e})"))?;
    if bytes.len() as u64 > max {
        bail!("{what} {shown} grew past {max} bytes while it was read");
    }
    Ok(bytes)
}

/// An error's message with its causes, each said once: a cause whose text the message already
/// holds (a library error that quotes its source) is not repeated.
pub fn message(e: &anyhow::Error) -> String {
    let mut out = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if text.is_empty() || out.contains(&text) {
            continue;
        }
        if !out.is_empty() {
            out.push_str(": ");
        }
        out.push_str(&text);
    }
    out
}

/// A `--log` value: the log's base URL, `http://` or `https://`.
pub fn log_url(s: &str) -> Result<String, String> {
    let lower = s.to_ascii_lowercase();
    if lower.starts_with("http://") || lower.starts_with("https://") {
        return Ok(s.trim_end_matches('/').to_owned());
    }
    Err(format!(
        "{s:?} is not a URL: give the log's address with its scheme, e.g. http://{s}"
    ))
}

/// The log's verifier key: the pinned one, or (trust on first use) the one the log announces.
pub async fn log_key(client: &Client, pinned: Option<PublicKey>) -> anyhow::Result<PublicKey> {
    if let Some(k) = pinned {
        return Ok(k);
    }
    let info = client.info().await?;
    eprintln!(
        "note: trusting the key the log announces, {} (pass --vkey to pin it)",
        info.vkey
    );
    Ok(info.vkey.parse()?)
}

/// Checks a submission answer's proof against the log's key and saves the proof (and the
/// entry, beside it with extension `.entry.json`).
pub fn check_and_save(
    answer: &SubmitResponse,
    log_key: &PublicKey,
    out: &Path,
) -> anyhow::Result<SignedCheckpoint> {
    let proof = TlogProof::parse(&answer.tlog_proof)?;
    let cp = proof
        .verify(log_key, answer.entry.as_bytes())
        .context("the log's proof does not verify: do not rely on this entry")?;
    if proof.index != answer.index {
        bail!(
            "the log answered index {} but its proof is for {}",
            answer.index,
            proof.index
        );
    }
    let entry_out = out.with_extension("entry.json");
    std::fs::write(out, proof.to_text())
        .with_context(|| format!("cannot write {}", out.display()))?;
    std::fs::write(&entry_out, &answer.entry)
        .with_context(|| format!("cannot write {}", entry_out.display()))?;
    Ok(cp)
}

/// Submits an envelope, verifies the proof and saves it.
pub async fn submit_envelope(
    client: &Client,
    envelope: &Envelope,
    log_key: &PublicKey,
    out: &Path,
) -> anyhow::Result<(SubmitResponse, SignedCheckpoint)> {
    let answer = client.submit(envelope).await?;
    let cp = check_and_save(&answer, log_key, out)?;
    Ok((answer, cp))
}

pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
}

/// Parses durations such as `100ms`, `2s`, `5m`, `12h`, `365d`.
pub fn parse_duration(s: &str) -> anyhow::Result<Duration> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: u64 = num
        .parse()
        .with_context(|| format!("{s:?} is not a duration: use e.g. 100ms, 2s, 5m, 12h or 365d"))?;
    let unit_ms: u64 = match unit {
        "ms" => 1,
        "s" => 1000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => bail!("{s:?} has an unknown unit {unit:?}: use ms, s, m, h or d"),
    };
    let ms = n
        .checked_mul(unit_ms)
        .with_context(|| format!("{s:?} is too long"))?;
    Ok(Duration::from_millis(ms))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_with_units() {
        assert_eq!(parse_duration("100ms").unwrap(), Duration::from_millis(100));
        assert_eq!(
            parse_duration("365d").unwrap(),
            Duration::from_secs(365 * 86400)
        );
        assert!(parse_duration("10").is_err());
        assert!(parse_duration("ms").is_err());
        assert!(parse_duration("5 weeks").is_err());
    }
}
