//! Submissions: the path every entry takes into the log, whoever wrote it.
//!
//! A party's envelope ([`submit_envelope`]) is deduplicated, its statement parsed and its
//! signature checked against the key the registry holds, the rules run once early against the
//! registry as of now, and then it is queued: the sequencer decides again, in log order
//! ([`crate::rules`]), and its decision is the one that holds. The log's own statements
//! (registrations, reveals: [`log_statement`]) take the same queue and the same rules.
//!
//! Never: speaks HTTP (the refusals are [`SubmitError`]; `server/` maps them to statuses).

use super::AppState;
use crate::api::SubmitResponse;
use crate::core::dsse::{DsseError, Envelope};
use crate::core::entry::{encode_leaf, leaf_len, Statement, MAX_ENTRY_SIZE};
use crate::core::note::PublicKey;
use crate::core::predicate::{Kind, TypedStatement};
use crate::log::dedup_key;
use crate::log::sequencer::{self, Submission};
use crate::log::LogError;
use crate::rules::{AdmitError, Effect, Signer};
use std::collections::HashMap;
use std::sync::Arc;

/// Why a submission was not logged. Nothing was stored, except for [`SubmitError::NotWitnessed`].
#[derive(Debug, thiserror::Error)]
pub enum SubmitError {
    #[error(transparent)]
    Envelope(#[from] DsseError),
    #[error("{0}")]
    BadStatement(String),
    #[error("{kind} entries carry exactly one signature, by the party they speak for")]
    SignatureCount { kind: &'static str },
    #[error("the entry would be {len} bytes; the log stores entries of at most {MAX_ENTRY_SIZE} bytes: put large data in a blob and log its digest")]
    TooLarge { len: usize },
    #[error(transparent)]
    Refused(#[from] AdmitError),
    #[error(transparent)]
    Sequencer(sequencer::SubmitError),
    #[error(transparent)]
    Log(#[from] LogError),
    /// `--ack-witnessed`: the entry is logged, but no checkpoint covering it met the witness
    /// policy in time. Unlike every other variant, something WAS stored.
    #[error("the entry IS logged, at index {index}, but no checkpoint covering it has been cosigned by {policy} witnesses within {}s, so it is not acknowledged as witnessed yet; do not resubmit under another envelope: send the same envelope again later (answered with the same index) or fetch GET /v1/proof/inclusion?index={index} once /v1/log shows witnessed_size above {index}", waited.as_secs())]
    NotWitnessed {
        index: u64,
        policy: usize,
        waited: std::time::Duration,
    },
    #[error(transparent)]
    Busy(#[from] super::admission::Busy),
    /// The log built a statement its own schema refuses: a bug, never the client's doing.
    #[error("the log built an invalid statement: {0}")]
    Internal(String),
}

impl From<sequencer::SubmitError> for SubmitError {
    fn from(e: sequencer::SubmitError) -> SubmitError {
        match e {
            // A rule broken as of the entry's position: the same refusal as an early one.
            sequencer::SubmitError::Refused(refusal) => SubmitError::Refused(refusal),
            other => SubmitError::Sequencer(other),
        }
    }
}

/// Logs a party's envelope, or answers with the entry that already holds it.
pub async fn submit_envelope(
    s: &AppState,
    mut envelope: Envelope,
) -> Result<SubmitResponse, SubmitError> {
    let _slot = s.admission.submission()?;
    // What identifies a submission is the statement and its set of signers: not the order
    // the signatures are listed in, and never a signature listed twice (refused in verify).
    envelope.sort_signatures();
    let canonical = envelope.to_canonical_json();
    // An envelope the log already holds is answered with its entry before any other check:
    // it was admitted when it was first logged, and its deadlines or keys may have moved since.
    let key = dedup_key(&canonical);
    let answer = match s.log.find_duplicate(&key)? {
        Some(index) => answer_duplicate(s, index)?,
        None => {
            let effect = admit(s, &envelope, &canonical)?;
            sequence(s, canonical.into(), key, effect).await?
        }
    };
    acknowledge(s, answer).await
}

/// What a submission's answer waits for. By default, the log's own checkpoint: the entry is
/// durable and covered by a checkpoint the log signed (the proof in `answer`). With
/// `--ack-witnessed`, also a witnessed checkpoint covering it: the answer then carries the
/// proof against that checkpoint, cosignatures included, or, after the timeout,
/// [`SubmitError::NotWitnessed`] (the entry stays logged; a retry of the same envelope is
/// answered with the same index and waits again).
async fn acknowledge(s: &AppState, answer: SubmitResponse) -> Result<SubmitResponse, SubmitError> {
    let Some(w) = &s.witnessing else {
        return Ok(answer);
    };
    match w.wait_covering(answer.index + 1).await {
        Ok(None) => Ok(answer),
        Ok(Some(cp)) => {
            let mut proof = s.log.inclusion_proof(answer.index, Some(cp.size()))?;
            proof.checkpoint = cp.text.clone();
            Ok(SubmitResponse {
                tlog_proof: proof.to_text(),
                ..answer
            })
        }
        Err(waited) => Err(SubmitError::NotWitnessed {
            index: answer.index,
            policy: w.policy(),
            waited,
        }),
    }
}

/// Checks an envelope before it is queued. Returns what the entry is for the rules.
fn admit(
    s: &AppState,
    envelope: &Envelope,
    canonical: &str,
) -> Result<Option<Effect>, SubmitError> {
    let payload = envelope.payload_bytes()?;
    let statement =
        Statement::parse(&payload).map_err(|e| SubmitError::BadStatement(e.to_string()))?;
    let effect = match Kind::from_predicate_type(&statement.predicate_type) {
        Some(kind) => Some(admit_typed(s, envelope, &payload, kind)?),
        None => {
            envelope.verify(|keyid| s.writers.get(keyid))?;
            None
        }
    };
    let len = leaf_len(canonical);
    if len > MAX_ENTRY_SIZE {
        return Err(SubmitError::TooLarge { len });
    }
    Ok(effect)
}

/// Admission of the Embargo kinds: one signature, by a current key of the party the statement
/// speaks for, valid against the kind's schema and (as of now) the rules.
fn admit_typed(
    s: &AppState,
    envelope: &Envelope,
    payload: &[u8],
    kind: Kind,
) -> Result<Effect, SubmitError> {
    if matches!(kind, Kind::Registration | Kind::Reveal) {
        // The rules explain who writes these; no signature can make them acceptable.
        return Err(crate::rules::log_only(kind).into());
    }
    if envelope.signatures.len() != 1 {
        return Err(SubmitError::SignatureCount {
            kind: kind.predicate_type(),
        });
    }
    let keyid = envelope.signatures[0].keyid.clone();
    let (_, key) = s.log.registry().key(&keyid)?;
    let keys: HashMap<String, PublicKey> = [(keyid.clone(), key)].into();
    envelope.verify(|id| keys.get(id))?;
    let json: serde_json::Value =
        serde_json::from_slice(payload).map_err(|e| SubmitError::BadStatement(e.to_string()))?;
    let typed =
        TypedStatement::parse(kind, &json).map_err(|e| SubmitError::BadStatement(e.to_string()))?;
    let effect = Effect {
        statement: typed,
        signer: Signer::Key(keyid),
    };
    // An early answer against the registry as of now; the sequencer decides again, in log
    // order, and its decision is the one that holds.
    let registry = &s.log.registry();
    crate::rules::admit(registry, &registry.policy, &effect, chrono::Utc::now())?;
    Ok(effect)
}

/// Signs `statement` with the log's own key, appends it and returns the log's answer
/// (registrations, reveals).
pub async fn log_statement(
    s: &AppState,
    kind: Kind,
    statement: serde_json::Value,
) -> Result<SubmitResponse, SubmitError> {
    let typed = TypedStatement::parse(kind, &statement)
        .map_err(|e| SubmitError::Internal(e.to_string()))?;
    let payload = serde_json::to_vec(&statement).expect("statements serialize");
    let envelope = Envelope::sign(&payload, s.log.key());
    let effect = Effect {
        statement: typed,
        signer: Signer::Log,
    };
    let canonical = envelope.to_canonical_json();
    let key = dedup_key(&canonical);
    if let Some(index) = s.log.find_duplicate(&key)? {
        return Ok(answer_duplicate(s, index)?);
    }
    sequence(s, canonical.into(), key, Some(effect)).await
}

/// Sequences an envelope the log does not hold yet and answers with the entry and its proof.
async fn sequence(
    s: &AppState,
    canonical: Arc<str>,
    key: [u8; 32],
    effect: Option<Effect>,
) -> Result<SubmitResponse, SubmitError> {
    let sequenced = s
        .sequencer
        .submit(Submission {
            envelope_json: canonical.clone(),
            dedup_key: key,
            effect,
        })
        .await?;
    if sequenced.duplicate {
        return Ok(answer_duplicate(s, sequenced.index)?);
    }
    // The new entry's proof comes from the tiles the batch just wrote, still in memory.
    let proof = s
        .log
        .inclusion_proof_in(&sequenced.snapshot, sequenced.index, None)?;
    Ok(SubmitResponse {
        index: sequenced.index,
        duplicate: false,
        entry: encode_leaf(&sequenced.logged_at, &canonical),
        tlog_proof: proof.to_text(),
    })
}

/// Answers a duplicate with the original entry, read back from the log.
pub fn answer_duplicate(s: &AppState, index: u64) -> Result<SubmitResponse, LogError> {
    let proof = s.log.inclusion_proof(index, None)?;
    let entry = s.log.entry(index)?;
    Ok(SubmitResponse {
        index,
        duplicate: true,
        entry: String::from_utf8_lossy(&entry).into_owned(),
        tlog_proof: proof.to_text(),
    })
}
