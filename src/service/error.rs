//! The refusals of the application layer, by what went wrong. Each variant carries the message
//! for a person (what was wrong and what to do); `server/error.rs` gives each one its HTTP
//! status and stable code, in one place.

use super::submit::SubmitError;
use crate::log::registry::AdmitError;
use crate::log::LogError;

/// Why a request about a commitment (its reveal, its model, its escrow) was refused.
#[derive(Debug, thiserror::Error)]
pub enum CommitmentError {
    #[error("there is no model commitment at entry {0}")]
    NoSuchCommitment(u64),
    #[error("commitment {index} was already revealed at entry {at}")]
    AlreadyRevealed { index: u64, at: u64 },
    #[error("another reveal of commitment {0} is in progress; wait for it")]
    RevealInProgress(u64),
    #[error("another deposit of commitment {0}'s escrow is in progress; retry when it has ended")]
    DepositInProgress(u64),
    #[error(transparent)]
    Busy(#[from] super::admission::Busy),
    /// The reveal request's signature header is malformed or does not verify.
    #[error("{0}")]
    BadRevealSignature(String),
    /// Before `reveal_at`, and not allowed then.
    #[error("{0}")]
    Sealed(String),
    /// The model has not been revealed (yet).
    #[error("{0}")]
    NotRevealed(String),
    /// An upload's model stream ended early.
    #[error("{0}")]
    Truncated(String),
    /// An upload or deposit is smaller than committed.
    #[error("{0}")]
    TooSmall(String),
    /// An upload or deposit is larger than committed.
    #[error("{0}")]
    TooLarge(String),
    /// Reading the request's body failed.
    #[error("{0}")]
    UploadFailed(String),
    /// The upload is not a model stream.
    #[error("{0}")]
    BadStream(String),
    #[error("{0}")]
    WrongFileCount(String),
    /// The bytes are whole but not the committed ones.
    #[error("{0}")]
    DigestMismatch(String),
    #[error("{0}")]
    NoEscrow(String),
    /// A deposit's tlock header does not lock it as committed.
    #[error("{0}")]
    EscrowLockMismatch(String),
    #[error("{0}")]
    NotDeposited(String),
    #[error("{0}")]
    UnknownBeacon(String),
    /// A signature that is not even well-formed (not hex, not base64).
    #[error("{0}")]
    BadSignature(String),
    #[error("{0}")]
    BadBeaconSignature(String),
    /// A round signature before the round's publication time.
    #[error("{0}")]
    RoundNotDue(String),
    #[error("{0}")]
    NoEscrowForRound(String),
    #[error("{0}")]
    NotATrustee(String),
    #[error("{0}")]
    BadShareSignature(String),
    #[error("{0}")]
    BadShare(String),
    #[error("{0}")]
    ShareMismatch(String),
    /// The escrow is opened, found invalid, never deposited, or being opened.
    #[error("{0}")]
    NotOpenable(String),
    /// A local failure (disk, a task): nothing was stored.
    #[error("{0}")]
    Internal(String),
    #[error(transparent)]
    Registry(#[from] AdmitError),
    #[error(transparent)]
    Log(#[from] LogError),
    #[error(transparent)]
    Submit(Box<SubmitError>),
}

impl From<SubmitError> for CommitmentError {
    fn from(e: SubmitError) -> CommitmentError {
        CommitmentError::Submit(Box::new(e))
    }
}
