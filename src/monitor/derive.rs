//! The monitor's pure core: from the log's entries, in log order, and a clock, what happened.
//!
//! [`Registry`] is the monitor's own copy of the registry (parties, who holds which key,
//! commitments), moved past each entry by the log's own rules ([`crate::rules::admit`],
//! [`crate::rules::apply`]) and records ([`crate::core::records`]); [`observe`] decides one entry
//! and says what it means ([`Found`] events), [`tick`] says which deadlines a clock has passed.
//! An entry the rules refuse at its position is a rule the log broke: reported, and not applied
//! (the registry stays what the rules say it is).
//!
//! Pure: no files, no network, no clock (times come in as arguments).

use crate::core::entry::{Leaf, TypedError};
use crate::core::note::PublicKey;
use crate::core::predicate::{
    AuditReport, DecisionBatch, Predicate, Registration, Reveal, RevealedBy, TypedStatement,
    Verdict,
};
use crate::core::records::{Commitment, Party, Status};
use crate::monitor::event::{EventKind, Found};
use crate::rules::{self, AdmitError, Effect, Policy, RegistryStore, RegistryView, Signer};
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::collections::BTreeMap;

/// How far a reveal the log calls on time may be logged after the deadline (the log decides
/// `on_time` by its clock just before it assigns `logged_at`).
pub const ON_TIME_TOLERANCE: Duration = Duration::minutes(5);

/// The registry as the monitor recomputed it from the entries.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Registry {
    pub parties: BTreeMap<String, Party>,
    /// `<name>+<id>` of every key ever registered, to the party that holds or held it.
    pub key_owner: BTreeMap<String, String>,
    pub commitments: BTreeMap<u64, Commitment>,
}

impl RegistryView for Registry {
    fn party(&self, name: &str) -> Result<Option<Party>, AdmitError> {
        Ok(self.parties.get(name).cloned())
    }
    fn owner_of_key(&self, key_ref: &str) -> Result<Option<String>, AdmitError> {
        Ok(self.key_owner.get(key_ref).cloned())
    }
    fn commitment(&self, index: u64) -> Result<Option<Commitment>, AdmitError> {
        Ok(self.commitments.get(&index).cloned())
    }
}

impl RegistryStore for Registry {
    fn put_party(&mut self, party: Party) -> Result<(), AdmitError> {
        for k in &party.keys {
            self.key_owner.insert(k.key_ref(), party.name.clone());
        }
        self.parties.insert(party.name.clone(), party);
        Ok(())
    }
    fn put_commitment(&mut self, c: Commitment) -> Result<(), AdmitError> {
        self.commitments.insert(c.index, c);
        Ok(())
    }
}

/// What the monitor knows about the log it watches, besides its entries.
#[derive(Clone, Debug)]
pub struct LogRules {
    /// The log's checkpoint key, which also signs registrations and reveals.
    pub key: PublicKey,
    /// The log's published policy (embargo bounds, grace, beacons).
    pub policy: Policy,
}

/// Decides entry `index` (its leaf `bytes`) against `registry`, moves the registry past it if
/// the rules admit it, and says what happened, deadlines the entry's `logged_at` passed first.
pub fn observe(registry: &mut Registry, log: &LogRules, index: u64, bytes: &[u8]) -> Vec<Found> {
    let leaf = match Leaf::parse(bytes) {
        Ok(leaf) => leaf,
        Err(e) => return vec![broken(index, format!("it is not an Embargo leaf: {e}"))],
    };
    let mut out = tick(registry, leaf.logged_at);
    let statement = match leaf.typed() {
        Ok(s) => s,
        // Other in-toto statements (signed by the log's configured writers) change nothing.
        Err(TypedError::NotEmbargo(_)) => return out,
        Err(e) => {
            out.push(broken(index, format!("its statement is malformed: {e}")));
            return out;
        }
    };
    let effect = match signer_of(&leaf, &log.key) {
        Ok(signer) => Effect { statement, signer },
        Err(why) => {
            out.push(broken(index, why));
            return out;
        }
    };
    if let Err(why) = check(registry, log, &leaf, &effect) {
        out.push(broken(index, why).details(json!({ "entry_kind": why_code(&effect) })));
        return out;
    }
    out.extend(changes(registry, log, index, &leaf, &effect));
    out
}

/// Commitments whose deadlines `now` has passed: due once `reveal_at` passed, overdue once
/// the grace period passed, with no valid reveal (the same `status` the log computes).
pub fn tick(registry: &Registry, now: DateTime<Utc>) -> Vec<Found> {
    let mut out = Vec::new();
    for c in registry.commitments.values() {
        let status = c.status(now);
        if matches!(status, Status::Due | Status::Overdue) {
            out.push(
                Found::new(
                    EventKind::Due,
                    format!("due:{}", c.index),
                    format!(
                        "commitment {} ({} {}) is due: reveal_at passed, not revealed yet",
                        c.index, c.model.name, c.model.version
                    ),
                )
                .index(c.index)
                .commitment(c.index)
                .at(c.reveal_at)
                .details(json!({ "platform": c.platform, "overdue_at": c.overdue_at })),
            );
        }
        if status == Status::Overdue {
            out.push(
                Found::new(
                    EventKind::Overdue,
                    format!("overdue:{}", c.index),
                    format!(
                        "commitment {} ({} {}) of {} is OVERDUE: no valid reveal by {}",
                        c.index,
                        c.model.name,
                        c.model.version,
                        c.platform,
                        crate::core::records::rfc3339(c.overdue_at)
                    ),
                )
                .index(c.index)
                .commitment(c.index)
                .at(c.overdue_at)
                .details(json!({ "platform": c.platform, "reveal_at": c.reveal_at })),
            );
        }
    }
    out
}

fn broken(index: u64, why: String) -> Found {
    Found::new(
        EventKind::RuleBroken,
        format!("rule-broken:{index}"),
        format!("the log broke a rule at entry {index}: {why}"),
    )
    .index(index)
}

fn why_code(effect: &Effect) -> &'static str {
    match effect.statement.predicate {
        Predicate::Registration(_) => "registration",
        Predicate::ModelCommitment(_) => "model-commitment",
        Predicate::DecisionBatch(_) => "decision-batch",
        Predicate::Reveal(_) => "reveal",
        Predicate::AuditReport(_) => "audit-report",
    }
}

/// Who signed the leaf: the log's key or a party's. Embargo entries carry exactly one signature.
fn signer_of(leaf: &Leaf, log_key: &PublicKey) -> Result<Signer, String> {
    match leaf.envelope.signatures.as_slice() {
        [one] if one.keyid == log_key.key_ref() => Ok(Signer::Log),
        [one] => Ok(Signer::Key(one.keyid.clone())),
        sigs => Err(format!(
            "it carries {} signatures; Embargo entries carry exactly one",
            sigs.len()
        )),
    }
}

/// The rules at the entry's position, its signature, and what the log claims about reveals.
fn check(registry: &Registry, log: &LogRules, leaf: &Leaf, effect: &Effect) -> Result<(), String> {
    rules::admit(registry, &log.policy, effect, leaf.logged_at).map_err(|e| e.to_string())?;
    let key = match &effect.signer {
        Signer::Log => log.key.clone(),
        Signer::Key(k) => {
            rules::current_key(registry, k)
                .map_err(|e| e.to_string())?
                .1
        }
    };
    leaf.envelope
        .verify(|id| (id == key.key_ref()).then_some(&key))
        .map_err(|e| format!("its signature does not verify: {e}"))?;
    if let Predicate::Reveal(r) = &effect.statement.predicate {
        check_reveal(registry, leaf, &effect.statement, r)?;
    }
    Ok(())
}

/// A reveal that says it matches is of the committed digest, and its `on_time` agrees with
/// its `logged_at` and the commitment's deadline.
fn check_reveal(
    registry: &Registry,
    leaf: &Leaf,
    s: &TypedStatement,
    r: &Reveal,
) -> Result<(), String> {
    let Some(c) = registry.commitments.get(&r.commitment) else {
        return Ok(()); // admit refused this already
    };
    let matches = r.matches_commitment.unwrap_or(true);
    if matches && s.subject_digest != c.model_digest {
        return Err(format!(
            "the reveal of commitment {} is of digest {}, not the committed {}",
            c.index, s.subject_digest, c.model_digest
        ));
    }
    if !matches && r.revealed_by != RevealedBy::Escrow {
        return Err(format!(
            "a reveal of commitment {} by the {:?} that does not match the commitment was logged",
            c.index, r.revealed_by
        ));
    }
    if !r.on_time && leaf.logged_at < c.overdue_at {
        return Err(format!(
            "the reveal of commitment {} says it is late, but it was logged before the deadline {}",
            c.index, c.overdue_at
        ));
    }
    if r.on_time && leaf.logged_at > c.overdue_at + ON_TIME_TOLERANCE {
        return Err(format!(
            "the reveal of commitment {} says it is on time, but it was logged after the deadline {}",
            c.index, c.overdue_at
        ));
    }
    Ok(())
}

/// Applies an admitted entry and describes what it changed.
fn changes(
    registry: &mut Registry,
    log: &LogRules,
    index: u64,
    leaf: &Leaf,
    effect: &Effect,
) -> Vec<Found> {
    let before = match &effect.statement.predicate {
        Predicate::Registration(r) => registry.parties.get(&r.name).cloned(),
        _ => None,
    };
    if let Err(e) = rules::apply(registry, &log.policy, index, leaf.logged_at, effect) {
        return vec![broken(index, format!("it cannot be applied: {e}"))];
    }
    let at = leaf.logged_at;
    let s = &effect.statement;
    match &s.predicate {
        Predicate::Registration(r) => registration(before.as_ref(), r, index, at),
        Predicate::ModelCommitment(_) => committed(registry, index, at),
        Predicate::Reveal(r) => revealed(registry, r, index, at),
        Predicate::DecisionBatch(b) => vec![batch(b, index, at)],
        Predicate::AuditReport(a) => audit(a, index, at),
    }
}

fn registration(
    before: Option<&Party>,
    r: &Registration,
    index: u64,
    at: DateTime<Utc>,
) -> Vec<Found> {
    let refs = |keys: &[PublicKey]| keys.iter().map(|k| k.to_string()).collect::<Vec<_>>();
    let Some(before) = before else {
        return vec![Found::new(
            EventKind::PartyRegistered,
            format!("party:{index}"),
            format!(
                "{} registered as {} ({} keys)",
                r.name,
                r.role,
                r.keys.len()
            ),
        )
        .index(index)
        .at(at)
        .details(json!({ "party": r.name, "role": r.role, "keys": refs(&r.keys) }))];
    };
    let added: Vec<PublicKey> = r
        .keys
        .iter()
        .filter(|k| !before.keys.contains(k))
        .cloned()
        .collect();
    let dropped: Vec<PublicKey> = before
        .keys
        .iter()
        .filter(|k| !r.keys.contains(k) && !r.revoked_keys.contains(k))
        .cloned()
        .collect();
    if added.is_empty() && dropped.is_empty() && r.revoked_keys.is_empty() {
        return Vec::new();
    }
    vec![Found::new(
        EventKind::KeysChanged,
        format!("keys:{index}"),
        format!(
            "{}'s keys changed: {} added, {} revoked, {} dropped",
            r.name,
            added.len(),
            r.revoked_keys.len(),
            dropped.len()
        ),
    )
    .index(index)
    .at(at)
    .details(json!({
        "party": r.name,
        "added": refs(&added),
        "revoked": refs(&r.revoked_keys),
        "dropped": refs(&dropped),
    }))]
}

fn committed(registry: &Registry, index: u64, at: DateTime<Utc>) -> Vec<Found> {
    let Some(c) = registry.commitments.get(&index) else {
        return Vec::new();
    };
    let mut out = vec![Found::new(
        EventKind::Committed,
        format!("committed:{index}"),
        format!(
            "{} committed to {} {} (sealed until {})",
            c.platform,
            c.model.name,
            c.model.version,
            crate::core::records::rfc3339(c.reveal_at)
        ),
    )
    .index(index)
    .commitment(index)
    .at(at)
    .details(json!({
        "platform": c.platform,
        "model_digest": c.model_digest,
        "reveal_at": c.reveal_at,
        "overdue_at": c.overdue_at,
        "escrow": c.escrow.is_some(),
    }))];
    if let Some(old) = c.supersedes {
        out.push(
            Found::new(
                EventKind::Superseded,
                format!("superseded:{old}"),
                format!("commitment {old} was superseded by entry {index}"),
            )
            .index(index)
            .commitment(old)
            .at(at)
            .details(json!({ "superseded_by": index })),
        );
    }
    out
}

fn revealed(registry: &Registry, r: &Reveal, index: u64, at: DateTime<Utc>) -> Vec<Found> {
    let c = registry.commitments.get(&r.commitment);
    let overdue_at = c.map(|c| c.overdue_at);
    if r.matches_commitment.unwrap_or(true) {
        let late = overdue_at.is_some_and(|d| at >= d);
        return vec![Found::new(
            EventKind::Revealed,
            format!("revealed:{}", r.commitment),
            format!(
                "commitment {} was revealed {} by the {:?}",
                r.commitment,
                if r.on_time { "on time" } else { "LATE" },
                r.revealed_by
            ),
        )
        .index(index)
        .commitment(r.commitment)
        .at(at)
        .details(json!({
            "on_time": r.on_time,
            "logged_after_deadline": late,
            "revealed_by": r.revealed_by,
            "location": r.location,
        }))];
    }
    vec![Found::new(
        EventKind::EscrowInvalid,
        format!("escrow-invalid:{}", r.commitment),
        format!(
            "the escrow of commitment {} is INVALID: it did not open to the committed model",
            r.commitment
        ),
    )
    .index(index)
    .commitment(r.commitment)
    .at(at)
    .details(json!({ "escrow": r.escrow }))]
}

fn batch(b: &DecisionBatch, index: u64, at: DateTime<Utc>) -> Found {
    Found::new(
        EventKind::DecisionBatch,
        format!("batch:{index}"),
        format!(
            "{} logged a decision batch for commitment {}",
            b.platform, b.commitment
        ),
    )
    .index(index)
    .commitment(b.commitment)
    .at(at)
    .details(serde_json::to_value(b).unwrap_or_default())
}

fn audit(a: &AuditReport, index: u64, at: DateTime<Utc>) -> Vec<Found> {
    let details = json!({
        "auditor": a.auditor,
        "verdict": a.verdict,
        "suite_digest": a.suite_digest,
        "report_digest": a.report_digest,
        "metrics": a.metrics,
    });
    let mut out = vec![Found::new(
        EventKind::Audit,
        format!("audit:{index}"),
        format!(
            "{} audited commitment {}: {:?}",
            a.auditor, a.commitment, a.verdict
        ),
    )
    .index(index)
    .commitment(a.commitment)
    .at(at)
    .details(details.clone())];
    if a.verdict == Verdict::Fail {
        out.push(
            Found::new(
                EventKind::AuditFailed,
                format!("audit-failed:{index}"),
                format!(
                    "{}'s audit of commitment {} FAILED",
                    a.auditor, a.commitment
                ),
            )
            .index(index)
            .commitment(a.commitment)
            .at(at)
            .details(details),
        );
    }
    out
}
