//! The one mapping from the layers' errors to HTTP: each refusal gets its status and stable
//! code here, and goes out as `{"error": "<code>", "message": "..."}`.

use crate::api::ErrorBody;
use crate::core::dsse::DsseError;
use crate::core::tlog;
use crate::log::registry::AdmitError;
use crate::log::sequencer;
use crate::log::LogError;
use crate::service::audits::AuditError;
use crate::service::error::CommitmentError;
use crate::service::parties::PartyError;
use crate::service::submit::SubmitError;
use crate::service::views::ViewError;
use crate::service::witnessing::NoWitnessedCheckpoint;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;

/// A refusal: an HTTP status, a stable error code and a message for a person.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
}

impl ApiError {
    pub(crate) fn new(
        status: StatusCode,
        code: &'static str,
        message: impl Into<String>,
    ) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
        }
    }
}

impl ApiError {
    /// The message for a person.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut resp = (
            self.status,
            Json(ErrorBody {
                error: self.code.to_owned(),
                message: self.message,
            }),
        )
            .into_response();
        if self.status == StatusCode::SERVICE_UNAVAILABLE {
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        resp
    }
}

impl From<LogError> for ApiError {
    fn from(e: LogError) -> ApiError {
        match e {
            LogError::NoSuchEntry { .. } => {
                ApiError::new(StatusCode::NOT_FOUND, "not_found", e.to_string())
            }
            LogError::NoSuchCheckpoint(_) => {
                ApiError::new(StatusCode::NOT_FOUND, "no_such_checkpoint", e.to_string())
            }
            LogError::Proof(tlog::ProofError::SizesOutOfOrder { .. })
            | LogError::Proof(tlog::ProofError::IndexOutOfRange { .. }) => {
                ApiError::new(StatusCode::BAD_REQUEST, "bad_range", e.to_string())
            }
            _ => {
                tracing::error!(error = %e, "internal error");
                ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string())
            }
        }
    }
}

impl From<AdmitError> for ApiError {
    fn from(e: AdmitError) -> ApiError {
        let (status, code) = match &e {
            AdmitError::UnknownKey(_) => (StatusCode::FORBIDDEN, "unknown_key"),
            AdmitError::RevokedKey { .. } => (StatusCode::FORBIDDEN, "revoked_key"),
            AdmitError::LogOnly { .. } => (StatusCode::FORBIDDEN, "log_only"),
            AdmitError::WrongParty { .. } => (StatusCode::FORBIDDEN, "wrong_party"),
            AdmitError::WrongRole { .. } => (StatusCode::FORBIDDEN, "wrong_role"),
            AdmitError::EmbargoPolicy { .. } => {
                (StatusCode::UNPROCESSABLE_ENTITY, "embargo_policy")
            }
            AdmitError::NoSuchCommitment(_) => {
                (StatusCode::UNPROCESSABLE_ENTITY, "no_such_commitment")
            }
            AdmitError::NotYourCommitment { .. } => (StatusCode::FORBIDDEN, "not_your_commitment"),
            AdmitError::AlreadySuperseded(..) => (StatusCode::CONFLICT, "already_superseded"),
            AdmitError::NotRevealed(_) => (StatusCode::UNPROCESSABLE_ENTITY, "not_revealed"),
            AdmitError::DigestMismatch(..) => (StatusCode::UNPROCESSABLE_ENTITY, "digest_mismatch"),
            AdmitError::UnknownBeacon { .. } => {
                (StatusCode::UNPROCESSABLE_ENTITY, "unknown_beacon")
            }
            AdmitError::EscrowRound { .. } => (StatusCode::UNPROCESSABLE_ENTITY, "escrow_round"),
            AdmitError::EscrowSize { .. } => (StatusCode::UNPROCESSABLE_ENTITY, "escrow_size"),
            AdmitError::ModelLimits { .. } => (StatusCode::UNPROCESSABLE_ENTITY, "model_limits"),
            AdmitError::AlreadyRevealed { .. } => (StatusCode::CONFLICT, "already_revealed"),
            AdmitError::EscrowAlreadyInvalid { .. } => (StatusCode::CONFLICT, "not_openable"),
            AdmitError::KeyInUse { .. } => (StatusCode::CONFLICT, "key_in_use"),
            AdmitError::StaleRegistration { .. } => (StatusCode::CONFLICT, "registration_race"),
            AdmitError::NotForTheLog { .. } | AdmitError::Storage(_) => {
                (StatusCode::INTERNAL_SERVER_ERROR, "internal")
            }
        };
        ApiError::new(status, code, e.to_string())
    }
}

impl From<sequencer::SubmitError> for ApiError {
    fn from(e: sequencer::SubmitError) -> ApiError {
        if let sequencer::SubmitError::Refused(refusal) = e {
            return refusal.into();
        }
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            e.to_string(),
        )
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ApiError {}

impl From<NoWitnessedCheckpoint> for ApiError {
    fn from(e: NoWitnessedCheckpoint) -> ApiError {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "not_witnessed",
            e.to_string(),
        )
    }
}

impl From<SubmitError> for ApiError {
    fn from(e: SubmitError) -> ApiError {
        let message = e.to_string();
        let (status, code) = match e {
            SubmitError::Envelope(d) => return dsse_error(d),
            SubmitError::Refused(refusal) => return refusal.into(),
            SubmitError::Sequencer(s) => return s.into(),
            SubmitError::Log(l) => return l.into(),
            SubmitError::BadStatement(_) => (StatusCode::BAD_REQUEST, "bad_statement"),
            SubmitError::SignatureCount { .. } => (StatusCode::BAD_REQUEST, "bad_signatures"),
            SubmitError::TooLarge { .. } => (StatusCode::PAYLOAD_TOO_LARGE, "too_large"),
            SubmitError::Busy(_) => (StatusCode::SERVICE_UNAVAILABLE, "busy"),
            SubmitError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
            SubmitError::NotWitnessed { .. } => (StatusCode::SERVICE_UNAVAILABLE, "not_witnessed"),
        };
        ApiError::new(status, code, message)
    }
}

fn dsse_error(e: DsseError) -> ApiError {
    let (status, code) = match e {
        DsseError::UnknownKey(_) => (StatusCode::FORBIDDEN, "unknown_key"),
        DsseError::BadSignature(_) => (StatusCode::FORBIDDEN, "bad_signature"),
        DsseError::PayloadType(_) => (StatusCode::UNSUPPORTED_MEDIA_TYPE, "bad_payload_type"),
        DsseError::PayloadBase64 | DsseError::SignatureEncoding(_) => {
            (StatusCode::BAD_REQUEST, "bad_base64")
        }
        DsseError::NoSignatures
        | DsseError::TooManySignatures(_)
        | DsseError::DuplicateSigner(_) => (StatusCode::BAD_REQUEST, "bad_signatures"),
    };
    ApiError::new(status, code, e.to_string())
}

impl From<CommitmentError> for ApiError {
    fn from(e: CommitmentError) -> ApiError {
        use CommitmentError as E;
        use StatusCode as S;
        let (status, code) = match &e {
            E::NoSuchCommitment(_) => (S::NOT_FOUND, "no_such_commitment"),
            E::AlreadyRevealed { .. } => (S::CONFLICT, "already_revealed"),
            E::RevealInProgress(_) => (S::CONFLICT, "reveal_in_progress"),
            E::DepositInProgress(_) => (S::CONFLICT, "deposit_in_progress"),
            E::Busy(_) => (S::SERVICE_UNAVAILABLE, "busy"),
            E::BadRevealSignature(_) => (S::FORBIDDEN, "bad_reveal_signature"),
            E::Sealed(_) => (S::FORBIDDEN, "sealed"),
            E::NotRevealed(_) => (S::NOT_FOUND, "not_revealed"),
            E::Truncated(_) => (S::BAD_REQUEST, "too_small"),
            E::TooSmall(_) => (S::UNPROCESSABLE_ENTITY, "too_small"),
            E::TooLarge(_) => (S::PAYLOAD_TOO_LARGE, "too_large"),
            E::UploadFailed(_) => (S::BAD_REQUEST, "upload_failed"),
            E::BadStream(_) => (S::BAD_REQUEST, "bad_stream"),
            E::WrongFileCount(_) => (S::UNPROCESSABLE_ENTITY, "wrong_file_count"),
            E::DigestMismatch(_) => (S::UNPROCESSABLE_ENTITY, "digest_mismatch"),
            E::NoEscrow(_) => (S::NOT_FOUND, "no_escrow"),
            E::EscrowLockMismatch(_) => (S::UNPROCESSABLE_ENTITY, "escrow_lock_mismatch"),
            E::NotDeposited(_) => (S::NOT_FOUND, "not_deposited"),
            E::UnknownBeacon(_) => (S::UNPROCESSABLE_ENTITY, "unknown_beacon"),
            E::BadSignature(_) => (S::BAD_REQUEST, "bad_signature"),
            E::BadBeaconSignature(_) => (S::UNPROCESSABLE_ENTITY, "bad_beacon_signature"),
            E::RoundNotDue(_) => (S::UNPROCESSABLE_ENTITY, "round_not_due"),
            E::NoEscrowForRound(_) => (S::NOT_FOUND, "no_escrow_for_round"),
            E::NotATrustee(_) => (S::FORBIDDEN, "not_a_trustee"),
            E::BadShareSignature(_) => (S::FORBIDDEN, "bad_share_signature"),
            E::BadShare(_) => (S::BAD_REQUEST, "bad_share"),
            E::ShareMismatch(_) => (S::UNPROCESSABLE_ENTITY, "share_mismatch"),
            E::NotOpenable(_) => (S::CONFLICT, "not_openable"),
            E::Internal(_) => (S::INTERNAL_SERVER_ERROR, "internal"),
            E::Registry(_) | E::Log(_) | E::Submit(_) => {
                return match e {
                    E::Registry(e) => e.into(),
                    E::Log(e) => e.into(),
                    E::Submit(e) => (*e).into(),
                    _ => unreachable!("matched above"),
                }
            }
        };
        ApiError::new(status, code, e.to_string())
    }
}

impl From<PartyError> for ApiError {
    fn from(e: PartyError) -> ApiError {
        use PartyError as E;
        use StatusCode as S;
        let (status, code) = match &e {
            E::OperatorApiDisabled => (S::FORBIDDEN, "operator_api_disabled"),
            E::Unauthorized => (S::UNAUTHORIZED, "unauthorized"),
            E::BadName(_) => (S::BAD_REQUEST, "bad_name"),
            E::NoKeys => (S::BAD_REQUEST, "no_keys"),
            E::NoChange => (S::BAD_REQUEST, "no_change"),
            E::AlreadyRegistered { .. } => (S::CONFLICT, "already_registered"),
            E::NoSuchParty(_) => (S::NOT_FOUND, "no_such_party"),
            E::NotACurrentKey { .. } => (S::UNPROCESSABLE_ENTITY, "not_a_current_key"),
            E::RevokedKey { .. } => (S::UNPROCESSABLE_ENTITY, "revoked_key"),
            E::KeyInUse { .. } => (S::CONFLICT, "key_in_use"),
            E::BadRegistration(_) => (S::BAD_REQUEST, "bad_registration"),
            E::Submit(_) | E::Registry(_) => {
                return match e {
                    E::Submit(s) => (*s).into(),
                    E::Registry(r) => r.into(),
                    _ => unreachable!("matched above"),
                }
            }
        };
        ApiError::new(status, code, e.to_string())
    }
}

impl From<AuditError> for ApiError {
    fn from(e: AuditError) -> ApiError {
        use AuditError as E;
        use StatusCode as S;
        let (status, code) = match e {
            E::Registry(r) => return r.into(),
            E::Log(l) => return l.into(),
            E::NoSuchCommitment(_) => (S::NOT_FOUND, "no_such_commitment"),
            E::NoSuchAudit { .. } => (S::NOT_FOUND, "no_such_audit"),
            E::DigestMismatch { .. } => (S::UNPROCESSABLE_ENTITY, "digest_mismatch"),
            E::BadReport => (S::BAD_REQUEST, "bad_report"),
            E::NoReport { .. } => (S::NOT_FOUND, "no_report"),
            E::Storage(_) => (S::INTERNAL_SERVER_ERROR, "internal"),
        };
        ApiError::new(status, code, e.to_string())
    }
}

impl From<ViewError> for ApiError {
    fn from(e: ViewError) -> ApiError {
        use StatusCode as S;
        let (status, code) = match e {
            ViewError::Registry(r) => return r.into(),
            ViewError::Log(l) => return l.into(),
            ViewError::NoSuchCommitment(_) => (S::NOT_FOUND, "no_such_commitment"),
            ViewError::NoSuchParty(_) => (S::NOT_FOUND, "no_such_party"),
            ViewError::BadQuery => (S::BAD_REQUEST, "bad_query"),
        };
        ApiError::new(status, code, e.to_string())
    }
}

/// Middleware: turns a refusal that is not JSON (axum's own rejections: a body over a limit,
/// bad JSON, a path segment that is not UTF-8) into the JSON error body, keeping its status.
pub(crate) async fn json_refusals(resp: Response) -> Response {
    let status = resp.status();
    let is_json = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json") || v.starts_with("text/html"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return resp;
    }
    let (parts, body) = resp.into_parts();
    let text = axum::body::to_bytes(body, 64 * 1024)
        .await
        .map(|b| String::from_utf8_lossy(&b).trim().to_owned())
        .unwrap_or_default();
    let (code, hint) = refusal_hint(status);
    let text = if text.is_empty() {
        status.canonical_reason().unwrap_or("refused").to_owned()
    } else {
        text
    };
    let mut out = ApiError::new(status, code, format!("{text}: {hint}")).into_response();
    for (name, value) in parts.headers.iter() {
        if name == header::RETRY_AFTER || name == header::ALLOW {
            out.headers_mut().insert(name.clone(), value.clone());
        }
    }
    out
}

/// The code and what to do, for a framework refusal of `status`.
fn refusal_hint(status: StatusCode) -> (&'static str, &'static str) {
    match status {
        StatusCode::PAYLOAD_TOO_LARGE => (
            "too_large",
            "the body is over this endpoint's limit (see the Limits table in the README)",
        ),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => (
            "unsupported_media_type",
            "send the body as JSON with the header Content-Type: application/json",
        ),
        StatusCode::UNPROCESSABLE_ENTITY => (
            "bad_body",
            "the body does not have this endpoint's shape (see schema/openapi.yaml)",
        ),
        StatusCode::NOT_FOUND => ("not_found", "see schema/openapi.yaml for the API's paths"),
        StatusCode::METHOD_NOT_ALLOWED => (
            "method_not_allowed",
            "see schema/openapi.yaml for the methods of this path",
        ),
        StatusCode::REQUEST_TIMEOUT => ("timeout", "send the request faster"),
        s if s.is_server_error() => ("internal", "retry; if it persists, tell the operator"),
        _ => (
            "bad_request",
            "the request is malformed (see schema/openapi.yaml for this endpoint)",
        ),
    }
}
