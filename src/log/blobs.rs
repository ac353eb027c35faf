//! Content-addressed blob storage: revealed models (and later escrows and reports) as files
//! named by their digest under `<data>/blobs/<algorithm>/<hex>`.
//!
//! A blob is written to `blobs/tmp/`, fsynced, and renamed into place only once its digest is
//! known to be right; a failed or abandoned upload leaves nothing behind (the temp file is
//! removed on drop, and `tmp/` is emptied on start-up). Never interprets the bytes.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

pub struct BlobStore {
    root: PathBuf,
}

impl BlobStore {
    /// Opens the blob store under `root`, discarding uploads a crash interrupted.
    pub fn open(root: &Path) -> io::Result<BlobStore> {
        let tmp = root.join("tmp");
        if tmp.exists() {
            fs::remove_dir_all(&tmp)?;
        }
        fs::create_dir_all(&tmp)?;
        Ok(BlobStore {
            root: root.to_owned(),
        })
    }

    /// Where the blob with this digest lives (whether or not it exists).
    pub fn path(&self, algorithm: &str, hex: &str) -> PathBuf {
        self.root.join(algorithm).join(hex)
    }

    pub fn exists(&self, algorithm: &str, hex: &str) -> bool {
        self.path(algorithm, hex).is_file()
    }

    /// A new temporary blob to write into.
    pub fn create_temp(&self) -> io::Result<TempBlob> {
        let path = self
            .root
            .join("tmp")
            .join(format!("upload-{:016x}", rand::random::<u64>()));
        let file = File::create_new(&path)?;
        Ok(TempBlob {
            file: Some(io::BufWriter::with_capacity(1 << 20, file)),
            path,
            store_root: self.root.clone(),
        })
    }
}

/// A blob being written. Dropped without [`TempBlob::commit`], it is deleted.
pub struct TempBlob {
    file: Option<io::BufWriter<File>>,
    path: PathBuf,
    store_root: PathBuf,
}

impl TempBlob {
    /// Makes the blob durable under its digest and returns its final path.
    pub fn commit(mut self, algorithm: &str, hex: &str) -> io::Result<PathBuf> {
        let file = self.file.take().expect("committed once");
        let file = file.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()?;
        drop(file);
        let dir = self.store_root.join(algorithm);
        fs::create_dir_all(&dir)?;
        let dest = dir.join(hex);
        fs::rename(&self.path, &dest)?;
        File::open(&dir)?.sync_all()?;
        File::open(&self.store_root)?.sync_all()?;
        Ok(dest)
    }
}

impl Write for TempBlob {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.file.as_mut().expect("not committed").write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.file.as_mut().expect("not committed").flush()
    }
}

impl Drop for TempBlob {
    fn drop(&mut self) {
        if self.file.is_some() {
            let _ = fs::remove_file(&self.path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn committed_blobs_land_under_their_digest_and_abandoned_ones_vanish() {
        let dir = tempfile::tempdir().unwrap();
        let store = BlobStore::open(dir.path()).unwrap();
        let mut b = store.create_temp().unwrap();
        b.write_all(b"model bytes").unwrap();
        let p = b.commit("sha3-256", "ab12").unwrap();
        assert_eq!(fs::read(p).unwrap(), b"model bytes");
        assert!(store.exists("sha3-256", "ab12"));

        let mut abandoned = store.create_temp().unwrap();
        abandoned.write_all(b"half").unwrap();
        drop(abandoned);
        assert_eq!(fs::read_dir(dir.path().join("tmp")).unwrap().count(), 0);
    }
}
