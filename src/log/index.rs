//! Derived indexes kept in `sled`: envelope deduplication and the checkpoints the log has
//! published. Everything here can be rebuilt from the tiles, so nothing here is fsynced on the
//! write path; on start-up the log re-indexes whatever the index missed.

use std::path::Path;

const INDEXED_SIZE: &[u8] = b"indexed_size";

pub struct Index {
    db: sled::Db,
    dedup: sled::Tree,
    checkpoints: sled::Tree,
}

#[derive(Debug, thiserror::Error)]
#[error("index database error: {0}. The index is derived from the log's tiles: if it is damaged, stop the `embargo serve` that holds this data directory (its LOCK file names it) and only then delete the index directory; the next start rebuilds it")]
pub struct IndexError(#[from] sled::Error);

impl Index {
    pub fn open(dir: &Path) -> Result<Index, IndexError> {
        let db = sled::Config::new()
            .path(dir)
            .cache_capacity(16 * 1024 * 1024)
            .flush_every_ms(Some(1000))
            .open()?;
        let dedup = db.open_tree("dedup")?;
        let checkpoints = db.open_tree("checkpoints")?;
        Ok(Index {
            db,
            dedup,
            checkpoints,
        })
    }

    /// The database, for the other derived views kept beside the dedup index.
    pub fn db(&self) -> &sled::Db {
        &self.db
    }

    /// How many entries of the log the index covers.
    pub fn indexed_size(&self) -> Result<u64, IndexError> {
        Ok(self
            .db
            .get(INDEXED_SIZE)?
            .and_then(|v| <[u8; 8]>::try_from(v.as_ref()).ok())
            .map(u64::from_be_bytes)
            .unwrap_or(0))
    }

    /// The index of the entry holding the envelope with this key, if it is below `size`.
    pub fn lookup(&self, key: &[u8; 32], size: u64) -> Result<Option<u64>, IndexError> {
        Ok(self
            .dedup
            .get(key)?
            .and_then(|v| <[u8; 8]>::try_from(v.as_ref()).ok())
            .map(u64::from_be_bytes)
            .filter(|&i| i < size))
    }

    /// Records a sequenced batch: its entries' keys, the new size and its checkpoint.
    pub fn record(
        &self,
        entries: &[([u8; 32], u64)],
        size: u64,
        checkpoint: Option<&str>,
    ) -> Result<(), IndexError> {
        let mut batch = sled::Batch::default();
        for (key, index) in entries {
            batch.insert(&key[..], &index.to_be_bytes()[..]);
        }
        self.dedup.apply_batch(batch)?;
        if let Some(cp) = checkpoint {
            self.checkpoints.insert(size.to_be_bytes(), cp.as_bytes())?;
        }
        self.db.insert(INDEXED_SIZE, &size.to_be_bytes())?;
        Ok(())
    }

    /// The checkpoint the log published at exactly `size`, if it is still kept.
    pub fn checkpoint_at(&self, size: u64) -> Result<Option<String>, IndexError> {
        Ok(self
            .checkpoints
            .get(size.to_be_bytes())?
            .map(|v| String::from_utf8_lossy(&v).into_owned()))
    }

    /// Flushes to disk (used on shutdown; never needed for correctness).
    pub fn flush(&self) -> Result<(), IndexError> {
        self.db.flush()?;
        Ok(())
    }
}
