//! DSSE envelopes (github.com/secure-systems-lab/dsse) signed with Ed25519 over the
//! pre-authentication encoding (PAE).
//!
//! Owns the envelope's wire form, its canonical serialization (what the log stores and
//! deduplicates on), signing and verification. Knows nothing of what the payload means.

use crate::core::note::{KeyPair, PublicKey};
use base64::prelude::{Engine, BASE64_STANDARD};
use serde::{Deserialize, Serialize};

/// The only payload type the log accepts.
pub const IN_TOTO_PAYLOAD_TYPE: &str = "application/vnd.in-toto+json";

/// At most this many signatures on one envelope.
pub const MAX_SIGNATURES: usize = 8;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Envelope {
    #[serde(rename = "payloadType")]
    pub payload_type: String,
    /// Standard base64 of the payload bytes.
    pub payload: String,
    pub signatures: Vec<EnvelopeSignature>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnvelopeSignature {
    /// The signer's `<name>+<8 hex>` key reference.
    pub keyid: String,
    /// Standard base64 of the Ed25519 signature over PAE(payloadType, payload).
    pub sig: String,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DsseError {
    #[error("payloadType is {0:?}; this log accepts only {IN_TOTO_PAYLOAD_TYPE:?}")]
    PayloadType(String),
    #[error("payload is not valid standard base64")]
    PayloadBase64,
    #[error("the envelope has no signatures: sign it with a key the log accepts")]
    NoSignatures,
    #[error("the envelope has {0} signatures; at most {MAX_SIGNATURES} are accepted")]
    TooManySignatures(usize),
    #[error("the envelope lists {0} twice: sign once per key (a repeated signature would let the same statement be logged twice)")]
    DuplicateSigner(String),
    #[error("signature by {0} is not valid standard base64 of 64 bytes")]
    SignatureEncoding(String),
    #[error("key {0} is not allowed to write to this log")]
    UnknownKey(String),
    #[error("signature by {0} does not verify over the payload: the envelope was altered or signed with another key")]
    BadSignature(String),
}

/// DSSE's pre-authentication encoding: `DSSEv1 <len type> <type> <len body> <body>`.
pub fn pae(payload_type: &str, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload_type.len() + payload.len() + 32);
    out.extend_from_slice(b"DSSEv1 ");
    out.extend_from_slice(payload_type.len().to_string().as_bytes());
    out.push(b' ');
    out.extend_from_slice(payload_type.as_bytes());
    out.push(b' ');
    out.extend_from_slice(payload.len().to_string().as_bytes());
    out.push(b' ');
    out.extend_from_slice(payload);
    out
}

impl Envelope {
    /// Wraps `payload` as an in-toto envelope signed by `key`.
    pub fn sign(payload: &[u8], key: &KeyPair) -> Envelope {
        let sig = key.sign(&pae(IN_TOTO_PAYLOAD_TYPE, payload));
        Envelope {
            payload_type: IN_TOTO_PAYLOAD_TYPE.to_owned(),
            payload: BASE64_STANDARD.encode(payload),
            signatures: vec![EnvelopeSignature {
                keyid: key.public().key_ref(),
                sig: BASE64_STANDARD.encode(sig),
            }],
        }
    }

    /// The canonical JSON form: fields in a fixed order, no whitespace.
    pub fn to_canonical_json(&self) -> String {
        serde_json::to_string(self).expect("envelopes always serialize")
    }

    /// The decoded payload (after checking its type).
    pub fn payload_bytes(&self) -> Result<Vec<u8>, DsseError> {
        if self.payload_type != IN_TOTO_PAYLOAD_TYPE {
            return Err(DsseError::PayloadType(self.payload_type.clone()));
        }
        BASE64_STANDARD
            .decode(&self.payload)
            .map_err(|_| DsseError::PayloadBase64)
    }

    /// Verifies every signature with the key `lookup` finds for its keyid. Every signature must
    /// be by a known key and verify; returns the signers' keys.
    /// A key id listed by more than one signature, if any.
    pub fn repeated_signer(&self) -> Option<&str> {
        let mut seen = std::collections::HashSet::new();
        self.signatures
            .iter()
            .map(|s| s.keyid.as_str())
            .find(|k| !seen.insert(*k))
    }

    /// Puts the signatures in key id order, so the order a client chose does not make the
    /// same signed statement a different submission.
    pub fn sort_signatures(&mut self) {
        self.signatures.sort_by(|a, b| a.keyid.cmp(&b.keyid));
    }

    pub fn verify<'k>(
        &self,
        lookup: impl Fn(&str) -> Option<&'k PublicKey>,
    ) -> Result<(Vec<u8>, Vec<&'k PublicKey>), DsseError> {
        let payload = self.payload_bytes()?;
        if self.signatures.is_empty() {
            return Err(DsseError::NoSignatures);
        }
        if self.signatures.len() > MAX_SIGNATURES {
            return Err(DsseError::TooManySignatures(self.signatures.len()));
        }
        if let Some(twice) = self.repeated_signer() {
            return Err(DsseError::DuplicateSigner(twice.to_owned()));
        }
        let message = pae(&self.payload_type, &payload);
        let mut signers = Vec::with_capacity(self.signatures.len());
        for s in &self.signatures {
            let key = lookup(&s.keyid).ok_or_else(|| DsseError::UnknownKey(s.keyid.clone()))?;
            let sig = BASE64_STANDARD
                .decode(&s.sig)
                .ok()
                .filter(|b| b.len() == 64)
                .ok_or_else(|| DsseError::SignatureEncoding(s.keyid.clone()))?;
            if !key.verify(&message, &sig) {
                return Err(DsseError::BadSignature(s.keyid.clone()));
            }
            signers.push(key);
        }
        Ok((payload, signers))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pae_matches_the_dsse_spec_example() {
        // From the DSSE protocol document.
        assert_eq!(
            pae("http://example.com/HelloWorld", b"hello world"),
            b"DSSEv1 29 http://example.com/HelloWorld 11 hello world"
        );
    }

    #[test]
    fn signed_envelope_verifies_and_tampering_is_caught() {
        let k = KeyPair::generate("platform.example").unwrap();
        let env = Envelope::sign(br#"{"a":1}"#, &k);
        let known = k.public().clone();
        let lookup = |id: &str| (id == known.key_ref()).then_some(&known);
        let (payload, signers) = env.verify(lookup).unwrap();
        assert_eq!(payload, br#"{"a":1}"#);
        assert_eq!(signers.len(), 1);

        let mut altered = env.clone();
        altered.payload = BASE64_STANDARD.encode(br#"{"a":2}"#);
        assert!(matches!(
            altered.verify(lookup),
            Err(DsseError::BadSignature(_))
        ));

        let stranger = KeyPair::generate("stranger").unwrap();
        let env2 = Envelope::sign(b"{}", &stranger);
        assert!(matches!(env2.verify(lookup), Err(DsseError::UnknownKey(_))));
    }
}
