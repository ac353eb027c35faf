//! A witness as the log reaches it: the seam between the log's witnessing task (`service/`)
//! and the HTTP client that posts `add-checkpoint` (`client/witness.rs`, wired by
//! `embargo serve`). A trait and its error only: no I/O here.

use std::future::Future;

/// Why one `add-checkpoint` request got no cosignature, as the endpoint reports it.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum AddCheckpointError {
    /// 409: the witness's latest cosigned size for this log is not the `old` size sent.
    #[error("the witness has cosigned size {0} of this log, not the old size sent")]
    Conflict(u64),
    /// Any other refusal (403, 404, 422, ...), with the witness's message.
    #[error("the witness refused the checkpoint with {status}: {message}")]
    Refused { status: u16, message: String },
    /// No answer: connection refused, timeout, a malformed answer.
    #[error("no usable answer from the witness: {0}")]
    Unreachable(String),
}

/// A witness's `add-checkpoint` endpoint.
pub trait WitnessEndpoint: Send + Sync {
    /// Where it is (for messages and `/v1/log`).
    fn url(&self) -> &str;
    /// POSTs an `add-checkpoint` body; the witness's signature lines on success.
    fn add_checkpoint(
        &self,
        body: String,
    ) -> impl Future<Output = Result<String, AddCheckpointError>> + Send;
}
