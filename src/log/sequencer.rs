//! The sequencer: pools submissions and appends them in batches.
//!
//! One thread owns the right edge of the tree. Every `interval` it takes what the pool holds
//! (up to [`MAX_BATCH`]), assigns indexes and one `logged_at` time, writes the new tiles and
//! bundles, signs and writes one checkpoint, and only then answers the submitters: a
//! submission is acknowledged once it is durable and covered by a signed checkpoint. Many
//! clients thus share one round of fsyncs and one signature.
//!
//! Admission is decided here, in log order: each Embargo entry is checked against the
//! registry as of its own position ([`crate::rules::admit`] over a [`BatchView`]: the
//! registry as of the last checkpoint plus the entries placed earlier in this batch), and
//! refused entries get no index. Whatever a handler checked before queueing is an early
//! answer; this decision is the one that holds.
//!
//! If storage fails mid-batch, every submitter in the batch gets an error and the writer
//! reloads its state from the last checkpoint on disk, exactly as after a crash.

use crate::core::checkpoint::Checkpoint;
use crate::core::entry::{encode_leaf, format_logged_at};
use crate::core::records::{Commitment, Party};
use crate::core::tlog::{
    self, encode_bundle, MemoryTiles, RightEdge, TileId, TileKind, TILE_WIDTH,
};
use crate::log::registry::Registry;
use crate::log::store::FileWrite;
use crate::log::{Log, LogError, Recovered, Snapshot, MAX_BATCH};
use crate::rules::{self, AdmitError, Effect, RegistryStore, RegistryView};
use chrono::Utc;
use std::collections::HashMap;
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::oneshot;

/// Submissions waiting for the next batch, at most.
pub const MAX_POOL: usize = 65_536;

/// One envelope to append.
pub struct Submission {
    /// The envelope in canonical JSON.
    pub envelope_json: Arc<str>,
    pub dedup_key: [u8; 32],
    /// What the entry is for the registry's rules (Embargo kinds only): admitted or refused
    /// against the registry as of its position, and applied once durable.
    pub effect: Option<Effect>,
}

/// The answer to a submission.
#[derive(Clone)]
pub struct Sequenced {
    pub index: u64,
    /// Whether an identical envelope was already logged (at `index`).
    pub duplicate: bool,
    /// The published state that covers the entry.
    pub snapshot: Arc<Snapshot>,
    /// The batch's `logged_at` (the entry's, unless it is a duplicate).
    pub logged_at: Arc<str>,
}

#[derive(Debug, thiserror::Error, Clone)]
pub enum SubmitError {
    #[error(
        "the log is busy: {MAX_POOL} submissions are waiting to be sequenced; retry in a second"
    )]
    PoolFull,
    #[error("the log is shutting down; retry against its restarted instance")]
    Stopped,
    #[error("the log could not store this batch ({0}); nothing was appended; retry")]
    Storage(String),
    /// The entry breaks a rule as of its position in the log; nothing was appended.
    #[error(transparent)]
    Refused(#[from] AdmitError),
}

type Reply = oneshot::Sender<Result<Sequenced, SubmitError>>;

/// The handle submitters use.
#[derive(Clone)]
pub struct Sequencer {
    tx: SyncSender<(Submission, Reply)>,
}

impl Sequencer {
    /// Starts the sequencing thread for `log`, continuing from `recovered`.
    pub fn start(log: Arc<Log>, recovered: Recovered, interval: Duration) -> Sequencer {
        let (tx, rx) = mpsc::sync_channel(MAX_POOL);
        let writer = Writer {
            log,
            edge: recovered.edge,
            bundle: recovered.bundle,
            last_logged_at: None,
        };
        std::thread::Builder::new()
            .name("embargo-sequencer".into())
            .spawn(move || {
                let run = std::panic::AssertUnwindSafe(|| writer.run(rx, interval));
                if std::panic::catch_unwind(run).is_err() {
                    fail_stop("the sequencer panicked");
                }
            })
            .expect("spawning the sequencer thread");
        Sequencer { tx }
    }

    /// Queues a submission and waits until it is sequenced and durable.
    pub async fn submit(&self, submission: Submission) -> Result<Sequenced, SubmitError> {
        let (reply, answer) = oneshot::channel();
        match self.tx.try_send((submission, reply)) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => return Err(SubmitError::PoolFull),
            Err(TrySendError::Disconnected(_)) => return Err(SubmitError::Stopped),
        }
        answer.await.unwrap_or(Err(SubmitError::Stopped))
    }
}

struct Writer {
    log: Arc<Log>,
    edge: RightEdge,
    /// Entries of the partial entry bundle at the current size.
    bundle: Vec<Vec<u8>>,
    last_logged_at: Option<chrono::DateTime<Utc>>,
}

/// Where a submission went.
enum Placement {
    /// Appended at this index.
    New(u64),
    /// An identical envelope is already logged at this index.
    Duplicate(u64),
    /// Refused by a rule as of its position in the log.
    Refused(AdmitError),
}

/// A durable batch: the published snapshot, each submission's placement, and the batch's
/// `logged_at`.
type Committed = (Arc<Snapshot>, Vec<Placement>, String);

/// What a batch will write, before it is durable.
struct Staged {
    files: Vec<FileWrite>,
    recent: MemoryTiles,
    new_keys: Vec<([u8; 32], u64)>,
    /// Registry effects of the new entries, with their indexes.
    effects: Vec<(u64, Effect)>,
    logged_at: chrono::DateTime<Utc>,
    /// For every submission, in order: where it went.
    placements: Vec<Placement>,
}

impl Writer {
    fn run(mut self, rx: Receiver<(Submission, Reply)>, interval: Duration) {
        let mut last_batch = Instant::now() - interval;
        // Wait for the first submission, then for the rest of the interval, then drain.
        while let Ok(first) = rx.recv() {
            let due = last_batch + interval;
            let now = Instant::now();
            if due > now {
                std::thread::sleep(due - now);
            }
            last_batch = Instant::now();
            let mut batch = vec![first];
            while batch.len() < MAX_BATCH {
                match rx.try_recv() {
                    Ok(item) => batch.push(item),
                    Err(_) => break,
                }
            }
            self.sequence(batch);
        }
        let _ = self.log.index().flush();
    }

    fn sequence(&mut self, batch: Vec<(Submission, Reply)>) {
        let (submissions, replies): (Vec<_>, Vec<_>) = batch.into_iter().unzip();
        let before = (self.edge.clone(), self.bundle.clone());
        let result = self
            .stage(&submissions)
            .and_then(|staged| self.commit(staged));
        match result {
            Ok((snapshot, placements, logged_at)) => {
                let logged_at: Arc<str> = logged_at.into();
                for (reply, placement) in replies.into_iter().zip(placements) {
                    let (index, duplicate) = match placement {
                        Placement::New(i) => (i, false),
                        Placement::Duplicate(i) => (i, true),
                        Placement::Refused(e) => {
                            let _ = reply.send(Err(SubmitError::Refused(e)));
                            continue;
                        }
                    };
                    let _ = reply.send(Ok(Sequenced {
                        index,
                        duplicate,
                        snapshot: snapshot.clone(),
                        logged_at: logged_at.clone(),
                    }));
                }
            }
            Err(e) => {
                tracing::error!(error = %e, "batch failed; nothing acknowledged");
                (self.edge, self.bundle) = before;
                // Files the failed batch may have written past the checkpoint must not linger.
                let max_tiles = (MAX_BATCH as u64) / TILE_WIDTH + 2;
                if let Err(e) = self
                    .log
                    .store
                    .discard_uncommitted(self.edge.size(), max_tiles)
                {
                    tracing::error!(error = %e, "cleaning up after the failed batch failed");
                }
                let err = SubmitError::Storage(e.to_string());
                for reply in replies {
                    let _ = reply.send(Err(err.clone()));
                }
            }
        }
    }

    /// The `logged_at` for a batch: the wall clock, never earlier than the previous batch's.
    fn next_logged_at(&mut self) -> chrono::DateTime<Utc> {
        let now = Utc::now();
        let now = chrono::DateTime::from_timestamp_millis(now.timestamp_millis()).unwrap_or(now);
        if self.last_logged_at.is_none_or(|last| now > last) {
            self.last_logged_at = Some(now);
        }
        self.last_logged_at.unwrap_or(now)
    }

    /// Assigns indexes and builds every file the batch writes (nothing touches disk).
    fn stage(&mut self, submissions: &[Submission]) -> Result<Staged, LogError> {
        use rayon::prelude::*;
        let start = self.edge.size();
        let logged_at_time = self.next_logged_at();
        let logged_at = format_logged_at(logged_at_time);
        let mut effects = Vec::new();
        let mut in_batch: HashMap<[u8; 32], u64> = HashMap::new();
        let mut placements = Vec::with_capacity(submissions.len());
        let mut leaves: Vec<String> = Vec::new();
        let mut new_keys = Vec::new();
        let mut view = BatchView::new(self.log.registry());
        for s in submissions {
            if let Some(&i) = in_batch.get(&s.dedup_key) {
                placements.push(Placement::Duplicate(i));
                continue;
            }
            if let Some(i) = self.log.index().lookup(&s.dedup_key, start)? {
                placements.push(Placement::Duplicate(i));
                continue;
            }
            let i = start + leaves.len() as u64;
            if let Some(e) = &s.effect {
                // The rules, as of index i: the registry plus this batch's earlier entries.
                let policy = &self.log.registry().policy;
                let admitted = rules::admit(&view, policy, e, logged_at_time)
                    .and_then(|()| rules::apply(&mut view, policy, i, logged_at_time, e));
                if let Err(refusal) = admitted {
                    placements.push(Placement::Refused(refusal));
                    continue;
                }
                effects.push((i, e.clone()));
            }
            in_batch.insert(s.dedup_key, i);
            new_keys.push((s.dedup_key, i));
            placements.push(Placement::New(i));
            leaves.push(encode_leaf(&logged_at, &s.envelope_json));
        }
        let hashes: Vec<tlog::Hash> = leaves
            .par_iter()
            .map(|l| tlog::record_hash(l.as_bytes()))
            .collect();

        let mut completed = Vec::new();
        let mut files = Vec::new();
        for (leaf, hash) in leaves.into_iter().zip(hashes) {
            let bundle_index = self.edge.size() / TILE_WIDTH;
            self.edge.append(hash, &mut completed);
            self.bundle.push(leaf.into_bytes());
            if self.bundle.len() as u64 == TILE_WIDTH {
                files.push(bundle_file(bundle_index, &self.bundle));
                self.bundle.clear();
            }
        }
        if !self.bundle.is_empty() {
            files.push(bundle_file(self.edge.size() / TILE_WIDTH, &self.bundle));
        }
        let mut recent = MemoryTiles::default();
        for t in completed.iter().chain(self.edge.partial_tiles().iter()) {
            recent.insert(t);
            files.push(FileWrite {
                path: t.id.path(),
                data: t.data.clone(),
            });
        }
        Ok(Staged {
            files,
            recent,
            new_keys,
            effects,
            logged_at: logged_at_time,
            placements,
        })
    }

    /// Makes a staged batch durable, signs and publishes the checkpoint.
    fn commit(&mut self, staged: Staged) -> Result<Committed, LogError> {
        let logged_at = format_logged_at(staged.logged_at);
        let store = self.log.store();
        if staged.new_keys.is_empty() {
            // Only duplicates: nothing to write, the current checkpoint covers them.
            return Ok((self.log.snapshot(), staged.placements, logged_at));
        }
        store
            .write_files(&staged.files)
            .map_err(|e| LogError::io(store.root(), e))?;
        let checkpoint = Checkpoint {
            origin: self.log.origin().to_owned(),
            size: self.edge.size(),
            root: self.edge.root(),
        }
        .sign(&self.log.key)
        .map_err(|e| LogError::Sign(e.to_string()))?;
        if let Err(e) = store.write_checkpoint(&checkpoint.text) {
            // The new checkpoint may or may not be on disk now; only a restart's recovery can
            // tell which, and rolling back here could delete the tiles it covers. Fail stop.
            fail_stop(&format!("writing the checkpoint failed: {e}"));
        }
        // Durable from here on: a failure below must not un-acknowledge the batch. The
        // registry is updated before the index records the new size, so a crash in between
        // re-applies (idempotently) on start-up. If either update fails, the next batch
        // would be admitted against a registry that misses this one: fail stop instead, and
        // let start-up re-index from the size the index last recorded.
        for (index, effect) in &staged.effects {
            if let Err(e) = self.log.registry().apply(*index, staged.logged_at, effect) {
                fail_stop(&format!(
                    "updating the registry for entry {index} failed: {e}"
                ));
            }
        }
        if let Err(e) =
            self.log
                .index
                .record(&staged.new_keys, checkpoint.size(), Some(&checkpoint.text))
        {
            fail_stop(&format!("updating the index failed: {e}"));
        }
        let snapshot = Arc::new(Snapshot::new(checkpoint, staged.recent));
        self.log.publish(snapshot.clone());
        Ok((snapshot, staged.placements, logged_at))
    }
}

/// Stops the process: the log cannot go on safely without a restart, whose recovery brings it
/// back at its last durable checkpoint. A supervisor (systemd, the demo script) restarts it.
fn fail_stop(why: &str) -> ! {
    tracing::error!("{why}; stopping so recovery can run on restart");
    eprintln!("embargo: {why}; stopping so recovery can run on restart");
    std::process::exit(70)
}

fn bundle_file(index: u64, entries: &[Vec<u8>]) -> FileWrite {
    let id = TileId {
        kind: TileKind::Entries,
        index,
        width: entries.len() as u16,
    };
    FileWrite {
        path: id.path(),
        data: encode_bundle(entries.iter().map(Vec::as_slice)),
    }
}

/// The registry as of a position inside the batch being staged: the registry (as of the last
/// checkpoint) overlaid with the records changed by the batch's earlier entries. Dropped with
/// the batch; the durable registry is updated only once the batch is durable.
struct BatchView<'a> {
    base: &'a Registry,
    parties: HashMap<String, Party>,
    commitments: HashMap<u64, Commitment>,
}

impl<'a> BatchView<'a> {
    fn new(base: &'a Registry) -> BatchView<'a> {
        BatchView {
            base,
            parties: HashMap::new(),
            commitments: HashMap::new(),
        }
    }
}

impl RegistryView for BatchView<'_> {
    fn party(&self, name: &str) -> Result<Option<Party>, AdmitError> {
        match self.parties.get(name) {
            Some(p) => Ok(Some(p.clone())),
            None => self.base.party(name),
        }
    }

    fn owner_of_key(&self, key_ref: &str) -> Result<Option<String>, AdmitError> {
        if let Some(p) = self
            .parties
            .values()
            .find(|p| p.standing(key_ref).is_some())
        {
            return Ok(Some(p.name.clone()));
        }
        RegistryView::owner_of_key(self.base, key_ref)
    }

    fn commitment(&self, index: u64) -> Result<Option<Commitment>, AdmitError> {
        match self.commitments.get(&index) {
            Some(c) => Ok(Some(c.clone())),
            None => self.base.commitment(index),
        }
    }
}

impl RegistryStore for BatchView<'_> {
    fn put_party(&mut self, party: Party) -> Result<(), AdmitError> {
        self.parties.insert(party.name.clone(), party);
        Ok(())
    }

    fn put_commitment(&mut self, commitment: Commitment) -> Result<(), AdmitError> {
        self.commitments.insert(commitment.index, commitment);
        Ok(())
    }
}
