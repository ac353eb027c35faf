//! Checkpoints (c2sp.org/tlog-checkpoint): the log's signed statement of its size and root hash.
//!
//! Owns the three-line note body and its signing and verification. Never reads tiles or the
//! disk: that is the tile store's job (`log/store.rs`).

use crate::core::note::{self, KeyPair, NoteError, PublicKey};
use crate::core::tlog::Hash;
use base64::prelude::{Engine, BASE64_STANDARD};

/// The body of a checkpoint: origin, tree size, root hash (no extension lines).
#[derive(Clone, Debug, PartialEq)]
pub struct Checkpoint {
    pub origin: String,
    pub size: u64,
    pub root: Hash,
}

/// Why a checkpoint was refused.
#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    #[error(transparent)]
    Note(#[from] NoteError),
    #[error("malformed checkpoint: {0}")]
    Malformed(&'static str),
    #[error("checkpoint is for log {found:?}, expected {expected:?}")]
    WrongOrigin { expected: String, found: String },
}

impl Checkpoint {
    /// The note text: `<origin>\n<size>\n<base64 root>\n`.
    pub fn body(&self) -> String {
        format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.size,
            BASE64_STANDARD.encode(self.root.0)
        )
    }

    /// Signs the body with the log's key, producing the served checkpoint.
    pub fn sign(&self, key: &KeyPair) -> Result<SignedCheckpoint, NoteError> {
        let text = key.sign_note(&self.body())?;
        Ok(SignedCheckpoint {
            checkpoint: self.clone(),
            text,
        })
    }

    /// Parses a note body. Extension lines are allowed (and ignored), as the spec says.
    pub fn parse_body(text: &str) -> Result<Self, CheckpointError> {
        let mut lines = text.split('\n');
        let origin = lines.next().filter(|l| !l.is_empty());
        let size = lines.next();
        let root = lines.next();
        let (Some(origin), Some(size), Some(root)) = (origin, size, root) else {
            return Err(CheckpointError::Malformed(
                "expected origin, size and root hash lines",
            ));
        };
        if size.is_empty() || (size.len() > 1 && size.starts_with('0')) {
            return Err(CheckpointError::Malformed(
                "tree size must be decimal without leading zeroes",
            ));
        }
        let size = size
            .parse::<u64>()
            .map_err(|_| CheckpointError::Malformed("tree size is not a decimal number"))?;
        let root = BASE64_STANDARD
            .decode(root)
            .ok()
            .and_then(|r| <[u8; 32]>::try_from(r).ok())
            .ok_or(CheckpointError::Malformed(
                "root hash is not 32 bytes of base64",
            ))?;
        Ok(Checkpoint {
            origin: origin.to_owned(),
            size,
            root: Hash(root),
        })
    }
}

/// A checkpoint together with the exact signed-note text it was served as.
#[derive(Clone, Debug, PartialEq)]
pub struct SignedCheckpoint {
    pub checkpoint: Checkpoint,
    /// The full signed note, byte for byte as served at `/checkpoint`.
    pub text: String,
}

impl SignedCheckpoint {
    /// Verifies `text` as a checkpoint signed by `key` whose origin is the key's name.
    pub fn verify(text: &str, key: &PublicKey) -> Result<Self, CheckpointError> {
        let body = note::open_note(text, key)?;
        let checkpoint = Checkpoint::parse_body(&body)?;
        if checkpoint.origin != key.name() {
            return Err(CheckpointError::WrongOrigin {
                expected: key.name().to_owned(),
                found: checkpoint.origin,
            });
        }
        Ok(SignedCheckpoint {
            checkpoint,
            text: text.to_owned(),
        })
    }

    pub fn size(&self) -> u64 {
        self.checkpoint.size
    }

    pub fn root(&self) -> Hash {
        self.checkpoint.root
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signed_checkpoint_round_trips() {
        let key = KeyPair::generate("example.com/log").unwrap();
        let cp = Checkpoint {
            origin: "example.com/log".into(),
            size: 42,
            root: Hash([7; 32]),
        };
        let signed = cp.sign(&key).unwrap();
        assert!(signed.text.starts_with("example.com/log\n42\nBwcH"));
        let back = SignedCheckpoint::verify(&signed.text, key.public()).unwrap();
        assert_eq!(back.checkpoint, cp);
    }

    #[test]
    fn checkpoint_from_another_origin_is_refused() {
        let key = KeyPair::generate("example.com/log").unwrap();
        let cp = Checkpoint {
            origin: "example.com/other".into(),
            size: 1,
            root: Hash([0; 32]),
        };
        let signed = cp.sign(&key).unwrap();
        assert!(matches!(
            SignedCheckpoint::verify(&signed.text, key.public()),
            Err(CheckpointError::WrongOrigin { .. })
        ));
    }

    #[test]
    fn leading_zero_sizes_are_refused() {
        assert!(
            Checkpoint::parse_body("o\n01\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n")
                .is_err()
        );
        assert!(
            Checkpoint::parse_body("o\n0\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n").is_ok()
        );
    }
}
