//! The log's records of parties and model commitments, and how each logged entry changes
//! them: the state machine behind a commitment's lifecycle (sealed, due, revealed, overdue,
//! escrow-invalid) and a party's key history.
//!
//! Pure data and pure transitions: no storage, no clock (times come in as arguments), no
//! HTTP. The log's registry (`log/registry.rs`) keeps these records in `sled`; the rules (`rules.rs`) read them to
//! decide admission; a batch being sequenced applies the same transitions to its own
//! in-memory view, so every rule sees the log exactly as of an entry's position.

use crate::core::note::PublicKey;
use crate::core::predicate::{
    Escrow, ModelCommitment, ModelInfo, Registration, Reveal, RevealedBy, Role,
};
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

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

/// Where a key stands in a party's registration.
#[derive(Clone, Debug, PartialEq)]
pub enum KeyStanding {
    /// One of the party's current keys.
    Current(Box<PublicKey>),
    /// Revoked by the registration entry at this index.
    Revoked(u64),
}

impl Party {
    /// The party after its registration entry `r` at `index`, given its previous record.
    pub fn registered(previous: Option<&Party>, r: &Registration, index: u64) -> Party {
        let mut revoked_keys = previous.map(|p| p.revoked_keys.clone()).unwrap_or_default();
        revoked_keys.extend(r.revoked_keys.iter().map(|k| RevokedKey {
            key: k.clone(),
            revoked_at: index,
        }));
        Party {
            name: r.name.clone(),
            display_name: r.display_name.clone(),
            role: r.role,
            keys: r.keys.clone(),
            revoked_keys,
            contact: r.contact.clone(),
            registered_at: previous.map_or(index, |p| p.registered_at),
            updated_at: index,
        }
    }

    /// Where the key `<name>+<id>` stands with this party, if it is or was one of its keys.
    pub fn standing(&self, key_ref: &str) -> Option<KeyStanding> {
        if let Some(k) = self.keys.iter().find(|k| k.key_ref() == key_ref) {
            return Some(KeyStanding::Current(Box::new(k.clone())));
        }
        self.revoked_keys
            .iter()
            .find(|r| r.key.key_ref() == key_ref)
            .map(|r| KeyStanding::Revoked(r.revoked_at))
    }
}

impl Commitment {
    /// The record of the model commitment `c` logged at `index`.
    pub fn committed(
        index: u64,
        logged_at: DateTime<Utc>,
        c: &ModelCommitment,
        model_digest: &str,
        signer: &str,
        grace: Duration,
    ) -> Commitment {
        Commitment {
            index,
            logged_at,
            platform: c.platform.clone(),
            signer: signer.to_owned(),
            model_digest: model_digest.to_owned(),
            model: c.model.clone(),
            reveal_at: c.reveal_at,
            overdue_at: c.reveal_at + grace,
            purpose: c.purpose.clone(),
            supersedes: c.supersedes,
            superseded_by: None,
            escrow: c.escrow.clone(),
            reveal: None,
            escrow_invalid: None,
            decision_batches: Vec::new(),
            audits: Vec::new(),
        }
    }

    /// The matching reveal, if the model has been revealed.
    pub fn revealed(&self) -> Option<&RevealRecord> {
        self.reveal.as_ref().filter(|r| r.matches_commitment)
    }

    /// Whether the escrow has been settled: opened to the committed model, found invalid, or
    /// made moot by a reveal.
    pub fn escrow_settled(&self) -> bool {
        self.revealed().is_some() || self.escrow_invalid.is_some()
    }

    /// Records the reveal entry `r` logged at `index`. A matching reveal is final; a reveal
    /// by an escrow that opened to other bytes marks the commitment escrow-invalid until the
    /// platform reveals the real model.
    pub fn record_reveal(&mut self, index: u64, logged_at: DateTime<Utc>, r: &Reveal) {
        let record = RevealRecord {
            index,
            logged_at,
            revealed_by: r.revealed_by,
            revealer: r.revealer.clone(),
            on_time: r.on_time,
            location: r.location.clone(),
            matches_commitment: r.matches_commitment.unwrap_or(true),
        };
        if r.revealed_by == RevealedBy::Escrow
            && !record.matches_commitment
            && self.escrow_invalid.is_none()
        {
            self.escrow_invalid = Some(index);
        }
        if self.revealed().is_none() {
            self.reveal = Some(record);
        }
    }

    /// Lists the decision batch logged at `index` (idempotent).
    pub fn record_batch(&mut self, index: u64) {
        if !self.decision_batches.contains(&index) {
            self.decision_batches.push(index);
        }
    }

    /// Lists the audit report logged at `index` (idempotent).
    pub fn record_audit(&mut self, index: u64) {
        if !self.audits.contains(&index) {
            self.audits.push(index);
        }
    }
}
