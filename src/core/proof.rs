//! Proof bundles (c2sp.org/tlog-proof@v1): an entry's index, its inclusion proof and the signed
//! checkpoint it leads to, in one offline-verifiable text file (`.tlog-proof`).
//!
//! Owns the text format and the offline check. Never fetches anything.

use crate::core::checkpoint::{CheckpointError, SignedCheckpoint};
use crate::core::note::PublicKey;
use crate::core::tlog::{self, Hash, ProofError};
use base64::prelude::{Engine, BASE64_STANDARD};

pub const HEADER: &str = "c2sp.org/tlog-proof@v1";

/// A parsed tlog-proof.
#[derive(Clone, Debug, PartialEq)]
pub struct TlogProof {
    pub extra: Option<Vec<u8>>,
    pub index: u64,
    pub inclusion: Vec<Hash>,
    /// The checkpoint, verbatim (a signed note).
    pub checkpoint: String,
}

#[derive(Debug, thiserror::Error)]
pub enum TlogProofError {
    #[error("malformed tlog-proof: {0}")]
    Malformed(&'static str),
    #[error("the proof's checkpoint is not acceptable: {0}")]
    Checkpoint(#[from] CheckpointError),
    #[error("the entry is not in the checkpointed tree: {0}")]
    Inclusion(#[from] ProofError),
}

impl TlogProof {
    pub fn to_text(&self) -> String {
        let mut out = String::with_capacity(64 + 45 * self.inclusion.len() + self.checkpoint.len());
        out.push_str(HEADER);
        out.push('\n');
        if let Some(extra) = &self.extra {
            out.push_str("extra ");
            out.push_str(&BASE64_STANDARD.encode(extra));
            out.push('\n');
        }
        out.push_str(&format!("index {}\n", self.index));
        for h in &self.inclusion {
            out.push_str(&BASE64_STANDARD.encode(h.0));
            out.push('\n');
        }
        out.push('\n');
        out.push_str(&self.checkpoint);
        out
    }

    pub fn parse(text: &str) -> Result<Self, TlogProofError> {
        let (head, checkpoint) = text.split_once("\n\n").ok_or(TlogProofError::Malformed(
            "no empty line before the checkpoint",
        ))?;
        let mut lines = head.split('\n');
        if lines.next() != Some(HEADER) {
            return Err(TlogProofError::Malformed(
                "first line must be c2sp.org/tlog-proof@v1",
            ));
        }
        let mut line = lines.next();
        let mut extra = None;
        if let Some(e) = line.and_then(|l| l.strip_prefix("extra ")) {
            extra = Some(
                BASE64_STANDARD
                    .decode(e)
                    .map_err(|_| TlogProofError::Malformed("extra line is not base64"))?,
            );
            line = lines.next();
        }
        let index = line
            .and_then(|l| l.strip_prefix("index "))
            .filter(|d| !d.is_empty() && (d.len() == 1 || !d.starts_with('0')))
            .filter(|d| d.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|d| d.parse().ok())
            .ok_or(TlogProofError::Malformed(
                "expected an `index N` line (decimal, no leading zeroes)",
            ))?;
        let inclusion = lines
            .map(|l| {
                BASE64_STANDARD
                    .decode(l)
                    .ok()
                    .and_then(|b| <[u8; 32]>::try_from(b).ok())
                    .map(Hash)
                    .ok_or(TlogProofError::Malformed(
                        "inclusion proof lines must be 32-byte base64 hashes",
                    ))
            })
            .collect::<Result<_, _>>()?;
        Ok(TlogProof {
            extra,
            index,
            inclusion,
            checkpoint: checkpoint.to_owned(),
        })
    }

    /// Verifies the proof offline: the checkpoint is signed by `log_key`, and `entry` (the
    /// leaf's bytes) is at `index` in the checkpointed tree. Returns the verified checkpoint.
    pub fn verify(
        &self,
        log_key: &PublicKey,
        entry: &[u8],
    ) -> Result<SignedCheckpoint, TlogProofError> {
        let cp = SignedCheckpoint::verify(&self.checkpoint, log_key)?;
        tlog::verify_inclusion(
            &self.inclusion,
            cp.size(),
            cp.root(),
            self.index,
            tlog::record_hash(entry),
        )?;
        Ok(cp)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_example_parses_and_round_trips() {
        let text = "c2sp.org/tlog-proof@v1\nextra YWdl\nindex 73894\ngSKyXoYZUgZ6jduWYrkDOARinOMGJveXjgMkBTcdPlQ=\nB95lDa8R83lS8n0eG+o0buTxRKQTYFi//1U8anccXmA=\n\nexample.com/fancylog\n109482\nsFodV/vSp5O8n9a8QpW6PRY97tfOSW5bsc2Xl/EQi08=\n\n— example.com/fancylog hI2DJw==\n";
        let p = TlogProof::parse(text).unwrap();
        assert_eq!(p.index, 73894);
        assert_eq!(p.inclusion.len(), 2);
        assert_eq!(p.extra.as_deref(), Some(&b"age"[..]));
        assert!(p.checkpoint.starts_with("example.com/fancylog\n109482\n"));
        assert_eq!(p.to_text(), text);
    }

    #[test]
    fn malformed_proofs_are_refused() {
        for bad in [
            "c2sp.org/tlog-proof@v2\nindex 1\n\ncp\n",
            "c2sp.org/tlog-proof@v1\nindex 01\n\ncp\n",
            "c2sp.org/tlog-proof@v1\nindex 1\nnot-base64\n\ncp\n",
            "c2sp.org/tlog-proof@v1\nindex 1\n",
        ] {
            assert!(TlogProof::parse(bad).is_err(), "{bad:?}");
        }
    }
}
