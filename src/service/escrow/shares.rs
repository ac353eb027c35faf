//! Trustees' shares: each is checked (a trustee of this escrow, its signature, after
//! `reveal_at`, the share's published digest) and kept durably until `threshold` are in; then
//! the escrow opens with the key they rebuild.

use super::opening::{not_openable, open_and_log, Busy, Key};
use super::{escrow_of, SHARES};
use crate::api::{ShareAnswer, SharePost};
use crate::core::predicate::{hex, EscrowOpening, OpenedWith, PostedShare};
use crate::escrow::Share;
use crate::log::blobs::BlobStore;
use crate::log::registry::{rfc3339, share_request_message};
use crate::service::commitments::find;
use crate::service::error::CommitmentError;
use crate::service::AppState;
use base64::prelude::{Engine, BASE64_STANDARD};
use chrono::Utc;
use std::io::{self, Write};

/// Takes a trustee's share of commitment `index`'s escrow, after `reveal_at`; opens the
/// escrow and logs the reveal once `threshold` shares are in.
pub async fn post_share(
    s: &AppState,
    index: u64,
    p: &SharePost,
) -> Result<ShareAnswer, CommitmentError> {
    let c = find(s, index)?;
    let e = escrow_of(&c)?.clone();
    let threshold = e.threshold.unwrap_or(0);
    let Some(trustee) = e.trustees.iter().find(|t| t.key.key_ref() == p.trustee) else {
        return Err(CommitmentError::NotATrustee(format!(
            "{} is not a trustee of commitment {}'s escrow (its trustees: {})",
            p.trustee,
            c.index,
            if e.trustees.is_empty() {
                "none".into()
            } else {
                e.trustees
                    .iter()
                    .map(|t| t.key.key_ref())
                    .collect::<Vec<_>>()
                    .join(", ")
            }
        )));
    };
    let sig = BASE64_STANDARD
        .decode(&p.signature)
        .map_err(|_| CommitmentError::BadSignature("the signature is not base64".into()))?;
    let msg = share_request_message(s.log.origin(), c.index, &trustee.share_digest);
    if !trustee.key.verify(&msg, &sig) {
        return Err(CommitmentError::BadShareSignature(format!(
            "the signature by {} does not verify over this share request (embargo escrow share signs it)",
            p.trustee
        )));
    }
    if Utc::now() < c.reveal_at {
        return Err(CommitmentError::Sealed(format!(
            "commitment {} is sealed until {}: trustees may open its escrow only after that",
            c.index,
            rfc3339(c.reveal_at)
        )));
    }
    let share = Share::from_text(p.share.trim()).map_err(|err| {
        CommitmentError::BadShare(format!(
            "{err}: post the share `embargo escrow share` decrypts"
        ))
    })?;
    let digest = hex(&share.digest());
    if digest != trustee.share_digest {
        return Err(CommitmentError::ShareMismatch(format!(
            "this share's SHA3-256 is {digest}, but commitment {} published {} for {}: it is not your share of this escrow",
            c.index, trustee.share_digest, p.trustee
        )));
    }
    if let Some(reason) = not_openable(s, &c) {
        return Err(CommitmentError::NotOpenable(format!(
            "commitment {}'s escrow cannot be opened: {reason}",
            c.index
        )));
    }
    store_share(s.log.blobs(), &digest, &p.share)
        .map_err(|e| CommitmentError::Internal(format!("storing the share failed: {e}")))?;
    let posted: Vec<(String, Share)> = e
        .trustees
        .iter()
        .filter_map(|t| {
            let text = std::fs::read_to_string(s.log.blobs().path(SHARES, &t.share_digest)).ok()?;
            Some((t.key.key_ref(), Share::from_text(text.trim()).ok()?))
        })
        .collect();
    let mut answer = ShareAnswer {
        commitment: c.index,
        shares_posted: posted.len(),
        threshold,
        opened: None,
    };
    if posted.len() >= threshold as usize {
        let evidence = EscrowOpening {
            opened_with: OpenedWith::Trustees,
            ciphertext_digest: e.ciphertext_digest.clone(),
            chain_hash: None,
            round: None,
            signature: None,
            shares: posted
                .iter()
                .map(|(trustee, share)| PostedShare {
                    trustee: trustee.clone(),
                    share: share.to_text(),
                })
                .collect(),
            opened_digest: None,
            error: None,
        };
        let shares = posted.into_iter().map(|(_, s)| s).collect();
        match open_and_log(s, &c, Key::Shares(shares), evidence).await {
            Ok(o) => answer.opened = Some(o),
            Err(Busy(reason)) => return Err(CommitmentError::NotOpenable(reason)),
        }
    }
    Ok(answer)
}

/// Keeps a posted share (durably, named by its digest) until the escrow opens.
fn store_share(blobs: &BlobStore, digest: &str, text: &str) -> io::Result<()> {
    if blobs.exists(SHARES, digest) {
        return Ok(());
    }
    let mut blob = blobs.create_temp()?;
    blob.write_all(text.trim().as_bytes())?;
    blob.commit(SHARES, digest)?;
    Ok(())
}
