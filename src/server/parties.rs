//! The operator's API (`/v1/admin/...`, bearer token) and the public party listing: reads the
//! request, calls [`crate::service::parties`], answers. Decides nothing itself.

use super::submit::{bad_request, respond};
use super::{ApiError, AppState};
use crate::api::{KeyChange, NewParty};
use crate::core::records::Party;
use crate::service::parties;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::Json;
use std::sync::Arc;

fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
}

fn parse_json<T: serde::de::DeserializeOwned>(body: &[u8], what: &str) -> Result<T, ApiError> {
    serde_json::from_slice(body).map_err(|e| bad_request("bad_json", format!("{what}: {e}")))
}

pub(crate) async fn add(
    State(s): State<Arc<AppState>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    parties::authorize(&s, bearer(&headers))?;
    let p: NewParty = parse_json(
        &body,
        "expected {\"name\", \"role\", \"keys\": [vkey], \"display_name\"?, \"contact\"?}",
    )?;
    Ok(respond(parties::add(&s, p).await?))
}

pub(crate) async fn change_keys(
    State(s): State<Arc<AppState>>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    parties::authorize(&s, bearer(&headers))?;
    let change: KeyChange = parse_json(&body, "expected {\"add\": [vkey], \"revoke\": [vkey]}")?;
    Ok(respond(parties::change_keys(&s, &name, change).await?))
}

pub(crate) async fn list(State(s): State<Arc<AppState>>) -> Result<Json<Vec<Party>>, ApiError> {
    Ok(Json(parties::list(&s)?))
}

pub(crate) async fn show(
    State(s): State<Arc<AppState>>,
    Path(name): Path<String>,
) -> Result<Json<Party>, ApiError> {
    Ok(Json(parties::show(&s, &name)?))
}
