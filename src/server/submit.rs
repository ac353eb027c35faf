//! `POST /v1/entries`: admission of signed statements, and the path the log's own entries
//! (registrations, reveals) take into the sequencer.

use super::{ApiError, AppState};
use crate::api::SubmitResponse;
use crate::core::dsse::{DsseError, Envelope};
use crate::core::entry::{encode_leaf, leaf_len, Statement, MAX_ENTRY_SIZE};
use crate::core::note::PublicKey;
use crate::core::predicate::{Kind, TypedStatement};
use crate::log::dedup_key;
use crate::registry::Effect;
use crate::sequencer::Submission;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;

use std::collections::HashMap;
use std::sync::Arc;

pub(crate) fn bad_request(code: &'static str, message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, code, message)
}

fn dsse_error(e: DsseError) -> ApiError {
    match e {
        DsseError::UnknownKey(_) => {
            ApiError::new(StatusCode::FORBIDDEN, "unknown_key", e.to_string())
        }
        DsseError::BadSignature(_) => {
            ApiError::new(StatusCode::FORBIDDEN, "bad_signature", e.to_string())
        }
        DsseError::PayloadType(_) => ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "bad_payload_type",
            e.to_string(),
        ),
        DsseError::PayloadBase64 | DsseError::SignatureEncoding(_) => {
            bad_request("bad_base64", e.to_string())
        }
        DsseError::NoSignatures | DsseError::TooManySignatures(_) => {
            bad_request("bad_signatures", e.to_string())
        }
    }
}

/// Checks an envelope against the log's rules. Nothing here touches the log.
/// Returns what the entry does to the registry.
fn admit(s: &AppState, envelope: &Envelope, canonical: &str) -> Result<Option<Effect>, ApiError> {
    let payload = envelope.payload_bytes().map_err(dsse_error)?;
    let statement =
        Statement::parse(&payload).map_err(|e| bad_request("bad_statement", e.to_string()))?;
    let effect = match Kind::from_predicate_type(&statement.predicate_type) {
        Some(kind) => Some(admit_typed(s, envelope, &payload, kind)?),
        None => {
            envelope
                .verify(|keyid| s.writers.get(keyid))
                .map_err(dsse_error)?;
            None
        }
    };
    let len = leaf_len(canonical);
    if len > MAX_ENTRY_SIZE {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            format!("the entry would be {len} bytes; the log stores entries of at most {MAX_ENTRY_SIZE} bytes: put large data in a blob and log its digest"),
        ));
    }
    Ok(effect)
}

/// Admission of the Embargo kinds: one signature, by a current key of the party the statement
/// speaks for, valid against the kind's schema and the registry's rules.
fn admit_typed(
    s: &AppState,
    envelope: &Envelope,
    payload: &[u8],
    kind: Kind,
) -> Result<Effect, ApiError> {
    if matches!(kind, Kind::Registration | Kind::Reveal) {
        // The registry explains who writes these; no signature can make them acceptable.
        let how = if kind == Kind::Registration {
            "through the operator API, POST /v1/admin/parties"
        } else {
            "when the model's bytes are uploaded to POST /v1/commitments/<index>/reveal"
        };
        return Err(crate::registry::AdmitError::LogOnly {
            kind: if kind == Kind::Registration {
                "registration"
            } else {
                "reveal"
            },
            how,
        }
        .into());
    }
    if envelope.signatures.len() != 1 {
        return Err(bad_request(
            "bad_signatures",
            format!(
                "{} entries carry exactly one signature, by the party they speak for",
                kind.predicate_type()
            ),
        ));
    }
    let keyid = envelope.signatures[0].keyid.clone();
    let (_, key) = s.log.registry.key(&keyid)?;
    let keys: HashMap<String, PublicKey> = [(keyid.clone(), key)].into();
    envelope.verify(|id| keys.get(id)).map_err(dsse_error)?;
    let json: serde_json::Value =
        serde_json::from_slice(payload).map_err(|e| bad_request("bad_statement", e.to_string()))?;
    let typed = TypedStatement::parse(kind, &json)
        .map_err(|e| bad_request("bad_statement", e.to_string()))?;
    s.log.registry.admit(&typed, &keyid, chrono::Utc::now())?;
    Ok(Effect {
        statement: typed,
        signer: keyid,
    })
}

pub(crate) async fn submit(
    State(s): State<Arc<AppState>>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let body = body.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "too_large",
                format!(
                    "the request body is over {} bytes; the log stores entries of at most {MAX_ENTRY_SIZE} bytes",
                    super::MAX_REQUEST_BODY
                ),
            )
        } else {
            bad_request("bad_body", e.body_text())
        }
    })?;
    let envelope: Envelope = serde_json::from_slice(&body).map_err(|e| {
        bad_request(
            "bad_json",
            format!("the body is not a DSSE envelope ({e}); send {{\"payloadType\", \"payload\", \"signatures\": [{{\"keyid\", \"sig\"}}]}}"),
        )
    })?;
    let canonical = envelope.to_canonical_json();
    // An envelope the log already holds is answered with its entry before any other check:
    // it was admitted when it was first logged, and its deadlines or keys may have moved since.
    let key = dedup_key(&canonical);
    if let Some(index) = s.log.find_duplicate(&key)? {
        return Ok(respond(answer_duplicate(&s, index)?));
    }
    let effect = admit(&s, &envelope, &canonical)?;
    Ok(respond(sequence(&s, canonical.into(), key, effect).await?))
}

/// 201 for a new entry, 200 for a duplicate, with the entry and its proof.
fn respond(answer: SubmitResponse) -> Response {
    let status = if answer.duplicate {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    (status, Json(answer)).into_response()
}

/// Signs `statement` with the log's own key and appends it (registrations, reveals).
pub(crate) async fn append_as_log(
    s: &AppState,
    kind: Kind,
    statement: serde_json::Value,
) -> Result<Response, ApiError> {
    Ok(respond(log_statement(s, kind, statement).await?))
}

/// Signs `statement` with the log's own key, appends it and returns the log's answer.
pub(crate) async fn log_statement(
    s: &AppState,
    kind: Kind,
    statement: serde_json::Value,
) -> Result<SubmitResponse, ApiError> {
    let typed = TypedStatement::parse(kind, &statement).map_err(|e| {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            format!("the log built an invalid statement: {e}"),
        )
    })?;
    let payload = serde_json::to_vec(&statement).expect("statements serialize");
    let envelope = Envelope::sign(&payload, s.log.key());
    let effect = Effect {
        statement: typed,
        signer: s.log.key().public().key_ref(),
    };
    append(s, envelope.to_canonical_json(), Some(effect)).await
}

/// Deduplicates, sequences and answers with the entry and its proof.
async fn append(
    s: &AppState,
    canonical: String,
    effect: Option<Effect>,
) -> Result<SubmitResponse, ApiError> {
    let key = dedup_key(&canonical);
    if let Some(index) = s.log.find_duplicate(&key)? {
        return answer_duplicate(s, index);
    }
    sequence(s, canonical.into(), key, effect).await
}

/// Sequences an envelope the log does not hold yet and answers with the entry and its proof.
async fn sequence(
    s: &AppState,
    canonical: Arc<str>,
    key: [u8; 32],
    effect: Option<Effect>,
) -> Result<SubmitResponse, ApiError> {
    let sequenced = s
        .sequencer
        .submit(Submission {
            envelope_json: canonical.clone(),
            dedup_key: key,
            effect,
        })
        .await?;
    if sequenced.duplicate {
        return answer_duplicate(s, sequenced.index);
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
fn answer_duplicate(s: &AppState, index: u64) -> Result<SubmitResponse, ApiError> {
    let proof = s.log.inclusion_proof(index, None)?;
    let entry = s.log.entry(index)?;
    Ok(SubmitResponse {
        index,
        duplicate: true,
        entry: String::from_utf8_lossy(&entry).into_owned(),
        tlog_proof: proof.to_text(),
    })
}
