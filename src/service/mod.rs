//! The application layer: every decision the log takes for a request, in functions that the
//! HTTP edge (and the beacon watcher) call.
//!
//! Owns: the state requests share ([`AppState`]), the bounds on concurrent work
//! ([`admission`]), reveals and model downloads
//! ([`commitments`]), escrow deposits, openings, trustees' shares and the beacon watcher
//! ([`escrow`]), getting checkpoints cosigned and the witnessed checkpoint ([`witnessing`]),
//! and the domain errors they refuse with ([`error`]).
//!
//! Never: speaks HTTP (no status codes, no headers, no axum or reqwest; `server/` maps the
//! errors to HTTP in one place), or fetches anything from the network itself (the beacon
//! watcher reads rounds from a [`escrow::RoundSource`] it is handed, the witnessing task
//! submits through a [`witnessing::WitnessEndpoint`]).
//!
//! Submissions, the party's and the log's own, go through [`submit`]: the one path into the
//! sequencer, where the rules are decided in log order.

pub mod admission;
pub mod audits;
pub mod commitments;
pub mod error;
pub mod escrow;
pub mod parties;
pub mod submit;
pub mod views;
pub mod witnessing;

use crate::core::note::PublicKey;
use crate::log::sequencer::Sequencer;
use crate::log::Log;
use std::collections::HashMap;
use std::sync::Arc;

/// Everything the requests share.
pub struct AppState {
    pub log: Arc<Log>,
    pub sequencer: Sequencer,
    /// Keys allowed to submit statements of kinds other than Embargo's own, by `<name>+<id>`.
    pub writers: HashMap<String, PublicKey>,
    /// The bearer token of the operator API; `None` disables it.
    pub operator_token: Option<String>,
    /// Commitments whose reveal upload is in progress (one at a time per commitment).
    pub revealing: std::sync::Mutex<std::collections::HashSet<u64>>,
    /// Serializes operator changes, so two registrations of one name cannot race.
    pub admin: tokio::sync::Mutex<()>,
    /// The log's witnesses and its witnessed checkpoint; `None` without `--witness`.
    pub witnessing: Option<Arc<witnessing::Witnessing>>,
    /// Bounds on concurrent uploads and submissions; refusals over them are immediate.
    pub admission: admission::Admission,
}
