//! Full audit reports, linked from the commitment they audit.
//!
//! An auditor logs a signed audit-report entry (`POST /v1/entries`) whose predicate carries the
//! SHA-256 `report_digest` of the full JSON report. The report itself is then uploaded to
//! `PUT /v1/commitments/<i>/audits/<entry>/report`; the log keeps it only if entry `<entry>` is
//! a logged audit report about commitment `<i>` and the body hashes to its `report_digest`, so
//! the upload needs no authentication: only the bytes the auditor signed for are accepted (by
//! anyone, any number of times: the blob is content-addressed, `blobs/sha256/<hex>`).
//!
//! | endpoint | what |
//! |---|---|
//! | `GET /v1/commitments/<i>/audits` | the commitment's audit entries, decoded, each with the URL of its stored report (or `null`) |
//! | `PUT /v1/commitments/<i>/audits/<entry>/report` | store the report of audit entry `<entry>` (at most [`MAX_REPORT`] bytes) |
//! | `GET /v1/commitments/<i>/audits/<entry>/report` | the stored report, byte for byte (immutable) |

use super::routes::Routes;
use super::submit::bad_request;
use super::{parse_index, ApiError, AppState, IMMUTABLE};
use crate::api::{AuditList, AuditView, StoredReport};
use crate::core::entry::Leaf;
use crate::core::predicate::{AuditReport, Predicate};
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::response::Response;
use axum::routing::{get, put};
use axum::Json;

use sha2::{Digest, Sha256};
use std::io::Write;
use std::sync::Arc;

/// Largest report the log stores.
pub const MAX_REPORT: usize = 8 << 20;

pub(crate) fn routes(t: Routes) -> Routes {
    let report = "/v1/commitments/{index}/audits/{entry}/report";
    let limit = || DefaultBodyLimit::max(MAX_REPORT);
    t.get("/v1/commitments/{index}/audits", list)
        .add(report, Method::GET, get(get_report).layer(limit()))
        .add(report, Method::PUT, put(put_report).layer(limit()))
}

/// The audit-report entry `entry`, which must be about commitment `index`.
fn audit_entry(s: &AppState, index: u64, entry: u64) -> Result<(Leaf, AuditReport), ApiError> {
    let not_audit = || {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "no_such_audit",
            format!("entry {entry} is not an audit report of commitment {index}"),
        )
    };
    let bytes = s.log.entry(entry)?;
    let leaf = Leaf::parse(&bytes).map_err(|_| not_audit())?;
    let st = leaf.typed().map_err(|_| not_audit())?;
    let Predicate::AuditReport(a) = st.predicate else {
        return Err(not_audit());
    };
    if a.commitment != index {
        return Err(not_audit());
    }
    Ok((leaf, a))
}

fn report_hex(a: &AuditReport) -> &str {
    a.report_digest
        .strip_prefix("sha256:")
        .unwrap_or(&a.report_digest)
}

async fn list(
    State(s): State<Arc<AppState>>,
    Path(index): Path<String>,
) -> Result<Json<AuditList>, ApiError> {
    let index = parse_index(&index, "the commitment index")?;
    let c = s.log.registry.commitment(index)?.ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "no_such_commitment",
            format!("there is no model commitment at entry {index}"),
        )
    })?;
    let mut audits = Vec::new();
    for &e in c.audits.iter().rev().take(1000) {
        let Ok((leaf, a)) = audit_entry(&s, index, e) else {
            continue;
        };
        let stored = s.log.blobs().exists("sha256", report_hex(&a));
        audits.push(AuditView {
            entry: e,
            logged_at: leaf
                .logged_at
                .to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            report: stored.then(|| format!("v1/commitments/{index}/audits/{e}/report")),
            auditor: a.auditor,
            verdict: a.verdict,
            suite_digest: a.suite_digest,
            dataset_digest: a.dataset_digest,
            report_digest: a.report_digest,
            metrics: a.metrics,
        });
    }
    Ok(Json(AuditList {
        commitment: index,
        audits,
    }))
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
    let (_, a) = audit_entry(&s, index, entry)?;
    let got = hex(&Sha256::digest(&body));
    let want = report_hex(&a).to_owned();
    if got != want {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "digest_mismatch",
            format!("the uploaded report hashes to sha256:{got}, but audit entry {entry} signed for {}: upload the exact report the auditor signed", a.report_digest),
        ));
    }
    if serde_json::from_slice::<serde_json::Value>(&body)
        .ok()
        .filter(|v| v.is_object())
        .is_none()
    {
        return Err(bad_request(
            "bad_report",
            "the report is not a JSON object (the full report `embargo audit` writes as report.json)",
        ));
    }
    let answer = |created| StoredReport {
        commitment: index,
        entry,
        report_digest: a.report_digest.clone(),
        location: format!("v1/commitments/{index}/audits/{entry}/report"),
        created,
    };
    if s.log.blobs().exists("sha256", &want) {
        return Ok((StatusCode::OK, Json(answer(false))));
    }
    let log = s.log.clone();
    let hexd = want.clone();
    tokio::task::spawn_blocking(move || -> std::io::Result<()> {
        let mut blob = log.blobs().create_temp()?;
        blob.write_all(&body)?;
        blob.commit("sha256", &hexd)?;
        Ok(())
    })
    .await
    .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string()))?
    .map_err(|e| {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            format!("storing the report failed: {e}"),
        )
    })?;
    Ok((StatusCode::CREATED, Json(answer(true))))
}

async fn get_report(
    State(s): State<Arc<AppState>>,
    Path((index, entry)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let (index, entry) = parse_pair(&index, &entry)?;
    let (_, a) = audit_entry(&s, index, entry)?;
    let path = s.log.blobs().path("sha256", report_hex(&a));
    let data = tokio::fs::read(&path).await.map_err(|_| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "no_report",
            format!("the report of audit entry {entry} ({}) has not been uploaded; the auditor (or anyone with it) can PUT it here", a.report_digest),
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

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}
