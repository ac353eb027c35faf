//! Durable file storage for the log: tiles, entry bundles and the checkpoint, laid out exactly
//! as their C2SP URLs under the data directory, so any static file server can mirror them.
//!
//! Crash safety: every file is written to a temporary name, fsynced, renamed into place, and its
//! directory fsynced. The checkpoint is written last and is the commit point: anything past the
//! checkpoint's size is garbage from an interrupted batch, which [`TileStore::discard_uncommitted`]
//! removes on start-up. This module never decides what to write; the sequencer does.

use crate::core::tlog::{ProofError, TileId, TileKind, TileSource, TILE_HEIGHT, TILE_WIDTH};
use std::collections::HashSet;
use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// The file holding the witnessed checkpoint, beside `checkpoint` (not a URL of the read API:
/// `/checkpoint` serves it when a witness policy is configured).
pub const WITNESSED_CHECKPOINT: &str = "checkpoint.witnessed";

/// The tile store rooted at a data directory.
pub struct TileStore {
    root: PathBuf,
    /// Directories known to exist (and be durable), so a batch creates and syncs each once.
    known_dirs: Mutex<HashSet<PathBuf>>,
    io_pool: rayon::ThreadPool,
}

/// A file to write in a batch: its path relative to the store root, and its bytes.
pub struct FileWrite {
    pub path: String,
    pub data: Vec<u8>,
}

impl TileStore {
    pub fn open(root: &Path) -> io::Result<TileStore> {
        fs::create_dir_all(root)?;
        let io_pool = rayon::ThreadPoolBuilder::new()
            .num_threads(8)
            .thread_name(|i| format!("embargo-io-{i}"))
            .build()
            .map_err(io::Error::other)?;
        Ok(TileStore {
            root: root.to_owned(),
            known_dirs: Mutex::new(HashSet::new()),
            io_pool,
        })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Writes all `files` durably (temp file, fsync, rename, fsync of every touched directory)
    /// before returning. Writes run in parallel so a batch shares the disk's latency.
    pub fn write_files(&self, files: &[FileWrite]) -> io::Result<()> {
        use rayon::prelude::*;
        let mut dirty: HashSet<PathBuf> = HashSet::new();
        for f in files {
            let path = self.root.join(&f.path);
            let parent = path.parent().expect("tile paths have a parent");
            self.ensure_dir(parent, &mut dirty)?;
            dirty.insert(parent.to_owned());
        }
        self.io_pool.install(|| {
            files
                .par_iter()
                .try_for_each(|f| write_file_synced(&self.root.join(&f.path), &f.data))
        })?;
        let dirty: Vec<PathBuf> = dirty.into_iter().collect();
        self.io_pool
            .install(|| dirty.par_iter().try_for_each(|d| sync_dir(d)))
    }

    /// Creates `dir` and any missing parents, recording each directory whose entries changed.
    fn ensure_dir(&self, dir: &Path, dirty: &mut HashSet<PathBuf>) -> io::Result<()> {
        if self.known_dirs.lock().unwrap().contains(dir) {
            return Ok(());
        }
        // The parent is synced even when `dir` already exists: a process that crashed may have
        // created it without making its entry durable.
        if dir != self.root {
            if let Some(parent) = dir.parent() {
                self.ensure_dir(parent, dirty)?;
                dirty.insert(parent.to_owned());
            }
        }
        if !dir.exists() {
            match fs::create_dir(dir) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(e),
            }
        }
        let mut known = self.known_dirs.lock().unwrap();
        if known.len() > 100_000 {
            known.clear();
        }
        known.insert(dir.to_owned());
        Ok(())
    }

    /// Replaces the checkpoint durably. This is the commit point of a batch.
    pub fn write_checkpoint(&self, text: &str) -> io::Result<()> {
        write_file_synced(&self.root.join("checkpoint"), text.as_bytes())?;
        sync_dir(&self.root)
    }

    /// The current checkpoint text, if the log has one.
    pub fn read_checkpoint(&self) -> io::Result<Option<String>> {
        match fs::read_to_string(self.root.join("checkpoint")) {
            Ok(t) => Ok(Some(t)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Replaces the witnessed checkpoint (the newest checkpoint that met the witness policy,
    /// with its cosignatures) durably: temp file, fsync, rename, fsync of the directory, so a
    /// crash leaves either the old or the new note, never a torn one. It is not a commit point
    /// of the log: it only ever holds a checkpoint the log had already made durable and
    /// published, so its size never exceeds the checkpoint's, and recovery never touches it.
    pub fn write_witnessed_checkpoint(&self, text: &str) -> io::Result<()> {
        write_file_synced(&self.root.join(WITNESSED_CHECKPOINT), text.as_bytes())?;
        sync_dir(&self.root)
    }

    /// The witnessed checkpoint last written, if any.
    pub fn read_witnessed_checkpoint(&self) -> io::Result<Option<String>> {
        match fs::read_to_string(self.root.join(WITNESSED_CHECKPOINT)) {
            Ok(t) => Ok(Some(t)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Whether any tile has ever been written here.
    pub fn has_tiles(&self) -> bool {
        self.root.join("tile").exists()
    }

    /// The bytes of a tile or entry bundle.
    pub fn read(&self, id: &TileId) -> io::Result<Vec<u8>> {
        fs::read(self.root.join(id.path()))
    }

    /// Removes tiles and bundles an interrupted batch may have written past `size`: full tiles
    /// that are not complete at `size`, and partial tiles wider than `size` needs. `max_tiles`
    /// bounds how many tiles one batch can add per level.
    pub fn discard_uncommitted(&self, size: u64, max_tiles: u64) -> io::Result<()> {
        let kinds = (0..8u8)
            .map(|level| TileKind::Hashes { level })
            .chain([TileKind::Entries]);
        for kind in kinds {
            let level = match kind {
                TileKind::Hashes { level } => level,
                TileKind::Entries => 0,
            };
            let at_level = size >> (u32::from(TILE_HEIGHT) * u32::from(level));
            let (first, width) = (at_level / TILE_WIDTH, (at_level % TILE_WIDTH) as u16);
            for index in first..=first + max_tiles {
                let full = TileId {
                    kind,
                    index,
                    width: TILE_WIDTH as u16,
                };
                remove_if_present(&self.root.join(full.path()))?;
                let keep_up_to = if index == first { width } else { 0 };
                let partial_dir = self.root.join(format!("{}.p", full.path()));
                match fs::read_dir(&partial_dir) {
                    Ok(entries) => {
                        for e in entries {
                            let e = e?;
                            let w: Option<u16> =
                                e.file_name().to_str().and_then(|s| s.parse().ok());
                            if w.is_none_or(|w| w > keep_up_to) {
                                remove_if_present(&e.path())?;
                            }
                        }
                        sync_dir(&partial_dir)?;
                    }
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                    Err(e) => return Err(e),
                }
            }
        }
        Ok(())
    }
}

impl TileSource for TileStore {
    fn read_tile(&self, level: u8, index: u64, width: u16) -> Result<Vec<u8>, ProofError> {
        let id = TileId {
            kind: TileKind::Hashes { level },
            index,
            width,
        };
        self.read(&id)
            .map_err(|e| ProofError::Tiles(format!("cannot read {}: {e}", id.path())))
    }
}

fn remove_if_present(path: &Path) -> io::Result<()> {
    match fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

/// Writes `data` to `path` via a temporary file in the same directory: write, fsync, rename.
/// The caller fsyncs the directory.
fn write_file_synced(path: &Path, data: &[u8]) -> io::Result<()> {
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| io::Error::other("bad file name"))?;
    let tmp = path.with_file_name(format!(".{name}.tmp"));
    let mut f = File::create(&tmp)?;
    f.write_all(data)?;
    f.sync_all()?;
    drop(f);
    fs::rename(&tmp, path)
}

fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_land_at_their_url_paths() {
        let dir = tempfile::tempdir().unwrap();
        let store = TileStore::open(dir.path()).unwrap();
        store
            .write_files(&[FileWrite {
                path: "tile/0/x001/234.p/5".into(),
                data: vec![1; 160],
            }])
            .unwrap();
        assert_eq!(
            fs::read(dir.path().join("tile/0/x001/234.p/5")).unwrap(),
            vec![1; 160]
        );
        store.write_checkpoint("cp\n").unwrap();
        assert_eq!(store.read_checkpoint().unwrap().as_deref(), Some("cp\n"));
    }

    #[test]
    fn discarding_removes_only_what_the_checkpoint_does_not_cover() {
        let dir = tempfile::tempdir().unwrap();
        let store = TileStore::open(dir.path()).unwrap();
        let files: Vec<FileWrite> = [
            "tile/0/000.p/3",
            "tile/0/000.p/9",
            "tile/0/000",
            "tile/0/001.p/1",
            "tile/1/000.p/1",
            "tile/entries/000.p/3",
            "tile/entries/000.p/4",
        ]
        .iter()
        .map(|p| FileWrite {
            path: (*p).into(),
            data: vec![0],
        })
        .collect();
        store.write_files(&files).unwrap();
        store.discard_uncommitted(3, 4).unwrap();
        let exists = |p: &str| dir.path().join(p).exists();
        assert!(exists("tile/0/000.p/3"));
        assert!(exists("tile/entries/000.p/3"));
        for gone in [
            "tile/0/000.p/9",
            "tile/0/000",
            "tile/0/001.p/1",
            "tile/1/000.p/1",
            "tile/entries/000.p/4",
        ] {
            assert!(!exists(gone), "{gone}");
        }
    }
}
