//! Decision receipts: what a platform hands a user for one decision, and their offline check.
//!
//! This module owns the receipt format (`schema/decision-receipt.schema.json`, described in
//! `schema/decision-receipts.md`) and [`Receipt::verify`], which checks the chain
//! record → batch root → batch entry → checkpoint signature → log inclusion and says which link
//! broke ([`ReceiptError::link`]). It is pure: it never reads files or talks to the log, and it
//! does not run models (that is [`crate::decisions::replay`]).

use crate::core::checkpoint::SignedCheckpoint;
use crate::core::entry::{Leaf, TypedError};
use crate::core::note::PublicKey;
use crate::core::predicate::{hex, DecisionBatch, Kind, Predicate};
use crate::core::proof::{TlogProof, TlogProofError};
use crate::decisions::batch::verify_proof;
use crate::decisions::decision::{
    parse_hash, parse_salt, record_leaf, DecisionRecord, RecordError,
};
use crate::model::digest::Hash;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The receipt's `type`.
pub const RECEIPT_TYPE: &str = "https://embargo.dev/decision-receipt/v1";

/// A decision receipt.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Receipt {
    #[serde(rename = "type")]
    pub kind: String,
    /// The record's index in its batch (its leaf index).
    pub leaf_index: u64,
    /// The record: exactly its leaf bytes (UTF-8 JSON text).
    pub record: String,
    /// The record's audit path in the batch tree, leaf to root, hex.
    pub proof: Vec<String>,
    /// Records in the batch (the batch tree's size).
    pub record_count: u64,
    /// The batch root, hex.
    pub batch_root: String,
    /// The salts of the record's digest-only candidates, by candidate index, hex.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub salts: BTreeMap<String, String>,
    /// The decision-batch entry: the log's leaf, byte for byte.
    pub entry: String,
    /// The entry's c2sp.org/tlog-proof@v1.
    pub tlog_proof: String,
}

/// The link of the receipt chain that broke.
#[derive(Debug, thiserror::Error)]
pub enum ReceiptError {
    #[error("format: {0}")]
    Format(String),
    #[error("record: {0}")]
    Record(#[from] RecordError),
    #[error("proof into the batch root: record {leaf_index}'s proof does not lead to the batch root {root}: the record was changed after it was batched, or the proof is for another record or batch")]
    ProofIntoRoot { leaf_index: u64, root: String },
    #[error("batch entry mismatch: {0}")]
    BatchEntry(String),
    #[error("checkpoint signature: {0}")]
    CheckpointSignature(String),
    #[error("log inclusion: {0}")]
    Inclusion(String),
}

impl ReceiptError {
    /// A short name of the link: `format`, `record`, `proof-into-root`, `batch-entry`,
    /// `checkpoint-signature` or `inclusion`.
    pub fn link(&self) -> &'static str {
        match self {
            ReceiptError::Format(_) => "format",
            ReceiptError::Record(_) => "record",
            ReceiptError::ProofIntoRoot { .. } => "proof-into-root",
            ReceiptError::BatchEntry(_) => "batch-entry",
            ReceiptError::CheckpointSignature(_) => "checkpoint-signature",
            ReceiptError::Inclusion(_) => "inclusion",
        }
    }
}

/// What a verified receipt proves.
#[derive(Clone, Debug)]
pub struct Verified {
    pub record: DecisionRecord,
    pub batch: DecisionBatch,
    /// The batch entry's index in the log.
    pub entry_index: u64,
    pub logged_at: chrono::DateTime<chrono::Utc>,
    pub checkpoint: SignedCheckpoint,
    /// Salts of digest-only candidates, by candidate index.
    pub salts: BTreeMap<usize, [u8; 32]>,
}

/// The parts every receipt of one batch shares, written once as JSON fragments, so writing
/// millions of receipts costs one record and one path each.
pub struct ReceiptTemplate {
    tail: Vec<u8>,
}

impl ReceiptTemplate {
    pub fn new(record_count: u64, batch_root: &Hash, entry: &str, tlog_proof: &str) -> Self {
        let q = |s: &str| serde_json::to_string(s).expect("strings serialize");
        let tail = format!(
            ",\"record_count\":{record_count},\"batch_root\":\"{}\",\"entry\":{},\"tlog_proof\":{}}}",
            hex(batch_root),
            q(entry),
            q(tlog_proof)
        );
        ReceiptTemplate {
            tail: tail.into_bytes(),
        }
    }

    /// Appends the receipt of record `leaf_index` (its leaf bytes, which must be UTF-8) to `out`,
    /// as one line of JSON (no newline).
    pub fn render(&self, leaf_index: u64, record: &[u8], proof: &[Hash], out: &mut Vec<u8>) {
        self.render_with_salts(leaf_index, record, proof, None, out)
    }

    /// As [`ReceiptTemplate::render`], with the record's salts (`{"<candidate index>": "<hex>"}`).
    pub fn render_with_salts(
        &self,
        leaf_index: u64,
        record: &[u8],
        proof: &[Hash],
        salts: Option<&BTreeMap<String, String>>,
        out: &mut Vec<u8>,
    ) {
        let record = std::str::from_utf8(record).expect("records are JSON text, so UTF-8");
        out.extend_from_slice(b"{\"type\":\"");
        out.extend_from_slice(RECEIPT_TYPE.as_bytes());
        out.extend_from_slice(b"\",\"leaf_index\":");
        out.extend_from_slice(leaf_index.to_string().as_bytes());
        out.extend_from_slice(b",\"record\":");
        serde_json::to_writer(&mut *out, record).expect("writing to a Vec");
        out.extend_from_slice(b",\"proof\":[");
        for (i, h) in proof.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            out.push(b'"');
            push_hex(out, h);
            out.push(b'"');
        }
        out.push(b']');
        if let Some(salts) = salts.filter(|s| !s.is_empty()) {
            out.extend_from_slice(b",\"salts\":");
            serde_json::to_writer(&mut *out, salts).expect("writing to a Vec");
        }
        out.extend_from_slice(&self.tail);
    }
}

/// Appends the lowercase hex of `bytes` (the hot path of writing receipts).
fn push_hex(out: &mut Vec<u8>, bytes: &[u8]) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    for b in bytes {
        out.push(DIGITS[(b >> 4) as usize]);
        out.push(DIGITS[(b & 15) as usize]);
    }
}

impl Receipt {
    pub fn parse(bytes: &[u8]) -> Result<Receipt, ReceiptError> {
        let r: Receipt = serde_json::from_slice(bytes)
            .map_err(|e| ReceiptError::Format(format!("not a decision receipt: {e}")))?;
        if r.kind != RECEIPT_TYPE {
            return Err(ReceiptError::Format(format!(
                "type is {:?}, not {RECEIPT_TYPE}",
                r.kind
            )));
        }
        Ok(r)
    }

    /// Checks the receipt offline against the log's key, link by link.
    pub fn verify(&self, log_key: &PublicKey) -> Result<Verified, ReceiptError> {
        let format = |m: String| ReceiptError::Format(m);
        // 1. The record.
        let record = DecisionRecord::parse(self.record.as_bytes())?;
        let mut salts = BTreeMap::new();
        for (k, v) in &self.salts {
            let i: usize = k
                .parse()
                .ok()
                .filter(|i| *i < record.candidates.len())
                .ok_or_else(|| format(format!("salts: {k:?} is not a candidate index")))?;
            let s = parse_salt(v).ok_or_else(|| format(format!("salts.{k}: not 64 hex digits")))?;
            salts.insert(i, s);
        }
        // 2. The record's proof into the batch root.
        let root = parse_hash(&self.batch_root)
            .ok_or_else(|| format("batch_root: not 64 hex digits".into()))?;
        let proof: Vec<Hash> = self
            .proof
            .iter()
            .map(|h| {
                parse_hash(h).ok_or_else(|| format(format!("proof: {h:?} is not 64 hex digits")))
            })
            .collect::<Result<_, _>>()?;
        let leaf = record_leaf(self.record.as_bytes());
        if !verify_proof(leaf, self.leaf_index, self.record_count, &proof, &root) {
            return Err(ReceiptError::ProofIntoRoot {
                leaf_index: self.leaf_index,
                root: self.batch_root.clone(),
            });
        }
        // 3. The batch entry: a decision batch with this root and count, for this record.
        let entry_err = |m: String| ReceiptError::BatchEntry(m);
        let leaf = Leaf::parse(self.entry.as_bytes())
            .map_err(|e| entry_err(format!("the entry is not an Embargo leaf: {e}")))?;
        let not_batch = || entry_err("the entry is not a decision-batch entry".into());
        let st = leaf.typed().map_err(|e| match e {
            TypedError::NotEmbargo(_) => not_batch(),
            e if e.kind().is_some_and(|k| k != Kind::DecisionBatch) => not_batch(),
            e => entry_err(e.to_string()),
        })?;
        let Predicate::DecisionBatch(batch) = st.predicate else {
            return Err(not_batch());
        };
        if st.subject_digest != hex(&root) {
            return Err(entry_err(format!(
                "the entry is for batch root {}, not {}: the receipt's proof and its entry are from different batches",
                st.subject_digest, self.batch_root
            )));
        }
        if batch.record_count != self.record_count {
            return Err(entry_err(format!(
                "the entry's batch has {} records, the receipt says {}",
                batch.record_count, self.record_count
            )));
        }
        if batch.platform != record.platform || batch.commitment != record.commitment {
            return Err(entry_err(format!(
                "the entry is a batch of {} for commitment {}, but the record is {}'s for commitment {}",
                batch.platform, batch.commitment, record.platform, record.commitment
            )));
        }
        if record.time < batch.window.start || record.time > batch.window.end {
            return Err(entry_err(format!(
                "the record's time {} is outside the batch's window {} to {}",
                record.time.to_rfc3339(),
                batch.window.start.to_rfc3339(),
                batch.window.end.to_rfc3339()
            )));
        }
        // 4. and 5. The checkpoint's signature, then the entry's inclusion under it.
        let tlog = TlogProof::parse(&self.tlog_proof)
            .map_err(|e| ReceiptError::Inclusion(e.to_string()))?;
        let checkpoint = tlog
            .verify(log_key, self.entry.as_bytes())
            .map_err(|e| match e {
                TlogProofError::Checkpoint(e) => ReceiptError::CheckpointSignature(format!(
                    "the checkpoint is not signed by {}: {e}",
                    log_key.key_ref()
                )),
                e => ReceiptError::Inclusion(format!(
                    "the batch entry is not proven to be entry {} of the log: {e}",
                    tlog.index
                )),
            })?;
        Ok(Verified {
            record,
            batch,
            entry_index: tlog.index,
            logged_at: leaf.logged_at,
            checkpoint,
            salts,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::dsse::Envelope;
    use crate::core::note::KeyPair;
    use crate::core::tlog;
    use crate::decisions::batch::{prove_chunks, scan, BatchError};

    /// A batch of `n` records, logged as entry 1 of a two-entry tree signed by a test log key.
    fn receipts(n: usize) -> (Vec<Receipt>, KeyPair) {
        let mut data = Vec::new();
        for i in 0..n {
            let mut r = crate::decisions::decision::tests::sample("social.example", 3, 2);
            r["subject"] = format!("u-{i}").into();
            data.extend(serde_json::to_vec(&r).unwrap());
            data.push(b'\n');
        }
        let s = scan(&data[..], "social.example", 3, 1).unwrap();
        let platform = KeyPair::generate("social.example").unwrap();
        let predicate = DecisionBatch {
            platform: "social.example".into(),
            commitment: 3,
            window: s.window.clone(),
            record_count: s.tree.count,
        };
        let st = s.tree.statement(&predicate);
        let env = Envelope::sign(&serde_json::to_vec(&st).unwrap(), &platform);
        let entry = serde_json::to_string(&serde_json::json!({
            "v": 1, "logged_at": "2026-11-24T12:00:01.000Z", "envelope": env
        }))
        .unwrap();
        let log = KeyPair::generate("log.test/receipts").unwrap();
        let other = tlog::record_hash(b"entry 0");
        let this = tlog::record_hash(entry.as_bytes());
        let root = tlog::node_hash(other, this);
        let cp = crate::core::checkpoint::Checkpoint {
            origin: "log.test/receipts".into(),
            size: 2,
            root,
        };
        let proof = TlogProof {
            extra: None,
            index: 1,
            inclusion: vec![other],
            checkpoint: cp.sign(&log).unwrap().text,
        };
        let template = ReceiptTemplate::new(s.tree.count, &s.tree.root, &entry, &proof.to_text());
        let mut out = Vec::new();
        prove_chunks::<BatchError>(&data[..], &s.tree, |c| {
            for (j, rec) in c.records.iter().enumerate() {
                let i = c.first + j as u64;
                let mut line = Vec::new();
                template.render(i, rec, &c.prover.proof(i), &mut line);
                out.push(Receipt::parse(&line).unwrap());
            }
            Ok(())
        })
        .unwrap();
        (out, log)
    }

    #[test]
    fn honest_receipts_verify_and_each_broken_link_is_named() {
        let (rs, log) = receipts(5);
        let schema: serde_json::Value =
            serde_json::from_str(include_str!("../../schema/decision-receipt.schema.json"))
                .unwrap();
        let validator = jsonschema::validator_for(&schema).unwrap();
        for r in &rs {
            assert!(validator.is_valid(&serde_json::to_value(r).unwrap()));
            let v = r.verify(log.public()).unwrap();
            assert_eq!(v.entry_index, 1);
            assert_eq!(v.batch.record_count, 5);
        }
        let link = |r: &Receipt| r.verify(log.public()).unwrap_err().link();
        let mut edited = rs[2].clone();
        edited.record = edited.record.replace("u-2", "u-9");
        assert_eq!(link(&edited), "proof-into-root");
        let mut bad = rs[2].clone();
        bad.record = "{}".into();
        assert_eq!(link(&bad), "record");
        let mut moved = rs[2].clone();
        moved.leaf_index = 3;
        assert_eq!(link(&moved), "proof-into-root");
        // Salts ride along outside the hashed record.
        let template_line = {
            let mut line = Vec::new();
            let salts = BTreeMap::from([("1".to_owned(), "ab".repeat(32))]);
            let r = &rs[4];
            let tail = ReceiptTemplate::new(
                r.record_count,
                &parse_hash(&r.batch_root).unwrap(),
                &r.entry,
                &r.tlog_proof,
            );
            let proof: Vec<Hash> = r.proof.iter().map(|h| parse_hash(h).unwrap()).collect();
            tail.render_with_salts(
                r.leaf_index,
                r.record.as_bytes(),
                &proof,
                Some(&salts),
                &mut line,
            );
            line
        };
        let salted = Receipt::parse(&template_line).unwrap();
        assert_eq!(salted.verify(log.public()).unwrap().salts[&1], [0xab; 32]);
        let mut bad_salt = salted.clone();
        bad_salt.salts.insert("9".into(), "ab".repeat(32));
        assert_eq!(link(&bad_salt), "format");
        let (other, other_log) = receipts(3);
        let mut moved = rs[2].clone();
        moved.entry = other[0].entry.clone();
        assert_eq!(link(&moved), "batch-entry");
        let mut moved = rs[2].clone();
        moved.batch_root = other[0].batch_root.clone();
        moved.record_count = 3;
        assert_eq!(link(&moved), "proof-into-root");
        assert_eq!(
            rs[0].verify(other_log.public()).unwrap_err().link(),
            "checkpoint-signature"
        );
        let mut wrong = rs[0].clone();
        wrong.tlog_proof = wrong.tlog_proof.replace("index 1", "index 0");
        assert_eq!(link(&wrong), "inclusion");
        let mut s = serde_json::to_value(&rs[0]).unwrap();
        s["type"] = "x".into();
        assert!(matches!(
            Receipt::parse(&serde_json::to_vec(&s).unwrap()),
            Err(ReceiptError::Format(_))
        ));
    }
}
