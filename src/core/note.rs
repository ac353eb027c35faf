//! Keys and signed notes (c2sp.org/signed-note), Ed25519 only.
//!
//! Owns the one key format every party uses: the log, witnesses, platforms and auditors all have a
//! private key `PRIVATE+KEY+<name>+<id>+<base64(0x01||seed)>` and a verifier key ("vkey")
//! `<name>+<id>+<base64(0x01||public key)>`. Note parsing and signature checking are delegated to
//! Cloudflare's `signed_note` crate (a port of Go's `sumdb/note`), which the conformance tests pin
//! against the shared vectors. This module never touches the disk except in [`KeyPair::write_file`]
//! and [`KeyPair::read_file`].

use base64::prelude::{Engine, BASE64_STANDARD};
use ed25519_dalek::Signer as _;
use sha2::{Digest, Sha256};
use std::fmt;
use std::path::Path;
use std::str::FromStr;

/// The signature type byte for Ed25519 in signed-note key IDs and vkeys.
const ALG_ED25519: u8 = 0x01;

/// What went wrong with a key or a note.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("malformed verifier key {0:?}: expected <name>+<8 hex digits>+<base64 of 0x01 || 32-byte Ed25519 key>")]
    MalformedVkey(String),
    #[error("verifier key {0:?} has a key ID that does not match its name and public key")]
    VkeyIdMismatch(String),
    #[error("verifier key {0:?} is not an Ed25519 key (signature type byte must be 0x01)")]
    UnsupportedAlgorithm(String),
    #[error("malformed private key: expected PRIVATE+KEY+<name>+<8 hex digits>+<base64 of 0x01 || 32-byte seed>")]
    MalformedPrivateKey,
    #[error("private key's ID does not match its name and public key: the key file is corrupt")]
    PrivateKeyIdMismatch,
    #[error("invalid key name {0:?}: names must be non-empty and contain no spaces or '+'")]
    InvalidName(String),
    #[error("cannot read key file {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("cannot write key file {path}: {source}")]
    Write {
        path: String,
        source: std::io::Error,
    },
    #[error(
        "refusing to overwrite existing key file {0}: remove it first or choose another --out"
    )]
    Exists(String),
}

/// Why a signed note was refused.
#[derive(Debug, thiserror::Error)]
pub enum NoteError {
    #[error("malformed signed note: {0}")]
    Malformed(String),
    #[error("the note carries no valid signature by {0}")]
    NotSigned(String),
    #[error(
        "the note's signature by {0} does not verify: it was altered or signed by another key"
    )]
    BadSignature(String),
}

/// Reports whether `name` is a valid signed-note key name.
pub fn is_valid_name(name: &str) -> bool {
    !name.is_empty() && !name.chars().any(char::is_whitespace) && !name.contains('+')
}

/// `SHA-256(name || 0x0A || 0x01 || public key)[:4]`, big-endian.
fn key_id(name: &str, public: &[u8; 32]) -> u32 {
    let mut h = Sha256::new();
    h.update(name.as_bytes());
    h.update(b"\n");
    h.update([ALG_ED25519]);
    h.update(public);
    let d = h.finalize();
    u32::from_be_bytes([d[0], d[1], d[2], d[3]])
}

/// A verifier key: a name, its key ID and an Ed25519 public key.
#[derive(Clone, PartialEq, Eq)]
pub struct PublicKey {
    name: String,
    id: u32,
    key: ed25519_dalek::VerifyingKey,
}

impl PublicKey {
    /// Builds the vkey for `name` and an Ed25519 public key.
    pub fn new(name: &str, key: ed25519_dalek::VerifyingKey) -> Result<Self, KeyError> {
        if !is_valid_name(name) {
            return Err(KeyError::InvalidName(name.to_owned()));
        }
        let id = key_id(name, key.as_bytes());
        Ok(PublicKey {
            name: name.to_owned(),
            id,
            key,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn id(&self) -> u32 {
        self.id
    }

    /// `<name>+<8 hex>`: the identity used as DSSE `keyid` and in error messages.
    pub fn key_ref(&self) -> String {
        format!("{}+{:08x}", self.name, self.id)
    }

    /// Checks an Ed25519 signature over `msg`. Uses strict verification (no malleable
    /// signatures, no small-order keys).
    pub fn verify(&self, msg: &[u8], sig: &[u8]) -> bool {
        let Ok(sig) = ed25519_dalek::Signature::from_slice(sig) else {
            return false;
        };
        self.key.verify_strict(msg, &sig).is_ok()
    }

    pub fn ed25519(&self) -> &ed25519_dalek::VerifyingKey {
        &self.key
    }
}

impl FromStr for PublicKey {
    type Err = KeyError;

    fn from_str(vkey: &str) -> Result<Self, KeyError> {
        let bad = || KeyError::MalformedVkey(vkey.to_owned());
        let mut parts = vkey.splitn(3, '+');
        let (Some(name), Some(id_hex), Some(key_b64)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(bad());
        };
        if !is_valid_name(name)
            || id_hex.len() != 8
            || !id_hex.bytes().all(|b| b.is_ascii_hexdigit())
        {
            return Err(bad());
        }
        let id = u32::from_str_radix(id_hex, 16).map_err(|_| bad())?;
        let raw = BASE64_STANDARD.decode(key_b64).map_err(|_| bad())?;
        match raw.split_first() {
            Some((&ALG_ED25519, key)) => {
                let key: [u8; 32] = key.try_into().map_err(|_| bad())?;
                if key_id(name, &key) != id {
                    return Err(KeyError::VkeyIdMismatch(vkey.to_owned()));
                }
                let key = ed25519_dalek::VerifyingKey::from_bytes(&key).map_err(|_| bad())?;
                Ok(PublicKey {
                    name: name.to_owned(),
                    id,
                    key,
                })
            }
            Some(_) => Err(KeyError::UnsupportedAlgorithm(vkey.to_owned())),
            None => Err(bad()),
        }
    }
}

impl fmt::Display for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut raw = [0u8; 33];
        raw[0] = ALG_ED25519;
        raw[1..].copy_from_slice(self.key.as_bytes());
        write!(
            f,
            "{}+{:08x}+{}",
            self.name,
            self.id,
            BASE64_STANDARD.encode(raw)
        )
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({self})")
    }
}

impl serde::Serialize for PublicKey {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for PublicKey {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

impl signed_note::Verifier for PublicKey {
    fn name(&self) -> &str {
        &self.name
    }
    fn key_id(&self) -> u32 {
        self.id
    }
    fn verify(&self, msg: &[u8], sig: &[u8]) -> bool {
        PublicKey::verify(self, msg, sig)
    }
}

/// A private key: a name and an Ed25519 signing key. Never printed by `Debug`.
#[derive(Clone)]
pub struct KeyPair {
    public: PublicKey,
    secret: ed25519_dalek::SigningKey,
}

impl KeyPair {
    /// A fresh key from the operating system's randomness.
    pub fn generate(name: &str) -> Result<Self, KeyError> {
        let secret = ed25519_dalek::SigningKey::generate(&mut rand::rngs::OsRng);
        Self::from_secret(name, secret)
    }

    fn from_secret(name: &str, secret: ed25519_dalek::SigningKey) -> Result<Self, KeyError> {
        let public = PublicKey::new(name, secret.verifying_key())?;
        Ok(KeyPair { public, secret })
    }

    /// Parses `PRIVATE+KEY+<name>+<id>+<base64(0x01 || seed)>` (Go's `sumdb/note` format).
    pub fn from_private_key(skey: &str) -> Result<Self, KeyError> {
        let skey = skey.trim();
        let rest = skey
            .strip_prefix("PRIVATE+KEY+")
            .ok_or(KeyError::MalformedPrivateKey)?;
        let mut parts = rest.splitn(3, '+');
        let (Some(name), Some(id_hex), Some(b64)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(KeyError::MalformedPrivateKey);
        };
        if id_hex.len() != 8 {
            return Err(KeyError::MalformedPrivateKey);
        }
        let id = u32::from_str_radix(id_hex, 16).map_err(|_| KeyError::MalformedPrivateKey)?;
        let raw = BASE64_STANDARD
            .decode(b64)
            .map_err(|_| KeyError::MalformedPrivateKey)?;
        let seed: [u8; 32] = match raw.split_first() {
            Some((&ALG_ED25519, seed)) => {
                seed.try_into().map_err(|_| KeyError::MalformedPrivateKey)?
            }
            _ => return Err(KeyError::MalformedPrivateKey),
        };
        let pair = Self::from_secret(name, ed25519_dalek::SigningKey::from_bytes(&seed))
            .map_err(|_| KeyError::MalformedPrivateKey)?;
        if pair.public.id != id {
            return Err(KeyError::PrivateKeyIdMismatch);
        }
        Ok(pair)
    }

    /// The private key in its text form. Handle with care.
    pub fn to_private_key(&self) -> String {
        let mut raw = [0u8; 33];
        raw[0] = ALG_ED25519;
        raw[1..].copy_from_slice(self.secret.as_bytes());
        format!(
            "PRIVATE+KEY+{}+{:08x}+{}",
            self.public.name,
            self.public.id,
            BASE64_STANDARD.encode(raw)
        )
    }

    pub fn public(&self) -> &PublicKey {
        &self.public
    }

    pub fn name(&self) -> &str {
        &self.public.name
    }

    /// The Ed25519 signing key (escrow trustees derive their X25519 key from it).
    pub fn ed25519(&self) -> &ed25519_dalek::SigningKey {
        &self.secret
    }

    /// An Ed25519 signature over `msg`.
    pub fn sign(&self, msg: &[u8]) -> [u8; 64] {
        self.secret.sign(msg).to_bytes()
    }

    /// Signs `text` (which must end in a newline) as a signed note with this one key.
    pub fn sign_note(&self, text: &str) -> Result<String, NoteError> {
        let mut note = signed_note::Note::new(text.as_bytes(), &[])
            .map_err(|e| NoteError::Malformed(e.to_string()))?;
        note.add_sigs(&[self])
            .map_err(|e| NoteError::Malformed(e.to_string()))?;
        String::from_utf8(note.to_bytes()).map_err(|e| NoteError::Malformed(e.to_string()))
    }

    /// Reads a private key file written by [`KeyPair::write_file`].
    pub fn read_file(path: &Path) -> Result<Self, KeyError> {
        let text = std::fs::read_to_string(path).map_err(|source| KeyError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Self::from_private_key(&text)
    }

    /// Writes the private key with mode 0600, refusing to overwrite an existing file.
    pub fn write_file(&self, path: &Path) -> Result<(), KeyError> {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        let werr = |source| KeyError::Write {
            path: path.display().to_string(),
            source,
        };
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
            .map_err(|e| {
                if e.kind() == std::io::ErrorKind::AlreadyExists {
                    KeyError::Exists(path.display().to_string())
                } else {
                    werr(e)
                }
            })?;
        writeln!(f, "{}", self.to_private_key()).map_err(werr)?;
        f.sync_all().map_err(werr)
    }
}

impl fmt::Debug for KeyPair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyPair({}, secret elided)", self.public)
    }
}

impl signed_note::Signer for KeyPair {
    fn name(&self) -> &str {
        &self.public.name
    }
    fn key_id(&self) -> u32 {
        self.public.id
    }
    fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, signature::Error> {
        Ok(KeyPair::sign(self, msg).to_vec())
    }
}

/// Verifies a signed note against one trusted key and returns its text (ending in a newline).
///
/// Signatures by other keys are ignored, as the spec requires; the note must carry a valid
/// signature by `key`.
pub fn open_note(note: &str, key: &PublicKey) -> Result<String, NoteError> {
    let parsed = signed_note::Note::from_bytes(note.as_bytes())
        .map_err(|e| NoteError::Malformed(e.to_string()))?;
    let verifiers = signed_note::VerifierList::new(vec![Box::new(key.clone())]);
    match parsed.verify(&verifiers) {
        Ok(_) => String::from_utf8(parsed.text().to_vec())
            .map_err(|e| NoteError::Malformed(e.to_string())),
        Err(signed_note::NoteError::InvalidSignature { .. }) => {
            Err(NoteError::BadSignature(key.key_ref()))
        }
        Err(signed_note::NoteError::UnverifiedNote) => Err(NoteError::NotSigned(key.key_ref())),
        Err(e) => Err(NoteError::Malformed(e.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_key_round_trips_through_text() {
        let k = KeyPair::generate("example.com/log").unwrap();
        let back = KeyPair::from_private_key(&k.to_private_key()).unwrap();
        assert_eq!(back.public(), k.public());
        let vkey: PublicKey = k.public().to_string().parse().unwrap();
        assert_eq!(&vkey, k.public());
    }

    #[test]
    fn signed_note_opens_only_with_its_key() {
        let k = KeyPair::generate("a.example").unwrap();
        let other = KeyPair::generate("a.example").unwrap();
        let note = k.sign_note("hello\n").unwrap();
        assert_eq!(open_note(&note, k.public()).unwrap(), "hello\n");
        assert!(matches!(
            open_note(&note, other.public()),
            Err(NoteError::NotSigned(_))
        ));
        let tampered = note.replace("hello", "hullo");
        assert!(matches!(
            open_note(&tampered, k.public()),
            Err(NoteError::BadSignature(_))
        ));
    }

    #[test]
    fn invalid_names_are_refused() {
        assert!(KeyPair::generate("has space").is_err());
        assert!(KeyPair::generate("has+plus").is_err());
        assert!(KeyPair::generate("").is_err());
    }
}
