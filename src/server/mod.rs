//! The HTTP edge: the C2SP read API (checkpoint, tiles, entry bundles), the submission API and
//! the proof API, on axum. Every refusal is a 4xx with a JSON body
//! `{"error": "<code>", "message": "<what was wrong and what to do>"}`, mapped once in
//! [`error`].
//!
//! Owns: extracting requests, calling [`crate::service`] (or the log's reads), answering;
//! the table of routes ([`routes`]). Never: decides a rule (those are in the service; admission
//! in [`submit`] is the one left to move), holds log state of its own, or imports
//! [`crate::client`]. The operator's API is in [`parties`], commitments, reveals and model
//! downloads in [`commitments`], escrows in [`escrow`].

mod audits;
mod browse;
mod commitments;
mod escrow;
mod parties;
mod submit;
mod web;

mod error;
pub mod listen;
pub mod pace;
mod routes;

pub use error::ApiError;
pub use listen::{serve, ConnectionLimits};
pub use pace::Pace;
use routes::Routes;
use submit::bad_request;

use crate::api::{LogInfo, SubmitResponse, MAX_REQUEST_BODY};
pub use crate::service::AppState;

use crate::core::entry::MAX_ENTRY_SIZE;
use crate::core::tlog::{self, TileId};
use crate::service::witnessing;

use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use base64::prelude::{Engine, BASE64_STANDARD};
use serde::Deserialize;
use std::sync::Arc;

pub(crate) const IMMUTABLE: &str = "public, max-age=31536000, immutable";
const CHECKPOINT_CACHE: &str = "public, max-age=2";

/// Every route the log serves, with its handler.
fn table() -> Routes {
    let t = Routes::default()
        .get("/checkpoint", checkpoint)
        .get("/checkpoint/latest", latest_checkpoint)
        .get("/tile/{*path}", tile)
        .add(
            "/v1/entries",
            Method::POST,
            post(submit::submit).layer(DefaultBodyLimit::max(MAX_REQUEST_BODY)),
        )
        .get("/v1/entries/{index}", entry)
        .get("/v1/proof/inclusion", inclusion_proof)
        .get("/v1/proof/consistency", consistency_proof)
        .get("/v1/log", log_info)
        .post("/v1/admin/parties", parties::add)
        .post("/v1/admin/parties/{name}/keys", parties::change_keys)
        .get("/v1/parties", parties::list)
        .get("/v1/parties/{name}", parties::show)
        .get("/v1/commitments", commitments::list)
        .get("/v1/commitments/{index}", commitments::show)
        .post("/v1/commitments/{index}/reveal", commitments::reveal)
        .get("/v1/commitments/{index}/model", commitments::model);
    // Timelocked escrows: deposit, download, opening by beacon or by trustees.
    let t = escrow::routes(t);
    // The website (`/`, its pages and assets) and the read-only views it uses.
    let t = browse::routes(t);
    // Full audit reports, linked from the commitments they audit.
    let t = audits::routes(t);
    web::routes(t)
}

/// `(method, path)` of every route the router serves (paths in axum's syntax: `{index}`, and
/// `{*rest}` for a catch-all).
pub fn routes() -> Vec<(Method, &'static str)> {
    table().served()
}

/// The log's API with the default [`Pace`] for request bodies.
pub fn router(state: Arc<AppState>) -> Router {
    router_with(state, Pace::default())
}

/// The log's API: every route, every body held to `pace`, every refusal JSON (axum's own
/// rejections included: [`error::json_refusals`]).
pub fn router_with(state: Arc<AppState>, pace: Pace) -> Router {
    table()
        .into_router()
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::middleware::map_request_with_state(pace, pace::paced))
        .layer(axum::middleware::map_response(error::json_refusals))
        .with_state(state)
}

async fn not_found(uri: axum::http::Uri) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "not_found",
        format!(
            "{} is not part of this log's API (see schema/openapi.yaml)",
            uri.path()
        ),
    )
}

async fn method_not_allowed(method: axum::http::Method, uri: axum::http::Uri) -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        format!(
            "{method} is not allowed on {} (see schema/openapi.yaml)",
            uri.path()
        ),
    )
}

/// Query parameters, refused with a JSON [`ApiError`] (axum's own rejection is plain text).
pub(crate) struct JsonQuery<T>(pub T);

impl<T, S> axum::extract::FromRequestParts<S> for JsonQuery<T>
where
    T: serde::de::DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, ApiError> {
        match Query::<T>::from_request_parts(parts, state).await {
            Ok(Query(q)) => Ok(JsonQuery(q)),
            Err(e) => Err(bad_request(
                "bad_query",
                format!(
                    "{} (see schema/openapi.yaml for this endpoint's parameters)",
                    e.body_text()
                ),
            )),
        }
    }
}

/// 201 for a new entry, 200 for a duplicate, with the entry and its proof.
fn created_or_ok(answer: SubmitResponse) -> Response {
    let status = if answer.duplicate {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    (status, Json(answer)).into_response()
}

fn text(
    body: impl Into<axum::body::Body>,
    content_type: &'static str,
    cache: &'static str,
) -> Response {
    let mut resp = Response::new(body.into());
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    resp
}

/// The witnessed checkpoint when the log has witnesses, else the log's own.
async fn checkpoint(State(s): State<Arc<AppState>>) -> Result<Response, ApiError> {
    let note = witnessing::served_checkpoint(&s)?;
    Ok(text(note, "text/plain; charset=utf-8", CHECKPOINT_CACHE))
}

/// The log's own latest checkpoint, witnessed or not (the same as `/checkpoint` without
/// witnesses).
async fn latest_checkpoint(State(s): State<Arc<AppState>>) -> Response {
    text(
        s.log.checkpoint().text,
        "text/plain; charset=utf-8",
        CHECKPOINT_CACHE,
    )
}

async fn tile(
    State(s): State<Arc<AppState>>,
    Path(path): Path<String>,
) -> Result<Response, ApiError> {
    let full = format!("tile/{path}");
    let id = TileId::parse_path(&full).ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "bad_tile_path",
            format!("{full} is not a tile path: expected tile/<L>/<N>[.p/<W>] or tile/entries/<N>[.p/<W>] with N in 3-digit x-prefixed groups"),
        )
    })?;
    let size = s.log.size();
    if !tlog::tile_is_published(&id, size) {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "no_such_tile",
            format!("{full} does not exist in the tree of size {size}"),
        ));
    }
    let log = s.log.clone();
    let data = tokio::task::spawn_blocking(move || log.store().read(&id))
        .await
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string()))?
        .map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                ApiError::new(
                    StatusCode::NOT_FOUND,
                    "no_such_tile",
                    format!(
                        "{full} is not kept (no checkpoint was made at the size it belongs to)"
                    ),
                )
            } else {
                ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string())
            }
        })?;
    Ok(text(data, "application/octet-stream", IMMUTABLE))
}

/// An index as the API writes them: decimal digits only (no sign, no spaces, no leading zero).
pub(crate) fn parse_index(raw: &str, what: &str) -> Result<u64, ApiError> {
    let canonical = !raw.is_empty()
        && raw.bytes().all(|b| b.is_ascii_digit())
        && (raw == "0" || !raw.starts_with('0'));
    canonical
        .then(|| raw.parse().ok())
        .flatten()
        .ok_or_else(|| {
            bad_request(
                "bad_index",
                format!("{what} must be a non-negative integer, got {raw:?}"),
            )
        })
}

async fn entry(
    State(s): State<Arc<AppState>>,
    Path(index): Path<String>,
) -> Result<Response, ApiError> {
    let index = parse_index(&index, "the entry index")?;
    let data = s.log.entry(index)?;
    Ok(text(data, "application/json", IMMUTABLE))
}

#[derive(Deserialize)]
struct InclusionQuery {
    index: String,
    size: Option<String>,
}

async fn inclusion_proof(
    State(s): State<Arc<AppState>>,
    JsonQuery(q): JsonQuery<InclusionQuery>,
) -> Result<Response, ApiError> {
    let index = parse_index(&q.index, "index")?;
    let size = q
        .size
        .as_deref()
        .map(|v| parse_index(v, "size"))
        .transpose()?;
    let proof = witnessing::with_cosignatures(&s, s.log.inclusion_proof(index, size)?);
    Ok(text(
        proof.to_text(),
        "text/plain; charset=utf-8",
        "no-store",
    ))
}

#[derive(Deserialize)]
struct ConsistencyQuery {
    old: String,
    new: String,
}

async fn consistency_proof(
    State(s): State<Arc<AppState>>,
    JsonQuery(q): JsonQuery<ConsistencyQuery>,
) -> Result<Response, ApiError> {
    let old = parse_index(&q.old, "old")?;
    let new = parse_index(&q.new, "new")?;
    let size = s.log.size();
    if new > size {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("the log has {size} entries; it cannot prove a tree of size {new} yet"),
        ));
    }
    let proof = s.log.consistency_proof(old, new)?;
    let mut out = String::with_capacity(proof.len() * 45);
    for h in proof {
        out.push_str(&BASE64_STANDARD.encode(h.0));
        out.push('\n');
    }
    Ok(text(out, "text/plain; charset=utf-8", IMMUTABLE))
}

async fn log_info(State(s): State<Arc<AppState>>) -> Json<LogInfo> {
    Json(LogInfo {
        origin: s.log.origin().to_owned(),
        vkey: s.log.key().public().to_string(),
        size: s.log.size(),
        max_entry_size: MAX_ENTRY_SIZE,
        witnessing: s.witnessing.as_ref().map(|w| w.info(&s.log)),
    })
}
