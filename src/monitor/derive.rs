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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::dsse::Envelope;
    use crate::core::entry::{encode_leaf, format_logged_at};
    use crate::core::note::KeyPair;

    fn t(s: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + s, 0).unwrap()
    }

    struct World {
        log: KeyPair,
        rules: LogRules,
        registry: Registry,
        next: u64,
    }

    impl World {
        fn new() -> World {
            let log = KeyPair::generate("monitor.test/log").unwrap();
            let rules = LogRules {
                key: log.public().clone(),
                policy: Policy {
                    min_embargo: Duration::seconds(1),
                    grace: Duration::seconds(100),
                    ..Policy::default()
                },
            };
            World {
                log,
                rules,
                registry: Registry::default(),
                next: 0,
            }
        }

        /// Logs `statement` signed by `key` at time `at`; returns what the monitor found.
        fn log(&mut self, key: &KeyPair, statement: serde_json::Value, at: i64) -> Vec<Found> {
            let env = Envelope::sign(&serde_json::to_vec(&statement).unwrap(), key);
            let leaf = encode_leaf(&format_logged_at(t(at)), &env.to_canonical_json());
            let index = self.next;
            self.next += 1;
            observe(&mut self.registry, &self.rules, index, leaf.as_bytes())
        }

        fn register(&mut self, keys: &[&KeyPair], revoked: &[&KeyPair], at: i64) -> Vec<Found> {
            use sha2::Digest;
            let previous = self
                .registry
                .parties
                .get("social.example")
                .map(|p| p.updated_at);
            let vkeys = |ks: &[&KeyPair]| {
                ks.iter()
                    .map(|k| k.public().to_string())
                    .collect::<Vec<_>>()
            };
            let st = json!({
                "_type": "https://in-toto.io/Statement/v1",
                "subject": [{"name": "social.example", "digest": {"sha256": hex::encode(sha2::Sha256::digest("social.example"))}}],
                "predicateType": "https://embargo.dev/registration/v1",
                "predicate": {"name": "social.example", "display_name": "Social", "role": "platform",
                    "keys": vkeys(keys), "revoked_keys": vkeys(revoked)},
            });
            let mut st = st;
            if let Some(p) = previous {
                st["predicate"]["previous"] = p.into();
            }
            let log = self.log.clone();
            self.log(&log, st, at)
        }
    }

    fn commitment(reveal_at: i64, supersedes: Option<u64>) -> serde_json::Value {
        let mut c = json!({
            "_type": "https://in-toto.io/Statement/v1",
            "subject": [{"name": "ranker", "digest": {"sha3-256": "ab".repeat(32)}}],
            "predicateType": "https://embargo.dev/model-commitment/v1",
            "predicate": {"platform": "social.example",
                "model": {"name": "ranker", "version": "1", "format": "onnx", "total_size": 10, "file_count": 1},
                "reveal_at": format_logged_at(t(reveal_at))},
        });
        if let Some(old) = supersedes {
            c["predicate"]["supersedes"] = old.into();
        }
        c
    }

    fn kinds(found: &[Found]) -> Vec<EventKind> {
        found.iter().map(|f| f.kind).collect()
    }

    #[test]
    fn a_commitment_is_due_then_overdue_by_the_clock_and_not_once_revealed() {
        let mut w = World::new();
        let k = KeyPair::generate("social.example").unwrap();
        let reg = w.register(&[&k], &[], 0);
        assert_eq!(kinds(&reg), [EventKind::PartyRegistered], "{reg:?}");
        assert_eq!(
            kinds(&w.log(&k, commitment(10, None), 1)),
            [EventKind::Committed]
        );
        assert!(tick(&w.registry, t(9)).is_empty());
        assert_eq!(kinds(&tick(&w.registry, t(50))), [EventKind::Due]);
        let late = tick(&w.registry, t(200));
        assert_eq!(kinds(&late), [EventKind::Due, EventKind::Overdue]);
        assert_eq!(late[1].key, "overdue:1");
        assert_eq!(late[1].at.as_deref(), Some("2027-01-15T08:01:50.000Z"));
    }

    #[test]
    fn an_entry_signed_by_a_revoked_key_is_a_broken_rule_and_changes_nothing() {
        let mut w = World::new();
        let (k, k2) = (
            KeyPair::generate("social.example").unwrap(),
            KeyPair::generate("social.example").unwrap(),
        );
        w.register(&[&k], &[], 0);
        let change = w.register(&[&k2], &[&k], 1);
        assert_eq!(kinds(&change), [EventKind::KeysChanged]);
        assert_eq!(change[0].details["revoked"][0], k.public().to_string());
        let found = w.log(&k, commitment(10, None), 2);
        assert_eq!(kinds(&found), [EventKind::RuleBroken]);
        assert!(
            found[0].message.contains("revoked at entry 1"),
            "{}",
            found[0].message
        );
        assert!(w.registry.commitments.is_empty());
    }

    #[test]
    fn a_second_supersede_is_a_broken_rule() {
        let mut w = World::new();
        let k = KeyPair::generate("social.example").unwrap();
        w.register(&[&k], &[], 0);
        w.log(&k, commitment(10, None), 1);
        let first = w.log(&k, commitment(10, Some(1)), 2);
        assert_eq!(kinds(&first), [EventKind::Committed, EventKind::Superseded]);
        let second = w.log(&k, commitment(10, Some(1)), 3);
        assert_eq!(kinds(&second), [EventKind::RuleBroken]);
        assert!(second[0].message.contains("already superseded"));
    }

    fn reveal(
        commitment: u64,
        digest: &str,
        by: &str,
        matches: bool,
        on_time: bool,
    ) -> serde_json::Value {
        json!({
            "_type": "https://in-toto.io/Statement/v1",
            "subject": [{"name": "ranker", "digest": {"sha3-256": digest}}],
            "predicateType": "https://embargo.dev/reveal/v1",
            "predicate": {"commitment": commitment, "revealed_by": by, "on_time": on_time,
                "location": "v1/commitments/1/model", "total_size": 10, "matches_commitment": matches},
        })
    }

    #[test]
    fn reveals_are_checked_against_the_commitment_and_the_deadline() {
        let mut w = World::new();
        let k = KeyPair::generate("social.example").unwrap();
        let log = w.log.clone();
        w.register(&[&k], &[], 0);
        w.log(&k, commitment(10, None), 1);
        let wrong = w.log(&log, reveal(1, &"cd".repeat(32), "anyone", true, true), 20);
        assert_eq!(kinds(&wrong), [EventKind::Due, EventKind::RuleBroken]);
        let claims_late = w.log(&log, reveal(1, &"ab".repeat(32), "anyone", true, false), 21);
        assert!(claims_late[1].message.contains("says it is late"));
        let invalid = w.log(&log, reveal(1, &"ab".repeat(32), "escrow", false, true), 22);
        assert_eq!(kinds(&invalid), [EventKind::Due, EventKind::EscrowInvalid]);
        let ok = w.log(&log, reveal(1, &"ab".repeat(32), "anyone", true, true), 23);
        assert_eq!(kinds(&ok), [EventKind::Revealed]);
        let twice = w.log(&log, reveal(1, &"ab".repeat(32), "anyone", true, true), 24);
        assert!(twice[0].message.contains("already revealed"));
        assert!(tick(&w.registry, t(10_000)).is_empty());
    }

    #[test]
    fn a_reveal_signed_by_another_key_than_the_logs_is_refused() {
        let mut w = World::new();
        let k = KeyPair::generate("social.example").unwrap();
        w.register(&[&k], &[], 0);
        w.log(&k, commitment(10, None), 1);
        let forged = w.log(&k, reveal(1, &"ab".repeat(32), "anyone", true, true), 20);
        assert_eq!(kinds(&forged), [EventKind::Due, EventKind::RuleBroken]);
        assert!(forged[1].message.contains("written by the log itself"));
    }

    #[test]
    fn a_failed_audit_is_reported_as_an_audit_and_a_failure() {
        let mut w = World::new();
        let k = KeyPair::generate("social.example").unwrap();
        let log = w.log.clone();
        w.register(&[&k], &[], 0);
        w.log(&k, commitment(10, None), 1);
        w.log(
            &log,
            reveal(1, &"ab".repeat(32), "platform", true, true),
            20,
        );
        let a = KeyPair::generate("auditor.example").unwrap();
        use sha2::Digest;
        let reg = json!({
            "_type": "https://in-toto.io/Statement/v1",
            "subject": [{"name": "auditor.example", "digest": {"sha256": hex::encode(sha2::Sha256::digest("auditor.example"))}}],
            "predicateType": "https://embargo.dev/registration/v1",
            "predicate": {"name": "auditor.example", "display_name": "A", "role": "auditor",
                "keys": [a.public().to_string()], "revoked_keys": []},
        });
        w.log(&log, reg, 21);
        let report = json!({
            "_type": "https://in-toto.io/Statement/v1",
            "subject": [{"name": "ranker", "digest": {"sha3-256": "ab".repeat(32)}}],
            "predicateType": "https://embargo.dev/audit-report/v1",
            "predicate": {"auditor": "auditor.example", "commitment": 1, "suite_digest": format!("sha256:{}", "00".repeat(32)),
                "dataset_digest": format!("sha256:{}", "00".repeat(32)), "verdict": "fail", "metrics": {}, "report_digest": format!("sha256:{}", "00".repeat(32))},
        });
        let found = w.log(&a, report, 22);
        assert_eq!(
            kinds(&found),
            [EventKind::Audit, EventKind::AuditFailed],
            "{found:?}"
        );
    }
}
