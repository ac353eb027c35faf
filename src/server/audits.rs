//! Full audit reports over HTTP: reads the request, calls [`crate::service::audits`] (which
//! decides what is stored and why), answers.
//!
//! | endpoint | what |
//! |---|---|
//! | `GET /v1/commitments/<i>/audits` | the commitment's audit entries, decoded, each with the URL of its stored report (or `null`) |
//! | `PUT /v1/commitments/<i>/audits/<entry>/report` | store the report of audit entry `<entry>` (at most [`MAX_REPORT`] bytes) |
//! | `GET /v1/commitments/<i>/audits/<entry>/report` | the stored report, byte for byte (immutable) |

use super::routes::Routes;
use super::{parse_index, ApiError, AppState, IMMUTABLE};
use crate::api::{AuditList, StoredReport};
use crate::service::audits;
pub use crate::service::audits::MAX_REPORT;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::response::Response;
use axum::routing::{get, put};
use axum::Json;
use std::sync::Arc;

pub(crate) fn routes(t: Routes) -> Routes {
    let report = "/v1/commitments/{index}/audits/{entry}/report";
    let limit = || DefaultBodyLimit::max(MAX_REPORT);
    t.get("/v1/commitments/{index}/audits", list)
        .add(report, Method::GET, get(get_report).layer(limit()))
        .add(report, Method::PUT, put(put_report).layer(limit()))
}

async fn list(
    State(s): State<Arc<AppState>>,
    Path(index): Path<String>,
) -> Result<Json<AuditList>, ApiError> {
    let index = parse_index(&index, "the commitment index")?;
    Ok(Json(audits::list(&s, index)?))
}

fn parse_pair(index: &str, entry: &str) -> Result<(u64, u64), ApiError> {
    Ok((
        parse_index(index, "the commitment index")?,
        parse_index(entry, "the audit entry index")?,
    ))
}

async fn put_report(
    State(s): State<Arc<AppState>>,
    Path((index, entry)): Path<(String, String)>,
    body: Bytes,
) -> Result<(StatusCode, Json<StoredReport>), ApiError> {
    let (index, entry) = parse_pair(&index, &entry)?;
    let stored = audits::store_report(&s, index, entry, body).await?;
    let status = if stored.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(stored)))
}

async fn get_report(
    State(s): State<Arc<AppState>>,
    Path((index, entry)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let (index, entry) = parse_pair(&index, &entry)?;
    let path = audits::report_path(&s, index, entry)?;
    let data = tokio::fs::read(&path).await.map_err(|e| {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            format!("reading the stored report failed: {e}"),
        )
    })?;
    let mut resp = Response::new(axum::body::Body::from(data));
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(IMMUTABLE));
    Ok(resp)
}
