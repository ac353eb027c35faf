//! Timelocked escrows at the HTTP edge: the ciphertext's deposit and download, and the two
//! ways an escrow opens: a drand round signature (`POST /v1/beacon`, or fetched by the log
//! from a drand endpoint) or trustees' shares (`POST /v1/commitments/<i>/escrow/shares`).
//!
//! | route | what |
//! |---|---|
//! | `PUT /v1/commitments/<i>/escrow` | deposit the ciphertext; kept only if it hashes to the committed digest and its tlock stanza names the committed chain and round |
//! | `GET /v1/commitments/<i>/escrow` | the ciphertext, for anyone to check or open themselves |
//! | `POST /v1/commitments/<i>/escrow/shares` | a trustee's share, signed; opens the escrow once `threshold` are in |
//! | `GET /v1/beacon` | the drand chains escrows may be locked to |
//! | `POST /v1/beacon` | a round signature; opens every deposited escrow locked to that round |
//!
//! Opening verifies the signature (or each share against its published digest) before any
//! decryption, decrypts as a stream through the model hasher into a temporary blob, and logs a
//! reveal by escrow: matching the commitment, or not (escrow-invalid, with the evidence).
//! Nothing opens before the round's publication time, which is never before `reveal_at`.
//! The crypto is in [`crate::escrow`]; this module never decrypts anything itself.

use super::commitments::{find, idle_timeout, keep_if_committed, NotKept, RevealGuard};
use super::submit::{bad_request, log_statement};
use super::{ApiError, AppState, IMMUTABLE};
use crate::api::{
    Chains, Deposited, Opened, OpenedEscrow, RoundSignature, ShareAnswer, SharePost, Skipped,
};
use crate::core::predicate::{
    hex, statement, EscrowOpening, Kind, OpenedWith, PostedShare, Reveal, RevealedBy,
};
use crate::escrow::{self, Chain, Share};
use crate::log::blobs::BlobStore;
use crate::model::digest::FileHasher;
use crate::model::model_stream::Header;
use crate::model::pipeline;
use crate::registry::{rfc3339, share_request_message, Commitment};

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::prelude::{Engine, BASE64_STANDARD};
use chrono::Utc;
use futures_util::TryStreamExt;

use std::io::{self, BufReader, Read, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// Blob namespace of deposited ciphertexts (named by their chunk-tree root).
pub const CIPHERTEXTS: &str = "escrow";
/// Blob namespace of trustees' posted shares (named by the share's SHA3-256).
pub const SHARES: &str = "escrow-share";
/// How much of a deposit's start is kept to read the age header from.
const HEADER_PREFIX: usize = 64 * 1024;

pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/v1/commitments/{index}/escrow", get(download).put(deposit))
        .route("/v1/commitments/{index}/escrow/shares", post(post_share))
        .route("/v1/beacon", get(chains).post(post_beacon))
}

fn internal(what: &str) -> impl Fn(io::Error) -> ApiError + '_ {
    move |e| {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            format!("{what} failed: {e}"),
        )
    }
}

fn escrow_of(c: &Commitment) -> Result<&crate::core::predicate::Escrow, ApiError> {
    c.escrow.as_ref().ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "no_escrow",
            format!(
                "commitment {} has no escrow: its model opens only when {} reveals it",
                c.index, c.platform
            ),
        )
    })
}

/// Whether this commitment's ciphertext is in the blob store.
pub(crate) fn deposited(blobs: &BlobStore, c: &Commitment) -> bool {
    c.escrow
        .as_ref()
        .is_some_and(|e| blobs.exists(CIPHERTEXTS, e.ciphertext_hex()))
}

async fn deposit(
    State(s): State<Arc<AppState>>,
    Path(index): Path<String>,
    body: Body,
) -> Result<(StatusCode, Json<Deposited>), ApiError> {
    let c = find(&s, &index)?;
    let e = escrow_of(&c)?.clone();
    let answer = |stored| Deposited {
        commitment: c.index,
        ciphertext_digest: e.ciphertext_digest.clone(),
        ciphertext_size: e.ciphertext_size,
        stored,
    };
    if deposited(s.log.blobs(), &c) {
        return Ok((StatusCode::OK, Json(answer(false))));
    }
    let reader = tokio_util::io::SyncIoBridge::new(tokio_util::io::StreamReader::new(Box::pin(
        idle_timeout(body.into_data_stream().map_err(io::Error::other)),
    )));
    let log = s.log.clone();
    let (commitment, escrow) = (c.clone(), e.clone());
    tokio::task::spawn_blocking(move || {
        receive_ciphertext(reader, &commitment, &escrow, log.blobs())
    })
    .await
    .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string()))??;
    tracing::info!(
        commitment = c.index,
        size = e.ciphertext_size,
        "escrow deposited"
    );
    Ok((StatusCode::CREATED, Json(answer(true))))
}

/// Streams a deposit into a temporary blob, hashing it; keeps it only if it is the committed
/// ciphertext, locked as committed.
fn receive_ciphertext(
    mut reader: impl Read,
    c: &Commitment,
    e: &crate::core::predicate::Escrow,
    blobs: &BlobStore,
) -> Result<(), ApiError> {
    let mut blob = pipeline::write_behind(
        blobs
            .create_temp()
            .map_err(internal("storing the deposit"))?,
    );
    let mut hasher = FileHasher::new();
    let mut prefix = Vec::with_capacity(HEADER_PREFIX);
    let mut buf = vec![0u8; 1 << 20];
    let mut received: u64 = 0;
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
            Err(err) => {
                return Err(bad_request(
                    "upload_failed",
                    format!("reading the deposit failed ({err}): nothing was stored; retry"),
                ))
            }
        };
        received += n as u64;
        if received > e.ciphertext_size {
            return Err(ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "too_large",
                format!(
                    "the deposit is over the committed {} bytes: nothing was stored",
                    e.ciphertext_size
                ),
            ));
        }
        let bytes = &buf[..n];
        if prefix.len() < HEADER_PREFIX {
            let take = (HEADER_PREFIX - prefix.len()).min(n);
            prefix.extend_from_slice(&bytes[..take]);
        }
        hasher.update(bytes);
        blob.write_all(bytes)
            .map_err(internal("storing the deposit"))?;
    }
    if received < e.ciphertext_size {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "too_small",
            format!(
                "the deposit ended after {received} bytes; commitment {} escrows {} bytes: nothing was stored",
                c.index, e.ciphertext_size
            ),
        ));
    }
    let (root, _) = hasher.finish();
    let got = hex(&root);
    if got != e.ciphertext_hex() {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "digest_mismatch",
            format!(
                "the deposit's digest is sha3-256:{got}, but commitment {} escrows {}: these are not the committed bytes; nothing was stored",
                c.index, e.ciphertext_digest
            ),
        ));
    }
    check_lock(&prefix, c, e)?;
    blob.finish()
        .and_then(|b| b.commit(CIPHERTEXTS, e.ciphertext_hex()))
        .map_err(internal("storing the deposit"))?;
    Ok(())
}

/// The ciphertext's age header must lock it as the commitment says, or it would never open.
fn check_lock(
    prefix: &[u8],
    c: &Commitment,
    e: &crate::core::predicate::Escrow,
) -> Result<(), ApiError> {
    let refuse = |why: String| {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "escrow_lock_mismatch",
            format!(
                "{why}: nothing was stored (seal the model with `embargo commit --escrow tlock`)"
            ),
        )
    };
    let lock = escrow::header(&mut &prefix[..])
        .map_err(|err| refuse(format!("the deposit is not a tlock age file ({err})")))?;
    if lock.round != e.lock_round || hex(&lock.chain_hash) != e.chain_hash {
        return Err(refuse(format!(
            "the deposit is locked to round {} of chain {}, but commitment {} says round {} of chain {}",
            lock.round,
            hex(&lock.chain_hash),
            c.index,
            e.lock_round,
            e.chain_hash
        )));
    }
    if (lock.x25519_stanzas > 0) == e.trustees.is_empty() {
        return Err(refuse(if e.trustees.is_empty() {
            "the deposit has a trustee stanza but the commitment names no trustees".into()
        } else {
            format!(
                "the deposit has no trustee stanza but commitment {} names {} trustees",
                c.index,
                e.trustees.len()
            )
        }));
    }
    Ok(())
}

async fn download(
    State(s): State<Arc<AppState>>,
    Path(index): Path<String>,
) -> Result<Response, ApiError> {
    let c = find(&s, &index)?;
    let e = escrow_of(&c)?;
    let path = s.log.blobs().path(CIPHERTEXTS, e.ciphertext_hex());
    let file = tokio::fs::File::open(&path).await.map_err(|_| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "not_deposited",
            format!(
                "commitment {}'s escrow ciphertext has not been deposited; {} deposits it with PUT /v1/commitments/{}/escrow",
                c.index, c.platform, c.index
            ),
        )
    })?;
    let mut resp = Response::new(Body::from_stream(
        tokio_util::io::ReaderStream::with_capacity(file, 1 << 20),
    ));
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(IMMUTABLE));
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(e.ciphertext_size));
    if let Ok(v) = HeaderValue::from_str(&e.ciphertext_digest) {
        h.insert("embargo-ciphertext-digest", v);
    }
    Ok(resp)
}

async fn chains(State(s): State<Arc<AppState>>) -> Json<Chains> {
    Json(Chains {
        chains: s.log.registry.policy.beacons.clone(),
    })
}

async fn post_beacon(
    State(s): State<Arc<AppState>>,
    Json(r): Json<RoundSignature>,
) -> Result<Json<Opened>, ApiError> {
    let chain_hash = r
        .chain_hash
        .clone()
        .unwrap_or_else(|| hex(&Chain::quicknet().chain_hash));
    let chain = s
        .log
        .registry
        .policy
        .beacon(&chain_hash)
        .cloned()
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "unknown_beacon",
                format!("this log does not follow drand chain {chain_hash}: see GET /v1/beacon"),
            )
        })?;
    let signature = decode_hex(&r.signature)
        .ok_or_else(|| bad_request("bad_signature", "the signature must be hex"))?;
    let opened = open_round(&s, &chain, r.round, &signature).await?;
    Ok(Json(opened))
}

/// Verifies a round signature and opens every deposited escrow locked to it.
pub(crate) async fn open_round(
    s: &AppState,
    chain: &Chain,
    round: u64,
    signature: &[u8],
) -> Result<Opened, ApiError> {
    let chain_hex = hex(&chain.chain_hash);
    chain.verify(round, signature).map_err(|e| {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "bad_beacon_signature",
            format!("{e} (round {round} of chain {chain_hex}): nothing was opened"),
        )
    })?;
    let published = chain.round_time(round);
    if Utc::now() < published {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "round_not_due",
            format!(
                "round {round} of chain {chain_hex} is not published until {}: a signature before then means the beacon's key leaked, and this log opens no escrow early",
                rfc3339(published)
            ),
        ));
    }
    let locked = s.log.registry.escrows_locked_to(&chain.chain_hash, round)?;
    if locked.is_empty() {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "no_escrow_for_round",
            format!(
                "no escrow in this log is locked to round {round} of chain {chain_hex}: an escrow opens only with the signature of its own lock_round (GET /v1/commitments/<index> shows it)"
            ),
        ));
    }
    let mut out = Opened::default();
    for index in locked {
        let Some(c) = s.log.registry.commitment(index)? else {
            continue;
        };
        if let Some(reason) = not_openable(s, &c) {
            out.skipped.push(Skipped {
                commitment: index,
                reason,
            });
            continue;
        }
        let evidence = EscrowOpening {
            opened_with: OpenedWith::Beacon,
            ciphertext_digest: c
                .escrow
                .as_ref()
                .map(|e| e.ciphertext_digest.clone())
                .unwrap_or_default(),
            chain_hash: Some(chain_hex.clone()),
            round: Some(round),
            signature: Some(hex(signature)),
            shares: Vec::new(),
            opened_digest: None,
            error: None,
        };
        let key = Key::Beacon {
            chain: chain.clone(),
            round,
            signature: signature.to_vec(),
        };
        match open_and_log(s, &c, key, evidence).await {
            Ok(o) => out.opened.push(o),
            Err(Busy(reason)) => out.skipped.push(Skipped {
                commitment: index,
                reason,
            }),
        }
    }
    Ok(out)
}

/// Why an escrow cannot be opened now, if it cannot.
fn not_openable(s: &AppState, c: &Commitment) -> Option<String> {
    if let Some(r) = c.reveal.as_ref().filter(|r| r.matches_commitment) {
        return Some(format!("already revealed at entry {}", r.index));
    }
    if let Some(at) = c.escrow_invalid {
        return Some(format!(
            "its escrow was already found invalid at entry {at}"
        ));
    }
    if !deposited(s.log.blobs(), c) {
        return Some(format!(
            "its ciphertext was never deposited: {} must reveal the model itself",
            c.platform
        ));
    }
    None
}

/// What opens an escrow.
enum Key {
    Beacon {
        chain: Chain,
        round: u64,
        signature: Vec<u8>,
    },
    Shares(Vec<Share>),
}

/// Another opening or reveal of the commitment is in progress, or it has just finished.
struct Busy(String);

/// Opens `c`'s escrow with `key` and logs the reveal by escrow, valid or not.
async fn open_and_log(
    s: &AppState,
    c: &Commitment,
    key: Key,
    mut evidence: EscrowOpening,
) -> Result<OpenedEscrow, Busy> {
    let _guard = RevealGuard::acquire(s, c.index)
        .map_err(|_| Busy("another reveal or opening of this commitment is in progress".into()))?;
    // Read again under the guard: an opening that just finished must not be repeated.
    let c = match s.log.registry.commitment(c.index) {
        Ok(Some(c)) => c,
        _ => return Err(Busy("the commitment could not be read".into())),
    };
    if let Some(reason) = not_openable(s, &c) {
        return Err(Busy(reason));
    }
    let log = s.log.clone();
    let commitment = c.clone();
    let outcome =
        tokio::task::spawn_blocking(move || open_into_blob(&commitment, key, log.blobs()))
            .await
            .map_err(|e| Busy(format!("opening failed: {e}")))?
            .map_err(|e| {
                Busy(format!(
                    "opening stopped on a local error, nothing was logged: {e}"
                ))
            })?;
    let matches = matches!(outcome, Outcome::Committed);
    if let Outcome::Invalid {
        opened_digest,
        error,
    } = outcome
    {
        evidence.opened_digest = opened_digest;
        evidence.error = Some(error);
    }
    let predicate = Reveal {
        commitment: c.index,
        revealed_by: RevealedBy::Escrow,
        revealer: None,
        on_time: Utc::now() < c.overdue_at,
        location: if matches {
            format!("v1/commitments/{}/model", c.index)
        } else {
            format!("v1/commitments/{}/escrow", c.index)
        },
        total_size: c.model.total_size,
        matches_commitment: Some(matches),
        escrow: Some(evidence),
    };
    let st = statement(
        Kind::Reveal,
        &c.model.name,
        "sha3-256",
        &c.model_digest,
        &predicate,
    );
    let reveal = log_statement(s, Kind::Reveal, st)
        .await
        .map_err(|e| Busy(format!("logging the reveal failed: {}", e.message())))?;
    if matches {
        tracing::info!(commitment = c.index, entry = reveal.index, "escrow opened");
    } else {
        tracing::warn!(commitment = c.index, entry = reveal.index, "escrow invalid");
    }
    Ok(OpenedEscrow {
        commitment: c.index,
        matches_commitment: matches,
        reveal,
    })
}

/// What an escrow opened to.
enum Outcome {
    /// The committed model; its blob is stored.
    Committed,
    /// Other bytes, or nothing: the evidence for an escrow-invalid reveal.
    Invalid {
        opened_digest: Option<String>,
        error: String,
    },
}

/// A reader that remembers whether *it* failed, so a local disk error is never mistaken
/// for a ciphertext that does not open (which would accuse the platform in public).
struct Watched<R> {
    inner: R,
    failed: Arc<AtomicBool>,
}

impl<R: Read> Read for Watched<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.read(buf).inspect_err(|_| {
            self.failed.store(true, Ordering::Relaxed);
        })
    }
}

/// Decrypts `c`'s ciphertext as a stream through the model hasher into a temporary blob,
/// kept under the model digest only if it is the committed model. `Err` only for local
/// failures (reading the ciphertext, writing the blob): those log nothing.
fn open_into_blob(c: &Commitment, key: Key, blobs: &BlobStore) -> io::Result<Outcome> {
    let e = c.escrow.as_ref().expect("checked by not_openable");
    let read_failed = Arc::new(AtomicBool::new(false));
    let file = std::fs::File::open(blobs.path(CIPHERTEXTS, e.ciphertext_hex()))?;
    let ciphertext = BufReader::with_capacity(
        1 << 20,
        Watched {
            inner: file,
            failed: read_failed.clone(),
        },
    );
    let invalid = |error: String| {
        Ok(Outcome::Invalid {
            opened_digest: None,
            error,
        })
    };
    let plain: Box<dyn Read + Send> = match key {
        Key::Beacon {
            chain,
            round,
            signature,
        } => match escrow::open_with_beacon(&chain, round, &signature, ciphertext) {
            Ok(r) => Box::new(r),
            Err(err) if read_failed.load(Ordering::Relaxed) => return Err(io::Error::other(err)),
            Err(err) => {
                return invalid(format!(
                    "the escrow does not open with the round signature: {err}"
                ))
            }
        },
        Key::Shares(shares) => match escrow::open_with_shares(&shares, ciphertext) {
            Ok(r) => Box::new(r),
            Err(err) if read_failed.load(Ordering::Relaxed) => return Err(io::Error::other(err)),
            Err(err) => {
                return invalid(format!(
                    "the escrow does not open with the trustees' shares: {err}"
                ))
            }
        },
    };
    // Decryption runs a thread ahead of parsing and hashing, and the blob is written on a
    // third, so the stages overlap.
    let mut r = BufReader::with_capacity(1 << 20, pipeline::read_ahead(plain));
    let header = match Header::read_from(&mut r) {
        Ok(h) => h,
        Err(err) if read_failed.load(Ordering::Relaxed) => {
            return Err(io::Error::other(err.to_string()))
        }
        Err(err) => {
            return invalid(format!(
                "the escrow opened, but not to a model stream: {err}"
            ))
        }
    };
    if header.total_size() > c.model.total_size {
        return invalid(format!(
            "the escrow opened to a {}-byte model, but the commitment is for {} bytes",
            header.total_size(),
            c.model.total_size
        ));
    }
    match keep_if_committed(&header, &mut r, c, blobs) {
        Ok(()) => {}
        Err(NotKept::Local(e)) => return Err(e),
        Err(NotKept::Stream(err)) if read_failed.load(Ordering::Relaxed) => {
            return Err(io::Error::other(err.to_string()))
        }
        Err(NotKept::Stream(err)) => {
            return invalid(format!(
                "the escrow's plaintext is not a whole model stream: {err}"
            ))
        }
        Err(NotKept::Digest(got)) => {
            return Ok(Outcome::Invalid {
                error: format!(
                    "the escrow opened to a model with digest {got}, not the committed {}",
                    c.model_digest
                ),
                opened_digest: Some(got),
            })
        }
    }
    Ok(Outcome::Committed)
}

async fn post_share(
    State(s): State<Arc<AppState>>,
    Path(index): Path<String>,
    Json(p): Json<SharePost>,
) -> Result<(StatusCode, Json<ShareAnswer>), ApiError> {
    let c = find(&s, &index)?;
    let e = escrow_of(&c)?.clone();
    let threshold = e.threshold.unwrap_or(0);
    let Some(trustee) = e.trustees.iter().find(|t| t.key.key_ref() == p.trustee) else {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "not_a_trustee",
            format!(
                "{} is not a trustee of commitment {}'s escrow (its trustees: {})",
                p.trustee,
                c.index,
                if e.trustees.is_empty() {
                    "none".into()
                } else {
                    e.trustees
                        .iter()
                        .map(|t| t.key.key_ref())
                        .collect::<Vec<_>>()
                        .join(", ")
                }
            ),
        ));
    };
    let sig = BASE64_STANDARD
        .decode(&p.signature)
        .map_err(|_| bad_request("bad_signature", "the signature is not base64"))?;
    let msg = share_request_message(s.log.origin(), c.index, &trustee.share_digest);
    if !trustee.key.verify(&msg, &sig) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "bad_share_signature",
            format!(
                "the signature by {} does not verify over this share request (embargo escrow share signs it)",
                p.trustee
            ),
        ));
    }
    if Utc::now() < c.reveal_at {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "sealed",
            format!(
                "commitment {} is sealed until {}: trustees may open its escrow only after that",
                c.index,
                rfc3339(c.reveal_at)
            ),
        ));
    }
    let share = Share::from_text(p.share.trim()).map_err(|err| {
        bad_request(
            "bad_share",
            format!("{err}: post the share `embargo escrow share` decrypts"),
        )
    })?;
    let digest = hex(&share.digest());
    if digest != trustee.share_digest {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "share_mismatch",
            format!(
                "this share's SHA3-256 is {digest}, but commitment {} published {} for {}: it is not your share of this escrow",
                c.index, trustee.share_digest, p.trustee
            ),
        ));
    }
    if let Some(reason) = not_openable(&s, &c) {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "not_openable",
            format!("commitment {}'s escrow cannot be opened: {reason}", c.index),
        ));
    }
    store_share(s.log.blobs(), &digest, &p.share).map_err(internal("storing the share"))?;
    let posted: Vec<(String, Share)> = e
        .trustees
        .iter()
        .filter_map(|t| {
            let text = std::fs::read_to_string(s.log.blobs().path(SHARES, &t.share_digest)).ok()?;
            Some((t.key.key_ref(), Share::from_text(text.trim()).ok()?))
        })
        .collect();
    let mut answer = ShareAnswer {
        commitment: c.index,
        shares_posted: posted.len(),
        threshold,
        opened: None,
    };
    if posted.len() >= threshold as usize {
        let evidence = EscrowOpening {
            opened_with: OpenedWith::Trustees,
            ciphertext_digest: e.ciphertext_digest.clone(),
            chain_hash: None,
            round: None,
            signature: None,
            shares: posted
                .iter()
                .map(|(trustee, share)| PostedShare {
                    trustee: trustee.clone(),
                    share: share.to_text(),
                })
                .collect(),
            opened_digest: None,
            error: None,
        };
        let shares = posted.into_iter().map(|(_, s)| s).collect();
        match open_and_log(&s, &c, Key::Shares(shares), evidence).await {
            Ok(o) => answer.opened = Some(o),
            Err(Busy(reason)) => {
                return Err(ApiError::new(StatusCode::CONFLICT, "not_openable", reason))
            }
        }
    }
    Ok((StatusCode::ACCEPTED, Json(answer)))
}

/// Keeps a posted share (durably, named by its digest) until the escrow opens.
fn store_share(blobs: &BlobStore, digest: &str, text: &str) -> io::Result<()> {
    if blobs.exists(SHARES, digest) {
        return Ok(());
    }
    let mut blob = blobs.create_temp()?;
    blob.write_all(text.trim().as_bytes())?;
    blob.commit(SHARES, digest)?;
    Ok(())
}

/// A hex signature (at most 512 bytes).
fn decode_hex(s: &str) -> Option<Vec<u8>> {
    let s = s.trim();
    (s.len() <= 1024).then(|| hex::decode(s).ok()).flatten()
}

/// Fetches round signatures from drand endpoints for escrows whose round has been published,
/// and opens them: the escrow opens even if nobody posts the signature. Each poll reads only
/// the escrows still pending.
pub async fn watch_beacons(s: Arc<AppState>, urls: Vec<String>, every: std::time::Duration) {
    if urls.is_empty() {
        return;
    }
    let targets: Vec<&str> = urls.iter().map(String::as_str).collect();
    let client = crate::client::http_client(std::time::Duration::from_secs(20), &targets);
    loop {
        tokio::time::sleep(every).await;
        let due: Vec<([u8; 32], u64, u64)> = s
            .log
            .registry
            .pending_escrow_locks()
            .filter_map(Result::ok)
            .filter(|(chain, round, _)| {
                s.log
                    .registry
                    .policy
                    .beacon(&hex(chain))
                    .is_some_and(|c| c.round_time(*round) <= Utc::now())
            })
            .collect();
        let mut tried = std::collections::HashSet::new();
        for (chain_hash, round, index) in due {
            let pending = s
                .log
                .registry
                .commitment(index)
                .ok()
                .flatten()
                .is_some_and(|c| not_openable(&s, &c).is_none());
            if !pending || !tried.insert((chain_hash, round)) {
                continue;
            }
            let Some(chain) = s.log.registry.policy.beacon(&hex(&chain_hash)).cloned() else {
                continue;
            };
            for url in &urls {
                match fetch_round(&client, url, &chain, round).await {
                    Ok(sig) => {
                        match open_round(&s, &chain, round, &sig).await {
                            Ok(o) => {
                                tracing::info!(round, opened = o.opened.len(), source = %url, "beacon fetched")
                            }
                            Err(e) => {
                                tracing::warn!(round, source = %url, error = %e.message(), "fetched beacon refused")
                            }
                        }
                        break;
                    }
                    Err(e) => {
                        tracing::warn!(round, source = %url, error = %e, "beacon fetch failed")
                    }
                }
            }
        }
    }
}

/// `GET <url>/<chain hash>/public/<round>`, drand's HTTP API.
async fn fetch_round(
    client: &reqwest::Client,
    url: &str,
    chain: &Chain,
    round: u64,
) -> Result<Vec<u8>, String> {
    let u = format!(
        "{}/{}/public/{round}",
        url.trim_end_matches('/'),
        hex(&chain.chain_hash)
    );
    let resp = client.get(&u).send().await.map_err(|e| e.to_string())?;
    if !resp.status().is_success() {
        return Err(format!("{u} answered {}", resp.status()));
    }
    let r: RoundSignature = resp.json().await.map_err(|e| e.to_string())?;
    if r.round != round {
        return Err(format!("{u} answered round {} instead", r.round));
    }
    decode_hex(&r.signature).ok_or_else(|| format!("{u} answered a signature that is not hex"))
}
