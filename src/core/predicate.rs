//! The entry kinds of the Embargo log: their predicate types, JSON Schemas (in `schema/`) and
//! typed forms.
//!
//! [`TypedStatement::parse`] checks a statement against its kind's schema and returns the typed
//! predicate; it is pure and knows nothing of the log's state. Who may write which kind, and
//! the checks against earlier entries, live in the log's registry (`log/registry.rs`).

use crate::core::note::PublicKey;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::sync::OnceLock;

/// The kinds of entries, by predicate type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    Registration,
    ModelCommitment,
    DecisionBatch,
    Reveal,
    AuditReport,
}

impl Kind {
    pub const ALL: [Kind; 5] = [
        Kind::Registration,
        Kind::ModelCommitment,
        Kind::DecisionBatch,
        Kind::Reveal,
        Kind::AuditReport,
    ];

    pub fn predicate_type(self) -> &'static str {
        match self {
            Kind::Registration => "https://embargo.dev/registration/v1",
            Kind::ModelCommitment => "https://embargo.dev/model-commitment/v1",
            Kind::DecisionBatch => "https://embargo.dev/decision-batch/v1",
            Kind::Reveal => "https://embargo.dev/reveal/v1",
            Kind::AuditReport => "https://embargo.dev/audit-report/v1",
        }
    }

    pub fn from_predicate_type(pt: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.predicate_type() == pt)
    }

    /// The JSON Schema (draft 2020-12) of the whole statement of this kind.
    pub fn schema_text(self) -> &'static str {
        match self {
            Kind::Registration => include_str!("../../schema/registration.schema.json"),
            Kind::ModelCommitment => include_str!("../../schema/model-commitment.schema.json"),
            Kind::DecisionBatch => include_str!("../../schema/decision-batch.schema.json"),
            Kind::Reveal => include_str!("../../schema/reveal.schema.json"),
            Kind::AuditReport => include_str!("../../schema/audit-report.schema.json"),
        }
    }

    fn validator(self) -> &'static jsonschema::Validator {
        static VALIDATORS: OnceLock<Vec<jsonschema::Validator>> = OnceLock::new();
        let all = VALIDATORS.get_or_init(|| {
            Kind::ALL
                .iter()
                .map(|k| {
                    let schema: serde_json::Value =
                        serde_json::from_str(k.schema_text()).expect("bundled schemas are JSON");
                    jsonschema::options()
                        .should_validate_formats(true)
                        .build(&schema)
                        .expect("bundled schemas compile")
                })
                .collect()
        });
        &all[Kind::ALL
            .iter()
            .position(|k| *k == self)
            .expect("kind listed")]
    }
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum PredicateError {
    #[error("the statement does not match the {kind} schema: {detail}")]
    Schema { kind: &'static str, detail: String },
    #[error("{0}")]
    Invalid(String),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Platform,
    Auditor,
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Role::Platform => "platform",
            Role::Auditor => "auditor",
        })
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Registration {
    pub name: String,
    pub display_name: String,
    pub role: Role,
    pub keys: Vec<PublicKey>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub revoked_keys: Vec<PublicKey>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contact: Option<String>,
    /// The party's registration entry this one replaces; `None` on its first registration.
    /// The log refuses a registration whose `previous` is not the party's latest, so a
    /// party's registrations form a chain a client can walk back from the latest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous: Option<u64>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ModelInfo {
    pub name: String,
    pub version: String,
    pub format: String,
    pub total_size: u64,
    pub file_count: u64,
}

/// The only escrow scheme: drand tlock, optionally with trustees (`schema/escrow.md`).
pub const ESCROW_SCHEME: &str = "tlock";

/// A model deposited encrypted at commit time, opening by itself when the embargo ends.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Escrow {
    pub scheme: String,
    /// `sha3-256:<hex>`: the chunk-tree root of the ciphertext file.
    pub ciphertext_digest: String,
    pub ciphertext_size: u64,
    /// The drand round whose signature opens the escrow.
    pub lock_round: u64,
    /// The drand chain's hash, hex.
    pub chain_hash: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub trustees: Vec<Trustee>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threshold: Option<u32>,
}

impl Escrow {
    /// The hex digest of the ciphertext, without its `sha3-256:` prefix.
    pub fn ciphertext_hex(&self) -> &str {
        self.ciphertext_digest
            .strip_prefix("sha3-256:")
            .unwrap_or(&self.ciphertext_digest)
    }
}

/// A trustee of an escrow and its encrypted share of the X25519 identity.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Trustee {
    pub key: PublicKey,
    /// The share, encrypted to `key` (base64).
    pub share: String,
    /// SHA3-256 of the plaintext share, hex.
    pub share_digest: String,
}

/// How an escrow was opened, with the evidence anyone can check against the ciphertext.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EscrowOpening {
    pub opened_with: OpenedWith,
    pub ciphertext_digest: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chain_hash: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub round: Option<u64>,
    /// The round's BLS signature, hex.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub shares: Vec<PostedShare>,
    /// The model digest of what the escrow opened to, if it opened to a model stream.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub opened_digest: Option<String>,
    /// Why the escrow did not open to the committed model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OpenedWith {
    Beacon,
    Trustees,
}

/// A trustee's share as posted to open an escrow (published once the escrow is open).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PostedShare {
    /// The trustee's key reference, `<name>+<id>`.
    pub trustee: String,
    pub share: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ModelCommitment {
    pub platform: String,
    pub model: ModelInfo,
    pub reveal_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purpose: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub supersedes: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub escrow: Option<Escrow>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Window {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DecisionBatch {
    pub platform: String,
    pub commitment: u64,
    pub window: Window,
    pub record_count: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RevealedBy {
    Platform,
    Escrow,
    Anyone,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Reveal {
    pub commitment: u64,
    pub revealed_by: RevealedBy,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revealer: Option<String>,
    pub on_time: bool,
    pub location: String,
    pub total_size: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub matches_commitment: Option<bool>,
    /// For a reveal by escrow: how it opened, and the evidence.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub escrow: Option<EscrowOpening>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Pass,
    Fail,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AuditReport {
    pub auditor: String,
    pub commitment: u64,
    pub suite_digest: String,
    pub dataset_digest: String,
    pub verdict: Verdict,
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub metrics: std::collections::BTreeMap<String, f64>,
    pub report_digest: String,
}

/// A statement's predicate, typed by kind.
#[derive(Clone, Debug, PartialEq)]
pub enum Predicate {
    Registration(Registration),
    ModelCommitment(ModelCommitment),
    DecisionBatch(DecisionBatch),
    Reveal(Reveal),
    AuditReport(AuditReport),
}

/// A statement of one of the Embargo kinds, checked against its schema.
#[derive(Clone, Debug, PartialEq)]
pub struct TypedStatement {
    pub subject_name: String,
    /// The subject's digest (hex): SHA3-256 for models and batches, SHA-256 for party names.
    pub subject_digest: String,
    pub predicate: Predicate,
}

impl TypedStatement {
    pub fn kind(&self) -> Kind {
        match self.predicate {
            Predicate::Registration(_) => Kind::Registration,
            Predicate::ModelCommitment(_) => Kind::ModelCommitment,
            Predicate::DecisionBatch(_) => Kind::DecisionBatch,
            Predicate::Reveal(_) => Kind::Reveal,
            Predicate::AuditReport(_) => Kind::AuditReport,
        }
    }

    /// Validates `statement` (already known to carry `kind`'s predicate type) against the
    /// kind's schema and parses its predicate.
    pub fn parse(
        kind: Kind,
        statement: &serde_json::Value,
    ) -> Result<TypedStatement, PredicateError> {
        let schema_error = |detail: String| PredicateError::Schema {
            kind: kind.predicate_type(),
            detail,
        };
        let errors: Vec<String> = kind
            .validator()
            .iter_errors(statement)
            .take(3)
            .map(|e| {
                let at = e.instance_path().to_string();
                let message = shorten(&e.to_string(), 300);
                if at.is_empty() {
                    message
                } else {
                    format!("at {at}: {message}")
                }
            })
            .collect();
        if !errors.is_empty() {
            return Err(schema_error(errors.join("; ")));
        }
        let subject = &statement["subject"][0];
        let subject_name = subject["name"].as_str().unwrap_or_default().to_owned();
        let subject_digest = subject["digest"]
            .as_object()
            .and_then(|d| d.values().next())
            .and_then(|v| v.as_str())
            .unwrap_or_default()
            .to_owned();
        let p = statement["predicate"].clone();
        let typed = |e: serde_json::Error| schema_error(e.to_string());
        let predicate = match kind {
            Kind::Registration => {
                Predicate::Registration(serde_json::from_value(p).map_err(typed)?)
            }
            Kind::ModelCommitment => {
                Predicate::ModelCommitment(serde_json::from_value(p).map_err(typed)?)
            }
            Kind::DecisionBatch => {
                Predicate::DecisionBatch(serde_json::from_value(p).map_err(typed)?)
            }
            Kind::Reveal => Predicate::Reveal(serde_json::from_value(p).map_err(typed)?),
            Kind::AuditReport => Predicate::AuditReport(serde_json::from_value(p).map_err(typed)?),
        };
        let s = TypedStatement {
            subject_name,
            subject_digest,
            predicate,
        };
        s.check_internal_consistency()?;
        Ok(s)
    }

    /// Checks that need no log state: subject bindings, key names, windows.
    fn check_internal_consistency(&self) -> Result<(), PredicateError> {
        let invalid = |m: String| Err(PredicateError::Invalid(m));
        match &self.predicate {
            Predicate::Registration(r) => {
                if self.subject_name != r.name || self.subject_digest != party_digest(&r.name) {
                    return invalid(format!(
                        "a registration's subject must be {{\"name\": {:?}, \"digest\": {{\"sha256\": SHA-256 of the name}}}}",
                        r.name
                    ));
                }
                if let Some(k) = r.keys.iter().find(|k| r.revoked_keys.contains(k)) {
                    return invalid(format!("key {} is both current and revoked", k.key_ref()));
                }
            }
            Predicate::ModelCommitment(c) => {
                if self.subject_name != c.model.name {
                    return invalid(format!(
                        "the subject name {:?} must be the model name {:?}",
                        self.subject_name, c.model.name
                    ));
                }
                if let Some(e) = &c.escrow {
                    check_escrow(e).map_err(PredicateError::Invalid)?;
                }
            }
            Predicate::DecisionBatch(b) => {
                if b.window.end < b.window.start {
                    return invalid("the decision window ends before it starts".into());
                }
            }
            Predicate::Reveal(_) | Predicate::AuditReport(_) => {}
        }
        Ok(())
    }
}

/// An escrow's trustees and threshold agree: both or neither, 1 <= threshold <= trustees,
/// no trustee twice.
fn check_escrow(e: &Escrow) -> Result<(), String> {
    match (e.trustees.len(), e.threshold) {
        (0, None) => {}
        (0, Some(_)) => return Err("an escrow threshold needs trustees".into()),
        (_, None) => return Err("an escrow with trustees needs a threshold".into()),
        (n, Some(k)) if k == 0 || k as usize > n => {
            return Err(format!(
                "an escrow threshold must be between 1 and the {n} trustees, not {k}"
            ))
        }
        _ => {}
    }
    let mut seen = std::collections::HashSet::new();
    if let Some(t) = e.trustees.iter().find(|t| !seen.insert(t.key.key_ref())) {
        return Err(format!("trustee {} is named twice", t.key.key_ref()));
    }
    Ok(())
}

/// Cuts `s` to at most `max` characters, marking the cut (schema messages quote whole values).
fn shorten(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((cut, _)) => format!("{}…", &s[..cut]),
        None => s.to_owned(),
    }
}

/// The subject digest of a party's registration: SHA-256 of its name, hex.
pub fn party_digest(name: &str) -> String {
    hex(&Sha256::digest(name.as_bytes()))
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Builds an in-toto statement of `kind` about one subject.
pub fn statement(
    kind: Kind,
    subject_name: &str,
    digest_alg: &str,
    digest_hex: &str,
    predicate: &impl Serialize,
) -> serde_json::Value {
    serde_json::json!({
        "_type": crate::core::entry::STATEMENT_TYPE,
        "subject": [{"name": subject_name, "digest": {digest_alg: digest_hex}}],
        "predicateType": kind.predicate_type(),
        "predicate": predicate,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::note::KeyPair;

    fn commitment_statement() -> serde_json::Value {
        serde_json::json!({
            "_type": "https://in-toto.io/Statement/v1",
            "subject": [{"name": "ranker", "digest": {"sha3-256": "ab".repeat(32)}}],
            "predicateType": "https://embargo.dev/model-commitment/v1",
            "predicate": {
                "platform": "social.example",
                "model": {"name": "ranker", "version": "2026.11", "format": "onnx", "total_size": 1234, "file_count": 1},
                "reveal_at": "2027-11-24T00:00:00Z",
                "purpose": "feed ranking"
            }
        })
    }

    #[test]
    fn every_bundled_schema_compiles() {
        for k in Kind::ALL {
            let _ = k.validator();
            assert_eq!(Kind::from_predicate_type(k.predicate_type()), Some(k));
        }
    }

    #[test]
    fn a_valid_commitment_parses_to_its_typed_form() {
        let s = TypedStatement::parse(Kind::ModelCommitment, &commitment_statement()).unwrap();
        let Predicate::ModelCommitment(c) = s.predicate else {
            panic!("wrong kind")
        };
        assert_eq!(c.model.total_size, 1234);
        assert_eq!(s.subject_digest, "ab".repeat(32));
    }

    #[test]
    fn schema_violations_name_the_field() {
        let mut s = commitment_statement();
        s["predicate"]["model"]["total_size"] = serde_json::json!(-1);
        let e = TypedStatement::parse(Kind::ModelCommitment, &s)
            .unwrap_err()
            .to_string();
        assert!(e.contains("/predicate/model/total_size"), "{e}");

        let mut s = commitment_statement();
        s["predicate"]["unexpected"] = serde_json::json!(1);
        assert!(TypedStatement::parse(Kind::ModelCommitment, &s).is_err());

        let mut s = commitment_statement();
        s["predicate"]["reveal_at"] = serde_json::json!("next year");
        assert!(TypedStatement::parse(Kind::ModelCommitment, &s).is_err());
    }

    #[test]
    fn registration_subject_must_bind_the_name() {
        let k = KeyPair::generate("social.example").unwrap();
        let reg = Registration {
            name: "social.example".into(),
            display_name: "Social".into(),
            role: Role::Platform,
            keys: vec![k.public().clone()],
            revoked_keys: vec![],
            contact: None,
            previous: None,
        };
        let good = statement(
            Kind::Registration,
            "social.example",
            "sha256",
            &party_digest("social.example"),
            &reg,
        );
        TypedStatement::parse(Kind::Registration, &good).unwrap();
        let bad = statement(
            Kind::Registration,
            "other",
            "sha256",
            &party_digest("other"),
            &reg,
        );
        assert!(matches!(
            TypedStatement::parse(Kind::Registration, &bad),
            Err(PredicateError::Invalid(_))
        ));
    }
}
