//! The HTTP edge: the C2SP read API (checkpoint, tiles, entry bundles), the submission API and
//! the proof API, on axum. Every refusal is a 4xx with a JSON body
//! `{"error": "<code>", "message": "<what was wrong and what to do>"}`.
//!
//! This module translates between HTTP and [`crate::log`]/[`crate::sequencer`]; it holds no
//! log state of its own. Submissions are in [`submit`], the operator's API in [`parties`],
//! commitments, reveals and model downloads in [`commitments`].

mod audits;
mod browse;
mod commitments;
mod escrow;
mod parties;
mod submit;
mod web;

mod error;

pub use error::ApiError;
use submit::bad_request;

use crate::api::{LogInfo, SubmitResponse, MAX_REQUEST_BODY};
pub use crate::service::AppState;

use crate::core::entry::MAX_ENTRY_SIZE;
use crate::core::tlog::{self, TileId};

use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::prelude::{Engine, BASE64_STANDARD};
use serde::Deserialize;
use std::sync::Arc;

pub(crate) const IMMUTABLE: &str = "public, max-age=31536000, immutable";
const CHECKPOINT_CACHE: &str = "public, max-age=2";

pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/checkpoint", get(checkpoint))
        .route("/tile/{*path}", get(tile))
        .route(
            "/v1/entries",
            post(submit::submit).layer(DefaultBodyLimit::max(MAX_REQUEST_BODY)),
        )
        .route("/v1/entries/{index}", get(entry))
        .route("/v1/proof/inclusion", get(inclusion_proof))
        .route("/v1/proof/consistency", get(consistency_proof))
        .route("/v1/log", get(log_info))
        .route("/v1/admin/parties", post(parties::add))
        .route("/v1/admin/parties/{name}/keys", post(parties::change_keys))
        .route("/v1/parties", get(parties::list))
        .route("/v1/parties/{name}", get(parties::show))
        .route("/v1/commitments", get(commitments::list))
        .route("/v1/commitments/{index}", get(commitments::show))
        .route("/v1/commitments/{index}/reveal", post(commitments::reveal))
        .route("/v1/commitments/{index}/model", get(commitments::model))
        // Timelocked escrows: deposit, download, opening by beacon or by trustees.
        .merge(escrow::routes())
        // The website (`/`, its pages and assets) and the read-only views it uses.
        .merge(browse::routes())
        // Full audit reports, linked from the commitments they audit.
        .merge(audits::routes())
        .merge(web::routes())
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
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

async fn checkpoint(State(s): State<Arc<AppState>>) -> Response {
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

pub(crate) fn parse_index(raw: &str, what: &str) -> Result<u64, ApiError> {
    raw.parse().map_err(|_| {
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
    let proof = s.log.inclusion_proof(index, size)?;
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
    })
}
