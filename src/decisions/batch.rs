//! Decision batches: the SHA3-256 Merkle tree over a batch's records, built in bounded memory,
//! the records' inclusion proofs, and a batcher that cuts batches by time window.
//!
//! This module owns the batch tree (RFC 6962 shape, leaves `SHA3-256(0x00 || record)`, nodes
//! `SHA3-256(0x01 || left || right)`, the prefixes of the model digest) and its proofs. It
//! reads records from any [`BufRead`] it is handed; it never opens files, talks to the log or
//! writes receipts (that is `embargo batch`, in `src/cmd/batch.rs`).
//!
//! # Bounded memory
//!
//! In the RFC 6962 shape every aligned run of `2^k` leaves is a complete subtree, and the tree
//! over `n` leaves is exactly the RFC 6962 tree over the roots of those chunks (the last chunk
//! possibly partial): RFC 6962 splits `n` at the largest power of two below it, which is a
//! multiple of `2^k` whenever `n > 2^k`. So a batch is built in two passes:
//!
//! 1. [`scan`] streams the records once, validates each and hashes it, keeping one chunk's
//!    leaves at a time and the chunk roots ([`TreeBuilder`]): `32 * (2^k + n / 2^k)` bytes.
//! 2. after the batch root is logged, [`prove_chunks`] re-reads the records one chunk at a
//!    time, rebuilds that chunk's subtree with `rs_merkle`, checks it against pass 1's chunk
//!    root, and hands out each record's proof: its path inside the chunk, then the chunk's path
//!    over the chunk roots (also `rs_merkle`). Together that is the record's RFC 9162 audit
//!    path in the whole tree; the tests check it against `rs_merkle` over all leaves.
//!
//! Leaves and nodes are hashed four at a time with the AVX-512 Keccak where the CPU has it
//! ([`crate::model::digest::prefixed_hashes_x4`]), and records are parsed on all cores (rayon).
//!
//! # Cutting batches by time
//!
//! A service that decides continuously feeds each record to a [`WindowBatcher`]: records fall
//! into fixed windows (`[k * width, (k + 1) * width)` since the Unix epoch, whole milliseconds;
//! the logged window ends 1 ns before the next one starts), and the batcher
//! hands back the closed batch (root, count, window) when the first record of a later window
//! arrives, or on [`WindowBatcher::tick`] once the window is over. The service keeps the records
//! of the open batch in order (a spool file) to write receipts with [`prove_chunks`] later.
//!
//! ```no_run
//! # use embargo::decisions::batch::WindowBatcher;
//! # fn sign_and_log(_statement: serde_json::Value) {}
//! # let decisions: Vec<Vec<u8>> = Vec::new();
//! let mut batcher = WindowBatcher::new("social.example", 3, chrono::Duration::minutes(10));
//! for record in decisions {
//!     // `record`: the decision's exact bytes, also appended to this window's spool file.
//!     let pushed = batcher.push(&record)?;
//!     if let Some(closed) = pushed.closed {
//!         sign_and_log(closed.statement());
//!         // then: prove_chunks(spool of closed's window, &closed.tree, write receipts)
//!     }
//! }
//! if let Some(last) = batcher.close() {
//!     sign_and_log(last.statement());
//! }
//! # Ok::<(), embargo::decisions::batch::BatchError>(())
//! ```

use crate::core::predicate::{statement, DecisionBatch, Kind, Window};
use crate::decisions::decision::{line_bytes, DecisionRecord, RecordError};
use crate::model::digest::{
    leaf_hash, node_hash, prefixed_hashes_x4, root_from_audit_path, Hash, Sha3Prefixed,
};
use chrono::{DateTime, Utc};
use rayon::prelude::*;
use rs_merkle::MerkleTree;
use std::io::BufRead;

/// Default chunk: 2^16 records (2 MiB of leaf hashes in memory at a time).
pub const DEFAULT_CHUNK_LOG2: u32 = 16;
/// Records parsed together in one parallel step of [`scan`].
const SCAN_BLOCK: usize = 1 << 14;

#[derive(Debug, thiserror::Error)]
pub enum BatchError {
    #[error("line {line}: {error}")]
    Record { line: u64, error: RecordError },
    #[error("line {line}: {field} is {found:?}, but this batch is for {expected:?}")]
    Mismatch {
        line: u64,
        field: &'static str,
        found: String,
        expected: String,
    },
    #[error("line {line} is empty: every line must be one decision record")]
    EmptyLine { line: u64 },
    #[error("the batch has no records")]
    Empty,
    #[error("reading the records: {0}")]
    Io(#[from] std::io::Error),
    #[error("the records changed since the batch was built: chunk {chunk} (records {first} to {last}) no longer hashes to the logged tree; the file must not change between the two passes")]
    ChunkChanged { chunk: usize, first: u64, last: u64 },
    #[error("the records file has {found} records now, but the batch was built over {expected}")]
    CountChanged { found: u64, expected: u64 },
    #[error("a record's time {time} is before the open window, which starts at {start}: records must arrive in time order")]
    Late {
        time: DateTime<Utc>,
        start: DateTime<Utc>,
    },
    #[error("chunk_log2 must be 0 to 30, not {0}")]
    ChunkSize(u32),
}

/// The leaf hashes of `records`, in order: four at a time with the 4-way Keccak when the
/// four records take the same number of SHA3 blocks, one at a time otherwise.
pub fn leaf_hashes(records: &[&[u8]], out: &mut Vec<Hash>) {
    let mut groups = records.chunks_exact(4);
    for g in &mut groups {
        match prefixed_hashes_x4(0x00, [g[0], g[1], g[2], g[3]]) {
            Some(h) => out.extend(h),
            None => out.extend(g.iter().map(|r| leaf_hash(r))),
        }
    }
    out.extend(groups.remainder().iter().map(|r| leaf_hash(r)));
}

/// The root of the RFC 6962 tree over `leaves` (at least one), hashing nodes four at a time.
/// Equal to `rs_merkle`'s root with [`Sha3Prefixed`] (pairs from the left, an unpaired last
/// node promoted).
pub fn tree_root(leaves: &[Hash]) -> Hash {
    assert!(!leaves.is_empty(), "a tree needs at least one leaf");
    let mut level: Vec<Hash> = leaves.to_vec();
    let mut pairs: Vec<[u8; 64]> = Vec::new();
    while level.len() > 1 {
        pairs.clear();
        pairs.extend(level.chunks_exact(2).map(|p| {
            let mut m = [0u8; 64];
            m[..32].copy_from_slice(&p[0]);
            m[32..].copy_from_slice(&p[1]);
            m
        }));
        let odd = (level.len() % 2 == 1).then(|| level[level.len() - 1]);
        let mut next = Vec::with_capacity(level.len().div_ceil(2));
        let mut groups = pairs.chunks_exact(4);
        for g in &mut groups {
            match prefixed_hashes_x4(0x01, [&g[0], &g[1], &g[2], &g[3]]) {
                Some(h) => next.extend(h),
                None => next.extend(g.iter().map(node_of)),
            }
        }
        next.extend(groups.remainder().iter().map(node_of));
        next.extend(odd);
        level = next;
    }
    level[0]
}

fn node_of(m: &[u8; 64]) -> Hash {
    let (l, r) = m.split_at(32);
    node_hash(l.try_into().expect("32"), r.try_into().expect("32"))
}

/// Builds a batch root from leaf hashes pushed in order, keeping only the current chunk's
/// leaves and the finished chunk roots.
#[derive(Debug)]
pub struct TreeBuilder {
    chunk_log2: u32,
    current: Vec<Hash>,
    chunk_roots: Vec<Hash>,
    count: u64,
}

impl TreeBuilder {
    pub fn new(chunk_log2: u32) -> Result<TreeBuilder, BatchError> {
        if chunk_log2 > 30 {
            return Err(BatchError::ChunkSize(chunk_log2));
        }
        Ok(TreeBuilder {
            chunk_log2,
            current: Vec::new(),
            chunk_roots: Vec::new(),
            count: 0,
        })
    }

    fn chunk_size(&self) -> usize {
        1 << self.chunk_log2
    }

    /// Adds leaves (in order).
    pub fn push_leaves(&mut self, mut leaves: &[Hash]) {
        while !leaves.is_empty() {
            let room = self.chunk_size() - self.current.len();
            let (now, rest) = leaves.split_at(room.min(leaves.len()));
            self.current.extend_from_slice(now);
            self.count += now.len() as u64;
            leaves = rest;
            if self.current.len() == self.chunk_size() {
                self.chunk_roots.push(tree_root(&self.current));
                self.current.clear();
            }
        }
    }

    /// Leaves pushed so far.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// The finished tree, or `None` with no leaves.
    pub fn finish(mut self) -> Option<BatchTree> {
        if !self.current.is_empty() {
            self.chunk_roots.push(tree_root(&self.current));
        }
        if self.chunk_roots.is_empty() {
            return None;
        }
        let root = tree_root(&self.chunk_roots);
        Some(BatchTree {
            count: self.count,
            chunk_log2: self.chunk_log2,
            chunk_roots: self.chunk_roots,
            root,
        })
    }
}

/// A built batch tree: what pass 2 needs to prove its records (a few kilobytes).
#[derive(Clone, Debug, PartialEq)]
pub struct BatchTree {
    pub count: u64,
    pub chunk_log2: u32,
    pub chunk_roots: Vec<Hash>,
    pub root: Hash,
}

impl BatchTree {
    pub fn chunk_size(&self) -> u64 {
        1 << self.chunk_log2
    }

    /// Proves the records of chunk `chunk`, given all its leaves: rebuilds the chunk's subtree
    /// with `rs_merkle` and checks it against the chunk root of pass 1.
    pub fn chunk_prover(&self, chunk: usize, leaves: &[Hash]) -> Result<ChunkProver, BatchError> {
        let first = chunk as u64 * self.chunk_size();
        let expected = (self.count - first).min(self.chunk_size()) as usize;
        let changed = || BatchError::ChunkChanged {
            chunk,
            first,
            last: first + leaves.len().max(1) as u64 - 1,
        };
        if chunk >= self.chunk_roots.len() || leaves.len() != expected {
            return Err(changed());
        }
        let tree = MerkleTree::<Sha3Prefixed>::from_leaves(leaves);
        if tree.root() != Some(self.chunk_roots[chunk]) {
            return Err(changed());
        }
        let top = MerkleTree::<Sha3Prefixed>::from_leaves(&self.chunk_roots)
            .proof(&[chunk])
            .proof_hashes()
            .to_vec();
        Ok(ChunkProver { tree, top, first })
    }

    /// The statement of this batch's decision-batch entry (subject: the batch root).
    pub fn statement(&self, predicate: &DecisionBatch) -> serde_json::Value {
        statement(
            Kind::DecisionBatch,
            "decision-batch",
            "sha3-256",
            &crate::core::predicate::hex(&self.root),
            predicate,
        )
    }
}

/// The proofs of one chunk's records.
pub struct ChunkProver {
    tree: MerkleTree<Sha3Prefixed>,
    top: Vec<Hash>,
    first: u64,
}

impl ChunkProver {
    /// The audit path of record `index` (batch-wide index, inside this chunk), leaf to root.
    pub fn proof(&self, index: u64) -> Vec<Hash> {
        let local = (index - self.first) as usize;
        let mut path = self.tree.proof(&[local]).proof_hashes().to_vec();
        path.extend_from_slice(&self.top);
        path
    }
}

/// Checks that the record with leaf hash `leaf` is record `index` of the batch of `count`
/// records with root `root`, by its audit path (RFC 9162, section 2.1.3.2).
pub fn verify_proof(leaf: Hash, index: u64, count: u64, proof: &[Hash], root: &Hash) -> bool {
    root_from_audit_path(index, count, leaf, proof).as_ref() == Some(root)
}

/// What pass 1 found: the tree and the records' time window.
#[derive(Clone, Debug)]
pub struct Scanned {
    pub tree: BatchTree,
    pub window: Window,
    /// Bytes of the longest record.
    pub longest: usize,
    /// Bytes of all records.
    pub bytes: u64,
}

/// Reads up to `max` lines into `buf`, returning their (start, end) offsets (line ends kept).
fn read_lines(
    r: &mut impl BufRead,
    max: usize,
    buf: &mut Vec<u8>,
    spans: &mut Vec<(usize, usize)>,
) -> std::io::Result<()> {
    buf.clear();
    spans.clear();
    while spans.len() < max {
        let start = buf.len();
        if r.read_until(b'\n', buf)? == 0 {
            break;
        }
        spans.push((start, buf.len()));
    }
    Ok(())
}

/// Pass 1: reads JSONL records (one per line), validates every one (it must name `platform`
/// and `commitment`), hashes them into the batch tree and finds their time window. The first
/// bad line stops it, with its line number.
pub fn scan(
    mut reader: impl BufRead,
    platform: &str,
    commitment: u64,
    chunk_log2: u32,
) -> Result<Scanned, BatchError> {
    let mut builder = TreeBuilder::new(chunk_log2)?;
    let (mut buf, mut spans) = (Vec::new(), Vec::new());
    let mut window: Option<(DateTime<Utc>, DateTime<Utc>)> = None;
    let (mut longest, mut bytes) = (0usize, 0u64);
    let mut leaves = Vec::with_capacity(SCAN_BLOCK);
    loop {
        read_lines(&mut reader, SCAN_BLOCK, &mut buf, &mut spans)?;
        if spans.is_empty() {
            break;
        }
        let first_line = builder.count() + 1;
        let records: Vec<&[u8]> = spans.iter().map(|&(s, e)| line_bytes(&buf[s..e])).collect();
        // Validate in parallel; keep each record's time.
        let checked: Vec<Result<DateTime<Utc>, BatchError>> = records
            .par_iter()
            .enumerate()
            .map(|(i, rec)| {
                let line = first_line + i as u64;
                if rec.iter().all(u8::is_ascii_whitespace) {
                    return Err(BatchError::EmptyLine { line });
                }
                let r = DecisionRecord::parse(rec)
                    .map_err(|error| BatchError::Record { line, error })?;
                if r.platform != platform {
                    return Err(BatchError::Mismatch {
                        line,
                        field: "platform",
                        found: r.platform,
                        expected: platform.to_owned(),
                    });
                }
                if r.commitment != commitment {
                    return Err(BatchError::Mismatch {
                        line,
                        field: "commitment",
                        found: r.commitment.to_string(),
                        expected: commitment.to_string(),
                    });
                }
                Ok(r.time)
            })
            .collect();
        for t in checked {
            let t = t?;
            window = Some(match window {
                None => (t, t),
                Some((a, b)) => (a.min(t), b.max(t)),
            });
        }
        for r in &records {
            longest = longest.max(r.len());
            bytes += r.len() as u64;
        }
        leaves.clear();
        let parts: Vec<Vec<Hash>> = records
            .par_chunks(1024)
            .map(|part| {
                let mut out = Vec::with_capacity(part.len());
                leaf_hashes(part, &mut out);
                out
            })
            .collect();
        for p in parts {
            leaves.extend(p);
        }
        builder.push_leaves(&leaves);
    }
    let tree = builder.finish().ok_or(BatchError::Empty)?;
    let (start, end) = window.expect("records were read");
    Ok(Scanned {
        tree,
        window: Window { start, end },
        longest,
        bytes,
    })
}

/// One chunk of records in pass 2, with their proofs.
pub struct ProvedChunk<'a> {
    /// Batch-wide index of the first record.
    pub first: u64,
    /// The records' leaf bytes, in order.
    pub records: Vec<&'a [u8]>,
    pub prover: ChunkProver,
}

/// Pass 2: re-reads the records `tree` was built from, one chunk at a time, checks each chunk
/// against the tree and hands it to `each` with its proofs. Stops at the first chunk that does
/// not match (the file changed), before handing it out.
pub fn prove_chunks<E: From<BatchError>>(
    mut reader: impl BufRead,
    tree: &BatchTree,
    mut each: impl FnMut(ProvedChunk<'_>) -> Result<(), E>,
) -> Result<(), E> {
    let size = tree.chunk_size() as usize;
    let (mut buf, mut spans) = (Vec::new(), Vec::new());
    let mut leaves = Vec::with_capacity(size);
    let mut chunk = 0usize;
    let mut seen = 0u64;
    loop {
        read_lines(&mut reader, size, &mut buf, &mut spans).map_err(BatchError::from)?;
        if spans.is_empty() {
            break;
        }
        seen += spans.len() as u64;
        if seen > tree.count {
            return Err(BatchError::CountChanged {
                found: seen,
                expected: tree.count,
            }
            .into());
        }
        let records: Vec<&[u8]> = spans.iter().map(|&(s, e)| line_bytes(&buf[s..e])).collect();
        leaves.clear();
        let parts: Vec<Vec<Hash>> = records
            .par_chunks(1024)
            .map(|part| {
                let mut out = Vec::with_capacity(part.len());
                leaf_hashes(part, &mut out);
                out
            })
            .collect();
        for p in parts {
            leaves.extend(p);
        }
        let prover = tree.chunk_prover(chunk, &leaves)?;
        each(ProvedChunk {
            first: chunk as u64 * size as u64,
            records,
            prover,
        })?;
        chunk += 1;
    }
    if seen != tree.count {
        return Err(BatchError::CountChanged {
            found: seen,
            expected: tree.count,
        }
        .into());
    }
    Ok(())
}

/// A batch the [`WindowBatcher`] closed.
#[derive(Clone, Debug)]
pub struct ClosedBatch {
    pub tree: BatchTree,
    pub predicate: DecisionBatch,
}

impl ClosedBatch {
    /// The statement to sign and log.
    pub fn statement(&self) -> serde_json::Value {
        self.tree.statement(&self.predicate)
    }
}

struct OpenBatch {
    window: Window,
    builder: TreeBuilder,
}

/// Where [`WindowBatcher::push`] put a record.
#[derive(Debug)]
pub struct Pushed {
    /// The record's index in its batch (its leaf index in the batch tree).
    pub index: u64,
    /// The batch this record's arrival closed (the previous window's), if any.
    pub closed: Option<ClosedBatch>,
}

/// Cuts a stream of decision records into batches by fixed time windows (see the module's
/// documentation). Memory: one chunk of leaf hashes plus the chunk roots of the open batch.
/// The window width is taken in whole milliseconds.
pub struct WindowBatcher {
    platform: String,
    commitment: u64,
    width: chrono::Duration,
    chunk_log2: u32,
    open: Option<OpenBatch>,
}

impl WindowBatcher {
    /// A batcher for `platform`'s decisions by commitment `commitment`, in windows of `width`
    /// (at least a millisecond).
    pub fn new(platform: &str, commitment: u64, width: chrono::Duration) -> WindowBatcher {
        WindowBatcher {
            platform: platform.to_owned(),
            commitment,
            width: chrono::Duration::milliseconds(width.num_milliseconds().max(1)),
            chunk_log2: DEFAULT_CHUNK_LOG2,
            open: None,
        }
    }

    fn window_of(&self, t: DateTime<Utc>) -> Window {
        let w = self.width.num_milliseconds();
        let start_ms = t.timestamp_millis().div_euclid(w) * w;
        let start = DateTime::from_timestamp_millis(start_ms).expect("in range");
        // The window's last instant: records at exactly `start + width` fall in the next one.
        let end = start + self.width - chrono::Duration::nanoseconds(1);
        Window { start, end }
    }

    /// Adds one record (its leaf bytes): validated, checked against the batcher's platform and
    /// commitment, and placed in its time window. A record from a later window first closes
    /// the open batch, which is returned.
    pub fn push(&mut self, record: &[u8]) -> Result<Pushed, BatchError> {
        let r =
            DecisionRecord::parse(record).map_err(|error| BatchError::Record { line: 0, error })?;
        if r.platform != self.platform || r.commitment != self.commitment {
            return Err(BatchError::Mismatch {
                line: 0,
                field: "platform/commitment",
                found: format!("{}/{}", r.platform, r.commitment),
                expected: format!("{}/{}", self.platform, self.commitment),
            });
        }
        let mut closed = None;
        if let Some(open) = &self.open {
            let start = self.window_of(r.time).start;
            if start < open.window.start {
                return Err(BatchError::Late {
                    time: r.time,
                    start: open.window.start,
                });
            }
            if start > open.window.start {
                closed = self.close();
            }
        }
        if self.open.is_none() {
            self.open = Some(OpenBatch {
                window: self.window_of(r.time),
                builder: TreeBuilder::new(self.chunk_log2)?,
            });
        }
        let open = self.open.as_mut().expect("opened");
        let index = open.builder.count();
        open.builder.push_leaves(&[leaf_hash(record)]);
        Ok(Pushed { index, closed })
    }

    /// Closes the open batch if its window is over at `now` (call it from a timer).
    pub fn tick(&mut self, now: DateTime<Utc>) -> Option<ClosedBatch> {
        match &self.open {
            Some(open) if now > open.window.end => self.close(),
            _ => None,
        }
    }

    /// Closes the open batch now, whatever the time (e.g. at shutdown).
    pub fn close(&mut self) -> Option<ClosedBatch> {
        let open = self.open.take()?;
        let tree = open.builder.finish()?;
        Some(ClosedBatch {
            predicate: DecisionBatch {
                platform: self.platform.clone(),
                commitment: self.commitment,
                window: open.window,
                record_count: tree.count,
            },
            tree,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leaves(n: usize) -> Vec<Hash> {
        (0..n)
            .map(|i| leaf_hash(format!("record {i}").as_bytes()))
            .collect()
    }

    fn records(n: usize, platform: &str) -> Vec<u8> {
        let mut out = Vec::new();
        for i in 0..n {
            let mut r = crate::decisions::decision::tests::sample(platform, 3, 1 + i % 3);
            r["time"] = format!("2026-11-24T12:00:{:02}.000Z", i % 60).into();
            r["subject"] = format!("u-{i}").into();
            out.extend(serde_json::to_vec(&r).unwrap());
            out.push(b'\n');
        }
        out
    }

    #[test]
    fn tree_root_matches_rs_merkle() {
        for n in [1usize, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 33, 100, 1000] {
            let l = leaves(n);
            let want = MerkleTree::<Sha3Prefixed>::from_leaves(&l).root().unwrap();
            assert_eq!(tree_root(&l), want, "n = {n}");
        }
    }

    #[test]
    fn leaf_hashes_match_the_scalar_hash() {
        let recs: Vec<Vec<u8>> = (0..37).map(|i| vec![b'x'; 100 + i * 13]).collect();
        let refs: Vec<&[u8]> = recs.iter().map(|r| r.as_slice()).collect();
        let mut out = Vec::new();
        leaf_hashes(&refs, &mut out);
        assert_eq!(out, refs.iter().map(|r| leaf_hash(r)).collect::<Vec<_>>());
    }

    #[test]
    fn chunked_proofs_are_the_whole_tree_proofs() {
        for chunk_log2 in [0u32, 1, 2, 3] {
            let c = 1usize << chunk_log2;
            let mut sizes = vec![1, 2, 3, 5, 7, 9, 17, 33];
            sizes.extend([c.saturating_sub(1).max(1), c, c + 1, 3 * c - 1, 3 * c + 1]);
            for n in sizes {
                let l = leaves(n);
                let whole = MerkleTree::<Sha3Prefixed>::from_leaves(&l);
                let mut b = TreeBuilder::new(chunk_log2).unwrap();
                b.push_leaves(&l[..n / 2]);
                b.push_leaves(&l[n / 2..]);
                let tree = b.finish().unwrap();
                assert_eq!(Some(tree.root), whole.root(), "n = {n}, chunk {c}");
                for (ci, part) in l.chunks(c).enumerate() {
                    let prover = tree.chunk_prover(ci, part).unwrap();
                    for j in 0..part.len() {
                        let i = ci * c + j;
                        let p = prover.proof(i as u64);
                        assert_eq!(p, whole.proof(&[i]).proof_hashes().to_vec(), "n {n} i {i}");
                        assert!(verify_proof(l[i], i as u64, n as u64, &p, &tree.root));
                        if n > 1 {
                            assert!(!verify_proof(
                                l[(i + 1) % n],
                                i as u64,
                                n as u64,
                                &p,
                                &tree.root
                            ));
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn a_changed_chunk_is_refused() {
        let l = leaves(10);
        let mut b = TreeBuilder::new(2).unwrap();
        b.push_leaves(&l);
        let tree = b.finish().unwrap();
        let mut other = l[4..8].to_vec();
        other.swap(0, 1);
        assert!(matches!(
            tree.chunk_prover(1, &other),
            Err(BatchError::ChunkChanged {
                chunk: 1,
                first: 4,
                last: 7
            })
        ));
        assert!(tree.chunk_prover(2, &l[8..9]).is_err());
    }

    #[test]
    fn scan_then_prove_round_trips() {
        let data = records(23, "social.example");
        let s = scan(&data[..], "social.example", 3, 2).unwrap();
        assert_eq!(s.tree.count, 23);
        assert_eq!(s.window.start.to_rfc3339(), "2026-11-24T12:00:00+00:00");
        assert_eq!(s.window.end.to_rfc3339(), "2026-11-24T12:00:22+00:00");
        let lines: Vec<&[u8]> = data
            .split(|&b| b == b'\n')
            .filter(|l| !l.is_empty())
            .collect();
        let whole = MerkleTree::<Sha3Prefixed>::from_leaves(
            &lines.iter().map(|l| leaf_hash(l)).collect::<Vec<_>>(),
        );
        assert_eq!(whole.root(), Some(s.tree.root));
        let mut n = 0;
        prove_chunks::<BatchError>(&data[..], &s.tree, |c| {
            for (j, rec) in c.records.iter().enumerate() {
                let i = c.first + j as u64;
                assert_eq!(*rec, lines[i as usize]);
                assert!(verify_proof(
                    leaf_hash(rec),
                    i,
                    23,
                    &c.prover.proof(i),
                    &s.tree.root
                ));
                n += 1;
            }
            Ok(())
        })
        .unwrap();
        assert_eq!(n, 23);
        // A file edited between the passes is caught at the chunk that changed.
        let mut edited = data.clone();
        let at = edited.len() - 20;
        edited[at] = b' ';
        let e = prove_chunks::<BatchError>(&edited[..], &s.tree, |_| Ok(())).unwrap_err();
        assert!(
            matches!(e, BatchError::ChunkChanged { chunk: 5, .. }),
            "{e}"
        );
    }

    #[test]
    fn scan_names_the_bad_line() {
        let mut data = records(5, "social.example");
        data.extend(b"{\"v\":1}\n");
        let e = scan(&data[..], "social.example", 3, 16)
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("line 6: not a decision record"), "{e}");
        let data = records(3, "other.example");
        let e = scan(&data[..], "social.example", 3, 16)
            .unwrap_err()
            .to_string();
        assert!(e.contains("line 1: platform is \"other.example\""), "{e}");
        let e = scan(&data[..], "other.example", 4, 16)
            .unwrap_err()
            .to_string();
        assert!(e.contains("commitment is \"3\""), "{e}");
        let e = scan(&b"\n"[..], "other.example", 4, 16)
            .unwrap_err()
            .to_string();
        assert!(e.contains("line 1 is empty"), "{e}");
        assert!(matches!(scan(&b""[..], "x", 1, 16), Err(BatchError::Empty)));
    }

    #[test]
    fn the_window_batcher_cuts_by_time() {
        let mut b = WindowBatcher::new("social.example", 3, chrono::Duration::seconds(10));
        let mut closed = Vec::new();
        let mut leaves_of_first = Vec::new();
        for s in [1, 2, 9, 10, 15, 31] {
            let mut r = crate::decisions::decision::tests::sample("social.example", 3, 2);
            // The last instant of a window stays in it, even below a millisecond.
            let frac = if s == 9 { "999999" } else { "000" };
            r["time"] = format!("2026-11-24T12:00:{s:02}.{frac}Z").into();
            let bytes = serde_json::to_vec(&r).unwrap();
            let p = b.push(&bytes).unwrap();
            if s < 10 {
                leaves_of_first.push(leaf_hash(&bytes));
                assert_eq!(p.index, leaves_of_first.len() as u64 - 1);
            }
            closed.extend(p.closed);
        }
        assert_eq!(closed.len(), 2);
        assert_eq!(closed[0].predicate.record_count, 3);
        assert_eq!(closed[0].tree.root, tree_root(&leaves_of_first));
        assert_eq!(
            closed[0].predicate.window.start.to_rfc3339(),
            "2026-11-24T12:00:00+00:00"
        );
        assert_eq!(
            closed[0].predicate.window.end.to_rfc3339(),
            "2026-11-24T12:00:09.999999999+00:00"
        );
        assert_eq!(closed[1].predicate.record_count, 2);
        let mut late = crate::decisions::decision::tests::sample("social.example", 3, 2);
        late["time"] = "2026-11-24T12:00:05.000Z".into();
        assert!(matches!(
            b.push(&serde_json::to_vec(&late).unwrap()),
            Err(BatchError::Late { .. })
        ));
        assert!(b.tick("2026-11-24T12:00:39Z".parse().unwrap()).is_none());
        let last = b.tick("2026-11-24T12:00:40Z".parse().unwrap()).unwrap();
        assert_eq!(last.predicate.record_count, 1);
        let st = last.statement();
        crate::core::predicate::TypedStatement::parse(Kind::DecisionBatch, &st).unwrap();
    }
}
