//! Where round signatures come from: the seam between the escrow watcher (`service/`), which
//! decides when an escrow opens, and whatever fetches rounds (the drand HTTP client in
//! `client/`, wired by `embargo serve`). A trait only: no I/O here.

use super::Chain;
use std::future::Future;

/// One place round signatures can be fetched from.
pub trait RoundSource: Send + Sync {
    /// What to call this source in the log's messages (e.g. its URL).
    fn name(&self) -> &str;
    /// The signature of `round` of `chain` (its bytes), or why it could not be had.
    fn fetch(
        &self,
        chain: &Chain,
        round: u64,
    ) -> impl Future<Output = Result<Vec<u8>, String>> + Send;
}

/// Decodes hex as posted by users and beacons (whitespace trimmed, at most 1024 digits).
pub fn decode_hex(s: &str) -> Option<Vec<u8>> {
    let s = s.trim();
    (s.len() <= 1024).then(|| hex::decode(s).ok()).flatten()
}
