//! Commitments: listing and status, the reveal upload, and the revealed model's download.
//!
//! A reveal streams the model through the hasher into a temporary blob; the blob is kept, and
//! a reveal entry signed by the log appended, only if the bytes hash to the committed digest.

use super::submit::{append_as_log, bad_request};
use super::{parse_index, ApiError, AppState, JsonQuery, IMMUTABLE};
use crate::api::{BatchView, CommitmentList, CommitmentView, MAX_BATCHES_SHOWN, SIGNATURE_HEADER};
use crate::core::predicate::{statement, Kind, Reveal, RevealedBy};
use crate::log::blobs::BlobStore;
use crate::model::model_stream::{self, Header, StreamError};
use crate::registry::{reveal_request_message, rfc3339, Commitment, Status};
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use axum::Json;
use base64::prelude::{Engine, BASE64_STANDARD};
use chrono::{DateTime, Utc};
use futures_util::TryStreamExt;
use serde::Deserialize;
use std::io::{BufReader, Read, Write};
use std::sync::Arc;

impl CommitmentView {
    /// `c` as of `now`, as the log `s` holds it.
    pub(crate) fn new(s: &AppState, c: Commitment, now: DateTime<Utc>) -> CommitmentView {
        CommitmentView {
            status: c.status(now),
            escrow_deposited: c
                .escrow
                .is_some()
                .then(|| super::escrow::deposited(s.log.blobs(), &c)),
            commitment: c,
            batches: Vec::new(),
        }
    }
}

/// The decision batches of `c`, read back from their entries.
fn batches_of(s: &AppState, c: &Commitment) -> Result<Vec<BatchView>, ApiError> {
    let skip = c.decision_batches.len().saturating_sub(MAX_BATCHES_SHOWN);
    let mut out = Vec::new();
    for &entry in &c.decision_batches[skip..] {
        let bytes = s.log.entry(entry)?;
        let Ok(leaf) = crate::core::entry::Leaf::parse(&bytes) else {
            continue;
        };
        let Some(json) = leaf
            .envelope
            .payload_bytes()
            .ok()
            .and_then(|p| serde_json::from_slice::<serde_json::Value>(&p).ok())
        else {
            continue;
        };
        if let Ok(st) = crate::core::predicate::TypedStatement::parse(Kind::DecisionBatch, &json) {
            if let crate::core::predicate::Predicate::DecisionBatch(b) = st.predicate {
                out.push(BatchView {
                    entry,
                    logged_at: leaf.logged_at,
                    root: st.subject_digest,
                    record_count: b.record_count,
                    window: b.window,
                });
            }
        }
    }
    Ok(out)
}

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
    let now = Utc::now();
    let found = s
        .log
        .registry
        .commitments(q.platform.as_deref(), status, q.after, limit, now)?;
    Ok(Json(CommitmentList {
        now,
        commitments: found
            .into_iter()
            .map(|c| CommitmentView::new(&s, c, now))
            .collect(),
    }))
}

pub(crate) fn find(s: &AppState, raw: &str) -> Result<Commitment, ApiError> {
    let index = parse_index(raw, "the commitment index")?;
    s.log.registry.commitment(index)?.ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "no_such_commitment",
            format!("there is no model commitment at entry {index}"),
        )
    })
}

pub(crate) async fn show(
    State(s): State<Arc<AppState>>,
    Path(index): Path<String>,
) -> Result<Json<CommitmentView>, ApiError> {
    let c = find(&s, &index)?;
    let mut view = CommitmentView::new(&s, c, Utc::now());
    view.batches = batches_of(&s, &view.commitment)?;
    Ok(Json(view))
}

/// Marks a commitment as being revealed; released on drop.
pub(crate) struct RevealGuard<'a> {
    s: &'a AppState,
    index: u64,
}

impl<'a> RevealGuard<'a> {
    pub(crate) fn acquire(s: &'a AppState, index: u64) -> Result<Self, ApiError> {
        if !s.revealing.lock().unwrap().insert(index) {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "reveal_in_progress",
                format!("another reveal of commitment {index} is in progress; wait for it"),
            ));
        }
        Ok(RevealGuard { s, index })
    }
}

impl Drop for RevealGuard<'_> {
    fn drop(&mut self) {
        self.s.revealing.lock().unwrap().remove(&self.index);
    }
}

/// The committing platform's key that signed this reveal request, if the request is signed.
fn reveal_signer(
    s: &AppState,
    c: &Commitment,
    headers: &HeaderMap,
) -> Result<Option<String>, ApiError> {
    let Some(raw) = headers.get(SIGNATURE_HEADER) else {
        return Ok(None);
    };
    let bad = |why: String| ApiError::new(StatusCode::FORBIDDEN, "bad_reveal_signature", why);
    let raw = raw
        .to_str()
        .map_err(|_| bad("the Embargo-Signature header is not ASCII".into()))?;
    let (keyid, sig) = raw.split_once(' ').ok_or_else(|| {
        bad("the Embargo-Signature header must be `<keyid> <base64 signature>`".into())
    })?;
    let (party, key) = s.log.registry.key(keyid)?;
    if party != c.platform {
        return Err(bad(format!(
            "key {keyid} belongs to {party}, not to {}, which made commitment {}",
            c.platform, c.index
        )));
    }
    let sig = BASE64_STANDARD
        .decode(sig)
        .map_err(|_| bad("the signature is not base64".into()))?;
    let msg = reveal_request_message(s.log.origin(), c.index, &c.model_digest);
    if !key.verify(&msg, &sig) {
        return Err(bad(format!(
            "the signature by {keyid} does not verify over this reveal request"
        )));
    }
    Ok(Some(keyid.to_owned()))
}

fn stream_error(e: StreamError, c: &Commitment) -> ApiError {
    match e {
        StreamError::Truncated { received, .. } => bad_request(
            "too_small",
            format!("the upload ended after {received} bytes; commitment {} is for {} bytes: nothing was stored", c.index, c.model.total_size),
        ),
        StreamError::TrailingBytes => ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            format!("the upload carries more than the committed {} bytes: nothing was stored", c.model.total_size),
        ),
        StreamError::Io(e) => bad_request("upload_failed", format!("reading the upload failed ({e}): nothing was stored; retry")),
        other => bad_request("bad_stream", format!("{other}: send the model with `embargo reveal`")),
    }
}

/// An upload that sends nothing for this long is abandoned (and its temp blob removed), so a
/// stalled client cannot hold a commitment's reveal lock.
pub const UPLOAD_IDLE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

/// Ends a body stream with an error if no chunk arrives within [`UPLOAD_IDLE_TIMEOUT`].
pub(crate) fn idle_timeout<S>(
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

/// Why a model stream's body was not kept.
pub(crate) enum NotKept {
    /// The stream: malformed, cut short, too long, or its reader failed.
    Stream(StreamError),
    /// A whole model stream, but not the committed model: what it hashes to.
    Digest(String),
    /// Writing or committing the blob failed here.
    Local(std::io::Error),
}

/// Writes `header` and the body that follows it in `r` into a temporary blob, hashing as it
/// goes (the blob is written on a thread of its own), and keeps the blob under the model digest
/// only if it is `c`'s committed model. The one place a revealed model gets stored: uploads
/// and escrows both come through here.
pub(crate) fn keep_if_committed(
    header: &Header,
    r: &mut impl Read,
    c: &Commitment,
    blobs: &BlobStore,
) -> Result<(), NotKept> {
    let mut blob =
        crate::model::pipeline::write_behind(blobs.create_temp().map_err(NotKept::Local)?);
    blob.write_all(&header.encode()).map_err(NotKept::Local)?;
    let mut write_error = None;
    let body = model_stream::read_body(header, r, |_, bytes| {
        blob.write_all(bytes).map_err(|e| {
            let copy = std::io::Error::new(e.kind(), e.to_string());
            write_error = Some(e);
            copy
        })
    });
    if let Some(e) = write_error {
        return Err(NotKept::Local(e));
    }
    let got = body.map_err(NotKept::Stream)?.digest().to_hex();
    if got != c.model_digest {
        return Err(NotKept::Digest(got));
    }
    blob.finish()
        .and_then(|b| b.commit("sha3-256", &c.model_digest))
        .map_err(NotKept::Local)?;
    Ok(())
}

/// Receives a model stream into a blob, checking it against the commitment.
fn receive(reader: impl Read, c: &Commitment, blobs: &BlobStore) -> Result<(), ApiError> {
    let mut r = BufReader::with_capacity(1 << 20, reader);
    let header = Header::read_from(&mut r).map_err(|e| stream_error(e, c))?;
    let declared = header.total_size();
    if declared > c.model.total_size {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            format!("the upload is {declared} bytes but commitment {} is for {} bytes: refusing a larger model", c.index, c.model.total_size),
        ));
    }
    if declared == c.model.total_size && header.files.len() as u64 != c.model.file_count {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "wrong_file_count",
            format!(
                "the upload holds {} files but commitment {} is for {} files: this is not the committed model; nothing was stored",
                header.files.len(),
                c.index,
                c.model.file_count
            ),
        ));
    }
    if declared < c.model.total_size {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "too_small",
            format!(
                "the upload is {declared} bytes in {} files but commitment {} is for {} bytes in {} files: this is not the committed model",
                header.files.len(),
                c.index,
                c.model.total_size,
                c.model.file_count
            ),
        ));
    }
    keep_if_committed(&header, &mut r, c, blobs).map_err(|e| match e {
        NotKept::Stream(e) => stream_error(e, c),
        NotKept::Digest(got) => ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "digest_mismatch",
            format!("the uploaded model's digest is {got}, but commitment {} is for {}: these are not the committed bytes; nothing was stored", c.index, c.model_digest),
        ),
        NotKept::Local(e) => ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            format!("storing the upload failed: {e}"),
        ),
    })?;
    Ok(())
}

pub(crate) async fn reveal(
    State(s): State<Arc<AppState>>,
    Path(index): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let already_revealed = |c: &Commitment| match c.reveal.as_ref().filter(|r| r.matches_commitment)
    {
        Some(r) => Err(ApiError::new(
            StatusCode::CONFLICT,
            "already_revealed",
            format!(
                "commitment {} was already revealed at entry {}",
                c.index, r.index
            ),
        )),
        None => Ok(()),
    };
    let c = find(&s, &index)?;
    already_revealed(&c)?;
    let _guard = RevealGuard::acquire(&s, c.index)?;
    // Read again under the guard: a reveal that finished after the first read (and released
    // the guard) has been applied by now, and must not be followed by a second reveal entry.
    let c = find(&s, &index)?;
    already_revealed(&c)?;
    let signer = reveal_signer(&s, &c, &headers)?;
    let now = Utc::now();
    if now < c.reveal_at && signer.is_none() {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "sealed",
            format!(
                "commitment {} is sealed until {}; before then only {} may reveal it, with a signed request (embargo reveal --key)",
                c.index,
                rfc3339(c.reveal_at),
                c.platform
            ),
        ));
    }
    let reader = tokio_util::io::SyncIoBridge::new(tokio_util::io::StreamReader::new(Box::pin(
        idle_timeout(body.into_data_stream().map_err(std::io::Error::other)),
    )));
    let log = s.log.clone();
    let commitment = c.clone();
    tokio::task::spawn_blocking(move || receive(reader, &commitment, log.blobs()))
        .await
        .map_err(|e| {
            ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string())
        })??;
    let predicate = Reveal {
        commitment: c.index,
        revealed_by: if signer.is_some() {
            RevealedBy::Platform
        } else {
            RevealedBy::Anyone
        },
        revealer: signer,
        on_time: Utc::now() < c.overdue_at,
        location: format!("v1/commitments/{}/model", c.index),
        total_size: c.model.total_size,
        matches_commitment: Some(true),
        escrow: None,
    };
    let st = statement(
        Kind::Reveal,
        &c.model.name,
        "sha3-256",
        &c.model_digest,
        &predicate,
    );
    append_as_log(&s, Kind::Reveal, st).await
}

pub(crate) async fn model(
    State(s): State<Arc<AppState>>,
    Path(index): Path<String>,
) -> Result<Response, ApiError> {
    let c = find(&s, &index)?;
    if !c.reveal.as_ref().is_some_and(|r| r.matches_commitment) {
        let now = Utc::now();
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "not_revealed",
            format!(
                "commitment {} is {} (reveal_at {}): its model has not been revealed",
                c.index,
                c.status(now),
                rfc3339(c.reveal_at)
            ),
        ));
    }
    let path = s.log.blobs().path("sha3-256", &c.model_digest);
    let file = tokio::fs::File::open(&path).await.map_err(|e| {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            format!("the revealed model's blob is unreadable: {e}"),
        )
    })?;
    let len = file.metadata().await.map(|m| m.len()).ok();
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
