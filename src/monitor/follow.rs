//! The follower: one poll of every URL of a log, through a [`LogSource`], into the monitor's
//! [`State`].
//!
//! For each URL it verifies `/checkpoint` against the log's key (and the witnesses' cosignatures
//! when a threshold is set), compares it with every checkpoint seen before (same size, another
//! root: a split view), and, for a larger tree, reads the new entries from the entry bundles,
//! appends their hashes to the right edge of the tree it verified before and requires the
//! checkpoint's root: that one computation proves the new checkpoint consistent with every one
//! before and the entries to be the tree's. Only then does it decide the entries
//! ([`super::derive::observe`]) and keep the new registry. A root that does not match is
//! classified with the log's consistency proof, verified here: a proof that fails means two
//! incompatible signed checkpoints (split view, with evidence); one that verifies means the
//! entries served are not the tree's. Nothing the JSON API says is trusted, except the size
//! `/v1/log` announces, used only to see the witnessed checkpoint lag.
//!
//! Never does I/O itself: the network is behind [`LogSource`] (reqwest in
//! `client::monitor`), files are [`super::state`]'s.

use crate::core::checkpoint::SignedCheckpoint;
use crate::core::tlog::{self, decode_bundle, record_hash, Hash, TILE_WIDTH};
use crate::monitor::derive::{observe, tick, LogRules, Registry};
use crate::monitor::event::{EventKind, Found};
use crate::monitor::state::{write_evidence, Seen, State, StateError};
use crate::witness::cosignature::{verify_cosignatures, WitnessKey};
use chrono::{DateTime, Duration, Utc};
use serde_json::json;
use std::future::Future;
use std::path::Path;

/// Why a log URL's answer could not be had.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("cannot reach {url}: {message}")]
    Unreachable { url: String, message: String },
    #[error("{url} refused ({status}): {message}")]
    Refused {
        url: String,
        status: u16,
        message: String,
    },
    #[error("{url} answered something unreadable: {message}")]
    BadAnswer { url: String, message: String },
}

/// Why a poll stopped.
#[derive(Debug, thiserror::Error)]
pub enum FollowError {
    #[error(transparent)]
    State(#[from] StateError),
}

/// One URL serving a log: the C2SP read API, the consistency proof, the announced size and
/// revealed models.
pub trait LogSource {
    /// The URL, as events name it.
    fn url(&self) -> &str;
    /// `GET /checkpoint`.
    fn checkpoint(&self) -> impl Future<Output = Result<String, SourceError>> + Send;
    /// `GET /tile/entries/<index>[.p/<width>]`.
    fn entry_bundle(
        &self,
        index: u64,
        width: u16,
    ) -> impl Future<Output = Result<Vec<u8>, SourceError>> + Send;
    /// `GET /v1/proof/consistency?old=&new=`.
    fn consistency_proof(
        &self,
        old: u64,
        new: u64,
    ) -> impl Future<Output = Result<Vec<Hash>, SourceError>> + Send;
    /// The tree size `/v1/log` announces (a hint: only used to see witnesses lag).
    fn announced_size(&self) -> impl Future<Output = Result<u64, SourceError>> + Send;
    /// Downloads commitment `index`'s revealed model and returns its SHA3 model digest (hex).
    fn revealed_digest(
        &self,
        index: u64,
    ) -> impl Future<Output = Result<String, SourceError>> + Send;
}

/// Witness cosignatures a checkpoint must carry.
#[derive(Clone, Debug, Default)]
pub struct WitnessPolicy {
    pub witnesses: Vec<WitnessKey>,
    pub threshold: usize,
    /// How long the witnessed checkpoint may stay behind the announced size.
    pub max_lag: Duration,
}

/// What the follower needs besides its sources.
pub struct Follower<S> {
    pub sources: Vec<S>,
    pub log: LogRules,
    pub witnesses: WitnessPolicy,
    pub verify_reveals: bool,
    /// The state directory, where evidence goes.
    pub dir: std::path::PathBuf,
}

impl<S: LogSource + Sync> Follower<S> {
    /// Polls every URL once, then reports the deadlines the clock `now` has passed.
    pub async fn poll(&self, state: &mut State, now: DateTime<Utc>) -> Result<(), FollowError> {
        for src in &self.sources {
            self.poll_one(src, state, now).await?;
        }
        if self.verify_reveals {
            self.check_reveals(state, now).await;
        }
        for found in tick(&state.registry, now) {
            state.record(found, now);
        }
        Ok(())
    }

    async fn poll_one(
        &self,
        src: &S,
        state: &mut State,
        now: DateTime<Utc>,
    ) -> Result<(), FollowError> {
        let text = match src.checkpoint().await {
            Ok(t) => t,
            Err(e) => {
                unreachable(state, src.url(), &e, now);
                return Ok(());
            }
        };
        reachable(state, src.url(), now);
        let Some(cp) = self.verified_checkpoint(state, src.url(), &text, now) else {
            return Ok(());
        };
        self.watch_lag(src, state, &cp, now).await;
        if let Some(earlier) = state.see(&cp, src.url()) {
            let other = seen(&cp, src.url());
            split_view(&self.dir, state, &earlier, &other, now)?;
        }
        if cp.size() > state.size {
            self.advance(src, state, &cp, now).await?;
        } else if cp.size() < state.size {
            self.check_older(state, &cp, src.url(), now).await?;
        }
        Ok(())
    }

    /// The checkpoint, if it verifies with the log's key and carries the cosignatures needed.
    fn verified_checkpoint(
        &self,
        state: &mut State,
        url: &str,
        text: &str,
        now: DateTime<Utc>,
    ) -> Option<SignedCheckpoint> {
        let cp = match SignedCheckpoint::verify(text, &self.log.key) {
            Ok(cp) => cp,
            Err(e) => {
                let key = format!("bad-checkpoint:{url}:{}", tlog_digest(text));
                let f = Found::new(
                    EventKind::BadCheckpoint,
                    key,
                    format!(
                        "{url} served a checkpoint that does not verify with the log's key: {e}"
                    ),
                )
                .details(json!({ "url": url, "note": text }));
                state.record(f, now);
                return None;
            }
        };
        if self.witnesses.threshold == 0 {
            return Some(cp);
        }
        let report = verify_cosignatures(text, &self.witnesses.witnesses);
        let refusal = match report {
            Ok(r) => r
                .require(self.witnesses.threshold)
                .err()
                .map(|e| e.to_string()),
            Err(e) => Some(e.to_string()),
        };
        let Some(why) = refusal else {
            return Some(cp);
        };
        let key = format!(
            "cosignatures-missing:{url}:{}:{}",
            cp.size(),
            tlog_digest(text)
        );
        let f = Found::new(
            EventKind::CosignaturesMissing,
            key,
            format!(
                "{url} served checkpoint {} without the cosignatures required: {why}",
                cp.size()
            ),
        )
        .details(json!({ "url": url, "size": cp.size(), "note": text }));
        state.record(f, now);
        None
    }

    /// With witnesses: the witnessed checkpoint staying behind what the log announces.
    async fn watch_lag(
        &self,
        src: &S,
        state: &mut State,
        cp: &SignedCheckpoint,
        now: DateTime<Utc>,
    ) {
        if self.witnesses.threshold == 0 {
            return;
        }
        let Ok(announced) = src.announced_size().await else {
            return;
        };
        if announced <= cp.size() {
            state.lagging.remove(src.url());
            return;
        }
        let since = state
            .lagging
            .entry(src.url().to_owned())
            .or_insert((cp.size(), now))
            .1;
        if now - since >= self.witnesses.max_lag {
            let key = format!("witness-lag:{}:{}", src.url(), cp.size());
            let f = Found::new(
                EventKind::WitnessLag,
                key,
                format!(
                    "{}'s witnessed checkpoint ({} entries) has stayed behind the {} entries it announces since {}",
                    src.url(),
                    cp.size(),
                    announced,
                    crate::core::records::rfc3339(since)
                ),
            )
            .details(json!({ "url": src.url(), "witnessed_size": cp.size(), "announced_size": announced }));
            state.record(f, now);
        }
    }

    /// Reads and decides the entries between the verified size and `cp`'s.
    async fn advance(
        &self,
        src: &S,
        state: &mut State,
        cp: &SignedCheckpoint,
        now: DateTime<Utc>,
    ) -> Result<(), FollowError> {
        let mut edge = state.right_edge()?;
        let mut registry = state.registry.clone();
        let mut found = Vec::new();
        let first_bundle = state.size / TILE_WIDTH;
        let last_bundle = (cp.size() - 1) / TILE_WIDTH;
        for n in first_bundle..=last_bundle {
            let read = self
                .read_bundle(src, n, cp.size(), state.size, &mut edge, &mut registry)
                .await;
            match read {
                Ok(mut f) => found.append(&mut f),
                Err(e) => {
                    unreachable(state, src.url(), &e, now);
                    return Ok(());
                }
            }
        }
        if edge.root() != cp.root() {
            return self.mismatch(src, state, cp, now).await;
        }
        state.verified(cp, &edge, registry);
        for f in found {
            state.record(f, now);
        }
        Ok(())
    }

    /// Entry bundle `n` of a tree of `size`, from entry `from` on: hashed onto `edge`, decided
    /// against `registry`.
    async fn read_bundle(
        &self,
        src: &S,
        n: u64,
        size: u64,
        from: u64,
        edge: &mut tlog::RightEdge,
        registry: &mut Registry,
    ) -> Result<Vec<Found>, SourceError> {
        let width = (size - n * TILE_WIDTH).min(TILE_WIDTH) as u16;
        let data = src.entry_bundle(n, width).await?;
        let entries = decode_bundle(&data)
            .filter(|e| e.len() == usize::from(width))
            .ok_or_else(|| SourceError::BadAnswer {
                url: src.url().to_owned(),
                message: format!("entry bundle {n} (width {width}) is not a valid bundle"),
            })?;
        let mut found = Vec::new();
        let mut done = Vec::new();
        for (i, entry) in entries.iter().enumerate() {
            let index = n * TILE_WIDTH + i as u64;
            if index < from {
                continue;
            }
            edge.append(record_hash(entry), &mut done);
            found.extend(observe(registry, &self.log, index, entry));
        }
        Ok(found)
    }

    /// `cp`'s root is not what the entries served make of the verified tree: split view if
    /// the log's own consistency proof does not connect the two checkpoints, else bad entries.
    async fn mismatch(
        &self,
        src: &S,
        state: &mut State,
        cp: &SignedCheckpoint,
        now: DateTime<Utc>,
    ) -> Result<(), FollowError> {
        let Some(verified) = state.checkpoint.clone() else {
            let why = "the tree has no earlier checkpoint";
            tree_mismatch(state, src.url(), cp, why, now);
            return Ok(());
        };
        let old = SignedCheckpoint::verify(&verified, &self.log.key)
            .expect("the state's checkpoint was verified with this key");
        match src.consistency_proof(old.size(), cp.size()).await {
            Ok(proof) => {
                if tlog::verify_consistency(&proof, old.size(), old.root(), cp.size(), cp.root())
                    .is_ok()
                {
                    let why = "the log's consistency proof verifies, so the entries it served are not its tree's";
                    tree_mismatch(state, src.url(), cp, why, now);
                    return Ok(());
                }
                let first = state
                    .seen
                    .iter()
                    .find(|s| s.note == verified)
                    .cloned()
                    .unwrap_or_else(|| seen(&old, "(verified earlier)"));
                split_view(&self.dir, state, &first, &seen(cp, src.url()), now)
            }
            Err(e) => {
                let why = format!("and its consistency proof could not be had: {e}");
                tree_mismatch(state, src.url(), cp, &why, now);
                Ok(())
            }
        }
    }

    /// A checkpoint smaller than the verified tree must be consistent with it: some URL's
    /// consistency proof must connect them; if proofs come and none does, it is a split view.
    async fn check_older(
        &self,
        state: &mut State,
        cp: &SignedCheckpoint,
        url: &str,
        now: DateTime<Utc>,
    ) -> Result<(), FollowError> {
        let Some(verified) = state.checkpoint.clone() else {
            return Ok(());
        };
        let new = SignedCheckpoint::verify(&verified, &self.log.key)
            .expect("the state's checkpoint was verified with this key");
        if cp.size() == 0 {
            return Ok(());
        }
        let mut answered = false;
        for src in &self.sources {
            let Ok(proof) = src.consistency_proof(cp.size(), new.size()).await else {
                continue;
            };
            answered = true;
            if tlog::verify_consistency(&proof, cp.size(), cp.root(), new.size(), new.root())
                .is_ok()
            {
                return Ok(());
            }
        }
        if !answered {
            return Ok(());
        }
        let first = seen(&new, "(verified earlier)");
        split_view(&self.dir, state, &first, &seen(cp, url), now)
    }

    /// Downloads each revealed model once and checks its digest against the commitment.
    async fn check_reveals(&self, state: &mut State, now: DateTime<Utc>) {
        let Some(src) = self.sources.first() else {
            return;
        };
        let pending: Vec<(u64, String)> = state
            .registry
            .commitments
            .values()
            .filter(|c| c.revealed().is_some() && !state.reveals_checked.contains(&c.index))
            .map(|c| (c.index, c.model_digest.clone()))
            .collect();
        for (index, committed) in pending {
            let Ok(got) = src.revealed_digest(index).await else {
                continue; // tried again at the next poll
            };
            state.reveals_checked.insert(index);
            let same = strip(&got) == strip(&committed);
            let (kind, message) = if same {
                (
                    EventKind::RevealVerified,
                    format!("the revealed model of commitment {index} has the committed digest"),
                )
            } else {
                (EventKind::RevealMismatch, format!("the model the log serves for commitment {index} has digest {got}, NOT the committed {committed}"))
            };
            let f = Found::new(kind, format!("{}:{index}", kind.as_str()), message)
                .index(index)
                .commitment(index)
                .details(json!({ "committed": committed, "served": got }));
            state.record(f, now);
        }
    }
}

fn strip(digest: &str) -> &str {
    digest.strip_prefix("sha3-256:").unwrap_or(digest)
}

fn seen(cp: &SignedCheckpoint, url: &str) -> Seen {
    use base64::prelude::{Engine, BASE64_STANDARD};
    Seen {
        size: cp.size(),
        root: BASE64_STANDARD.encode(cp.root().0),
        url: url.to_owned(),
        note: cp.text.clone(),
    }
}

/// A short digest of a note, to tell events about different notes apart.
fn tlog_digest(text: &str) -> String {
    hex::encode(&record_hash(text.as_bytes()).0[..8])
}

/// Reports a split view once, writing both notes as evidence the first time.
fn split_view(
    dir: &Path,
    state: &mut State,
    first: &Seen,
    second: &Seen,
    now: DateTime<Utc>,
) -> Result<(), FollowError> {
    let mut pair = [first, second];
    pair.sort_by(|a, b| (a.size, &a.root).cmp(&(b.size, &b.root)));
    let key = format!(
        "split-view:{}:{}:{}:{}",
        pair[0].size, pair[0].root, pair[1].size, pair[1].root
    );
    if state.was_reported(&key) {
        return Ok(());
    }
    let evidence = write_evidence(dir, now, first, second)?;
    let f = Found::new(
        EventKind::SplitView,
        key,
        format!(
            "SPLIT VIEW: the log signed checkpoints of sizes {} ({}) and {} ({}) that cannot both be true; both notes are in {}",
            first.size,
            first.url,
            second.size,
            second.url,
            evidence.display()
        ),
    )
    .details(json!({
        "evidence": evidence.display().to_string(),
        "first": { "url": first.url, "size": first.size, "root": first.root, "note": first.note },
        "second": { "url": second.url, "size": second.size, "root": second.root, "note": second.note },
    }));
    state.record(f, now);
    Ok(())
}

fn tree_mismatch(
    state: &mut State,
    url: &str,
    cp: &SignedCheckpoint,
    why: &str,
    now: DateTime<Utc>,
) {
    let key = format!("tree-mismatch:{url}:{}", cp.size());
    let f = Found::new(
        EventKind::TreeMismatch,
        key,
        format!(
            "the entries {url} serves do not hash to its checkpoint of size {}: {why}",
            cp.size()
        ),
    )
    .details(json!({ "url": url, "note": cp.text }));
    state.record(f, now);
}

fn unreachable(state: &mut State, url: &str, e: &SourceError, now: DateTime<Utc>) {
    if state.unreachable.contains_key(url) {
        return;
    }
    state.unreachable.insert(url.to_owned(), now);
    let key = format!(
        "unreachable:{url}:{}",
        crate::core::entry::format_logged_at(now)
    );
    let f = Found::new(
        EventKind::LogUnreachable,
        key,
        format!("the log is unreachable: {e}"),
    )
    .details(json!({ "url": url, "error": e.to_string() }));
    state.record(f, now);
}

fn reachable(state: &mut State, url: &str, now: DateTime<Utc>) {
    let Some(since) = state.unreachable.remove(url) else {
        return;
    };
    let key = format!(
        "reachable:{url}:{}",
        crate::core::entry::format_logged_at(since)
    );
    let f = Found::new(
        EventKind::LogReachable,
        key,
        format!(
            "{url} answers again (unreachable since {})",
            crate::core::records::rfc3339(since)
        ),
    )
    .details(json!({ "url": url, "since": since }));
    state.record(f, now);
}
