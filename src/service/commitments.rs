//! Commitments: their views (status, escrow deposit, decision batches), the reveal of a model
//! by upload, and the revealed model's blob.
//!
//! A reveal streams the model through the hasher into a temporary blob; the blob is kept, and
//! a reveal entry signed by the log appended, only if the bytes hash to the committed digest.
//! Never: reads an HTTP request or picks a status; the caller hands in the body as a reader
//! and the signature header's bytes.

use super::error::CommitmentError;
use super::AppState;
use crate::api::{BatchView, CommitmentList, CommitmentView, SubmitResponse, MAX_BATCHES_SHOWN};
use crate::core::predicate::{statement, Kind, Predicate, Reveal, RevealedBy};
use crate::log::blobs::BlobStore;
use crate::log::registry::{reveal_request_message, rfc3339, Commitment, Status};
use crate::model::model_stream::{self, Header, StreamError};
use base64::prelude::{Engine, BASE64_STANDARD};
use chrono::{DateTime, Utc};
use std::io::{BufReader, Read, Write};

/// The commitment at entry `index`.
pub fn find(s: &AppState, index: u64) -> Result<Commitment, CommitmentError> {
    s.log
        .registry()
        .commitment(index)?
        .ok_or(CommitmentError::NoSuchCommitment(index))
}

/// `c` as of `now`, as the log `s` holds it (without its batches).
pub fn view(s: &AppState, c: Commitment, now: DateTime<Utc>) -> CommitmentView {
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

/// The commitment at `index`, with its latest decision batches.
pub fn show(s: &AppState, index: u64) -> Result<CommitmentView, CommitmentError> {
    let c = find(s, index)?;
    let mut view = view(s, c, Utc::now());
    view.batches = batches_of(s, &view.commitment)?;
    Ok(view)
}

/// Commitments by platform and status, after the entry `after`, at most `limit`.
pub fn list(
    s: &AppState,
    platform: Option<&str>,
    status: Option<Status>,
    after: Option<u64>,
    limit: usize,
) -> Result<CommitmentList, CommitmentError> {
    let now = Utc::now();
    let found = s
        .log
        .registry()
        .commitments(platform, status, after, limit, now)?;
    Ok(CommitmentList {
        now,
        commitments: found.into_iter().map(|c| view(s, c, now)).collect(),
    })
}

/// The decision batches of `c`, read back from their entries.
pub fn batches_of(s: &AppState, c: &Commitment) -> Result<Vec<BatchView>, CommitmentError> {
    let skip = c.decision_batches.len().saturating_sub(MAX_BATCHES_SHOWN);
    let mut out = Vec::new();
    for &entry in &c.decision_batches[skip..] {
        let bytes = s.log.entry(entry)?;
        let Ok(leaf) = crate::core::entry::Leaf::parse(&bytes) else {
            continue;
        };
        if let Ok(st) = leaf.typed() {
            if let Predicate::DecisionBatch(b) = st.predicate {
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

/// Marks a commitment as being revealed (by upload or by escrow); released on drop.
pub struct RevealGuard<'a> {
    s: &'a AppState,
    index: u64,
}

impl<'a> RevealGuard<'a> {
    pub fn acquire(s: &'a AppState, index: u64) -> Result<Self, CommitmentError> {
        if !s.revealing.lock().unwrap().insert(index) {
            return Err(CommitmentError::RevealInProgress(index));
        }
        Ok(RevealGuard { s, index })
    }
}

impl Drop for RevealGuard<'_> {
    fn drop(&mut self) {
        self.s.revealing.lock().unwrap().remove(&self.index);
    }
}

/// Whether an HTTP header value would read as text (visible ASCII or tabs).
fn is_header_text(raw: &[u8]) -> bool {
    raw.iter().all(|&b| b == b'\t' || (32..127).contains(&b))
}

/// The committing platform's key that signed this reveal request, if the request is signed
/// (`raw`: the signature header, `<keyid> <base64 signature>`).
fn reveal_signer(
    s: &AppState,
    c: &Commitment,
    raw: Option<&[u8]>,
) -> Result<Option<String>, CommitmentError> {
    let Some(raw) = raw else {
        return Ok(None);
    };
    let bad = CommitmentError::BadRevealSignature;
    let raw = std::str::from_utf8(raw)
        .ok()
        .filter(|r| is_header_text(r.as_bytes()))
        .ok_or_else(|| bad("the Embargo-Signature header is not ASCII".into()))?;
    let (keyid, sig) = raw.split_once(' ').ok_or_else(|| {
        bad("the Embargo-Signature header must be `<keyid> <base64 signature>`".into())
    })?;
    let (party, key) = s.log.registry().key(keyid)?;
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

fn stream_error(e: StreamError, c: &Commitment) -> CommitmentError {
    match e {
        StreamError::Truncated { received, .. } => CommitmentError::Truncated(
            format!("the upload ended after {received} bytes; commitment {} is for {} bytes: nothing was stored", c.index, c.model.total_size),
        ),
        StreamError::TrailingBytes => CommitmentError::TooLarge(
            format!("the upload carries more than the committed {} bytes: nothing was stored", c.model.total_size),
        ),
        StreamError::Io(e) => CommitmentError::UploadFailed(format!("reading the upload failed ({e}): nothing was stored; retry")),
        other => CommitmentError::BadStream(format!("{other}: send the model with `embargo reveal`")),
    }
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

/// The upload's header must declare the committed size and file count.
fn check_declared(header: &Header, c: &Commitment) -> Result<(), CommitmentError> {
    let declared = header.total_size();
    if declared > c.model.total_size {
        return Err(CommitmentError::TooLarge(
            format!("the upload is {declared} bytes but commitment {} is for {} bytes: refusing a larger model", c.index, c.model.total_size),
        ));
    }
    if declared == c.model.total_size && header.files.len() as u64 != c.model.file_count {
        return Err(CommitmentError::WrongFileCount(format!(
            "the upload holds {} files but commitment {} is for {} files: this is not the committed model; nothing was stored",
            header.files.len(),
            c.index,
            c.model.file_count
        )));
    }
    if declared < c.model.total_size {
        return Err(CommitmentError::TooSmall(format!(
            "the upload is {declared} bytes in {} files but commitment {} is for {} bytes in {} files: this is not the committed model",
            header.files.len(),
            c.index,
            c.model.total_size,
            c.model.file_count
        )));
    }
    Ok(())
}

/// Receives a model stream into a blob, checking it against the commitment.
fn receive(reader: impl Read, c: &Commitment, blobs: &BlobStore) -> Result<(), CommitmentError> {
    let mut r = BufReader::with_capacity(1 << 20, reader);
    let header = Header::read_from(&mut r).map_err(|e| stream_error(e, c))?;
    check_declared(&header, c)?;
    keep_if_committed(&header, &mut r, c, blobs).map_err(|e| match e {
        NotKept::Stream(e) => stream_error(e, c),
        NotKept::Digest(got) => CommitmentError::DigestMismatch(
            format!("the uploaded model's digest is {got}, but commitment {} is for {}: these are not the committed bytes; nothing was stored", c.index, c.model_digest),
        ),
        NotKept::Local(e) => CommitmentError::Internal(format!("storing the upload failed: {e}")),
    })?;
    Ok(())
}

/// Refuses a commitment whose model is already revealed.
fn not_revealed_yet(c: &Commitment) -> Result<(), CommitmentError> {
    match c.reveal.as_ref().filter(|r| r.matches_commitment) {
        Some(r) => Err(CommitmentError::AlreadyRevealed {
            index: c.index,
            at: r.index,
        }),
        None => Ok(()),
    }
}

/// Reveals commitment `index` with the model stream `body`: before `reveal_at` only with the
/// platform's signature (`signature`, the header's bytes). Logs the reveal entry if the bytes
/// are the committed model.
pub async fn reveal(
    s: &AppState,
    index: u64,
    signature: Option<&[u8]>,
    body: impl Read + Send + 'static,
) -> Result<SubmitResponse, CommitmentError> {
    let c = find(s, index)?;
    not_revealed_yet(&c)?;
    let _guard = RevealGuard::acquire(s, c.index)?;
    // Read again under the guard: a reveal that finished after the first read (and released
    // the guard) has been applied by now, and must not be followed by a second reveal entry.
    let c = find(s, index)?;
    not_revealed_yet(&c)?;
    let signer = reveal_signer(s, &c, signature)?;
    let now = Utc::now();
    if now < c.reveal_at && signer.is_none() {
        return Err(CommitmentError::Sealed(format!(
            "commitment {} is sealed until {}; before then only {} may reveal it, with a signed request (embargo reveal --key)",
            c.index,
            rfc3339(c.reveal_at),
            c.platform
        )));
    }
    let _slot = s.admission.upload()?;
    let log = s.log.clone();
    let commitment = c.clone();
    tokio::task::spawn_blocking(move || receive(body, &commitment, log.blobs()))
        .await
        .map_err(|e| CommitmentError::Internal(e.to_string()))??;
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
    Ok(super::submit::log_statement(s, Kind::Reveal, st).await?)
}

/// The revealed model of commitment `index`: its blob, opened, and its length if known.
pub async fn model(
    s: &AppState,
    index: u64,
) -> Result<(Commitment, tokio::fs::File, Option<u64>), CommitmentError> {
    let c = find(s, index)?;
    if !c.reveal.as_ref().is_some_and(|r| r.matches_commitment) {
        let now = Utc::now();
        return Err(CommitmentError::NotRevealed(format!(
            "commitment {} is {} (reveal_at {}): its model has not been revealed",
            c.index,
            c.status(now),
            rfc3339(c.reveal_at)
        )));
    }
    let path = s.log.blobs().path("sha3-256", &c.model_digest);
    let file = tokio::fs::File::open(&path).await.map_err(|e| {
        CommitmentError::Internal(format!("the revealed model's blob is unreadable: {e}"))
    })?;
    let len = file.metadata().await.map(|m| m.len()).ok();
    Ok((c, file, len))
}
