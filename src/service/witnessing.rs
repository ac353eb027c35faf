//! Witnessing: getting the log's checkpoints cosigned by its witnesses (c2sp.org/tlog-witness)
//! and keeping the newest checkpoint that meets the log's witness policy.
//!
//! Owns: what the log knows of each witness (the size it last cosigned, which is the `old`
//! size of the next request; its latest cosignature line; its backoff, last error and last
//! success), the rounds that submit the newest checkpoint to every witness due concurrently,
//! the check of every returned cosignature against that witness's key, and the *witnessed
//! checkpoint*: the newest checkpoint with at least `policy` valid cosignatures, as one signed
//! note (the log's signature line, then the witnesses' lines), made durable through the log's
//! store before it is served. Also what `/v1/log` reports about it, and the wait of
//! `--ack-witnessed` submissions.
//!
//! Never: speaks HTTP (requests go through a [`WitnessEndpoint`] handed in by whoever starts
//! the log, as the beacon watcher's `RoundSource` is; `client::witness` is the reqwest one),
//! blocks or slows the sequencer (it follows published checkpoints through a watch channel,
//! which keeps only the newest, so at most one checkpoint is ever pending: older ones are
//! coalesced away), or keeps a witness's answer it has not verified.

use crate::api::{WitnessInfo, WitnessingInfo};
use crate::core::checkpoint::SignedCheckpoint;
use crate::core::entry::Leaf;
use crate::core::proof::TlogProof;
use crate::core::tlog::Hash;
use crate::log::Log;
use crate::service::AppState;
use crate::witness::cosignature::{verify_cosignatures, WitnessKey};
use base64::prelude::{Engine, BASE64_STANDARD};
use chrono::{DateTime, Utc};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::watch;
use tokio::time::Instant;

/// The first retry after a failure waits this long; each further failure doubles it.
const BACKOFF_START: Duration = Duration::from_millis(500);
/// The longest a witness is left alone after failures.
const BACKOFF_MAX: Duration = Duration::from_secs(30);

pub use crate::witness::endpoint::{AddCheckpointError, WitnessEndpoint};

/// Why the log's witnessing configuration is refused at start.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum WitnessingError {
    #[error("--witness-policy {policy} asks for more cosignatures than the {witnesses} witnesses configured with --witness can give: lower it or add witnesses")]
    PolicyTooHigh { policy: usize, witnesses: usize },
    #[error("--witness-policy must be at least 1 (without witnesses, omit both flags)")]
    PolicyZero,
    #[error("--witness-policy needs at least one --witness VKEY=URL")]
    PolicyWithoutWitnesses,
    #[error("the witness {0} is listed twice: each --witness must name another key")]
    Duplicate(String),
}

/// A witness of the log: its cosignature/v1 key and its submission URL.
#[derive(Clone, Debug)]
pub struct WitnessSpec {
    pub key: WitnessKey,
    pub url: String,
}

/// What the log knows of one witness.
struct WitnessState {
    spec: WitnessSpec,
    /// The size this witness last cosigned as far as the log knows: the next request's `old`.
    old: u64,
    /// Its latest valid cosignature line, with the tree size it is for.
    cosignature: Option<(u64, String)>,
    last_error: Option<String>,
    last_success: Option<DateTime<Utc>>,
    failures: u32,
    /// Not asked again before this (backoff after failures).
    next_try: Instant,
}

impl WitnessState {
    /// Whether this witness has yet to cosign the checkpoint of `size`.
    fn behind(&self, size: u64) -> bool {
        self.cosignature.as_ref().is_none_or(|(s, _)| *s != size)
    }

    fn succeeded(&mut self, size: u64, line: String) {
        self.old = size;
        self.cosignature = Some((size, line));
        self.last_error = None;
        self.last_success = Some(Utc::now());
        self.failures = 0;
        self.next_try = Instant::now();
    }

    fn failed(&mut self, old: u64, why: String) {
        tracing::warn!(witness = %self.spec.key.key_ref(), url = %self.spec.url, error = %why, "witness submission failed");
        self.old = old;
        self.last_error = Some(why);
        self.failures = self.failures.saturating_add(1);
        let backoff = BACKOFF_START
            .saturating_mul(1 << self.failures.min(16).saturating_sub(1))
            .min(BACKOFF_MAX);
        self.next_try = Instant::now() + backoff;
    }
}

/// The log's witnessing: its policy, its witnesses and the witnessed checkpoint.
pub struct Witnessing {
    policy: usize,
    /// How long an `--ack-witnessed` submission waits for the policy; `None`: not enabled.
    ack_timeout: Option<Duration>,
    /// How long one request to a witness may take.
    request_timeout: Duration,
    /// Never held across an await.
    witnesses: Mutex<Vec<WitnessState>>,
    /// The newest checkpoint that met the policy, with its cosignatures; `/checkpoint` serves it.
    witnessed: watch::Sender<Option<Arc<SignedCheckpoint>>>,
}

/// How [`Witnessing::new`] is configured.
pub struct WitnessingConfig {
    pub witnesses: Vec<WitnessSpec>,
    /// Cosignatures a checkpoint needs; `None`: all the witnesses.
    pub policy: Option<usize>,
    pub ack_timeout: Option<Duration>,
    pub request_timeout: Duration,
}

impl Witnessing {
    /// The log's witnessing, picking up the witnessed checkpoint persisted in the data
    /// directory if it still meets the policy. `None` without witnesses.
    pub fn new(log: &Log, config: WitnessingConfig) -> Result<Option<Witnessing>, WitnessingError> {
        let n = config.witnesses.len();
        if n == 0 {
            return match config.policy {
                Some(_) => Err(WitnessingError::PolicyWithoutWitnesses),
                None => Ok(None),
            };
        }
        let policy = config.policy.unwrap_or(n);
        if policy == 0 {
            return Err(WitnessingError::PolicyZero);
        }
        if policy > n {
            return Err(WitnessingError::PolicyTooHigh {
                policy,
                witnesses: n,
            });
        }
        for (i, w) in config.witnesses.iter().enumerate() {
            if config.witnesses[..i].iter().any(|o| o.key == w.key) {
                return Err(WitnessingError::Duplicate(w.key.to_string()));
            }
        }
        let keys: Vec<WitnessKey> = config.witnesses.iter().map(|w| w.key.clone()).collect();
        let loaded = load_witnessed(log, &keys, policy);
        let now = Instant::now();
        let witnesses = config
            .witnesses
            .into_iter()
            .map(|spec| {
                let line = loaded
                    .as_ref()
                    .and_then(|(cp, lines)| own_line(&log_text(log, cp)?, lines, &spec.key));
                let size = loaded.as_ref().map_or(0, |(cp, _)| cp.size());
                WitnessState {
                    old: if line.is_some() { size } else { 0 },
                    cosignature: line.map(|l| (size, l)),
                    spec,
                    last_error: None,
                    last_success: None,
                    failures: 0,
                    next_try: now,
                }
            })
            .collect();
        Ok(Some(Witnessing {
            policy,
            ack_timeout: config.ack_timeout,
            request_timeout: config.request_timeout,
            witnesses: Mutex::new(witnesses),
            witnessed: watch::Sender::new(loaded.map(|(cp, _)| Arc::new(cp))),
        }))
    }

    pub fn policy(&self) -> usize {
        self.policy
    }

    /// The newest checkpoint that met the policy, with all its cosignatures.
    pub fn witnessed(&self) -> Option<Arc<SignedCheckpoint>> {
        self.witnessed.borrow().clone()
    }

    /// What `/v1/log` says about witnessing: the policy, each witness, and the lag of the
    /// witnessed checkpoint behind the log's own (in entries, and the age of the oldest entry
    /// it does not cover yet, from that entry's `logged_at`).
    pub fn info(&self, log: &Log) -> WitnessingInfo {
        let latest = log.size();
        let witnessed_size = self.witnessed().map(|c| c.size());
        let covered = witnessed_size.unwrap_or(0);
        let lag_entries = latest.saturating_sub(covered);
        let lag_seconds = if lag_entries == 0 {
            0
        } else {
            log.entry(covered)
                .ok()
                .and_then(|e| Leaf::parse(&e).ok())
                .map_or(0, |l| {
                    (Utc::now() - l.logged_at).num_seconds().max(0) as u64
                })
        };
        let witnesses = self
            .witnesses
            .lock()
            .unwrap()
            .iter()
            .map(|w| WitnessInfo {
                vkey: w.spec.key.to_string(),
                url: w.spec.url.clone(),
                cosigned_size: w.old,
                last_error: w.last_error.clone(),
                last_success: w.last_success,
            })
            .collect();
        WitnessingInfo {
            policy: self.policy,
            ack_witnessed: self.ack_timeout.is_some(),
            witnesses,
            witnessed_size,
            lag_entries,
            lag_seconds,
        }
    }

    /// With `--ack-witnessed`: waits (up to the configured timeout) for a witnessed checkpoint
    /// covering a tree of `size` entries. `Ok(None)` when acknowledgements do not wait;
    /// `Err(waited)` on timeout.
    pub async fn wait_covering(
        &self,
        size: u64,
    ) -> Result<Option<Arc<SignedCheckpoint>>, Duration> {
        let Some(timeout) = self.ack_timeout else {
            return Ok(None);
        };
        let mut rx = self.witnessed.subscribe();
        let covers =
            |w: &Option<Arc<SignedCheckpoint>>| w.as_ref().is_some_and(|c| c.size() >= size);
        let waited = tokio::time::timeout(timeout, async {
            rx.wait_for(covers).await.ok().and_then(|w| w.clone())
        })
        .await;
        match waited {
            Ok(Some(cp)) => Ok(Some(cp)),
            _ => Err(timeout),
        }
    }

    /// The witnesses still to cosign the checkpoint of `size` and not backing off, with the
    /// `old` size to send each.
    fn due(&self, size: u64, now: Instant) -> Vec<(usize, u64)> {
        let ws = self.witnesses.lock().unwrap();
        ws.iter()
            .enumerate()
            .filter(|(_, w)| w.behind(size) && w.next_try <= now)
            .map(|(i, w)| (i, w.old))
            .collect()
    }

    /// When the next witness still behind `size` may be asked again.
    fn next_retry(&self, size: u64) -> Option<Instant> {
        let ws = self.witnesses.lock().unwrap();
        ws.iter()
            .filter(|w| w.behind(size))
            .map(|w| w.next_try)
            .min()
    }

    /// The cosigned note for `cp` if its valid cosignatures meet the policy and it is newer
    /// than the witnessed checkpoint.
    fn cosigned_note(&self, cp: &SignedCheckpoint) -> Option<String> {
        if self.witnessed().is_some_and(|w| w.size() >= cp.size()) {
            return None;
        }
        let ws = self.witnesses.lock().unwrap();
        let lines: Vec<&str> = ws
            .iter()
            .filter_map(|w| w.cosignature.as_ref())
            .filter(|(size, _)| *size == cp.size())
            .map(|(_, line)| line.as_str())
            .collect();
        (lines.len() >= self.policy).then(|| format!("{}{}", cp.text, lines.concat()))
    }
}

/// `/checkpoint` has nothing to serve: witnesses are configured and none of the log's
/// checkpoints met the policy yet.
#[derive(Debug, thiserror::Error)]
#[error("no checkpoint of this log has been cosigned by {policy} of its witnesses yet: /v1/log shows each witness's last error, and /checkpoint/latest serves the log's own checkpoint meanwhile")]
pub struct NoWitnessedCheckpoint {
    pub policy: usize,
}

/// What `GET /checkpoint` serves: with witnesses, the witnessed checkpoint (Tessera's
/// behaviour: clients see only checkpoints that met the policy); without, the log's own.
pub fn served_checkpoint(s: &AppState) -> Result<String, NoWitnessedCheckpoint> {
    match &s.witnessing {
        None => Ok(s.log.checkpoint().text),
        Some(w) => w
            .witnessed()
            .map(|cp| cp.text.clone())
            .ok_or(NoWitnessedCheckpoint { policy: w.policy }),
    }
}

/// A tlog-proof whose checkpoint is the witnessed one carries its cosignatures: the same
/// checkpoint body and log signature, with the witnesses' lines after them.
pub fn with_cosignatures(s: &AppState, mut proof: TlogProof) -> TlogProof {
    let witnessed = s.witnessing.as_ref().and_then(|w| w.witnessed());
    if let Some(cp) = witnessed {
        if cp.text.starts_with(&proof.checkpoint) {
            proof.checkpoint = cp.text.clone();
        }
    }
    proof
}

/// The witnessed checkpoint kept in the data directory, and its cosignature lines, if it
/// still holds: signed by the log, no larger than the log, the very checkpoint the log
/// published at its size, and cosigned by enough of today's witnesses. Anything else is
/// ignored (with a warning): a fresh round will replace it.
fn load_witnessed(
    log: &Log,
    keys: &[WitnessKey],
    policy: usize,
) -> Option<(SignedCheckpoint, String)> {
    let text = match log.store().read_witnessed_checkpoint() {
        Ok(t) => t?,
        Err(e) => {
            tracing::warn!(error = %e, "cannot read the witnessed checkpoint; witnessing again");
            return None;
        }
    };
    let cp = SignedCheckpoint::verify(&text, log.key().public()).ok()?;
    let published = log_text(log, &cp)?;
    let lines = text.strip_prefix(&published)?.to_owned();
    let valid = verify_cosignatures(&text, keys).ok()?.valid.len();
    if valid < policy {
        tracing::warn!(
            valid,
            policy,
            "the kept witnessed checkpoint no longer meets the policy"
        );
        return None;
    }
    Some((cp, lines))
}

/// The log's own signed checkpoint at `cp`'s size, if it has the same root.
fn log_text(log: &Log, cp: &SignedCheckpoint) -> Option<String> {
    let text = log.checkpoint_at(cp.size()).ok()??;
    let own = SignedCheckpoint::verify(&text, log.key().public()).ok()?;
    (own.root() == cp.root()).then_some(text)
}

/// The first of `lines` that is a valid cosignature by `key` on the note `cp_text`.
fn own_line(cp_text: &str, lines: &str, key: &WitnessKey) -> Option<String> {
    lines.lines().find_map(|line| {
        let note = format!("{cp_text}{line}\n");
        let report = verify_cosignatures(&note, std::slice::from_ref(key)).ok()?;
        (report.valid.len() == 1).then(|| format!("{line}\n"))
    })
}

/// Follows the log's checkpoints and gets them cosigned: whenever a witness has yet to cosign
/// the newest checkpoint and is not backing off, a round submits that checkpoint to every
/// such witness concurrently; the checkpoint becomes the witnessed one once `policy` of them
/// cosigned it. `endpoints[i]` is the witness configured `i`th. Runs until the log is dropped.
pub async fn witness_checkpoints<E: WitnessEndpoint>(
    log: Arc<Log>,
    w: Arc<Witnessing>,
    endpoints: Vec<E>,
) {
    let mut published = log.subscribe();
    loop {
        published.borrow_and_update();
        let cp = log.checkpoint();
        let due = w.due(cp.size(), Instant::now());
        if !due.is_empty() {
            round(&log, &w, &endpoints, &cp, &due).await;
            if let Some(note) = w.cosigned_note(&cp) {
                adopt(&log, &w, note).await;
            }
            continue;
        }
        let retry = w.next_retry(cp.size());
        tokio::select! {
            changed = published.changed() => if changed.is_err() { return },
            () = sleep_until(retry) => {}
        }
    }
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// Submits `cp` to the witnesses `due` (index, old size) concurrently and records each answer.
async fn round<E: WitnessEndpoint>(
    log: &Arc<Log>,
    w: &Witnessing,
    endpoints: &[E],
    cp: &SignedCheckpoint,
    due: &[(usize, u64)],
) {
    let keys: Vec<WitnessKey> = {
        let ws = w.witnesses.lock().unwrap();
        due.iter().map(|(i, _)| ws[*i].spec.key.clone()).collect()
    };
    let asks = due.iter().zip(&keys).map(|(&(i, old), key)| async move {
        let ask = submit(log, &endpoints[i], key, old, cp);
        let answer = match tokio::time::timeout(w.request_timeout, ask).await {
            Ok(answer) => answer,
            Err(_) => Err((old, format!("no answer within {:?}", w.request_timeout))),
        };
        (i, answer)
    });
    let answers = futures_util::future::join_all(asks).await;
    let mut ws = w.witnesses.lock().unwrap();
    for (i, answer) in answers {
        match answer {
            Ok(line) => ws[i].succeeded(cp.size(), line),
            Err((old, why)) => ws[i].failed(old, why),
        }
    }
}

/// One witness's cosignature on `cp`, from `old` (its last cosigned size as far as the log
/// knows). On a 409 the witness's own size is adopted and the request sent once more with the
/// consistency proof from there. Errors carry the `old` size to use next time.
async fn submit<E: WitnessEndpoint>(
    log: &Arc<Log>,
    endpoint: &E,
    key: &WitnessKey,
    mut old: u64,
    cp: &SignedCheckpoint,
) -> Result<String, (u64, String)> {
    for _ in 0..2 {
        if old > cp.size() {
            return Err((old, format!("the witness has cosigned a tree of {old} entries, larger than the log's {}: it saw another history of this log (a split view) or the log lost entries", cp.size())));
        }
        let body = request_body(log, old, cp).await.map_err(|e| (old, e))?;
        match endpoint.add_checkpoint(body).await {
            Ok(lines) => {
                return own_line(&cp.text, &lines, key).ok_or_else(|| {
                    let why = format!(
                        "the witness answered no valid cosignature by {}",
                        key.key_ref()
                    );
                    (old, why)
                })
            }
            Err(AddCheckpointError::Conflict(theirs)) if theirs != old => old = theirs,
            Err(e) => return Err((old, e.to_string())),
        }
    }
    Err((old, "the witness answered 409 twice in a row".into()))
}

/// The `add-checkpoint` body: `old <size>`, the consistency proof from `old` to `cp` (none from
/// 0 or from the same size), an empty line, the checkpoint.
async fn request_body(log: &Arc<Log>, old: u64, cp: &SignedCheckpoint) -> Result<String, String> {
    let new = cp.size();
    let proof: Vec<Hash> = if old == 0 || old == new {
        Vec::new()
    } else {
        let log = log.clone();
        tokio::task::spawn_blocking(move || log.consistency_proof(old, new))
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| format!("cannot prove consistency from {old} to {new}: {e}"))?
    };
    let mut body = format!("old {old}\n");
    for h in proof {
        body.push_str(&BASE64_STANDARD.encode(h.0));
        body.push('\n');
    }
    body.push('\n');
    body.push_str(&cp.text);
    Ok(body)
}

/// Makes `note` the witnessed checkpoint: durable first (written through the log's store, temp
/// file + fsync + rename + fsync of the directory), served only then, so a restart serves it
/// or a newer one, never an older one than clients were shown. A failed write keeps the
/// previous witnessed checkpoint; the next round tries again.
async fn adopt(log: &Arc<Log>, w: &Witnessing, note: String) {
    let Ok(cp) = SignedCheckpoint::verify(&note, log.key().public()) else {
        tracing::error!("a cosigned checkpoint no longer verifies with the log's key; not kept");
        return;
    };
    let store_log = log.clone();
    let text = note.clone();
    let written =
        tokio::task::spawn_blocking(move || store_log.store().write_witnessed_checkpoint(&text))
            .await;
    match written {
        Ok(Ok(())) => {
            tracing::info!(size = cp.size(), "checkpoint witnessed");
            w.witnessed.send_replace(Some(Arc::new(cp)));
        }
        Ok(Err(e)) => tracing::error!(error = %e, "cannot store the witnessed checkpoint"),
        Err(e) => tracing::error!(error = %e, "cannot store the witnessed checkpoint"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::dsse::Envelope;
    use crate::core::note::KeyPair;
    use crate::log::sequencer::{Sequencer, Submission};
    use crate::witness::cosignature::Cosigner;
    use crate::witness::protocol::TrustedLogs;
    use crate::witness::{Witness, WitnessError};

    /// An in-process `embargo witness` behind the endpoint trait, answering as its HTTP edge
    /// would; or one that is down, or one that answers a line by another key.
    enum Fake {
        Real(Witness),
        Down,
        Liar(Cosigner),
    }

    impl WitnessEndpoint for Fake {
        fn url(&self) -> &str {
            "http://fake"
        }

        async fn add_checkpoint(&self, body: String) -> Result<String, AddCheckpointError> {
            match self {
                Fake::Real(w) => w.add_checkpoint(body.as_bytes()).map_err(|e| match e {
                    WitnessError::Refused(crate::witness::protocol::Refusal::OldSizeMismatch {
                        current,
                        ..
                    }) => AddCheckpointError::Conflict(current),
                    WitnessError::Refused(r) => AddCheckpointError::Refused {
                        status: r.status(),
                        message: r.to_string(),
                    },
                    other => AddCheckpointError::Unreachable(other.to_string()),
                }),
                Fake::Down => Err(AddCheckpointError::Unreachable("connection refused".into())),
                Fake::Liar(c) => {
                    let body = body.split_once("\n\n").unwrap().1;
                    let text = &body[..body.find("\n\n").unwrap() + 1];
                    Ok(c.cosign(text, 1).unwrap())
                }
            }
        }
    }

    struct Setup {
        _dir: tempfile::TempDir,
        log: Arc<Log>,
        sequencer: Sequencer,
        key: KeyPair,
    }

    fn setup() -> Setup {
        let dir = tempfile::tempdir().unwrap();
        let key = KeyPair::generate("log.example/w").unwrap();
        let (log, recovered) =
            Log::open(&dir.path().join("log"), key.clone(), Default::default()).unwrap();
        let sequencer = Sequencer::start(log.clone(), recovered, Duration::from_millis(5));
        Setup {
            _dir: dir,
            log,
            sequencer,
            key,
        }
    }

    impl Setup {
        async fn append(&self, n: u64) {
            for i in 0..n {
                let env = Envelope::sign(format!("{{\"n\":{i}}}").as_bytes(), &self.key);
                let json = env.to_canonical_json();
                self.sequencer
                    .submit(Submission {
                        dedup_key: crate::log::dedup_key(&json),
                        envelope_json: json.into(),
                        effect: None,
                    })
                    .await
                    .unwrap();
            }
        }

        fn witness(&self, name: &str) -> (Cosigner, Witness) {
            let c = Cosigner::new(&KeyPair::generate(name).unwrap());
            let logs = TrustedLogs::new([self.key.public().clone()]);
            let data = self._dir.path().join(name.replace('/', "_"));
            (c.clone(), Witness::open(c, logs, &data).unwrap())
        }

        /// Witnessing by `keys` with `policy`; acknowledgements wait up to `wait`.
        fn witnessing(&self, keys: &[&Cosigner], policy: usize, wait: u64) -> Arc<Witnessing> {
            let witnesses = keys
                .iter()
                .map(|c| WitnessSpec {
                    key: c.public().clone(),
                    url: "http://fake".into(),
                })
                .collect();
            let config = WitnessingConfig {
                witnesses,
                policy: Some(policy),
                ack_timeout: Some(Duration::from_secs(wait)),
                request_timeout: Duration::from_secs(60),
            };
            Arc::new(Witnessing::new(&self.log, config).unwrap().unwrap())
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn two_of_three_cosign_while_one_is_down_and_a_restart_keeps_the_note() {
        let s = setup();
        let (ca, wa) = s.witness("w.example/a");
        let (cb, wb) = s.witness("w.example/b");
        let down = Cosigner::new(&KeyPair::generate("w.example/c").unwrap());
        // b already cosigned size 3: the log learns it from the 409 and proves from there.
        s.append(3).await;
        let cp3 = s.log.checkpoint().text;
        wb.add_checkpoint(format!("old 0\n\n{cp3}").as_bytes())
            .unwrap();
        // Generous: fsyncs of a busy shared machine can take seconds.
        let w = s.witnessing(&[&ca, &cb, &down], 2, 120);
        let task = tokio::spawn(witness_checkpoints(
            s.log.clone(),
            w.clone(),
            vec![Fake::Real(wa), Fake::Real(wb), Fake::Down],
        ));
        s.append(5).await;
        let size = s.log.size();
        let cp = w.wait_covering(size).await.unwrap().unwrap();
        assert_eq!(cp.size(), size);
        let keys = [
            ca.public().clone(),
            cb.public().clone(),
            down.public().clone(),
        ];
        let report = verify_cosignatures(&cp.text, &keys).unwrap();
        assert_eq!(report.valid.len(), 2, "{report:?}");
        assert!(cp.text.starts_with(&s.log.checkpoint().text));
        let info = w.info(&s.log);
        assert_eq!(
            (info.witnessed_size, info.lag_entries, info.lag_seconds),
            (Some(size), 0, 0)
        );
        assert_eq!(info.witnesses[1].cosigned_size, size);
        assert!(info.witnesses[2]
            .last_error
            .as_deref()
            .unwrap()
            .contains("refused"));
        task.abort();

        // The note was made durable: a new Witnessing over the same log picks it up, with
        // each witness's line, so its first requests start from the cosigned size.
        let again = s.witnessing(&[&ca, &cb, &down], 2, 1);
        assert_eq!(again.witnessed().unwrap().text, cp.text);
        assert_eq!(
            again.due(size, Instant::now()).len(),
            1,
            "only the one that was down"
        );
        // A stricter policy than the note meets: ignored, witnessed afresh.
        assert!(s.witnessing(&[&ca, &cb, &down], 3, 1).witnessed().is_none());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_line_by_another_key_is_never_kept() {
        let s = setup();
        let (ca, _) = s.witness("w.example/a");
        let impostor = Cosigner::new(&KeyPair::generate("w.example/a").unwrap());
        let w = s.witnessing(&[&ca], 1, 2);
        let task = tokio::spawn(witness_checkpoints(
            s.log.clone(),
            w.clone(),
            vec![Fake::Liar(impostor)],
        ));
        s.append(2).await;
        assert!(w.wait_covering(2).await.is_err());
        let info = w.info(&s.log);
        assert_eq!(info.witnessed_size, None);
        assert!(
            info.witnesses[0]
                .last_error
                .as_deref()
                .unwrap()
                .contains("no valid cosignature"),
            "{info:?}"
        );
        task.abort();
    }

    #[test]
    fn policies_that_cannot_be_met_are_refused() {
        let s = setup();
        let (ca, _) = s.witness("w.example/a");
        let spec = WitnessSpec {
            key: ca.public().clone(),
            url: "http://a".into(),
        };
        let config = |witnesses: Vec<WitnessSpec>, policy| WitnessingConfig {
            witnesses,
            policy,
            ack_timeout: None,
            request_timeout: Duration::from_secs(1),
        };
        let err = |c| Witnessing::new(&s.log, c).err().unwrap();
        assert_eq!(
            err(config(vec![spec.clone()], Some(2))),
            WitnessingError::PolicyTooHigh {
                policy: 2,
                witnesses: 1
            }
        );
        assert_eq!(
            err(config(vec![spec.clone()], Some(0))),
            WitnessingError::PolicyZero
        );
        assert_eq!(
            err(config(vec![], Some(1))),
            WitnessingError::PolicyWithoutWitnesses
        );
        assert!(matches!(
            err(config(vec![spec.clone(), spec.clone()], None)),
            WitnessingError::Duplicate(_)
        ));
        assert!(Witnessing::new(&s.log, config(vec![], None))
            .unwrap()
            .is_none());
    }

    #[test]
    fn backoff_doubles_and_is_capped() {
        let key: WitnessKey = crate::witness::cosignature::Cosigner::new(
            &crate::core::note::KeyPair::generate("w.example/a").unwrap(),
        )
        .public()
        .clone();
        let mut w = WitnessState {
            spec: WitnessSpec {
                key,
                url: "http://w".into(),
            },
            old: 0,
            cosignature: None,
            last_error: None,
            last_success: None,
            failures: 0,
            next_try: Instant::now(),
        };
        let mut waits = Vec::new();
        for _ in 0..10 {
            let before = Instant::now();
            w.failed(3, "down".into());
            waits.push((w.next_try - before).as_millis() / 100);
        }
        assert_eq!(waits[..4], [5, 10, 20, 40]);
        assert_eq!(*waits.last().unwrap(), 300);
        assert_eq!(w.old, 3);
        w.succeeded(9, "line\n".into());
        assert!(!w.behind(9) && w.behind(10));
        assert_eq!((w.failures, w.last_error.as_deref()), (0, None));
    }
}
