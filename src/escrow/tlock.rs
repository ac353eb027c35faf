//! The drand `tlock` age stanza: wrapping a file key to a future round, and
//! unwrapping it with that round's (already verified) signature.
//!
//! Stanza format (drand/tlock, Go; thibmeu/tlock-rs): `-> tlock <round> <chain hash hex>`
//! with body `U (96-byte compressed G2) || V (16 bytes) || W (16 bytes)`, the
//! Boneh-Franklin IBE ciphertext of the 16-byte file key under identity
//! SHA-256(round BE).
//!
//! Encryption uses the `tlock` crate (=0.0.10, the same code `tlock_age` 0.0.10 uses),
//! but through our own [`age::Recipient`] that *propagates* its errors:
//! `tlock_age`'s recipient ignores them and writes an empty stanza (an undecryptable
//! file) on an invalid key. Decryption is reimplemented here (a line-for-line port of
//! `tlock::ibe::decrypt`) because `tlock` 0.0.10 `assert!`s (panics) when the
//! consistency check `U == r*G2` fails, which any wrong signature *or any tampered
//! stanza body with the right signature* triggers; here it is an error.
//!
//! Never: fetches signatures, verifies them (the caller passes a verified point, see
//! `Chain::verified_signature`), or panics on a malformed stanza.

use std::collections::HashSet;
use std::sync::Mutex;

use age::secrecy::ExposeSecret;
use age_core::format::{FileKey, Stanza};
use ark_bls12_381::{Bls12_381, Fr, G1Affine, G2Affine, G2Projective};
use ark_ec::{pairing::Pairing, CurveGroup, PrimeGroup};
use ark_ff::PrimeField;
use ark_serialize::{CanonicalDeserialize, CanonicalSerialize};
use sha2::{Digest, Sha256};

use crate::escrow::beacon::G2_SIZE;

/// The age stanza tag of drand timelock encryption.
pub const STANZA_TAG: &str = "tlock";
/// Length of a tlock stanza body for a G2 public key: U (96) || V (16) || W (16).
pub(crate) const BODY_LEN: usize = G2_SIZE + 16 + 16;

/// Wraps the age file key to `round` of a chain (the public key must already be
/// validated; the recipient re-checks and fails rather than write a bad stanza).
pub(crate) struct TlockRecipient {
    pub chain_hash: [u8; 32],
    pub public_key: Vec<u8>,
    pub round: u64,
}

impl age::Recipient for TlockRecipient {
    fn wrap_file_key(
        &self,
        file_key: &FileKey,
    ) -> Result<(Vec<Stanza>, HashSet<String>), age::EncryptError> {
        let fail = |why: String| {
            age::EncryptError::Io(std::io::Error::other(format!("tlock encryption: {why}")))
        };
        let mut body = Vec::with_capacity(BODY_LEN);
        tlock::encrypt(
            &mut body,
            &file_key.expose_secret()[..],
            &self.public_key,
            self.round,
        )
        .map_err(|e| fail(e.to_string()))?;
        if body.len() != BODY_LEN {
            return Err(fail(format!(
                "stanza body is {} bytes, expected {BODY_LEN}",
                body.len()
            )));
        }
        Ok((
            vec![Stanza {
                tag: STANZA_TAG.to_string(),
                args: vec![self.round.to_string(), hex::encode(self.chain_hash)],
                body,
            }],
            HashSet::new(),
        ))
    }
}

/// Why a tlock identity did not unwrap the file key (age's own error enum is too
/// coarse to say).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TlockProblem {
    NoStanza,
    WrongChain(String),
    WrongRound(u64),
    Malformed(String),
}

/// Unwraps a tlock stanza with a verified round signature. Records why it could
/// not, so the caller can give an actionable error.
pub(crate) struct TlockIdentity {
    pub chain_hash: [u8; 32],
    pub round: u64,
    pub signature: G1Affine,
    pub problem: Mutex<Option<TlockProblem>>,
}

impl TlockIdentity {
    fn record(&self, p: TlockProblem) {
        if let Ok(mut slot) = self.problem.lock() {
            // Keep the most specific problem: a matching-but-corrupt stanza beats a
            // mismatch, a mismatch beats "no stanza".
            let rank = |p: &TlockProblem| match p {
                TlockProblem::NoStanza => 0,
                TlockProblem::WrongChain(_) => 1,
                TlockProblem::WrongRound(_) => 2,
                TlockProblem::Malformed(_) => 3,
            };
            if slot.as_ref().is_none_or(|old| rank(&p) >= rank(old)) {
                *slot = Some(p);
            }
        }
    }

    pub fn take_problem(&self) -> Option<TlockProblem> {
        self.problem.lock().ok().and_then(|mut p| p.take())
    }
}

impl age::Identity for TlockIdentity {
    fn unwrap_stanza(&self, stanza: &Stanza) -> Option<Result<FileKey, age::DecryptError>> {
        if stanza.tag != STANZA_TAG {
            return None;
        }
        let (round, hash) = match parse_args(stanza) {
            Ok(v) => v,
            Err(why) => {
                self.record(TlockProblem::Malformed(why));
                return Some(Err(age::DecryptError::InvalidHeader));
            }
        };
        if hash != self.chain_hash {
            self.record(TlockProblem::WrongChain(hex::encode(hash)));
            return None;
        }
        if round != self.round {
            self.record(TlockProblem::WrongRound(round));
            return None;
        }
        match ibe_decrypt(&self.signature, &stanza.body) {
            Ok(key) => Some(Ok(FileKey::new(Box::new(key)))),
            Err(why) => {
                self.record(TlockProblem::Malformed(why));
                Some(Err(age::DecryptError::DecryptionFailed))
            }
        }
    }

    fn unwrap_stanzas(&self, stanzas: &[Stanza]) -> Option<Result<FileKey, age::DecryptError>> {
        if !stanzas.iter().any(|s| s.tag == STANZA_TAG) {
            self.record(TlockProblem::NoStanza);
            return None;
        }
        stanzas.iter().find_map(|s| self.unwrap_stanza(s))
    }
}

/// Parses `<round> <chain hash hex>`.
pub(crate) fn parse_args(stanza: &Stanza) -> Result<(u64, [u8; 32]), String> {
    let [round, hash] = stanza.args.as_slice() else {
        return Err(format!(
            "tlock stanza has {} arguments, expected 2 (round, chain hash)",
            stanza.args.len()
        ));
    };
    let round = round
        .parse::<u64>()
        .map_err(|_| format!("tlock stanza round `{round}` is not a number"))?;
    let hash = hex::decode(hash)
        .ok()
        .and_then(|h| <[u8; 32]>::try_from(h.as_slice()).ok())
        .ok_or_else(|| format!("tlock stanza chain hash `{hash}` is not 32 bytes of hex"))?;
    Ok((round, hash))
}

/// A stanza's tag and, for tlock stanzas, its parsed `(round, chain hash)`.
pub(crate) type SeenStanza = (String, Option<Result<(u64, [u8; 32]), String>>);

/// Records every stanza's tag and tlock arguments without unwrapping anything.
#[derive(Default)]
pub(crate) struct StanzaRecorder {
    pub seen: Mutex<Vec<SeenStanza>>,
}

impl age::Identity for StanzaRecorder {
    fn unwrap_stanza(&self, _stanza: &Stanza) -> Option<Result<FileKey, age::DecryptError>> {
        None
    }

    fn unwrap_stanzas(&self, stanzas: &[Stanza]) -> Option<Result<FileKey, age::DecryptError>> {
        if let Ok(mut seen) = self.seen.lock() {
            for s in stanzas {
                let tlock = (s.tag == STANZA_TAG).then(|| parse_args(s));
                seen.push((s.tag.clone(), tlock));
            }
        }
        None
    }
}

/// Boneh-Franklin IBE decryption of a tlock stanza body with the round signature
/// (the IBE private key for identity SHA-256(round)). Port of `tlock::ibe::decrypt`
/// (0.0.10) for public keys on G2, with every failure an `Err`.
pub(crate) fn ibe_decrypt(signature: &G1Affine, body: &[u8]) -> Result<[u8; 16], String> {
    if body.len() != BODY_LEN {
        return Err(format!(
            "stanza body is {} bytes, expected {BODY_LEN}",
            body.len()
        ));
    }
    let (u_bytes, rest) = body.split_at(G2_SIZE);
    let (v, w) = rest.split_at(16);
    let u = G2Affine::deserialize_compressed(u_bytes)
        .map_err(|_| "stanza U is not a valid G2 point".to_string())?;

    // 1. sigma = V xor H2(e(signature, U)), H2 = SHA-256("IBE-H2" || gt reversed)[..16]
    let gt = Bls12_381::pairing(*signature, u);
    let mut gt_bytes = Vec::with_capacity(576);
    gt.serialize_compressed(&mut gt_bytes)
        .map_err(|_| "pairing output serialization failed".to_string())?;
    gt_bytes.reverse();
    let h2 = Sha256::new()
        .chain_update(b"IBE-H2")
        .chain_update(&gt_bytes)
        .finalize();
    let mut sigma = [0u8; 16];
    for i in 0..16 {
        sigma[i] = v[i] ^ h2[i];
    }

    // 2. msg = W xor H4(sigma), H4 = SHA-256("IBE-H4" || sigma)[..16]
    let h4 = Sha256::new()
        .chain_update(b"IBE-H4")
        .chain_update(sigma)
        .finalize();
    let mut msg = [0u8; 16];
    for i in 0..16 {
        msg[i] = w[i] ^ h4[i];
    }

    // 3. Check U == r * G2 with r = H3(sigma, msg): binds the ciphertext together.
    let h3 = Sha256::new()
        .chain_update(b"IBE-H3")
        .chain_update(sigma)
        .chain_update(msg)
        .finalize();
    let r = expand_drand_scalar(&h3).ok_or_else(|| "no scalar found for H3".to_string())?;
    let expected = (G2Projective::generator() * r).into_affine();
    if expected != u {
        return Err(
            "the IBE consistency check failed (wrong signature or tampered stanza)".to_string(),
        );
    }
    Ok(msg)
}

/// drand's H3 "expand": the first i in 1.. with SHA-256(i as u16 LE || h) (top bit
/// of the first byte cleared, read big-endian) below the group order.
fn expand_drand_scalar(h: &[u8]) -> Option<Fr> {
    for i in 1..u16::MAX {
        let mut d: [u8; 32] = Sha256::new()
            .chain_update(i.to_le_bytes())
            .chain_update(h)
            .finalize()
            .into();
        d[0] >>= 1;
        d.reverse();
        // Canonical deserialization succeeds only for values < r.
        if Fr::deserialize_compressed(&d[..]).is_ok() {
            return Some(Fr::from_le_bytes_mod_order(&d));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::escrow::beacon::{tests::SIG_1000, Chain};
    use age::Recipient as _;

    #[test]
    fn ibe_round_trip_with_tlock_crate_encryption() {
        let q = Chain::quicknet();
        let sig = q
            .verified_signature(1000, &hex::decode(SIG_1000).unwrap())
            .unwrap();
        let key = [7u8; 16];
        let mut body = Vec::new();
        tlock::encrypt(&mut body, &key[..], &q.public_key, 1000).unwrap();
        assert_eq!(ibe_decrypt(&sig, &body).unwrap(), key);
        // A key ending in zero bytes survives (tlock's decrypt trims them).
        let key = [1, 2, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        let mut body = Vec::new();
        tlock::encrypt(&mut body, &key[..], &q.public_key, 1000).unwrap();
        assert_eq!(ibe_decrypt(&sig, &body).unwrap(), key);
    }

    #[test]
    fn tampered_stanza_body_is_an_error_not_a_panic() {
        let q = Chain::quicknet();
        let sig = q
            .verified_signature(1000, &hex::decode(SIG_1000).unwrap())
            .unwrap();
        let mut body = Vec::new();
        tlock::encrypt(&mut body, &[9u8; 16][..], &q.public_key, 1000).unwrap();
        for i in [0, 50, 95, 96, 100, 111, 112, 120, 127] {
            let mut b = body.clone();
            b[i] ^= 0x01;
            assert!(ibe_decrypt(&sig, &b).is_err(), "byte {i}");
        }
        assert!(ibe_decrypt(&sig, &body[..127]).is_err());
        assert!(ibe_decrypt(&sig, &[]).is_err());
        assert!(ibe_decrypt(&sig, &[0u8; BODY_LEN]).is_err());
    }

    #[test]
    fn recipient_refuses_an_invalid_key_instead_of_writing_an_empty_stanza() {
        let mut pk = Chain::quicknet().public_key;
        pk[5] ^= 0x10;
        let r = TlockRecipient {
            chain_hash: [0; 32],
            public_key: pk,
            round: 5,
        };
        let fk = FileKey::new(Box::new([1u8; 16]));
        assert!(r.wrap_file_key(&fk).is_err());
    }
}
