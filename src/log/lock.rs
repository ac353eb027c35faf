//! One writer per data directory: an exclusive lock on `<dir>/LOCK`, held for the process's
//! life and taken before anything else in the directory is opened.
//!
//! Two processes sequencing one log would each sign checkpoints of the same size with
//! different roots: the split view a transparency log must never show. The lock makes that
//! impossible on one machine. It is an advisory `flock`-style lock (std's [`File::try_lock`]),
//! which the kernel releases when the process exits, however it exits: there is no stale lock
//! to clean up after a crash, so nothing ever tells an operator to delete it.
//!
//! The lock file also says who holds it (pid, listen address, start time), so a refused
//! second process can name the running one. That text is informational: the lock, not the
//! text, decides.
//!
//! This module never reads or writes anything else in the directory.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// The lock file's name inside a data directory.
pub const LOCK_FILE: &str = "LOCK";

/// Why a data directory could not be locked.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("{dir} is in use by another process ({holder}): one process writes a log at a time. Stop that process first, or give this one another --data directory; nothing in {dir} needs deleting")]
    Held { dir: PathBuf, holder: String },
    #[error("cannot lock {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// An exclusive lock on a data directory, released when dropped (or when the process exits).
#[derive(Debug)]
pub struct DirLock {
    file: File,
    path: PathBuf,
    what: String,
}

impl DirLock {
    /// Creates `dir` if needed and locks it for `what` (e.g. "embargo serve"), or says which
    /// process holds it.
    pub fn acquire(dir: &Path, what: &str) -> Result<DirLock, LockError> {
        let path = dir.join(LOCK_FILE);
        let io = |source| LockError::Io {
            path: path.clone(),
            source,
        };
        std::fs::create_dir_all(dir).map_err(io)?;
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(io)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                return Err(LockError::Held {
                    dir: dir.to_owned(),
                    holder: describe_holder(&mut file),
                })
            }
            Err(TryLockError::Error(e)) => return Err(io(e)),
        }
        let mut lock = DirLock {
            file,
            path: path.clone(),
            what: what.to_owned(),
        };
        lock.describe(None).map_err(io)?;
        Ok(lock)
    }

    /// Records where the holder listens, once it knows, so a refused process can name it.
    pub fn set_listen_address(&mut self, addr: &str) -> Result<(), LockError> {
        self.describe(Some(addr)).map_err(|source| LockError::Io {
            path: self.path.clone(),
            source,
        })
    }

    fn describe(&mut self, listen: Option<&str>) -> std::io::Result<()> {
        let mut text = format!(
            "{} pid {} started {}",
            self.what,
            std::process::id(),
            chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        );
        if let Some(addr) = listen {
            text.push_str(&format!(" listening on {addr}"));
        }
        text.push('\n');
        self.file.set_len(0)?;
        self.file.seek(SeekFrom::Start(0))?;
        self.file.write_all(text.as_bytes())
    }
}

/// What the lock file says about its holder, for the refusal message.
fn describe_holder(file: &mut File) -> String {
    let mut text = String::new();
    let _ = file.take(1024).read_to_string(&mut text);
    match text.trim() {
        "" => "a process that has not said which yet".to_owned(),
        t => t.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_on_one_directory_is_refused_and_names_the_holder() {
        let dir = tempfile::tempdir().unwrap();
        let mut first = DirLock::acquire(dir.path(), "embargo serve").unwrap();
        first.set_listen_address("127.0.0.1:8080").unwrap();
        let err = DirLock::acquire(dir.path(), "embargo serve").unwrap_err();
        let message = err.to_string();
        assert!(matches!(err, LockError::Held { .. }), "{message}");
        assert!(
            message.contains(&format!("pid {}", std::process::id())),
            "{message}"
        );
        assert!(message.contains("listening on 127.0.0.1:8080"), "{message}");
        assert!(!message.contains("delete the"), "{message}");
    }

    #[test]
    fn the_lock_is_free_again_once_its_holder_drops_it() {
        let dir = tempfile::tempdir().unwrap();
        drop(DirLock::acquire(dir.path(), "embargo serve").unwrap());
        DirLock::acquire(dir.path(), "embargo serve").unwrap();
    }
}
