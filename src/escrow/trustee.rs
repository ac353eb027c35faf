//! Trustees and their shares of an escrow's X25519 key.
//!
//! Trustees are identified by their Ed25519 signed-note keys. Shares are encrypted
//! to them with age's X25519 recipient type, using the standard Ed25519 -> X25519
//! conversion: the recipient is the Montgomery form of the Ed25519 public key
//! (`VerifyingKey::to_montgomery`, libsodium's `crypto_sign_ed25519_pk_to_curve25519`)
//! and the identity is the unclamped Ed25519 secret scalar
//! (`SigningKey::to_scalar_bytes`, which X25519 clamps to the signing scalar). Using
//! one key pair for Ed25519 signatures and X25519 key agreement is analysed in
//! "On using the same key pair for Ed25519 and an X25519 based KEM" (ePrint 2021/509).
//! So a trustee can also decrypt with the stock `age` CLI, given
//! [`trustee_age_identity`].
//!
//! A [`Share`] is 67 bytes: version (1) || threshold || index (x, 1..=n) ||
//! escrow X25519 public key (32) || Shamir value (32). Its SHA3-256 digest is
//! published at seal time in the [`EncryptedShare`], so the log can check each share
//! as it is posted, before it has K of them. Publishing the digest is safe: for K >= 2
//! any K-1 shares are uniformly random and independent of the secret, so a share has
//! 256 bits of min-entropy even given every other published share and its digest
//! (guessing it is a 2^256 preimage search); for K = 1 the share *is* the secret,
//! which the public escrow key already determines, and the digest adds nothing a
//! 2^256 search could not. The digest binds the share (collision resistance), so a
//! trustee cannot post a different share undetected.
//!
//! Never: touches the network or filesystem, or panics on bad shares or ciphertexts.

use std::fmt;
use std::io::Read;
use std::str::FromStr;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use bech32::{FromBase32, ToBase32, Variant};
use ed25519_dalek::{SigningKey, VerifyingKey};
use rand::{CryptoRng, RngCore};
use serde::{Deserialize, Serialize};
use sha3::{Digest, Sha3_256};
use zeroize::{Zeroize, Zeroizing};

use crate::escrow::{shamir, EscrowError};

/// The largest trustee set a lock may name.
pub const MAX_TRUSTEES: usize = 64;

const SHARE_VERSION: u8 = 1;
const SHARE_LEN: usize = 3 + 32 + 32;
const SHARE_TEXT_PREFIX: &str = "embargo-share-v1:";

/// K-of-N trustees for the X25519 stanza of an escrow.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Trustees {
    /// How many shares open the escrow (1..=keys.len()).
    pub threshold: u8,
    /// Trustee signed-note keys, in share order (share index = position + 1).
    pub keys: Vec<VerifyingKey>,
}

impl Trustees {
    /// Refuses threshold 0, threshold > n, n > 64, duplicate and weak keys.
    pub fn validate(&self) -> Result<(), EscrowError> {
        let n = self.keys.len();
        if n == 0 {
            return Err(EscrowError::Trustees(
                "no trustee keys; omit `trustees` to seal with the timelock only".into(),
            ));
        }
        if n > MAX_TRUSTEES {
            return Err(EscrowError::Trustees(format!(
                "{n} trustees; at most {MAX_TRUSTEES} are supported"
            )));
        }
        if self.threshold == 0 || usize::from(self.threshold) > n {
            return Err(EscrowError::Trustees(format!(
                "threshold {} is impossible with {n} trustees; it must be between 1 and {n}",
                self.threshold
            )));
        }
        for (i, k) in self.keys.iter().enumerate() {
            if k.is_weak() {
                return Err(EscrowError::Trustees(format!(
                    "trustee {} key {} is a small-order point; nothing can be encrypted to it",
                    i + 1,
                    B64.encode(k.as_bytes())
                )));
            }
            if self.keys[..i].contains(k) {
                return Err(EscrowError::Trustees(format!(
                    "trustee key {} is listed twice; each trustee must be distinct",
                    B64.encode(k.as_bytes())
                )));
            }
        }
        Ok(())
    }
}

/// One trustee's Shamir share of an escrow's X25519 secret.
#[derive(Clone, PartialEq, Eq)]
pub struct Share {
    /// The escrow's X25519 public key (the key the shares reconstruct).
    pub escrow_key: [u8; 32],
    /// Shares needed to open.
    pub threshold: u8,
    /// Shamir x coordinate, 1..=n (trustee position + 1).
    pub index: u8,
    value: [u8; 32],
}

impl Drop for Share {
    fn drop(&mut self) {
        self.value.zeroize();
    }
}

impl fmt::Debug for Share {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Share")
            .field("escrow_key", &hex::encode(self.escrow_key))
            .field("threshold", &self.threshold)
            .field("index", &self.index)
            .field("digest", &hex::encode(self.digest()))
            .finish_non_exhaustive()
    }
}

impl Share {
    /// The 67-byte encoding.
    pub fn to_bytes(&self) -> Zeroizing<Vec<u8>> {
        let mut out = Zeroizing::new(Vec::with_capacity(SHARE_LEN));
        out.push(SHARE_VERSION);
        out.push(self.threshold);
        out.push(self.index);
        out.extend_from_slice(&self.escrow_key);
        out.extend_from_slice(&self.value);
        out
    }

    /// Parses the 67-byte encoding.
    pub fn from_bytes(b: &[u8]) -> Result<Share, EscrowError> {
        if b.len() != SHARE_LEN {
            return Err(EscrowError::Share(format!(
                "a share is {SHARE_LEN} bytes, got {}",
                b.len()
            )));
        }
        if b[0] != SHARE_VERSION {
            return Err(EscrowError::Share(format!(
                "unknown share version {}; this build reads version {SHARE_VERSION}",
                b[0]
            )));
        }
        let (threshold, index) = (b[1], b[2]);
        if threshold == 0 || usize::from(threshold) > MAX_TRUSTEES {
            return Err(EscrowError::Share(format!(
                "threshold {threshold} is invalid"
            )));
        }
        if index == 0 || usize::from(index) > MAX_TRUSTEES {
            return Err(EscrowError::Share(format!("index {index} is invalid")));
        }
        let mut escrow_key = [0u8; 32];
        escrow_key.copy_from_slice(&b[3..35]);
        let mut value = [0u8; 32];
        value.copy_from_slice(&b[35..67]);
        Ok(Share {
            escrow_key,
            threshold,
            index,
            value,
        })
    }

    /// SHA3-256 of [`Share::to_bytes`]: what the commitment publishes.
    pub fn digest(&self) -> [u8; 32] {
        Sha3_256::digest(self.to_bytes().as_slice()).into()
    }

    /// Checks this share against a published digest.
    pub fn check_digest(&self, expected: &[u8; 32]) -> Result<(), EscrowError> {
        let computed = self.digest();
        if &computed != expected {
            return Err(EscrowError::ShareDigest {
                expected: hex::encode(expected),
                computed: hex::encode(computed),
            });
        }
        Ok(())
    }

    /// Text form: `embargo-share-v1:<base64 of the 67 bytes>`.
    pub fn to_text(&self) -> String {
        format!(
            "{SHARE_TEXT_PREFIX}{}",
            B64.encode(self.to_bytes().as_slice())
        )
    }

    /// Parses [`Share::to_text`].
    pub fn from_text(s: &str) -> Result<Share, EscrowError> {
        let b64 = s.trim().strip_prefix(SHARE_TEXT_PREFIX).ok_or_else(|| {
            EscrowError::Share(format!("a share starts with `{SHARE_TEXT_PREFIX}`"))
        })?;
        let bytes = Zeroizing::new(
            B64.decode(b64)
                .map_err(|e| EscrowError::Share(format!("bad base64: {e}")))?,
        );
        Share::from_bytes(&bytes)
    }
}

impl FromStr for Share {
    type Err = EscrowError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Share::from_text(s)
    }
}

impl Serialize for Share {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_text())
    }
}

impl<'de> Deserialize<'de> for Share {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = Zeroizing::new(String::deserialize(d)?);
        Share::from_text(&s).map_err(serde::de::Error::custom)
    }
}

/// A share encrypted to one trustee, as published in the commitment.
///
/// JSON: `{"trustee": base64 Ed25519 key, "ciphertext": base64 age file,
/// "share_digest": hex SHA3-256 of the plaintext share}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "EncryptedShareJson", into = "EncryptedShareJson")]
pub struct EncryptedShare {
    /// The trustee's signed-note key.
    pub trustee: VerifyingKey,
    /// A binary age file (one X25519 stanza) holding the 67-byte share.
    pub ciphertext: Vec<u8>,
    /// SHA3-256 of the plaintext share.
    pub share_digest: [u8; 32],
}

#[derive(Serialize, Deserialize)]
struct EncryptedShareJson {
    trustee: String,
    ciphertext: String,
    share_digest: String,
}

impl From<EncryptedShare> for EncryptedShareJson {
    fn from(e: EncryptedShare) -> Self {
        EncryptedShareJson {
            trustee: B64.encode(e.trustee.as_bytes()),
            ciphertext: B64.encode(&e.ciphertext),
            share_digest: hex::encode(e.share_digest),
        }
    }
}

impl TryFrom<EncryptedShareJson> for EncryptedShare {
    type Error = EscrowError;
    fn try_from(j: EncryptedShareJson) -> Result<Self, EscrowError> {
        let bad = |w: String| EscrowError::Share(format!("encrypted share: {w}"));
        let key = B64
            .decode(&j.trustee)
            .ok()
            .and_then(|k| <[u8; 32]>::try_from(k.as_slice()).ok())
            .ok_or_else(|| bad("`trustee` is not 32 bytes of base64".into()))?;
        let trustee = VerifyingKey::from_bytes(&key)
            .map_err(|_| bad("`trustee` is not an Ed25519 public key".into()))?;
        let ciphertext = B64
            .decode(&j.ciphertext)
            .map_err(|e| bad(format!("`ciphertext` is not base64: {e}")))?;
        let share_digest = hex::decode(&j.share_digest)
            .ok()
            .and_then(|d| <[u8; 32]>::try_from(d.as_slice()).ok())
            .ok_or_else(|| bad("`share_digest` is not 32 bytes of hex".into()))?;
        Ok(EncryptedShare {
            trustee,
            ciphertext,
            share_digest,
        })
    }
}

impl EncryptedShare {
    /// Checks a posted (plaintext) share against this commitment entry.
    pub fn check_share(&self, share: &Share) -> Result<(), EscrowError> {
        share.check_digest(&self.share_digest)
    }
}

/// The age X25519 recipient of a trustee's signed-note key.
pub fn trustee_age_recipient(key: &VerifyingKey) -> Result<age::x25519::Recipient, EscrowError> {
    if key.is_weak() {
        return Err(EscrowError::Trustees(
            "the trustee key is a small-order point".into(),
        ));
    }
    x25519_recipient(&key.to_montgomery().to_bytes())
}

/// The age X25519 identity of a trustee's signed-note signing key (clamps to the
/// Ed25519 signing scalar, so it matches [`trustee_age_recipient`]).
pub fn trustee_age_identity(key: &SigningKey) -> Result<age::x25519::Identity, EscrowError> {
    let scalar = Zeroizing::new(key.to_scalar_bytes());
    x25519_identity(&scalar)
}

/// An age X25519 identity from 32 secret bytes (clamped by X25519).
pub(crate) fn x25519_identity(secret: &[u8; 32]) -> Result<age::x25519::Identity, EscrowError> {
    let mut s = bech32::encode("age-secret-key-", secret.to_base32(), Variant::Bech32)
        .map_err(|e| EscrowError::Encrypt(format!("bech32: {e}")))?;
    s.make_ascii_uppercase();
    let id = age::x25519::Identity::from_str(&s)
        .map_err(|e| EscrowError::Encrypt(format!("X25519 identity: {e}")));
    s.zeroize();
    id
}

/// An age X25519 recipient from a 32-byte Montgomery u-coordinate.
pub(crate) fn x25519_recipient(public: &[u8; 32]) -> Result<age::x25519::Recipient, EscrowError> {
    let s = bech32::encode("age", public.to_base32(), Variant::Bech32)
        .map_err(|e| EscrowError::Encrypt(format!("bech32: {e}")))?;
    age::x25519::Recipient::from_str(&s)
        .map_err(|e| EscrowError::Encrypt(format!("X25519 recipient: {e}")))
}

/// The 32 bytes of an age X25519 recipient.
pub(crate) fn x25519_public_bytes(r: &age::x25519::Recipient) -> Result<[u8; 32], EscrowError> {
    let (_, data, _) =
        bech32::decode(&r.to_string()).map_err(|e| EscrowError::Encrypt(format!("bech32: {e}")))?;
    let bytes =
        Vec::<u8>::from_base32(&data).map_err(|e| EscrowError::Encrypt(format!("bech32: {e}")))?;
    <[u8; 32]>::try_from(bytes.as_slice())
        .map_err(|_| EscrowError::Encrypt("X25519 recipient is not 32 bytes".into()))
}

/// Splits the escrow secret among the trustees and encrypts each share to its
/// trustee (in trustee order).
pub(crate) fn make_shares<R: RngCore + CryptoRng>(
    secret: &[u8; 32],
    escrow_key: [u8; 32],
    trustees: &Trustees,
    rng: &mut R,
) -> Result<Vec<EncryptedShare>, EscrowError> {
    trustees.validate()?;
    let n = u8::try_from(trustees.keys.len())
        .map_err(|_| EscrowError::Trustees("too many trustees".into()))?;
    let points =
        shamir::split(secret, trustees.threshold, n, rng).map_err(EscrowError::Trustees)?;
    let mut out = Vec::with_capacity(points.len());
    for (key, (index, value)) in trustees.keys.iter().zip(points) {
        let share = Share {
            escrow_key,
            threshold: trustees.threshold,
            index,
            value,
        };
        let recipient = trustee_age_recipient(key)?;
        let encryptor =
            age::Encryptor::with_recipients(std::iter::once(&recipient as &dyn age::Recipient))
                .map_err(|e| EscrowError::Encrypt(e.to_string()))?;
        let mut ciphertext = Vec::with_capacity(256);
        let mut w = encryptor.wrap_output(&mut ciphertext)?;
        std::io::Write::write_all(&mut w, &share.to_bytes())?;
        w.finish()?;
        out.push(EncryptedShare {
            trustee: *key,
            ciphertext,
            share_digest: share.digest(),
        });
    }
    Ok(out)
}

/// Trustee side: decrypts one's own share and checks it against its published digest.
pub fn decrypt_share(enc: &EncryptedShare, key: &SigningKey) -> Result<Share, EscrowError> {
    let mine = key.verifying_key();
    if mine != enc.trustee {
        return Err(EscrowError::WrongTrustee {
            expected: B64.encode(enc.trustee.as_bytes()),
            given: B64.encode(mine.as_bytes()),
        });
    }
    let identity = trustee_age_identity(key)?;
    let decryptor = age::Decryptor::new_buffered(enc.ciphertext.as_slice()).map_err(|e| {
        EscrowError::Share(format!("the encrypted share is not a valid age file: {e}"))
    })?;
    let mut reader = decryptor
        .decrypt(std::iter::once(&identity as &dyn age::Identity))
        .map_err(|e| {
            EscrowError::Share(format!(
                "the encrypted share does not decrypt with this trustee key: {e}"
            ))
        })?;
    let mut plain = Zeroizing::new(Vec::with_capacity(SHARE_LEN));
    (&mut reader)
        .take(SHARE_LEN as u64 + 1)
        .read_to_end(&mut plain)
        .map_err(|e| EscrowError::Share(format!("the encrypted share is corrupt: {e}")))?;
    let share = Share::from_bytes(&plain)?;
    enc.check_share(&share)?;
    Ok(share)
}

/// Combines K shares into the escrow's X25519 identity, checking they belong to one
/// escrow and that the result matches the escrow key they name.
pub(crate) fn combine_shares(shares: &[Share]) -> Result<age::x25519::Identity, EscrowError> {
    let first = shares
        .first()
        .ok_or(EscrowError::NotEnoughShares { have: 0, need: 1 })?;
    let mut distinct: Vec<&Share> = Vec::new();
    for s in shares {
        if s.escrow_key != first.escrow_key {
            return Err(EscrowError::MismatchedShares(format!(
                "share {} is for escrow key {} but share {} is for {}",
                s.index,
                hex::encode(s.escrow_key),
                first.index,
                hex::encode(first.escrow_key)
            )));
        }
        if s.threshold != first.threshold {
            return Err(EscrowError::MismatchedShares(format!(
                "share {} says threshold {} but share {} says {}",
                s.index, s.threshold, first.index, first.threshold
            )));
        }
        match distinct.iter().find(|d| d.index == s.index) {
            Some(d) if d.value != s.value => {
                return Err(EscrowError::MismatchedShares(format!(
                    "two different shares claim index {}; at most one is genuine",
                    s.index
                )))
            }
            Some(_) => {}
            None => distinct.push(s),
        }
    }
    let need = usize::from(first.threshold);
    if distinct.len() < need {
        return Err(EscrowError::NotEnoughShares {
            have: distinct.len(),
            need,
        });
    }
    let points: Vec<(u8, [u8; 32])> = distinct[..need]
        .iter()
        .map(|s| (s.index, s.value))
        .collect();
    let mut points = Zeroizing::new(points);
    let secret = Zeroizing::new(shamir::combine(&points).map_err(EscrowError::MismatchedShares)?);
    for p in points.iter_mut() {
        p.1.zeroize();
    }
    let identity = x25519_identity(&secret)?;
    if x25519_public_bytes(&identity.to_public())? != first.escrow_key {
        return Err(EscrowError::SharesDoNotReconstruct);
    }
    Ok(identity)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use rand::rngs::OsRng;

    pub(crate) fn trustee_keys(n: usize) -> Vec<SigningKey> {
        (0..n).map(|_| SigningKey::generate(&mut OsRng)).collect()
    }

    #[test]
    fn ed25519_to_x25519_conversion_is_consistent() {
        for sk in trustee_keys(8) {
            let r = trustee_age_recipient(&sk.verifying_key()).unwrap();
            let i = trustee_age_identity(&sk).unwrap();
            assert_eq!(i.to_public().to_string(), r.to_string());
        }
    }

    #[test]
    fn trustee_sets_are_validated() {
        let keys: Vec<_> = trustee_keys(3).iter().map(|k| k.verifying_key()).collect();
        let t = |threshold, keys: Vec<VerifyingKey>| Trustees { threshold, keys };
        t(2, keys.clone()).validate().unwrap();
        t(3, keys.clone()).validate().unwrap();
        assert!(t(0, keys.clone()).validate().is_err());
        assert!(t(4, keys.clone()).validate().is_err());
        assert!(t(1, vec![]).validate().is_err());
        assert!(t(1, vec![keys[0], keys[1], keys[0]]).validate().is_err());
        let many: Vec<_> = trustee_keys(65).iter().map(|k| k.verifying_key()).collect();
        assert!(t(2, many.clone()).validate().is_err());
        t(2, many[..64].to_vec()).validate().unwrap();
        // The identity point is a weak (small-order) Ed25519 key.
        let mut id = [0u8; 32];
        id[0] = 1;
        let weak = VerifyingKey::from_bytes(&id).unwrap();
        assert!(t(1, vec![keys[0], weak]).validate().is_err());
    }

    #[test]
    fn shares_encode_decode_and_digest() {
        let mut rng = OsRng;
        let keys = trustee_keys(3);
        let vks: Vec<_> = keys.iter().map(|k| k.verifying_key()).collect();
        let trustees = Trustees {
            threshold: 2,
            keys: vks,
        };
        let secret = [5u8; 32];
        let escrow = x25519_public_bytes(&x25519_identity(&secret).unwrap().to_public()).unwrap();
        let enc = make_shares(&secret, escrow, &trustees, &mut rng).unwrap();
        assert_eq!(enc.len(), 3);
        let shares: Vec<Share> = enc
            .iter()
            .zip(&keys)
            .map(|(e, k)| decrypt_share(e, k).unwrap())
            .collect();
        for (i, s) in shares.iter().enumerate() {
            assert_eq!(usize::from(s.index), i + 1);
            assert_eq!(s.escrow_key, escrow);
            let t = s.to_text();
            assert_eq!(&Share::from_text(&t).unwrap(), s);
            let json = serde_json::to_string(s).unwrap();
            assert_eq!(&serde_json::from_str::<Share>(&json).unwrap(), s);
            assert!(!format!("{s:?}").contains(&hex::encode(s.value)));
        }
        // EncryptedShare JSON round trip.
        let json = serde_json::to_string(&enc).unwrap();
        let back: Vec<EncryptedShare> = serde_json::from_str(&json).unwrap();
        assert_eq!(back, enc);
        // Wrong trustee key.
        assert!(matches!(
            decrypt_share(&enc[0], &keys[1]).unwrap_err(),
            EscrowError::WrongTrustee { .. }
        ));
        // Tampered digest in the commitment.
        let mut bad = enc[0].clone();
        bad.share_digest[0] ^= 1;
        assert!(matches!(
            decrypt_share(&bad, &keys[0]).unwrap_err(),
            EscrowError::ShareDigest { .. }
        ));
        // Tampered ciphertext.
        let mut bad = enc[0].clone();
        let last = bad.ciphertext.len() - 1;
        bad.ciphertext[last] ^= 1;
        assert!(decrypt_share(&bad, &keys[0]).is_err());
        bad.ciphertext.truncate(10);
        assert!(decrypt_share(&bad, &keys[0]).is_err());
        // Combining.
        combine_shares(&shares[..2]).unwrap();
        combine_shares(&shares[1..]).unwrap();
        assert!(matches!(
            combine_shares(&shares[..1]).err().unwrap(),
            EscrowError::NotEnoughShares { have: 1, need: 2 }
        ));
        assert!(matches!(
            combine_shares(&[shares[0].clone(), shares[0].clone()])
                .err()
                .unwrap(),
            EscrowError::NotEnoughShares { have: 1, need: 2 }
        ));
        let mut tampered = shares[1].clone();
        tampered.value[3] ^= 0x80;
        enc[1].check_share(&tampered).unwrap_err();
        assert!(matches!(
            combine_shares(&[shares[0].clone(), tampered.clone()])
                .err()
                .unwrap(),
            EscrowError::SharesDoNotReconstruct
        ));
        assert!(matches!(
            combine_shares(&[shares[1].clone(), tampered])
                .err()
                .unwrap(),
            EscrowError::MismatchedShares(_)
        ));
    }

    #[test]
    fn malformed_shares_are_errors() {
        assert!(Share::from_bytes(&[]).is_err());
        assert!(Share::from_bytes(&[0u8; SHARE_LEN]).is_err());
        let mut b = [0u8; SHARE_LEN];
        b[0] = SHARE_VERSION;
        b[1] = 2;
        assert!(Share::from_bytes(&b).is_err()); // index 0
        b[2] = 1;
        Share::from_bytes(&b).unwrap();
        b[1] = 0;
        assert!(Share::from_bytes(&b).is_err()); // threshold 0
        for t in ["", "embargo-share-v1:", "embargo-share-v1:!!!", "hello"] {
            assert!(Share::from_text(t).is_err(), "{t}");
        }
        for j in [
            "{}",
            r#"{"trustee":"AAAA","ciphertext":"","share_digest":""}"#,
            r#"{"trustee":5}"#,
        ] {
            assert!(serde_json::from_str::<EncryptedShare>(j).is_err(), "{j}");
        }
    }
}
