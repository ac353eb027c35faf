//! Decision records: what a platform's committed model decided for one user at one time.
//!
//! This module owns the record's typed form and its validation (the same rules as
//! `schema/decision-record.schema.json`), the **leaf bytes** and **leaf hash** of a record in a
//! decision batch, and the salted digest of a candidate's model inputs. It is pure: it never
//! reads files, touches the network or runs a model.
//!
//! # Leaf bytes
//!
//! A record's leaf bytes are exactly the bytes of its JSON text as the platform wrote them (one
//! line of the batch's JSONL file, without the line's `\n` or `\r\n`). Nothing is re-encoded:
//! the receipt carries those bytes, so there is no canonical form to agree on. The leaf hash is
//! `SHA3-256(0x00 || leaf bytes)` ([`crate::model::digest::leaf_hash`]); `schema/decision-receipts.md`
//! writes this down.
//!
//! # Salted input digests
//!
//! A candidate carries either its model `inputs` or `inputs_digest` =
//! `sha3-256:` hex of `SHA3-256("embargo-inputs-v1\n" || salt || canonical(inputs))`, where the
//! salt is 32 random bytes given to the user in the receipt (outside the hashed record) and
//! `canonical` is [`canonical_json`]. A digest-only candidate cannot be replayed unless someone
//! supplies inputs that match the digest.

use crate::model::digest::{leaf_hash, Hash};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha3::{Digest, Sha3_256};

/// The only record version.
pub const VERSION: u32 = 1;
/// Largest record (its leaf bytes).
pub const MAX_RECORD_BYTES: usize = 1 << 20;
/// Most candidates in one record.
pub const MAX_CANDIDATES: usize = 10_000;
/// Domain separator of salted input digests.
pub const INPUTS_DOMAIN: &[u8] = b"embargo-inputs-v1\n";

/// How a score is read from the model's outputs (as the audit's `model.output`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutputSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index: Option<usize>,
}

/// One item the model scored.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Candidate {
    /// The platform's id of the item (a post, a listing).
    pub item: String,
    /// The model inputs, by model input name: a number, a string, or an array of them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inputs: Option<serde_json::Map<String, serde_json::Value>>,
    /// Instead of `inputs`: their salted digest, `sha3-256:<hex>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inputs_digest: Option<String>,
    /// The score the model gave.
    pub score: f64,
}

/// A decision record (`schema/decision-record.schema.json`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DecisionRecord {
    pub v: u32,
    /// The platform's registered name.
    pub platform: String,
    /// The entry index of the model commitment whose model decided.
    pub commitment: u64,
    /// When the decision was made.
    pub time: DateTime<Utc>,
    /// A pseudonymous subject (the user, as the platform names them in receipts).
    pub subject: String,
    /// Where the ranking was shown (e.g. "home-feed").
    pub surface: String,
    /// The platform's own id of this decision.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// How the score is read from the model's outputs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<OutputSpec>,
    pub candidates: Vec<Candidate>,
    /// The order shown: candidate indices, first shown first.
    pub shown: Vec<usize>,
}

/// Why a record is not a valid decision record.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum RecordError {
    #[error("not a decision record: {0} (see schema/decision-record.schema.json)")]
    Json(String),
    #[error("{field}: {why}")]
    Invalid { field: String, why: String },
    #[error("the record is {0} bytes; the limit is {MAX_RECORD_BYTES}")]
    TooLong(usize),
}

fn invalid(field: impl Into<String>, why: impl Into<String>) -> RecordError {
    RecordError::Invalid {
        field: field.into(),
        why: why.into(),
    }
}

/// Whether `s` is a registered-party name (a signed-note key name).
pub fn is_party_name(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= 128
        && b[0].is_ascii_alphanumeric()
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'/' | b'-'))
}

fn is_digest(s: &str) -> bool {
    s.strip_prefix("sha3-256:")
        .is_some_and(|h| h.len() == 64 && h.bytes().all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f')))
}

fn check_len(field: &str, s: &str, max: usize) -> Result<(), RecordError> {
    if s.is_empty() || s.chars().count() > max {
        return Err(invalid(field, format!("must be 1 to {max} characters")));
    }
    Ok(())
}

fn check_input_value(field: &str, v: &serde_json::Value) -> Result<(), RecordError> {
    use serde_json::Value;
    let scalar = |v: &Value| matches!(v, Value::Number(_) | Value::String(_));
    match v {
        Value::Array(items) if !items.is_empty() && items.iter().all(scalar) => Ok(()),
        v if scalar(v) => Ok(()),
        _ => Err(invalid(
            field,
            "a model input must be a number, a string, or a non-empty array of them",
        )),
    }
}

impl DecisionRecord {
    /// Parses and validates a record from its leaf bytes.
    pub fn parse(bytes: &[u8]) -> Result<DecisionRecord, RecordError> {
        if bytes.len() > MAX_RECORD_BYTES {
            return Err(RecordError::TooLong(bytes.len()));
        }
        let r: DecisionRecord = serde_json::from_slice(bytes).map_err(|e| explain(bytes, e))?;
        r.validate()?;
        Ok(r)
    }

    /// The rules of the schema that types alone do not enforce.
    pub fn validate(&self) -> Result<(), RecordError> {
        if self.v != VERSION {
            return Err(invalid("v", format!("must be {VERSION}")));
        }
        if !is_party_name(&self.platform) {
            return Err(invalid(
                "platform",
                "must be a registered party name (letters, digits, '.', '_', '/', '-')",
            ));
        }
        check_len("subject", &self.subject, 256)?;
        check_len("surface", &self.surface, 128)?;
        if let Some(id) = &self.id {
            check_len("id", id, 256)?;
        }
        let n = self.candidates.len();
        if n == 0 || n > MAX_CANDIDATES {
            return Err(invalid(
                "candidates",
                format!("must list 1 to {MAX_CANDIDATES} candidates"),
            ));
        }
        for (i, c) in self.candidates.iter().enumerate() {
            let at = |f: &str| format!("candidates[{i}].{f}");
            check_len(&at("item"), &c.item, 256)?;
            match (&c.inputs, &c.inputs_digest) {
                (Some(inputs), None) => {
                    if inputs.is_empty() {
                        return Err(invalid(at("inputs"), "must name at least one input"));
                    }
                    for (name, v) in inputs {
                        check_input_value(&format!("candidates[{i}].inputs.{name}"), v)?;
                    }
                }
                (None, Some(d)) => {
                    if !is_digest(d) {
                        return Err(invalid(at("inputs_digest"), "must be sha3-256:<64 hex>"));
                    }
                }
                _ => {
                    return Err(invalid(
                        format!("candidates[{i}]"),
                        "must carry exactly one of inputs and inputs_digest",
                    ))
                }
            }
            if !c.score.is_finite() {
                return Err(invalid(at("score"), "must be a finite number"));
            }
        }
        let mut seen = vec![false; n];
        for (p, &c) in self.shown.iter().enumerate() {
            if c >= n {
                return Err(invalid(
                    format!("shown[{p}]"),
                    format!("candidate {c} does not exist (there are {n})"),
                ));
            }
            if std::mem::replace(&mut seen[c], true) {
                return Err(invalid(
                    format!("shown[{p}]"),
                    format!("candidate {c} is shown twice"),
                ));
            }
        }
        Ok(())
    }
}

/// A parse error, with the field it is about when that can be found (the error path only).
fn explain(bytes: &[u8], e: serde_json::Error) -> RecordError {
    use serde_json::Value;
    let Ok(Value::Object(map)) = serde_json::from_slice::<Value>(bytes) else {
        return RecordError::Json(e.to_string());
    };
    fn field<T: serde::de::DeserializeOwned>(
        map: &serde_json::Map<String, Value>,
        name: &str,
    ) -> Option<RecordError> {
        let v = map.get(name)?;
        serde_json::from_value::<T>(v.clone())
            .err()
            .map(|e| invalid(name, e.to_string()))
    }
    field::<u32>(&map, "v")
        .or_else(|| field::<String>(&map, "platform"))
        .or_else(|| field::<u64>(&map, "commitment"))
        .or_else(|| field::<DateTime<Utc>>(&map, "time"))
        .or_else(|| field::<String>(&map, "subject"))
        .or_else(|| field::<String>(&map, "surface"))
        .or_else(|| field::<OutputSpec>(&map, "output"))
        .or_else(|| field::<Vec<Candidate>>(&map, "candidates"))
        .or_else(|| field::<Vec<usize>>(&map, "shown"))
        .unwrap_or_else(|| RecordError::Json(e.to_string()))
}

/// The leaf bytes of one JSONL line: the line without its `\n` or `\r\n`.
pub fn line_bytes(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// The leaf hash of a record in its batch tree: `SHA3-256(0x00 || bytes)`.
pub fn record_leaf(bytes: &[u8]) -> Hash {
    leaf_hash(bytes)
}

/// The canonical JSON of a value, for input digests: no whitespace, object keys sorted by their
/// UTF-8 bytes, strings escaped and numbers written as `serde_json` writes them (integers as
/// integers, other numbers in the shortest form that reads back to the same `f64`).
pub fn canonical_json(v: &serde_json::Value, out: &mut Vec<u8>) {
    use serde_json::Value;
    match v {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push(b'{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                serde_json::to_writer(&mut *out, k).expect("writing to a Vec");
                out.push(b':');
                canonical_json(&map[k], out);
            }
            out.push(b'}');
        }
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                canonical_json(item, out);
            }
            out.push(b']');
        }
        scalar => serde_json::to_writer(&mut *out, scalar).expect("writing to a Vec"),
    }
}

/// `sha3-256:<hex>` of `SHA3-256("embargo-inputs-v1\n" || salt || canonical_json(inputs))`.
pub fn inputs_digest(
    salt: &[u8; 32],
    inputs: &serde_json::Map<String, serde_json::Value>,
) -> String {
    let mut canonical = Vec::new();
    canonical_json(&serde_json::Value::Object(inputs.clone()), &mut canonical);
    let mut h = Sha3_256::new();
    h.update(INPUTS_DOMAIN);
    h.update(salt);
    h.update(&canonical);
    format!("sha3-256:{}", crate::core::predicate::hex(&h.finalize()))
}

/// Parses a 32-byte salt from 64 hex digits.
pub fn parse_salt(hex: &str) -> Option<[u8; 32]> {
    parse_hash(hex)
}

/// Parses 64 lowercase or uppercase hex digits.
pub fn parse_hash(hex: &str) -> Option<[u8; 32]> {
    let b = hex.as_bytes();
    if b.len() != 64 {
        return None;
    }
    let nib = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
    let mut out = [0u8; 32];
    for (i, o) in out.iter_mut().enumerate() {
        *o = nib(b[2 * i])? << 4 | nib(b[2 * i + 1])?;
    }
    Some(out)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn sample(platform: &str, commitment: u64, n: usize) -> serde_json::Value {
        serde_json::json!({
            "v": 1,
            "platform": platform,
            "commitment": commitment,
            "time": "2026-11-24T12:00:00.000Z",
            "subject": "u-3f9a",
            "surface": "home-feed",
            "candidates": (0..n).map(|i| serde_json::json!({
                "item": format!("post-{i}"),
                "inputs": {"age": 30 + i, "sex": "Female"},
                "score": 1.0 / (i as f64 + 1.0),
            })).collect::<Vec<_>>(),
            "shown": (0..n).collect::<Vec<_>>(),
        })
    }

    #[test]
    fn a_valid_record_parses() {
        let bytes = serde_json::to_vec(&sample("social.example", 3, 3)).unwrap();
        let r = DecisionRecord::parse(&bytes).unwrap();
        assert_eq!(r.candidates.len(), 3);
        assert_eq!(r.shown, vec![0, 1, 2]);
        assert_eq!(record_leaf(&bytes), leaf_hash(&bytes));
    }

    #[test]
    fn invalid_records_name_the_field() {
        type Edit = fn(&mut serde_json::Value);
        let cases: Vec<(Edit, &str)> = vec![
            (|r| r["v"] = 2.into(), "v"),
            (|r| r["platform"] = "bad name".into(), "platform"),
            (|r| r["subject"] = "".into(), "subject"),
            (|r| r["candidates"] = serde_json::json!([]), "candidates"),
            (|r| r["shown"] = serde_json::json!([0, 0]), "shown[1]"),
            (|r| r["shown"] = serde_json::json!([7]), "shown[0]"),
            (
                |r| {
                    r["candidates"][1]["inputs_digest"] =
                        format!("sha3-256:{}", "0".repeat(64)).into()
                },
                "candidates[1]",
            ),
            (
                |r| r["candidates"][0]["inputs"]["age"] = serde_json::json!({"x": 1}),
                "candidates[0].inputs.age",
            ),
            (|r| r["extra"] = 1.into(), "unknown field"),
            (|r| r["time"] = "yesterday".into(), "time"),
        ];
        for (edit, want) in cases {
            let mut r = sample("social.example", 3, 2);
            edit(&mut r);
            let e = DecisionRecord::parse(&serde_json::to_vec(&r).unwrap())
                .unwrap_err()
                .to_string();
            assert!(e.contains(want), "{want}: {e}");
        }
    }

    #[test]
    fn the_schema_agrees_with_the_typed_checks() {
        let schema: serde_json::Value =
            serde_json::from_str(include_str!("../../schema/decision-record.schema.json")).unwrap();
        let v = jsonschema::options()
            .should_validate_formats(true)
            .build(&schema)
            .unwrap();
        let good = sample("social.example", 3, 3);
        assert!(v.is_valid(&good));
        let mut digest_only = good.clone();
        digest_only["candidates"][0]
            .as_object_mut()
            .unwrap()
            .remove("inputs");
        digest_only["candidates"][0]["inputs_digest"] =
            format!("sha3-256:{}", "0".repeat(64)).into();
        assert!(v.is_valid(&digest_only));
        DecisionRecord::parse(&serde_json::to_vec(&digest_only).unwrap()).unwrap();
        let bad: Vec<fn(&mut serde_json::Value)> = vec![
            |r| r["v"] = 2.into(),
            |r| r["platform"] = "bad name".into(),
            |r| r["candidates"] = serde_json::json!([]),
            |r| r["shown"] = serde_json::json!([0, 0]),
            |r| r["extra"] = 1.into(),
            |r| r["time"] = "yesterday".into(),
            |r| r["candidates"][0]["inputs"]["age"] = serde_json::json!({"x": 1}),
            |r| r["candidates"][1]["inputs_digest"] = format!("sha3-256:{}", "0".repeat(64)).into(),
        ];
        for edit in bad {
            let mut r = good.clone();
            edit(&mut r);
            assert!(!v.is_valid(&r), "{r}");
            assert!(DecisionRecord::parse(&serde_json::to_vec(&r).unwrap()).is_err());
        }
    }

    #[test]
    fn line_bytes_strip_only_the_line_end() {
        assert_eq!(line_bytes(b"{}\r\n"), b"{}");
        assert_eq!(line_bytes(b"{}\n"), b"{}");
        assert_eq!(line_bytes(b" {} "), b" {} ");
    }

    #[test]
    fn inputs_digests_are_canonical_and_salted() {
        let a: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(r#"{"b": [1, 2.5, "x"], "a": 1e3}"#).unwrap();
        let b: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(r#"{"a":1000.0,"b":[1,2.5,"x"]}"#).unwrap();
        let mut out = Vec::new();
        canonical_json(&serde_json::Value::Object(a.clone()), &mut out);
        assert_eq!(out, br#"{"a":1000.0,"b":[1,2.5,"x"]}"#);
        let salt = [7u8; 32];
        assert_eq!(inputs_digest(&salt, &a), inputs_digest(&salt, &b));
        assert_ne!(inputs_digest(&salt, &a), inputs_digest(&[8u8; 32], &a));
        assert!(is_digest(&inputs_digest(&salt, &a)));
        assert_eq!(parse_hash(&"ab".repeat(32)), Some([0xab; 32]));
        assert_eq!(parse_hash("zz"), None);
    }
}
