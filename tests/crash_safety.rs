//! Crash safety of the log, end to end: the real `embargo serve` binary is killed with SIGKILL
//! at random moments while 16 writers submit continuously, and restarted on the same data
//! directory and port. After every restart, and at the end, the test checks what the design
//! promises (DESIGN.md, "The log"):
//!
//! - no acknowledged entry is lost: it is at the same index, byte for byte;
//! - the restarted log is at least as large as everything acknowledged or published;
//! - the log never signs two checkpoints that disagree: every checkpoint ever seen (in proofs
//!   or at `/checkpoint`) is consistent with the restarted log's checkpoint, and two of the same
//!   size have the same root;
//! - a submission that was killed in flight is either absent or present once, and resubmitting
//!   it returns the original index (`duplicate: true`);
//! - at the end, the entry bundles hash to the final checkpoint's root and no envelope is logged
//!   twice.
//!
//! `EMBARGO_CRASH_KILLS` (default 20) sets the number of kills, `EMBARGO_CRASH_SEED` the seed of
//! the kill schedule. `scripts/crash-test.sh` runs it with 300 kills in release mode.

use embargo::api::SubmitResponse;
use embargo::client::{Client, ClientError};
use embargo::core::checkpoint::SignedCheckpoint;
use embargo::core::dsse::Envelope;
use embargo::core::entry::Leaf;
use embargo::core::note::{KeyPair, PublicKey};
use embargo::core::proof::TlogProof;
use embargo::core::tlog::{self, Hash, RightEdge, TileId, TileKind, TILE_WIDTH};
use embargo::log::dedup_key;
use futures_util::stream::{self, StreamExt};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const WRITERS: usize = 16;
const INTERVAL: &str = "20ms";
const LOG_NAME: &str = "crash.test/log";

/// The server process, restartable on the same data directory and port.
struct Server {
    child: Option<Child>,
    data: PathBuf,
    key_file: PathBuf,
    writer_vkey: String,
    addr: String,
    stderr_log: PathBuf,
    starts: u32,
}

impl Server {
    fn spawn(&mut self) {
        assert!(self.child.is_none(), "server already running");
        let stderr = File::options()
            .create(true)
            .append(true)
            .open(&self.stderr_log)
            .expect("opening the server log");
        let child = Command::new(env!("CARGO_BIN_EXE_embargo"))
            .arg("serve")
            .arg("--data")
            .arg(&self.data)
            .arg("--key")
            .arg(&self.key_file)
            .args(["--listen", &self.addr, "--interval", INTERVAL])
            .args(["--allow-key", &self.writer_vkey])
            .env("RUST_LOG", "embargo=info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(stderr))
            .spawn()
            .expect("spawning embargo serve");
        self.child = Some(child);
        self.starts += 1;
    }

    /// SIGKILL (what `Child::kill` sends on Unix), then reap the process so that its sockets
    /// and file locks are gone before we go on.
    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let status = child.wait().expect("waiting for the killed server");
            assert!(
                !status.success(),
                "the server exited on its own before the kill: {status}\n{}",
                self.log_tail()
            );
        }
    }

    /// Polls `/checkpoint` until the (re)started server answers.
    async fn wait_ready(&mut self, client: &Client) -> Duration {
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.as_mut().unwrap().try_wait().unwrap() {
                panic!(
                    "the server exited during start-up ({status}):\n{}",
                    self.log_tail()
                );
            }
            if client.checkpoint().await.is_ok() {
                return started.elapsed();
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "the server did not answer /checkpoint within 60 s:\n{}",
                self.log_tail()
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.stderr_log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// An acknowledged submission: the 201 answer's index and exact leaf.
#[derive(Clone)]
struct Ack {
    index: u64,
    entry: String,
    key: [u8; 32],
}

/// Everything the writers and the checkpoint poller observed.
#[derive(Default)]
struct Observed {
    acks: Vec<Ack>,
    /// Submissions that reached the server (or may have) but got no acknowledgment.
    unacked: Vec<Envelope>,
    /// Submissions refused before connecting (the server was down): certainly not logged.
    refused: u64,
    /// Every checkpoint seen, by size: (root, text).
    seen: BTreeMap<u64, (Hash, String)>,
    /// Sizes seen since the last consistency check.
    seen_pending: Vec<u64>,
    /// Invariant violations found by background tasks.
    violations: Vec<String>,
}

impl Observed {
    /// Records a checkpoint text after verifying its signature; two checkpoints of one size
    /// must agree.
    fn saw_checkpoint(&mut self, text: &str, log_key: &PublicKey) -> Option<SignedCheckpoint> {
        let cp = match SignedCheckpoint::verify(text, log_key) {
            Ok(cp) => cp,
            Err(e) => {
                self.violations
                    .push(format!("checkpoint does not verify: {e}\n{text}"));
                return None;
            }
        };
        match self.seen.get(&cp.size()) {
            Some((root, _)) if *root != cp.root() => {
                self.violations.push(format!(
                    "two checkpoints of size {} disagree:\n{}\n---\n{text}",
                    cp.size(),
                    self.seen[&cp.size()].1
                ));
            }
            Some(_) => {}
            None => {
                self.seen.insert(cp.size(), (cp.root(), text.to_owned()));
                self.seen_pending.push(cp.size());
            }
        }
        Some(cp)
    }
}

fn sha256_hex(data: &[u8]) -> String {
    Sha256::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A distinct in-toto statement for writer `w`'s `n`th submission, signed.
fn statement(key: &KeyPair, w: usize, n: u64) -> Envelope {
    let name = format!("crash-{w}-{n}");
    let payload = serde_json::json!({
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [{"name": name, "digest": {"sha256": sha256_hex(name.as_bytes())}}],
        "predicateType": "https://embargo.dev/test/v1",
        "predicate": {"writer": w, "n": n, "note": "crash safety"},
    });
    Envelope::sign(&serde_json::to_vec(&payload).unwrap(), key)
}

/// Checks a 201 answer and returns the acknowledgment it makes.
fn check_answer(
    resp: &SubmitResponse,
    envelope: &Envelope,
    log_key: &PublicKey,
    obs: &Mutex<Observed>,
) -> Result<Ack, String> {
    let leaf = Leaf::parse(resp.entry.as_bytes())
        .map_err(|e| format!("entry {} is not a leaf: {e}", resp.index))?;
    if leaf.envelope != *envelope {
        return Err(format!("entry {} holds another envelope", resp.index));
    }
    let proof = TlogProof::parse(&resp.tlog_proof).map_err(|e| format!("bad tlog-proof: {e}"))?;
    if proof.index != resp.index {
        return Err(format!(
            "tlog-proof is for index {} but the answer says {}",
            proof.index, resp.index
        ));
    }
    proof
        .verify(log_key, resp.entry.as_bytes())
        .map_err(|e| format!("tlog-proof for entry {} does not verify: {e}", resp.index))?;
    obs.lock()
        .unwrap()
        .saw_checkpoint(&proof.checkpoint, log_key);
    Ok(Ack {
        index: resp.index,
        entry: resp.entry.clone(),
        key: dedup_key(&envelope.to_canonical_json()),
    })
}

async fn writer(
    w: usize,
    client: Arc<Client>,
    key: Arc<KeyPair>,
    log_key: PublicKey,
    obs: Arc<Mutex<Observed>>,
    stop: Arc<AtomicBool>,
) {
    let mut n = 0u64;
    while !stop.load(Ordering::Relaxed) {
        n += 1;
        let envelope = statement(&key, w, n);
        let answer = tokio::time::timeout(Duration::from_secs(20), client.submit(&envelope)).await;
        match answer {
            Ok(Ok(resp)) => {
                let result = if resp.duplicate {
                    Err(format!(
                        "a fresh envelope was answered duplicate of entry {}",
                        resp.index
                    ))
                } else {
                    check_answer(&resp, &envelope, &log_key, &obs)
                };
                let mut o = obs.lock().unwrap();
                match result {
                    Ok(ack) => o.acks.push(ack),
                    Err(e) => o.violations.push(e),
                }
            }
            Ok(Err(ClientError::Unreachable { source, .. })) if source.is_connect() => {
                obs.lock().unwrap().refused += 1;
                tokio::time::sleep(Duration::from_millis(3)).await;
            }
            Ok(Err(_)) | Err(_) => {
                obs.lock().unwrap().unacked.push(envelope);
                tokio::time::sleep(Duration::from_millis(3)).await;
            }
        }
    }
}

async fn poll_checkpoints(
    client: Arc<Client>,
    log_key: PublicKey,
    obs: Arc<Mutex<Observed>>,
    stop: Arc<AtomicBool>,
) {
    while !stop.load(Ordering::Relaxed) {
        if let Ok(text) = client.checkpoint().await {
            obs.lock().unwrap().saw_checkpoint(&text, &log_key);
        }
        tokio::time::sleep(Duration::from_millis(7)).await;
    }
}

async fn fetch_checkpoint(
    client: &Client,
    log_key: &PublicKey,
    obs: &Mutex<Observed>,
) -> SignedCheckpoint {
    let text = client.checkpoint().await.expect("GET /checkpoint");
    let cp = SignedCheckpoint::verify(&text, log_key).expect("the served checkpoint verifies");
    obs.lock().unwrap().saw_checkpoint(&text, log_key);
    cp
}

/// Proves that the tree of `old_size` with `old_root` is a prefix of `new`.
async fn check_consistent(
    client: &Client,
    old_size: u64,
    old_root: Hash,
    new: &SignedCheckpoint,
) -> Result<(), String> {
    if old_size > new.size() {
        return Err(format!(
            "a checkpoint of size {old_size} was published, but the log is now at {}",
            new.size()
        ));
    }
    if old_size == 0 {
        return if old_root == tlog::EMPTY_HASH {
            Ok(())
        } else {
            Err("an empty checkpoint has a non-empty root".into())
        };
    }
    if old_size == new.size() {
        return if old_root == new.root() {
            Ok(())
        } else {
            Err(format!("two checkpoints of size {old_size} disagree"))
        };
    }
    let proof = client
        .consistency_proof(old_size, new.size())
        .await
        .map_err(|e| format!("consistency proof {old_size} -> {}: {e}", new.size()))?;
    tlog::verify_consistency(&proof, old_size, old_root, new.size(), new.root()).map_err(|e| {
        format!(
            "checkpoint of size {old_size} is not consistent with {}: {e}",
            new.size()
        )
    })
}

/// The entries of bundle `n` as published in the tree of `size` entries.
async fn fetch_bundle(client: &Client, n: u64, size: u64) -> Vec<Vec<u8>> {
    let width = tlog::tile_width_at(0, n, size).expect("bundle in tree");
    let id = TileId {
        kind: TileKind::Entries,
        index: n,
        width,
    };
    let data = client
        .get_bytes(&id.path())
        .await
        .unwrap_or_else(|e| panic!("GET {}: {e}", id.path()));
    let entries = tlog::decode_bundle(&data)
        .unwrap_or_else(|| panic!("{} is not a valid entry bundle", id.path()));
    assert_eq!(entries.len(), usize::from(width), "{} width", id.path());
    entries.into_iter().map(<[u8]>::to_vec).collect()
}

/// Fetches `GET /v1/entries/<i>` for every ack, 16 at a time, and compares bytes.
async fn check_acks_by_entry(client: &Client, acks: &[Ack]) {
    let failures: Vec<String> = stream::iter(acks)
        .map(|a| async move {
            match client.entry(a.index).await {
                Ok(bytes) if bytes == a.entry.as_bytes() => None,
                Ok(bytes) => Some(format!(
                    "entry {} changed:\n acked  {}\n served {}",
                    a.index,
                    a.entry,
                    String::from_utf8_lossy(&bytes)
                )),
                Err(e) => Some(format!("acknowledged entry {} is missing: {e}", a.index)),
            }
        })
        .buffer_unordered(16)
        .filter_map(|x| async move { x })
        .collect()
        .await;
    assert!(
        failures.is_empty(),
        "{} acknowledged entries lost or changed, e.g.:\n{}",
        failures.len(),
        failures[..failures.len().min(5)].join("\n")
    );
}

/// Resubmits an envelope that was killed in flight. If the log has it, the answer must be the
/// original entry (`duplicate: true`); otherwise it is appended now. Either way it is now
/// acknowledged at the returned index.
async fn resubmit(
    client: &Client,
    envelope: &Envelope,
    size_before: u64,
    log_key: &PublicKey,
    obs: &Mutex<Observed>,
) -> (Ack, bool) {
    let resp = client
        .submit(envelope)
        .await
        .expect("resubmitting an unacknowledged envelope");
    if resp.duplicate {
        assert!(
            resp.index < size_before,
            "duplicate answer points at entry {} past the restarted size {size_before}",
            resp.index
        );
        let leaf = Leaf::parse(resp.entry.as_bytes()).expect("duplicate entry is a leaf");
        assert_eq!(
            &leaf.envelope, envelope,
            "duplicate answer points at another envelope"
        );
        let served = client.entry(resp.index).await.expect("GET duplicate entry");
        assert_eq!(served, resp.entry.as_bytes(), "duplicate's entry bytes");
        let proof = TlogProof::parse(&resp.tlog_proof).expect("duplicate's tlog-proof parses");
        proof
            .verify(log_key, resp.entry.as_bytes())
            .expect("duplicate's tlog-proof verifies");
        obs.lock()
            .unwrap()
            .saw_checkpoint(&proof.checkpoint, log_key);
        let ack = Ack {
            index: resp.index,
            entry: resp.entry,
            key: dedup_key(&envelope.to_canonical_json()),
        };
        (ack, true)
    } else {
        let ack = check_answer(&resp, envelope, log_key, obs).expect("resubmission's answer");
        (ack, false)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn log_survives_sigkill_at_random_moments() {
    let kills: u32 = std::env::var("EMBARGO_CRASH_KILLS")
        .ok()
        .map(|v| v.parse().expect("EMBARGO_CRASH_KILLS must be a number"))
        .unwrap_or(20);
    let seed: u64 = std::env::var("EMBARGO_CRASH_SEED")
        .ok()
        .map(|v| v.parse().expect("EMBARGO_CRASH_SEED must be a number"))
        .unwrap_or(0x5eed_c4a5);
    eprintln!("crash_safety: {kills} kills, seed {seed} (EMBARGO_CRASH_SEED)");
    let mut rng = StdRng::seed_from_u64(seed);

    let tmp = tempfile::tempdir().unwrap();
    let log_kp = KeyPair::generate(LOG_NAME).unwrap();
    let key_file = tmp.path().join("log.key");
    log_kp.write_file(&key_file).unwrap();
    let log_key = log_kp.public().clone();
    let writer_kp = Arc::new(KeyPair::generate("crash.test/writer").unwrap());
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let addr = format!("127.0.0.1:{port}");
    let mut server = Server {
        child: None,
        data: tmp.path().join("data"),
        key_file,
        writer_vkey: writer_kp.public().to_string(),
        addr: addr.clone(),
        stderr_log: tmp.path().join("server.log"),
        starts: 0,
    };
    let client = Arc::new(Client::new(&format!("http://{addr}")));

    server.spawn();
    server.wait_ready(&client).await;

    let obs = Arc::new(Mutex::new(Observed::default()));
    let stop = Arc::new(AtomicBool::new(false));
    let mut tasks = Vec::new();
    for w in 0..WRITERS {
        tasks.push(tokio::spawn(writer(
            w,
            client.clone(),
            writer_kp.clone(),
            log_key.clone(),
            obs.clone(),
            stop.clone(),
        )));
    }
    tasks.push(tokio::spawn(poll_checkpoints(
        client.clone(),
        log_key.clone(),
        obs.clone(),
        stop.clone(),
    )));

    let started = Instant::now();
    let mut last_verified: Option<SignedCheckpoint> = None;
    let mut acks_checked = 0usize;
    let mut unacked_checked = 0usize;
    let mut duplicates_confirmed = 0u32;
    let mut absent_confirmed = 0u32;
    let mut resubmitted: Vec<Ack> = Vec::new();
    let mut restart_times = Vec::new();
    let consistency_checks = AtomicU64::new(0);

    for kill in 1..=kills {
        let delay = Duration::from_millis(rng.gen_range(50..=400));
        tokio::time::sleep(delay).await;
        server.kill();
        server.spawn();
        restart_times.push(server.wait_ready(&client).await);

        // What was observed so far; the checkpoint is fetched after this snapshot, so it must
        // cover all of it.
        let (acks, pending, unacked, violations) = {
            let mut o = obs.lock().unwrap();
            let sizes = std::mem::take(&mut o.seen_pending);
            let pending: Vec<(u64, Hash)> = sizes.into_iter().map(|s| (s, o.seen[&s].0)).collect();
            let unacked: Vec<Envelope> = o.unacked[unacked_checked..].to_vec();
            unacked_checked = o.unacked.len();
            (o.acks.clone(), pending, unacked, o.violations.clone())
        };
        assert!(
            violations.is_empty(),
            "after kill {kill}:\n{}",
            violations.join("\n")
        );
        let cp = fetch_checkpoint(&client, &log_key, &obs).await;

        // Size covers every acknowledgment.
        let acked_size = acks.iter().map(|a| a.index + 1).max().unwrap_or(0);
        assert!(
            cp.size() >= acked_size,
            "after kill {kill}: the log restarted at size {} but entry {} was acknowledged",
            cp.size(),
            acked_size - 1
        );

        // Consistency with every checkpoint seen since the last check, and with the last
        // verified one (which was consistent with everything before it).
        let mut olds = pending;
        if let Some(prev) = &last_verified {
            olds.push((prev.size(), prev.root()));
        }
        for (size, root) in olds {
            consistency_checks.fetch_add(1, Ordering::Relaxed);
            if let Err(e) = check_consistent(&client, size, root, &cp).await {
                panic!("after kill {kill}: {e}");
            }
        }

        // Acknowledged entries: the new ones and a sample of older ones by index, and every
        // one of them in the entry bundles around the recovery point.
        let mut to_check: Vec<Ack> = acks[acks_checked..].to_vec();
        for _ in 0..32.min(acks_checked) {
            to_check.push(acks[rng.gen_range(0..acks_checked)].clone());
        }
        check_acks_by_entry(&client, &to_check).await;
        let mut bundles: BTreeMap<u64, Vec<Vec<u8>>> = BTreeMap::new();
        for a in &acks[acks_checked..] {
            let n = a.index / TILE_WIDTH;
            if let std::collections::btree_map::Entry::Vacant(slot) = bundles.entry(n) {
                slot.insert(fetch_bundle(&client, n, cp.size()).await);
            }
            assert_eq!(
                bundles[&n][(a.index % TILE_WIDTH) as usize],
                a.entry.as_bytes(),
                "after kill {kill}: entry {} differs in its bundle",
                a.index
            );
        }
        acks_checked = acks.len();

        // A few submissions killed in flight: resubmitting returns the original entry if the
        // log has it.
        for envelope in unacked.iter().take(3) {
            let (ack, dup) = resubmit(&client, envelope, cp.size(), &log_key, &obs).await;
            if dup {
                duplicates_confirmed += 1;
            } else {
                absent_confirmed += 1;
            }
            resubmitted.push(ack);
        }

        last_verified = Some(cp.clone());
        eprintln!(
            "kill {kill:>3}/{kills}: after {:>3} ms, restarted in {:>4} ms at size {:>6}; {} acks, {} unacked so far",
            delay.as_millis(),
            restart_times.last().unwrap().as_millis(),
            cp.size(),
            acks.len(),
            unacked_checked,
        );
    }

    // Quiesce, then check everything.
    stop.store(true, Ordering::Relaxed);
    for t in tasks {
        t.await.unwrap();
    }
    let (acks, unacked, violations, refused, seen) = {
        let o = obs.lock().unwrap();
        (
            o.acks.clone(),
            o.unacked.clone(),
            o.violations.clone(),
            o.refused,
            o.seen.clone(),
        )
    };
    assert!(violations.is_empty(), "{}", violations.join("\n"));
    // One more crash with nothing in flight: nothing may change.
    let before = fetch_checkpoint(&client, &log_key, &obs).await;
    server.kill();
    server.spawn();
    server.wait_ready(&client).await;
    let cp = fetch_checkpoint(&client, &log_key, &obs).await;
    assert_eq!(
        cp.text, before.text,
        "an idle restart must come back at the same checkpoint"
    );

    // Every checkpoint ever seen is consistent with the final one.
    for (size, (root, _)) in &seen {
        consistency_checks.fetch_add(1, Ordering::Relaxed);
        if let Err(e) = check_consistent(&client, *size, *root, &cp).await {
            panic!("at the end: {e}");
        }
    }

    // The whole log: bundles hash to the checkpoint root, no envelope twice.
    let size = cp.size();
    let mut edge = RightEdge::default();
    let mut scratch = Vec::new();
    let mut where_is: HashMap<[u8; 32], u64> = HashMap::new();
    let mut entries: Vec<Vec<u8>> = Vec::with_capacity(size as usize);
    for n in 0..size.div_ceil(TILE_WIDTH) {
        for e in fetch_bundle(&client, n, size).await {
            let i = entries.len() as u64;
            edge.append(tlog::record_hash(&e), &mut scratch);
            scratch.clear();
            let leaf = Leaf::parse(&e).unwrap_or_else(|err| panic!("entry {i}: {err}"));
            let key = dedup_key(&leaf.envelope.to_canonical_json());
            if let Some(first) = where_is.insert(key, i) {
                panic!("the same envelope is logged twice, at {first} and {i}");
            }
            entries.push(e);
        }
    }
    assert_eq!(entries.len() as u64, size);
    assert_eq!(
        edge.root(),
        cp.root(),
        "the entry bundles do not hash to the checkpoint's root"
    );
    for a in acks.iter().chain(&resubmitted) {
        assert_eq!(
            entries[a.index as usize],
            a.entry.as_bytes(),
            "entry {} changed",
            a.index
        );
        assert_eq!(where_is.get(&a.key), Some(&a.index));
    }
    // Every acknowledged entry through the entry API.
    check_acks_by_entry(&client, &acks).await;

    // Unacknowledged submissions: each is logged at most once (checked above); resubmit a few
    // of those the log has and a few it has not.
    let (present, absent): (Vec<&Envelope>, Vec<&Envelope>) = unacked
        .iter()
        .filter(|e| {
            !resubmitted
                .iter()
                .any(|a| a.key == dedup_key(&e.to_canonical_json()))
        })
        .partition(|e| where_is.contains_key(&dedup_key(&e.to_canonical_json())));
    for e in present.iter().take(10) {
        let key = dedup_key(&e.to_canonical_json());
        let (ack, dup) = resubmit(&client, e, size, &log_key, &obs).await;
        assert!(dup, "an envelope the log holds was appended again");
        assert_eq!(ack.index, where_is[&key], "duplicate answer's index");
        duplicates_confirmed += 1;
    }
    for e in absent.iter().take(5) {
        let (ack, dup) = resubmit(&client, e, size, &log_key, &obs).await;
        assert!(
            !dup,
            "an envelope the log does not hold was called a duplicate"
        );
        assert!(ack.index >= size);
        absent_confirmed += 1;
    }
    let violations = obs.lock().unwrap().violations.clone();
    assert!(violations.is_empty(), "{}", violations.join("\n"));

    restart_times.sort();
    eprintln!(
        "crash_safety: {kills} kills in {:.1} s; final size {size}; {} acks verified; {} unacked \
         in flight ({} present, {} absent at the end), {refused} refused while down; \
         resubmissions: {duplicates_confirmed} answered duplicate, {absent_confirmed} appended; \
         {} checkpoints seen, {} consistency checks; restart median {} ms, max {} ms",
        started.elapsed().as_secs_f64(),
        acks.len() + resubmitted.len(),
        unacked.len(),
        present.len(),
        absent.len(),
        seen.len(),
        consistency_checks.load(Ordering::Relaxed),
        restart_times[restart_times.len() / 2].as_millis(),
        restart_times.last().unwrap().as_millis(),
    );
    assert!(!acks.is_empty(), "no submission was ever acknowledged");
    assert!(server.starts > kills);
}
