//! The log as a whole: opening and recovering the data directory, the current published
//! state, and the read side (checkpoint, entries, proofs). Writes go through
//! [`crate::log::sequencer`]. HTTP lives in [`crate::server`]; this module knows nothing of it.

pub mod blobs;
pub mod index;
pub mod lock;
pub mod registry;
pub mod sequencer;
pub mod store;

use crate::core::checkpoint::{Checkpoint, SignedCheckpoint};
use crate::core::entry::Leaf;
use crate::core::note::KeyPair;
use crate::core::predicate::{Kind, TypedStatement};
use crate::core::proof::TlogProof;
use crate::core::tlog::{
    self, decode_bundle, Hash, MemoryTiles, ProofError, RightEdge, TileId, TileKind, TileSource,
    TILE_WIDTH,
};
use crate::log::index::{Index, IndexError};
use crate::log::lock::DirLock;
use crate::log::registry::{Effect, Policy, Registry, Signer};
use crate::log::store::TileStore;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

/// The largest number of entries sequenced in one batch.
pub const MAX_BATCH: usize = 16_384;

#[derive(Debug, thiserror::Error)]
pub enum LogError {
    #[error("storage error in {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the checkpoint in {0} is not signed by this log's key: is --key the key this log was created with?")]
    ForeignCheckpoint(PathBuf, #[source] crate::core::checkpoint::CheckpointError),
    #[error(
        "{0} holds tiles but no checkpoint: it is not an Embargo log directory, or it is damaged"
    )]
    TilesWithoutCheckpoint(PathBuf),
    #[error("the log's tiles do not match its checkpoint ({0}): the data directory is damaged")]
    Damaged(String),
    #[error(transparent)]
    Index(#[from] IndexError),
    #[error(transparent)]
    Proof(#[from] ProofError),
    #[error("entry {index} does not exist: the log has {size} entries")]
    NoSuchEntry { index: u64, size: u64 },
    #[error("no checkpoint of size {0} is kept: ask for a proof to the current checkpoint instead (omit size)")]
    NoSuchCheckpoint(u64),
    #[error("signing the checkpoint failed: {0}")]
    Sign(String),
    #[error(transparent)]
    Lock(#[from] crate::log::lock::LockError),
}

impl LogError {
    pub(crate) fn io(path: &Path, source: std::io::Error) -> LogError {
        LogError::Io {
            path: path.to_owned(),
            source,
        }
    }
}

/// What the log has published: its latest checkpoint and the tiles its last batch touched
/// (kept in memory so proofs for fresh entries need no disk reads).
pub struct Snapshot {
    pub checkpoint: SignedCheckpoint,
    pub recent: MemoryTiles,
    /// Interior tree hashes computed for proofs against this snapshot, shared by the answers
    /// to one batch (bounded by [`MAX_CACHED_HASHES`]).
    pub hashes: std::sync::Mutex<std::collections::HashMap<u64, Hash>>,
}

/// At most this many interior hashes are memoized per snapshot.
pub const MAX_CACHED_HASHES: usize = 1 << 16;

impl Snapshot {
    pub fn new(checkpoint: SignedCheckpoint, recent: MemoryTiles) -> Snapshot {
        Snapshot {
            checkpoint,
            recent,
            hashes: Default::default(),
        }
    }
}

impl Snapshot {
    pub fn size(&self) -> u64 {
        self.checkpoint.size()
    }
}

/// Tiles of the published tree: recent ones from memory, the rest from disk.
pub struct PublishedTiles<'a> {
    pub snapshot: &'a Snapshot,
    pub store: &'a TileStore,
}

impl TileSource for PublishedTiles<'_> {
    fn read_tile(&self, level: u8, index: u64, width: u16) -> Result<Vec<u8>, ProofError> {
        match self.snapshot.recent.read_tile(level, index, width) {
            Ok(t) => Ok(t),
            Err(_) => self.store.read_tile(level, index, width),
        }
    }

    fn cached_hash(&self, stored_index: u64) -> Option<Hash> {
        self.snapshot
            .hashes
            .lock()
            .ok()?
            .get(&stored_index)
            .copied()
    }

    fn remember_hash(&self, stored_index: u64, hash: Hash) {
        if let Ok(mut m) = self.snapshot.hashes.lock() {
            if m.len() < MAX_CACHED_HASHES {
                m.insert(stored_index, hash);
            }
        }
    }
}

/// The deduplication key of an envelope: SHA-256 of its canonical JSON.
pub fn dedup_key(envelope_json: &str) -> [u8; 32] {
    Sha256::digest(envelope_json.as_bytes()).into()
}

/// A log opened on its data directory.
pub struct Log {
    store: TileStore,
    index: Index,
    key: KeyPair,
    registry: Registry,
    blobs: crate::log::blobs::BlobStore,
    state: RwLock<Arc<Snapshot>>,
    /// The size of every checkpoint as it is published, for followers such as the witnessing
    /// task ([`Log::subscribe`]); sending never blocks the sequencer, and a slow follower sees
    /// only the newest value.
    published: tokio::sync::watch::Sender<u64>,
    /// Held for the log's life: no other process opens this data directory meanwhile.
    lock: std::sync::Mutex<DirLock>,
}

/// The writer's view after recovery: where appends continue from.
pub struct Recovered {
    pub(crate) edge: RightEdge,
    pub(crate) bundle: Vec<Vec<u8>>,
}

impl Log {
    /// Opens (or creates) the log in `dir`, recovering to its last signed checkpoint.
    pub fn open(
        dir: &Path,
        key: KeyPair,
        policy: Policy,
    ) -> Result<(Arc<Log>, Recovered), LogError> {
        // First of all: one writer. Nothing below may open a file of a log another process
        // is writing (not even the index, whose own lock would give a misleading message).
        let lock = DirLock::acquire(dir, "embargo serve")?;
        let store = TileStore::open(dir).map_err(|e| LogError::io(dir, e))?;
        let checkpoint = match store.read_checkpoint().map_err(|e| LogError::io(dir, e))? {
            Some(text) => SignedCheckpoint::verify(&text, key.public())
                .map_err(|e| LogError::ForeignCheckpoint(dir.join("checkpoint"), e))?,
            None if store.has_tiles() => {
                return Err(LogError::TilesWithoutCheckpoint(dir.to_owned()))
            }
            None => {
                let empty = Checkpoint {
                    origin: key.name().to_owned(),
                    size: 0,
                    root: tlog::EMPTY_HASH,
                }
                .sign(&key)
                .map_err(|e| LogError::Sign(e.to_string()))?;
                store
                    .write_checkpoint(&empty.text)
                    .map_err(|e| LogError::io(dir, e))?;
                empty
            }
        };
        let size = checkpoint.size();
        store
            .discard_uncommitted(size, (MAX_BATCH as u64) / TILE_WIDTH + 2)
            .map_err(|e| LogError::io(dir, e))?;
        let edge = RightEdge::load(&store, size)?;
        if edge.root() != checkpoint.root() {
            return Err(LogError::Damaged(format!(
                "partial tiles at size {size} hash to a different root"
            )));
        }
        let bundle = load_partial_bundle(&store, &edge, size)?;

        let index = Index::open(&dir.join("index"))?;
        let registry = Registry::open(index.db(), policy).map_err(IndexError::from)?;
        let blobs_dir = dir.join("blobs");
        let blobs = crate::log::blobs::BlobStore::open(&blobs_dir)
            .map_err(|e| LogError::io(&blobs_dir, e))?;
        let log = Arc::new(Log {
            store,
            index,
            key,
            registry,
            blobs,
            published: tokio::sync::watch::Sender::new(size),
            state: RwLock::new(Arc::new(Snapshot::new(checkpoint, MemoryTiles::default()))),
            lock: std::sync::Mutex::new(lock),
        });
        log.reindex()?;
        Ok((log, Recovered { edge, bundle }))
    }

    /// Brings the derived index up to the checkpoint, reading entries it missed from disk.
    fn reindex(&self) -> Result<(), LogError> {
        let size = self.size();
        let from = self.index.indexed_size()?.min(size);
        if from == size {
            return Ok(());
        }
        tracing::info!(from, size, "re-indexing entries the index missed");
        let mut start = from - from % TILE_WIDTH;
        while start < size {
            let bundle_index = start / TILE_WIDTH;
            let entries = self.read_bundle(bundle_index, size)?;
            let keys: Vec<([u8; 32], u64)> = entries
                .iter()
                .enumerate()
                .map(|(i, e)| (bundle_index * TILE_WIDTH + i as u64, e))
                .filter(|(i, _)| *i >= from)
                .map(|(i, e)| {
                    let leaf = Leaf::parse(e).map_err(|err| {
                        LogError::Damaged(format!("entry {i} is not a valid leaf: {err}"))
                    })?;
                    if let Some(effect) = effect_of_leaf(&leaf, &self.key.public().key_ref()) {
                        self.registry
                            .apply(i, leaf.logged_at, &effect)
                            .map_err(|e| LogError::Damaged(e.to_string()))?;
                    }
                    Ok((dedup_key(&leaf.envelope.to_canonical_json()), i))
                })
                .collect::<Result<_, LogError>>()?;
            start += TILE_WIDTH;
            let indexed = start.min(size);
            let cp = (indexed == size).then(|| self.checkpoint().text);
            self.index.record(&keys, indexed, cp.as_deref())?;
        }
        Ok(())
    }

    /// Records in the data directory's lock file where this log listens, so a second
    /// process refused the directory can name this one.
    pub fn announce_listen_address(&self, addr: &str) -> Result<(), LogError> {
        Ok(self.lock.lock().unwrap().set_listen_address(addr)?)
    }

    pub fn origin(&self) -> &str {
        self.key.name()
    }

    pub fn key(&self) -> &KeyPair {
        &self.key
    }

    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.state.read().unwrap().clone()
    }

    pub(crate) fn publish(&self, snapshot: Arc<Snapshot>) {
        let size = snapshot.size();
        *self.state.write().unwrap() = snapshot;
        self.published.send_replace(size);
    }

    /// Follows the sizes of the checkpoints the log publishes (only the newest is kept for a
    /// follower that falls behind).
    pub fn subscribe(&self) -> tokio::sync::watch::Receiver<u64> {
        self.published.subscribe()
    }

    /// The signed checkpoint the log published at exactly `size`, if it is still kept.
    pub fn checkpoint_at(&self, size: u64) -> Result<Option<String>, LogError> {
        if size == self.size() {
            return Ok(Some(self.checkpoint().text));
        }
        Ok(self.index.checkpoint_at(size)?)
    }

    pub fn checkpoint(&self) -> SignedCheckpoint {
        self.snapshot().checkpoint.clone()
    }

    pub fn size(&self) -> u64 {
        self.snapshot().size()
    }

    /// The registry of parties and commitments, as of the last checkpoint.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// The derived index (dedup, published checkpoints); the sequencer records into it.
    pub(crate) fn index(&self) -> &Index {
        &self.index
    }

    pub fn blobs(&self) -> &crate::log::blobs::BlobStore {
        &self.blobs
    }

    pub fn store(&self) -> &TileStore {
        &self.store
    }

    /// The index of an already logged envelope, by its dedup key.
    pub fn find_duplicate(&self, key: &[u8; 32]) -> Result<Option<u64>, LogError> {
        Ok(self.index.lookup(key, self.size())?)
    }

    /// The entries of bundle `bundle_index` as published in a tree of `size` entries.
    fn read_bundle(&self, bundle_index: u64, size: u64) -> Result<Vec<Vec<u8>>, LogError> {
        let width = tlog::tile_width_at(0, bundle_index, size).ok_or(LogError::NoSuchEntry {
            index: bundle_index * TILE_WIDTH,
            size,
        })?;
        let id = TileId {
            kind: TileKind::Entries,
            index: bundle_index,
            width,
        };
        let data = self
            .store
            .read(&id)
            .map_err(|e| LogError::io(&self.store.root().join(id.path()), e))?;
        let entries = decode_bundle(&data)
            .filter(|e| e.len() == usize::from(width))
            .ok_or_else(|| {
                LogError::Damaged(format!("{} is not a valid entry bundle", id.path()))
            })?;
        Ok(entries.into_iter().map(<[u8]>::to_vec).collect())
    }

    /// The leaf at `index`, as stored.
    pub fn entry(&self, index: u64) -> Result<Vec<u8>, LogError> {
        let size = self.size();
        if index >= size {
            return Err(LogError::NoSuchEntry { index, size });
        }
        let mut bundle = self.read_bundle(index / TILE_WIDTH, size)?;
        Ok(bundle.swap_remove((index % TILE_WIDTH) as usize))
    }

    /// A tlog-proof for entry `index` in the checkpoint of `size` (the latest if `None`).
    pub fn inclusion_proof(&self, index: u64, size: Option<u64>) -> Result<TlogProof, LogError> {
        self.inclusion_proof_in(&self.snapshot(), index, size)
    }

    /// Like [`Log::inclusion_proof`], against a given snapshot.
    pub fn inclusion_proof_in(
        &self,
        snapshot: &Snapshot,
        index: u64,
        size: Option<u64>,
    ) -> Result<TlogProof, LogError> {
        let latest = snapshot.size();
        let size = size.unwrap_or(latest);
        if index >= size || size > latest {
            return Err(LogError::NoSuchEntry {
                index,
                size: size.min(latest),
            });
        }
        let checkpoint = if size == latest {
            snapshot.checkpoint.text.clone()
        } else {
            self.index
                .checkpoint_at(size)?
                .ok_or(LogError::NoSuchCheckpoint(size))?
        };
        let tiles = PublishedTiles {
            snapshot,
            store: &self.store,
        };
        let inclusion = tlog::prove_inclusion(&tiles, latest, size, index)?;
        Ok(TlogProof {
            extra: None,
            index,
            inclusion,
            checkpoint,
        })
    }

    /// The consistency proof from tree size `old` to `new`.
    pub fn consistency_proof(&self, old: u64, new: u64) -> Result<Vec<Hash>, LogError> {
        let snapshot = self.snapshot();
        let tiles = PublishedTiles {
            snapshot: &snapshot,
            store: &self.store,
        };
        Ok(tlog::prove_consistency(&tiles, snapshot.size(), old, new)?)
    }
}

/// What a logged entry means for the registry, if it is one of the Embargo kinds
/// (`log_key_ref`: the log's own key, `<name>+<id>`).
pub fn effect_of_leaf(leaf: &Leaf, log_key_ref: &str) -> Option<Effect> {
    let payload = leaf.envelope.payload_bytes().ok()?;
    let statement: serde_json::Value = serde_json::from_slice(&payload).ok()?;
    let kind = Kind::from_predicate_type(statement["predicateType"].as_str()?)?;
    let typed = TypedStatement::parse(kind, &statement).ok()?;
    let keyid = &leaf.envelope.signatures.first()?.keyid;
    Some(Effect {
        statement: typed,
        signer: if keyid == log_key_ref {
            Signer::Log
        } else {
            Signer::Key(keyid.clone())
        },
    })
}

/// Reads the partial entry bundle at `size` and checks it against the level-0 partial tile.
fn load_partial_bundle(
    store: &TileStore,
    edge: &RightEdge,
    size: u64,
) -> Result<Vec<Vec<u8>>, LogError> {
    let width = (size % TILE_WIDTH) as u16;
    if width == 0 {
        return Ok(Vec::new());
    }
    let id = TileId {
        kind: TileKind::Entries,
        index: size / TILE_WIDTH,
        width,
    };
    let data = store
        .read(&id)
        .map_err(|e| LogError::io(&store.root().join(id.path()), e))?;
    let entries = decode_bundle(&data)
        .filter(|e| e.len() == usize::from(width))
        .ok_or_else(|| LogError::Damaged(format!("{} is not a valid entry bundle", id.path())))?;
    let tile = edge
        .partial_tiles()
        .into_iter()
        .find(|t| t.id.level() == 0)
        .ok_or_else(|| LogError::Damaged("missing level-0 partial tile".into()))?;
    for (i, (e, h)) in entries.iter().zip(tile.data.chunks_exact(32)).enumerate() {
        if tlog::record_hash(e).0 != h {
            return Err(LogError::Damaged(format!(
                "entry {} does not hash to its tile hash",
                size - u64::from(width) + i as u64
            )));
        }
    }
    Ok(entries.into_iter().map(<[u8]>::to_vec).collect())
}
