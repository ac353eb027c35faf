//! The witness's durable state: for each log it witnesses, the latest checkpoint it cosigned.
//!
//! Layout of the data directory:
//! - `witness.lock`: held with an exclusive `flock` for the process's life, holding its pid;
//!   a second witness on the same directory is refused (two writers could each cosign from
//!   the same old size and roll a log's record back).
//! - `checkpoints/<hex SHA-256 of the origin>`: the latest cosigned checkpoint as a signed
//!   note (the log's verified signatures and this witness's cosignature), the same name the
//!   monitoring endpoint `GET /<origin hash>/checkpoint` uses.
//! - `evidence/<origin hash>/<time>/`: a validly signed checkpoint this witness refused as
//!   inconsistent with the one it cosigned (`cosigned.note`, `submitted.note`, `request.txt`,
//!   `reason.txt`), kept as possible proof that the log misbehaved.
//!
//! Durability contract: [`WitnessState::advance`] writes the new record to a temporary file,
//! fsyncs it, renames it into place and fsyncs the directory before it returns, and the
//! caller hands out the cosignature only after that; so a witness that crashes at any point
//! comes back with a record at least as new as any cosignature it returned, and never cosigns
//! a checkpoint inconsistent with one it cosigned before. Updates of one origin are
//! serialized (check and write under one mutex), so two concurrent requests cannot both
//! advance from the same old size. This module never decides what to cosign: the closure
//! passed to [`WitnessState::advance`] does.

use crate::core::checkpoint::Checkpoint;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, Write};
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

const LOCK_FILE: &str = "witness.lock";
const CHECKPOINTS: &str = "checkpoints";
const EVIDENCE: &str = "evidence";
/// Refused checkpoints kept per log: only the log's key can make them, but a log with a buggy
/// submitter could send one per checkpoint for ever.
const MAX_EVIDENCE_PER_LOG: usize = 1000;

/// Why the state could not be opened or written.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("another witness (pid {pid}) is already running on {dir}: stop it, or give this one another --data directory")]
    Locked { dir: String, pid: String },
    #[error("cannot {what} {path}: {source}")]
    Io {
        what: &'static str,
        path: String,
        source: io::Error,
    },
    #[error("{dir} already holds the most refused checkpoints kept per log; examine them and move them away to keep new ones")]
    EvidenceFull { dir: String },
    #[error("the stored checkpoint {path} is corrupt ({why}); restore it from a backup, or move it away to forget that log (the witness then accepts any checkpoint for it)")]
    Corrupt { path: String, why: String },
}

fn io_err<'a>(what: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> StateError + 'a {
    move |source| StateError::Io {
        what,
        path: path.display().to_string(),
        source,
    }
}

/// The latest checkpoint cosigned for one log, and the signed note kept for monitors.
#[derive(Clone, Debug, PartialEq)]
pub struct Record {
    pub checkpoint: Checkpoint,
    /// Note text, the log's verified signature lines and this witness's cosignature.
    pub note: String,
}

impl Record {
    /// Parses a stored record, checking it is a signed note over a checkpoint body.
    fn parse(note: String) -> Result<Record, String> {
        let (text, _) = super::cosignature::split_note(&note).map_err(|e| e.to_string())?;
        let checkpoint = Checkpoint::parse_body(&text).map_err(|e| e.to_string())?;
        Ok(Record { checkpoint, note })
    }
}

/// The lowercase hex SHA-256 of an origin: a record's file name and monitoring URL segment.
pub fn origin_hash(origin: &str) -> String {
    hex::encode(Sha256::digest(origin.as_bytes()))
}

type Slot = Arc<Mutex<Option<Record>>>;

/// The state of one data directory, locked for this process.
pub struct WitnessState {
    dir: PathBuf,
    /// Held open for the process's life: closing it releases the `flock`.
    _lock: File,
    /// One slot per origin hash; a slot's mutex serializes that log's check-and-write.
    slots: Mutex<HashMap<String, Slot>>,
}

impl WitnessState {
    /// Locks `dir` (creating it) and loads every stored record.
    pub fn open(dir: &Path) -> Result<WitnessState, StateError> {
        let records = dir.join(CHECKPOINTS);
        fs::create_dir_all(&records).map_err(io_err("create", &records))?;
        let lock = lock_dir(dir)?;
        let slots = load_records(&records)?
            .into_iter()
            .map(|(hash, r)| (hash, Arc::new(Mutex::new(Some(r)))))
            .collect();
        Ok(WitnessState {
            dir: dir.to_owned(),
            _lock: lock,
            slots: Mutex::new(slots),
        })
    }

    fn slot(&self, origin: &str) -> Slot {
        let mut slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        slots.entry(origin_hash(origin)).or_default().clone()
    }

    /// The latest record for `origin`, if any.
    pub fn latest(&self, origin: &str) -> Option<Record> {
        self.latest_by_hash(&origin_hash(origin))
    }

    /// The latest record for the origin whose hash is `hash` (the monitoring endpoint).
    pub fn latest_by_hash(&self, hash: &str) -> Option<Record> {
        let slot = self.slots.lock().ok()?.get(hash)?.clone();
        let guard = slot.lock().unwrap_or_else(|e| e.into_inner());
        guard.clone()
    }

    /// Compare-and-swap for one origin: under its lock, `decide` sees the latest record and
    /// either refuses (nothing is written) or returns the new record and a value; the record
    /// is durable before the value is returned.
    pub fn advance<T, E: From<StateError>>(
        &self,
        origin: &str,
        decide: impl FnOnce(Option<&Record>) -> Result<(Record, T), E>,
    ) -> Result<T, E> {
        let slot = self.slot(origin);
        let mut current = slot.lock().unwrap_or_else(|e| e.into_inner());
        let (record, value) = decide(current.as_ref())?;
        if let Err(e) = self.persist(origin, &record) {
            // The write may have got as far as the rename: make memory agree with the disk,
            // so the next request is checked against what a restart would find.
            if let Ok(Some(on_disk)) = self.reload(origin) {
                *current = Some(on_disk);
            }
            return Err(e.into());
        }
        *current = Some(record);
        Ok(value)
    }

    /// Keeps a refused, validly signed checkpoint beside the one this witness cosigned; the
    /// directory it wrote.
    pub fn save_evidence(
        &self,
        origin: &str,
        files: &[(&str, &[u8])],
    ) -> Result<PathBuf, StateError> {
        let since = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        let parent = self.dir.join(EVIDENCE).join(origin_hash(origin));
        let kept = fs::read_dir(&parent).map_or(0, |d| d.count());
        if kept >= MAX_EVIDENCE_PER_LOG {
            return Err(StateError::EvidenceFull {
                dir: parent.display().to_string(),
            });
        }
        let dir = parent.join(format!("{}.{:09}", since.as_secs(), since.subsec_nanos()));
        fs::create_dir_all(&dir).map_err(io_err("create", &dir))?;
        for (name, data) in files {
            let path = dir.join(name);
            fs::write(&path, data)
                .and_then(|()| File::open(&path)?.sync_all())
                .map_err(io_err("write", &path))?;
        }
        File::open(&dir)
            .and_then(|d| d.sync_all())
            .map_err(io_err("fsync the directory", &dir))?;
        Ok(dir)
    }

    /// The record for `origin` as it is on disk now.
    fn reload(&self, origin: &str) -> Result<Option<Record>, StateError> {
        let hash = origin_hash(origin);
        let path = self.dir.join(CHECKPOINTS).join(&hash);
        if !path.exists() {
            return Ok(None);
        }
        load_record(&path, hash).map(|(_, r)| Some(r))
    }

    /// Write-temp, fsync, rename, fsync the directory.
    fn persist(&self, origin: &str, record: &Record) -> Result<(), StateError> {
        let dir = self.dir.join(CHECKPOINTS);
        let hash = origin_hash(origin);
        let path = dir.join(&hash);
        let tmp = dir.join(format!(".{hash}.tmp"));
        let mut f = File::create(&tmp).map_err(io_err("create", &tmp))?;
        f.write_all(record.note.as_bytes())
            .and_then(|()| f.sync_all())
            .map_err(io_err("write", &tmp))?;
        drop(f);
        fs::rename(&tmp, &path).map_err(io_err("rename into place", &path))?;
        File::open(&dir)
            .and_then(|d| d.sync_all())
            .map_err(io_err("fsync the directory", &dir))
    }
}

/// Takes the exclusive lock on `dir/witness.lock` and writes this process's pid into it.
fn lock_dir(dir: &Path) -> Result<File, StateError> {
    let path = dir.join(LOCK_FILE);
    let mut f = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(io_err("open", &path))?;
    // SAFETY: flock on a file descriptor this function owns; no memory is shared.
    let rc = unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
    if rc != 0 {
        let err = io::Error::last_os_error();
        if err.raw_os_error() != Some(libc::EWOULDBLOCK) {
            return Err(io_err("lock", &path)(err));
        }
        let mut pid = String::new();
        let _ = f.read_to_string(&mut pid);
        let pid = pid.trim();
        return Err(StateError::Locked {
            dir: dir.display().to_string(),
            pid: if pid.is_empty() { "unknown" } else { pid }.to_owned(),
        });
    }
    f.set_len(0)
        .and_then(|()| f.rewind())
        .and_then(|()| writeln!(f, "{}", std::process::id()))
        .and_then(|()| f.sync_all())
        .map_err(io_err("write", &path))?;
    Ok(f)
}

/// Every record in `dir`, by origin hash; leftover temporary files from a crash are removed.
fn load_records(dir: &Path) -> Result<HashMap<String, Record>, StateError> {
    let mut out = HashMap::new();
    for entry in fs::read_dir(dir).map_err(io_err("read", dir))? {
        let path = entry.map_err(io_err("read", dir))?.path();
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        if name.starts_with('.') && name.ends_with(".tmp") {
            fs::remove_file(&path).map_err(io_err("remove", &path))?;
            continue;
        }
        let name = name.to_owned();
        let (hash, record) = load_record(&path, name)?;
        out.insert(hash, record);
    }
    Ok(out)
}

fn load_record(path: &Path, name: String) -> Result<(String, Record), StateError> {
    let corrupt = |why: String| StateError::Corrupt {
        path: path.display().to_string(),
        why,
    };
    let note = fs::read_to_string(path).map_err(io_err("read", path))?;
    let record = Record::parse(note).map_err(corrupt)?;
    if origin_hash(&record.checkpoint.origin) != name {
        return Err(corrupt(format!(
            "it is for origin {:?}, whose hash is not its file name",
            record.checkpoint.origin
        )));
    }
    Ok((name, record))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::tlog::Hash;

    fn record(origin: &str, size: u64) -> Record {
        let checkpoint = Checkpoint {
            origin: origin.into(),
            size,
            root: Hash([size as u8; 32]),
        };
        let note = format!("{}\n\u{2014} w AAAAAAA=\n", checkpoint.body());
        Record { checkpoint, note }
    }

    #[derive(Debug, thiserror::Error)]
    enum TestError {
        #[error("refused")]
        Refused,
        #[error(transparent)]
        State(#[from] StateError),
    }

    #[test]
    fn records_survive_reopening() {
        let dir = tempfile::tempdir().unwrap();
        {
            let s = WitnessState::open(dir.path()).unwrap();
            assert_eq!(s.latest("a.example/log"), None);
            s.advance::<_, TestError>("a.example/log", |_| Ok((record("a.example/log", 3), ())))
                .unwrap();
        }
        std::fs::write(dir.path().join("checkpoints/.junk.tmp"), "x").unwrap();
        let s = WitnessState::open(dir.path()).unwrap();
        assert_eq!(s.latest("a.example/log"), Some(record("a.example/log", 3)));
        assert!(!dir.path().join("checkpoints/.junk.tmp").exists());
        let by_hash = s.latest_by_hash(&origin_hash("a.example/log")).unwrap();
        assert_eq!(by_hash.checkpoint.size, 3);
    }

    #[test]
    fn a_refusal_writes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let s = WitnessState::open(dir.path()).unwrap();
        let r = s.advance::<(), TestError>("o", |_| Err(TestError::Refused));
        assert!(matches!(r, Err(TestError::Refused)));
        assert_eq!(s.latest("o"), None);
        assert_eq!(
            std::fs::read_dir(dir.path().join("checkpoints"))
                .unwrap()
                .count(),
            0
        );
    }

    #[test]
    fn a_second_open_is_refused_naming_the_pid() {
        let dir = tempfile::tempdir().unwrap();
        let _first = WitnessState::open(dir.path()).unwrap();
        let err = WitnessState::open(dir.path()).err().unwrap().to_string();
        assert!(
            err.contains(&format!("pid {}", std::process::id())),
            "{err}"
        );
    }

    #[test]
    fn concurrent_advances_from_the_same_size_serialize() {
        let dir = tempfile::tempdir().unwrap();
        let s = Arc::new(WitnessState::open(dir.path()).unwrap());
        let threads: Vec<_> = (1..=8u64)
            .map(|n| {
                let s = s.clone();
                std::thread::spawn(move || {
                    s.advance::<_, TestError>("o", |cur| {
                        // Each thread only advances from the empty state.
                        if cur.is_some() {
                            return Err(TestError::Refused);
                        }
                        std::thread::sleep(std::time::Duration::from_millis(5));
                        Ok((record("o", n), n))
                    })
                    .ok()
                })
            })
            .collect();
        let won: Vec<u64> = threads
            .into_iter()
            .filter_map(|t| t.join().unwrap())
            .collect();
        assert_eq!(
            won.len(),
            1,
            "exactly one advance from the empty state wins"
        );
        assert_eq!(s.latest("o").unwrap().checkpoint.size, won[0]);
    }

    #[test]
    fn a_record_under_the_wrong_name_is_corrupt() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("checkpoints")).unwrap();
        std::fs::write(
            dir.path().join("checkpoints").join(origin_hash("b")),
            record("a", 1).note,
        )
        .unwrap();
        let err = WitnessState::open(dir.path()).err().unwrap();
        assert!(matches!(err, StateError::Corrupt { .. }), "{err}");
    }
}
