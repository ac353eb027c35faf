//! `/v1/browse/`: the read-only views of [`crate::service::views`] over HTTP, each computed on
//! a blocking thread (they read files). Parses the query, answers; decides nothing.

use super::routes::Routes;
use super::{parse_index, ApiError, AppState};
use crate::service::views::{self, ViewError};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

pub(crate) fn routes(t: Routes) -> Routes {
    t.get("/v1/browse/summary", summary)
        .get("/v1/browse/entries", entries)
        .get("/v1/browse/commitments/{index}", commitment)
        .get("/v1/browse/parties", parties)
        .get("/v1/browse/parties/{name}", party)
        .get("/v1/browse/search", search)
}

/// Runs `view` on a blocking thread and answers with its JSON.
async fn blocking<T: Serialize + Send + 'static>(
    view: impl FnOnce() -> Result<T, ViewError> + Send + 'static,
) -> Result<Json<T>, ApiError> {
    tokio::task::spawn_blocking(view)
        .await
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string()))?
        .map(Json)
        .map_err(ApiError::from)
}

async fn summary(State(s): State<Arc<AppState>>) -> Result<Json<views::Summary>, ApiError> {
    blocking(move || views::summary(&s)).await
}

#[derive(Deserialize)]
struct EntriesQuery {
    before: Option<String>,
    limit: Option<String>,
}

async fn entries(
    State(s): State<Arc<AppState>>,
    Query(q): Query<EntriesQuery>,
) -> Result<Json<views::EntryList>, ApiError> {
    let limit = q
        .limit
        .as_deref()
        .map(|l| parse_index(l, "limit"))
        .transpose()?;
    let before = q
        .before
        .as_deref()
        .map(|b| parse_index(b, "before"))
        .transpose()?;
    blocking(move || views::entries(&s, before, limit)).await
}

async fn commitment(
    State(s): State<Arc<AppState>>,
    Path(index): Path<String>,
) -> Result<Json<views::CommitmentDetail>, ApiError> {
    let index = parse_index(&index, "the commitment index")?;
    blocking(move || views::commitment(&s, index)).await
}

async fn parties(State(s): State<Arc<AppState>>) -> Result<Json<views::PartyList>, ApiError> {
    blocking(move || views::parties(&s)).await
}

async fn party(
    State(s): State<Arc<AppState>>,
    Path(name): Path<String>,
) -> Result<Json<views::PartyDetail>, ApiError> {
    blocking(move || views::party(&s, &name)).await
}

#[derive(Deserialize)]
struct SearchQuery {
    q: Option<String>,
}

async fn search(
    State(s): State<Arc<AppState>>,
    Query(q): Query<SearchQuery>,
) -> Result<Json<views::SearchResults>, ApiError> {
    let query = q.q.unwrap_or_default();
    blocking(move || views::search(&s, &query)).await
}
