//! Conformance of the log's pure core against the shared test vectors
//! (`../shared/test-vectors/`, see its README):
//!
//! - `merkle/inclusion/**` and `merkle/consistency/**` (transparency-dev/merkle testdata) through
//!   [`tlog::verify_inclusion`] and [`tlog::verify_consistency`];
//! - `merkle/leaves.json`: roots of trees of size 0..=8 from [`RightEdge`], and proofs generated
//!   from tiles, which must verify and equal the vectors' happy-path proofs;
//! - `signed-note.json` (golang.org/x/mod sumdb/note tests and the C2SP examples) through
//!   [`embargo::core::note`] and [`Checkpoint::parse_body`];
//! - tlog-proof bundles: a proof built with the log's own pieces verifies, and one flipped bit
//!   anywhere that matters makes it fail.

use base64::prelude::{Engine, BASE64_STANDARD};
use embargo::core::checkpoint::Checkpoint;
use embargo::core::note::{open_note, KeyPair, NoteError, PublicKey};
use embargo::core::proof::TlogProof;
use embargo::core::tlog::{self, record_hash, Hash, MemoryTiles, RightEdge};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

// ---------------------------------------------------------------------------------------------
// Reading the vectors
// ---------------------------------------------------------------------------------------------

fn vectors_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/test-vectors");
    assert!(
        dir.is_dir(),
        "the shared test vectors are missing: expected them at {} (checked out next to the crate as ../shared/test-vectors)",
        dir.display()
    );
    dir
}

fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> T {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read test vector {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| {
        panic!(
            "test vector {} is not the expected JSON: {e}",
            path.display()
        )
    })
}

/// Every `.json` file under `dir`, recursively, in a stable order.
fn json_files_under(dir: &Path) -> Vec<PathBuf> {
    assert!(dir.is_dir(), "missing vector directory {}", dir.display());
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap_or_else(|e| panic!("reading {}: {e}", d.display())) {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "json") {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// A root or proof hash from a vector. The vectors are written for byte-slice APIs and carry
/// some values that are not 32 bytes (empty strings, "don't care" placeholders, truncated
/// roots), which the reference verifier compares as opaque bytes. Our API takes typed 32-byte
/// hashes, so such a value stands in as `SHA-256("not a hash:" || bytes)`: equal values stay
/// equal, different values stay different, and none equals a real tree hash. That way every
/// vector still goes through the verification function.
fn vector_hash(b64: &str) -> Hash {
    let raw = decode_b64(b64);
    match <[u8; 32]>::try_from(raw.as_slice()) {
        Ok(h) => Hash(h),
        Err(_) => {
            let mut d = Sha256::new();
            d.update(b"not a hash:");
            d.update(&raw);
            Hash(d.finalize().into())
        }
    }
}

/// A leaf hash from a vector, or `None` if it is not 32 bytes. The reference verifier refuses a
/// leaf hash of the wrong size outright; with typed hashes such a leaf cannot even be passed in.
fn vector_leaf_hash(b64: &str) -> Option<Hash> {
    <[u8; 32]>::try_from(decode_b64(b64).as_slice())
        .ok()
        .map(Hash)
}

fn decode_b64(b64: &str) -> Vec<u8> {
    BASE64_STANDARD
        .decode(b64)
        .unwrap_or_else(|e| panic!("vector hash {b64:?} is not base64: {e}"))
}

fn vector_proof(proof: &Option<Vec<String>>) -> Vec<Hash> {
    proof
        .as_deref()
        .unwrap_or_default()
        .iter()
        .map(|h| vector_hash(h))
        .collect()
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct InclusionVector {
    leaf_idx: u64,
    tree_size: u64,
    root: String,
    leaf_hash: String,
    proof: Option<Vec<String>>,
    desc: String,
    want_err: bool,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ConsistencyVector {
    size1: u64,
    size2: u64,
    root1: String,
    root2: String,
    proof: Option<Vec<String>>,
    desc: String,
    want_err: bool,
}

#[derive(Deserialize)]
struct Leaves {
    leaves_hex: Vec<String>,
    roots_hex_by_size: Vec<String>,
}

fn hex_decode(s: &str) -> Vec<u8> {
    assert!(s.len().is_multiple_of(2), "odd-length hex {s:?}");
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect()
}

fn standard_leaves() -> (Vec<Vec<u8>>, Vec<Hash>) {
    let l: Leaves = read_json(&vectors_dir().join("merkle/leaves.json"));
    let leaves: Vec<Vec<u8>> = l.leaves_hex.iter().map(|h| hex_decode(h)).collect();
    let roots = l
        .roots_hex_by_size
        .iter()
        .map(|h| Hash(hex_decode(h).try_into().expect("32-byte root")))
        .collect::<Vec<_>>();
    assert_eq!(roots.len(), leaves.len() + 1, "one root per size 0..=n");
    (leaves, roots)
}

/// The tiles of the tree of `leaves`, as the sequencer would write them.
fn tiles_of(leaves: &[Vec<u8>]) -> (RightEdge, MemoryTiles) {
    let mut edge = RightEdge::default();
    let mut completed = Vec::new();
    for leaf in leaves {
        edge.append(record_hash(leaf), &mut completed);
    }
    let mut mem = MemoryTiles::default();
    for t in completed.iter().chain(edge.partial_tiles().iter()) {
        mem.insert(t);
    }
    (edge, mem)
}

// ---------------------------------------------------------------------------------------------
// Merkle proofs
// ---------------------------------------------------------------------------------------------

#[test]
fn every_inclusion_vector_verifies_or_fails_as_expected() {
    let files = json_files_under(&vectors_dir().join("merkle/inclusion"));
    let mut failures = Vec::new();
    let mut refused_leaf_hashes = 0;
    for path in &files {
        let v: InclusionVector = read_json(path);
        let Some(leaf) = vector_leaf_hash(&v.leaf_hash) else {
            refused_leaf_hashes += 1;
            if !v.want_err {
                failures.push(format!("{}: leaf hash is not 32 bytes", path.display()));
            }
            continue;
        };
        let got = tlog::verify_inclusion(
            &vector_proof(&v.proof),
            v.tree_size,
            vector_hash(&v.root),
            v.leaf_idx,
            leaf,
        );
        if got.is_err() != v.want_err {
            failures.push(format!(
                "{} ({}): want error = {}, got {got:?}",
                path.display(),
                v.desc,
                v.want_err
            ));
        }
    }
    println!(
        "checked {} inclusion vectors ({refused_leaf_hashes} refused for a leaf hash that is not 32 bytes)",
        files.len()
    );
    assert!(!files.is_empty(), "no inclusion vectors found");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn every_consistency_vector_verifies_or_fails_as_expected() {
    let files = json_files_under(&vectors_dir().join("merkle/consistency"));
    let mut failures = Vec::new();
    for path in &files {
        let v: ConsistencyVector = read_json(path);
        let got = tlog::verify_consistency(
            &vector_proof(&v.proof),
            v.size1,
            vector_hash(&v.root1),
            v.size2,
            vector_hash(&v.root2),
        );
        if got.is_err() != v.want_err {
            failures.push(format!(
                "{} ({}): want error = {}, got {got:?}",
                path.display(),
                v.desc,
                v.want_err
            ));
        }
    }
    println!("checked {} consistency vectors", files.len());
    assert!(!files.is_empty(), "no consistency vectors found");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn right_edge_roots_match_the_standard_leaves() {
    let (leaves, roots) = standard_leaves();
    let mut edge = RightEdge::default();
    let mut completed = Vec::new();
    for (size, want) in roots.iter().enumerate() {
        assert_eq!(edge.root(), *want, "root of the tree of size {size}");
        if let Some(leaf) = leaves.get(size) {
            edge.append(record_hash(leaf), &mut completed);
        }
    }
    assert_eq!(edge.size(), leaves.len() as u64);
}

#[test]
fn proofs_generated_from_tiles_verify_for_every_size_index_and_pair() {
    let (leaves, roots) = standard_leaves();
    let (edge, mem) = tiles_of(&leaves);
    let n = edge.size();
    let mut checked = 0;
    for size in 1..=n {
        assert_eq!(
            tlog::tree_root(&mem, n, size).unwrap(),
            roots[size as usize]
        );
        for index in 0..size {
            let proof = tlog::prove_inclusion(&mem, n, size, index).unwrap();
            let leaf = record_hash(&leaves[index as usize]);
            tlog::verify_inclusion(&proof, size, roots[size as usize], index, leaf)
                .unwrap_or_else(|e| panic!("inclusion of {index} in {size}: {e}"));
            let other = record_hash(&leaves[((index + 1) % n) as usize]);
            assert!(
                tlog::verify_inclusion(&proof, size, roots[size as usize], index, other).is_err(),
                "inclusion of {index} in {size} accepted the wrong leaf"
            );
            checked += 1;
        }
        for old in 1..=size {
            let proof = tlog::prove_consistency(&mem, n, old, size).unwrap();
            tlog::verify_consistency(&proof, old, roots[old as usize], size, roots[size as usize])
                .unwrap_or_else(|e| panic!("consistency {old} -> {size}: {e}"));
            if old < size {
                // The proof for one pair of roots must not connect another pair.
                assert!(
                    tlog::verify_consistency(
                        &proof,
                        old,
                        roots[old as usize - 1],
                        size,
                        roots[size as usize]
                    )
                    .is_err(),
                    "consistency {old} -> {size} accepted the wrong old root"
                );
            }
            checked += 1;
        }
    }
    println!("generated and verified {checked} proofs over the standard leaves");
}

#[test]
fn generated_proofs_equal_the_happy_path_vectors() {
    let (leaves, roots) = standard_leaves();
    let (edge, mem) = tiles_of(&leaves);
    let n = edge.size();
    let dir = vectors_dir().join("merkle");
    let mut compared = 0;

    for path in json_files_under(&dir.join("inclusion")) {
        let v: InclusionVector = read_json(&path);
        let root = vector_hash(&v.root);
        // Only vectors over the standard leaves: same size, same root.
        if v.want_err || v.tree_size > n || roots[v.tree_size as usize] != root {
            continue;
        }
        assert_eq!(
            vector_leaf_hash(&v.leaf_hash),
            Some(record_hash(&leaves[v.leaf_idx as usize])),
            "{}: leaf hash",
            path.display()
        );
        let ours = tlog::prove_inclusion(&mem, n, v.tree_size, v.leaf_idx).unwrap();
        assert_eq!(ours, vector_proof(&v.proof), "{}", path.display());
        compared += 1;
    }

    for path in json_files_under(&dir.join("consistency")) {
        let v: ConsistencyVector = read_json(&path);
        if v.want_err
            || v.size1 == 0
            || v.size2 > n
            || roots[v.size1 as usize] != vector_hash(&v.root1)
            || roots[v.size2 as usize] != vector_hash(&v.root2)
        {
            continue;
        }
        let ours = tlog::prove_consistency(&mem, n, v.size1, v.size2).unwrap();
        assert_eq!(ours, vector_proof(&v.proof), "{}", path.display());
        compared += 1;
    }

    println!("compared {compared} generated proofs with happy-path vectors");
    // inclusion/{0..4}/happy-path and consistency/{0..4}/happy-path at least.
    assert!(
        compared >= 10,
        "only {compared} vectors used the standard leaves"
    );
}

// ---------------------------------------------------------------------------------------------
// Signed notes
// ---------------------------------------------------------------------------------------------

#[derive(Deserialize)]
struct NoteVectors {
    ed25519_notes: Vec<NoteVector>,
    bad_vkeys: Vec<String>,
    cosigned_checkpoint_example: CosignedExample,
}

#[derive(Deserialize)]
struct NoteVector {
    name: String,
    vkey: String,
    skey: Option<String>,
    text: Option<String>,
    signed_note: Option<String>,
    signature_line: Option<String>,
}

#[derive(Deserialize)]
struct CosignedExample {
    note: String,
}

fn note_vectors() -> NoteVectors {
    read_json(&vectors_dir().join("signed-note.json"))
}

fn note_vector<'a>(v: &'a NoteVectors, name: &str) -> &'a NoteVector {
    v.ed25519_notes
        .iter()
        .find(|n| n.name == name)
        .unwrap_or_else(|| panic!("signed-note.json has no note by {name}"))
}

fn vkey(s: &str) -> PublicKey {
    s.parse()
        .unwrap_or_else(|e| panic!("vector vkey {s:?} refused: {e}"))
}

#[test]
fn private_key_from_vector_reproduces_its_vkey_and_signed_note() {
    let v = note_vectors();
    let peter = note_vector(&v, "PeterNeumann");
    let key = KeyPair::from_private_key(peter.skey.as_deref().unwrap()).unwrap();
    assert_eq!(key.public().to_string(), peter.vkey);
    assert_eq!(key.name(), "PeterNeumann");

    let text = peter.text.as_deref().unwrap();
    let signed = key.sign_note(text).unwrap();
    assert_eq!(signed, peter.signed_note.as_deref().unwrap());
    assert_eq!(open_note(&signed, &vkey(&peter.vkey)).unwrap(), text);
}

#[test]
fn note_signed_by_two_keys_opens_with_either() {
    let v = note_vectors();
    let peter = note_vector(&v, "PeterNeumann");
    let enoch = note_vector(&v, "EnochRoot");
    let both = format!(
        "{}{}",
        peter.signed_note.as_deref().unwrap(),
        enoch.signature_line.as_deref().unwrap()
    );
    let text = enoch.text.as_deref().unwrap();
    assert_eq!(open_note(&both, &vkey(&peter.vkey)).unwrap(), text);
    assert_eq!(open_note(&both, &vkey(&enoch.vkey)).unwrap(), text);
    // Without Enoch's line, Enoch's key finds no signature of its own.
    assert!(matches!(
        open_note(peter.signed_note.as_deref().unwrap(), &vkey(&enoch.vkey)),
        Err(NoteError::NotSigned(_))
    ));
}

#[test]
fn spec_example_note_verifies_with_its_vkey() {
    let v = note_vectors();
    let foo = note_vector(&v, "example.com/foo");
    let text = open_note(foo.signed_note.as_deref().unwrap(), &vkey(&foo.vkey)).unwrap();
    assert_eq!(text, "This is an example message.\n");
    let altered = foo
        .signed_note
        .as_deref()
        .unwrap()
        .replace("an example message", "an exemple message");
    let got = open_note(&altered, &vkey(&foo.vkey));
    assert!(matches!(got, Err(NoteError::BadSignature(_))), "{got:?}");
}

#[test]
fn bad_vkeys_are_refused() {
    let v = note_vectors();
    assert!(!v.bad_vkeys.is_empty());
    for bad in &v.bad_vkeys {
        assert!(
            bad.parse::<PublicKey>().is_err(),
            "bad vkey {bad:?} was accepted"
        );
    }
}

#[test]
fn cosigned_checkpoint_example_parses_but_is_not_signed_by_an_unrelated_key() {
    let v = note_vectors();
    let note = &v.cosigned_checkpoint_example.note;
    let (text, _sigs) = note.split_once("\n\n").expect("a note has a blank line");
    let cp = Checkpoint::parse_body(&format!("{text}\n")).unwrap();
    assert_eq!(cp.origin, "example.com/behind-the-sofa");
    assert_eq!(cp.size, 20852163);
    assert_eq!(
        BASE64_STANDARD.encode(cp.root.0),
        "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I="
    );
    // We do not have the log's or the witness's key: another key must find nothing to trust.
    let unrelated = vkey(&note_vector(&v, "PeterNeumann").vkey);
    assert!(matches!(
        open_note(note, &unrelated),
        Err(NoteError::NotSigned(_))
    ));
}

// ---------------------------------------------------------------------------------------------
// tlog-proof bundles
// ---------------------------------------------------------------------------------------------

const ORIGIN: &str = "conformance.test/log";

fn entry(i: u64) -> Vec<u8> {
    format!("{{\"entry\":{i}}}").into_bytes()
}

/// A signed tlog-proof for entry `index` in a tree of `size` test entries.
fn tlog_proof(key: &KeyPair, size: u64, index: u64) -> String {
    let leaves: Vec<Vec<u8>> = (0..size).map(entry).collect();
    let (edge, mem) = tiles_of(&leaves);
    let checkpoint = Checkpoint {
        origin: ORIGIN.to_owned(),
        size,
        root: edge.root(),
    }
    .sign(key)
    .unwrap();
    TlogProof {
        extra: None,
        index,
        inclusion: tlog::prove_inclusion(&mem, size, size, index).unwrap(),
        checkpoint: checkpoint.text,
    }
    .to_text()
}

fn flip_bit(bytes: &mut [u8], bit: usize) {
    bytes[bit / 8] ^= 1 << (bit % 8);
}

#[test]
fn tlog_proof_round_trips_and_verifies() {
    let key = KeyPair::generate(ORIGIN).unwrap();
    for (size, index) in [(1, 0), (13, 0), (13, 6), (13, 12), (300, 257)] {
        let text = tlog_proof(&key, size, index);
        let parsed = TlogProof::parse(&text).unwrap();
        assert_eq!(parsed.to_text(), text);
        let cp = parsed.verify(key.public(), &entry(index)).unwrap();
        assert_eq!((cp.size(), cp.checkpoint.origin.as_str()), (size, ORIGIN));
    }
}

#[test]
fn tlog_proof_rejects_any_one_bit_change() {
    let key = KeyPair::generate(ORIGIN).unwrap();
    let (size, index) = (13, 6);
    let good = TlogProof::parse(&tlog_proof(&key, size, index)).unwrap();
    let entry = entry(index);
    assert!(good.inclusion.len() >= 3, "want a proof of several lines");
    let mut rejected = 0;

    // The entry.
    for bit in 0..entry.len() * 8 {
        let mut e = entry.clone();
        flip_bit(&mut e, bit);
        assert!(good.verify(key.public(), &e).is_err(), "entry bit {bit}");
        rejected += 1;
    }
    // Every bit of every inclusion proof line, written out and parsed back.
    for line in 0..good.inclusion.len() {
        for bit in 0..256 {
            let mut p = good.clone();
            flip_bit(&mut p.inclusion[line].0, bit);
            let reparsed = TlogProof::parse(&p.to_text()).unwrap();
            assert!(
                reparsed.verify(key.public(), &entry).is_err(),
                "proof line {line} bit {bit}"
            );
            rejected += 1;
        }
    }
    // The index line.
    for bit in 0..8 {
        let mut p = good.clone();
        p.index ^= 1 << bit;
        let reparsed = TlogProof::parse(&p.to_text()).unwrap();
        assert!(
            reparsed.verify(key.public(), &entry).is_err(),
            "index bit {bit}"
        );
        rejected += 1;
    }
    // Every bit of the checkpoint's text (body and signature line): either the proof no longer
    // parses, or the signature, origin, size or root no longer check out.
    let text = good.to_text();
    let cp_start = text.find("\n\n").unwrap() + 2;
    for bit in cp_start * 8..text.len() * 8 {
        let mut bytes = text.clone().into_bytes();
        flip_bit(&mut bytes, bit);
        let Ok(s) = String::from_utf8(bytes) else {
            rejected += 1;
            continue;
        };
        let ok = TlogProof::parse(&s).is_ok_and(|p| p.verify(key.public(), &entry).is_ok());
        assert!(!ok, "checkpoint bit {bit} accepted: {s:?}");
        rejected += 1;
    }
    // Removing or adding a proof line.
    let mut shorter = good.clone();
    shorter.inclusion.pop();
    assert!(shorter.verify(key.public(), &entry).is_err());
    let mut longer = good.clone();
    longer.inclusion.push(record_hash(b"extra"));
    assert!(longer.verify(key.public(), &entry).is_err());

    println!("rejected {rejected} one-bit changes");
    assert!(good.verify(key.public(), &entry).is_ok());
}

#[test]
fn tlog_proof_is_refused_under_another_key() {
    let key = KeyPair::generate(ORIGIN).unwrap();
    let impostor = KeyPair::generate(ORIGIN).unwrap();
    let p = TlogProof::parse(&tlog_proof(&key, 13, 6)).unwrap();
    assert!(p.verify(impostor.public(), &entry(6)).is_err());
}
