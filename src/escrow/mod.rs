//! Timelocked escrow: the pure cryptographic core.
//!
//! A model is sealed into a binary age file whose 16-byte file key is wrapped
//! twice: once in a drand `tlock` stanza locked to one round of a
//! `bls-unchained-g1-rfc9380` chain (quicknet by default), and optionally once
//! in an X25519 stanza whose secret is split K-of-N (Shamir over GF(256)) among
//! trustees identified by their Ed25519 signed-note keys. Either the round
//! signature or K shares open the file.
//!
//! This module tree owns: drand chain info and BLS round-signature
//! verification ([`beacon`]), the tlock stanza ([`tlock`]), Shamir secret
//! sharing ([`shamir`]), trustee shares ([`trustee`]) and streaming
//! seal/open ([`seal`](mod@seal)).
//!
//! It never touches the network, the filesystem or a clock: every function is
//! pure over bytes, `Read` and `Write`. Fetching beacons, storing files and
//! deciding *when* to open are the caller's job. It never panics on untrusted
//! input: wrong signatures, wrong keys, garbage ciphertexts, bad shares and bad
//! chain info all come back as [`EscrowError`] (or, for corruption found while
//! streaming, as an `io::Error` from `read`).

pub mod beacon;
pub mod round_source;
pub mod seal;
pub mod shamir;
pub mod size;
pub mod tlock;
pub mod trustee;

pub use beacon::{Chain, TestBeacon, SUPPORTED_SCHEME};
pub use seal::{
    header, open_with_beacon, open_with_shares, seal, trustees_from_bytes, HeaderInfo, Lock, Sealed,
};
pub use size::max_ciphertext_size;
pub use trustee::{
    decrypt_share, trustee_age_identity, trustee_age_recipient, EncryptedShare, Share, Trustees,
    MAX_TRUSTEES,
};

use std::io;

/// Everything that can go wrong while sealing or opening an escrow.
///
/// Each message says what was wrong and what to do about it.
#[derive(Debug, thiserror::Error)]
pub enum EscrowError {
    /// The drand chain info could not be parsed or is inconsistent.
    #[error("invalid drand chain info: {0}; fetch it again from <relay>/<chain hash>/info")]
    ChainInfo(String),

    /// The chain uses a signature scheme this module cannot verify or timelock to.
    #[error(
        "drand scheme `{0}` is not supported: only `{SUPPORTED_SCHEME}` chains (such as quicknet) \
         can be used for timelocked escrow"
    )]
    UnsupportedScheme(String),

    /// The chain's public key is not a valid point of the right group.
    #[error(
        "invalid drand public key: {0}; it must be a 96-byte compressed BLS12-381 G2 point \
         (hex in the chain info's `public_key`)"
    )]
    PublicKey(String),

    /// The chain hash in the info does not match the hash of its fields.
    #[error(
        "drand chain hash mismatch: the info says {claimed} but its fields hash to {computed}; \
         the chain info was altered or belongs to another chain"
    )]
    ChainHash { claimed: String, computed: String },

    /// A round number that cannot be used.
    #[error("invalid drand round: {0}")]
    Round(String),

    /// The round signature does not verify.
    #[error(
        "the signature is not chain {chain}'s signature for round {round}: {reason}; \
         fetch it again from <relay>/{chain}/public/{round}"
    )]
    Signature {
        chain: String,
        round: u64,
        reason: String,
    },

    /// The trustee set of a lock is unusable.
    #[error("invalid trustees: {0}")]
    Trustees(String),

    /// The input is not an age file (or is damaged before the payload).
    #[error("not a readable age escrow file: {0}")]
    Format(String),

    /// The file is timelocked to another chain.
    #[error(
        "this escrow is timelocked to drand chain {found}, not {expected}; open it with the \
         chain named in its header"
    )]
    WrongChain { expected: String, found: String },

    /// The file is timelocked to another round.
    #[error(
        "this escrow is timelocked to round {found}, not round {expected}; fetch the signature \
         for round {found}"
    )]
    WrongRound { expected: u64, found: u64 },

    /// The file has no (usable) tlock stanza.
    #[error("this age file has no drand tlock stanza, so it cannot be opened with a beacon")]
    NoTlockStanza,

    /// The file has no X25519 stanza for the trustees' key.
    #[error(
        "this escrow cannot be opened with these shares: the file has no trustee stanza for the \
         key they reconstruct (wrong escrow file, or it was sealed without trustees)"
    )]
    NoTrusteeStanza,

    /// The tlock stanza body is malformed or does not decrypt with a valid signature.
    #[error(
        "the tlock stanza of this escrow is corrupt: {0}; the file was damaged or tampered with \
         and cannot be opened with the beacon"
    )]
    CorruptStanza(String),

    /// The age header authenticated nothing we can open.
    #[error("failed to open the escrow: {0}")]
    Open(String),

    /// Fewer shares than the threshold.
    #[error("not enough trustee shares: have {have} distinct, need {need}; collect more shares")]
    NotEnoughShares { have: usize, need: usize },

    /// Shares that cannot belong to the same escrow.
    #[error("shares do not belong together: {0}")]
    MismatchedShares(String),

    /// K shares that combine to the wrong key.
    #[error(
        "the shares do not reconstruct the escrow key: at least one is corrupt; check each \
         against its published digest"
    )]
    SharesDoNotReconstruct,

    /// A share that cannot be parsed.
    #[error("invalid share: {0}")]
    Share(String),

    /// A share whose SHA3-256 differs from the committed digest.
    #[error(
        "share digest mismatch: the share hashes to {computed} but the commitment says \
         {expected}; this share is not the one that was sealed"
    )]
    ShareDigest { expected: String, computed: String },

    /// An encrypted share addressed to another trustee.
    #[error("this encrypted share is for trustee {expected}, not for the key {given}")]
    WrongTrustee { expected: String, given: String },

    /// Encryption failed.
    #[error("encryption failed: {0}")]
    Encrypt(String),

    /// An I/O error of the caller's reader or writer.
    #[error("I/O error: {0}")]
    Io(#[from] io::Error),
}
