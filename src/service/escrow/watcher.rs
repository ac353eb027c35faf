//! The beacon watcher: for escrows whose round has been published, it asks its round sources
//! for the round signature and opens them, so an escrow opens even if nobody posts the
//! signature. Where signatures come from (drand's HTTP API, in `client::drand`) is handed in
//! by whoever starts the log; this module never touches the network itself.

use super::opening::{not_openable, open_round};
use crate::core::predicate::hex;
use crate::escrow::Chain;
use crate::service::AppState;
use chrono::Utc;
use std::sync::Arc;

pub use crate::escrow::round_source::RoundSource;

/// Rounds that escrows wait for and that have been published: (chain, round, commitment).
fn due_locks(s: &AppState) -> Vec<([u8; 32], u64, u64)> {
    s.log
        .registry()
        .pending_escrow_locks()
        .filter_map(Result::ok)
        .filter(|(chain, round, _)| {
            s.log
                .registry()
                .policy
                .beacon(&hex(chain))
                .is_some_and(|c| c.round_time(*round) <= Utc::now())
        })
        .collect()
}

/// Every `every`, fetches the signatures of published rounds that deposited escrows still wait
/// for, from the first of `sources` that has it, and opens those escrows. Each poll reads only
/// the escrows still pending. Returns at once without sources.
pub async fn watch_beacons<R: RoundSource>(
    s: Arc<AppState>,
    sources: Vec<R>,
    every: std::time::Duration,
) {
    if sources.is_empty() {
        return;
    }
    loop {
        tokio::time::sleep(every).await;
        let mut tried = std::collections::HashSet::new();
        for (chain_hash, round, index) in due_locks(&s) {
            let pending = s
                .log
                .registry()
                .commitment(index)
                .ok()
                .flatten()
                .is_some_and(|c| not_openable(&s, &c).is_none());
            if !pending || !tried.insert((chain_hash, round)) {
                continue;
            }
            let Some(chain) = s.log.registry().policy.beacon(&hex(&chain_hash)).cloned() else {
                continue;
            };
            open_from_sources(&s, &sources, &chain, round).await;
        }
    }
}

/// Asks each source in turn for `round`'s signature; opens with the first one fetched.
async fn open_from_sources<R: RoundSource>(s: &AppState, sources: &[R], chain: &Chain, round: u64) {
    for source in sources {
        let url = source.name();
        match source.fetch(chain, round).await {
            Ok(sig) => {
                match open_round(s, chain, round, &sig).await {
                    Ok(o) => {
                        tracing::info!(round, opened = o.opened.len(), source = %url, "beacon fetched")
                    }
                    Err(e) => {
                        tracing::warn!(round, source = %url, error = %e, "fetched beacon refused")
                    }
                }
                break;
            }
            Err(e) => {
                tracing::warn!(round, source = %url, error = %e, "beacon fetch failed")
            }
        }
    }
}
