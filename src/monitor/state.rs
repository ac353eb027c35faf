//! The monitor's durable state in its `--state` directory, and the evidence files it writes.
//!
//! Owns `<state>/monitor.json` (the last verified checkpoint, the right edge of the tree it
//! verified, the registry and commitments as of that checkpoint, every checkpoint seen, which
//! events were reported, the events not yet printed or delivered) and `<state>/evidence/`.
//! Every write is temp file, fsync, rename, fsync of the directory, so a crash leaves the old
//! state or the new one, never a mix. Never fetches anything, never decides what an event is;
//! the caller holds the directory's lock ([`crate::log::lock::DirLock`] in the command).

use crate::core::checkpoint::SignedCheckpoint;
use crate::core::tlog::{MemoryTiles, ProofError, RightEdge, TileId, TileKind, TileWrite};
use crate::monitor::derive::Registry;
use crate::monitor::event::{Event, Found};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::{Path, PathBuf};

/// The state file's name inside the state directory.
pub const STATE_FILE: &str = "monitor.json";
/// How many distinct checkpoints the state remembers (the oldest are dropped first).
pub const MAX_SEEN: usize = 10_000;

/// Why the state could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("cannot {what} {path}: {source}")]
    Io {
        what: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is not a monitor state ({source}): restore it from a backup, or give the monitor an empty --state directory to start over from entry 0")]
    Corrupt {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error("{path} watches log {found}, not {expected}: give each log its own --state directory")]
    OtherLog {
        path: PathBuf,
        found: String,
        expected: String,
    },
    #[error("the state's right edge does not rebuild: {0}; restore the state from a backup or start over in an empty directory")]
    Edge(ProofError),
}

/// A checkpoint the monitor saw, as served, and where.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Seen {
    pub size: u64,
    /// The root hash, base64 (as in the note).
    pub root: String,
    pub url: String,
    pub note: String,
}

/// One partial tile of the verified tree's right edge.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EdgeTile {
    pub level: u8,
    pub index: u64,
    /// The tile's hashes, hex.
    pub hashes: String,
}

/// Everything the monitor keeps between runs.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct State {
    pub origin: String,
    /// The last checkpoint verified against the entries (its note), if any.
    pub checkpoint: Option<String>,
    /// Its size: the entries below it are decided.
    pub size: u64,
    pub edge: Vec<EdgeTile>,
    pub registry: Registry,
    pub seen: Vec<Seen>,
    /// The keys of every event ever reported: each is reported once.
    pub reported: BTreeSet<String>,
    pub next_seq: u64,
    /// Events found and numbered, not yet printed.
    pub outbox: Vec<Event>,
    /// Events printed, not yet delivered to the webhook.
    pub webhook_queue: Vec<Event>,
    /// Log URLs that do not answer, since when.
    pub unreachable: BTreeMap<String, DateTime<Utc>>,
    /// Log URLs whose witnessed checkpoint lags: (its size, since when).
    pub lagging: BTreeMap<String, (u64, DateTime<Utc>)>,
    /// Commitments whose revealed model was downloaded and checked (`--verify-reveals`).
    pub reveals_checked: BTreeSet<u64>,
}

impl State {
    /// A fresh state for the log `origin`.
    pub fn new(origin: &str) -> State {
        State {
            origin: origin.to_owned(),
            ..State::default()
        }
    }

    /// Numbers `found` and queues it for printing, unless its key was reported before.
    /// Returns whether it was new.
    pub fn record(&mut self, found: Found, now: DateTime<Utc>) -> bool {
        if !self.reported.insert(found.key.clone()) {
            return false;
        }
        self.outbox.push(Event {
            seq: self.next_seq,
            kind: found.kind,
            log: self.origin.clone(),
            index: found.index,
            commitment: found.commitment,
            at: found.at,
            observed_at: crate::core::entry::format_logged_at(now),
            message: found.message,
            details: found.details,
        });
        self.next_seq += 1;
        true
    }

    /// Whether an event with this key was reported.
    pub fn was_reported(&self, key: &str) -> bool {
        self.reported.contains(key)
    }

    /// Remembers a checkpoint seen at `url`; returns an earlier one of the same size with a
    /// different root, if there is one.
    pub fn see(&mut self, cp: &SignedCheckpoint, url: &str) -> Option<Seen> {
        let root = base64_root(cp);
        let conflict = self
            .seen
            .iter()
            .find(|s| s.size == cp.size() && s.root != root)
            .cloned();
        if !self
            .seen
            .iter()
            .any(|s| s.size == cp.size() && s.root == root)
        {
            self.seen.push(Seen {
                size: cp.size(),
                root,
                url: url.to_owned(),
                note: cp.text.clone(),
            });
            if self.seen.len() > MAX_SEEN {
                self.seen.remove(0);
            }
        }
        conflict
    }

    /// The right edge of the verified tree.
    pub fn right_edge(&self) -> Result<RightEdge, StateError> {
        let mut tiles = MemoryTiles::default();
        for t in &self.edge {
            let data = hex::decode(&t.hashes)
                .map_err(|e| StateError::Edge(ProofError::Tiles(e.to_string())))?;
            tiles.tiles.insert((t.level, t.index), data);
        }
        RightEdge::load(&tiles, self.size).map_err(StateError::Edge)
    }

    /// Moves the verified position to `cp`, whose tree's right edge is `edge`.
    pub fn verified(&mut self, cp: &SignedCheckpoint, edge: &RightEdge, registry: Registry) {
        self.checkpoint = Some(cp.text.clone());
        self.size = cp.size();
        self.edge = edge.partial_tiles().iter().map(edge_tile).collect();
        self.registry = registry;
    }

    /// Reads the state in `dir`, or a fresh one for `origin` if there is none.
    pub fn load(dir: &Path, origin: &str) -> Result<State, StateError> {
        let path = dir.join(STATE_FILE);
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(State::new(origin)),
            Err(source) => {
                return Err(StateError::Io {
                    what: "read",
                    path,
                    source,
                })
            }
        };
        let state: State =
            serde_json::from_slice(&bytes).map_err(|source| StateError::Corrupt {
                path: path.clone(),
                source,
            })?;
        if state.origin != origin {
            return Err(StateError::OtherLog {
                path,
                found: state.origin,
                expected: origin.to_owned(),
            });
        }
        Ok(state)
    }

    /// Writes the state durably.
    pub fn save(&self, dir: &Path) -> Result<(), StateError> {
        let bytes = serde_json::to_vec(self).expect("the state serializes");
        write_durably(&dir.join(STATE_FILE), &bytes)
    }
}

fn base64_root(cp: &SignedCheckpoint) -> String {
    use base64::prelude::{Engine, BASE64_STANDARD};
    BASE64_STANDARD.encode(cp.root().0)
}

fn edge_tile(t: &TileWrite) -> EdgeTile {
    let level = match t.id.kind {
        TileKind::Hashes { level } => level,
        TileKind::Entries => 0,
    };
    let TileId { index, .. } = t.id;
    EdgeTile {
        level,
        index,
        hashes: hex::encode(&t.data),
    }
}

/// Writes `<dir>/evidence/<time>-split-view.txt`: both signed notes, which together prove the
/// log showed two views. Returns the file's path.
pub fn write_evidence(
    dir: &Path,
    now: DateTime<Utc>,
    first: &Seen,
    second: &Seen,
) -> Result<PathBuf, StateError> {
    let name = format!("{}-split-view.txt", now.format("%Y%m%dT%H%M%S%.3fZ"));
    let path = dir.join("evidence").join(name);
    let text = format!(
        "Two checkpoints signed by the same log key that cannot both be true (a split view).\n\
         Each note below verifies with the log's key; sizes {} and {}.\n\n\
         # seen at {}\n{}\n# seen at {}\n{}",
        first.size, second.size, first.url, first.note, second.url, second.note
    );
    write_durably(&path, text.as_bytes())?;
    Ok(path)
}

/// Temp file, fsync, rename, fsync of the directory.
fn write_durably(path: &Path, bytes: &[u8]) -> Result<(), StateError> {
    let dir = path.parent().expect("state files live in a directory");
    let io = |what, source| StateError::Io {
        what,
        path: path.to_owned(),
        source,
    };
    std::fs::create_dir_all(dir).map_err(|e| io("create the directory of", e))?;
    let tmp = path.with_extension("tmp");
    let mut f = std::fs::File::create(&tmp).map_err(|e| io("create a temporary file for", e))?;
    f.write_all(bytes).map_err(|e| io("write", e))?;
    f.sync_all().map_err(|e| io("sync", e))?;
    drop(f);
    std::fs::rename(&tmp, path).map_err(|e| io("rename into place", e))?;
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| io("sync the directory of", e))
}
