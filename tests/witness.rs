//! `embargo witness serve` as a real process, against c2sp.org/tlog-witness: every status code
//! of `add-checkpoint` for its case, cosignatures that verify, concurrent submissions from the
//! same old size, a kill -9 and restart that keeps the witness's state, and a second witness on
//! the same data directory refused with the pid of the first.

mod common;

use base64::prelude::{Engine, BASE64_STANDARD};
use common::witness::{request, Answer, WitnessProcess};
use common::{bin, free_port, keygen, ok};
use embargo::core::checkpoint::Checkpoint;
use embargo::core::note::KeyPair;
use embargo::core::tlog::{prove_consistency, record_hash, Hash, MemoryTiles, RightEdge};
use embargo::witness::cosignature::{verify_cosignatures, WitnessKey};
use embargo::witness::state::origin_hash;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

const ORIGIN: &str = "log.example/embargo";

/// A tree grown with the library's tlog helpers, signed with the log's key.
struct Tree {
    key: KeyPair,
    tiles: MemoryTiles,
    edge: RightEdge,
}

impl Tree {
    fn new(key: KeyPair) -> Tree {
        Tree {
            key,
            tiles: MemoryTiles::default(),
            edge: RightEdge::default(),
        }
    }

    fn grow_to(&mut self, size: u64) {
        while self.edge.size() < size {
            let mut done = Vec::new();
            let leaf = record_hash(format!("entry {}", self.edge.size()).as_bytes());
            self.edge.append(leaf, &mut done);
            for w in done.iter().chain(&self.edge.partial_tiles()) {
                self.tiles.insert(w);
            }
        }
    }

    fn checkpoint(&self) -> Checkpoint {
        Checkpoint {
            origin: ORIGIN.into(),
            size: self.edge.size(),
            root: self.edge.root(),
        }
    }

    fn proof_from(&self, old: u64) -> Vec<Hash> {
        let size = self.edge.size();
        prove_consistency(&self.tiles, size, old, size).unwrap()
    }

    /// The signed checkpoint note of the current tree.
    fn note(&self) -> String {
        self.checkpoint().sign(&self.key).unwrap().text
    }
}

/// An `add-checkpoint` body.
fn body(old: u64, proof: &[Hash], note: &str) -> Vec<u8> {
    let mut b = format!("old {old}\n");
    for h in proof {
        b += &BASE64_STANDARD.encode(h.0);
        b += "\n";
    }
    b += "\n";
    b += note;
    b.into_bytes()
}

/// Asserts `a` is a 200 whose cosignature by `witness` verifies on `note`; returns the
/// cosigned note.
fn assert_cosigned(a: &Answer, note: &str, witness: &WitnessKey) -> String {
    assert_eq!(a.status, 200, "{a:?}");
    assert!(
        a.body.starts_with('\u{2014}') && a.body.ends_with('\n'),
        "{a:?}"
    );
    let cosigned = format!("{note}{}", a.body);
    let report = verify_cosignatures(&cosigned, std::slice::from_ref(witness)).unwrap();
    assert_eq!(report.valid.len(), 1, "{report:?}");
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    assert!(report.valid[0].timestamp.abs_diff(now) < 120);
    cosigned
}

fn assert_refused(a: &Answer, status: u16, says: &str) {
    assert_eq!(a.status, status, "{a:?}");
    assert!(a.body.contains(says), "{status} should say {says:?}: {a:?}");
}

/// The evidence directories the witness wrote, oldest first.
fn evidence_dirs(data: &Path) -> Vec<PathBuf> {
    let root = data.join("evidence").join(origin_hash(ORIGIN));
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(root)
        .map(|rd| rd.map(|e| e.unwrap().path()).collect())
        .unwrap_or_default();
    dirs.sort();
    dirs
}

struct Setup {
    _dir: tempfile::TempDir,
    data: PathBuf,
    witness_key: PathBuf,
    witness_vkey: WitnessKey,
    log_vkey: String,
    tree: Tree,
}

fn setup() -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let log_vkey = keygen(dir.path(), ORIGIN, "log.key");
    let witness_vkey = ok(
        dir.path(),
        &[
            "witness",
            "keygen",
            "--name",
            "witness.example/w1",
            "--out",
            "witness.key",
        ],
    );
    let witness_vkey: WitnessKey = witness_vkey.parse().expect("keygen prints a 0x04 vkey");
    let key = KeyPair::read_file(&dir.path().join("log.key")).unwrap();
    Setup {
        data: dir.path().join("witness-data"),
        witness_key: dir.path().join("witness.key"),
        log_vkey,
        witness_vkey,
        tree: Tree::new(key),
        _dir: dir,
    }
}

#[test]
fn add_checkpoint_answers_each_case_as_the_spec_says_and_survives_kill_9() {
    let mut s = setup();
    let w = WitnessProcess::start(&s.witness_key, &s.data, &[&s.log_vkey]);
    assert!(w
        .stderr()
        .contains(&format!("witness vkey {}", s.witness_vkey)));

    // 200: the first checkpoint, from old size 0 with no proof.
    s.tree.grow_to(5);
    let note5 = s.tree.note();
    assert_cosigned(&w.post(&body(0, &[], &note5)), &note5, &s.witness_vkey);

    // 200: growth with a consistency proof from the cosigned size.
    s.tree.grow_to(300);
    let note300 = s.tree.note();
    let proof = s.tree.proof_from(5);
    let cosigned300 = assert_cosigned(
        &w.post(&body(5, &proof, &note300)),
        &note300,
        &s.witness_vkey,
    );

    // 409: a stale old size, answered with the cosigned size as text/x.tlog.size.
    let stale = w.post(&body(5, &proof, &note300));
    assert_eq!(
        (
            stale.status,
            stale.content_type.as_str(),
            stale.body.as_str()
        ),
        (409, "text/x.tlog.size", "300\n")
    );

    // 422: a proof that does not verify.
    s.tree.grow_to(310);
    let note310 = s.tree.note();
    let mut bad = s.tree.proof_from(300);
    bad[0].0[0] ^= 1;
    assert_refused(
        &w.post(&body(300, &bad, &note310)),
        422,
        "consistency proof",
    );

    // 422: the same size as the cosigned checkpoint with another root (a split view).
    let forked = Checkpoint {
        root: Hash([7; 32]),
        ..Checkpoint::parse_body(&note300).unwrap()
    };
    let forked_note = forked.sign(&s.tree.key).unwrap().text;
    let fork = body(300, &[], &forked_note);
    assert_refused(&w.post(&fork), 422, "another root hash");
    let evidence = evidence_dirs(&s.data);
    assert_eq!(evidence.len(), 2, "the bad proof and the fork are kept");
    let kept = |name: &str| std::fs::read_to_string(evidence[1].join(name)).unwrap();
    assert_eq!(kept("submitted.note"), forked_note);
    assert_eq!(kept("cosigned.note"), cosigned300);
    assert!(kept("reason.txt").contains("another root hash"));

    // 403: signed by another key of the same name.
    let impostor = KeyPair::generate(ORIGIN).unwrap();
    let foreign = s.tree.checkpoint().sign(&impostor).unwrap().text;
    assert_refused(
        &w.post(&body(300, &s.tree.proof_from(300), &foreign)),
        403,
        "no valid signature",
    );

    // 404: a log this witness does not witness.
    let stranger = KeyPair::generate("other.example/log").unwrap();
    let cp = Checkpoint {
        origin: "other.example/log".into(),
        ..s.tree.checkpoint()
    };
    let unknown = cp.sign(&stranger).unwrap().text;
    assert_refused(&w.post(&body(0, &[], &unknown)), 404, "other.example/log");

    // 400: malformed requests.
    let good = String::from_utf8(body(300, &s.tree.proof_from(300), &note310)).unwrap();
    for bad in [
        good.replacen("old 300", "old 0300", 1),
        good.replacen("old 300\n", "", 1),
        good.replacen("\n\nlog.example", "\nlog.example", 1),
        "old 0\n\nnot a checkpoint\n".into(),
    ] {
        assert_refused(&w.post(bad.as_bytes()), 400, "malformed");
    }
    assert_refused(&w.post(&body(400, &[], &note310)), 400, "larger than");

    // 413: over the 64 KiB limit.
    let mut huge = body(300, &s.tree.proof_from(300), &note310);
    huge.resize(64 * 1024 + 1, b'x');
    assert_refused(&w.post(&huge), 413, "65536 bytes");

    // The monitoring endpoint serves the cosigned checkpoint.
    let path = format!("/{}/checkpoint", origin_hash(ORIGIN));
    let served = request(&w.url, "GET", &path, b"");
    assert_eq!(served.status, 200);
    assert_eq!(served.body, cosigned300);

    // kill -9 and restart: the witness still knows size 300 and its root.
    let w = w.crash_and_restart();
    assert_refused(&w.post(&fork), 422, "another root hash");
    let stale = w.post(&body(5, &proof, &note300));
    assert_eq!((stale.status, stale.body.as_str()), (409, "300\n"));
    assert_eq!(request(&w.url, "GET", &path, b"").body, cosigned300);
    let proof = s.tree.proof_from(300);
    assert_cosigned(
        &w.post(&body(300, &proof, &note310)),
        &note310,
        &s.witness_vkey,
    );
}

#[test]
fn concurrent_submissions_from_one_old_size_advance_once() {
    let mut s = setup();
    let w = WitnessProcess::start(&s.witness_key, &s.data, &[&s.log_vkey]);
    s.tree.grow_to(100);
    let note100 = s.tree.note();
    assert_eq!(w.post(&body(0, &[], &note100)).status, 200);
    let bodies: Vec<Vec<u8>> = (1..=8)
        .map(|k| {
            s.tree.grow_to(100 + k);
            body(100, &s.tree.proof_from(100), &s.tree.note())
        })
        .collect();
    let statuses: Vec<u16> = std::thread::scope(|scope| {
        let handles: Vec<_> = bodies
            .iter()
            .map(|b| scope.spawn(|| w.post(b).status))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(
        statuses.iter().filter(|&&c| c == 200).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|&&c| c == 409).count(),
        7,
        "{statuses:?}"
    );
}

#[test]
fn a_second_witness_on_the_same_data_directory_is_refused_naming_the_pid() {
    let s = setup();
    let first = WitnessProcess::start(&s.witness_key, &s.data, &[&s.log_vkey]);
    let out = Command::new(bin())
        .args(["witness", "serve", "--key"])
        .arg(&s.witness_key)
        .arg("--data")
        .arg(&s.data)
        .args([
            "--log",
            &s.log_vkey,
            "--listen",
            &format!("127.0.0.1:{}", free_port()),
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("pid {}", first.child.id())) && err.contains("already running"),
        "{err}"
    );
}

#[test]
fn witness_keys_are_cosignature_v1_keys() {
    let s = setup();
    let printed = ok(
        s.data.parent().unwrap(),
        &["witness", "vkey", "--key", "witness.key"],
    );
    assert_eq!(printed, s.witness_vkey.to_string());
    let raw = BASE64_STANDARD
        .decode(printed.splitn(3, '+').nth(2).unwrap())
        .unwrap();
    assert_eq!(raw[0], 0x04);
    // A log's vkey is refused where a witness key is expected, and vice versa.
    assert!(s.log_vkey.parse::<WitnessKey>().is_err());
    let out = Command::new(bin())
        .args(["witness", "serve", "--key"])
        .arg(&s.witness_key)
        .arg("--data")
        .arg(&s.data)
        .args(["--log", &printed])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("0x01"));
}

/// The witness cosigns a real `embargo serve` log as it grows: its `/checkpoint` and
/// `/v1/proof/consistency` answers, as a log operator's submitter would send them.
#[test]
fn cosigns_a_real_embargo_log_as_it_grows() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let log_vkey = keygen(d, "log.example/real", "log.key");
    let witness_vkey: WitnessKey = ok(
        d,
        &[
            "witness",
            "keygen",
            "--name",
            "witness.example/w2",
            "--out",
            "w.key",
        ],
    )
    .parse()
    .unwrap();
    let log = common::Server::start(&d.join("log-data"), &d.join("log.key"), &[]);
    let w = WitnessProcess::start(&d.join("w.key"), &d.join("witness-data"), &[&log_vkey]);
    let mut cosigned_size = 0;
    for round in 0..3 {
        let vkey = keygen(
            d,
            &format!("platform{round}.example"),
            &format!("p{round}.key"),
        );
        common::add_party(d, &log.url, "platform", &format!("platform{round}"), &vkey);
        let (status, note) = common::http_get(&format!("{}/checkpoint", log.url));
        assert_eq!(status, 200);
        let note = String::from_utf8(note).unwrap();
        let size: u64 = note.lines().nth(1).unwrap().parse().unwrap();
        let proof = if cosigned_size == 0 {
            String::new()
        } else {
            let url = format!(
                "{}/v1/proof/consistency?old={cosigned_size}&new={size}",
                log.url
            );
            let (status, proof) = common::http_get(&url);
            assert_eq!(status, 200);
            String::from_utf8(proof).unwrap()
        };
        let body = format!("old {cosigned_size}\n{proof}\n{note}");
        assert_cosigned(&w.post(body.as_bytes()), &note, &witness_vkey);
        cosigned_size = size;
    }
    assert!(cosigned_size >= 3);
}

/// Conformance with the shared vectors (`../shared/test-vectors/signed-note.json`): the C2SP
/// cosigned checkpoint example parses, its witness line carries the published key ID and
/// timestamp and the log's line carries none; a witness it does not name is reported missing;
/// ordinary (0x01) and bad vkeys are not witness keys.
#[test]
fn conformance_with_the_shared_cosigned_checkpoint_example() {
    use embargo::witness::cosignature::{split_note, timestamp_of};
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/test-vectors/signed-note.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "the shared test vectors are missing ({}): {e}",
            path.display()
        )
    });
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let ex = &v["cosigned_checkpoint_example"];
    let note = ex["note"].as_str().unwrap();
    let (body, sigs) = split_note(note).unwrap();
    let cp = Checkpoint::parse_body(&body).unwrap();
    assert_eq!(
        (cp.origin.as_str(), cp.size),
        ("example.com/behind-the-sofa", 20852163)
    );
    let witness = sigs
        .iter()
        .find(|s| s.name() == "witness.example.com/w1")
        .unwrap();
    let want_id = u32::from_str_radix(ex["witness_key_id"].as_str().unwrap(), 16).unwrap();
    assert_eq!(witness.id(), want_id);
    assert_eq!(timestamp_of(witness), ex["witness_timestamp"].as_u64());
    let log_line = sigs.iter().find(|s| s.name() == cp.origin).unwrap();
    assert_eq!(timestamp_of(log_line), None);

    let unrelated = embargo::witness::cosignature::Cosigner::new(
        &KeyPair::generate("witness.example.com/w1").unwrap(),
    );
    let report = verify_cosignatures(note, &[unrelated.public().clone()]).unwrap();
    assert_eq!(report.missing, vec![unrelated.public().key_ref()]);
    assert!(report
        .require(1)
        .unwrap_err()
        .to_string()
        .contains("witness.example.com/w1+"));

    for n in v["ed25519_notes"].as_array().unwrap() {
        assert!(n["vkey"].as_str().unwrap().parse::<WitnessKey>().is_err());
    }
    for bad in v["bad_vkeys"].as_array().unwrap() {
        assert!(bad.as_str().unwrap().parse::<WitnessKey>().is_err());
    }
}
