//! Timelocked escrows: the ciphertext's deposit ([`deposit`]), and the two ways an escrow
//! opens: a drand round signature ([`opening`], posted by anyone or fetched by the
//! [`watcher`] from a [`RoundSource`]) or trustees' shares ([`shares`]).
//!
//! Opening verifies the signature (or each share against its published digest) before any
//! decryption, decrypts as a stream through the model hasher into a temporary blob, and logs a
//! reveal by escrow: matching the commitment, or not (escrow-invalid, with the evidence).
//! Nothing opens before the round's publication time, which is never before `reveal_at`.
//! The crypto is in [`crate::escrow`]; this module never decrypts anything itself, never
//! speaks HTTP and never fetches a round itself.

pub mod deposit;
pub mod opening;
pub mod shares;
pub mod watcher;

pub use watcher::{watch_beacons, RoundSource};

use super::error::CommitmentError;
use crate::api::Chains;
use crate::core::predicate::Escrow;
use crate::log::blobs::BlobStore;
use crate::log::registry::Commitment;

/// Blob namespace of deposited ciphertexts (named by their chunk-tree root).
pub const CIPHERTEXTS: &str = "escrow";
/// Blob namespace of trustees' posted shares (named by the share's SHA3-256).
pub const SHARES: &str = "escrow-share";

/// `c`'s escrow, or the refusal for a commitment without one.
pub fn escrow_of(c: &Commitment) -> Result<&Escrow, CommitmentError> {
    c.escrow.as_ref().ok_or_else(|| {
        CommitmentError::NoEscrow(format!(
            "commitment {} has no escrow: its model opens only when {} reveals it",
            c.index, c.platform
        ))
    })
}

/// Whether this commitment's ciphertext is in the blob store.
pub fn deposited(blobs: &BlobStore, c: &Commitment) -> bool {
    c.escrow
        .as_ref()
        .is_some_and(|e| blobs.exists(CIPHERTEXTS, e.ciphertext_hex()))
}

/// The chains escrows may be locked to.
pub fn chains(s: &super::AppState) -> Chains {
    Chains {
        chains: s.log.registry().policy.beacons.clone(),
    }
}

pub use crate::escrow::round_source::decode_hex;
