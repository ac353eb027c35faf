//! What a monitor reports: one [`Event`] per thing it saw, with a stable `kind`.
//!
//! Owns the event's wire shape (JSON lines on stdout, the webhook's body; documented in
//! `schema/monitor-event.schema.json`) and which kinds are alarming. Never decides when an
//! event happens (that is [`super::derive`] and [`super::follow`]) and does no I/O.

use serde::{Deserialize, Serialize};

/// The kinds of event, as they appear in the `kind` field.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EventKind {
    /// A new party was registered (registration entry).
    PartyRegistered,
    /// A party's keys changed: keys added, keys revoked.
    KeysChanged,
    /// A model commitment was logged (sealed until `reveal_at`).
    Committed,
    /// A commitment was superseded by a later one.
    Superseded,
    /// A commitment's `reveal_at` passed with no reveal: it is due.
    Due,
    /// A commitment's grace period passed with no valid reveal.
    Overdue,
    /// A model was revealed (on time or late: see `details.on_time`).
    Revealed,
    /// An escrow opened to other bytes than the committed model, or did not open.
    EscrowInvalid,
    /// A decision batch was logged for a commitment.
    DecisionBatch,
    /// An audit report was logged (any verdict).
    Audit,
    /// An audit report with a failing verdict was logged.
    AuditFailed,
    /// The log admitted an entry its own rules refuse at that position.
    RuleBroken,
    /// Two checkpoints that cannot both be true, both signed by the log (evidence written).
    SplitView,
    /// A checkpoint verified, but the entries served for it do not hash to its root.
    TreeMismatch,
    /// `--verify-reveals`: the revealed model's digest is not the committed one.
    RevealMismatch,
    /// `--verify-reveals`: the revealed model's digest is the committed one.
    RevealVerified,
    /// The log could not be reached (once per outage).
    LogUnreachable,
    /// The log answers again after being unreachable.
    LogReachable,
    /// A log URL served a checkpoint that does not verify with the log's key.
    BadCheckpoint,
    /// A checkpoint without the required witness cosignatures was refused.
    CosignaturesMissing,
    /// The witnessed checkpoint lags behind the size the log announces.
    WitnessLag,
}

impl EventKind {
    /// Whether this kind means the log itself misbehaved (exit code 1 with `--once`).
    pub fn alarming(self) -> bool {
        matches!(
            self,
            EventKind::RuleBroken
                | EventKind::SplitView
                | EventKind::TreeMismatch
                | EventKind::RevealMismatch
        )
    }

    /// The kind as it is written in JSON.
    pub fn as_str(self) -> String {
        serde_json::to_value(self)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default()
    }
}

/// One thing the monitor saw.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// The event's number in this monitor's state: strictly increasing, never reused.
    pub seq: u64,
    pub kind: EventKind,
    /// The log's origin (its checkpoint key name).
    pub log: String,
    /// The entry the event is about, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index: Option<u64>,
    /// The commitment the event is about, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commitment: Option<u64>,
    /// When it happened by the log's clock or deadlines (RFC 3339), if the log says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at: Option<String>,
    /// When the monitor saw it (RFC 3339, the monitor's clock).
    pub observed_at: String,
    /// One human sentence.
    pub message: String,
    /// Kind-specific details.
    #[serde(default)]
    pub details: serde_json::Value,
}

/// An event before the state numbers it: what the derivation hands back.
#[derive(Clone, Debug, PartialEq)]
pub struct Found {
    pub kind: EventKind,
    /// What makes the event unique: the same key is reported once, ever.
    pub key: String,
    pub index: Option<u64>,
    pub commitment: Option<u64>,
    pub at: Option<String>,
    pub message: String,
    pub details: serde_json::Value,
}

impl Found {
    /// An event of `kind` identified by `key`, saying `message`.
    pub fn new(kind: EventKind, key: impl Into<String>, message: impl Into<String>) -> Found {
        Found {
            kind,
            key: key.into(),
            index: None,
            commitment: None,
            at: None,
            message: message.into(),
            details: serde_json::Value::Null,
        }
    }

    pub fn index(mut self, index: u64) -> Found {
        self.index = Some(index);
        self
    }

    pub fn commitment(mut self, commitment: u64) -> Found {
        self.commitment = Some(commitment);
        self
    }

    pub fn at(mut self, at: chrono::DateTime<chrono::Utc>) -> Found {
        self.at = Some(crate::core::entry::format_logged_at(at));
        self
    }

    pub fn details(mut self, details: serde_json::Value) -> Found {
        self.details = details;
        self
    }
}
