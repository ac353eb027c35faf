//! `embargo monitor` against real `embargo serve` processes: a log in which a commitment goes
//! overdue, an escrow opens to other bytes (escrow-invalid), an audit fails and a platform
//! key is revoked, each reported exactly once although the monitor is killed and started
//! again; and two logs with the same key and different histories, whose split view a monitor
//! given both URLs reports with both signed notes as evidence.

mod common;

use common::{add_party, embargo, keygen, ok, Server};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// `embargo monitor` flags for a log at `url` run with [`serve`]'s policy.
fn monitor_args(url: &str, vkey: &str) -> Vec<String> {
    [
        "monitor",
        "--log",
        url,
        "--vkey",
        vkey,
        "--state",
        "mon",
        "--grace",
        "3s",
        "--min-embargo",
        "1s",
        "--beacon-chain",
        "beacon/chain.json",
        "--interval",
        "200ms",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

/// A monitor process writing its events to `out`, killed (SIGKILL) on drop.
struct Monitor(Child);

impl Monitor {
    fn start(dir: &Path, args: &[String], out: &str) -> Monitor {
        let stdout = std::fs::File::create(dir.join(out)).unwrap();
        let child = Command::new(common::bin())
            .args(args)
            .current_dir(dir)
            .stdout(stdout)
            .stderr(std::fs::File::create(dir.join(format!("{out}.err"))).unwrap())
            .stdin(Stdio::null())
            .spawn()
            .unwrap();
        Monitor(child)
    }
}

impl Drop for Monitor {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Every event line in the files `outs` under `dir`.
fn events(dir: &Path, outs: &[&str]) -> Vec<Value> {
    outs.iter()
        .flat_map(|o| {
            std::fs::read_to_string(dir.join(o))
                .unwrap_or_default()
                .lines()
                .map(|l| serde_json::from_str::<Value>(l).unwrap_or_else(|e| panic!("{l}: {e}")))
                .collect::<Vec<_>>()
        })
        .collect()
}

fn count(events: &[Value], kind: &str, commitment: Option<u64>) -> usize {
    events
        .iter()
        .filter(|e| e["kind"] == kind)
        .filter(|e| commitment.is_none_or(|c| e["commitment"] == c))
        .count()
}

/// Waits until the events in `outs` satisfy `done`.
fn wait_for(dir: &Path, outs: &[&str], what: &str, done: impl Fn(&[Value]) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !done(&events(dir, outs)) {
        assert!(
            Instant::now() < deadline,
            "the monitor never reported {what}:\n{:#?}",
            events(dir, outs)
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn serve(dir: &Path, data: &str) -> Server {
    Server::with_flags(
        &dir.join(data),
        &dir.join("log.key"),
        &[
            "--interval",
            "20ms",
            "--min-embargo",
            "1s",
            "--grace",
            "3s",
            "--beacon-chain",
            "beacon/chain.json",
        ],
    )
}

fn commitment_json(url: &str, index: &str) -> Value {
    let (status, body) = common::http_get(&format!("{url}/v1/commitments/{index}"));
    assert_eq!(status, 200);
    serde_json::from_slice(&body).unwrap()
}

fn statement_in(leaf: &[u8]) -> Value {
    use base64::prelude::{Engine, BASE64_STANDARD};
    let leaf: Value = serde_json::from_slice(leaf).unwrap();
    let payload = BASE64_STANDARD
        .decode(leaf["envelope"]["payload"].as_str().unwrap())
        .unwrap();
    serde_json::from_slice(&payload).unwrap()
}

/// `embargo submit` of `statement` (written to `file`) signed with `key`; returns the index.
fn submit(dir: &Path, url: &str, key: &str, vkey: &str, statement: &Value, file: &str) -> String {
    std::fs::write(dir.join(file), serde_json::to_vec(statement).unwrap()).unwrap();
    let predicate_type = statement["predicateType"].as_str().unwrap();
    let args = [
        "submit",
        "--log",
        url,
        "--key",
        key,
        "--vkey",
        vkey,
        "--predicate-type",
        predicate_type,
        file,
    ];
    let out = embargo(dir, &args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// A commitment whose escrow does not open to a model (its payload is corrupted, and the
/// commitment names the corrupted ciphertext), deposited, then opened by the round: the log
/// logs it escrow-invalid. Returns its index.
fn cheating_escrow(dir: &Path, url: &str, vkey: &str) -> u64 {
    common::make_model(dir, "escrowed", 11);
    let reveal_at =
        chrono::SubsecRound::trunc_subsecs(chrono::Utc::now() + chrono::Duration::seconds(3), 0);
    let reveal_arg = reveal_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let args = [
        "commit",
        "escrowed",
        "--log",
        url,
        "--key",
        "platform.key",
        "--name",
        "honest",
        "--version",
        "1",
        "--vkey",
        vkey,
        "--escrow",
        "tlock",
        "--beacon",
        "beacon/chain.json",
        "--reveal-at",
        &reveal_arg,
        "--escrow-out",
        "honest.age",
    ];
    ok(dir, &args);
    let mut bytes = std::fs::read(dir.join("honest.age")).unwrap();
    let n = bytes.len();
    bytes[n - 100] ^= 0x01;
    std::fs::write(dir.join("broken.age"), &bytes).unwrap();
    let mut hasher = embargo::model::digest::FileHasher::new();
    hasher.update(&bytes);
    let root = embargo::core::predicate::hex(&hasher.finish().0);
    let mut cheat = statement_in(&std::fs::read(dir.join("honest-1.entry.json")).unwrap());
    cheat["subject"][0]["name"] = "broken".into();
    cheat["predicate"]["model"]["name"] = "broken".into();
    cheat["predicate"]["escrow"]["ciphertext_digest"] = format!("sha3-256:{root}").into();
    let index = submit(dir, url, "platform.key", vkey, &cheat, "broken.json");
    let deposit = [
        "escrow",
        "deposit",
        "broken.age",
        "--log",
        url,
        "--commitment",
        &index,
    ];
    ok(dir, &deposit);
    let lock = commitment_json(url, &index)["escrow"]["lock_round"]
        .as_u64()
        .unwrap();
    while chrono::Utc::now() < reveal_at + chrono::Duration::seconds(1) {
        std::thread::sleep(Duration::from_millis(100));
    }
    let round = lock.to_string();
    let sig: Value = serde_json::from_str(&ok(
        dir,
        &["escrow", "test-beacon", "sign", "beacon", "--round", &round],
    ))
    .unwrap();
    let post = [
        "escrow",
        "beacon",
        "--log",
        url,
        "--round",
        &round,
        "--signature",
        sig["signature"].as_str().unwrap(),
        "--chain",
        sig["chain_hash"].as_str().unwrap(),
    ];
    ok(dir, &post);
    assert_eq!(commitment_json(url, &index)["status"], "escrow-invalid");
    index.parse().unwrap()
}

/// A commitment revealed by its platform, then a failing audit report logged by the auditor.
/// Returns the commitment's index.
fn failed_audit(dir: &Path, url: &str, vkey: &str) -> u64 {
    common::make_model(dir, "audited", 5);
    let index = common::commit(dir, url, "audited", "audited", "1", "1s", vkey);
    let reveal = [
        "reveal",
        "audited",
        "--log",
        url,
        "--commitment",
        &index,
        "--vkey",
        vkey,
        "--key",
        "platform.key",
    ];
    ok(dir, &reveal);
    let digest = commitment_json(url, &index)["model_digest"]
        .as_str()
        .unwrap()
        .to_owned();
    let report = serde_json::json!({
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [{"name": "audited", "digest": {"sha3-256": digest}}],
        "predicateType": "https://embargo.dev/audit-report/v1",
        "predicate": {
            "auditor": "auditor.example",
            "commitment": index.parse::<u64>().unwrap(),
            "suite_digest": format!("sha256:{}", "11".repeat(32)),
            "dataset_digest": format!("sha256:{}", "22".repeat(32)),
            "verdict": "fail",
            "metrics": {"demographic_parity_ratio": 0.61},
            "report_digest": format!("sha256:{}", "33".repeat(32)),
        }
    });
    submit(dir, url, "auditor.key", vkey, &report, "audit.json");
    index.parse().unwrap()
}

#[test]
fn every_event_is_reported_exactly_once_across_a_monitor_restart() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let log_vkey = keygen(dir, "monitor.test/log", "log.key");
    let platform = keygen(dir, "social.example", "platform.key");
    let second = keygen(dir, "social.example", "platform2.key");
    let auditor = keygen(dir, "auditor.example", "auditor.key");
    ok(
        dir,
        &["escrow", "test-beacon", "new", "beacon", "--period", "1"],
    );
    let server = serve(dir, "data");
    let url = server.url.clone();
    let args = monitor_args(&url, &log_vkey);
    let first = Monitor::start(dir, &args, "run1.jsonl");

    add_party(dir, &url, "platform", "social.example", &platform);
    add_party(dir, &url, "auditor", "auditor.example", &auditor);
    common::make_model(dir, "late", 3);
    let overdue: u64 = common::commit(dir, &url, "late", "late", "1", "1s", &log_vkey)
        .parse()
        .unwrap();
    wait_for(dir, &["run1.jsonl"], "the commitment", |e| {
        count(e, "committed", Some(overdue)) == 1
    });
    drop(first); // SIGKILL mid-run

    let second_run = Monitor::start(dir, &args, "run2.jsonl");
    let invalid = cheating_escrow(dir, &url, &log_vkey);
    let audited = failed_audit(dir, &url, &log_vkey);
    ok(
        dir,
        &[
            "platform",
            "key",
            "add",
            "social.example",
            "--vkey",
            &second,
            "--log",
            &url,
        ],
    );
    ok(
        dir,
        &[
            "platform",
            "key",
            "revoke",
            "social.example",
            "--vkey",
            &platform,
            "--log",
            &url,
        ],
    );
    let outs = ["run1.jsonl", "run2.jsonl"];
    wait_for(dir, &outs, "every event", |e| {
        count(e, "overdue", Some(overdue)) >= 1
            && count(e, "escrow-invalid", Some(invalid)) >= 1
            && count(e, "audit-failed", Some(audited)) >= 1
            && e.iter()
                .any(|e| e["kind"] == "keys-changed" && e["details"]["revoked"][0] == platform)
    });
    drop(second_run);

    // A third start, --once: nothing new to say, nothing alarming.
    let mut once = args.clone();
    once.push("--once".into());
    let once: Vec<&str> = once.iter().map(String::as_str).collect();
    let out = embargo(dir, &once);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::write(dir.join("run3.jsonl"), &out.stdout).unwrap();

    let all = events(dir, &["run1.jsonl", "run2.jsonl", "run3.jsonl"]);
    assert_eq!(count(&all, "overdue", Some(overdue)), 1, "{all:#?}");
    assert_eq!(count(&all, "escrow-invalid", Some(invalid)), 1, "{all:#?}");
    assert_eq!(count(&all, "audit-failed", Some(audited)), 1, "{all:#?}");
    let revocations = all
        .iter()
        .filter(|e| e["kind"] == "keys-changed" && e["details"]["revoked"][0] == platform)
        .count();
    assert_eq!(revocations, 1, "{all:#?}");
    assert_eq!(count(&all, "party-registered", None), 2, "{all:#?}");
    assert_eq!(count(&all, "rule-broken", None), 0, "{all:#?}");
    assert_eq!(count(&all, "split-view", None), 0, "{all:#?}");
    // Every event once: sequence numbers never repeat across the runs.
    let mut seqs: Vec<u64> = all.iter().map(|e| e["seq"].as_u64().unwrap()).collect();
    let n = seqs.len();
    seqs.sort();
    seqs.dedup();
    assert_eq!(seqs.len(), n, "{all:#?}");
    assert_schema(&all);
}

/// Every event validates against `schema/monitor-event.schema.json`.
fn assert_schema(events: &[Value]) {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let schema: Value = serde_json::from_slice(
        &std::fs::read(root.join("schema/monitor-event.schema.json")).unwrap(),
    )
    .unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    for e in events {
        assert!(validator.is_valid(e), "{e:#}");
    }
}

#[test]
fn a_split_view_between_two_logs_with_one_key_is_reported_with_both_notes() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let log_vkey = keygen(dir, "monitor.test/log", "log.key");
    ok(
        dir,
        &["escrow", "test-beacon", "new", "beacon", "--period", "1"],
    );
    let a = serve(dir, "a");
    let b = serve(dir, "b");
    let keys: Vec<String> = ["alpha", "beta", "gamma"]
        .iter()
        .map(|n| keygen(dir, &format!("{n}.example"), &format!("{n}.key")))
        .collect();
    add_party(dir, &a.url, "platform", "alpha.example", &keys[0]);
    add_party(dir, &b.url, "platform", "beta.example", &keys[1]);
    add_party(dir, &b.url, "platform", "gamma.example", &keys[2]);
    let note_a = String::from_utf8(common::http_get(&format!("{}/checkpoint", a.url)).1).unwrap();
    let note_b = String::from_utf8(common::http_get(&format!("{}/checkpoint", b.url)).1).unwrap();

    let mut args = monitor_args(&a.url, &log_vkey);
    args.extend(["--log".to_owned(), b.url.clone(), "--once".to_owned()]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = embargo(dir, &args);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::write(dir.join("split.jsonl"), &out.stdout).unwrap();
    let all = events(dir, &["split.jsonl"]);
    let split: Vec<&Value> = all.iter().filter(|e| e["kind"] == "split-view").collect();
    assert_eq!(split.len(), 1, "{all:#?}");
    let evidence =
        std::fs::read_to_string(dir.join(split[0]["details"]["evidence"].as_str().unwrap()))
            .unwrap();
    assert!(evidence.contains(&note_a), "{evidence}");
    assert!(evidence.contains(&note_b), "{evidence}");
    assert!(dir.join("mon/evidence").read_dir().unwrap().count() == 1);

    // Run again: the split view was reported; it is not reported twice.
    let again = embargo(dir, &args);
    assert_eq!(
        count(
            &serde_json::Deserializer::from_slice(&again.stdout)
                .into_iter::<Value>()
                .map(Result::unwrap)
                .collect::<Vec<_>>(),
            "split-view",
            None
        ),
        0
    );
    assert_schema(&all);
}
