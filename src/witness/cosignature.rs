//! Witness cosignatures (c2sp.org/tlog-cosignature), the Ed25519 `cosignature/v1` kind.
//!
//! Owns the cosigner's key ID (signature type 0x04), the witness verifier key
//! `<name>+<8 hex>+<base64(0x04 || 32-byte Ed25519 key)>`, the signed message
//! (`cosignature/v1\ntime <t>\n` followed by the checkpoint's note text), making a cosignature
//! line and checking a note's cosignature lines against the witnesses a client trusts. Pure: it
//! never reads a clock, a file or the network; callers pass the timestamp in.
//!
//! Written here rather than taken from the `signed_note` crate: version 0.2 (the one
//! [`crate::core::note`] builds on) knows only signature type 0x01 and computes key IDs over
//! whatever bytes it is handed, so it has no cosignature message, no timestamp and no 0x04
//! vkeys. It still parses the note and its signature lines for us, and [`WitnessKey`]
//! implements its [`signed_note::Verifier`] so callers can mix witness and log keys in one
//! `VerifierList`.

use crate::core::note::{is_valid_name, KeyPair};
use base64::prelude::{Engine, BASE64_STANDARD};
use sha2::{Digest, Sha256};
use std::fmt;
use std::str::FromStr;

/// The signature type byte of Ed25519 `cosignature/v1` in key IDs and vkeys.
pub const ALG_COSIGNATURE_V1: u8 = 0x04;
/// The header line of the signed message, which separates it from every other use of the key.
pub const HEADER: &str = "cosignature/v1\n";
/// Bytes of a decoded cosignature: key ID, big-endian u64 timestamp, Ed25519 signature.
const SIGNATURE_LEN: usize = 4 + 8 + 64;
/// The largest timestamp the spec allows (2^63 - 1).
pub const MAX_TIMESTAMP: u64 = i64::MAX as u64;

/// What went wrong with a witness key or a cosignature.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CosignatureError {
    #[error("malformed witness key {0:?}: expected <name>+<8 hex digits>+<base64 of 0x04 || 32-byte Ed25519 key>")]
    MalformedVkey(String),
    #[error("witness key {0:?} has a key ID that does not match its name and public key")]
    VkeyIdMismatch(String),
    #[error("{vkey:?} is not a cosignature/v1 witness key (type byte 0x{found:02x}, expected 0x04); ask the witness operator for the key `embargo witness serve` prints")]
    WrongKeyType { vkey: String, found: u8 },
    #[error("invalid witness name {0:?}: names must be non-empty and contain no spaces or '+'")]
    InvalidName(String),
    #[error("malformed signed note: {0}")]
    MalformedNote(String),
    #[error("cosignature timestamp {0} is out of range (1 to 2^63-1 seconds)")]
    TimestampOutOfRange(u64),
    #[error(
        "only {valid} of the {needed} required witness cosignatures verify; missing: {missing}"
    )]
    NotEnough {
        valid: usize,
        needed: usize,
        missing: String,
    },
}

/// `SHA-256(name || 0x0A || 0x04 || public key)[:4]`, big-endian.
pub fn key_id(name: &str, public: &[u8; 32]) -> u32 {
    let mut h = Sha256::new();
    h.update(name.as_bytes());
    h.update(b"\n");
    h.update([ALG_COSIGNATURE_V1]);
    h.update(public);
    let d = h.finalize();
    u32::from_be_bytes([d[0], d[1], d[2], d[3]])
}

/// The message a `cosignature/v1` signs: the header line, `time <timestamp>`, then the
/// checkpoint's whole note text (extension lines included, ending in a newline, no signatures).
pub fn signed_message(note_text: &str, timestamp: u64) -> Vec<u8> {
    format!("{HEADER}time {timestamp}\n{note_text}").into_bytes()
}

/// A witness's verifier key: a name and an Ed25519 key, with its cosignature/v1 key ID.
#[derive(Clone, PartialEq, Eq)]
pub struct WitnessKey {
    name: String,
    id: u32,
    key: ed25519_dalek::VerifyingKey,
}

impl WitnessKey {
    /// The witness key for `name` and an Ed25519 public key.
    pub fn new(name: &str, key: ed25519_dalek::VerifyingKey) -> Result<Self, CosignatureError> {
        if !is_valid_name(name) {
            return Err(CosignatureError::InvalidName(name.to_owned()));
        }
        Ok(WitnessKey {
            name: name.to_owned(),
            id: key_id(name, key.as_bytes()),
            key,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn id(&self) -> u32 {
        self.id
    }

    /// `<name>+<8 hex>`, for messages.
    pub fn key_ref(&self) -> String {
        format!("{}+{:08x}", self.name, self.id)
    }

    /// Checks a decoded cosignature (timestamp || Ed25519 signature, without the key ID) over
    /// `note_text`; the timestamp it carries if it verifies.
    pub fn verify_cosignature(&self, note_text: &str, sig: &[u8]) -> Option<u64> {
        let (ts, sig) = sig.split_first_chunk::<8>()?;
        let timestamp = u64::from_be_bytes(*ts);
        if timestamp > MAX_TIMESTAMP {
            return None;
        }
        let sig = ed25519_dalek::Signature::from_slice(sig).ok()?;
        self.key
            .verify_strict(&signed_message(note_text, timestamp), &sig)
            .ok()
            .map(|()| timestamp)
    }
}

impl FromStr for WitnessKey {
    type Err = CosignatureError;

    fn from_str(vkey: &str) -> Result<Self, CosignatureError> {
        let bad = || CosignatureError::MalformedVkey(vkey.to_owned());
        let mut parts = vkey.splitn(3, '+');
        let (Some(name), Some(id_hex), Some(key_b64)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(bad());
        };
        if !is_valid_name(name) || id_hex.len() != 8 {
            return Err(bad());
        }
        let id = u32::from_str_radix(id_hex, 16).map_err(|_| bad())?;
        let raw = BASE64_STANDARD.decode(key_b64).map_err(|_| bad())?;
        let (&alg, key) = raw.split_first().ok_or_else(bad)?;
        if alg != ALG_COSIGNATURE_V1 {
            return Err(CosignatureError::WrongKeyType {
                vkey: vkey.to_owned(),
                found: alg,
            });
        }
        let key: [u8; 32] = key.try_into().map_err(|_| bad())?;
        if key_id(name, &key) != id {
            return Err(CosignatureError::VkeyIdMismatch(vkey.to_owned()));
        }
        let key = ed25519_dalek::VerifyingKey::from_bytes(&key).map_err(|_| bad())?;
        Ok(WitnessKey {
            name: name.to_owned(),
            id,
            key,
        })
    }
}

impl fmt::Display for WitnessKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut raw = [0u8; 33];
        raw[0] = ALG_COSIGNATURE_V1;
        raw[1..].copy_from_slice(self.key.as_bytes());
        let b64 = BASE64_STANDARD.encode(raw);
        write!(f, "{}+{:08x}+{b64}", self.name, self.id)
    }
}

impl fmt::Debug for WitnessKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "WitnessKey({self})")
    }
}

impl signed_note::Verifier for WitnessKey {
    fn name(&self) -> &str {
        &self.name
    }
    fn key_id(&self) -> u32 {
        self.id
    }
    fn verify(&self, msg: &[u8], sig: &[u8]) -> bool {
        std::str::from_utf8(msg).is_ok_and(|text| self.verify_cosignature(text, sig).is_some())
    }
}

/// A witness's signing side: an Ed25519 key used for cosignature/v1 only.
///
/// The key file is the ordinary signed-note private key (`embargo keygen`'s format, as Go's
/// `NewSignerForCosignatureV1` also reads); only the key ID and vkey differ (type 0x04).
/// Operators must not use the same key to sign anything else.
#[derive(Clone)]
pub struct Cosigner {
    public: WitnessKey,
    secret: ed25519_dalek::SigningKey,
}

impl Cosigner {
    /// The cosigner for a signed-note key pair (its name becomes the witness name).
    pub fn new(pair: &KeyPair) -> Self {
        let secret = pair.ed25519().clone();
        let public = WitnessKey {
            name: pair.name().to_owned(),
            id: key_id(pair.name(), secret.verifying_key().as_bytes()),
            key: secret.verifying_key(),
        };
        Cosigner { public, secret }
    }

    /// The witness's verifier key (type 0x04), which clients and logs configure.
    pub fn public(&self) -> &WitnessKey {
        &self.public
    }

    /// One note signature line, `— <name> base64(key ID || timestamp || signature)\n`, over
    /// `note_text` at `timestamp` (POSIX seconds, never zero).
    pub fn cosign(&self, note_text: &str, timestamp: u64) -> Result<String, CosignatureError> {
        use ed25519_dalek::Signer as _;
        if timestamp == 0 || timestamp > MAX_TIMESTAMP {
            return Err(CosignatureError::TimestampOutOfRange(timestamp));
        }
        let sig = self.secret.sign(&signed_message(note_text, timestamp));
        let mut raw = Vec::with_capacity(SIGNATURE_LEN);
        raw.extend_from_slice(&self.public.id.to_be_bytes());
        raw.extend_from_slice(&timestamp.to_be_bytes());
        raw.extend_from_slice(&sig.to_bytes());
        Ok(format!(
            "— {} {}\n",
            self.public.name,
            BASE64_STANDARD.encode(raw)
        ))
    }
}

impl fmt::Debug for Cosigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Cosigner({}, secret elided)", self.public)
    }
}

/// One witness's valid cosignature on a note.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cosigned {
    pub witness: String,
    pub timestamp: u64,
}

/// Which of the trusted witnesses cosigned a note. Lines from unknown keys are ignored.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CosignatureReport {
    /// Witnesses with a verifying cosignature (key refs), with its timestamp.
    pub valid: Vec<Cosigned>,
    /// Witnesses whose name and key ID appear but whose signature does not verify.
    pub invalid: Vec<String>,
    /// Witnesses with no line on the note.
    pub missing: Vec<String>,
}

impl CosignatureReport {
    /// Succeeds if at least `needed` trusted witnesses cosigned; the error names the others.
    pub fn require(&self, needed: usize) -> Result<(), CosignatureError> {
        if self.valid.len() >= needed {
            return Ok(());
        }
        let mut missing = self.missing.clone();
        missing.extend(self.invalid.iter().map(|w| format!("{w} (bad signature)")));
        Err(CosignatureError::NotEnough {
            valid: self.valid.len(),
            needed,
            missing: missing.join(", "),
        })
    }
}

/// The note text and signature lines of a signed note, parsed by `signed_note` (which also
/// enforces UTF-8, no control characters and its size and signature-count limits).
pub fn split_note(note: &str) -> Result<(String, Vec<signed_note::Signature>), CosignatureError> {
    let malformed = |e: signed_note::NoteError| CosignatureError::MalformedNote(e.to_string());
    let parsed = signed_note::Note::from_bytes(note.as_bytes()).map_err(malformed)?;
    let text = String::from_utf8(parsed.text().to_vec())
        .map_err(|e| CosignatureError::MalformedNote(e.to_string()))?;
    let sigs = note[text.len() + 1..]
        .lines()
        .map(|line| signed_note::Signature::from_bytes(line.as_bytes()).map_err(malformed))
        .collect::<Result<Vec<_>, _>>()?;
    Ok((text, sigs))
}

/// Checks the cosignature lines of `note` against `witnesses`: which verify, which are
/// present but bad, and which are missing.
pub fn verify_cosignatures(
    note: &str,
    witnesses: &[WitnessKey],
) -> Result<CosignatureReport, CosignatureError> {
    let (text, sigs) = split_note(note)?;
    let mut report = CosignatureReport::default();
    for w in witnesses {
        let mine: Vec<_> = sigs
            .iter()
            .filter(|s| s.name() == w.name && s.id() == w.id)
            .collect();
        let valid = mine
            .iter()
            .find_map(|s| w.verify_cosignature(&text, s.signature()));
        match (valid, mine.is_empty()) {
            (Some(timestamp), _) => report.valid.push(Cosigned {
                witness: w.key_ref(),
                timestamp,
            }),
            (None, false) => report.invalid.push(w.key_ref()),
            (None, true) => report.missing.push(w.key_ref()),
        }
    }
    Ok(report)
}

/// The timestamp a cosignature line carries, without verifying it (for display).
pub fn timestamp_of(sig: &signed_note::Signature) -> Option<u64> {
    let ts = sig.signature().first_chunk::<8>()?;
    (sig.signature().len() == SIGNATURE_LEN - 4).then(|| u64::from_be_bytes(*ts))
}

#[cfg(test)]
mod tests {
    use super::*;

    const BODY: &str =
        "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n";

    fn cosigner(name: &str) -> Cosigner {
        Cosigner::new(&KeyPair::generate(name).unwrap())
    }

    #[test]
    fn signed_message_is_the_spec_example_byte_for_byte() {
        let want = "cosignature/v1\ntime 1679315147\nexample.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n";
        assert_eq!(signed_message(BODY, 1679315147), want.as_bytes());
    }

    #[test]
    fn cosignature_line_layout_is_key_id_timestamp_signature() {
        let c = cosigner("witness.example/w1");
        let line = c.cosign(BODY, 1679315147).unwrap();
        let b64 = line
            .strip_prefix("— witness.example/w1 ")
            .and_then(|l| l.strip_suffix('\n'))
            .unwrap();
        let raw = BASE64_STANDARD.decode(b64).unwrap();
        assert_eq!(raw.len(), 76);
        assert_eq!(raw[..4], c.public().id().to_be_bytes());
        assert_eq!(raw[4..12], 1679315147u64.to_be_bytes());
        let sig = ed25519_dalek::Signature::from_slice(&raw[12..]).unwrap();
        let msg = format!("cosignature/v1\ntime 1679315147\n{BODY}");
        c.public.key.verify_strict(msg.as_bytes(), &sig).unwrap();
    }

    #[test]
    fn key_id_uses_type_byte_0x04_not_0x01() {
        let pair = KeyPair::generate("witness.example/w1").unwrap();
        let c = Cosigner::new(&pair);
        assert_ne!(c.public().id(), pair.public().id());
        let pk = pair.public().ed25519().as_bytes();
        let mut h = Sha256::new();
        h.update(b"witness.example/w1\n\x04");
        h.update(pk);
        assert_eq!(c.public().id().to_be_bytes(), h.finalize()[..4]);
    }

    /// A real witness vkey of type 0x04, from transparency-dev/formats
    /// (note/note_cosigv1_test.go, "native algEd25519CosignatureV1 verifier").
    #[test]
    fn parses_a_published_cosignature_v1_vkey_and_checks_its_id() {
        let vkey = "remora.n621.de+da77ade7+BOvN63jn/bLvkieywe8R6UYAtVtNbZpXh34x7onlmtw2";
        let k: WitnessKey = vkey.parse().unwrap();
        assert_eq!(k.id(), 0xda77ade7);
        assert_eq!(k.to_string(), vkey);
        let wrong_id = vkey.replace("da77ade7", "da77ade8");
        assert!(matches!(
            wrong_id.parse::<WitnessKey>(),
            Err(CosignatureError::VkeyIdMismatch(_))
        ));
    }

    #[test]
    fn an_ordinary_note_vkey_is_not_a_witness_key() {
        let vkey = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
        assert!(matches!(
            vkey.parse::<WitnessKey>(),
            Err(CosignatureError::WrongKeyType { found: 1, .. })
        ));
        assert!("nonsense".parse::<WitnessKey>().is_err());
    }

    /// The spec's example cosigned checkpoint (key not published): its witness line parses,
    /// carries key ID 8d66cf3f and timestamp 1679315147; and transparency-dev/formats'
    /// `TestCosignatureTimestamp` vector carries 1727964367.
    #[test]
    fn timestamps_of_published_cosignatures() {
        let note = "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n\n\u{2014} example.com/behind-the-sofa Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=\n\u{2014} witness.example.com/w1 jWbPPwAAAABkGFDLEZMHwSRaJNiIDoe9DYn/zXcrtPHeolMI5OWXEhZCB9dlrDJsX3b2oyin1nPZqhf5nNo0xUe+mbIUBkBIfZ+qnA==\n";
        let (text, sigs) = split_note(note).unwrap();
        assert_eq!(text, BODY);
        assert_eq!(sigs[1].id(), 0x8d66cf3f);
        assert_eq!(timestamp_of(&sigs[1]), Some(1679315147));
        assert_eq!(
            timestamp_of(&sigs[0]),
            None,
            "a 0x01 signature has no timestamp"
        );
        let line = "\u{2014} w ZGhGuQAAAABm/qTPeyKXD+R2rzyQsxPiP8mXum7qq/iF0u4vanlqJyocWODBt97w9uL+8qT7S5gxEHWWOworDcFiEBYJXORmnFBOBA==";
        let sig = signed_note::Signature::from_bytes(line.as_bytes()).unwrap();
        assert_eq!(timestamp_of(&sig), Some(1727964367));
    }

    #[test]
    fn report_says_which_witnesses_are_valid_invalid_or_missing() {
        let log = KeyPair::generate("example.com/behind-the-sofa").unwrap();
        let (a, b, c) = (
            cosigner("w.example/a"),
            cosigner("w.example/b"),
            cosigner("w.example/c"),
        );
        let mut note = log.sign_note(BODY).unwrap();
        note += &a.cosign(BODY, 10).unwrap();
        // b signs another body: its line is present but bad here.
        note += &b
            .cosign(
                "other\n1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n",
                11,
            )
            .unwrap();
        let stranger = cosigner("w.example/stranger");
        note += &stranger.cosign(BODY, 12).unwrap();
        let keys = [a.public().clone(), b.public().clone(), c.public().clone()];
        let r = verify_cosignatures(&note, &keys).unwrap();
        assert_eq!(
            r.valid,
            vec![Cosigned {
                witness: a.public().key_ref(),
                timestamp: 10
            }]
        );
        assert_eq!(r.invalid, vec![b.public().key_ref()]);
        assert_eq!(r.missing, vec![c.public().key_ref()]);
        r.require(1).unwrap();
        let err = r.require(2).unwrap_err().to_string();
        assert!(
            err.contains("w.example/c+") && err.contains("bad signature"),
            "{err}"
        );
    }

    #[test]
    fn cosignature_covers_extension_lines() {
        let c = cosigner("w.example/a");
        let body = format!("{BODY}extension\n");
        let line = c.cosign(&body, 5).unwrap();
        let note = format!("{body}\n{line}");
        let tampered = note.replacen("extension", "extensioN", 1);
        let keys = [c.public().clone()];
        assert_eq!(verify_cosignatures(&note, &keys).unwrap().valid.len(), 1);
        assert_eq!(
            verify_cosignatures(&tampered, &keys).unwrap().invalid.len(),
            1
        );
    }

    #[test]
    fn zero_and_oversized_timestamps_are_refused() {
        let c = cosigner("w.example/a");
        assert!(c.cosign(BODY, 0).is_err());
        assert!(c.cosign(BODY, 1 << 63).is_err());
    }

    #[test]
    fn works_as_a_signed_note_verifier() {
        let c = cosigner("w.example/a");
        let note = format!("{BODY}\n{}", c.cosign(BODY, 7).unwrap());
        let parsed = signed_note::Note::from_bytes(note.as_bytes()).unwrap();
        let list = signed_note::VerifierList::new(vec![Box::new(c.public().clone())]);
        let (ok, _) = parsed.verify(&list).unwrap();
        assert_eq!(ok.len(), 1);
    }
}
