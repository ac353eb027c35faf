//! The witness side of c2sp.org/tlog-witness `add-checkpoint`, as pure functions.
//!
//! Owns parsing the request body (old size line, at most 63 consistency proof lines, an empty
//! line, a checkpoint note) within strict limits, and the decision for one request given the
//! logs the witness trusts and the latest checkpoint it cosigned for that origin: cosign, or
//! refuse with the status the spec assigns (404, 403, 400, 409, 422). Never reads state, a
//! clock or the network, never signs: [`super::Witness`] does that under the per-origin lock.

use super::cosignature::split_note;
use crate::core::checkpoint::Checkpoint;
use crate::core::note::PublicKey;
use crate::core::tlog::{verify_consistency, Hash, EMPTY_HASH};
use base64::prelude::{Engine, BASE64_STANDARD};
use std::collections::HashMap;

/// The spec's limit on consistency proof lines.
pub const MAX_PROOF_LINES: usize = 63;
/// The largest request body a witness reads (a checkpoint with many signatures and 63 proof
/// lines is under 8 KiB; post-quantum signature lines are under 7 KiB each).
pub const MAX_REQUEST_BYTES: usize = 64 * 1024;

/// Why an `add-checkpoint` request is not cosigned, each with the status the spec assigns.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Refusal {
    #[error("malformed add-checkpoint request: {0}")]
    Malformed(String),
    #[error("this witness does not witness the log {0:?}: ask its operator to add the log's vkey")]
    UnknownOrigin(String),
    #[error("the checkpoint carries no valid signature by the log's key ({0})")]
    BadLogSignature(String),
    #[error("old size {old} does not match the latest checkpoint this witness cosigned, of size {current}: resend with `old {current}` and a proof from that size")]
    OldSizeMismatch { old: u64, current: u64 },
    #[error("the checkpoint is not consistent with the one this witness cosigned: {0}")]
    Inconsistent(String),
}

impl Refusal {
    /// The HTTP status code tlog-witness assigns to this refusal.
    pub fn status(&self) -> u16 {
        match self {
            Refusal::Malformed(_) => 400,
            Refusal::BadLogSignature(_) => 403,
            Refusal::UnknownOrigin(_) => 404,
            Refusal::OldSizeMismatch { .. } => 409,
            Refusal::Inconsistent(_) => 422,
        }
    }
}

fn malformed(why: impl Into<String>) -> Refusal {
    Refusal::Malformed(why.into())
}

/// A parsed `add-checkpoint` request body.
#[derive(Clone, Debug, PartialEq)]
pub struct AddCheckpoint {
    pub old_size: u64,
    pub proof: Vec<Hash>,
    /// The checkpoint's parsed body.
    pub checkpoint: Checkpoint,
    /// The checkpoint's note text (what the log and the witness sign), ending in a newline.
    pub text: String,
    /// The whole signed note as submitted.
    pub note: String,
}

impl AddCheckpoint {
    pub fn origin(&self) -> &str {
        &self.checkpoint.origin
    }
}

/// Parses a request body, refusing anything the spec does not allow (400).
pub fn parse_request(body: &[u8]) -> Result<AddCheckpoint, Refusal> {
    if body.len() > MAX_REQUEST_BYTES {
        return Err(malformed(format!(
            "the body is over {MAX_REQUEST_BYTES} bytes"
        )));
    }
    let body = std::str::from_utf8(body).map_err(|_| malformed("the body is not UTF-8"))?;
    let (old_line, rest) = body
        .split_once('\n')
        .ok_or_else(|| malformed("expected an `old <size>` line ending in a newline"))?;
    let old_size = parse_old_line(old_line)?;
    let (proof, note) = parse_proof_lines(rest)?;
    let (text, _) = split_note(note).map_err(|e| malformed(e.to_string()))?;
    let checkpoint = parse_checkpoint_text(&text)?;
    Ok(AddCheckpoint {
        old_size,
        proof,
        checkpoint,
        text,
        note: note.to_owned(),
    })
}

/// `old <decimal without leading zeroes>`.
fn parse_old_line(line: &str) -> Result<u64, Refusal> {
    let digits = line
        .strip_prefix("old ")
        .ok_or_else(|| malformed(format!("the first line must be `old <size>`, not {line:?}")))?;
    parse_decimal(digits).ok_or_else(|| {
        malformed(format!(
            "old size {digits:?} is not a decimal number without leading zeroes"
        ))
    })
}

fn parse_decimal(s: &str) -> Option<u64> {
    let canonical =
        !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) && (s == "0" || !s.starts_with('0'));
    canonical.then(|| s.parse().ok()).flatten()
}

/// The proof lines up to the empty line, and what follows it (the checkpoint note).
fn parse_proof_lines(mut rest: &str) -> Result<(Vec<Hash>, &str), Refusal> {
    let mut proof = Vec::new();
    loop {
        let (line, after) = rest
            .split_once('\n')
            .ok_or_else(|| malformed("expected an empty line before the checkpoint"))?;
        rest = after;
        if line.is_empty() {
            return Ok((proof, rest));
        }
        if proof.len() == MAX_PROOF_LINES {
            return Err(malformed(format!(
                "more than {MAX_PROOF_LINES} consistency proof lines"
            )));
        }
        proof.push(parse_hash(line)?);
    }
}

fn parse_hash(line: &str) -> Result<Hash, Refusal> {
    BASE64_STANDARD
        .decode(line)
        .ok()
        .and_then(|h| <[u8; 32]>::try_from(h).ok())
        .map(Hash)
        .ok_or_else(|| {
            malformed(format!(
                "proof line {line:?} is not a 32-byte hash in base64"
            ))
        })
}

/// The checkpoint body: [`Checkpoint::parse_body`], plus the spec's rule that extension
/// lines are non-empty.
fn parse_checkpoint_text(text: &str) -> Result<Checkpoint, Refusal> {
    let checkpoint = Checkpoint::parse_body(text).map_err(|e| malformed(e.to_string()))?;
    let lines: Vec<&str> = text.trim_end_matches('\n').split('\n').collect();
    if text.ends_with("\n\n") || lines.iter().skip(3).any(|l| l.is_empty()) {
        return Err(malformed("checkpoint extension lines must not be empty"));
    }
    Ok(checkpoint)
}

/// The logs a witness cosigns for: each origin with the key(s) it trusts for it.
#[derive(Clone, Debug, Default)]
pub struct TrustedLogs {
    by_origin: HashMap<String, Vec<PublicKey>>,
}

impl TrustedLogs {
    /// The logs of `keys`; each key's name is its log's origin.
    pub fn new(keys: impl IntoIterator<Item = PublicKey>) -> Self {
        let mut by_origin: HashMap<String, Vec<PublicKey>> = HashMap::new();
        for k in keys {
            by_origin.entry(k.name().to_owned()).or_default().push(k);
        }
        TrustedLogs { by_origin }
    }

    pub fn keys(&self, origin: &str) -> Option<&[PublicKey]> {
        self.by_origin.get(origin).map(Vec::as_slice)
    }

    pub fn origins(&self) -> impl Iterator<Item = &str> {
        self.by_origin.keys().map(String::as_str)
    }
}

/// What the witness cosigns: the request's checkpoint and the log signature lines that
/// verified (kept with the cosignature for the monitoring endpoint).
#[derive(Clone, Debug, PartialEq)]
pub struct Accepted {
    pub checkpoint: Checkpoint,
    pub text: String,
    pub log_signatures: String,
}

/// Decides a request against the trusted logs and the latest checkpoint this witness
/// cosigned for its origin (`None` if never), in the spec's order: 404 unknown origin, 403 no
/// valid log signature, 400 old size above the checkpoint's, 409 old size not the cosigned
/// one, 422 empty tree with another root, proof with old size zero, a proof that does not
/// verify, or a same-size checkpoint with another root.
pub fn decide(
    req: &AddCheckpoint,
    logs: &TrustedLogs,
    latest: Option<&Checkpoint>,
) -> Result<Accepted, Refusal> {
    let keys = logs
        .keys(req.origin())
        .ok_or_else(|| Refusal::UnknownOrigin(req.origin().to_owned()))?;
    let log_signatures = verify_log_signature(req, keys)?;
    check_consistency(req, latest)?;
    Ok(Accepted {
        checkpoint: req.checkpoint.clone(),
        text: req.text.clone(),
        log_signatures,
    })
}

/// The verified log signature lines, or 403. Lines by other keys are ignored; a line whose
/// name and key ID match a trusted key but whose signature fails is a 403 too.
fn verify_log_signature(req: &AddCheckpoint, keys: &[PublicKey]) -> Result<String, Refusal> {
    let refs = keys
        .iter()
        .map(PublicKey::key_ref)
        .collect::<Vec<_>>()
        .join(", ");
    let note =
        signed_note::Note::from_bytes(req.note.as_bytes()).map_err(|e| malformed(e.to_string()))?;
    let verifiers = signed_note::VerifierList::new(
        keys.iter()
            .map(|k| Box::new(k.clone()) as Box<dyn signed_note::Verifier>)
            .collect(),
    );
    match note.verify(&verifiers) {
        Ok((verified, _)) => Ok(verified
            .iter()
            .map(|s| String::from_utf8_lossy(&s.to_bytes()).into_owned())
            .collect()),
        Err(signed_note::NoteError::InvalidSignature { name, id }) => Err(
            Refusal::BadLogSignature(format!("the signature by {name}+{id:08x} does not verify")),
        ),
        Err(_) => Err(Refusal::BadLogSignature(format!("expected one by {refs}"))),
    }
}

/// The consistency checks against the latest cosigned checkpoint (400, 409, 422).
fn check_consistency(req: &AddCheckpoint, latest: Option<&Checkpoint>) -> Result<(), Refusal> {
    let new = &req.checkpoint;
    if req.old_size > new.size {
        return Err(malformed(format!(
            "old size {} is larger than the checkpoint's size {}",
            req.old_size, new.size
        )));
    }
    let current = latest.map_or(0, |c| c.size);
    if req.old_size != current {
        return Err(Refusal::OldSizeMismatch {
            old: req.old_size,
            current,
        });
    }
    if new.size == 0 && new.root != EMPTY_HASH {
        return Err(Refusal::Inconsistent(
            "a checkpoint of size 0 must have the empty tree's root (SHA-256 of nothing)".into(),
        ));
    }
    match latest.filter(|c| c.size > 0) {
        None if req.proof.is_empty() => Ok(()),
        None => Err(Refusal::Inconsistent(
            "the consistency proof from old size 0 must be empty".into(),
        )),
        Some(old) if old.size == new.size && old.root != new.root => {
            Err(Refusal::Inconsistent(format!(
                "it has size {} like the cosigned one but another root hash: the log equivocates",
                new.size
            )))
        }
        Some(old) => verify_consistency(&req.proof, old.size, old.root, new.size, new.root)
            .map_err(|e| Refusal::Inconsistent(e.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::note::KeyPair;
    use crate::core::tlog::{record_hash, MemoryTiles, RightEdge};

    const ORIGIN: &str = "example.com/log";

    /// A log with `n` leaves built with the tlog helpers; its tiles and key.
    struct TestLog {
        key: KeyPair,
        tiles: MemoryTiles,
        edge: RightEdge,
    }

    impl TestLog {
        fn new() -> Self {
            TestLog {
                key: KeyPair::generate(ORIGIN).unwrap(),
                tiles: MemoryTiles::default(),
                edge: RightEdge::default(),
            }
        }

        fn grow_to(&mut self, size: u64) {
            while self.edge.size() < size {
                let mut done = Vec::new();
                let leaf = record_hash(format!("leaf {}", self.edge.size()).as_bytes());
                self.edge.append(leaf, &mut done);
                for w in done.iter().chain(&self.edge.partial_tiles()) {
                    self.tiles.insert(w);
                }
            }
        }

        fn checkpoint(&self) -> Checkpoint {
            Checkpoint {
                origin: ORIGIN.into(),
                size: self.edge.size(),
                root: self.edge.root(),
            }
        }

        fn proof(&self, old: u64) -> Vec<Hash> {
            let size = self.edge.size();
            crate::core::tlog::prove_consistency(&self.tiles, size, old, size).unwrap()
        }

        /// A request body from `old` to the current size, signed by `signer`.
        fn request(&self, old: u64, proof: &[Hash], cp: &Checkpoint, signer: &KeyPair) -> Vec<u8> {
            let mut body = format!("old {old}\n");
            for h in proof {
                body += &format!("{}\n", BASE64_STANDARD.encode(h.0));
            }
            body += "\n";
            body += &cp.sign(signer).unwrap().text;
            body.into_bytes()
        }

        fn decide(&self, body: &[u8], latest: Option<&Checkpoint>) -> Result<Accepted, Refusal> {
            let logs = TrustedLogs::new([self.key.public().clone()]);
            decide(&parse_request(body)?, &logs, latest)
        }
    }

    fn status(r: Result<Accepted, Refusal>) -> u16 {
        r.map_or_else(|e| e.status(), |_| 200)
    }

    #[test]
    fn first_checkpoint_from_old_zero_is_accepted() {
        let mut log = TestLog::new();
        log.grow_to(5);
        let cp = log.checkpoint();
        let body = log.request(0, &[], &cp, &log.key);
        let ok = log.decide(&body, None).unwrap();
        assert_eq!(ok.checkpoint, cp);
        assert_eq!(ok.text, cp.body());
        assert!(ok.log_signatures.starts_with("— example.com/log "));
    }

    #[test]
    fn growth_with_a_valid_proof_is_accepted() {
        let mut log = TestLog::new();
        log.grow_to(7);
        let old = log.checkpoint();
        log.grow_to(300);
        let body = log.request(7, &log.proof(7), &log.checkpoint(), &log.key);
        assert_eq!(status(log.decide(&body, Some(&old))), 200);
        let same = log.request(300, &[], &log.checkpoint(), &log.key);
        assert_eq!(status(log.decide(&same, Some(&log.checkpoint()))), 200);
    }

    #[test]
    fn unknown_origin_is_404() {
        let mut log = TestLog::new();
        log.grow_to(2);
        let other = KeyPair::generate("example.com/other").unwrap();
        let cp = Checkpoint {
            origin: "example.com/other".into(),
            ..log.checkpoint()
        };
        let body = log.request(0, &[], &cp, &other);
        let err = log.decide(&body, None).unwrap_err();
        assert_eq!(err.status(), 404);
        assert!(err.to_string().contains("example.com/other"));
    }

    #[test]
    fn foreign_or_broken_log_signature_is_403() {
        let mut log = TestLog::new();
        log.grow_to(2);
        let impostor = KeyPair::generate(ORIGIN).unwrap();
        let body = log.request(0, &[], &log.checkpoint(), &impostor);
        assert_eq!(status(log.decide(&body, None)), 403);
        // The right key's line over another text: name and ID match, signature fails.
        let good = log.request(0, &[], &log.checkpoint(), &log.key);
        let mut tampered = String::from_utf8(good).unwrap();
        let root = BASE64_STANDARD.encode(log.checkpoint().root.0);
        tampered = tampered.replace(&root, &BASE64_STANDARD.encode([9u8; 32]));
        let err = log.decide(tampered.as_bytes(), None).unwrap_err();
        assert_eq!(err.status(), 403);
        assert!(err.to_string().contains("does not verify"), "{err}");
    }

    #[test]
    fn old_size_mismatch_is_409_with_the_current_size() {
        let mut log = TestLog::new();
        log.grow_to(10);
        let cosigned = log.checkpoint();
        log.grow_to(20);
        let body = log.request(5, &log.proof(5), &log.checkpoint(), &log.key);
        assert_eq!(
            log.decide(&body, Some(&cosigned)),
            Err(Refusal::OldSizeMismatch {
                old: 5,
                current: 10
            })
        );
        let from_zero = log.request(0, &[], &log.checkpoint(), &log.key);
        assert_eq!(
            log.decide(&from_zero, Some(&cosigned))
                .unwrap_err()
                .status(),
            409
        );
        let never = log.request(10, &log.proof(10), &log.checkpoint(), &log.key);
        assert_eq!(
            log.decide(&never, None),
            Err(Refusal::OldSizeMismatch {
                old: 10,
                current: 0
            })
        );
    }

    #[test]
    fn bad_proofs_and_same_size_other_root_are_422() {
        let mut log = TestLog::new();
        log.grow_to(10);
        let cosigned = log.checkpoint();
        log.grow_to(20);
        let mut proof = log.proof(10);
        proof[0].0[0] ^= 1;
        let body = log.request(10, &proof, &log.checkpoint(), &log.key);
        assert_eq!(status(log.decide(&body, Some(&cosigned))), 422);
        let short = log.request(10, &log.proof(10)[1..], &log.checkpoint(), &log.key);
        assert_eq!(status(log.decide(&short, Some(&cosigned))), 422);
        let forked = Checkpoint {
            root: Hash([3; 32]),
            ..cosigned.clone()
        };
        let same_size = log.request(10, &[], &forked, &log.key);
        let err = log.decide(&same_size, Some(&cosigned)).unwrap_err();
        assert_eq!(err.status(), 422);
        assert!(err.to_string().contains("equivocates"), "{err}");
    }

    #[test]
    fn proof_from_old_zero_and_nonempty_empty_tree_are_422() {
        let mut log = TestLog::new();
        log.grow_to(4);
        let body = log.request(0, &log.proof(2), &log.checkpoint(), &log.key);
        assert_eq!(status(log.decide(&body, None)), 422);
        let empty_wrong = Checkpoint {
            origin: ORIGIN.into(),
            size: 0,
            root: Hash([1; 32]),
        };
        let body = log.request(0, &[], &empty_wrong, &log.key);
        assert_eq!(status(log.decide(&body, None)), 422);
        let empty = Checkpoint {
            root: EMPTY_HASH,
            ..empty_wrong
        };
        assert_eq!(
            status(log.decide(&log.request(0, &[], &empty, &log.key), None)),
            200
        );
    }

    #[test]
    fn old_size_above_the_checkpoint_is_400() {
        let mut log = TestLog::new();
        log.grow_to(4);
        let body = log.request(5, &[], &log.checkpoint(), &log.key);
        assert_eq!(status(log.decide(&body, None)), 400);
    }

    #[test]
    fn malformed_bodies_are_400() {
        let mut log = TestLog::new();
        log.grow_to(3);
        let good = String::from_utf8(log.request(0, &[], &log.checkpoint(), &log.key)).unwrap();
        let hash = BASE64_STANDARD.encode([0u8; 32]);
        let too_many = format!("old 0\n{}\n{}", format!("{hash}\n").repeat(64), &good[7..]);
        for bad in [
            String::new(),
            good.replacen("old 0", "old 00", 1),
            good.replacen("old 0", "old -1", 1),
            good.replacen("old 0", "new 0", 1),
            good.replacen("old 0", "old  0", 1),
            good.replacen("old 0\n\n", "old 0\nnot-base64\n\n", 1),
            good.replacen("old 0\n\n", "old 0\nAAAA\n\n", 1),
            good.replacen("old 0\n\n", "old 0\n", 1),
            good.replacen("\n3\n", "\n03\n", 1),
            good.replace('\u{2014}', "-"),
            too_many,
            "old 0\n\n".into(),
        ] {
            let err = parse_request(bad.as_bytes()).unwrap_err();
            assert_eq!(err.status(), 400, "{bad:?}: {err}");
        }
        assert!(parse_request(&[0xff, b'\n']).is_err());
        assert!(parse_request(&vec![b'a'; MAX_REQUEST_BYTES + 1]).is_err());
    }

    #[test]
    fn sixty_three_proof_lines_parse() {
        let hash = BASE64_STANDARD.encode([0u8; 32]);
        let mut log = TestLog::new();
        log.grow_to(1);
        let cp = log.checkpoint().sign(&log.key).unwrap().text;
        let body = format!("old 0\n{}\n{cp}", format!("{hash}\n").repeat(63));
        assert_eq!(parse_request(body.as_bytes()).unwrap().proof.len(), 63);
    }
}
