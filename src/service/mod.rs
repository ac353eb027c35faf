//! The application layer: every decision the log takes for a request, in functions that the
//! HTTP edge (and the beacon watcher) call.
//!
//! Owns: the state requests share ([`AppState`]), reveals and model downloads
//! ([`commitments`]), escrow deposits, openings, trustees' shares and the beacon watcher
//! ([`escrow`]), and the domain errors they refuse with ([`error`]).
//!
//! Never: speaks HTTP (no status codes, no headers, no axum or reqwest; `server/` maps the
//! errors to HTTP in one place), or fetches anything from the network itself (the beacon
//! watcher reads rounds from a [`escrow::RoundSource`] it is handed).
//!
//! The append path (dedup, sequencing, the proof of the new entry) is still
//! `server/submit.rs`: the service reaches it through [`Append`], which the server implements,
//! so the service never imports the server.

pub mod commitments;
pub mod error;
pub mod escrow;

use crate::api::SubmitResponse;
use crate::core::note::PublicKey;
use crate::core::predicate::Kind;
use crate::log::Log;
use crate::sequencer::Sequencer;
use std::collections::HashMap;
use std::future::Future;
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
}

/// Appends a statement signed by the log's own key (a reveal, a registration) and answers with
/// the entry and its proof. Implemented by the submission path.
pub trait Append {
    fn append_statement(
        &self,
        kind: Kind,
        statement: serde_json::Value,
    ) -> impl Future<Output = Result<SubmitResponse, AppendError>> + Send;
}

/// Why an append failed, as the submission path said it (its refusal travels unchanged to
/// whoever asked).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct AppendError(pub Box<dyn std::error::Error + Send + Sync>);
