//! The witness: Embargo's implementation of c2sp.org/tlog-witness and tlog-cosignature.
//!
//! [`cosignature`] (pure: keys, signed message, cosigning and checking cosignatures),
//! [`protocol`] (pure: the `add-checkpoint` request and its decision), [`state`] (durable
//! latest checkpoint per log, one writer per data directory) and [`server`] (HTTP only).
//! [`Witness`] here ties them together: the one place a request becomes a cosignature. It
//! reads the clock and writes only through [`state`]; it never speaks HTTP.

pub mod cosignature;
pub mod endpoint;
pub mod protocol;
pub mod server;
pub mod state;

use cosignature::{CosignatureError, Cosigner, WitnessKey};
use protocol::{AddCheckpoint, Refusal, TrustedLogs};
use state::{Record, StateError, WitnessState};
use std::path::Path;

/// Why an `add-checkpoint` request got no cosignature.
#[derive(Debug, thiserror::Error)]
pub enum WitnessError {
    #[error(transparent)]
    Refused(#[from] Refusal),
    #[error(transparent)]
    State(#[from] StateError),
    #[error("cannot cosign: {0}")]
    Cosign(#[from] CosignatureError),
    #[error("the system clock is before 1970: fix the clock before cosigning")]
    Clock,
}

/// A running witness: its key, the logs it witnesses and its state.
pub struct Witness {
    cosigner: Cosigner,
    logs: TrustedLogs,
    state: WitnessState,
}

impl Witness {
    /// Opens (and locks) the state in `data` for a witness with `cosigner` over `logs`.
    pub fn open(cosigner: Cosigner, logs: TrustedLogs, data: &Path) -> Result<Self, StateError> {
        Ok(Witness {
            cosigner,
            logs,
            state: WitnessState::open(data)?,
        })
    }

    pub fn public(&self) -> &WitnessKey {
        self.cosigner.public()
    }

    pub fn logs(&self) -> &TrustedLogs {
        &self.logs
    }

    /// Handles one `add-checkpoint` body: parse, decide against the latest cosigned
    /// checkpoint under the origin's lock, cosign at the current time, persist, and return the
    /// cosignature line (only once the new state is durable).
    pub fn add_checkpoint(&self, body: &[u8]) -> Result<String, WitnessError> {
        let req = protocol::parse_request(body)?;
        // Refused before the state is touched, so unknown origins never take a slot there.
        if self.logs.keys(req.origin()).is_none() {
            return Err(Refusal::UnknownOrigin(req.origin().to_owned()).into());
        }
        self.state.advance(req.origin(), |latest| {
            let decided = protocol::decide(&req, &self.logs, latest.map(|r| &r.checkpoint));
            if let (Err(refusal @ Refusal::Inconsistent(_)), Some(cosigned)) = (&decided, latest) {
                self.keep_evidence(&req, cosigned, body, refusal);
            }
            let accepted = decided?;
            let timestamp = now()?.max(self.last_timestamp(latest));
            let line = self.cosigner.cosign(&accepted.text, timestamp)?;
            let note = format!("{}\n{}{line}", accepted.text, accepted.log_signatures);
            let record = Record {
                checkpoint: accepted.checkpoint,
                note,
            };
            Ok((record, line))
        })
    }

    /// The timestamp of this witness's cosignature on `record` (0 if none): a new cosignature
    /// never goes back in time, even if the clock does, so "the largest tree as of t" never
    /// contradicts an earlier statement.
    fn last_timestamp(&self, record: Option<&Record>) -> u64 {
        let me = self.cosigner.public();
        record
            .and_then(|r| cosignature::split_note(&r.note).ok())
            .and_then(|(_, sigs)| {
                sigs.iter()
                    .filter(|s| s.name() == me.name() && s.id() == me.id())
                    .find_map(cosignature::timestamp_of)
            })
            .unwrap_or(0)
    }

    /// Saves a validly signed checkpoint refused as inconsistent with `cosigned` (best
    /// effort: the refusal stands whether or not the evidence could be written).
    fn keep_evidence(&self, req: &AddCheckpoint, cosigned: &Record, body: &[u8], why: &Refusal) {
        let reason = format!("{why}\n");
        let files: [(&str, &[u8]); 4] = [
            ("cosigned.note", cosigned.note.as_bytes()),
            ("submitted.note", req.note.as_bytes()),
            ("request.txt", body),
            ("reason.txt", reason.as_bytes()),
        ];
        match self.state.save_evidence(req.origin(), &files) {
            Ok(dir) => eprintln!(
                "embargo witness: refused a checkpoint of {} signed by the log: {why}; evidence in {}",
                req.origin(),
                dir.display()
            ),
            Err(e) => eprintln!(
                "embargo witness: refused a checkpoint of {} signed by the log ({why}), and could not keep it: {e}",
                req.origin()
            ),
        }
    }

    /// The latest cosigned checkpoint (with the log's and this witness's signatures) of the
    /// log whose origin hashes to `origin_hash`, for the monitoring endpoint.
    pub fn latest_by_hash(&self, origin_hash: &str) -> Option<String> {
        self.state.latest_by_hash(origin_hash).map(|r| r.note)
    }
}

/// POSIX seconds now; never zero.
fn now() -> Result<u64, WitnessError> {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs().max(1))
        .map_err(|_| WitnessError::Clock)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::checkpoint::Checkpoint;
    use crate::core::note::KeyPair;
    use crate::core::tlog::EMPTY_HASH;

    #[test]
    fn cosignature_timestamps_never_go_back() {
        let dir = tempfile::tempdir().unwrap();
        let log = KeyPair::generate("example.com/log").unwrap();
        let cosigner = Cosigner::new(&KeyPair::generate("w.example/w").unwrap());
        let logs = TrustedLogs::new([log.public().clone()]);
        let w = Witness::open(cosigner.clone(), logs, dir.path()).unwrap();
        let cp = Checkpoint {
            origin: "example.com/log".into(),
            size: 0,
            root: EMPTY_HASH,
        };
        let note = cp.sign(&log).unwrap().text;
        // A record cosigned far in the future, as if the clock had been set back since.
        let future = u64::MAX >> 2;
        let line = cosigner.cosign(&cp.body(), future).unwrap();
        let record = Record {
            checkpoint: cp.clone(),
            note: format!("{}\n{line}", cp.body()),
        };
        w.state
            .advance::<_, WitnessError>("example.com/log", |_| Ok((record, ())))
            .unwrap();
        let line = w
            .add_checkpoint(format!("old 0\n\n{note}").as_bytes())
            .unwrap();
        let report = cosignature::verify_cosignatures(
            &format!("{note}{line}"),
            &[cosigner.public().clone()],
        )
        .unwrap();
        assert_eq!(report.valid[0].timestamp, future);
    }
}
