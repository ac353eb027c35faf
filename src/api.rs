//! The HTTP API's bodies: what the server answers and the client reads, so both look down to
//! one definition (schema/openapi.yaml describes the same shapes, and tests/openapi_examples.rs
//! keeps them in step).
//!
//! Owns: request and response types, and the header names of the API.
//! Never: decides anything, does I/O, or knows axum or reqwest; it depends only on `core` and
//! the registry's records.

use crate::core::note::PublicKey;
use crate::core::predicate::Role;
use crate::escrow::Chain;
use crate::log::registry::{Commitment, Status};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Largest request body accepted by `POST /v1/entries` (the leaf limit plus room for
/// whitespace the log strips when it canonicalizes the envelope).
pub const MAX_REQUEST_BODY: usize = crate::core::entry::MAX_ENTRY_SIZE + 4096;

/// Most decision batches one commitment answer lists (the latest; all indices stay in
/// `decision_batches`).
pub const MAX_BATCHES_SHOWN: usize = 1000;

// ---- the log ----

#[derive(Serialize, Deserialize, Debug)]
pub struct ErrorBody {
    pub error: String,
    pub message: String,
}

/// What a client needs to know to use the log.
#[derive(Serialize, Deserialize, Debug)]
pub struct LogInfo {
    pub origin: String,
    pub vkey: String,
    /// The size of the log's own latest checkpoint (`/checkpoint/latest`).
    pub size: u64,
    pub max_entry_size: usize,
    /// The log's witness policy and how its witnesses are doing (absent without witnesses).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub witnessing: Option<WitnessingInfo>,
}

/// How the log gets its checkpoints cosigned, and how far the witnessed checkpoint lags.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct WitnessingInfo {
    /// How many of `witnesses` must cosign a checkpoint before `/checkpoint` serves it.
    pub policy: usize,
    /// Whether submissions are answered only once a checkpoint covering them meets the policy
    /// (`--ack-witnessed`); otherwise they are answered on the log's own checkpoint.
    pub ack_witnessed: bool,
    pub witnesses: Vec<WitnessInfo>,
    /// The size of the checkpoint `/checkpoint` serves (absent until one meets the policy).
    pub witnessed_size: Option<u64>,
    /// Entries logged but not yet covered by the witnessed checkpoint.
    pub lag_entries: u64,
    /// Age in seconds of the oldest entry not yet covered by the witnessed checkpoint (its
    /// `logged_at`); 0 when the witnessed checkpoint is the latest.
    pub lag_seconds: u64,
}

/// One witness of the log, as the log last heard from it.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct WitnessInfo {
    /// The witness's cosignature/v1 verifier key.
    pub vkey: String,
    /// Where the log submits checkpoints (`<url>/add-checkpoint`).
    pub url: String,
    /// The largest tree size this witness is known to have cosigned (0: none yet).
    pub cosigned_size: u64,
    /// Why the last submission failed, if it did.
    pub last_error: Option<String>,
    /// When this witness last returned a valid cosignature.
    pub last_success: Option<DateTime<Utc>>,
}

// ---- submissions ----

/// The answer to a submission.
#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct SubmitResponse {
    pub index: u64,
    /// True if the same envelope was logged before; `index` is the original entry.
    pub duplicate: bool,
    /// The exact leaf bytes the log stored (UTF-8 JSON).
    pub entry: String,
    /// A c2sp.org/tlog-proof@v1 for the entry.
    pub tlog_proof: String,
}

// ---- commitments and reveals ----

/// The header carrying a platform's signature over [`reveal_request_message`].
pub const SIGNATURE_HEADER: &str = "embargo-signature";

/// A commitment with its status at the time of the answer.
#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct CommitmentView {
    #[serde(flatten)]
    pub commitment: Commitment,
    pub status: Status,
    /// For an escrowed commitment: whether the log holds its ciphertext.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub escrow_deposited: Option<bool>,
    /// The decision batches logged under this commitment, newest last (only in
    /// `GET /v1/commitments/<i>`, at most [`MAX_BATCHES_SHOWN`], the latest ones).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub batches: Vec<BatchView>,
}

/// A decision batch, as shown under its commitment.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct BatchView {
    /// The batch entry's index.
    pub entry: u64,
    pub logged_at: DateTime<Utc>,
    /// The batch root (SHA3-256), hex.
    pub root: String,
    pub record_count: u64,
    pub window: crate::core::predicate::Window,
}

#[derive(Serialize, Deserialize, Debug)]
pub struct CommitmentList {
    /// The log's clock when it answered (statuses are relative to it).
    pub now: DateTime<Utc>,
    pub commitments: Vec<CommitmentView>,
}

// ---- escrows ----

/// The answer to a deposit.
#[derive(Serialize, Deserialize, Debug)]
pub struct Deposited {
    pub commitment: u64,
    pub ciphertext_digest: String,
    pub ciphertext_size: u64,
    /// False if the log already held these bytes.
    pub stored: bool,
}

/// The chains escrows may be locked to.
#[derive(Serialize, Deserialize, Debug)]
pub struct Chains {
    pub chains: Vec<Chain>,
}

/// A round signature, as drand publishes it.
#[derive(Serialize, Deserialize, Debug)]
pub struct RoundSignature {
    pub round: u64,
    /// The BLS signature, hex.
    pub signature: String,
    /// The chain's hash, hex (quicknet if absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chain_hash: Option<String>,
}

/// What a round signature or a share opened.
#[derive(Serialize, Deserialize, Debug, Default)]
pub struct Opened {
    /// The reveal entries logged, one per escrow opened.
    pub opened: Vec<OpenedEscrow>,
    /// Escrows locked to this round that were not opened, and why.
    pub skipped: Vec<Skipped>,
}

#[derive(Serialize, Deserialize, Debug)]
pub struct OpenedEscrow {
    pub commitment: u64,
    /// False for an escrow that opened to other bytes or did not open (escrow-invalid).
    pub matches_commitment: bool,
    pub reveal: SubmitResponse,
}

#[derive(Serialize, Deserialize, Debug)]
pub struct Skipped {
    pub commitment: u64,
    pub reason: String,
}

/// A trustee's share, posted after `reveal_at`.
#[derive(Serialize, Deserialize, Debug)]
pub struct SharePost {
    /// The trustee's key reference, `<name>+<id>`, as the commitment lists it.
    pub trustee: String,
    /// The decrypted share (its text form).
    pub share: String,
    /// Base64 Ed25519 signature by the trustee over [`share_request_message`].
    pub signature: String,
}

/// Where the shares of an escrow stand.
#[derive(Serialize, Deserialize, Debug)]
pub struct ShareAnswer {
    pub commitment: u64,
    pub shares_posted: usize,
    pub threshold: u32,
    /// The reveal, once `threshold` shares are in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub opened: Option<OpenedEscrow>,
}

// ---- parties (operator API) ----

#[derive(Deserialize, Serialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct NewParty {
    pub name: String,
    pub role: Role,
    #[serde(default)]
    pub display_name: Option<String>,
    pub keys: Vec<PublicKey>,
    #[serde(default)]
    pub contact: Option<String>,
}

#[derive(Deserialize, Serialize, Debug, Default)]
#[serde(deny_unknown_fields)]
pub struct KeyChange {
    #[serde(default)]
    pub add: Vec<PublicKey>,
    #[serde(default)]
    pub revoke: Vec<PublicKey>,
}

// ---- audits ----

/// An audit of a commitment, as listed.
#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct AuditView {
    pub entry: u64,
    pub logged_at: String,
    pub auditor: String,
    pub verdict: crate::core::predicate::Verdict,
    pub suite_digest: String,
    pub dataset_digest: String,
    pub report_digest: String,
    #[serde(default)]
    pub metrics: std::collections::BTreeMap<String, f64>,
    /// Where the full report is (relative to the log's URL), if it was uploaded.
    pub report: Option<String>,
}

#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct AuditList {
    pub commitment: u64,
    pub audits: Vec<AuditView>,
}

/// The answer to a stored report.
#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct StoredReport {
    pub commitment: u64,
    pub entry: u64,
    pub report_digest: String,
    pub location: String,
    /// False if the same report was stored before.
    pub created: bool,
}
