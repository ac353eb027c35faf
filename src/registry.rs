//! The log's derived view of parties and model commitments, and the admission rules that use
//! it: who may write which entry, deadlines against the log's clock, references to earlier
//! entries.
//!
//! State lives in `sled` trees beside the dedup index and is rebuilt from the log's entries
//! if it falls behind (see [`crate::log`]). [`Registry::admit`] decides before an entry is
//! sequenced; [`Registry::apply`] records an entry once it is durable. Nothing here does HTTP.

use crate::core::note::PublicKey;
use crate::core::predicate::{
    Escrow, ModelCommitment, ModelInfo, Predicate, RevealedBy, Role, TypedStatement,
};
use crate::escrow::Chain;
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
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

/// The log's embargo policy, checked against its own clock.
#[derive(Clone, Debug)]
pub struct Policy {
    /// A commitment's `reveal_at` must be at least this far after the log's clock.
    pub min_embargo: Duration,
    /// ...and at most this far.
    pub max_embargo: Duration,
    /// After `reveal_at`, how long a commitment is "due" before it is "overdue".
    pub grace: Duration,
    /// The drand chains escrows may be locked to (quicknet, and any the operator adds).
    pub beacons: Vec<Chain>,
}

impl Policy {
    /// The chain with this hash (hex), if the log follows it.
    pub fn beacon(&self, chain_hash: &str) -> Option<&Chain> {
        self.beacons
            .iter()
            .find(|c| crate::core::predicate::hex(&c.chain_hash) == chain_hash)
    }
}

impl Default for Policy {
    fn default() -> Policy {
        Policy {
            min_embargo: Duration::days(1),
            max_embargo: Duration::days(5 * 366),
            grace: Duration::days(30),
            beacons: vec![Chain::quicknet()],
        }
    }
}

/// A registered party, as of its latest registration entry.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Party {
    pub name: String,
    pub display_name: String,
    pub role: Role,
    pub keys: Vec<PublicKey>,
    #[serde(default)]
    pub revoked_keys: Vec<RevokedKey>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contact: Option<String>,
    /// The entry that first registered the party.
    pub registered_at: u64,
    /// The entry holding its current registration.
    pub updated_at: u64,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct RevokedKey {
    pub key: PublicKey,
    /// The registration entry that revoked it.
    pub revoked_at: u64,
}

/// Where a commitment is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Committed; `reveal_at` has not come.
    Sealed,
    /// Past `reveal_at`, within the grace period, not yet revealed.
    Due,
    /// Bytes uploaded and verified against the digest.
    Revealed,
    /// Past the grace period with no valid reveal.
    Overdue,
    /// Its escrow opened to other bytes than the committed model, or did not open, and the
    /// platform has not revealed it since: public evidence the platform cheated.
    #[serde(rename = "escrow-invalid")]
    EscrowInvalid,
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Status::Sealed => "sealed",
            Status::Due => "due",
            Status::Revealed => "revealed",
            Status::Overdue => "overdue",
            Status::EscrowInvalid => "escrow-invalid",
        })
    }
}

/// A time as messages show it: RFC 3339, UTC, seconds, `Z`.
pub fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

impl std::str::FromStr for Status {
    type Err = String;
    fn from_str(s: &str) -> Result<Status, String> {
        match s {
            "sealed" => Ok(Status::Sealed),
            "due" => Ok(Status::Due),
            "revealed" => Ok(Status::Revealed),
            "overdue" => Ok(Status::Overdue),
            "escrow-invalid" => Ok(Status::EscrowInvalid),
            _ => Err(format!(
                "unknown status {s:?}: use sealed, due, revealed, overdue or escrow-invalid"
            )),
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct RevealRecord {
    pub index: u64,
    pub logged_at: DateTime<Utc>,
    pub revealed_by: RevealedBy,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revealer: Option<String>,
    pub on_time: bool,
    pub location: String,
    pub matches_commitment: bool,
}

/// A model commitment and what happened to it since.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Commitment {
    pub index: u64,
    pub logged_at: DateTime<Utc>,
    pub platform: String,
    /// The key that signed the commitment (`<name>+<id>`).
    pub signer: String,
    /// The SHA3-256 model digest, hex.
    pub model_digest: String,
    pub model: ModelInfo,
    pub reveal_at: DateTime<Utc>,
    /// `reveal_at` plus the log's grace period.
    pub overdue_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purpose: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub supersedes: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub superseded_by: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub escrow: Option<Escrow>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reveal: Option<RevealRecord>,
    /// The reveal entry recording that the escrow opened to other bytes, or did not open.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub escrow_invalid: Option<u64>,
    #[serde(default)]
    pub decision_batches: Vec<u64>,
    #[serde(default)]
    pub audits: Vec<u64>,
}

impl Commitment {
    pub fn status(&self, now: DateTime<Utc>) -> Status {
        match &self.reveal {
            Some(r) if r.matches_commitment => Status::Revealed,
            _ if self.escrow_invalid.is_some() => Status::EscrowInvalid,
            _ if now < self.reveal_at => Status::Sealed,
            _ if now < self.overdue_at => Status::Due,
            _ => Status::Overdue,
        }
    }
}

/// Why an entry was refused. Each maps to an HTTP status in the server.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum AdmitError {
    #[error("key {0} is not registered with this log: ask the operator to register it (embargo platform add / key add)")]
    UnknownKey(String),
    #[error(
        "key {key} of {party} was revoked at entry {revoked_at}; sign with one of its current keys"
    )]
    RevokedKey {
        key: String,
        party: String,
        revoked_at: u64,
    },
    #[error("{kind} entries are written by the log itself ({how}), not submitted")]
    LogOnly {
        kind: &'static str,
        how: &'static str,
    },
    #[error("key {key} belongs to {signer_party}, which cannot write for {claimed}")]
    WrongParty {
        key: String,
        signer_party: String,
        claimed: String,
    },
    #[error("{party} is registered as {actual}, but {kind} entries need the {needed} role")]
    WrongRole {
        party: String,
        actual: Role,
        needed: Role,
        kind: &'static str,
    },
    #[error("reveal_at {reveal_at} is {embargo} from the log's clock ({now}); this log's policy requires between {min} and {max}")]
    EmbargoPolicy {
        reveal_at: String,
        now: String,
        embargo: String,
        min: String,
        max: String,
    },
    #[error("entry {0} is not a model commitment")]
    NoSuchCommitment(u64),
    #[error("commitment {index} belongs to {owner}, not {claimed}")]
    NotYourCommitment {
        index: u64,
        owner: String,
        claimed: String,
    },
    #[error("commitment {0} is already superseded by entry {1}")]
    AlreadySuperseded(u64, u64),
    #[error("commitment {0} has not been revealed yet; audits attach to revealed models")]
    NotRevealed(u64),
    #[error("the audit report's subject digest {0} is not the revealed model's digest {1}")]
    DigestMismatch(String, String),
    #[error("escrows can be locked only to the drand chains this log follows ({known}); chain {chain} is not one of them: use one of those, or ask the operator to add the chain (embargo serve --beacon-chain)")]
    UnknownBeacon { chain: String, known: String },
    #[error("the escrow is locked to round {given}, but the first round of chain {chain} at or after reveal_at {reveal_at} is {expected}: lock it to round {expected}")]
    EscrowRound {
        given: u64,
        expected: u64,
        chain: String,
        reveal_at: String,
    },
    #[error("the escrow's ciphertext_size {size} is more than a {model_size}-byte model in {files} files can encrypt to (at most {max}): the escrow must hold this model")]
    EscrowSize {
        size: u64,
        model_size: u64,
        files: u64,
        max: u64,
    },
    #[error("the index database failed: {0}")]
    Storage(String),
}

/// What the log records once an admitted entry is durable.
#[derive(Clone, Debug)]
pub struct Effect {
    pub statement: TypedStatement,
    /// The signing key (`<name>+<id>`).
    pub signer: String,
}

pub struct Registry {
    parties: sled::Tree,
    commitments: sled::Tree,
    by_platform: sled::Tree,
    /// Escrowed commitments by lock: chain hash (32 bytes), round, index (big-endian).
    escrows: sled::Tree,
    /// The same keys, for the escrows not yet opened (nor found invalid, nor revealed).
    pending_escrows: sled::Tree,
    /// Current keys, by `<name>+<id>`: (party, key).
    keys: RwLock<HashMap<String, (String, PublicKey)>>,
    /// Revoked keys, by `<name>+<id>`: (party, revoked at).
    revoked: RwLock<HashMap<String, (String, u64)>>,
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

fn human(d: Duration) -> String {
    let s = d.num_seconds();
    let (neg, s) = (s < 0, s.unsigned_abs());
    let body = if s >= 86_400 && s % 86_400 == 0 {
        format!("{}d", s / 86_400)
    } else if s >= 86_400 {
        format!("{:.1}d", s as f64 / 86_400.0)
    } else if s >= 3600 {
        format!("{:.1}h", s as f64 / 3600.0)
    } else {
        format!("{s}s")
    };
    if neg {
        format!("-{body}")
    } else {
        body
    }
}

impl Registry {
    pub fn open(db: &sled::Db, policy: Policy) -> Result<Registry, sled::Error> {
        let r = Registry {
            parties: db.open_tree("parties")?,
            commitments: db.open_tree("commitments")?,
            by_platform: db.open_tree("commitments_by_platform")?,
            escrows: db.open_tree("escrows_by_lock")?,
            pending_escrows: db.open_tree("pending_escrows_by_lock")?,
            keys: RwLock::default(),
            revoked: RwLock::default(),
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
        let mut keys = self.keys.write().unwrap();
        keys.retain(|_, (party, _)| party != &p.name);
        for k in &p.keys {
            keys.insert(k.key_ref(), (p.name.clone(), k.clone()));
        }
        let mut revoked = self.revoked.write().unwrap();
        for r in &p.revoked_keys {
            revoked.insert(r.key.key_ref(), (p.name.clone(), r.revoked_at));
        }
    }

    /// The party a current key belongs to, and the key.
    pub fn key(&self, key_ref: &str) -> Result<(String, PublicKey), AdmitError> {
        if let Some(found) = self.keys.read().unwrap().get(key_ref) {
            return Ok(found.clone());
        }
        match self.revoked.read().unwrap().get(key_ref) {
            Some((party, at)) => Err(AdmitError::RevokedKey {
                key: key_ref.to_owned(),
                party: party.clone(),
                revoked_at: *at,
            }),
            None => Err(AdmitError::UnknownKey(key_ref.to_owned())),
        }
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

    /// Decides whether a statement signed by `signer` (a current key of some party) may be
    /// logged now. Registrations and reveals are refused: the log writes those itself.
    pub fn admit(
        &self,
        statement: &TypedStatement,
        signer: &str,
        now: DateTime<Utc>,
    ) -> Result<(), AdmitError> {
        let (signer_party, _) = self.key(signer)?;
        let party = self
            .party(&signer_party)?
            .ok_or_else(|| AdmitError::UnknownKey(signer.to_owned()))?;
        let claim = |claimed: &str, needed: Role, kind: &'static str| {
            if claimed != party.name {
                return Err(AdmitError::WrongParty {
                    key: signer.to_owned(),
                    signer_party: party.name.clone(),
                    claimed: claimed.to_owned(),
                });
            }
            if party.role != needed {
                return Err(AdmitError::WrongRole {
                    party: party.name.clone(),
                    actual: party.role,
                    needed,
                    kind,
                });
            }
            Ok(())
        };
        match &statement.predicate {
            Predicate::Registration(_) => Err(AdmitError::LogOnly {
                kind: "registration",
                how: "through the operator API, POST /v1/admin/parties",
            }),
            Predicate::Reveal(_) => Err(AdmitError::LogOnly {
                kind: "reveal",
                how: "when the model's bytes are uploaded to POST /v1/commitments/<index>/reveal",
            }),
            Predicate::ModelCommitment(c) => {
                claim(&c.platform, Role::Platform, "model-commitment")?;
                self.check_embargo(c.reveal_at, now)?;
                if let Some(e) = &c.escrow {
                    self.check_escrow(c, e)?;
                }
                if let Some(old) = c.supersedes {
                    let prev = self
                        .commitment(old)?
                        .ok_or(AdmitError::NoSuchCommitment(old))?;
                    if prev.platform != c.platform {
                        return Err(AdmitError::NotYourCommitment {
                            index: old,
                            owner: prev.platform,
                            claimed: c.platform.clone(),
                        });
                    }
                    if let Some(by) = prev.superseded_by {
                        return Err(AdmitError::AlreadySuperseded(old, by));
                    }
                }
                Ok(())
            }
            Predicate::DecisionBatch(b) => {
                claim(&b.platform, Role::Platform, "decision-batch")?;
                let c = self
                    .commitment(b.commitment)?
                    .ok_or(AdmitError::NoSuchCommitment(b.commitment))?;
                if c.platform != b.platform {
                    return Err(AdmitError::NotYourCommitment {
                        index: b.commitment,
                        owner: c.platform,
                        claimed: b.platform.clone(),
                    });
                }
                Ok(())
            }
            Predicate::AuditReport(a) => {
                claim(&a.auditor, Role::Auditor, "audit-report")?;
                let c = self
                    .commitment(a.commitment)?
                    .ok_or(AdmitError::NoSuchCommitment(a.commitment))?;
                if c.status(now) != Status::Revealed {
                    return Err(AdmitError::NotRevealed(a.commitment));
                }
                if statement.subject_digest != c.model_digest {
                    return Err(AdmitError::DigestMismatch(
                        statement.subject_digest.clone(),
                        c.model_digest,
                    ));
                }
                Ok(())
            }
        }
    }

    /// Checks `reveal_at` against the policy and the log's clock.
    pub fn check_embargo(
        &self,
        reveal_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<(), AdmitError> {
        let embargo = reveal_at - now;
        if embargo < self.policy.min_embargo || embargo > self.policy.max_embargo {
            return Err(AdmitError::EmbargoPolicy {
                reveal_at: rfc3339(reveal_at),
                now: rfc3339(now),
                embargo: human(embargo),
                min: human(self.policy.min_embargo),
                max: human(self.policy.max_embargo),
            });
        }
        Ok(())
    }

    /// Checks an escrow's lock against the chains the log follows, and its size against the
    /// model it must hold.
    pub fn check_escrow(&self, c: &ModelCommitment, e: &Escrow) -> Result<(), AdmitError> {
        let chain = self
            .policy
            .beacon(&e.chain_hash)
            .ok_or_else(|| AdmitError::UnknownBeacon {
                chain: e.chain_hash.clone(),
                known: self
                    .policy
                    .beacons
                    .iter()
                    .map(|b| {
                        format!(
                            "{} {}",
                            b.beacon_id,
                            crate::core::predicate::hex(&b.chain_hash)
                        )
                    })
                    .collect::<Vec<_>>()
                    .join(", "),
            })?;
        let expected = chain.round_at(c.reveal_at);
        if e.lock_round != expected {
            return Err(AdmitError::EscrowRound {
                given: e.lock_round,
                expected,
                chain: e.chain_hash.clone(),
                reveal_at: rfc3339(c.reveal_at),
            });
        }
        // A model stream's header: a line per file (size, path of at most 4 KiB), capped.
        let stream_header = c
            .model
            .file_count
            .saturating_mul(4200)
            .saturating_add(64)
            .min(crate::model::model_stream::MAX_HEADER_BYTES as u64);
        let max = crate::escrow::max_ciphertext_size(c.model.total_size, stream_header);
        if e.ciphertext_size > max {
            return Err(AdmitError::EscrowSize {
                size: e.ciphertext_size,
                model_size: c.model.total_size,
                files: c.model.file_count,
                max,
            });
        }
        Ok(())
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

    /// Records a durable entry's effect on parties and commitments.
    pub fn apply(
        &self,
        index: u64,
        logged_at: DateTime<Utc>,
        effect: &Effect,
    ) -> Result<(), AdmitError> {
        let s = &effect.statement;
        match &s.predicate {
            Predicate::Registration(r) => {
                let previous = self.party(&r.name)?;
                if previous.as_ref().is_some_and(|p| p.updated_at >= index) {
                    return Ok(()); // already applied (re-indexing after a crash)
                }
                let mut revoked_keys = previous
                    .as_ref()
                    .map(|p| p.revoked_keys.clone())
                    .unwrap_or_default();
                revoked_keys.extend(r.revoked_keys.iter().map(|k| RevokedKey {
                    key: k.clone(),
                    revoked_at: index,
                }));
                let party = Party {
                    name: r.name.clone(),
                    display_name: r.display_name.clone(),
                    role: r.role,
                    keys: r.keys.clone(),
                    revoked_keys,
                    contact: r.contact.clone(),
                    registered_at: previous.map_or(index, |p| p.registered_at),
                    updated_at: index,
                };
                self.parties
                    .insert(
                        r.name.as_bytes(),
                        serde_json::to_vec(&party).map_err(storage)?,
                    )
                    .map_err(storage)?;
                self.cache_keys(&party);
            }
            Predicate::ModelCommitment(c) => {
                let record = Commitment {
                    index,
                    logged_at,
                    platform: c.platform.clone(),
                    signer: effect.signer.clone(),
                    model_digest: s.subject_digest.clone(),
                    model: c.model.clone(),
                    reveal_at: c.reveal_at,
                    overdue_at: c.reveal_at + self.policy.grace,
                    purpose: c.purpose.clone(),
                    supersedes: c.supersedes,
                    superseded_by: None,
                    escrow: c.escrow.clone(),
                    reveal: None,
                    escrow_invalid: None,
                    decision_batches: Vec::new(),
                    audits: Vec::new(),
                };
                self.put_commitment(&record)?;
                let mut key = c.platform.as_bytes().to_vec();
                key.push(0);
                key.extend_from_slice(&index.to_be_bytes());
                self.by_platform.insert(key, &[]).map_err(storage)?;
                if let Some(e) = &c.escrow {
                    let key = lock_key(e, index)?;
                    self.escrows.insert(&key, &[]).map_err(storage)?;
                    self.pending_escrows.insert(key, &[]).map_err(storage)?;
                }
                if let Some(old) = c.supersedes {
                    self.update_commitment(old, |prev| prev.superseded_by = Some(index))?;
                }
            }
            Predicate::Reveal(r) => {
                let record = RevealRecord {
                    index,
                    logged_at,
                    revealed_by: r.revealed_by,
                    revealer: r.revealer.clone(),
                    on_time: r.on_time,
                    location: r.location.clone(),
                    matches_commitment: r.matches_commitment.unwrap_or(true),
                };
                let invalid_escrow =
                    r.revealed_by == RevealedBy::Escrow && !record.matches_commitment;
                let settles_escrow = invalid_escrow || record.matches_commitment;
                if let Some(e) = self
                    .commitment(r.commitment)?
                    .and_then(|c| c.escrow)
                    .filter(|_| settles_escrow)
                {
                    self.pending_escrows
                        .remove(lock_key(&e, r.commitment)?)
                        .map_err(storage)?;
                }
                self.update_commitment(r.commitment, |c| {
                    if invalid_escrow && c.escrow_invalid.is_none() {
                        c.escrow_invalid = Some(index);
                    }
                    if c.reveal
                        .as_ref()
                        .is_none_or(|prev| !prev.matches_commitment)
                    {
                        c.reveal = Some(record);
                    }
                })?;
            }
            Predicate::DecisionBatch(b) => {
                self.update_commitment(b.commitment, |c| {
                    if !c.decision_batches.contains(&index) {
                        c.decision_batches.push(index);
                    }
                })?;
            }
            Predicate::AuditReport(a) => {
                self.update_commitment(a.commitment, |c| {
                    if !c.audits.contains(&index) {
                        c.audits.push(index);
                    }
                })?;
            }
        }
        Ok(())
    }

    fn put_commitment(&self, c: &Commitment) -> Result<(), AdmitError> {
        self.commitments
            .insert(
                c.index.to_be_bytes(),
                serde_json::to_vec(c).map_err(storage)?,
            )
            .map_err(storage)?;
        Ok(())
    }

    fn update_commitment(
        &self,
        index: u64,
        f: impl FnOnce(&mut Commitment),
    ) -> Result<(), AdmitError> {
        if let Some(mut c) = self.commitment(index)? {
            f(&mut c);
            self.put_commitment(&c)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::predicate::{ModelCommitment, Reveal};

    fn effect(predicate: Predicate) -> Effect {
        Effect {
            statement: TypedStatement {
                subject_name: "ranker".into(),
                subject_digest: "ab".repeat(32),
                predicate,
            },
            signer: "social.example+01020304".into(),
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
