//! Log entries: the leaf the log writes around each accepted envelope, and the in-toto
//! Statement inside it.
//!
//! A leaf is `{"v":1,"logged_at":"<RFC 3339 UTC, ms>","envelope":<DSSE envelope>}`, UTF-8 JSON of
//! at most [`MAX_ENTRY_SIZE`] bytes. This module owns that format and the statement's shape; it
//! never decides who may write (that is the server's policy) and does no I/O.

use crate::core::dsse::{DsseError, Envelope};
use crate::core::predicate::{Kind, PredicateError, TypedStatement};
use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};

/// The largest leaf the log stores: 64 KiB less one byte, because entry bundles frame each
/// entry with a big-endian u16 length.
pub const MAX_ENTRY_SIZE: usize = u16::MAX as usize;

/// The in-toto Statement type the payload must declare.
pub const STATEMENT_TYPE: &str = "https://in-toto.io/Statement/v1";

/// The log's timestamp format: RFC 3339, UTC, milliseconds, `Z`. Always 24 bytes for years
/// 0000..=9999.
pub fn format_logged_at(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// The exact leaf bytes for an envelope (in canonical JSON) logged at `logged_at`.
pub fn encode_leaf(logged_at: &str, envelope_json: &str) -> String {
    format!(r#"{{"v":1,"logged_at":"{logged_at}","envelope":{envelope_json}}}"#)
}

/// The size of the leaf [`encode_leaf`] would write for this envelope.
pub fn leaf_len(envelope_json: &str) -> usize {
    encode_leaf("0000-00-00T00:00:00.000Z", envelope_json).len()
}

/// A leaf as read back from the log.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Leaf {
    pub v: u32,
    pub logged_at: DateTime<Utc>,
    pub envelope: Envelope,
}

impl Leaf {
    pub fn parse(bytes: &[u8]) -> Result<Leaf, serde_json::Error> {
        serde_json::from_slice(bytes)
    }

    /// The Embargo statement this leaf carries: its kind read from the predicate type, then
    /// parsed and checked as that kind. The one decoding of a leaf's statement.
    pub fn typed(&self) -> Result<TypedStatement, TypedError> {
        let payload = self.envelope.payload_bytes().map_err(TypedError::Payload)?;
        let json: serde_json::Value = serde_json::from_slice(&payload).map_err(TypedError::Json)?;
        let predicate_type = json["predicateType"].as_str().unwrap_or_default();
        let kind = Kind::from_predicate_type(predicate_type)
            .ok_or_else(|| TypedError::NotEmbargo(predicate_type.to_owned()))?;
        TypedStatement::parse(kind, &json).map_err(|error| TypedError::Statement { kind, error })
    }
}

/// Why a leaf carries no valid Embargo statement.
#[derive(Debug, thiserror::Error)]
pub enum TypedError {
    #[error(transparent)]
    Payload(DsseError),
    #[error("the entry's statement is not JSON: {0}")]
    Json(serde_json::Error),
    #[error("the entry's predicate type {0:?} is not one of Embargo's")]
    NotEmbargo(String),
    /// A statement of an Embargo kind that does not parse as that kind.
    #[error("{error}")]
    Statement { kind: Kind, error: PredicateError },
}

impl TypedError {
    /// The kind the leaf claims to be, if it names one of Embargo's.
    pub fn kind(&self) -> Option<Kind> {
        match self {
            TypedError::Statement { kind, .. } => Some(*kind),
            _ => None,
        }
    }
}

/// An in-toto Statement v1, as far as the log checks it for every entry. Predicate-specific
/// checks live with the predicate types.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Statement {
    #[serde(rename = "_type")]
    pub type_: String,
    pub subject: Vec<Subject>,
    #[serde(rename = "predicateType")]
    pub predicate_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub predicate: Option<serde_json::Map<String, serde_json::Value>>,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Subject {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default)]
    pub digest: std::collections::BTreeMap<String, String>,
}

#[derive(Debug, thiserror::Error)]
pub enum StatementError {
    #[error("payload is not an in-toto Statement: {0}")]
    Json(String),
    #[error("statement _type is {0:?}; expected {STATEMENT_TYPE:?}")]
    Type(String),
    #[error("statement has no subject: name at least one subject with a digest")]
    NoSubject,
    #[error("subject #{0} has no digest")]
    SubjectDigest(usize),
    #[error("predicateType must be an absolute URI, got {0:?}")]
    PredicateType(String),
}

impl Statement {
    /// Parses and checks the parts of a statement every entry must have.
    pub fn parse(payload: &[u8]) -> Result<Statement, StatementError> {
        let s: Statement =
            serde_json::from_slice(payload).map_err(|e| StatementError::Json(e.to_string()))?;
        if s.type_ != STATEMENT_TYPE {
            return Err(StatementError::Type(s.type_));
        }
        if s.subject.is_empty() {
            return Err(StatementError::NoSubject);
        }
        if let Some(i) = s.subject.iter().position(|s| s.digest.is_empty()) {
            return Err(StatementError::SubjectDigest(i));
        }
        if !is_absolute_uri(&s.predicate_type) {
            return Err(StatementError::PredicateType(s.predicate_type));
        }
        Ok(s)
    }
}

/// `scheme:rest`, scheme per RFC 3986 (a letter, then letters, digits, `+`, `-`, `.`).
fn is_absolute_uri(s: &str) -> bool {
    let Some((scheme, rest)) = s.split_once(':') else {
        return false;
    };
    let mut chars = scheme.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
        && !rest.is_empty()
        && !s.chars().any(char::is_whitespace)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::note::KeyPair;

    #[test]
    fn leaf_has_the_documented_shape_and_parses_back() {
        let k = KeyPair::generate("p").unwrap();
        let env = Envelope::sign(b"{}", &k);
        let t = DateTime::parse_from_rfc3339("2026-11-24T17:56:00.1Z")
            .unwrap()
            .to_utc();
        let ts = format_logged_at(t);
        assert_eq!(ts, "2026-11-24T17:56:00.100Z");
        let leaf = encode_leaf(&ts, &env.to_canonical_json());
        assert!(leaf.starts_with(
            r#"{"v":1,"logged_at":"2026-11-24T17:56:00.100Z","envelope":{"payloadType":"#
        ));
        assert_eq!(leaf.len(), leaf_len(&env.to_canonical_json()));
        let back = Leaf::parse(leaf.as_bytes()).unwrap();
        assert_eq!(back.envelope, env);
        assert_eq!(back.logged_at, t);
    }

    #[test]
    fn statements_need_type_subject_and_predicate_type() {
        let ok = br#"{"_type":"https://in-toto.io/Statement/v1","subject":[{"name":"m","digest":{"sha3-256":"00"}}],"predicateType":"https://embargo.dev/x/v1","predicate":{}}"#;
        Statement::parse(ok).unwrap();
        let no_subject = br#"{"_type":"https://in-toto.io/Statement/v1","subject":[],"predicateType":"https://e/x"}"#;
        assert!(matches!(
            Statement::parse(no_subject),
            Err(StatementError::NoSubject)
        ));
        let bad_type =
            br#"{"_type":"x","subject":[{"digest":{"a":"b"}}],"predicateType":"https://e/x"}"#;
        assert!(matches!(
            Statement::parse(bad_type),
            Err(StatementError::Type(_))
        ));
        let bad_pt = br#"{"_type":"https://in-toto.io/Statement/v1","subject":[{"digest":{"a":"b"}}],"predicateType":"not a uri"}"#;
        assert!(matches!(
            Statement::parse(bad_pt),
            Err(StatementError::PredicateType(_))
        ));
        assert!(matches!(
            Statement::parse(b"[1]"),
            Err(StatementError::Json(_))
        ));
    }
}
