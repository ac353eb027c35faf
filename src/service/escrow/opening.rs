//! Opening escrows: by a drand round signature (every deposited escrow locked to that round),
//! or by a key the trustees' shares rebuild; each opening logs one reveal by escrow, valid or
//! not. A local failure (disk, a task) logs nothing: it must never be mistaken for a
//! ciphertext that does not open, which would accuse the platform in public.

use super::{deposited, CIPHERTEXTS};
use crate::api::{Opened, OpenedEscrow, RoundSignature, Skipped};
use crate::core::predicate::{hex, statement, EscrowOpening, Kind, OpenedWith, Reveal, RevealedBy};
use crate::escrow::{self, Chain, Share};
use crate::log::blobs::BlobStore;
use crate::log::registry::{rfc3339, Commitment};
use crate::model::model_stream::Header;
use crate::model::pipeline;
use crate::service::commitments::{keep_if_committed, NotKept, RevealGuard};
use crate::service::error::CommitmentError;
use crate::service::AppState;
use chrono::Utc;
use std::io::{self, BufReader, Read};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// Opens every deposited escrow locked to a posted round signature (of quicknet if the post
/// names no chain).
pub async fn open_posted_round(
    s: &AppState,
    r: &RoundSignature,
) -> Result<Opened, CommitmentError> {
    let chain_hash = r
        .chain_hash
        .clone()
        .unwrap_or_else(|| hex(&Chain::quicknet().chain_hash));
    let chain = s
        .log
        .registry()
        .policy
        .beacon(&chain_hash)
        .cloned()
        .ok_or_else(|| {
            CommitmentError::UnknownBeacon(format!(
                "this log does not follow drand chain {chain_hash}: see GET /v1/beacon"
            ))
        })?;
    // A drand signature is a G1 point (quicknet, 48 bytes) or a G2 point (96 bytes).
    if r.signature.len() > 2 * 96 {
        return Err(CommitmentError::BadSignature(format!(
            "the signature is {} characters; a drand round signature is 96 (quicknet) or 192 hex digits",
            r.signature.len()
        )));
    }
    let signature = super::decode_hex(&r.signature)
        .ok_or_else(|| CommitmentError::BadSignature("the signature must be hex".into()))?;
    open_round(s, &chain, r.round, &signature).await
}

/// Verifies a round signature and opens every deposited escrow locked to it.
pub async fn open_round(
    s: &AppState,
    chain: &Chain,
    round: u64,
    signature: &[u8],
) -> Result<Opened, CommitmentError> {
    let chain_hex = hex(&chain.chain_hash);
    chain.verify(round, signature).map_err(|e| {
        CommitmentError::BadBeaconSignature(format!(
            "{e} (round {round} of chain {chain_hex}): nothing was opened"
        ))
    })?;
    let published = chain.round_time(round);
    if Utc::now() < published {
        return Err(CommitmentError::RoundNotDue(format!(
            "round {round} of chain {chain_hex} is not published until {}: a signature before then means the beacon's key leaked, and this log opens no escrow early",
            rfc3339(published)
        )));
    }
    let locked = s
        .log
        .registry()
        .escrows_locked_to(&chain.chain_hash, round)?;
    if locked.is_empty() {
        return Err(CommitmentError::NoEscrowForRound(format!(
            "no escrow in this log is locked to round {round} of chain {chain_hex}: an escrow opens only with the signature of its own lock_round (GET /v1/commitments/<index> shows it)"
        )));
    }
    let mut out = Opened::default();
    for index in locked {
        let Some(c) = s.log.registry().commitment(index)? else {
            continue;
        };
        if let Some(reason) = not_openable(s, &c) {
            out.skipped.push(Skipped {
                commitment: index,
                reason,
            });
            continue;
        }
        let evidence = EscrowOpening {
            opened_with: OpenedWith::Beacon,
            ciphertext_digest: c
                .escrow
                .as_ref()
                .map(|e| e.ciphertext_digest.clone())
                .unwrap_or_default(),
            chain_hash: Some(chain_hex.clone()),
            round: Some(round),
            signature: Some(hex(signature)),
            shares: Vec::new(),
            opened_digest: None,
            error: None,
        };
        let key = Key::Beacon {
            chain: chain.clone(),
            round,
            signature: signature.to_vec(),
        };
        match open_and_log(s, &c, key, evidence).await {
            Ok(o) => out.opened.push(o),
            Err(Busy(reason)) => out.skipped.push(Skipped {
                commitment: index,
                reason,
            }),
        }
    }
    Ok(out)
}

/// Why an escrow cannot be opened now, if it cannot.
pub(crate) fn not_openable(s: &AppState, c: &Commitment) -> Option<String> {
    if let Some(r) = c.reveal.as_ref().filter(|r| r.matches_commitment) {
        return Some(format!("already revealed at entry {}", r.index));
    }
    if let Some(at) = c.escrow_invalid {
        return Some(format!(
            "its escrow was already found invalid at entry {at}"
        ));
    }
    if !deposited(s.log.blobs(), c) {
        return Some(format!(
            "its ciphertext was never deposited: {} must reveal the model itself",
            c.platform
        ));
    }
    None
}

/// What opens an escrow.
pub(crate) enum Key {
    Beacon {
        chain: Chain,
        round: u64,
        signature: Vec<u8>,
    },
    Shares(Vec<Share>),
}

/// Another opening or reveal of the commitment is in progress, or it has just finished.
pub(crate) struct Busy(pub String);

/// Opens `c`'s escrow with `key` and logs the reveal by escrow, valid or not.
pub(crate) async fn open_and_log(
    s: &AppState,
    c: &Commitment,
    key: Key,
    mut evidence: EscrowOpening,
) -> Result<OpenedEscrow, Busy> {
    let _guard = RevealGuard::acquire(s, c.index)
        .map_err(|_| Busy("another reveal or opening of this commitment is in progress".into()))?;
    // Read again under the guard: an opening that just finished must not be repeated.
    let c = match s.log.registry().commitment(c.index) {
        Ok(Some(c)) => c,
        _ => return Err(Busy("the commitment could not be read".into())),
    };
    if let Some(reason) = not_openable(s, &c) {
        return Err(Busy(reason));
    }
    let log = s.log.clone();
    let commitment = c.clone();
    let outcome =
        tokio::task::spawn_blocking(move || open_into_blob(&commitment, key, log.blobs()))
            .await
            .map_err(|e| Busy(format!("opening failed: {e}")))?
            .map_err(|e| {
                Busy(format!(
                    "opening stopped on a local error, nothing was logged: {e}"
                ))
            })?;
    let matches = matches!(outcome, Outcome::Committed);
    if let Outcome::Invalid {
        opened_digest,
        error,
    } = outcome
    {
        evidence.opened_digest = opened_digest;
        evidence.error = Some(error);
    }
    let predicate = Reveal {
        commitment: c.index,
        revealed_by: RevealedBy::Escrow,
        revealer: None,
        on_time: Utc::now() < c.overdue_at,
        location: if matches {
            format!("v1/commitments/{}/model", c.index)
        } else {
            format!("v1/commitments/{}/escrow", c.index)
        },
        total_size: c.model.total_size,
        matches_commitment: Some(matches),
        escrow: Some(evidence),
    };
    let st = statement(
        Kind::Reveal,
        &c.model.name,
        "sha3-256",
        &c.model_digest,
        &predicate,
    );
    let reveal = crate::service::submit::log_statement(s, Kind::Reveal, st)
        .await
        .map_err(|e| Busy(format!("logging the reveal failed: {e}")))?;
    if matches {
        tracing::info!(commitment = c.index, entry = reveal.index, "escrow opened");
    } else {
        tracing::warn!(commitment = c.index, entry = reveal.index, "escrow invalid");
    }
    Ok(OpenedEscrow {
        commitment: c.index,
        matches_commitment: matches,
        reveal,
    })
}

/// What an escrow opened to.
enum Outcome {
    /// The committed model; its blob is stored.
    Committed,
    /// Other bytes, or nothing: the evidence for an escrow-invalid reveal.
    Invalid {
        opened_digest: Option<String>,
        error: String,
    },
}

/// A reader that remembers whether *it* failed, so a local disk error is never mistaken
/// for a ciphertext that does not open (which would accuse the platform in public).
struct Watched<R> {
    inner: R,
    failed: Arc<AtomicBool>,
}

impl<R: Read> Read for Watched<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.read(buf).inspect_err(|_| {
            self.failed.store(true, Ordering::Relaxed);
        })
    }
}

/// Decrypts `c`'s ciphertext as a stream through the model hasher into a temporary blob,
/// kept under the model digest only if it is the committed model. `Err` only for local
/// failures (reading the ciphertext, writing the blob): those log nothing.
fn open_into_blob(c: &Commitment, key: Key, blobs: &BlobStore) -> io::Result<Outcome> {
    let e = c.escrow.as_ref().expect("checked by not_openable");
    let read_failed = Arc::new(AtomicBool::new(false));
    let file = std::fs::File::open(blobs.path(CIPHERTEXTS, e.ciphertext_hex()))?;
    let ciphertext = BufReader::with_capacity(
        1 << 20,
        Watched {
            inner: file,
            failed: read_failed.clone(),
        },
    );
    let invalid = |error: String| {
        Ok(Outcome::Invalid {
            opened_digest: None,
            error,
        })
    };
    let plain: Box<dyn Read + Send> = match key {
        Key::Beacon {
            chain,
            round,
            signature,
        } => match escrow::open_with_beacon(&chain, round, &signature, ciphertext) {
            Ok(r) => Box::new(r),
            Err(err) if read_failed.load(Ordering::Relaxed) => return Err(io::Error::other(err)),
            Err(err) => {
                return invalid(format!(
                    "the escrow does not open with the round signature: {err}"
                ))
            }
        },
        Key::Shares(shares) => match escrow::open_with_shares(&shares, ciphertext) {
            Ok(r) => Box::new(r),
            Err(err) if read_failed.load(Ordering::Relaxed) => return Err(io::Error::other(err)),
            Err(err) => {
                return invalid(format!(
                    "the escrow does not open with the trustees' shares: {err}"
                ))
            }
        },
    };
    // Decryption runs a thread ahead of parsing and hashing, and the blob is written on a
    // third, so the stages overlap.
    let mut r = BufReader::with_capacity(1 << 20, pipeline::read_ahead(plain));
    let header = match Header::read_from(&mut r) {
        Ok(h) => h,
        Err(err) if read_failed.load(Ordering::Relaxed) => {
            return Err(io::Error::other(err.to_string()))
        }
        Err(err) => {
            return invalid(format!(
                "the escrow opened, but not to a model stream: {err}"
            ))
        }
    };
    if header.total_size() > c.model.total_size {
        return invalid(format!(
            "the escrow opened to a {}-byte model, but the commitment is for {} bytes",
            header.total_size(),
            c.model.total_size
        ));
    }
    match keep_if_committed(&header, &mut r, c, blobs) {
        Ok(()) => {}
        Err(NotKept::Local(e)) => return Err(e),
        Err(NotKept::Stream(err)) if read_failed.load(Ordering::Relaxed) => {
            return Err(io::Error::other(err.to_string()))
        }
        Err(NotKept::Stream(err)) => {
            return invalid(format!(
                "the escrow's plaintext is not a whole model stream: {err}"
            ))
        }
        Err(NotKept::Digest(got)) => {
            return Ok(Outcome::Invalid {
                error: format!(
                    "the escrow opened to a model with digest {got}, not the committed {}",
                    c.model_digest
                ),
                opened_digest: Some(got),
            })
        }
    }
    Ok(Outcome::Committed)
}
