//! The trust checks a client makes on a signing key: was this key bound to this party, and
//! not revoked, *at the index of the entry it signed*, according to the log's own
//! registration entries?
//!
//! A party's registration entries form a chain: each names the one it replaces
//! (`previous`), and the log refuses a registration that does not name the party's latest.
//! [`KeyHistory`] walks that chain back from the party's latest registration to the one in
//! effect at the entry's index, and decides from that registration alone. It is pure: the
//! caller fetches each registration it asks for and checks, before handing it in, that the
//! entry is included in a checkpoint it trusts and signed by the log ([`signer_valid_at`]
//! does both over HTTP). The party's JSON from the log's API only says where to start; a log
//! that lies there cannot make a revoked key valid, because the chain it must then show is
//! made of its own signed entries.
//!
//! It also owns the witness check ([`require_witnessed`], [`WitnessRequirement`]): a checkpoint
//! a user relies on must carry valid cosignatures from K of the witnesses the user names
//! (c2sp.org/tlog-cosignature), so a log cannot show that user a view no witness saw.
//!
//! Never does I/O itself except in [`signer_valid_at`] and [`included_entry`], through
//! [`crate::client::Client`].

use crate::client::Client;
use crate::core::checkpoint::SignedCheckpoint;
use crate::core::entry::Leaf;
use crate::core::note::PublicKey;
use crate::core::predicate::{Kind, Predicate, Registration, TypedStatement};
use crate::core::proof::TlogProof;
use crate::witness::cosignature::{verify_cosignatures, CosignatureReport, WitnessKey};

/// Why a signing key is not valid for a party at an entry's index.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum KeyError {
    #[error("entry {entry} is signed by {key}, which {party}'s registration in effect then (entry {registration}) does not list as a current key: the log admitted an entry it should have refused")]
    NotCurrent {
        entry: u64,
        key: String,
        party: String,
        registration: u64,
    },
    #[error("entry {entry} is signed by {key}, which {party} revoked at entry {revoked_at}, before entry {entry}: the log admitted an entry signed by a revoked key")]
    Revoked {
        entry: u64,
        key: String,
        party: String,
        revoked_at: u64,
    },
    #[error("entry {entry} is signed for {party}, which had no registration before it: the log admitted an entry from an unregistered party")]
    NotYetRegistered { entry: u64, party: String },
    #[error("registration entry {registration} is for {found}, not {party}: the log's party record points to another party's registration")]
    OtherParty {
        registration: u64,
        found: String,
        party: String,
    },
    #[error("registration entry {registration} names entry {previous} as the one it replaces, which is not earlier: the log's registration chain is malformed")]
    MalformedChain { registration: u64, previous: u64 },
    #[error("registration entry {registration} is at the signed entry's own index {entry}")]
    SameIndex { registration: u64, entry: u64 },
}

/// Why a checkpoint does not meet the witnesses a user requires, or the requirement itself is
/// not usable.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum WitnessError {
    #[error("--witness-threshold {threshold} asks for more cosignatures than the {given} witnesses given with --witness: lower it or name more witnesses")]
    ThresholdTooHigh { threshold: usize, given: usize },
    #[error("--witness-threshold must be at least 1")]
    ThresholdZero,
    #[error("--witness-threshold needs at least one --witness VKEY")]
    ThresholdWithoutWitnesses,
    #[error("the checkpoint of {size} entries is cosigned by only {valid} of the {needed} witnesses you require; missing: {missing}. Refusing to rely on it: the log's witnessed checkpoint may lag behind its entries (see its /v1/log), so retry later, or ask the log's operator why these witnesses do not cosign")]
    NotWitnessed {
        size: u64,
        valid: usize,
        needed: usize,
        missing: String,
    },
    #[error("the checkpoint's signature lines cannot be read: {0}")]
    Malformed(String),
}

/// Succeeds if `note` (a signed checkpoint) carries valid `cosignature/v1` cosignatures from at
/// least `k` of `witnesses`; lines from other keys are ignored. The error names every
/// required witness without a valid cosignature (and says which lines were bad).
pub fn require_witnessed(
    note: &str,
    witnesses: &[WitnessKey],
    k: usize,
) -> Result<CosignatureReport, WitnessError> {
    let report =
        verify_cosignatures(note, witnesses).map_err(|e| WitnessError::Malformed(e.to_string()))?;
    if report.valid.len() >= k {
        return Ok(report);
    }
    let mut missing = report.missing.clone();
    missing.extend(
        report
            .invalid
            .iter()
            .map(|w| format!("{w} (bad signature)")),
    );
    let size = note
        .lines()
        .nth(1)
        .and_then(|l| l.parse().ok())
        .unwrap_or_default();
    Err(WitnessError::NotWitnessed {
        size,
        valid: report.valid.len(),
        needed: k,
        missing: missing.join(", "),
    })
}

/// The witnesses a user requires of every checkpoint, and how many of them must cosign.
#[derive(Clone, Debug, PartialEq)]
pub struct WitnessRequirement {
    witnesses: Vec<WitnessKey>,
    threshold: usize,
}

impl WitnessRequirement {
    /// From `--witness` keys and `--witness-threshold` (default: all of them); `None` when no
    /// witness is named.
    pub fn new(
        witnesses: Vec<WitnessKey>,
        threshold: Option<usize>,
    ) -> Result<Option<WitnessRequirement>, WitnessError> {
        if witnesses.is_empty() {
            return match threshold {
                Some(_) => Err(WitnessError::ThresholdWithoutWitnesses),
                None => Ok(None),
            };
        }
        let threshold = threshold.unwrap_or(witnesses.len());
        if threshold == 0 {
            return Err(WitnessError::ThresholdZero);
        }
        if threshold > witnesses.len() {
            return Err(WitnessError::ThresholdTooHigh {
                threshold,
                given: witnesses.len(),
            });
        }
        Ok(Some(WitnessRequirement {
            witnesses,
            threshold,
        }))
    }

    /// Checks a checkpoint the caller has verified against the log's key.
    pub fn check(&self, cp: &SignedCheckpoint) -> Result<CosignatureReport, WitnessError> {
        require_witnessed(&cp.text, &self.witnesses, self.threshold)
    }

    pub fn threshold(&self) -> usize {
        self.threshold
    }
}

/// Checks `cp` against `required`, if the user requires witnesses.
pub fn check_witnessed(
    cp: &SignedCheckpoint,
    required: Option<&WitnessRequirement>,
) -> Result<(), WitnessError> {
    match required {
        Some(r) => r.check(cp).map(|_| ()),
        None => Ok(()),
    }
}

/// The walk back through one party's registrations, to the one in effect at `entry`.
#[derive(Debug)]
pub struct KeyHistory {
    party: String,
    key: String,
    entry: u64,
    next: u64,
}

/// What the walk needs next, or what it found.
#[derive(Debug, PartialEq)]
pub enum Step {
    /// Fetch and check registration entry `n`, then hand it to [`KeyHistory::step`].
    Fetch(u64),
    /// The key was a current key of the party at the entry's index.
    Valid(Box<PublicKey>),
}

impl KeyHistory {
    /// Starts from the party's latest registration (`latest`, as the log's API says).
    pub fn new(party: &str, key_ref: &str, entry: u64, latest: u64) -> KeyHistory {
        KeyHistory {
            party: party.to_owned(),
            key: key_ref.to_owned(),
            entry,
            next: latest,
        }
    }

    /// The registration entry to fetch first.
    pub fn start(&self) -> Step {
        Step::Fetch(self.next)
    }

    /// Takes the registration asked for (checked by the caller: included, signed by the log).
    pub fn step(&mut self, registration: &Registration) -> Result<Step, KeyError> {
        let at = self.next;
        if registration.name != self.party {
            return Err(KeyError::OtherParty {
                registration: at,
                found: registration.name.clone(),
                party: self.party.clone(),
            });
        }
        if at == self.entry {
            return Err(KeyError::SameIndex {
                registration: at,
                entry: self.entry,
            });
        }
        if at < self.entry {
            return self
                .decide(at, registration)
                .map(|k| Step::Valid(Box::new(k)));
        }
        match registration.previous {
            None => Err(KeyError::NotYetRegistered {
                entry: self.entry,
                party: self.party.clone(),
            }),
            // Strictly decreasing, so the walk ends whatever the log serves.
            Some(previous) if previous >= at => Err(KeyError::MalformedChain {
                registration: at,
                previous,
            }),
            Some(previous) => {
                self.next = previous;
                Ok(Step::Fetch(previous))
            }
        }
    }

    /// The registration at `at` was in effect at the entry's index: the key must be current.
    fn decide(&self, at: u64, r: &Registration) -> Result<PublicKey, KeyError> {
        if let Some(k) = r.keys.iter().find(|k| k.key_ref() == self.key) {
            return Ok(k.clone());
        }
        if r.revoked_keys.iter().any(|k| k.key_ref() == self.key) {
            return Err(KeyError::Revoked {
                entry: self.entry,
                key: self.key.clone(),
                party: self.party.clone(),
                revoked_at: at,
            });
        }
        Err(KeyError::NotCurrent {
            entry: self.entry,
            key: self.key.clone(),
            party: self.party.clone(),
            registration: at,
        })
    }
}

/// Checks that `leaf` (entry `index`, included in `cp`) carries exactly one signature, by a
/// key the log's registration entries bound to `party` and had not revoked at `index`, and
/// that the signature verifies. Each registration entry it reads is checked to be included
/// in `cp` and signed by the log (`vkey`). Returns the key.
pub async fn signer_valid_at(
    client: &Client,
    vkey: &PublicKey,
    cp: &SignedCheckpoint,
    leaf: &Leaf,
    party: &str,
    index: u64,
) -> anyhow::Result<PublicKey> {
    use anyhow::{bail, Context};
    let keyid = match leaf.envelope.signatures.as_slice() {
        [one] => one.keyid.clone(),
        _ => bail!("entry {index} must carry exactly one signature, by {party}"),
    };
    let latest = client.party(party).await?.updated_at;
    let mut walk = KeyHistory::new(party, &keyid, index, latest);
    let mut step = walk.start();
    let key = loop {
        match step {
            Step::Valid(key) => break *key,
            Step::Fetch(n) => {
                let registration = log_registration(client, vkey, cp, n).await?;
                step = walk.step(&registration)?;
            }
        }
    };
    leaf.envelope
        .verify(|id| (id == keyid).then_some(&key))
        .with_context(|| format!("entry {index}'s signature by {keyid} does not verify"))?;
    Ok(key)
}

/// Registration entry `n`, checked: included in `cp`, signed by the log.
async fn log_registration(
    client: &Client,
    vkey: &PublicKey,
    cp: &SignedCheckpoint,
    n: u64,
) -> anyhow::Result<Registration> {
    use anyhow::Context;
    let leaf = included_entry(client, vkey, cp, n).await?;
    leaf.envelope
        .verify(|id| (id == vkey.key_ref()).then_some(vkey))
        .with_context(|| format!("registration entry {n} is not signed by the log"))?;
    match typed(&leaf, Kind::Registration, n)?.predicate {
        Predicate::Registration(r) => Ok(r),
        _ => unreachable!("parsed as a registration"),
    }
}

/// Fetches entry `index`, checks its inclusion in `cp` (whose signature by `vkey` the caller
/// has checked), and returns the parsed leaf.
pub async fn included_entry(
    client: &Client,
    vkey: &PublicKey,
    cp: &SignedCheckpoint,
    index: u64,
) -> anyhow::Result<Leaf> {
    use anyhow::{ensure, Context};
    ensure!(
        index < cp.size(),
        "entry {index} is not covered by the checkpoint you rely on ({} entries): if the log has witnesses, its witnessed checkpoint has not reached this entry yet (see its /v1/log); retry later",
        cp.size()
    );
    let leaf = client.entry(index).await?;
    let proof = TlogProof::parse(&client.inclusion_proof(index, Some(cp.size())).await?)?;
    ensure!(
        proof.index == index,
        "the log sent a proof for entry {} instead of {index}",
        proof.index
    );
    let proof_cp = proof
        .verify(vkey, &leaf)
        .with_context(|| format!("entry {index} is not proven to be in the log"))?;
    ensure!(
        proof_cp.root() == cp.root() && proof_cp.size() == cp.size(),
        "the proof for entry {index} is against a different checkpoint than the log's current one"
    );
    Leaf::parse(&leaf).with_context(|| format!("entry {index} is not an Embargo leaf"))
}

/// The statement of entry `index` as a `kind` entry, checked against the kind's schema.
pub fn typed(leaf: &Leaf, kind: Kind, index: u64) -> anyhow::Result<TypedStatement> {
    use anyhow::ensure;
    let payload = leaf.envelope.payload_bytes()?;
    let json: serde_json::Value = serde_json::from_slice(&payload)?;
    ensure!(
        json["predicateType"] == kind.predicate_type(),
        "entry {index} is not a {} entry",
        kind.predicate_type()
    );
    Ok(TypedStatement::parse(kind, &json)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::note::KeyPair;
    use crate::core::predicate::Role;

    mod witnesses {
        use super::super::*;
        use crate::core::checkpoint::Checkpoint;
        use crate::core::note::KeyPair;
        use crate::core::tlog::Hash;
        use crate::witness::cosignature::Cosigner;

        fn cosigners() -> Vec<Cosigner> {
            ["w.example/a", "w.example/b", "w.example/c"]
                .map(|n| Cosigner::new(&KeyPair::generate(n).unwrap()))
                .to_vec()
        }

        /// A checkpoint signed by a log and cosigned by `by`.
        fn cosigned(by: &[&Cosigner]) -> SignedCheckpoint {
            let log = KeyPair::generate("log.example").unwrap();
            let cp = Checkpoint {
                origin: "log.example".into(),
                size: 42,
                root: Hash([3; 32]),
            };
            let mut signed = cp.sign(&log).unwrap();
            for c in by {
                signed.text += &c.cosign(&cp.body(), 1_700_000_000).unwrap();
            }
            signed
        }

        fn keys(cs: &[Cosigner]) -> Vec<WitnessKey> {
            cs.iter().map(|c| c.public().clone()).collect()
        }

        #[test]
        fn two_of_three_passes_and_one_of_three_names_the_missing() {
            let cs = cosigners();
            let req = WitnessRequirement::new(keys(&cs), Some(2))
                .unwrap()
                .unwrap();
            let report = req.check(&cosigned(&[&cs[0], &cs[2]])).unwrap();
            assert_eq!(report.valid.len(), 2);
            let err = req.check(&cosigned(&[&cs[1]])).unwrap_err();
            let msg = err.to_string();
            assert!(
                matches!(
                    err,
                    WitnessError::NotWitnessed {
                        size: 42,
                        valid: 1,
                        needed: 2,
                        ..
                    }
                ),
                "{msg}"
            );
            assert!(
                msg.contains(&cs[0].public().key_ref()) && msg.contains(&cs[2].public().key_ref()),
                "{msg}"
            );
            assert!(!msg.contains(&cs[1].public().key_ref()), "{msg}");
        }

        #[test]
        fn the_default_threshold_is_all_and_strangers_do_not_count() {
            let cs = cosigners();
            let req = WitnessRequirement::new(keys(&cs[..2]), None)
                .unwrap()
                .unwrap();
            assert_eq!(req.threshold(), 2);
            // c is not required: its cosignature does not stand in for b's.
            let err = req.check(&cosigned(&[&cs[0], &cs[2]])).unwrap_err();
            assert!(err.to_string().contains(&cs[1].public().key_ref()));
            assert!(check_witnessed(&cosigned(&[]), None).is_ok());
        }

        #[test]
        fn a_cosignature_on_another_checkpoint_is_reported_bad() {
            let cs = cosigners();
            let mut cp = cosigned(&[&cs[0]]);
            let other = Checkpoint {
                origin: "log.example".into(),
                size: 43,
                root: Hash([3; 32]),
            };
            cp.text += &cs[1].cosign(&other.body(), 5).unwrap();
            let err = require_witnessed(&cp.text, &keys(&cs[..2]), 2).unwrap_err();
            assert!(err.to_string().contains("(bad signature)"), "{err}");
        }

        #[test]
        fn unusable_requirements_are_refused() {
            let cs = cosigners();
            assert_eq!(
                WitnessRequirement::new(keys(&cs), Some(4)).unwrap_err(),
                WitnessError::ThresholdTooHigh {
                    threshold: 4,
                    given: 3
                }
            );
            assert_eq!(
                WitnessRequirement::new(keys(&cs), Some(0)).unwrap_err(),
                WitnessError::ThresholdZero
            );
            assert_eq!(
                WitnessRequirement::new(vec![], Some(1)).unwrap_err(),
                WitnessError::ThresholdWithoutWitnesses
            );
            assert_eq!(WitnessRequirement::new(vec![], None).unwrap(), None);
        }
    }

    fn key(name: &str) -> PublicKey {
        KeyPair::generate(name).unwrap().public().clone()
    }

    fn registration(
        keys: &[&PublicKey],
        revoked: &[&PublicKey],
        previous: Option<u64>,
    ) -> Registration {
        Registration {
            name: "social.example".into(),
            display_name: "Social".into(),
            role: Role::Platform,
            keys: keys.iter().map(|k| (*k).clone()).collect(),
            revoked_keys: revoked.iter().map(|k| (*k).clone()).collect(),
            contact: None,
            previous,
        }
    }

    /// Walks `chain` (index -> registration) from `latest` for `key` at `entry`.
    fn walk(
        chain: &[(u64, Registration)],
        key: &PublicKey,
        entry: u64,
        latest: u64,
    ) -> Result<PublicKey, KeyError> {
        let mut w = KeyHistory::new("social.example", &key.key_ref(), entry, latest);
        let mut step = w.start();
        loop {
            match step {
                Step::Valid(k) => return Ok(*k),
                Step::Fetch(n) => {
                    let r = &chain
                        .iter()
                        .find(|(i, _)| *i == n)
                        .expect("asked for an entry of the chain")
                        .1;
                    step = w.step(r)?;
                }
            }
        }
    }

    #[test]
    fn a_key_current_at_the_entry_is_valid_even_if_revoked_later() {
        let (k1, k2) = (key("social.example"), key("social.example"));
        let chain = [
            (2, registration(&[&k1], &[], None)),
            (9, registration(&[&k2], &[&k1], Some(2))),
        ];
        assert_eq!(walk(&chain, &k1, 5, 9), Ok(k1.clone()));
    }

    #[test]
    fn a_key_revoked_before_the_entry_is_refused_with_the_revocation_index() {
        let (k1, k2) = (key("social.example"), key("social.example"));
        let chain = [
            (2, registration(&[&k1], &[], None)),
            (9, registration(&[&k2], &[&k1], Some(2))),
        ];
        let err = walk(&chain, &k1, 12, 9).unwrap_err();
        assert!(
            matches!(
                err,
                KeyError::Revoked {
                    revoked_at: 9,
                    entry: 12,
                    ..
                }
            ),
            "{err}"
        );
        assert!(err.to_string().contains("revoked key"), "{err}");
    }

    #[test]
    fn a_key_revoked_long_before_is_not_current_in_later_registrations() {
        let (k1, k2, k3) = (
            key("social.example"),
            key("social.example"),
            key("social.example"),
        );
        let chain = [
            (2, registration(&[&k1], &[], None)),
            (9, registration(&[&k2], &[&k1], Some(2))),
            (20, registration(&[&k2, &k3], &[], Some(9))),
        ];
        let err = walk(&chain, &k1, 30, 20).unwrap_err();
        assert!(
            matches!(
                err,
                KeyError::NotCurrent {
                    registration: 20,
                    ..
                }
            ),
            "{err}"
        );
    }

    #[test]
    fn a_key_added_after_the_entry_does_not_make_it_valid() {
        let (k1, k2) = (key("social.example"), key("social.example"));
        let chain = [
            (2, registration(&[&k1], &[], None)),
            (9, registration(&[&k1, &k2], &[], Some(2))),
        ];
        let err = walk(&chain, &k2, 5, 9).unwrap_err();
        assert!(
            matches!(
                err,
                KeyError::NotCurrent {
                    registration: 2,
                    ..
                }
            ),
            "{err}"
        );
    }

    #[test]
    fn an_entry_before_the_first_registration_is_refused() {
        let k1 = key("social.example");
        let chain = [(7, registration(&[&k1], &[], None))];
        let err = walk(&chain, &k1, 3, 7).unwrap_err();
        assert!(matches!(err, KeyError::NotYetRegistered { .. }), "{err}");
    }

    #[test]
    fn a_chain_that_does_not_go_back_is_refused_instead_of_looping() {
        let k1 = key("social.example");
        let chain = [(7, registration(&[&k1], &[], Some(7)))];
        let err = walk(&chain, &k1, 3, 7).unwrap_err();
        assert!(matches!(err, KeyError::MalformedChain { .. }), "{err}");
    }

    #[test]
    fn another_partys_registration_is_refused() {
        let k1 = key("social.example");
        let mut other = registration(&[&k1], &[], None);
        other.name = "other.example".into();
        let err = walk(&[(2, other)], &k1, 5, 2).unwrap_err();
        assert!(matches!(err, KeyError::OtherParty { .. }), "{err}");
    }
}
