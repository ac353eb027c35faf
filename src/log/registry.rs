//! The log's registry of parties and model commitments, kept in `sled` trees beside the
//! dedup index: the records of [`crate::core::records`], a key -> party map, commitments by
//! platform, and escrows by lock (all, and those still pending).
//!
//! Derived state: rebuilt from the log's entries if it falls behind (see [`crate::log`]).
//! [`Registry::apply`] records an entry once it is durable, through the same transitions the
//! sequencer applies to its in-batch view ([`crate::rules::apply`]). The rules themselves
//! live in [`crate::rules`]; nothing here decides admission, and nothing here does HTTP.

use crate::core::note::PublicKey;
use crate::core::predicate::Escrow;
pub use crate::core::records::{rfc3339, Commitment, Party, RevealRecord, RevokedKey, Status};
pub use crate::rules::{AdmitError, Effect, Policy, Signer};
use crate::rules::{RegistryStore, RegistryView};
use chrono::{DateTime, Utc};
use std::collections::HashMap;
use std::sync::RwLock;

/// The message a platform signs to reveal its model before `reveal_at` (sent as the
/// `Embargo-Signature: <keyid> <base64 signature>` header of the upload).
pub fn reveal_request_message(origin: &str, commitment: u64, model_digest: &str) -> Vec<u8> {
    format!("embargo-reveal/v1\n{origin}\n{commitment}\n{model_digest}\n").into_bytes()
}

/// The message a trustee signs to post its share of commitment `commitment`'s escrow (the
/// share's SHA3-256 digest, hex, as the commitment publishes it).
pub fn share_request_message(origin: &str, commitment: u64, share_digest: &str) -> Vec<u8> {
    format!("embargo-escrow-share/v1\n{origin}\n{commitment}\n{share_digest}\n").into_bytes()
}

pub struct Registry {
    parties: sled::Tree,
    commitments: sled::Tree,
    by_platform: sled::Tree,
    /// Escrowed commitments by lock: chain hash (32 bytes), round, index (big-endian).
    escrows: sled::Tree,
    /// The same keys, for the escrows not yet opened (nor found invalid, nor revealed).
    pending_escrows: sled::Tree,
    /// Every key a party holds or held, by `<name>+<id>`: the party's name.
    owners: RwLock<HashMap<String, String>>,
    pub policy: Policy,
}

fn storage(e: impl std::fmt::Display) -> AdmitError {
    AdmitError::Storage(e.to_string())
}

/// The escrow index key of commitment `index`: chain hash, lock round, index (big-endian).
fn lock_key(e: &Escrow, index: u64) -> Result<Vec<u8>, AdmitError> {
    let mut key = Vec::with_capacity(48);
    key.extend_from_slice(&hex32(&e.chain_hash).map_err(storage)?);
    key.extend_from_slice(&e.lock_round.to_be_bytes());
    key.extend_from_slice(&index.to_be_bytes());
    Ok(key)
}

/// Parses 64 hex digits.
fn hex32(s: &str) -> Result<[u8; 32], String> {
    hex::decode(s)
        .ok()
        .and_then(|v| v.try_into().ok())
        .ok_or_else(|| format!("{s:?} is not 64 hex digits"))
}

impl Registry {
    pub fn open(db: &sled::Db, policy: Policy) -> Result<Registry, sled::Error> {
        let r = Registry {
            parties: db.open_tree("parties")?,
            commitments: db.open_tree("commitments")?,
            by_platform: db.open_tree("commitments_by_platform")?,
            escrows: db.open_tree("escrows_by_lock")?,
            pending_escrows: db.open_tree("pending_escrows_by_lock")?,
            owners: RwLock::default(),
            policy,
        };
        for item in r.parties.iter() {
            let (_, v) = item?;
            if let Ok(p) = serde_json::from_slice::<Party>(&v) {
                r.cache_keys(&p);
            }
        }
        Ok(r)
    }

    fn cache_keys(&self, p: &Party) {
        let mut owners = self.owners.write().unwrap();
        for k in p.keys.iter().chain(p.revoked_keys.iter().map(|r| &r.key)) {
            owners.insert(k.key_ref(), p.name.clone());
        }
    }

    /// The party a current key belongs to, and the key; refused if it was revoked or never
    /// registered.
    pub fn key(&self, key_ref: &str) -> Result<(String, PublicKey), AdmitError> {
        crate::rules::current_key(self, key_ref).map(|(party, key)| (party.name, key))
    }

    pub fn party(&self, name: &str) -> Result<Option<Party>, AdmitError> {
        Ok(self
            .parties
            .get(name.as_bytes())
            .map_err(storage)?
            .and_then(|v| serde_json::from_slice(&v).ok()))
    }

    pub fn parties(&self) -> Result<Vec<Party>, AdmitError> {
        self.parties
            .iter()
            .map(|item| {
                let (_, v) = item.map_err(storage)?;
                serde_json::from_slice(&v).map_err(storage)
            })
            .collect()
    }

    pub fn commitment(&self, index: u64) -> Result<Option<Commitment>, AdmitError> {
        Ok(self
            .commitments
            .get(index.to_be_bytes())
            .map_err(storage)?
            .and_then(|v| serde_json::from_slice(&v).ok()))
    }

    /// Commitments in log order, optionally of one platform, after `after`, at most `limit`.
    pub fn commitments(
        &self,
        platform: Option<&str>,
        status: Option<Status>,
        after: Option<u64>,
        limit: usize,
        now: DateTime<Utc>,
    ) -> Result<Vec<Commitment>, AdmitError> {
        let start = after.map_or(0, |a| a.saturating_add(1));
        let mut out = Vec::new();
        let mut push = |c: Commitment| {
            if status.is_none_or(|s| c.status(now) == s) {
                out.push(c);
            }
            out.len() < limit
        };
        match platform {
            Some(p) => {
                let mut prefix = p.as_bytes().to_vec();
                prefix.push(0);
                let mut from = prefix.clone();
                from.extend_from_slice(&start.to_be_bytes());
                for item in self.by_platform.range(from..) {
                    let (k, _) = item.map_err(storage)?;
                    if !k.starts_with(&prefix) {
                        break;
                    }
                    let index = u64::from_be_bytes(k[prefix.len()..].try_into().map_err(storage)?);
                    if let Some(c) = self.commitment(index)? {
                        if !push(c) {
                            break;
                        }
                    }
                }
            }
            None => {
                for item in self.commitments.range(start.to_be_bytes()..) {
                    let (_, v) = item.map_err(storage)?;
                    if !push(serde_json::from_slice(&v).map_err(storage)?) {
                        break;
                    }
                }
            }
        }
        Ok(out)
    }

    /// Escrowed commitments locked to `round` of the chain `chain_hash` (32 bytes).
    pub fn escrows_locked_to(
        &self,
        chain_hash: &[u8; 32],
        round: u64,
    ) -> Result<Vec<u64>, AdmitError> {
        let mut prefix = chain_hash.to_vec();
        prefix.extend_from_slice(&round.to_be_bytes());
        self.escrows
            .scan_prefix(&prefix)
            .map(|item| {
                let (k, _) = item.map_err(storage)?;
                Ok(u64::from_be_bytes(k[40..48].try_into().map_err(storage)?))
            })
            .collect()
    }

    /// The locks of escrows not yet opened, found invalid or revealed, in (chain, round)
    /// order: (chain hash, round, commitment index).
    pub fn pending_escrow_locks(
        &self,
    ) -> impl Iterator<Item = Result<([u8; 32], u64, u64), AdmitError>> + '_ {
        self.pending_escrows.iter().map(|item| {
            let (k, _) = item.map_err(storage)?;
            if k.len() != 48 {
                return Err(storage("malformed escrow index key"));
            }
            let chain: [u8; 32] = k[..32].try_into().map_err(storage)?;
            let round = u64::from_be_bytes(k[32..40].try_into().map_err(storage)?);
            let index = u64::from_be_bytes(k[40..48].try_into().map_err(storage)?);
            Ok((chain, round, index))
        })
    }

    /// Records a durable entry's effect on parties and commitments (idempotent, so a crash
    /// between this and the index's new size re-applies it safely on start-up).
    pub fn apply(
        &self,
        index: u64,
        logged_at: DateTime<Utc>,
        effect: &Effect,
    ) -> Result<(), AdmitError> {
        let mut store = self;
        crate::rules::apply(&mut store, &self.policy, index, logged_at, effect)
    }

    fn write_party(&self, party: &Party) -> Result<(), AdmitError> {
        self.parties
            .insert(
                party.name.as_bytes(),
                serde_json::to_vec(party).map_err(storage)?,
            )
            .map_err(storage)?;
        self.cache_keys(party);
        Ok(())
    }

    /// Writes a commitment record and the indexes derived from it.
    fn write_commitment(&self, c: &Commitment) -> Result<(), AdmitError> {
        self.commitments
            .insert(
                c.index.to_be_bytes(),
                serde_json::to_vec(c).map_err(storage)?,
            )
            .map_err(storage)?;
        let mut key = c.platform.as_bytes().to_vec();
        key.push(0);
        key.extend_from_slice(&c.index.to_be_bytes());
        self.by_platform.insert(key, &[]).map_err(storage)?;
        if let Some(e) = &c.escrow {
            let key = lock_key(e, c.index)?;
            self.escrows.insert(&key, &[]).map_err(storage)?;
            if c.escrow_settled() {
                self.pending_escrows.remove(key).map_err(storage)?;
            } else {
                self.pending_escrows.insert(key, &[]).map_err(storage)?;
            }
        }
        Ok(())
    }
}

impl RegistryView for Registry {
    fn party(&self, name: &str) -> Result<Option<Party>, AdmitError> {
        Registry::party(self, name)
    }

    fn owner_of_key(&self, key_ref: &str) -> Result<Option<String>, AdmitError> {
        Ok(self.owners.read().unwrap().get(key_ref).cloned())
    }

    fn commitment(&self, index: u64) -> Result<Option<Commitment>, AdmitError> {
        Registry::commitment(self, index)
    }
}

impl RegistryView for &Registry {
    fn party(&self, name: &str) -> Result<Option<Party>, AdmitError> {
        Registry::party(self, name)
    }

    fn owner_of_key(&self, key_ref: &str) -> Result<Option<String>, AdmitError> {
        RegistryView::owner_of_key(*self, key_ref)
    }

    fn commitment(&self, index: u64) -> Result<Option<Commitment>, AdmitError> {
        Registry::commitment(self, index)
    }
}

impl RegistryStore for &Registry {
    fn put_party(&mut self, party: Party) -> Result<(), AdmitError> {
        self.write_party(&party)
    }

    fn put_commitment(&mut self, commitment: Commitment) -> Result<(), AdmitError> {
        self.write_commitment(&commitment)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::predicate::{
        ModelCommitment, ModelInfo, Predicate, Reveal, RevealedBy, TypedStatement,
    };

    fn effect(predicate: Predicate) -> Effect {
        Effect {
            statement: TypedStatement {
                subject_name: "ranker".into(),
                subject_digest: "ab".repeat(32),
                predicate,
            },
            signer: Signer::Key("social.example+01020304".into()),
        }
    }

    fn escrowed() -> Predicate {
        Predicate::ModelCommitment(ModelCommitment {
            platform: "social.example".into(),
            model: ModelInfo {
                name: "ranker".into(),
                version: "1".into(),
                format: "onnx".into(),
                total_size: 10,
                file_count: 1,
            },
            reveal_at: Utc::now(),
            purpose: None,
            supersedes: None,
            escrow: Some(Escrow {
                scheme: "tlock".into(),
                ciphertext_digest: format!("sha3-256:{}", "cd".repeat(32)),
                ciphertext_size: 500,
                lock_round: 77,
                chain_hash: "ef".repeat(32),
                trustees: vec![],
                threshold: None,
            }),
        })
    }

    fn reveal_by_escrow(matches: bool) -> Predicate {
        Predicate::Reveal(Reveal {
            commitment: 3,
            revealed_by: RevealedBy::Escrow,
            revealer: None,
            on_time: true,
            location: "v1/commitments/3/model".into(),
            total_size: 10,
            matches_commitment: Some(matches),
            escrow: None,
        })
    }

    #[test]
    fn an_escrow_stays_pending_until_it_opens_or_is_found_invalid() {
        for matches in [true, false] {
            let db = sled::Config::new().temporary(true).open().unwrap();
            let r = Registry::open(&db, Policy::default()).unwrap();
            r.apply(3, Utc::now(), &effect(escrowed())).unwrap();
            let pending: Vec<_> = r.pending_escrow_locks().map(Result::unwrap).collect();
            assert_eq!(pending, vec![([0xef; 32], 77, 3)]);
            r.apply(4, Utc::now(), &effect(reveal_by_escrow(matches)))
                .unwrap();
            assert_eq!(r.pending_escrow_locks().count(), 0);
            // Still found by its lock, so a second signature is told it already opened.
            assert_eq!(r.escrows_locked_to(&[0xef; 32], 77).unwrap(), vec![3]);
            let c = r.commitment(3).unwrap().unwrap();
            let expected = if matches {
                Status::Revealed
            } else {
                Status::EscrowInvalid
            };
            assert_eq!(c.status(Utc::now()), expected);
        }
    }
}
