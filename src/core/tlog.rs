//! The Merkle tree of the log (RFC 6962 hashing, SHA-256) and its tiling (c2sp.org/tlog-tiles).
//!
//! Owns tile coordinates and URL paths, the in-memory right edge the sequencer appends to, proof
//! generation over any [`TileSource`], and proof verification. Pure: it never does I/O itself;
//! storage hands it tiles through [`TileSource`].
//!
//! Proof generation reuses the stored-hash arithmetic of Cloudflare's `tlog_tiles` crate (a port
//! of Go's `sumdb/tlog`); verification follows RFC 9162 §2.1.3.2 and §2.1.4.2 directly. Both are
//! pinned by the conformance tests against the shared transparency-dev vectors.

use std::collections::HashMap;
use std::fmt;

pub use tlog_tiles::{node_hash, record_hash, Hash, EMPTY_HASH};

/// Tiles are 2^8 = 256 hashes wide.
pub const TILE_HEIGHT: u8 = 8;
/// Hashes in a full tile (and entries in a full bundle).
pub const TILE_WIDTH: u64 = 1 << TILE_HEIGHT;
pub const HASH_SIZE: usize = 32;

/// Why a proof could not be made or did not verify.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ProofError {
    #[error("index {index} is not in a tree of size {size}")]
    IndexOutOfRange { index: u64, size: u64 },
    #[error("tree size {old} is larger than tree size {new}")]
    SizesOutOfOrder { old: u64, new: u64 },
    #[error("a consistency proof needs an old tree size of at least 1")]
    EmptyOldTree,
    #[error("the inclusion proof does not lead to the checkpoint's root hash")]
    InclusionMismatch,
    #[error("the consistency proof does not connect the two root hashes: the log may have rewritten history")]
    ConsistencyMismatch,
    #[error("the proof has the wrong number of hashes for these tree sizes")]
    WrongLength,
    #[error("tile data is missing or corrupt: {0}")]
    Tiles(String),
}

/// Which kind of tile: a level of Merkle hashes, or the entry bundles.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TileKind {
    Hashes { level: u8 },
    Entries,
}

/// A tile as it exists in a tree of some size: full (width 256) or partial.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TileId {
    pub kind: TileKind,
    pub index: u64,
    /// 1..=256; 256 means a full tile (no `.p/<W>` suffix).
    pub width: u16,
}

impl TileId {
    pub fn is_full(&self) -> bool {
        u64::from(self.width) == TILE_WIDTH
    }

    /// The level of Merkle hashes this tile holds; entry bundles correspond to level 0.
    pub fn level(&self) -> u8 {
        match self.kind {
            TileKind::Hashes { level } => level,
            TileKind::Entries => 0,
        }
    }

    /// The smallest tree size that contains this tile exactly as it is.
    pub fn min_tree_size(&self) -> u64 {
        let span = level_span(self.level());
        (self.index * TILE_WIDTH + u64::from(self.width)).saturating_mul(span)
    }

    /// The tile's URL path relative to the log prefix, e.g. `tile/1/x001/234.p/17`.
    pub fn path(&self) -> String {
        let mut p = match self.kind {
            TileKind::Hashes { level } => format!("tile/{level}/"),
            TileKind::Entries => "tile/entries/".to_owned(),
        };
        p.push_str(&encode_index(self.index));
        if !self.is_full() {
            p.push_str(&format!(".p/{}", self.width));
        }
        p
    }

    /// Parses a path as [`TileId::path`] writes it. Refuses anything not in canonical form.
    pub fn parse_path(path: &str) -> Option<TileId> {
        let rest = path.strip_prefix("tile/")?;
        let (kind, rest) = rest.split_once('/')?;
        let kind = if kind == "entries" {
            TileKind::Entries
        } else {
            let level = parse_canonical_decimal(kind)?;
            if level > 63 {
                return None;
            }
            TileKind::Hashes { level: level as u8 }
        };
        let (index_part, width) = match rest.split_once(".p/") {
            Some((idx, w)) => {
                let w = parse_canonical_decimal(w)?;
                if !(1..TILE_WIDTH).contains(&w) {
                    return None;
                }
                (idx, w as u16)
            }
            None => (rest, TILE_WIDTH as u16),
        };
        let index = decode_index(index_part)?;
        Some(TileId { kind, index, width })
    }
}

impl fmt::Display for TileId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.path())
    }
}

fn parse_canonical_decimal(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) || (s.len() > 1 && s.starts_with('0'))
    {
        return None;
    }
    s.parse().ok()
}

/// Encodes a tile index as zero-padded 3-digit path elements, all but the last prefixed `x`:
/// 1234067 becomes `x001/x234/067`.
pub fn encode_index(mut n: u64) -> String {
    let mut parts = vec![format!("{:03}", n % 1000)];
    while n >= 1000 {
        n /= 1000;
        parts.push(format!("x{:03}", n % 1000));
    }
    parts.reverse();
    parts.join("/")
}

fn decode_index(s: &str) -> Option<u64> {
    let elems: Vec<&str> = s.split('/').collect();
    let (last, init) = elems.split_last()?;
    let mut n: u64 = 0;
    for (i, e) in init.iter().enumerate() {
        let digits = e.strip_prefix('x')?;
        if digits.len() != 3 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        // No leading all-zero element: `x000/123` is not canonical.
        if i == 0 && digits == "000" {
            return None;
        }
        n = n.checked_mul(1000)?.checked_add(digits.parse().ok()?)?;
    }
    if last.len() != 3 || !last.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    n.checked_mul(1000)?.checked_add(last.parse().ok()?)
}

/// Leaves spanned by one hash at tile level `level`: 256^level.
fn level_span(level: u8) -> u64 {
    1u64.checked_shl(u32::from(TILE_HEIGHT) * u32::from(level))
        .unwrap_or(u64::MAX)
}

/// The width tile `index` at `level` has in a tree of `size` leaves, or `None` if it does not
/// exist yet. Full tiles have width 256.
pub fn tile_width_at(level: u8, index: u64, size: u64) -> Option<u16> {
    let hashes_at_level = if u32::from(level) * u32::from(TILE_HEIGHT) >= 64 {
        0
    } else {
        size >> (u32::from(TILE_HEIGHT) * u32::from(level))
    };
    let start = index.checked_mul(TILE_WIDTH)?;
    match hashes_at_level.checked_sub(start) {
        None | Some(0) => None,
        Some(n) if n >= TILE_WIDTH => Some(TILE_WIDTH as u16),
        Some(n) => Some(n as u16),
    }
}

/// Whether a tree of `size` leaves publishes tile `id`: full tiles once complete, partial
/// tiles of any width the tree has passed through (the file exists if a checkpoint was made
/// at that size).
pub fn tile_is_published(id: &TileId, size: u64) -> bool {
    let level = id.level();
    if u32::from(level) * u32::from(TILE_HEIGHT) >= 64 {
        return false;
    }
    let hashes_at_level = size >> (u32::from(TILE_HEIGHT) * u32::from(level));
    id.index
        .checked_mul(TILE_WIDTH)
        .and_then(|start| start.checked_add(u64::from(id.width)))
        .is_some_and(|end| end <= hashes_at_level)
}

/// A source of tile hashes for a tree of a given size (storage, or memory, or both).
pub trait TileSource {
    /// The hashes of tile `index` at `level` as they are in the source's tree (`width` hashes,
    /// 32 bytes each; `width` is what [`tile_width_at`] says for that tree's size).
    fn read_tile(&self, level: u8, index: u64, width: u16) -> Result<Vec<u8>, ProofError>;

    /// A stored hash (in `tlog_tiles`'s numbering) computed earlier, if the source keeps them.
    /// Proofs for one batch share most interior hashes, so a source may memoize them.
    fn cached_hash(&self, _stored_index: u64) -> Option<Hash> {
        None
    }

    /// Offers a computed stored hash for [`TileSource::cached_hash`].
    fn remember_hash(&self, _stored_index: u64, _hash: Hash) {}
}

/// Reads stored hashes (in `tlog_tiles`'s numbering) from the tiles of a tree of `size` leaves.
struct TreeReader<'a, S: TileSource + ?Sized> {
    size: u64,
    source: &'a S,
    cache: std::cell::RefCell<TileCache>,
}

/// Tiles one proof has read, by (level, index).
type TileCache = HashMap<(u8, u64), std::rc::Rc<Vec<u8>>>;

impl<'a, S: TileSource + ?Sized> TreeReader<'a, S> {
    fn new(size: u64, source: &'a S) -> Self {
        TreeReader {
            size,
            source,
            cache: Default::default(),
        }
    }

    fn tile(
        &self,
        level: u8,
        index: u64,
    ) -> Result<(u16, std::rc::Rc<Vec<u8>>), tlog_tiles::Error> {
        let width =
            tile_width_at(level, index, self.size).ok_or(tlog_tiles::Error::IndexesNotInTree)?;
        if let Some(t) = self.cache.borrow().get(&(level, index)) {
            return Ok((width, t.clone()));
        }
        let data = self
            .source
            .read_tile(level, index, width)
            .map_err(|e| tlog_tiles::Error::InvalidInput(e.to_string()))?;
        if data.len() != usize::from(width) * HASH_SIZE {
            return Err(tlog_tiles::Error::InvalidTile);
        }
        let data = std::rc::Rc::new(data);
        self.cache.borrow_mut().insert((level, index), data.clone());
        Ok((width, data))
    }
}

impl<S: TileSource + ?Sized> tlog_tiles::HashReader for TreeReader<'_, S> {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, tlog_tiles::Error> {
        indexes
            .iter()
            .map(|&idx| {
                if let Some(h) = self.source.cached_hash(idx) {
                    return Ok(h);
                }
                let needed = tlog_tiles::Tile::from_index(TILE_HEIGHT, idx);
                let (width, data) = self.tile(needed.level(), needed.level_index())?;
                let tile = tlog_tiles::Tile::new(
                    TILE_HEIGHT,
                    needed.level(),
                    needed.level_index(),
                    u32::from(width),
                    false,
                );
                let h = tile.hash_at_index(&data, idx)?;
                self.source.remember_hash(idx, h);
                Ok(h)
            })
            .collect()
    }
}

fn tiles_error(e: tlog_tiles::Error) -> ProofError {
    ProofError::Tiles(e.to_string())
}

/// The inclusion proof (RFC 6962 audit path) of leaf `index` in the tree of `size` leaves.
pub fn prove_inclusion<S: TileSource + ?Sized>(
    source: &S,
    source_size: u64,
    size: u64,
    index: u64,
) -> Result<Vec<Hash>, ProofError> {
    if index >= size || size > source_size {
        return Err(ProofError::IndexOutOfRange { index, size });
    }
    let reader = TreeReader::new(source_size, source);
    tlog_tiles::prove_record(size, index, &reader).map_err(tiles_error)
}

/// The consistency proof from the tree of `old` leaves to the tree of `new` leaves.
/// Empty when `old == new` or `old == 0` (every tree extends the empty tree).
pub fn prove_consistency<S: TileSource + ?Sized>(
    source: &S,
    source_size: u64,
    old: u64,
    new: u64,
) -> Result<Vec<Hash>, ProofError> {
    if old > new {
        return Err(ProofError::SizesOutOfOrder { old, new });
    }
    if new > source_size {
        return Err(ProofError::IndexOutOfRange {
            index: new,
            size: source_size,
        });
    }
    if old == 0 || old == new {
        return Ok(Vec::new());
    }
    let reader = TreeReader::new(source_size, source);
    tlog_tiles::prove_tree(new, old, &reader).map_err(tiles_error)
}

/// The root hash of the tree of `size` leaves, from the tiles of a tree at least that large.
pub fn tree_root<S: TileSource + ?Sized>(
    source: &S,
    source_size: u64,
    size: u64,
) -> Result<Hash, ProofError> {
    if size > source_size {
        return Err(ProofError::IndexOutOfRange {
            index: size,
            size: source_size,
        });
    }
    let reader = TreeReader::new(source_size, source);
    tlog_tiles::tree_hash(size, &reader).map_err(tiles_error)
}

/// Verifies an RFC 6962 inclusion proof (RFC 9162 §2.1.3.2).
pub fn verify_inclusion(
    proof: &[Hash],
    size: u64,
    root: Hash,
    index: u64,
    leaf: Hash,
) -> Result<(), ProofError> {
    if index >= size {
        return Err(ProofError::IndexOutOfRange { index, size });
    }
    let (mut f, mut s) = (index, size - 1);
    let mut r = leaf;
    for p in proof {
        if s == 0 {
            return Err(ProofError::WrongLength);
        }
        if f & 1 == 1 || f == s {
            r = node_hash(*p, r);
            while f & 1 == 0 && f != 0 {
                f >>= 1;
                s >>= 1;
            }
        } else {
            r = node_hash(r, *p);
        }
        f >>= 1;
        s >>= 1;
    }
    if s != 0 {
        return Err(ProofError::WrongLength);
    }
    if r != root {
        return Err(ProofError::InclusionMismatch);
    }
    Ok(())
}

/// Verifies an RFC 6962 consistency proof (RFC 9162 §2.1.4.2). An old size of 0 is refused,
/// as the shared vectors require; callers that accept any tree as extending the empty tree
/// (witnesses) check that case themselves.
pub fn verify_consistency(
    proof: &[Hash],
    old_size: u64,
    old_root: Hash,
    new_size: u64,
    new_root: Hash,
) -> Result<(), ProofError> {
    if old_size == 0 {
        return Err(ProofError::EmptyOldTree);
    }
    if old_size > new_size {
        return Err(ProofError::SizesOutOfOrder {
            old: old_size,
            new: new_size,
        });
    }
    if old_size == new_size {
        if !proof.is_empty() {
            return Err(ProofError::WrongLength);
        }
        return if old_root == new_root {
            Ok(())
        } else {
            Err(ProofError::ConsistencyMismatch)
        };
    }
    if proof.is_empty() {
        return Err(ProofError::WrongLength);
    }
    let mut path: Vec<Hash> = Vec::with_capacity(proof.len() + 1);
    if old_size.is_power_of_two() {
        path.push(old_root);
    }
    path.extend_from_slice(proof);
    let (mut f, mut s) = (old_size - 1, new_size - 1);
    while f & 1 == 1 {
        f >>= 1;
        s >>= 1;
    }
    let (mut fr, mut sr) = (path[0], path[0]);
    for c in &path[1..] {
        if s == 0 {
            return Err(ProofError::WrongLength);
        }
        if f & 1 == 1 || f == s {
            fr = node_hash(*c, fr);
            sr = node_hash(*c, sr);
            while f & 1 == 0 && f != 0 {
                f >>= 1;
                s >>= 1;
            }
        } else {
            sr = node_hash(sr, *c);
        }
        f >>= 1;
        s >>= 1;
    }
    if s != 0 {
        return Err(ProofError::WrongLength);
    }
    if fr != old_root || sr != new_root {
        return Err(ProofError::ConsistencyMismatch);
    }
    Ok(())
}

/// The hash of a perfect subtree whose leaves are `hashes` (a power-of-two count).
fn perfect_root(hashes: &[Hash]) -> Hash {
    match hashes.len() {
        0 => EMPTY_HASH,
        1 => hashes[0],
        n => node_hash(
            perfect_root(&hashes[..n / 2]),
            perfect_root(&hashes[n / 2..]),
        ),
    }
}

/// The right edge of the tree: for each tile level, the hashes of its rightmost, partial tile.
///
/// That is everything needed to append leaves and compute the root: at most 255 hashes per
/// level, so memory stays under 8 KiB per level however large the tree grows.
#[derive(Clone, Debug, Default)]
pub struct RightEdge {
    size: u64,
    /// `levels[l]` holds the partial tile at level `l` (fewer than 256 hashes).
    levels: Vec<Vec<Hash>>,
}

/// A tile the right edge completed or changed while appending.
#[derive(Clone, Debug)]
pub struct TileWrite {
    pub id: TileId,
    pub data: Vec<u8>,
}

impl RightEdge {
    /// The right edge of a tree of `size` leaves, read from its partial tiles.
    pub fn load<S: TileSource + ?Sized>(source: &S, size: u64) -> Result<Self, ProofError> {
        let mut levels = Vec::new();
        let mut level = 0u8;
        while level < 8 && (size >> (u32::from(TILE_HEIGHT) * u32::from(level))) > 0 {
            let hashes_at_level = size >> (u32::from(TILE_HEIGHT) * u32::from(level));
            let index = hashes_at_level / TILE_WIDTH;
            let width = (hashes_at_level % TILE_WIDTH) as u16;
            let mut hashes = Vec::with_capacity(usize::from(width));
            if width > 0 {
                let data = source.read_tile(level, index, width)?;
                if data.len() != usize::from(width) * HASH_SIZE {
                    return Err(ProofError::Tiles(format!(
                        "partial tile {level}/{index} has {} bytes, expected {}",
                        data.len(),
                        usize::from(width) * HASH_SIZE
                    )));
                }
                hashes.extend(data.chunks_exact(HASH_SIZE).map(|c| {
                    let mut h = [0u8; HASH_SIZE];
                    h.copy_from_slice(c);
                    Hash(h)
                }));
            }
            levels.push(hashes);
            level += 1;
        }
        Ok(RightEdge { size, levels })
    }

    pub fn size(&self) -> u64 {
        self.size
    }

    /// Appends one leaf hash. Tiles that become full are pushed to `completed`.
    pub fn append(&mut self, leaf: Hash, completed: &mut Vec<TileWrite>) {
        let mut carry = leaf;
        let mut level = 0usize;
        loop {
            if self.levels.len() <= level {
                self.levels.push(Vec::with_capacity(TILE_WIDTH as usize));
            }
            let tile = &mut self.levels[level];
            tile.push(carry);
            if (tile.len() as u64) < TILE_WIDTH {
                break;
            }
            let index = (self.size >> (u32::from(TILE_HEIGHT) * level as u32)) / TILE_WIDTH;
            carry = perfect_root(tile);
            completed.push(TileWrite {
                id: TileId {
                    kind: TileKind::Hashes { level: level as u8 },
                    index,
                    width: TILE_WIDTH as u16,
                },
                data: hashes_to_bytes(tile),
            });
            tile.clear();
            level += 1;
        }
        self.size += 1;
    }

    /// The partial tiles of the current tree (the ones a checkpoint at this size needs).
    pub fn partial_tiles(&self) -> Vec<TileWrite> {
        self.levels
            .iter()
            .enumerate()
            .filter(|(_, t)| !t.is_empty())
            .map(|(level, t)| TileWrite {
                id: TileId {
                    kind: TileKind::Hashes { level: level as u8 },
                    index: (self.size >> (u32::from(TILE_HEIGHT) * level as u32)) / TILE_WIDTH,
                    width: t.len() as u16,
                },
                data: hashes_to_bytes(t),
            })
            .collect()
    }

    /// The RFC 6962 root hash of the current tree.
    pub fn root(&self) -> Hash {
        // Complete subtrees from left to right: higher tile levels cover earlier leaves, and
        // within a level the partial tile splits by the bits of its width, high to low.
        let mut subtrees = Vec::new();
        for tile in self.levels.iter().rev() {
            let mut start = 0usize;
            for bit in (0..TILE_HEIGHT).rev() {
                let len = 1usize << bit;
                if tile.len() & len != 0 {
                    subtrees.push(perfect_root(&tile[start..start + len]));
                    start += len;
                }
            }
        }
        let Some((last, rest)) = subtrees.split_last() else {
            return EMPTY_HASH;
        };
        rest.iter().rev().fold(*last, |acc, h| node_hash(*h, acc))
    }
}

pub fn hashes_to_bytes(hashes: &[Hash]) -> Vec<u8> {
    let mut out = Vec::with_capacity(hashes.len() * HASH_SIZE);
    for h in hashes {
        out.extend_from_slice(&h.0);
    }
    out
}

/// Tiles held in memory (tests, and the sequencer's freshly written tiles).
#[derive(Clone, Debug, Default)]
pub struct MemoryTiles {
    pub tiles: HashMap<(u8, u64), Vec<u8>>,
}

impl MemoryTiles {
    pub fn insert(&mut self, write: &TileWrite) {
        if let TileKind::Hashes { level } = write.id.kind {
            self.tiles
                .insert((level, write.id.index), write.data.clone());
        }
    }
}

impl TileSource for MemoryTiles {
    fn read_tile(&self, level: u8, index: u64, width: u16) -> Result<Vec<u8>, ProofError> {
        let t = self
            .tiles
            .get(&(level, index))
            .ok_or_else(|| ProofError::Tiles(format!("tile {level}/{index} not in memory")))?;
        let want = usize::from(width) * HASH_SIZE;
        if t.len() < want {
            return Err(ProofError::Tiles(format!("tile {level}/{index} too short")));
        }
        Ok(t[..want].to_vec())
    }
}

/// Frames entries as an entry bundle: each entry prefixed by its big-endian u16 length.
pub fn encode_bundle<'a>(entries: impl IntoIterator<Item = &'a [u8]>) -> Vec<u8> {
    let mut out = Vec::new();
    for e in entries {
        debug_assert!(e.len() <= usize::from(u16::MAX));
        out.extend_from_slice(&(e.len() as u16).to_be_bytes());
        out.extend_from_slice(e);
    }
    out
}

/// Splits an entry bundle into its entries, refusing truncated framing.
pub fn decode_bundle(mut data: &[u8]) -> Option<Vec<&[u8]>> {
    let mut out = Vec::new();
    while !data.is_empty() {
        if data.len() < 2 {
            return None;
        }
        let len = usize::from(u16::from_be_bytes([data[0], data[1]]));
        if data.len() < 2 + len {
            return None;
        }
        out.push(&data[2..2 + len]);
        data = &data[2 + len..];
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn build(n: u64) -> (RightEdge, MemoryTiles) {
        let mut edge = RightEdge::default();
        let mut mem = MemoryTiles::default();
        let mut done = Vec::new();
        for i in 0..n {
            edge.append(record_hash(&i.to_be_bytes()), &mut done);
        }
        for t in done.iter().chain(edge.partial_tiles().iter()) {
            mem.insert(t);
        }
        (edge, mem)
    }

    /// RFC 6962 MTH, written the slow and obvious way.
    fn mth(leaves: &[Hash]) -> Hash {
        match leaves.len() {
            0 => EMPTY_HASH,
            1 => leaves[0],
            n => {
                let k = 1usize << (usize::BITS - 1 - (n - 1).leading_zeros());
                node_hash(mth(&leaves[..k]), mth(&leaves[k..]))
            }
        }
    }

    #[test]
    fn tile_paths_follow_the_spec() {
        assert_eq!(encode_index(1234067), "x001/x234/067");
        assert_eq!(encode_index(5), "005");
        assert_eq!(encode_index(1000), "x001/000");
        let t = TileId {
            kind: TileKind::Hashes { level: 1 },
            index: 1234067,
            width: 17,
        };
        assert_eq!(t.path(), "tile/1/x001/x234/067.p/17");
        assert_eq!(TileId::parse_path(&t.path()), Some(t));
        let e = TileId {
            kind: TileKind::Entries,
            index: 3,
            width: 256,
        };
        assert_eq!(e.path(), "tile/entries/003");
        assert_eq!(TileId::parse_path("tile/entries/003"), Some(e));
        for bad in [
            "tile/01/000",
            "tile/0/0000",
            "tile/0/x000/001",
            "tile/0/000.p/0",
            "tile/0/000.p/256",
            "tile/0/000.p/07",
            "tile/64/000",
            "tile/0/1",
            "tile/0/001/002",
        ] {
            assert_eq!(TileId::parse_path(bad), None, "{bad}");
        }
    }

    #[test]
    fn spec_example_tree_of_70000() {
        // 273 full level-0 tiles, a partial of width 112, one full level-1 tile, a partial
        // level-1 tile of width 17 and a partial level-2 tile of width 1.
        assert_eq!(tile_width_at(0, 272, 70_000), Some(256));
        assert_eq!(tile_width_at(0, 273, 70_000), Some(112));
        assert_eq!(tile_width_at(0, 274, 70_000), None);
        assert_eq!(tile_width_at(1, 0, 70_000), Some(256));
        assert_eq!(tile_width_at(1, 1, 70_000), Some(17));
        assert_eq!(tile_width_at(2, 0, 70_000), Some(1));
        assert_eq!(tile_width_at(3, 0, 70_000), None);
        assert_eq!(tile_width_at(1, 0, 256), Some(1));
    }

    #[test]
    fn right_edge_root_matches_the_rfc_definition() {
        let mut leaves = Vec::new();
        let mut edge = RightEdge::default();
        let mut done = Vec::new();
        for i in 0..1100u64 {
            assert_eq!(edge.root(), mth(&leaves), "size {i}");
            let h = record_hash(&i.to_be_bytes());
            leaves.push(h);
            edge.append(h, &mut done);
        }
        assert_eq!(done.len(), 4); // four full level-0 tiles, no full level-1 tile
    }

    #[test]
    fn right_edge_reloads_from_its_partial_tiles() {
        for n in [1u64, 255, 256, 257, 65535, 65536, 65537, 70_000] {
            let (edge, mem) = build(n);
            let again = RightEdge::load(&mem, n).unwrap();
            assert_eq!(again.root(), edge.root(), "size {n}");
            assert_eq!(tree_root(&mem, n, n).unwrap(), edge.root(), "size {n}");
        }
    }

    #[test]
    fn proofs_from_tiles_verify() {
        let n = 70_000u64;
        let (edge, mem) = build(n);
        for size in [1u64, 2, 3, 255, 256, 257, 1000, 65536, 69_999, 70_000] {
            let root = tree_root(&mem, n, size).unwrap();
            for index in [0, size / 2, size - 1] {
                let p = prove_inclusion(&mem, n, size, index).unwrap();
                let leaf = record_hash(&index.to_be_bytes());
                verify_inclusion(&p, size, root, index, leaf).unwrap();
                assert!(verify_inclusion(&p, size, root, index, record_hash(b"x")).is_err());
            }
            let c = prove_consistency(&mem, n, size, n).unwrap();
            verify_consistency(&c, size, root, n, edge.root()).unwrap();
        }
    }

    #[test]
    fn bundles_round_trip() {
        let b = encode_bundle([&b"ab"[..], &b""[..], &b"xyz"[..]]);
        assert_eq!(b, [0, 2, b'a', b'b', 0, 0, 0, 3, b'x', b'y', b'z']);
        assert_eq!(decode_bundle(&b).unwrap(), vec![&b"ab"[..], b"", b"xyz"]);
        assert!(decode_bundle(&b[..b.len() - 1]).is_none());
    }
}
