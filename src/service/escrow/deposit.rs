//! The deposit of an escrow's ciphertext, and its download. A deposit is kept only if it
//! hashes to the committed digest and its tlock stanza names the committed chain and round.
//! One deposit per commitment at a time, and at most the admitted number of uploads at once
//! ([`crate::service::admission`]): each is read on a blocking thread, so that bound is what
//! keeps slow clients from taking the threads the rest of the API needs.

use super::{deposited, escrow_of, CIPHERTEXTS};
use crate::api::Deposited;
use crate::core::predicate::{hex, Escrow};
use crate::escrow;
use crate::log::blobs::BlobStore;
use crate::log::registry::Commitment;
use crate::model::digest::FileHasher;
use crate::model::pipeline;
use crate::service::commitments::find;
use crate::service::error::CommitmentError;
use crate::service::AppState;
use std::io::{self, Read, Write};

/// How much of a deposit's start is kept to read the age header from.
const HEADER_PREFIX: usize = 64 * 1024;

fn internal(what: &str) -> impl Fn(io::Error) -> CommitmentError + '_ {
    move |e| CommitmentError::Internal(format!("{what} failed: {e}"))
}

/// Deposits commitment `index`'s ciphertext, read from `body` (not read at all if the log
/// already holds it: then `stored` is false).
pub async fn deposit(
    s: &AppState,
    index: u64,
    body: impl Read + Send + 'static,
) -> Result<Deposited, CommitmentError> {
    let c = find(s, index)?;
    let e = escrow_of(&c)?.clone();
    let answer = |stored| Deposited {
        commitment: c.index,
        ciphertext_digest: e.ciphertext_digest.clone(),
        ciphertext_size: e.ciphertext_size,
        stored,
    };
    if deposited(s.log.blobs(), &c) {
        return Ok(answer(false));
    }
    let _guard = s
        .admission
        .start_deposit(c.index)
        .ok_or(CommitmentError::DepositInProgress(c.index))?;
    if deposited(s.log.blobs(), &c) {
        return Ok(answer(false));
    }
    let _slot = s.admission.upload()?;
    let log = s.log.clone();
    let (commitment, escrow) = (c.clone(), e.clone());
    tokio::task::spawn_blocking(move || {
        receive_ciphertext(body, &commitment, &escrow, log.blobs())
    })
    .await
    .map_err(|e| CommitmentError::Internal(e.to_string()))??;
    tracing::info!(
        commitment = c.index,
        size = e.ciphertext_size,
        "escrow deposited"
    );
    Ok(answer(true))
}

/// Streams a deposit into a temporary blob, hashing it; keeps it only if it is the committed
/// ciphertext, locked as committed.
fn receive_ciphertext(
    mut reader: impl Read,
    c: &Commitment,
    e: &Escrow,
    blobs: &BlobStore,
) -> Result<(), CommitmentError> {
    let mut blob = pipeline::write_behind(
        blobs
            .create_temp()
            .map_err(internal("storing the deposit"))?,
    );
    let mut hasher = FileHasher::new();
    let mut prefix = Vec::with_capacity(HEADER_PREFIX);
    let mut buf = vec![0u8; 1 << 20];
    let mut received: u64 = 0;
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
            Err(err) => {
                return Err(CommitmentError::UploadFailed(format!(
                    "reading the deposit failed ({err}): nothing was stored; retry"
                )))
            }
        };
        received += n as u64;
        if received > e.ciphertext_size {
            return Err(CommitmentError::TooLarge(format!(
                "the deposit is over the committed {} bytes: nothing was stored",
                e.ciphertext_size
            )));
        }
        let bytes = &buf[..n];
        if prefix.len() < HEADER_PREFIX {
            let take = (HEADER_PREFIX - prefix.len()).min(n);
            prefix.extend_from_slice(&bytes[..take]);
        }
        hasher.update(bytes);
        blob.write_all(bytes)
            .map_err(internal("storing the deposit"))?;
    }
    if received < e.ciphertext_size {
        return Err(CommitmentError::TooSmall(format!(
            "the deposit ended after {received} bytes; commitment {} escrows {} bytes: nothing was stored",
            c.index, e.ciphertext_size
        )));
    }
    let (root, _) = hasher.finish();
    let got = hex(&root);
    if got != e.ciphertext_hex() {
        return Err(CommitmentError::DigestMismatch(format!(
            "the deposit's digest is sha3-256:{got}, but commitment {} escrows {}: these are not the committed bytes; nothing was stored",
            c.index, e.ciphertext_digest
        )));
    }
    check_lock(&prefix, c, e)?;
    blob.finish()
        .and_then(|b| b.commit(CIPHERTEXTS, e.ciphertext_hex()))
        .map_err(internal("storing the deposit"))?;
    Ok(())
}

/// The ciphertext's age header must lock it as the commitment says, or it would never open.
fn check_lock(prefix: &[u8], c: &Commitment, e: &Escrow) -> Result<(), CommitmentError> {
    let refuse = |why: String| {
        CommitmentError::EscrowLockMismatch(format!(
            "{why}: nothing was stored (seal the model with `embargo commit --escrow tlock`)"
        ))
    };
    let lock = escrow::header(&mut &prefix[..])
        .map_err(|err| refuse(format!("the deposit is not a tlock age file ({err})")))?;
    if lock.round != e.lock_round || hex(&lock.chain_hash) != e.chain_hash {
        return Err(refuse(format!(
            "the deposit is locked to round {} of chain {}, but commitment {} says round {} of chain {}",
            lock.round,
            hex(&lock.chain_hash),
            c.index,
            e.lock_round,
            e.chain_hash
        )));
    }
    if (lock.x25519_stanzas > 0) == e.trustees.is_empty() {
        return Err(refuse(if e.trustees.is_empty() {
            "the deposit has a trustee stanza but the commitment names no trustees".into()
        } else {
            format!(
                "the deposit has no trustee stanza but commitment {} names {} trustees",
                c.index,
                e.trustees.len()
            )
        }));
    }
    Ok(())
}

/// Commitment `index`'s deposited ciphertext, opened for reading, with its escrow.
pub async fn ciphertext(
    s: &AppState,
    index: u64,
) -> Result<(Escrow, tokio::fs::File), CommitmentError> {
    let c = find(s, index)?;
    let e = escrow_of(&c)?;
    let path = s.log.blobs().path(CIPHERTEXTS, e.ciphertext_hex());
    let file = tokio::fs::File::open(&path).await.map_err(|_| {
        CommitmentError::NotDeposited(format!(
            "commitment {}'s escrow ciphertext has not been deposited; {} deposits it with PUT /v1/commitments/{}/escrow",
            c.index, c.platform, c.index
        ))
    })?;
    Ok((e.clone(), file))
}
