//! The log's admission rules, decided in log order.
//!
//! Whether an entry may be logged depends on the registry (who holds which key, which
//! commitments exist, are superseded, revealed) *as of the entry's position in the log*.
//! [`admit`] decides one entry against a [`RegistryView`]; [`apply`] moves a
//! [`RegistryStore`] past an admitted entry with the transitions of [`crate::core::records`]. The
//! sequencer runs both, entry by entry, over a view of the registry plus the entries earlier
//! in its batch, so a key revoked at index `r` signs nothing at `r + 1`, a commitment is
//! superseded once, a model is revealed once. The HTTP layer may run [`admit`] early against
//! the registry alone to refuse obvious mistakes at once; the sequencer's decision is final.
//!
//! Pure logic: no storage, no clock, no HTTP.

use crate::core::note::PublicKey;
use crate::core::predicate::{
    Escrow, Kind, ModelCommitment, Predicate, Registration, Reveal, RevealedBy, Role,
    TypedStatement,
};
use crate::core::records::{rfc3339, Commitment, KeyStanding, Party, Status};
use crate::escrow::Chain;
use chrono::{DateTime, Duration, Utc};

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

impl Policy {
    /// Checks `reveal_at` against the policy and the log's clock.
    pub fn check_embargo(
        &self,
        reveal_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<(), AdmitError> {
        let embargo = reveal_at - now;
        if embargo < self.min_embargo || embargo > self.max_embargo {
            return Err(AdmitError::EmbargoPolicy {
                reveal_at: rfc3339(reveal_at),
                now: rfc3339(now),
                embargo: human(embargo),
                min: human(self.min_embargo),
                max: human(self.max_embargo),
            });
        }
        Ok(())
    }

    /// Checks an escrow's lock against the chains the log follows, and its size against the
    /// model it must hold.
    pub fn check_escrow(&self, c: &ModelCommitment, e: &Escrow) -> Result<(), AdmitError> {
        let chain = self
            .beacon(&e.chain_hash)
            .ok_or_else(|| AdmitError::UnknownBeacon {
                chain: e.chain_hash.clone(),
                known: self
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
}

/// Why an entry was refused. Each maps to an HTTP status in the server.
#[derive(Clone, Debug, thiserror::Error, PartialEq)]
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
    #[error("the model is {size} bytes in {files} files; the log takes models of 1 to {} files and at most {} bytes (a larger commitment could never be revealed): commit to the model's real size and file count", crate::model::model_stream::MAX_FILES, crate::model::model_stream::MAX_MODEL_SIZE)]
    ModelLimits { size: u64, files: u64 },
    #[error("the escrow's ciphertext_size {size} is more than a {model_size}-byte model in {files} files can encrypt to (at most {max}): the escrow must hold this model")]
    EscrowSize {
        size: u64,
        model_size: u64,
        files: u64,
        max: u64,
    },
    #[error("commitment {commitment} was already revealed at entry {at}")]
    AlreadyRevealed { commitment: u64, at: u64 },
    #[error("the escrow of commitment {commitment} was already found invalid at entry {at}; only the platform's reveal of the committed model can follow")]
    EscrowAlreadyInvalid { commitment: u64, at: u64 },
    #[error("key {key} already belongs to {owner}; every party needs keys of its own")]
    KeyInUse { key: String, owner: String },
    #[error("this registration of {party} replaces entry {claimed:?}, but the party's latest registration is entry {latest:?}: another change was logged first; retry")]
    StaleRegistration {
        party: String,
        claimed: Option<u64>,
        latest: Option<u64>,
    },
    #[error("{kind} entries are signed by their party, never by the log")]
    NotForTheLog { kind: &'static str },
    #[error("the index database failed: {0}")]
    Storage(String),
}

/// Who signed an entry.
#[derive(Clone, Debug, PartialEq)]
pub enum Signer {
    /// The log's own key (registrations, reveals).
    Log,
    /// A party's key, `<name>+<id>`.
    Key(String),
}

/// An Embargo entry as the rules see it: what it says and who signed it.
#[derive(Clone, Debug)]
pub struct Effect {
    pub statement: TypedStatement,
    pub signer: Signer,
}

/// The registry as of some position in the log.
pub trait RegistryView {
    fn party(&self, name: &str) -> Result<Option<Party>, AdmitError>;
    /// The party that holds or held the key `<name>+<id>` (keys are never shared).
    fn owner_of_key(&self, key_ref: &str) -> Result<Option<String>, AdmitError>;
    fn commitment(&self, index: u64) -> Result<Option<Commitment>, AdmitError>;
}

/// A registry that can be moved past an entry.
pub trait RegistryStore: RegistryView {
    fn put_party(&mut self, party: Party) -> Result<(), AdmitError>;
    fn put_commitment(&mut self, commitment: Commitment) -> Result<(), AdmitError>;
}

/// The party whose current key `key_ref` is, and the key; refused if it was revoked or never
/// registered.
pub fn current_key(
    view: &impl RegistryView,
    key_ref: &str,
) -> Result<(Party, PublicKey), AdmitError> {
    let unknown = || AdmitError::UnknownKey(key_ref.to_owned());
    let owner = view.owner_of_key(key_ref)?.ok_or_else(unknown)?;
    let party = view.party(&owner)?.ok_or_else(unknown)?;
    match party.standing(key_ref) {
        Some(KeyStanding::Current(key)) => Ok((party, *key)),
        Some(KeyStanding::Revoked(revoked_at)) => Err(AdmitError::RevokedKey {
            key: key_ref.to_owned(),
            party: party.name,
            revoked_at,
        }),
        None => Err(unknown()),
    }
}

/// Decides whether `effect` may be logged next, against `view` and the log's clock `now`.
pub fn admit(
    view: &impl RegistryView,
    policy: &Policy,
    effect: &Effect,
    now: DateTime<Utc>,
) -> Result<(), AdmitError> {
    let statement = &effect.statement;
    match (&effect.signer, &statement.predicate) {
        (Signer::Key(_), Predicate::Registration(_)) => Err(log_only(Kind::Registration)),
        (Signer::Key(_), Predicate::Reveal(_)) => Err(log_only(Kind::Reveal)),
        (Signer::Log, Predicate::Registration(r)) => admit_registration(view, r),
        (Signer::Log, Predicate::Reveal(r)) => admit_reveal(view, r),
        (Signer::Log, p) => Err(AdmitError::NotForTheLog { kind: kind_name(p) }),
        (Signer::Key(key), p) => {
            let (party, _) = current_key(view, key)?;
            let claim = Claim { key, party: &party };
            match p {
                Predicate::ModelCommitment(c) => admit_commitment(view, policy, claim, c, now),
                Predicate::DecisionBatch(b) => {
                    claim.check(&b.platform, Role::Platform, "decision-batch")?;
                    owned_commitment(view, b.commitment, &b.platform).map(drop)
                }
                Predicate::AuditReport(a) => {
                    claim.check(&a.auditor, Role::Auditor, "audit-report")?;
                    let c = view
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
                Predicate::Registration(_) | Predicate::Reveal(_) => unreachable!("matched above"),
            }
        }
    }
}

/// The refusal of a submitted entry of a kind only the log writes.
pub fn log_only(kind: Kind) -> AdmitError {
    if kind == Kind::Registration {
        AdmitError::LogOnly {
            kind: "registration",
            how: "through the operator API, POST /v1/admin/parties",
        }
    } else {
        AdmitError::LogOnly {
            kind: "reveal",
            how: "when the model's bytes are uploaded to POST /v1/commitments/<index>/reveal",
        }
    }
}

fn kind_name(p: &Predicate) -> &'static str {
    match p {
        Predicate::Registration(_) => "registration",
        Predicate::ModelCommitment(_) => "model-commitment",
        Predicate::DecisionBatch(_) => "decision-batch",
        Predicate::Reveal(_) => "reveal",
        Predicate::AuditReport(_) => "audit-report",
    }
}

/// A signer's claim to speak for a party in some role.
struct Claim<'a> {
    key: &'a str,
    party: &'a Party,
}

impl Claim<'_> {
    fn check(&self, claimed: &str, needed: Role, kind: &'static str) -> Result<(), AdmitError> {
        if claimed != self.party.name {
            return Err(AdmitError::WrongParty {
                key: self.key.to_owned(),
                signer_party: self.party.name.clone(),
                claimed: claimed.to_owned(),
            });
        }
        if self.party.role != needed {
            return Err(AdmitError::WrongRole {
                party: self.party.name.clone(),
                actual: self.party.role,
                needed,
                kind,
            });
        }
        Ok(())
    }
}

/// Commitment `index`, which must belong to `platform`.
fn owned_commitment(
    view: &impl RegistryView,
    index: u64,
    platform: &str,
) -> Result<Commitment, AdmitError> {
    let c = view
        .commitment(index)?
        .ok_or(AdmitError::NoSuchCommitment(index))?;
    if c.platform != platform {
        return Err(AdmitError::NotYourCommitment {
            index,
            owner: c.platform,
            claimed: platform.to_owned(),
        });
    }
    Ok(c)
}

fn admit_commitment(
    view: &impl RegistryView,
    policy: &Policy,
    claim: Claim<'_>,
    c: &ModelCommitment,
    now: DateTime<Utc>,
) -> Result<(), AdmitError> {
    claim.check(&c.platform, Role::Platform, "model-commitment")?;
    check_model_shape(c)?;
    policy.check_embargo(c.reveal_at, now)?;
    if let Some(e) = &c.escrow {
        policy.check_escrow(c, e)?;
    }
    if let Some(old) = c.supersedes {
        let prev = owned_commitment(view, old, &c.platform)?;
        if let Some(by) = prev.superseded_by {
            return Err(AdmitError::AlreadySuperseded(old, by));
        }
    }
    Ok(())
}

/// A commitment must be to a model the log can take in at its reveal: 1 to
/// [`MAX_FILES`](crate::model::model_stream::MAX_FILES) files, at most
/// [`MAX_MODEL_SIZE`](crate::model::model_stream::MAX_MODEL_SIZE) bytes.
fn check_model_shape(c: &ModelCommitment) -> Result<(), AdmitError> {
    use crate::model::model_stream::{MAX_FILES, MAX_MODEL_SIZE};
    let files_ok = (1..=MAX_FILES as u64).contains(&c.model.file_count);
    if files_ok && c.model.total_size <= MAX_MODEL_SIZE {
        return Ok(());
    }
    Err(AdmitError::ModelLimits {
        size: c.model.total_size,
        files: c.model.file_count,
    })
}

/// A registration replaces the party's latest one (so a party's registrations form a chain a
/// client can walk), and binds no key another party holds or held.
fn admit_registration(view: &impl RegistryView, r: &Registration) -> Result<(), AdmitError> {
    let latest = view.party(&r.name)?.map(|p| p.updated_at);
    if latest != r.previous {
        return Err(AdmitError::StaleRegistration {
            party: r.name.clone(),
            claimed: r.previous,
            latest,
        });
    }
    for k in &r.keys {
        let key = k.key_ref();
        match view.owner_of_key(&key)? {
            Some(owner) if owner != r.name => return Err(AdmitError::KeyInUse { key, owner }),
            _ => {}
        }
        if let Some(party) = view.party(&r.name)? {
            if let Some(KeyStanding::Revoked(revoked_at)) = party.standing(&key) {
                return Err(AdmitError::RevokedKey {
                    key,
                    party: party.name,
                    revoked_at,
                });
            }
        }
    }
    Ok(())
}

/// A model is revealed once; an escrow is found invalid once; a platform's early reveal is
/// signed by one of its keys current at the reveal's position.
fn admit_reveal(view: &impl RegistryView, r: &Reveal) -> Result<(), AdmitError> {
    let c = view
        .commitment(r.commitment)?
        .ok_or(AdmitError::NoSuchCommitment(r.commitment))?;
    if let Some(done) = c.revealed() {
        return Err(AdmitError::AlreadyRevealed {
            commitment: c.index,
            at: done.index,
        });
    }
    let matches = r.matches_commitment.unwrap_or(true);
    if r.revealed_by == RevealedBy::Escrow && !matches {
        if let Some(at) = c.escrow_invalid {
            return Err(AdmitError::EscrowAlreadyInvalid {
                commitment: c.index,
                at,
            });
        }
    }
    if let (RevealedBy::Platform, Some(key)) = (r.revealed_by, &r.revealer) {
        let (party, _) = current_key(view, key)?;
        if party.name != c.platform {
            return Err(AdmitError::NotYourCommitment {
                index: c.index,
                owner: c.platform,
                claimed: party.name,
            });
        }
    }
    Ok(())
}

/// Moves `store` past the entry at `index` (admitted, or already logged when re-indexing).
/// Idempotent: applying an entry twice leaves the same records.
pub fn apply(
    store: &mut impl RegistryStore,
    policy: &Policy,
    index: u64,
    logged_at: DateTime<Utc>,
    effect: &Effect,
) -> Result<(), AdmitError> {
    let s = &effect.statement;
    match &s.predicate {
        Predicate::Registration(r) => {
            let previous = store.party(&r.name)?;
            if previous.as_ref().is_some_and(|p| p.updated_at >= index) {
                return Ok(()); // already applied
            }
            store.put_party(Party::registered(previous.as_ref(), r, index))
        }
        Predicate::ModelCommitment(c) => {
            if store.commitment(index)?.is_some() {
                return Ok(()); // already applied
            }
            let signer = match &effect.signer {
                Signer::Key(k) => k.as_str(),
                Signer::Log => "",
            };
            store.put_commitment(Commitment::committed(
                index,
                logged_at,
                c,
                &s.subject_digest,
                signer,
                policy.grace,
            ))?;
            if let Some(old) = c.supersedes {
                update(store, old, |prev| prev.superseded_by = Some(index))?;
            }
            Ok(())
        }
        Predicate::Reveal(r) => update(store, r.commitment, |c| {
            c.record_reveal(index, logged_at, r)
        }),
        Predicate::DecisionBatch(b) => update(store, b.commitment, |c| c.record_batch(index)),
        Predicate::AuditReport(a) => update(store, a.commitment, |c| c.record_audit(index)),
    }
}

fn update(
    store: &mut impl RegistryStore,
    index: u64,
    f: impl FnOnce(&mut Commitment),
) -> Result<(), AdmitError> {
    if let Some(mut c) = store.commitment(index)? {
        f(&mut c);
        store.put_commitment(c)?;
    }
    Ok(())
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::predicate::{ModelInfo, RevealedBy};
    use std::collections::HashMap;

    /// A registry in memory: the same store the sequencer's batch view is.
    #[derive(Default)]
    struct Memory {
        parties: HashMap<String, Party>,
        commitments: HashMap<u64, Commitment>,
    }

    impl RegistryView for Memory {
        fn party(&self, name: &str) -> Result<Option<Party>, AdmitError> {
            Ok(self.parties.get(name).cloned())
        }
        fn owner_of_key(&self, key_ref: &str) -> Result<Option<String>, AdmitError> {
            Ok(self
                .parties
                .values()
                .find(|p| p.standing(key_ref).is_some())
                .map(|p| p.name.clone()))
        }
        fn commitment(&self, index: u64) -> Result<Option<Commitment>, AdmitError> {
            Ok(self.commitments.get(&index).cloned())
        }
    }

    impl RegistryStore for Memory {
        fn put_party(&mut self, party: Party) -> Result<(), AdmitError> {
            self.parties.insert(party.name.clone(), party);
            Ok(())
        }
        fn put_commitment(&mut self, c: Commitment) -> Result<(), AdmitError> {
            self.commitments.insert(c.index, c);
            Ok(())
        }
    }

    fn policy() -> Policy {
        Policy {
            min_embargo: Duration::seconds(1),
            ..Policy::default()
        }
    }

    fn now() -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000, 0).unwrap()
    }

    fn effect(signer: Signer, subject_digest: &str, predicate: Predicate) -> Effect {
        Effect {
            statement: TypedStatement {
                subject_name: "ranker".into(),
                subject_digest: subject_digest.into(),
                predicate,
            },
            signer,
        }
    }

    fn registration(keys: &[&PublicKey], revoked: &[&PublicKey], previous: Option<u64>) -> Effect {
        let r = Registration {
            name: "social.example".into(),
            display_name: "Social".into(),
            role: Role::Platform,
            keys: keys.iter().map(|k| (*k).clone()).collect(),
            revoked_keys: revoked.iter().map(|k| (*k).clone()).collect(),
            contact: None,
            previous,
        };
        effect(Signer::Log, "", Predicate::Registration(r))
    }

    fn commitment(key: &PublicKey, supersedes: Option<u64>) -> Effect {
        let c = ModelCommitment {
            platform: "social.example".into(),
            model: ModelInfo {
                name: "ranker".into(),
                version: "1".into(),
                format: "onnx".into(),
                total_size: 10,
                file_count: 1,
            },
            reveal_at: now() + Duration::hours(1),
            purpose: None,
            supersedes,
            escrow: None,
        };
        effect(
            Signer::Key(key.key_ref()),
            &"ab".repeat(32),
            Predicate::ModelCommitment(c),
        )
    }

    fn reveal(commitment: u64, by: RevealedBy, matches: bool) -> Effect {
        let r = Reveal {
            commitment,
            revealed_by: by,
            revealer: None,
            on_time: true,
            location: format!("v1/commitments/{commitment}/model"),
            total_size: 10,
            matches_commitment: Some(matches),
            escrow: None,
        };
        effect(Signer::Log, &"ab".repeat(32), Predicate::Reveal(r))
    }

    /// Admits and applies `effects` one after the other from index `first`, as the sequencer
    /// does within a batch; returns each entry's outcome.
    fn sequence(m: &mut Memory, first: u64, effects: &[Effect]) -> Vec<Result<u64, AdmitError>> {
        let mut next = first;
        effects
            .iter()
            .map(|e| {
                admit(m, &policy(), e, now())?;
                apply(m, &policy(), next, now(), e)?;
                next += 1;
                Ok(next - 1)
            })
            .collect()
    }

    fn key() -> PublicKey {
        crate::core::note::KeyPair::generate("social.example")
            .unwrap()
            .public()
            .clone()
    }

    #[test]
    fn a_key_revoked_earlier_in_the_batch_signs_nothing_after_it() {
        let (k, k2) = (key(), key());
        let mut m = Memory::default();
        let out = sequence(
            &mut m,
            0,
            &[
                registration(&[&k], &[], None),
                commitment(&k, None),
                registration(&[&k2], &[&k], Some(0)),
                commitment(&k, None),
                commitment(&k2, None),
            ],
        );
        assert_eq!(out[1], Ok(1));
        assert_eq!(out[2], Ok(2));
        assert!(
            matches!(&out[3], Err(AdmitError::RevokedKey { revoked_at: 2, .. })),
            "{out:?}"
        );
        assert_eq!(out[4], Ok(3));
    }

    #[test]
    fn a_commitment_is_superseded_once_even_within_one_batch() {
        let k = key();
        let mut m = Memory::default();
        let out = sequence(
            &mut m,
            0,
            &[
                registration(&[&k], &[], None),
                commitment(&k, None),
                commitment(&k, Some(1)),
                commitment(&k, Some(1)),
            ],
        );
        assert_eq!(out[2], Ok(2));
        assert_eq!(out[3], Err(AdmitError::AlreadySuperseded(1, 2)));
    }

    #[test]
    fn a_model_is_revealed_once_whoever_reveals_it() {
        let k = key();
        let mut m = Memory::default();
        let out = sequence(
            &mut m,
            0,
            &[
                registration(&[&k], &[], None),
                commitment(&k, None),
                reveal(1, RevealedBy::Escrow, true),
                reveal(1, RevealedBy::Anyone, true),
                reveal(1, RevealedBy::Escrow, false),
            ],
        );
        assert_eq!(out[2], Ok(2));
        let again = AdmitError::AlreadyRevealed {
            commitment: 1,
            at: 2,
        };
        assert_eq!(out[3], Err(again.clone()));
        assert_eq!(out[4], Err(again));
    }

    #[test]
    fn an_invalid_escrow_is_logged_once_and_the_platform_may_still_reveal() {
        let k = key();
        let mut m = Memory::default();
        let out = sequence(
            &mut m,
            0,
            &[
                registration(&[&k], &[], None),
                commitment(&k, None),
                reveal(1, RevealedBy::Escrow, false),
                reveal(1, RevealedBy::Escrow, false),
                reveal(1, RevealedBy::Platform, true),
            ],
        );
        assert_eq!(out[2], Ok(2));
        assert_eq!(
            out[3],
            Err(AdmitError::EscrowAlreadyInvalid {
                commitment: 1,
                at: 2
            })
        );
        assert_eq!(out[4], Ok(3));
        assert_eq!(m.commitments[&1].status(now()), Status::Revealed);
    }

    #[test]
    fn a_registration_must_replace_the_partys_latest() {
        let (k, k2) = (key(), key());
        let mut m = Memory::default();
        let out = sequence(
            &mut m,
            0,
            &[
                registration(&[&k], &[], None),
                registration(&[&k, &k2], &[], Some(0)),
                registration(&[&k2], &[&k], Some(0)),
                registration(&[&k], &[], None),
            ],
        );
        assert_eq!(out[1], Ok(1));
        assert!(
            matches!(
                &out[2],
                Err(AdmitError::StaleRegistration {
                    latest: Some(1),
                    ..
                })
            ),
            "{out:?}"
        );
        assert!(matches!(&out[3], Err(AdmitError::StaleRegistration { .. })));
    }

    #[test]
    fn parties_cannot_write_the_logs_own_kinds() {
        let k = key();
        let mut m = Memory::default();
        sequence(&mut m, 0, &[registration(&[&k], &[], None)]);
        let mut forged = registration(&[&k], &[], Some(0));
        forged.signer = Signer::Key(k.key_ref());
        assert!(matches!(
            admit(&m, &policy(), &forged, now()),
            Err(AdmitError::LogOnly {
                kind: "registration",
                ..
            })
        ));
    }
}
