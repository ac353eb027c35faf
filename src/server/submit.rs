//! `POST /v1/entries`: reads the body as a DSSE envelope and hands it to
//! [`crate::service::submit`]; answers 201 with a new entry, 200 with the one that already
//! held the envelope. Decides nothing itself.

use super::{ApiError, AppState};
use crate::api::{SubmitResponse, MAX_REQUEST_BODY};
use crate::core::dsse::Envelope;
use crate::core::entry::MAX_ENTRY_SIZE;
use crate::service::submit::submit_envelope;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use std::sync::Arc;

pub(crate) fn bad_request(code: &'static str, message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, code, message)
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
                    "the request body is over {MAX_REQUEST_BODY} bytes; the log stores entries of at most {MAX_ENTRY_SIZE} bytes"
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
    Ok(respond(submit_envelope(&s, envelope).await?))
}

/// 201 for a new entry, 200 for a duplicate, with the entry and its proof.
pub(crate) fn respond(answer: SubmitResponse) -> Response {
    let status = if answer.duplicate {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    (status, Json(answer)).into_response()
}
