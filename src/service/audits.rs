//! Full audit reports, linked from the commitment they audit: which audits a commitment has,
//! and whether an uploaded report is the one an auditor signed for.
//!
//! An auditor logs a signed audit-report entry whose predicate carries the SHA-256
//! `report_digest` of the full JSON report. The log keeps an uploaded report only if the entry
//! is a logged audit report about that commitment and the bytes hash to its `report_digest`,
//! so the upload needs no authentication: only the bytes the auditor signed for are accepted
//! (by anyone, any number of times: the blob is content-addressed, `blobs/sha256/<hex>`).
//!
//! Never: speaks HTTP (refusals are [`AuditError`]).

use super::AppState;
use crate::api::{AuditList, AuditView, StoredReport};
use crate::core::entry::Leaf;
use crate::core::predicate::{AuditReport, Predicate};
use crate::log::LogError;
use crate::rules::AdmitError;
use sha2::{Digest, Sha256};
use std::io::Write;
use std::path::PathBuf;

/// Largest report the log stores.
pub const MAX_REPORT: usize = 8 << 20;

/// Why an audit request was refused; nothing was stored.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error("there is no model commitment at entry {0}")]
    NoSuchCommitment(u64),
    #[error("entry {entry} is not an audit report of commitment {commitment}")]
    NoSuchAudit { commitment: u64, entry: u64 },
    #[error("the uploaded report hashes to sha256:{got}, but audit entry {entry} signed for {signed}: upload the exact report the auditor signed")]
    DigestMismatch {
        got: String,
        entry: u64,
        signed: String,
    },
    #[error(
        "the report is not a JSON object (the full report `embargo audit` writes as report.json)"
    )]
    BadReport,
    #[error("the report of audit entry {entry} ({digest}) has not been uploaded; the auditor (or anyone with it) can PUT it here")]
    NoReport { entry: u64, digest: String },
    #[error("storing the report failed: {0}")]
    Storage(String),
    #[error(transparent)]
    Registry(#[from] AdmitError),
    #[error(transparent)]
    Log(#[from] LogError),
}

/// The audit-report entry `entry`, which must be about commitment `commitment`.
fn audit_entry(
    s: &AppState,
    commitment: u64,
    entry: u64,
) -> Result<(Leaf, AuditReport), AuditError> {
    let not_audit = || AuditError::NoSuchAudit { commitment, entry };
    let bytes = s.log.entry(entry)?;
    let leaf = Leaf::parse(&bytes).map_err(|_| not_audit())?;
    let st = leaf.typed().map_err(|_| not_audit())?;
    match st.predicate {
        Predicate::AuditReport(a) if a.commitment == commitment => Ok((leaf, a)),
        _ => Err(not_audit()),
    }
}

fn report_hex(a: &AuditReport) -> &str {
    a.report_digest
        .strip_prefix("sha256:")
        .unwrap_or(&a.report_digest)
}

/// Commitment `index`'s audits, newest first (at most 1,000), each with its stored report's
/// location if the report was uploaded.
pub fn list(s: &AppState, index: u64) -> Result<AuditList, AuditError> {
    let c = s
        .log
        .registry()
        .commitment(index)?
        .ok_or(AuditError::NoSuchCommitment(index))?;
    let mut audits = Vec::new();
    for &e in c.audits.iter().rev().take(1000) {
        let Ok((leaf, a)) = audit_entry(s, index, e) else {
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
    Ok(AuditList {
        commitment: index,
        audits,
    })
}

/// Stores `body` as the report of audit entry `entry` of commitment `index`, if it is the
/// report the auditor signed for. Returns whether it was new.
pub async fn store_report<B: AsRef<[u8]> + Send + 'static>(
    s: &AppState,
    index: u64,
    entry: u64,
    body: B,
) -> Result<StoredReport, AuditError> {
    let (_, a) = audit_entry(s, index, entry)?;
    let got = hex::encode(Sha256::digest(body.as_ref()));
    let want = report_hex(&a).to_owned();
    if got != want {
        return Err(AuditError::DigestMismatch {
            got,
            entry,
            signed: a.report_digest,
        });
    }
    if serde_json::from_slice::<serde_json::Value>(body.as_ref())
        .ok()
        .filter(|v| v.is_object())
        .is_none()
    {
        return Err(AuditError::BadReport);
    }
    let created = !s.log.blobs().exists("sha256", &want);
    if created {
        let log = s.log.clone();
        tokio::task::spawn_blocking(move || -> std::io::Result<()> {
            let mut blob = log.blobs().create_temp()?;
            blob.write_all(body.as_ref())?;
            blob.commit("sha256", &want).map(drop)
        })
        .await
        .map_err(|e| AuditError::Storage(e.to_string()))?
        .map_err(|e| AuditError::Storage(e.to_string()))?;
    }
    Ok(StoredReport {
        commitment: index,
        entry,
        report_digest: a.report_digest.clone(),
        location: format!("v1/commitments/{index}/audits/{entry}/report"),
        created,
    })
}

/// Where the stored report of audit entry `entry` of commitment `index` is.
pub fn report_path(s: &AppState, index: u64, entry: u64) -> Result<PathBuf, AuditError> {
    let (_, a) = audit_entry(s, index, entry)?;
    let path = s.log.blobs().path("sha256", report_hex(&a));
    if !path.is_file() {
        return Err(AuditError::NoReport {
            entry,
            digest: a.report_digest,
        });
    }
    Ok(path)
}
