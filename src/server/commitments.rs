//! Commitments at the HTTP edge: listing and status, the reveal upload, and the revealed
//! model's download. Extracts the request, calls [`crate::service::commitments`], answers;
//! the reveal's rules are there.

use super::submit::bad_request;
use super::{created_or_ok, parse_index, ApiError, AppState, JsonQuery, IMMUTABLE};
use crate::api::{CommitmentList, CommitmentView, SIGNATURE_HEADER};
use crate::log::registry::Status;
use crate::model::model_stream;
use crate::service::commitments as service;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::Response;
use axum::Json;
use futures_util::TryStreamExt;
use serde::Deserialize;
use std::io::Read;
use std::sync::Arc;

#[derive(Deserialize)]
pub(crate) struct ListQuery {
    platform: Option<String>,
    status: Option<String>,
    after: Option<u64>,
    limit: Option<usize>,
}

/// Most commitments one listing returns.
pub const MAX_LIST: usize = 1000;

pub(crate) async fn list(
    State(s): State<Arc<AppState>>,
    JsonQuery(q): JsonQuery<ListQuery>,
) -> Result<Json<CommitmentList>, ApiError> {
    let status = q
        .status
        .as_deref()
        .map(str::parse::<Status>)
        .transpose()
        .map_err(|e| bad_request("bad_status", e))?;
    let limit = q.limit.unwrap_or(100).clamp(1, MAX_LIST);
    Ok(Json(service::list(
        &s,
        q.platform.as_deref(),
        status,
        q.after,
        limit,
    )?))
}

pub(crate) async fn show(
    State(s): State<Arc<AppState>>,
    Path(index): Path<String>,
) -> Result<Json<CommitmentView>, ApiError> {
    let index = parse_index(&index, "the commitment index")?;
    Ok(Json(service::show(&s, index)?))
}

/// An upload that sends nothing for this long is abandoned (and its temp blob removed), so a
/// stalled client cannot hold a commitment's reveal lock.
pub const UPLOAD_IDLE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

/// Ends a body stream with an error if no chunk arrives within [`UPLOAD_IDLE_TIMEOUT`].
fn idle_timeout<S>(
    stream: S,
) -> impl futures_util::Stream<Item = std::io::Result<axum::body::Bytes>>
where
    S: futures_util::Stream<Item = std::io::Result<axum::body::Bytes>> + Unpin,
{
    futures_util::stream::unfold(Some(stream), |state| async move {
        let mut stream = state?;
        match tokio::time::timeout(
            UPLOAD_IDLE_TIMEOUT,
            futures_util::StreamExt::next(&mut stream),
        )
        .await
        {
            Ok(Some(item)) => Some((item, Some(stream))),
            Ok(None) => None,
            Err(_) => Some((
                Err(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    format!("no data for {}s", UPLOAD_IDLE_TIMEOUT.as_secs()),
                )),
                None,
            )),
        }
    })
}

/// A request body as a blocking reader (for the service's blocking tasks), ended with an
/// error if the client stalls.
pub(crate) fn body_reader(body: Body) -> impl Read + Send + 'static {
    tokio_util::io::SyncIoBridge::new(tokio_util::io::StreamReader::new(Box::pin(idle_timeout(
        body.into_data_stream().map_err(std::io::Error::other),
    ))))
}

pub(crate) async fn reveal(
    State(s): State<Arc<AppState>>,
    Path(index): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let index = parse_index(&index, "the commitment index")?;
    let signature = headers.get(SIGNATURE_HEADER).map(HeaderValue::as_bytes);
    let answer = service::reveal(&s, index, signature, body_reader(body)).await?;
    Ok(created_or_ok(answer))
}

pub(crate) async fn model(
    State(s): State<Arc<AppState>>,
    Path(index): Path<String>,
) -> Result<Response, ApiError> {
    let index = parse_index(&index, "the commitment index")?;
    let (c, file, len) = service::model(&s, index).await?;
    let mut resp = Response::new(Body::from_stream(
        tokio_util::io::ReaderStream::with_capacity(file, 1 << 20),
    ));
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(model_stream::CONTENT_TYPE),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(IMMUTABLE));
    if let Some(len) = len {
        h.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    }
    if let Ok(v) = HeaderValue::from_str(&c.model_digest) {
        h.insert("embargo-model-digest", v);
    }
    Ok(resp)
}
