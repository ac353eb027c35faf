//! The model digest: the name Embargo gives a model, computed from its bytes.
//!
//! This module owns
//!
//! * the definition of the **model digest** (written down, with pinned test vectors, in
//!   `schema/model-digest.md` and `schema/model-digest-vectors.json`),
//! * the per-file **chunk trees** it is built from, and
//! * **chunk inclusion proofs**, which let a download be checked piece by piece.
//!
//! It reads the files it is pointed at and nothing else: it never touches the network or the
//! log, and it keeps no state beyond rayon's thread pool.
//!
//! # Speed
//!
//! [`digest_path`] hashes the chunks of every file on all cores, reading them with positional
//! reads into one 4 MiB buffer per worker, so memory stays bounded whatever the model's size. On
//! x86-64 CPUs with AVX-512F/VL each worker hashes four chunks at once (`keccak_x4` below: plain
//! SHA3-256, four messages per instruction stream); elsewhere it uses the `sha3` crate.
//!
//! # Definition
//!
//! 1. Each file is cut into [`CHUNK_SIZE`] (1 MiB) chunks. A chunk's leaf hash is
//!    `SHA3-256(0x00 || chunk)`, an inner node is `SHA3-256(0x01 || left || right)`, and the
//!    tree has the RFC 6962 shape. A file's root is the root of that tree; an empty file's root
//!    is `SHA3-256("")`; a one-chunk file's root is its leaf hash.
//! 2. The manifest has one line per regular file, sorted by path bytes:
//!    `<root hex> <size> <path>\n`. Paths are relative to the model directory, `/`-separated and
//!    UTF-8; a single-file model's path is its file name. Every regular file counts, dotfiles
//!    included. Symlinks, special files, names that are not UTF-8 and names containing a
//!    newline are refused.
//! 3. The model digest is `SHA3-256("embargo-model-v1\n" || manifest)`.
//!
//! # Example
//!
//! ```no_run
//! # use std::path::Path;
//! # use embargo::model::digest::digest_path;
//! let manifest = digest_path(Path::new("models/ranker-v3"), None)?;
//! println!("{}  ({} files, {} bytes)", manifest.digest(), manifest.file_count(), manifest.total_size());
//! # Ok::<(), embargo::model::digest::DigestError>(())
//! ```

use std::collections::HashSet;
use std::fmt;
use std::fs::{self, File, Metadata};
use std::io;
use std::os::unix::fs::{FileExt, FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::str::FromStr;

use rayon::prelude::*;
use rs_merkle::MerkleTree;
use sha3::{Digest, Sha3_256};

/// Size of the chunks a file is cut into: 1 MiB. The last chunk of a file may be shorter.
pub const CHUNK_SIZE: usize = 1 << 20;

/// [`CHUNK_SIZE`] as a file offset.
const CHUNK_BYTES: u64 = CHUNK_SIZE as u64;

/// Domain separator hashed in front of the manifest.
pub const DOMAIN: &[u8] = b"embargo-model-v1\n";

/// Prefix of the self-describing text form of a digest, `sha3-256:<hex>`.
pub const DIGEST_PREFIX: &str = "sha3-256:";

/// A SHA3-256 output: a leaf, a node or a root.
pub type Hash = [u8; 32];

// ---------------------------------------------------------------------------------------------
// Hashing primitives and chunk trees
// ---------------------------------------------------------------------------------------------

/// The leaf hash of one chunk: `SHA3-256(0x00 || chunk)`.
pub fn leaf_hash(chunk: &[u8]) -> Hash {
    let mut hasher = Sha3_256::new();
    hasher.update([0x00]);
    hasher.update(chunk);
    hasher.finalize().into()
}

/// An inner node: `SHA3-256(0x01 || left || right)`.
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut hasher = Sha3_256::new();
    hasher.update([0x01]);
    hasher.update(left);
    hasher.update(right);
    hasher.finalize().into()
}

/// The root of an empty file: `SHA3-256("")`, with no prefix.
pub fn empty_root() -> Hash {
    Sha3_256::digest(b"").into()
}

/// Number of chunks (leaves) of a file of `size` bytes: `ceil(size / CHUNK_SIZE)`.
pub fn leaf_count(size: u64) -> u64 {
    size.div_ceil(CHUNK_BYTES)
}

/// The [`rs_merkle::Hasher`] for chunk trees (and for any other SHA3-256 tree with RFC 6962
/// prefixes, such as decision batches).
///
/// * [`Hasher::hash`](rs_merkle::Hasher::hash) is the **leaf** hash, `SHA3-256(0x00 || data)`,
///   so `Sha3Prefixed::hash(chunk)` gives a chunk's leaf. rs_merkle itself never calls it once
///   `concat_and_hash` is overridden.
/// * `concat_and_hash(left, Some(right))` is the node hash `SHA3-256(0x01 || left || right)`.
/// * `concat_and_hash(left, None)` returns `left` unchanged: rs_merkle pairs the nodes of each
///   level from the left and promotes an unpaired last node one level up. That yields exactly
///   RFC 6962's shape (the left subtree holds the largest power of two smaller than `n`
///   leaves); the tests check this against a direct recursive RFC 6962 implementation.
#[derive(Clone, Copy, Debug, Default)]
pub struct Sha3Prefixed;

impl rs_merkle::Hasher for Sha3Prefixed {
    type Hash = Hash;

    fn hash(data: &[u8]) -> Hash {
        leaf_hash(data)
    }

    fn concat_and_hash(left: &Hash, right: Option<&Hash>) -> Hash {
        match right {
            Some(right) => node_hash(left, right),
            None => *left,
        }
    }
}

/// The root of the chunk tree over `leaves` (leaf hashes, in file order).
///
/// No leaves (an empty file) gives [`empty_root`]; one leaf gives that leaf.
pub fn chunk_root(leaves: &[Hash]) -> Hash {
    match MerkleTree::<Sha3Prefixed>::from_leaves(leaves).root() {
        Some(root) => root,
        None => empty_root(),
    }
}

/// The inclusion proof of chunk `index` in the tree over `leaves`: the sibling hashes from the
/// leaf up to the root, i.e. the RFC 6962 / RFC 9162 audit path.
pub fn chunk_proof(leaves: &[Hash], index: u64) -> Result<Vec<Hash>, DigestError> {
    let leaf_count = leaves.len() as u64;
    let out_of_range = || DigestError::ChunkIndex { index, leaf_count };
    let position = usize::try_from(index).map_err(|_| out_of_range())?;
    if position >= leaves.len() {
        return Err(out_of_range());
    }
    let tree = MerkleTree::<Sha3Prefixed>::from_leaves(leaves);
    Ok(tree.proof(&[position]).proof_hashes().to_vec())
}

/// Checks that `chunk` is chunk `index` of a file whose chunk tree has `leaf_count` leaves and
/// root `root`, using the audit path `proof` (as made by [`chunk_proof`]).
///
/// Every chunk but the last must be exactly [`CHUNK_SIZE`] bytes; the last one 1 to
/// `CHUNK_SIZE` bytes. The proof must have exactly the expected length. This follows the
/// verification algorithm of RFC 9162, section 2.1.3.2, and never panics.
///
/// Take `leaf_count` from the file's size in a trusted manifest ([`leaf_count`]`(size)`): as
/// with any RFC 9162 proof, one audit path can fit several tree sizes, so the proof alone does
/// not pin the size down.
pub fn verify_chunk(
    root: &Hash,
    index: u64,
    leaf_count: u64,
    chunk: &[u8],
    proof: &[Hash],
) -> bool {
    if index >= leaf_count || !plausible_chunk_len(index, leaf_count, chunk.len()) {
        return false;
    }
    root_from_audit_path(index, leaf_count, leaf_hash(chunk), proof).as_ref() == Some(root)
}

/// Whether a chunk at `index` of `leaf_count` may be `len` bytes long.
fn plausible_chunk_len(index: u64, leaf_count: u64, len: usize) -> bool {
    if index + 1 < leaf_count {
        len == CHUNK_SIZE
    } else {
        (1..=CHUNK_SIZE).contains(&len)
    }
}

/// RFC 9162, section 2.1.3.2: the root implied by a leaf hash and its audit path, or `None` if
/// the path does not fit a tree of `size` leaves. Never panics. (Decision batches verify their
/// record proofs with it too.)
pub fn root_from_audit_path(index: u64, size: u64, leaf: Hash, path: &[Hash]) -> Option<Hash> {
    if index >= size {
        return None;
    }
    let (mut fnode, mut snode, mut hash) = (index, size - 1, leaf);
    for sibling in path {
        if snode == 0 {
            return None;
        }
        if fnode & 1 == 1 || fnode == snode {
            hash = node_hash(sibling, &hash);
            while fnode & 1 == 0 && fnode != 0 {
                fnode >>= 1;
                snode >>= 1;
            }
        } else {
            hash = node_hash(&hash, sibling);
        }
        fnode >>= 1;
        snode >>= 1;
    }
    (snode == 0).then_some(hash)
}

/// Chunks hashed together: four, so that the 4-way SIMD Keccak (see [`leaf_hashes_into`]) can
/// take them at once.
const BATCH_CHUNKS: usize = 4;

/// Bytes of one batch of chunks.
const BATCH_BYTES: usize = BATCH_CHUNKS * CHUNK_SIZE;

/// Appends the leaf hashes of `chunks` to `leaves`, in order.
///
/// In optimized builds, groups of four chunks of equal length take the 4-way AVX-512 Keccak
/// when the CPU has it (about four times the sha3 crate's speed on one core); anything else
/// takes the sha3 crate. Both give the same hashes; the tests check that. Unoptimized (debug)
/// builds always take the sha3 crate, which is built optimized as a dependency, while the SIMD
/// code would run some 50 times slower without optimization.
fn leaf_hashes_into(chunks: &[&[u8]], leaves: &mut Vec<Hash>) {
    let mut groups = chunks.chunks_exact(BATCH_CHUNKS);
    for group in &mut groups {
        let four_way = if cfg!(debug_assertions) {
            None
        } else {
            keccak_x4::leaf_hashes(group)
        };
        match four_way {
            Some(hashes) => leaves.extend(hashes),
            None => leaves.extend(group.iter().map(|chunk| leaf_hash(chunk))),
        }
    }
    leaves.extend(groups.remainder().iter().map(|chunk| leaf_hash(chunk)));
}

/// `SHA3-256(prefix || message)` of four messages at once with the 4-way AVX-512 Keccak, or
/// `None` when that path does not apply: another CPU, an unoptimized (debug) build, or messages
/// that do not take the same number of 136-byte blocks once prefixed and padded. Callers fall
/// back to [`leaf_hash`] / [`node_hash`]; both paths give the same hashes (tested).
///
/// Decision batches use it for record leaves (`prefix` 0x00) and for inner nodes (`prefix`
/// 0x01, each message the 64 bytes `left || right`).
pub fn prefixed_hashes_x4(prefix: u8, messages: [&[u8]; 4]) -> Option<[Hash; 4]> {
    if cfg!(debug_assertions) {
        return None;
    }
    keccak_x4::prefixed_hashes(prefix, messages)
}

/// Appends the leaf hashes of `bytes`, cut into chunks from its start, to `leaves`.
fn hash_chunks_of(bytes: &[u8], leaves: &mut Vec<Hash>) {
    let chunks: Vec<&[u8]> = bytes.chunks(CHUNK_SIZE).collect();
    leaf_hashes_into(&chunks, leaves);
}

/// Incremental chunk hashing of one file: feed its bytes in pieces of any size. Keeps the leaf
/// hashes (32 bytes per MiB) and at most one batch of four chunks (4 MiB) in memory.
#[derive(Debug, Default)]
pub struct FileHasher {
    /// Bytes of the current batch, which starts at a multiple of `BATCH_BYTES`.
    partial: Vec<u8>,
    leaves: Vec<Hash>,
    len: u64,
}

impl FileHasher {
    /// A hasher that has seen no bytes yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds the next bytes of the file. Each batch of four complete chunks is hashed as soon
    /// as it is complete.
    pub fn update(&mut self, mut bytes: &[u8]) {
        self.len += bytes.len() as u64;
        if !self.partial.is_empty() {
            let take = bytes.len().min(BATCH_BYTES - self.partial.len());
            self.partial.extend_from_slice(&bytes[..take]);
            bytes = &bytes[take..];
            if self.partial.len() < BATCH_BYTES {
                return;
            }
            hash_chunks_of(&self.partial, &mut self.leaves);
            self.partial.clear();
        }
        let mut batches = bytes.chunks_exact(BATCH_BYTES);
        for batch in &mut batches {
            hash_chunks_of(batch, &mut self.leaves);
        }
        self.partial.extend_from_slice(batches.remainder());
    }

    /// Bytes fed so far.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether no bytes have been fed yet.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Hashes the remaining chunks and returns the file's root and its leaf hashes.
    pub fn finish(mut self) -> (Hash, Vec<Hash>) {
        hash_chunks_of(&self.partial, &mut self.leaves);
        (chunk_root(&self.leaves), self.leaves)
    }
}

// ---------------------------------------------------------------------------------------------
// The model digest and the manifest
// ---------------------------------------------------------------------------------------------

/// A model digest: `SHA3-256("embargo-model-v1\n" || manifest)`.
///
/// Displays as 64 lowercase hex digits; [`ModelDigest::prefixed`] gives `sha3-256:<hex>`.
/// Parses from either form (hex digits in either case). Serializes as the plain hex string.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ModelDigest([u8; 32]);

impl ModelDigest {
    /// Wraps raw digest bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// The raw digest bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// The digest of a manifest's text (which is assumed to be canonical).
    pub fn of_manifest_text(text: &str) -> Self {
        let mut hasher = Sha3_256::new();
        hasher.update(DOMAIN);
        hasher.update(text.as_bytes());
        Self(hasher.finalize().into())
    }

    /// Lowercase hex, the same as `to_string()`.
    pub fn to_hex(&self) -> String {
        to_hex(&self.0)
    }

    /// The self-describing form `sha3-256:<hex>`.
    pub fn prefixed(&self) -> String {
        format!("{DIGEST_PREFIX}{}", self.to_hex())
    }
}

impl fmt::Display for ModelDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for ModelDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ModelDigest({self})")
    }
}

impl FromStr for ModelDigest {
    type Err = DigestError;

    /// Accepts `<64 hex digits>` or `sha3-256:<64 hex digits>`.
    fn from_str(text: &str) -> Result<Self, DigestError> {
        let hex = text.strip_prefix(DIGEST_PREFIX).unwrap_or(text);
        match parse_hex32(hex, true) {
            Some(bytes) => Ok(Self(bytes)),
            None => Err(DigestError::InvalidDigest {
                input: text.chars().take(80).collect(),
            }),
        }
    }
}

impl serde::Serialize for ModelDigest {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for ModelDigest {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// One manifest line: a regular file of the model.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileEntry {
    /// Path relative to the model directory, `/`-separated (for a single-file model, the file
    /// name).
    pub path: String,
    /// Size in bytes.
    pub size: u64,
    /// Root of the file's chunk tree.
    pub root: Hash,
}

impl FileEntry {
    /// The root as lowercase hex.
    pub fn root_hex(&self) -> String {
        to_hex(&self.root)
    }

    /// The manifest line, including its newline.
    fn line(&self) -> String {
        format!("{} {} {}\n", self.root_hex(), self.size, self.path)
    }
}

/// A model's manifest: its files sorted by path bytes. Always valid: at least one file, valid
/// and distinct paths, no file also used as a directory, total size within `u64`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Manifest {
    files: Vec<FileEntry>,
}

impl Manifest {
    /// Builds a manifest from entries in any order; they are sorted by path bytes and checked.
    pub fn new(mut files: Vec<FileEntry>) -> Result<Self, DigestError> {
        files.sort_by(|a, b| a.path.as_bytes().cmp(b.path.as_bytes()));
        check_entries(&files)?;
        Ok(Self { files })
    }

    /// Parses manifest text, which must be canonical: exactly the text [`Manifest::to_text`]
    /// would produce (lowercase hex, sizes without leading zeros, sorted, newline-terminated).
    pub fn parse(text: &str) -> Result<Self, DigestError> {
        let mut files = Vec::new();
        for (number, line) in text.split_inclusive('\n').enumerate() {
            let entry = parse_line(line).map_err(|reason| DigestError::ManifestLine {
                line: number + 1,
                reason,
            })?;
            if let Some(previous) = files.last().map(|e: &FileEntry| e.path.as_bytes()) {
                if previous >= entry.path.as_bytes() {
                    return Err(DigestError::ManifestLine {
                        line: number + 1,
                        reason: "paths are not sorted by bytes (or repeat)".into(),
                    });
                }
            }
            files.push(entry);
        }
        check_entries(&files)?;
        Ok(Self { files })
    }

    /// The files, sorted by path bytes.
    pub fn files(&self) -> &[FileEntry] {
        &self.files
    }

    /// Number of files.
    pub fn file_count(&self) -> usize {
        self.files.len()
    }

    /// Sum of the file sizes, in bytes.
    pub fn total_size(&self) -> u64 {
        // Cannot overflow: checked when the manifest was built.
        self.files.iter().map(|f| f.size).sum()
    }

    /// The manifest text: `<root hex> <size> <path>\n` per file.
    pub fn to_text(&self) -> String {
        self.files.iter().map(FileEntry::line).collect()
    }

    /// The model digest, `SHA3-256("embargo-model-v1\n" || manifest)`.
    pub fn digest(&self) -> ModelDigest {
        ModelDigest::of_manifest_text(&self.to_text())
    }
}

/// Parses one canonical manifest line (with its newline) into an entry.
fn parse_line(line: &str) -> Result<FileEntry, String> {
    let body = line
        .strip_suffix('\n')
        .ok_or("the manifest must end with a newline")?;
    let (root_hex, rest) = body
        .split_once(' ')
        .ok_or("expected `<root hex> <size> <path>`")?;
    let (size_text, path) = rest
        .split_once(' ')
        .ok_or("expected `<root hex> <size> <path>`")?;
    let root = parse_hex32(root_hex, false).ok_or("the root must be 64 lowercase hex digits")?;
    let size = parse_size(size_text)
        .ok_or("the size must be a decimal number without leading zeros that fits in 64 bits")?;
    Ok(FileEntry {
        path: path.to_string(),
        size,
        root,
    })
}

/// A canonical decimal `u64`: digits only, no sign, no leading zeros (except "0" itself).
fn parse_size(text: &str) -> Option<u64> {
    let canonical = !text.is_empty()
        && text.bytes().all(|b| b.is_ascii_digit())
        && (text == "0" || !text.starts_with('0'));
    canonical.then(|| text.parse().ok()).flatten()
}

/// Checks entries already sorted by path bytes: non-empty, valid distinct paths, no path used
/// both as a file and as a directory, empty files with the empty root, total size fits `u64`.
fn check_entries(files: &[FileEntry]) -> Result<(), DigestError> {
    if files.is_empty() {
        return Err(DigestError::EmptyManifest);
    }
    let mut total: u64 = 0;
    for entry in files {
        check_relative_path(&entry.path)?;
        if entry.size == 0 && entry.root != empty_root() {
            return Err(DigestError::EmptyFileRoot {
                path: entry.path.clone(),
            });
        }
        total = total
            .checked_add(entry.size)
            .ok_or(DigestError::TotalSizeOverflow)?;
    }
    for pair in files.windows(2) {
        if pair[0].path == pair[1].path {
            return Err(DigestError::DuplicatePath {
                path: pair[0].path.clone(),
            });
        }
    }
    check_no_file_is_a_directory(files)
}

/// Refuses `a` next to `a/b`: no filesystem can hold both, so such a manifest is not a model.
fn check_no_file_is_a_directory(files: &[FileEntry]) -> Result<(), DigestError> {
    let paths: HashSet<&str> = files.iter().map(|f| f.path.as_str()).collect();
    for entry in files {
        let parents = entry
            .path
            .match_indices('/')
            .map(|(at, _)| &entry.path[..at]);
        for parent in parents {
            if paths.contains(parent) {
                return Err(DigestError::FileUsedAsDirectory {
                    file: parent.to_string(),
                    inside: entry.path.clone(),
                });
            }
        }
    }
    Ok(())
}

/// Checks a manifest path: relative, `/`-separated, no empty, `.` or `..` components, no
/// newline (it would end the manifest line early) and no NUL.
fn check_relative_path(path: &str) -> Result<(), DigestError> {
    let reason = if path.is_empty() {
        Some("the path is empty")
    } else if path.contains('\n') {
        Some("it contains a newline, which would split its manifest line in two")
    } else if path.contains('\0') {
        Some("it contains a NUL byte")
    } else if path.starts_with('/') {
        Some("it is absolute; paths are relative to the model directory")
    } else if path.split('/').any(str::is_empty) {
        Some("it has an empty component (a doubled or trailing `/`)")
    } else if path.split('/').any(|c| c == "." || c == "..") {
        Some("it has a `.` or `..` component")
    } else {
        None
    };
    match reason {
        Some(reason) => Err(DigestError::InvalidPath {
            path: path.to_string(),
            reason,
        }),
        None => Ok(()),
    }
}

// ---------------------------------------------------------------------------------------------
// Hashing files on disk
// ---------------------------------------------------------------------------------------------

/// Progress callback: called from worker threads with the number of bytes just hashed (an
/// increment, e.g. for `indicatif::ProgressBar::inc`).
pub type Progress<'a> = Option<&'a (dyn Fn(u64) + Sync)>;

/// Computes the manifest (and so the digest) of the model at `path`: a regular file or a
/// directory.
///
/// All cores are used (rayon's global pool, or the pool this is called in): files are hashed in
/// parallel, and so are the chunks of each file, four at a time, read with positional reads.
/// Memory stays bounded at one 4 MiB buffer per worker plus 32 bytes of leaf hash per MiB.
///
/// Refuses symlinks (including `path` itself), special files, names that are not UTF-8 or that
/// contain a newline, and directories without any file. Fails if a file changes while it is
/// hashed.
pub fn digest_path(path: &Path, progress: Progress<'_>) -> Result<Manifest, DigestError> {
    let found = find_files(path)?;
    let entries = found
        .par_iter()
        .map(|file| hash_found_file(file, progress))
        .collect::<Result<Vec<_>, _>>()?;
    Manifest::new(entries)
}

/// The chunk leaf hashes of one regular file (for serving chunk proofs). Refuses symlinks and
/// special files like [`digest_path`].
pub fn file_leaves(path: &Path, progress: Progress<'_>) -> Result<Vec<Hash>, DigestError> {
    let metadata = fs::symlink_metadata(path).map_err(io_error(path))?;
    check_regular_file(path, &metadata)?;
    let found = FoundFile {
        relative: String::new(),
        absolute: path.to_path_buf(),
        identity: (metadata.dev(), metadata.ino()),
    };
    Ok(hash_file(&found, progress)?.1)
}

/// A regular file found in the model, before hashing.
struct FoundFile {
    /// Manifest path.
    relative: String,
    /// Where to read it.
    absolute: PathBuf,
    /// Device and inode seen while walking, to notice the file being swapped before it is read.
    identity: (u64, u64),
}

/// Lists the regular files of the model at `path`, refusing whatever the definition refuses.
fn find_files(path: &Path) -> Result<Vec<FoundFile>, DigestError> {
    let metadata = fs::symlink_metadata(path).map_err(io_error(path))?;
    if metadata.is_dir() {
        let files = walk_directory(path)?;
        if files.is_empty() {
            return Err(DigestError::NoFiles {
                path: path.to_path_buf(),
            });
        }
        return Ok(files);
    }
    check_regular_file(path, &metadata)?;
    let name = path.file_name().ok_or_else(|| DigestError::NoFileName {
        path: path.to_path_buf(),
    })?;
    let relative = checked_name(path, name)?.to_string();
    Ok(vec![FoundFile {
        relative,
        absolute: path.to_path_buf(),
        identity: (metadata.dev(), metadata.ino()),
    }])
}

/// Walks a model directory without following symlinks; returns its regular files.
fn walk_directory(root: &Path) -> Result<Vec<FoundFile>, DigestError> {
    let mut files = Vec::new();
    let mut pending = vec![(root.to_path_buf(), String::new())];
    while let Some((directory, prefix)) = pending.pop() {
        for entry in fs::read_dir(&directory).map_err(io_error(&directory))? {
            let entry = entry.map_err(io_error(&directory))?;
            let absolute = entry.path();
            let name = entry.file_name();
            let name = checked_name(&absolute, &name)?;
            let relative = if prefix.is_empty() {
                name.to_string()
            } else {
                format!("{prefix}/{name}")
            };
            // DirEntry::metadata does not follow symlinks.
            let metadata = entry.metadata().map_err(io_error(&absolute))?;
            if metadata.is_dir() {
                pending.push((absolute, relative));
                continue;
            }
            check_regular_file(&absolute, &metadata)?;
            let identity = (metadata.dev(), metadata.ino());
            files.push(FoundFile {
                relative,
                absolute,
                identity,
            });
        }
    }
    Ok(files)
}

/// A file name as UTF-8 without newlines, or the error naming `path`.
fn checked_name<'a>(path: &Path, name: &'a std::ffi::OsStr) -> Result<&'a str, DigestError> {
    let name = name.to_str().ok_or_else(|| DigestError::NonUtf8Name {
        path: path.to_path_buf(),
    })?;
    if name.contains('\n') {
        return Err(DigestError::NewlineInName {
            path: path.to_path_buf(),
        });
    }
    Ok(name)
}

/// Refuses anything but a regular file (metadata from `lstat`, so symlinks show as symlinks).
fn check_regular_file(path: &Path, metadata: &Metadata) -> Result<(), DigestError> {
    let kind = metadata.file_type();
    if kind.is_file() {
        return Ok(());
    }
    if kind.is_symlink() {
        return Err(DigestError::Symlink {
            path: path.to_path_buf(),
        });
    }
    let description = if kind.is_dir() {
        "a directory"
    } else if kind.is_fifo() {
        "a named pipe (FIFO)"
    } else if kind.is_socket() {
        "a socket"
    } else if kind.is_block_device() {
        "a block device"
    } else if kind.is_char_device() {
        "a character device"
    } else {
        "of an unknown kind"
    };
    Err(DigestError::SpecialFile {
        path: path.to_path_buf(),
        kind: description,
    })
}

/// Hashes one found file into its manifest entry.
fn hash_found_file(file: &FoundFile, progress: Progress<'_>) -> Result<FileEntry, DigestError> {
    let (size, leaves) = hash_file(file, progress)?;
    Ok(FileEntry {
        path: file.relative.clone(),
        size,
        root: chunk_root(&leaves),
    })
}

/// What must not change while a file is hashed: identity, length and modification time.
#[derive(PartialEq, Eq)]
struct Snapshot {
    dev: u64,
    ino: u64,
    len: u64,
    mtime: (i64, i64),
}

impl Snapshot {
    fn of(metadata: &Metadata) -> Self {
        Self {
            dev: metadata.dev(),
            ino: metadata.ino(),
            len: metadata.len(),
            mtime: (metadata.mtime(), metadata.mtime_nsec()),
        }
    }
}

/// Reads and hashes one file's chunks in parallel; returns its size and leaf hashes.
fn hash_file(file: &FoundFile, progress: Progress<'_>) -> Result<(u64, Vec<Hash>), DigestError> {
    let path = file.absolute.as_path();
    let changed = || DigestError::Changed {
        path: path.to_path_buf(),
    };
    let handle = File::open(path).map_err(io_error(path))?;
    let metadata = handle.metadata().map_err(io_error(path))?;
    let before = Snapshot::of(&metadata);
    if !metadata.is_file() || (before.dev, before.ino) != file.identity {
        return Err(changed());
    }
    let leaves = hash_open_file(&handle, path, before.len, progress)?;
    let after = handle.metadata().map_err(io_error(path))?;
    if Snapshot::of(&after) != before {
        return Err(changed());
    }
    Ok((before.len, leaves))
}

/// Hashes the chunks of an open file of `size` bytes, a batch of four chunks per task, each
/// worker reading into its own 4 MiB buffer with `pread`.
fn hash_open_file(
    handle: &File,
    path: &Path,
    size: u64,
    progress: Progress<'_>,
) -> Result<Vec<Hash>, DigestError> {
    let batches =
        usize::try_from(size.div_ceil(BATCH_BYTES as u64)).map_err(|_| DigestError::Io {
            path: path.to_path_buf(),
            source: io::Error::other("file too large for this platform's address size"),
        })?;
    let hashed: Vec<Vec<Hash>> = (0..batches)
        .into_par_iter()
        .map_init(
            || vec![0u8; BATCH_BYTES],
            |buffer, batch| hash_batch_at(handle, path, size, batch as u64, buffer, progress),
        )
        .collect::<Result<_, _>>()?;
    Ok(hashed.concat())
}

/// Reads batch `index` (chunks `4 * index` to `4 * index + 3`) of a file of `size` bytes into
/// `buffer` and returns the batch's leaf hashes.
fn hash_batch_at(
    handle: &File,
    path: &Path,
    size: u64,
    index: u64,
    buffer: &mut [u8],
    progress: Progress<'_>,
) -> Result<Vec<Hash>, DigestError> {
    let offset = index * BATCH_BYTES as u64;
    let len = (size - offset).min(BATCH_BYTES as u64) as usize;
    let batch = &mut buffer[..len];
    handle.read_exact_at(batch, offset).map_err(|error| {
        if error.kind() == io::ErrorKind::UnexpectedEof {
            DigestError::Changed {
                path: path.to_path_buf(),
            }
        } else {
            io_error(path)(error)
        }
    })?;
    let mut leaves = Vec::with_capacity(BATCH_CHUNKS);
    hash_chunks_of(batch, &mut leaves);
    if let Some(report) = progress {
        report(len as u64);
    }
    Ok(leaves)
}

// ---------------------------------------------------------------------------------------------
// Streaming: hashing a model while it is received
// ---------------------------------------------------------------------------------------------

/// Computes a model's manifest from a stream: file headers `(path, size)`, each followed by
/// exactly `size` bytes pushed in pieces of any size.
///
/// Meant for a server receiving a model over HTTP: it hashes while it receives and keeps only
/// leaf hashes (32 bytes per MiB) and one partial chunk in memory. Files may come in any order;
/// [`StreamingDigest::finish`] sorts them. Paths are checked like manifest paths, so a client
/// cannot smuggle `..`, absolute paths, newlines or duplicates in.
#[derive(Debug, Default)]
pub struct StreamingDigest {
    finished: Vec<FileEntry>,
    seen: HashSet<String>,
    current: Option<CurrentFile>,
}

/// The file whose bytes are being received.
#[derive(Debug)]
struct CurrentFile {
    path: String,
    size: u64,
    hasher: FileHasher,
}

impl StreamingDigest {
    /// A stream that has seen no file yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Starts the next file. The previous file must have received all its declared bytes.
    pub fn begin_file(&mut self, path: &str, size: u64) -> Result<(), DigestError> {
        self.end_current_file()?;
        check_relative_path(path)?;
        if !self.seen.insert(path.to_string()) {
            return Err(DigestError::DuplicatePath {
                path: path.to_string(),
            });
        }
        self.current = Some(CurrentFile {
            path: path.to_string(),
            size,
            hasher: FileHasher::new(),
        });
        Ok(())
    }

    /// Feeds the next bytes of the current file. Refuses bytes beyond its declared size (and
    /// then consumes none of them).
    pub fn update(&mut self, bytes: &[u8]) -> Result<(), DigestError> {
        let current = self.current.as_mut().ok_or(DigestError::NoFileBegun)?;
        if bytes.len() as u64 > current.size - current.hasher.len() {
            return Err(DigestError::TooManyBytes {
                path: current.path.clone(),
                size: current.size,
            });
        }
        current.hasher.update(bytes);
        Ok(())
    }

    /// Bytes still expected for the current file (0 when no file is open).
    pub fn remaining(&self) -> u64 {
        self.current
            .as_ref()
            .map_or(0, |current| current.size - current.hasher.len())
    }

    /// Ends the stream: checks that the last file is complete and builds the manifest.
    pub fn finish(mut self) -> Result<Manifest, DigestError> {
        self.end_current_file()?;
        Manifest::new(self.finished)
    }

    /// Closes the current file, if any, after checking it received all its bytes.
    fn end_current_file(&mut self) -> Result<(), DigestError> {
        let Some(current) = self.current.take() else {
            return Ok(());
        };
        if current.hasher.len() != current.size {
            return Err(DigestError::Incomplete {
                path: current.path,
                size: current.size,
                received: current.hasher.len(),
            });
        }
        let (root, _) = current.hasher.finish();
        self.finished.push(FileEntry {
            path: current.path,
            size: current.size,
            root,
        });
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------

/// Why a model could not be digested, a manifest not parsed or a digest not read.
#[derive(Debug, thiserror::Error)]
pub enum DigestError {
    /// Reading the filesystem failed.
    #[error("cannot read {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// A symlink inside the model (or the model path itself).
    #[error(
        "{} is a symlink: Embargo refuses symlinks because the digest must bind the bytes that \
         are actually published, and a link's target lives outside the model and can change; \
         copy the target in place (e.g. `cp -L`) or remove the link, or pass the target's path",
        path.display()
    )]
    Symlink { path: PathBuf },
    /// A FIFO, socket, device, or a directory where a file was required.
    #[error(
        "{} is {kind}, not a regular file: a model may contain only regular files and \
         directories; remove it",
        path.display()
    )]
    SpecialFile { path: PathBuf, kind: &'static str },
    /// A file or directory name that is not UTF-8.
    #[error(
        "{path:?} has a name that is not valid UTF-8: manifest paths must be UTF-8; rename it"
    )]
    NonUtf8Name { path: PathBuf },
    /// A file or directory name containing a newline.
    #[error(
        "{path:?} has a newline in its name, which would break the one-line-per-file manifest; \
         rename it"
    )]
    NewlineInName { path: PathBuf },
    /// A file changed (was swapped, resized or written) while it was being hashed.
    #[error(
        "{} changed while it was being hashed; wait until nothing writes to the model, then \
         run again",
        path.display()
    )]
    Changed { path: PathBuf },
    /// A model directory without any regular file.
    #[error(
        "{} contains no files (empty directories do not count): nothing to commit to",
        path.display()
    )]
    NoFiles { path: PathBuf },
    /// A model path such as `..` that has no file name to put in the manifest.
    #[error("{} has no file name to use in the manifest; pass the file's own path", path.display())]
    NoFileName { path: PathBuf },
    /// A manifest path that breaks the rules (from a manifest or a stream).
    #[error("invalid model file path {path:?}: {reason}")]
    InvalidPath { path: String, reason: &'static str },
    /// The same path twice.
    #[error("the path {path:?} appears twice in the model")]
    DuplicatePath { path: String },
    /// A path used both as a file and as a directory.
    #[error("{file:?} is a file, yet {inside:?} uses it as a directory")]
    FileUsedAsDirectory { file: String, inside: String },
    /// An empty file whose root is not `SHA3-256("")`.
    #[error("{path:?} is empty, so its root must be SHA3-256(\"\")")]
    EmptyFileRoot { path: String },
    /// File sizes adding up beyond `u64`.
    #[error("the file sizes add up to more than 2^64 - 1 bytes")]
    TotalSizeOverflow,
    /// A manifest without any file.
    #[error("the manifest lists no files; a model has at least one file")]
    EmptyManifest,
    /// A malformed manifest line.
    #[error("manifest line {line}: {reason}")]
    ManifestLine { line: usize, reason: String },
    /// Streaming: bytes before any `begin_file`.
    #[error("model bytes arrived before any file header")]
    NoFileBegun,
    /// Streaming: more bytes than the file's declared size.
    #[error("{path:?} was declared as {size} bytes, but more bytes arrived")]
    TooManyBytes { path: String, size: u64 },
    /// Streaming: a file ended before its declared size.
    #[error("{path:?} was declared as {size} bytes, but only {received} arrived")]
    Incomplete {
        path: String,
        size: u64,
        received: u64,
    },
    /// A chunk index beyond the file's chunks.
    #[error("chunk {index} does not exist: the file has {leaf_count} chunks")]
    ChunkIndex { index: u64, leaf_count: u64 },
    /// Text that is not a model digest.
    #[error("{input:?} is not a model digest: expected 64 hex digits, optionally prefixed with `sha3-256:`")]
    InvalidDigest { input: String },
}

/// Wraps an I/O error with the path it concerns.
fn io_error(path: &Path) -> impl FnOnce(io::Error) -> DigestError + '_ {
    move |source| DigestError::Io {
        path: path.to_path_buf(),
        source,
    }
}

// ---------------------------------------------------------------------------------------------
// Hex
// ---------------------------------------------------------------------------------------------

/// Lowercase hex.
fn to_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut text = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        text.push(DIGITS[usize::from(byte >> 4)] as char);
        text.push(DIGITS[usize::from(byte & 0x0f)] as char);
    }
    text
}

/// 64 hex digits into 32 bytes; uppercase digits only if `allow_upper`.
fn parse_hex32(text: &str, allow_upper: bool) -> Option<Hash> {
    let digits = text.as_bytes();
    if digits.len() != 64 {
        return None;
    }
    let mut bytes = [0u8; 32];
    for (byte, pair) in bytes.iter_mut().zip(digits.chunks_exact(2)) {
        *byte = hex_value(pair[0], allow_upper)? << 4 | hex_value(pair[1], allow_upper)?;
    }
    Some(bytes)
}

/// The value of one hex digit.
fn hex_value(digit: u8, allow_upper: bool) -> Option<u8> {
    match digit {
        b'0'..=b'9' => Some(digit - b'0'),
        b'a'..=b'f' => Some(digit - b'a' + 10),
        b'A'..=b'F' if allow_upper => Some(digit - b'A' + 10),
        _ => None,
    }
}

// ---------------------------------------------------------------------------------------------
// 4-way SIMD Keccak for leaf hashes
// ---------------------------------------------------------------------------------------------

/// Four SHA3-256 leaf hashes at once, one Keccak state per 64-bit lane of an AVX-512VL 256-bit
/// register ("multi-buffer" hashing). Chunks are independent, so this is where the chunk tree
/// pays off: on one core it runs about four times as fast as the sha3 crate and OpenSSL, which
/// both hash one message at a time.
///
/// It computes exactly SHA3-256 (FIPS 202): the tests compare it with the sha3 crate for many
/// lengths and contents. Only AVX-512F + AVX-512VL CPUs take this path, checked at run time;
/// others use the sha3 crate.
#[cfg(target_arch = "x86_64")]
mod keccak_x4 {
    use super::Hash;
    use std::arch::x86_64::{
        __m256i, _mm256_extract_epi64, _mm256_rol_epi64, _mm256_rolv_epi64, _mm256_set1_epi64x,
        _mm256_set_epi64x, _mm256_setzero_si256, _mm256_ternarylogic_epi64, _mm256_xor_si256,
    };

    /// SHA3-256's rate: 136 bytes (17 lanes) absorbed per permutation.
    const RATE: usize = 136;

    /// Keccak-f[1600] round constants (iota).
    const ROUND_CONSTANTS: [u64; 24] = [
        0x0000000000000001,
        0x0000000000008082,
        0x800000000000808a,
        0x8000000080008000,
        0x000000000000808b,
        0x0000000080000001,
        0x8000000080008081,
        0x8000000000008009,
        0x000000000000008a,
        0x0000000000000088,
        0x0000000080008009,
        0x000000008000000a,
        0x000000008000808b,
        0x800000000000008b,
        0x8000000000008089,
        0x8000000000008003,
        0x8000000000008002,
        0x8000000000000080,
        0x000000000000800a,
        0x800000008000000a,
        0x8000000080008081,
        0x8000000000008080,
        0x0000000080000001,
        0x8000000080008008,
    ];

    /// Rotation offsets of rho, for lane `x + 5 * y`.
    const ROTATIONS: [i64; 25] = [
        0, 1, 62, 28, 27, 36, 44, 6, 55, 20, 3, 10, 43, 25, 39, 41, 45, 15, 21, 8, 18, 2, 61, 56,
        14,
    ];

    /// `a ^ b ^ c` as a `vpternlogq` truth table.
    const XOR3: i32 = 0x96;
    /// `a ^ (!b & c)` (chi) as a `vpternlogq` truth table.
    const CHI: i32 = 0xd2;

    /// Four Keccak-f[1600] states: lane `i` of the state is `state[i]`, one instance per 64-bit
    /// element.
    type States = [__m256i; 25];

    /// The leaf hashes `SHA3-256(0x00 || chunk)` of four chunks of equal length, or `None` when
    /// this path does not apply (other CPU, unequal or short chunks, not four chunks).
    pub fn leaf_hashes(chunks: &[&[u8]]) -> Option<[Hash; 4]> {
        let &[a, b, c, d] = chunks else {
            return None;
        };
        let equal = [b, c, d].iter().all(|chunk| chunk.len() == a.len());
        if !equal || a.len() < RATE - 1 || !available() {
            return None;
        }
        // SAFETY: `available()` checked that the CPU (and OS) support AVX-512F and AVX-512VL,
        // the only requirement of this function.
        Some(unsafe { leaf_hashes_avx512([a, b, c, d]) })
    }

    /// Whether this CPU can run the 4-way path (cached by the standard library).
    pub fn available() -> bool {
        std::arch::is_x86_feature_detected!("avx512f")
            && std::arch::is_x86_feature_detected!("avx512vl")
    }

    /// Padded blocks of `prefix || message`: SHA3's padding takes at least one byte.
    fn block_count(len: usize) -> usize {
        (len + 1) / RATE + 1
    }

    /// `SHA3-256(prefix || message)` for four messages that take the same number of blocks.
    pub fn prefixed_hashes(prefix: u8, messages: [&[u8]; 4]) -> Option<[Hash; 4]> {
        let blocks = block_count(messages[0].len());
        if messages.iter().any(|m| block_count(m.len()) != blocks) || !available() {
            return None;
        }
        // SAFETY: `available()` checked that the CPU (and OS) support AVX-512F and AVX-512VL,
        // the only requirement of this function.
        Some(unsafe { prefixed_hashes_avx512(prefix, messages, blocks) })
    }

    /// Block `j` of `prefix || message || padding` (the message is `total - 1` bytes).
    fn fill_block(prefix: u8, message: &[u8], j: usize, last: bool, block: &mut [u8; RATE]) {
        *block = [0u8; RATE];
        let total = message.len() + 1;
        let start = j * RATE;
        let from = start.max(1);
        let to = (start + RATE).min(total);
        if from < to {
            block[from - start..to - start].copy_from_slice(&message[from - 1..to - 1]);
        }
        if j == 0 {
            block[0] = prefix;
        }
        if last {
            block[total - start] ^= 0x06;
            block[RATE - 1] ^= 0x80;
        }
    }

    #[target_feature(enable = "avx2,avx512f,avx512vl")]
    fn prefixed_hashes_avx512(prefix: u8, messages: [&[u8]; 4], blocks: usize) -> [Hash; 4] {
        let mut states = [_mm256_setzero_si256(); 25];
        let mut buffers = [[0u8; RATE]; 4];
        for j in 0..blocks {
            let last = j + 1 == blocks;
            for (buffer, message) in buffers.iter_mut().zip(messages) {
                fill_block(prefix, message, j, last, buffer);
            }
            absorb(
                &mut states,
                [&buffers[0], &buffers[1], &buffers[2], &buffers[3]],
            );
        }
        squeeze(&states)
    }

    /// Absorbs `0x00 || chunk` for four chunks of the same length (at least 135 bytes), pads
    /// (SHA3 domain bits `01`, then pad10*1) and squeezes 32 bytes per instance.
    #[target_feature(enable = "avx2,avx512f,avx512vl")]
    fn leaf_hashes_avx512(chunks: [&[u8]; 4]) -> [Hash; 4] {
        let mut states = [_mm256_setzero_si256(); 25];
        // First block: the 0x00 leaf prefix, then 135 bytes of the chunk.
        let first = chunks.map(|chunk| {
            let mut block = [0u8; RATE];
            block[1..].copy_from_slice(&chunk[..RATE - 1]);
            block
        });
        absorb(&mut states, [&first[0], &first[1], &first[2], &first[3]]);
        // Middle blocks, straight from the chunks.
        let rest = chunks.map(|chunk| chunk[RATE - 1..].as_chunks::<RATE>());
        for i in 0..rest[0].0.len() {
            absorb(&mut states, rest.map(|(blocks, _)| &blocks[i]));
        }
        // Last block: the tail of the chunk, then the padding.
        let last = rest.map(|(_, tail)| {
            let mut block = [0u8; RATE];
            block[..tail.len()].copy_from_slice(tail);
            block[tail.len()] ^= 0x06;
            block[RATE - 1] ^= 0x80;
            block
        });
        absorb(&mut states, [&last[0], &last[1], &last[2], &last[3]]);
        squeeze(&states)
    }

    /// XORs one 136-byte block per instance into the states and permutes.
    #[target_feature(enable = "avx2,avx512f,avx512vl")]
    fn absorb(states: &mut States, blocks: [&[u8; RATE]; 4]) {
        let lanes = blocks.map(|block| block.as_chunks::<8>().0);
        for (i, state) in states.iter_mut().take(RATE / 8).enumerate() {
            let lane = |instance: usize| u64::from_le_bytes(lanes[instance][i]) as i64;
            let block_lanes = _mm256_set_epi64x(lane(3), lane(2), lane(1), lane(0));
            *state = _mm256_xor_si256(*state, block_lanes);
        }
        keccak_f1600(states);
    }

    /// The first 32 bytes (lanes 0 to 3, little-endian) of each instance.
    #[target_feature(enable = "avx2,avx512f,avx512vl")]
    fn squeeze(states: &States) -> [Hash; 4] {
        let mut hashes = [[0u8; 32]; 4];
        for (i, state) in states.iter().take(4).enumerate() {
            let words = [
                _mm256_extract_epi64::<0>(*state),
                _mm256_extract_epi64::<1>(*state),
                _mm256_extract_epi64::<2>(*state),
                _mm256_extract_epi64::<3>(*state),
            ];
            for (hash, word) in hashes.iter_mut().zip(words) {
                hash[8 * i..8 * i + 8].copy_from_slice(&word.to_le_bytes());
            }
        }
        hashes
    }

    /// Keccak-f[1600] on four states at once (FIPS 202, section 3).
    #[target_feature(enable = "avx2,avx512f,avx512vl")]
    fn keccak_f1600(a: &mut States) {
        for round_constant in ROUND_CONSTANTS {
            // theta: column parities c, then d[x] = c[x - 1] ^ rot(c[x + 1], 1).
            let c: [__m256i; 5] = std::array::from_fn(|x| {
                let three = _mm256_ternarylogic_epi64::<XOR3>(a[x], a[x + 5], a[x + 10]);
                _mm256_ternarylogic_epi64::<XOR3>(three, a[x + 15], a[x + 20])
            });
            let d: [__m256i; 5] = std::array::from_fn(|x| {
                _mm256_xor_si256(c[(x + 4) % 5], _mm256_rol_epi64::<1>(c[(x + 1) % 5]))
            });
            // theta applied, then rho (rotate) and pi (move lane (x, y) to (y, 2x + 3y)).
            let mut b = [_mm256_setzero_si256(); 25];
            for x in 0..5 {
                for y in 0..5 {
                    let lane = _mm256_xor_si256(a[x + 5 * y], d[x]);
                    let rotation = _mm256_set1_epi64x(ROTATIONS[x + 5 * y]);
                    b[y + 5 * ((2 * x + 3 * y) % 5)] = _mm256_rolv_epi64(lane, rotation);
                }
            }
            // chi: a[x, y] = b[x, y] ^ (!b[x + 1, y] & b[x + 2, y]).
            for y in 0..5 {
                for x in 0..5 {
                    let (b0, b1, b2) =
                        (b[x + 5 * y], b[(x + 1) % 5 + 5 * y], b[(x + 2) % 5 + 5 * y]);
                    a[x + 5 * y] = _mm256_ternarylogic_epi64::<CHI>(b0, b1, b2);
                }
            }
            // iota.
            a[0] = _mm256_xor_si256(a[0], _mm256_set1_epi64x(round_constant as i64));
        }
    }
}

/// Other architectures: no 4-way path, the sha3 crate hashes every chunk.
#[cfg(not(target_arch = "x86_64"))]
mod keccak_x4 {
    use super::Hash;

    pub fn leaf_hashes(_chunks: &[&[u8]]) -> Option<[Hash; 4]> {
        None
    }

    pub fn prefixed_hashes(_prefix: u8, _messages: [&[u8]; 4]) -> Option<[Hash; 4]> {
        None
    }

    pub fn available() -> bool {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::ffi::OsStrExt;

    // -- helpers ------------------------------------------------------------------------------

    /// The pattern generator of the test vectors: byte `i` = `(i * 31 + 7 + seed) mod 251`.
    fn pattern(seed: u64, size: u64) -> Vec<u8> {
        (0..size)
            .map(|i| ((i * 31 + 7 + seed) % 251) as u8)
            .collect()
    }

    fn leaves_of(data: &[u8]) -> Vec<Hash> {
        data.chunks(CHUNK_SIZE).map(leaf_hash).collect()
    }

    /// Distinct made-up leaf hashes.
    fn fake_leaves(n: usize) -> Vec<Hash> {
        (0..n)
            .map(|i| leaf_hash(&(i as u64).to_be_bytes()))
            .collect()
    }

    /// RFC 6962 section 2.1 MTH over leaf hashes, written the way the RFC states it.
    fn rfc_root(leaves: &[Hash]) -> Hash {
        match leaves.len() {
            0 => empty_root(),
            1 => leaves[0],
            n => {
                let k = split_point(n);
                node_hash(&rfc_root(&leaves[..k]), &rfc_root(&leaves[k..]))
            }
        }
    }

    /// RFC 6962 section 2.1.1 PATH(m, D[n]).
    fn rfc_path(m: usize, leaves: &[Hash]) -> Vec<Hash> {
        let n = leaves.len();
        if n <= 1 {
            return Vec::new();
        }
        let k = split_point(n);
        let (mut path, sibling) = if m < k {
            (rfc_path(m, &leaves[..k]), rfc_root(&leaves[k..]))
        } else {
            (rfc_path(m - k, &leaves[k..]), rfc_root(&leaves[..k]))
        };
        path.push(sibling);
        path
    }

    /// The largest power of two smaller than `n` (n > 1).
    fn split_point(n: usize) -> usize {
        let mut k = 1;
        while k * 2 < n {
            k *= 2;
        }
        k
    }

    fn write(dir: &Path, relative: &str, bytes: &[u8]) {
        let path = dir.join(relative);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, bytes).unwrap();
    }

    fn sample_model() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let model = dir.path();
        write(model, "config.json", b"{\"layers\": 2}\n");
        write(model, "weights/a.bin", &pattern(1, 3 * CHUNK_BYTES + 17));
        write(model, "weights/b.bin", &pattern(2, CHUNK_BYTES));
        write(model, "weights/empty", b"");
        write(model, ".hidden", b"x");
        dir
    }

    // -- hashes and tree shape ----------------------------------------------------------------

    #[test]
    fn empty_root_is_sha3_of_nothing() {
        assert_eq!(
            to_hex(&empty_root()),
            "a7ffc6f8bf1ed76651c14756a061d662f580ff4de43b49fa82d80a4b80f8434a"
        );
        assert_eq!(chunk_root(&[]), empty_root());
    }

    #[test]
    fn leaf_and_node_hashes_are_prefixed() {
        assert_eq!(
            leaf_hash(b"abc"),
            <Hash>::from(Sha3_256::digest(b"\x00abc"))
        );
        let (l, r) = ([1u8; 32], [2u8; 32]);
        let mut joined = vec![0x01];
        joined.extend_from_slice(&l);
        joined.extend_from_slice(&r);
        assert_eq!(node_hash(&l, &r), <Hash>::from(Sha3_256::digest(&joined)));
        assert_eq!(
            <Sha3Prefixed as rs_merkle::Hasher>::hash(b"abc"),
            leaf_hash(b"abc")
        );
    }

    #[test]
    fn rs_merkle_tree_shape_is_rfc6962() {
        for n in 1..=70 {
            let leaves = fake_leaves(n);
            assert_eq!(chunk_root(&leaves), rfc_root(&leaves), "{n} leaves");
        }
        let one = fake_leaves(1);
        assert_eq!(chunk_root(&one), one[0]);
    }

    #[test]
    fn proofs_are_rfc6962_audit_paths_and_verify() {
        for n in 1..=40 {
            let leaves = fake_leaves(n);
            let root = rfc_root(&leaves);
            for m in 0..n {
                let proof = chunk_proof(&leaves, m as u64).unwrap();
                assert_eq!(proof, rfc_path(m, &leaves), "leaf {m} of {n}");
                let computed = root_from_audit_path(m as u64, n as u64, leaves[m], &proof);
                assert_eq!(computed, Some(root), "leaf {m} of {n}");
            }
        }
    }

    #[test]
    fn verify_chunk_accepts_real_chunks_and_nothing_else() {
        let data = pattern(9, 5 * CHUNK_BYTES + 1000);
        let leaves = leaves_of(&data);
        let root = chunk_root(&leaves);
        let count = leaves.len() as u64;
        let chunks: Vec<&[u8]> = data.chunks(CHUNK_SIZE).collect();
        for (index, chunk) in chunks.iter().enumerate() {
            let i = index as u64;
            let proof = chunk_proof(&leaves, i).unwrap();
            assert!(verify_chunk(&root, i, count, chunk, &proof));
            // Wrong bytes, wrong index, wrong size, wrong or reshaped proof: all refused.
            let mut flipped = chunk.to_vec();
            flipped[0] ^= 1;
            assert!(!verify_chunk(&root, i, count, &flipped, &proof));
            assert!(!verify_chunk(&root, (i + 1) % count, count, chunk, &proof));
            assert!(!verify_chunk(
                &root,
                i,
                count,
                &chunk[..chunk.len() - 1],
                &proof
            ));
            let mut longer = proof.clone();
            longer.push([0u8; 32]);
            assert!(!verify_chunk(&root, i, count, chunk, &longer));
            assert!(!verify_chunk(&root, i, count, chunk, &proof[1..]));
            let mut bad = proof.clone();
            bad[0][5] ^= 0x80;
            assert!(!verify_chunk(&root, i, count, chunk, &bad));
        }
        assert!(!verify_chunk(&root, count, count, chunks[0], &[]));
        assert!(!verify_chunk(&empty_root(), 0, 0, b"", &[]));
        assert!(chunk_proof(&leaves, count).is_err());
    }

    #[test]
    fn verify_chunk_never_panics_on_odd_input() {
        let proof = vec![[7u8; 32]; 70];
        for count in [1u64, 2, 3, 5, 1 << 20, u64::MAX] {
            for index in [0, 1, count / 2, count.saturating_sub(1), count] {
                for len in 0..proof.len() {
                    verify_chunk(&[0; 32], index, count, b"x", &proof[..len]);
                }
            }
        }
    }

    #[test]
    fn four_way_prefixed_hashes_match_the_sha3_crate() {
        let data: Vec<Vec<u8>> = (0..4).map(|seed| pattern(seed * 31, 700)).collect();
        let mut checked = 0;
        for len in 0usize..600 {
            for skew in [0usize, 1, 7, 60] {
                let lens = [
                    len,
                    len.saturating_sub(skew),
                    len,
                    len.saturating_sub(skew / 2),
                ];
                let messages: [&[u8]; 4] = std::array::from_fn(|i| &data[i][..lens[i]]);
                for prefix in [0u8, 1] {
                    let expected: Vec<Hash> = messages
                        .iter()
                        .map(|m| {
                            let mut h = Sha3_256::new();
                            h.update([prefix]);
                            h.update(m);
                            h.finalize().into()
                        })
                        .collect();
                    if let Some(x4) = keccak_x4::prefixed_hashes(prefix, messages) {
                        assert_eq!(x4.to_vec(), expected, "lengths {lens:?}");
                        checked += 1;
                    }
                }
            }
        }
        if keccak_x4::available() {
            assert!(checked > 1000);
        }
    }

    #[test]
    fn four_way_keccak_matches_the_sha3_crate() {
        if !keccak_x4::available() {
            eprintln!("no AVX-512F/VL on this CPU: the 4-way path is not exercised here");
        }
        let data: Vec<Vec<u8>> = (0..4).map(|seed| pattern(seed * 17, CHUNK_BYTES)).collect();
        // Short inputs, every tail length 0..=135 of the last block, and a full chunk. (In
        // debug builds the 4-way code runs unoptimized: keep this small.)
        let lengths = (0..=135 + 2 * 136).chain([CHUNK_SIZE]);
        for len in lengths {
            let chunks: Vec<&[u8]> = data.iter().map(|d| &d[..len]).collect();
            let expected: Vec<Hash> = chunks.iter().map(|c| leaf_hash(c)).collect();
            if let Some(hashes) = keccak_x4::leaf_hashes(&chunks) {
                assert!(len >= 135);
                assert_eq!(hashes.to_vec(), expected, "length {len}");
            }
            let mut leaves = Vec::new();
            leaf_hashes_into(&chunks, &mut leaves);
            assert_eq!(leaves, expected, "length {len}");
        }
        // Unequal lengths, and groups that are not four chunks, take the sha3 crate.
        let mixed: Vec<&[u8]> = vec![
            &data[0],
            &data[1][..1000],
            &data[2],
            &data[3],
            &data[0][..9],
        ];
        assert!(keccak_x4::leaf_hashes(&mixed[..4]).is_none());
        let mut leaves = Vec::new();
        leaf_hashes_into(&mixed, &mut leaves);
        assert_eq!(
            leaves,
            mixed.iter().map(|c| leaf_hash(c)).collect::<Vec<_>>()
        );
    }

    // -- incremental hashing ------------------------------------------------------------------

    #[test]
    fn file_hasher_matches_whole_chunks_for_any_piece_size() {
        let data = pattern(3, 9 * CHUNK_BYTES + 4321);
        let expected = leaves_of(&data);
        for piece in [
            1usize,
            4096,
            7919,
            CHUNK_SIZE - 1,
            CHUNK_SIZE,
            3 * CHUNK_SIZE + 5,
        ] {
            let mut hasher = FileHasher::new();
            // 1-byte pieces are slow; feed only a prefix that way.
            let limit = if piece == 1 {
                CHUNK_SIZE + 3
            } else {
                data.len()
            };
            data[..limit].chunks(piece).for_each(|p| hasher.update(p));
            hasher.update(&data[limit..]);
            assert_eq!(hasher.len(), data.len() as u64);
            let (root, leaves) = hasher.finish();
            assert_eq!(leaves, expected, "pieces of {piece}");
            assert_eq!(root, rfc_root(&expected));
        }
        let (root, leaves) = FileHasher::new().finish();
        assert_eq!((root, leaves.len()), (empty_root(), 0));
    }

    #[test]
    fn streaming_matches_digest_path() {
        let model = sample_model();
        let expected = digest_path(model.path(), None).unwrap();
        for piece in [999usize, CHUNK_SIZE, 2 * CHUNK_SIZE + 1] {
            let mut stream = StreamingDigest::new();
            // Files in reverse order: finish() sorts.
            for entry in expected.files().iter().rev() {
                let bytes = fs::read(model.path().join(&entry.path)).unwrap();
                stream.begin_file(&entry.path, bytes.len() as u64).unwrap();
                for part in bytes.chunks(piece) {
                    stream.update(part).unwrap();
                }
                assert_eq!(stream.remaining(), 0);
            }
            assert_eq!(stream.finish().unwrap(), expected);
        }
    }

    #[test]
    fn streaming_refuses_bad_streams() {
        let mut stream = StreamingDigest::new();
        assert!(matches!(stream.update(b"x"), Err(DigestError::NoFileBegun)));
        stream.begin_file("a", 3).unwrap();
        assert!(matches!(
            stream.update(b"abcd"),
            Err(DigestError::TooManyBytes { .. })
        ));
        stream.update(b"ab").unwrap();
        assert_eq!(stream.remaining(), 1);
        assert!(matches!(
            stream.begin_file("b", 1),
            Err(DigestError::Incomplete { .. })
        ));

        let mut stream = StreamingDigest::new();
        stream.begin_file("a", 0).unwrap();
        assert!(matches!(
            stream.begin_file("a", 0),
            Err(DigestError::DuplicatePath { .. })
        ));
        for bad in ["../x", "/etc/passwd", "a//b", "a/", "./a", "", "new\nline"] {
            let result = StreamingDigest::new().begin_file(bad, 1);
            assert!(
                matches!(result, Err(DigestError::InvalidPath { .. })),
                "{bad:?}"
            );
        }

        let mut stream = StreamingDigest::new();
        stream.begin_file("a", 1).unwrap();
        assert!(matches!(
            stream.finish(),
            Err(DigestError::Incomplete { .. })
        ));
        assert!(matches!(
            StreamingDigest::new().finish(),
            Err(DigestError::EmptyManifest)
        ));

        let mut stream = StreamingDigest::new();
        stream.begin_file("a", 0).unwrap();
        stream.begin_file("a/b", 0).unwrap();
        let result = stream.finish();
        assert!(matches!(
            result,
            Err(DigestError::FileUsedAsDirectory { .. })
        ));
    }

    // -- files on disk ------------------------------------------------------------------------

    #[test]
    fn single_file_model_uses_its_file_name() {
        let dir = tempfile::tempdir().unwrap();
        let data = pattern(0, CHUNK_BYTES + 1);
        write(dir.path(), "model.onnx", &data);
        let manifest = digest_path(&dir.path().join("model.onnx"), None).unwrap();
        let root = rfc_root(&leaves_of(&data));
        let text = format!("{} {} model.onnx\n", to_hex(&root), data.len());
        assert_eq!(manifest.to_text(), text);
        assert_eq!(manifest.digest(), ModelDigest::of_manifest_text(&text));
        let leaves = file_leaves(&dir.path().join("model.onnx"), None).unwrap();
        assert_eq!(leaves, leaves_of(&data));
    }

    #[test]
    fn directory_model_lists_every_file_sorted_by_bytes() {
        let model = sample_model();
        let manifest = digest_path(model.path(), None).unwrap();
        let paths: Vec<&str> = manifest.files().iter().map(|f| f.path.as_str()).collect();
        let expected = [
            ".hidden",
            "config.json",
            "weights/a.bin",
            "weights/b.bin",
            "weights/empty",
        ];
        assert_eq!(paths, expected);
        assert_eq!(manifest.file_count(), 5);
        assert_eq!(
            manifest.total_size(),
            1 + 14 + 3 * CHUNK_BYTES + 17 + CHUNK_BYTES
        );
        assert_eq!(manifest.files()[4].root, empty_root());
    }

    #[test]
    fn progress_reports_every_byte() {
        let model = sample_model();
        let total = std::sync::atomic::AtomicU64::new(0);
        let count = |n: u64| {
            total.fetch_add(n, std::sync::atomic::Ordering::Relaxed);
        };
        let manifest = digest_path(model.path(), Some(&count)).unwrap();
        assert_eq!(total.into_inner(), manifest.total_size());
    }

    #[test]
    fn refuses_symlinks_inside_and_as_the_model() {
        let model = sample_model();
        let link = model.path().join("weights/link");
        std::os::unix::fs::symlink("a.bin", &link).unwrap();
        let error = digest_path(model.path(), None).unwrap_err();
        assert!(matches!(&error, DigestError::Symlink { path } if *path == link));
        assert!(
            error.to_string().contains("weights/link is a symlink"),
            "{error}"
        );
        fs::remove_file(&link).unwrap();

        let outside = tempfile::tempdir().unwrap();
        let dir_link = outside.path().join("model-link");
        std::os::unix::fs::symlink(model.path(), &dir_link).unwrap();
        let error = digest_path(&dir_link, None).unwrap_err();
        assert!(matches!(error, DigestError::Symlink { .. }));
        assert!(matches!(
            file_leaves(&dir_link, None),
            Err(DigestError::Symlink { .. })
        ));
    }

    #[test]
    fn refuses_special_files() {
        let model = sample_model();
        let socket = model.path().join("agent.sock");
        let _listener = std::os::unix::net::UnixListener::bind(&socket).unwrap();
        let error = digest_path(model.path(), None).unwrap_err();
        assert!(
            matches!(
                error,
                DigestError::SpecialFile {
                    kind: "a socket",
                    ..
                }
            ),
            "{error}"
        );
    }

    #[test]
    fn refuses_bad_names() {
        let model = sample_model();
        let bad = model
            .path()
            .join(std::ffi::OsStr::from_bytes(b"caf\xe9.bin"));
        fs::write(&bad, b"latin-1 name").unwrap();
        let error = digest_path(model.path(), None).unwrap_err();
        assert!(matches!(error, DigestError::NonUtf8Name { .. }), "{error}");
        assert!(error.to_string().contains("caf\\xE9.bin"), "{error}");
        fs::remove_file(&bad).unwrap();

        let newline = model.path().join("two\nlines");
        fs::write(&newline, b"").unwrap();
        let error = digest_path(model.path(), None).unwrap_err();
        assert!(
            matches!(error, DigestError::NewlineInName { .. }),
            "{error}"
        );
        fs::remove_file(&newline).unwrap();

        let single = digest_path(&model.path().join(".hidden"), None).unwrap();
        assert_eq!(single.files()[0].path, ".hidden");
    }

    #[test]
    fn notices_a_file_swapped_after_the_walk() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "w.bin", b"weights");
        let found = FoundFile {
            relative: "w.bin".into(),
            absolute: dir.path().join("w.bin"),
            identity: (0, 0),
        };
        assert!(matches!(
            hash_file(&found, None),
            Err(DigestError::Changed { .. })
        ));
    }

    #[test]
    fn refuses_models_without_files() {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir_all(dir.path().join("a/b")).unwrap();
        let error = digest_path(dir.path(), None).unwrap_err();
        assert!(matches!(error, DigestError::NoFiles { .. }));
        let missing = digest_path(&dir.path().join("nope"), None).unwrap_err();
        assert!(matches!(missing, DigestError::Io { .. }));
    }

    // -- manifest text and digests ------------------------------------------------------------

    #[test]
    fn manifest_round_trips_through_text() {
        let manifest = digest_path(sample_model().path(), None).unwrap();
        let parsed = Manifest::parse(&manifest.to_text()).unwrap();
        assert_eq!(parsed, manifest);
        assert_eq!(parsed.digest(), manifest.digest());
    }

    #[test]
    fn manifest_parser_refuses_non_canonical_text() {
        let root = to_hex(&leaf_hash(b"x"));
        let empty = to_hex(&empty_root());
        let cases = [
            format!("{root} 1 b\n{root} 1 a\n"), // unsorted
            format!("{root} 1 a\n{root} 1 a\n"), // duplicate
            format!("{root} 1 a"),               // no final newline
            format!("{} 1 a\n", root.to_uppercase()),
            format!("{root} 01 a\n"),
            format!("{root} +1 a\n"),
            format!("{root} 18446744073709551616 a\n"),
            format!("{root}  1 a\n"),
            format!("{root} 1\n"),
            format!("{root} 1 \n"),
            format!("{root} 1 ../a\n"),
            format!("{root} 1 /a\n"),
            format!("{root} 1 a//b\n"),
            format!("{root} 1 a\n{root} 1 a/b\n"),
            format!("{root} 0 a\n"), // empty file with a non-empty root
            format!("{empty}\n"),
            String::new(),
            "\n".to_string(),
        ];
        for text in &cases {
            assert!(Manifest::parse(text).is_err(), "accepted {text:?}");
        }
        let spaced = Manifest::parse(&format!("{root} 1 a b c.txt\n{empty} 0 z\n")).unwrap();
        assert_eq!(spaced.files()[0].path, "a b c.txt");
        assert_eq!(spaced.total_size(), 1);
    }

    #[test]
    fn manifest_new_sorts_by_bytes() {
        let entry = |path: &str| FileEntry {
            path: path.to_string(),
            size: 1,
            root: leaf_hash(b"x"),
        };
        let manifest = Manifest::new(vec![entry("é"), entry("a"), entry("B")]).unwrap();
        let paths: Vec<&str> = manifest.files().iter().map(|f| f.path.as_str()).collect();
        assert_eq!(paths, ["B", "a", "é"]);
        let overflow = vec![
            FileEntry {
                size: u64::MAX,
                ..entry("a")
            },
            FileEntry {
                size: 1,
                ..entry("b")
            },
        ];
        assert!(matches!(
            Manifest::new(overflow),
            Err(DigestError::TotalSizeOverflow)
        ));
    }

    #[test]
    fn model_digest_text_forms() {
        let digest = ModelDigest::from_bytes(leaf_hash(b"m"));
        let hex = digest.to_string();
        assert_eq!(hex.len(), 64);
        assert_eq!(digest.prefixed(), format!("sha3-256:{hex}"));
        assert_eq!(hex.parse::<ModelDigest>().unwrap(), digest);
        assert_eq!(digest.prefixed().parse::<ModelDigest>().unwrap(), digest);
        assert_eq!(hex.to_uppercase().parse::<ModelDigest>().unwrap(), digest);
        for bad in [
            "",
            "sha3-256:",
            &hex[1..],
            &format!("{hex}0"),
            "sha256:00",
            &hex.replace('a', "g"),
        ] {
            assert!(bad.parse::<ModelDigest>().is_err(), "accepted {bad:?}");
        }
        let json = serde_json::to_string(&digest).unwrap();
        assert_eq!(json, format!("\"{hex}\""));
        assert_eq!(serde_json::from_str::<ModelDigest>(&json).unwrap(), digest);
        let prefixed = format!("\"{}\"", digest.prefixed());
        assert_eq!(
            serde_json::from_str::<ModelDigest>(&prefixed).unwrap(),
            digest
        );
        assert!(serde_json::from_str::<ModelDigest>("\"nope\"").is_err());
    }

    // -- pinned test vectors (schema/model-digest-vectors.json) ------------------------------

    #[derive(serde::Deserialize)]
    struct VectorFile {
        chunk_size: usize,
        vectors: Vec<Vector>,
    }

    #[derive(serde::Deserialize)]
    struct Vector {
        name: String,
        model: String,
        files: Vec<VectorEntry>,
        #[serde(default)]
        empty_dirs: Vec<String>,
        manifest: String,
        digest: String,
        digest_prefixed: String,
    }

    #[derive(serde::Deserialize)]
    struct VectorEntry {
        path: String,
        size: u64,
        generator: serde_json::Value,
        root: String,
        #[serde(default)]
        leaves: Vec<String>,
        #[serde(default)]
        proofs: Vec<VectorProof>,
    }

    #[derive(serde::Deserialize)]
    struct VectorProof {
        index: u64,
        path: Vec<String>,
    }

    fn generate(generator: &serde_json::Value, size: u64) -> Vec<u8> {
        let field = |name: &str| generator[name].as_str().unwrap().to_string();
        match generator["kind"].as_str().unwrap() {
            "pattern" => pattern(generator["seed"].as_u64().unwrap(), size),
            "text" => field("text").into_bytes(),
            "hex" => {
                let hex = field("hex");
                let digits: Vec<u8> = hex.bytes().map(|d| hex_value(d, false).unwrap()).collect();
                digits
                    .chunks(2)
                    .map(|pair| pair[0] << 4 | pair[1])
                    .collect()
            }
            kind => panic!("unknown generator {kind}"),
        }
    }

    fn hashes(hex: &[String]) -> Vec<Hash> {
        hex.iter().map(|h| parse_hex32(h, false).unwrap()).collect()
    }

    #[test]
    fn pinned_vectors() {
        let pinned: VectorFile =
            serde_json::from_str(include_str!("../../schema/model-digest-vectors.json")).unwrap();
        assert_eq!(pinned.chunk_size, CHUNK_SIZE);
        for vector in &pinned.vectors {
            let dir = tempfile::tempdir().unwrap();
            for empty in &vector.empty_dirs {
                fs::create_dir_all(dir.path().join(empty)).unwrap();
            }
            for entry in &vector.files {
                let bytes = generate(&entry.generator, entry.size);
                assert_eq!(
                    bytes.len() as u64,
                    entry.size,
                    "{}: {}",
                    vector.name,
                    entry.path
                );
                write(dir.path(), &entry.path, &bytes);
                check_pinned_file(&vector.name, entry, &bytes);
            }
            let target = match vector.model.as_str() {
                "file" => dir.path().join(&vector.files[0].path),
                _ => dir.path().to_path_buf(),
            };
            let manifest = digest_path(&target, None).unwrap();
            assert_eq!(manifest.to_text(), vector.manifest, "{}", vector.name);
            assert_eq!(
                manifest.digest().to_string(),
                vector.digest,
                "{}",
                vector.name
            );
            assert_eq!(
                manifest.digest().prefixed(),
                vector.digest_prefixed,
                "{}",
                vector.name
            );
            assert_eq!(Manifest::parse(&vector.manifest).unwrap(), manifest);
            assert_eq!(
                vector.digest.parse::<ModelDigest>().unwrap(),
                manifest.digest()
            );
        }
    }

    /// Checks one file's pinned root, leaves and chunk proofs.
    fn check_pinned_file(vector: &str, entry: &VectorEntry, bytes: &[u8]) {
        let leaves = leaves_of(bytes);
        assert_eq!(
            to_hex(&chunk_root(&leaves)),
            entry.root,
            "{vector}: {}",
            entry.path
        );
        if !entry.leaves.is_empty() {
            assert_eq!(leaves, hashes(&entry.leaves), "{vector}: {}", entry.path);
        }
        let root = chunk_root(&leaves);
        let chunks: Vec<&[u8]> = bytes.chunks(CHUNK_SIZE).collect();
        for proof in &entry.proofs {
            let pinned = hashes(&proof.path);
            assert_eq!(
                chunk_proof(&leaves, proof.index).unwrap(),
                pinned,
                "{vector}"
            );
            let chunk = chunks[proof.index as usize];
            let count = leaves.len() as u64;
            assert!(
                verify_chunk(&root, proof.index, count, chunk, &pinned),
                "{vector}"
            );
        }
    }
}
