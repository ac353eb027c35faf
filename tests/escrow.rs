//! Timelocked escrow end to end, through the real CLI and real server processes, with a local
//! test beacon (a BLS key this test generates and signs rounds with; the same code path as
//! drand quicknet): the platform commits with an escrow and never reveals; the escrow opens by
//! the round signature (posted by anyone, or fetched by the log from a drand-style endpoint)
//! or by K of N trustees' shares; early, wrong and foreign signatures are refused; and a
//! platform whose escrow holds other bytes is logged as escrow-invalid.

mod common;

use common::{
    add_party, embargo, keygen, ok, refused, same_tree, status_of, wait_for_status, Server,
};
use std::path::Path;
use std::time::Duration;

struct Setup {
    _tmp: tempfile::TempDir,
    log_vkey: String,
    platform_vkey: String,
    trustee_vkeys: Vec<String>,
}

impl Setup {
    fn dir(&self) -> &Path {
        self._tmp.path()
    }
}

/// Keys for the log, a platform and three trustees, and a test beacon with 1 s rounds.
fn setup() -> Setup {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let log_vkey = keygen(dir, "escrow.test/log", "log.key");
    let platform_vkey = keygen(dir, "social.example", "platform.key");
    let trustee_vkeys = ["t1", "t2", "t3"]
        .iter()
        .map(|t| keygen(dir, &format!("trustee-{t}"), &format!("{t}.key")))
        .collect();
    ok(
        dir,
        &["escrow", "test-beacon", "new", "beacon", "--period", "1"],
    );
    Setup {
        _tmp: tmp,
        log_vkey,
        platform_vkey,
        trustee_vkeys,
    }
}

fn register(s: &Setup, url: &str) {
    add_party(s.dir(), url, "platform", "social.example", &s.platform_vkey);
}

/// `embargo commit` of `model` with an escrow locked to the test beacon.
fn commit_escrowed(s: &Setup, url: &str, model: &str, name: &str, extra: &[&str]) -> String {
    let mut args = vec![
        "commit",
        model,
        "--log",
        url,
        "--key",
        "platform.key",
        "--name",
        name,
        "--version",
        "1",
        "--vkey",
        &s.log_vkey,
        "--escrow",
        "tlock",
        "--beacon",
        "beacon/chain.json",
    ];
    args.extend_from_slice(extra);
    if !extra.iter().any(|a| a.starts_with("--reveal")) {
        args.extend_from_slice(&["--reveal-after", "4s"]);
    }
    ok(s.dir(), &args)
}

fn commitment_json(url: &str, index: &str) -> serde_json::Value {
    let (status, body) = common::http_get(&format!("{url}/v1/commitments/{index}"));
    assert_eq!(status, 200);
    serde_json::from_slice(&body).unwrap()
}

/// The test beacon's signature of `round`, as `embargo escrow test-beacon sign` prints it.
fn sign(dir: &Path, round: u64) -> serde_json::Value {
    let line = ok(
        dir,
        &[
            "escrow",
            "test-beacon",
            "sign",
            "beacon",
            "--round",
            &round.to_string(),
        ],
    );
    serde_json::from_str(&line).unwrap()
}

fn post_round(dir: &Path, url: &str, round: u64) -> std::process::Output {
    let sig = sign(dir, round);
    embargo(
        dir,
        &[
            "escrow",
            "beacon",
            "--log",
            url,
            "--round",
            &round.to_string(),
            "--signature",
            sig["signature"].as_str().unwrap(),
            "--chain",
            sig["chain_hash"].as_str().unwrap(),
        ],
    )
}

fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Asserts that `out`'s stderr says `what` (and shows it if not).
#[track_caller]
fn says(out: &std::process::Output, what: &str) {
    assert!(
        stderr(out).contains(what),
        "expected {what:?} in:\n{}",
        stderr(out)
    );
}

/// Asserts that the command succeeded and said `what`.
#[track_caller]
fn succeeded_saying(out: &std::process::Output, what: &str) {
    assert!(out.status.success(), "{}", stderr(out));
    says(out, what);
}

/// Asserts that the command failed and said `what`.
#[track_caller]
fn failed_saying(out: &std::process::Output, what: &str) {
    assert!(!out.status.success(), "it succeeded:\n{}", stderr(out));
    says(out, what);
}

fn wait_until(t: chrono::DateTime<chrono::Utc>) {
    while chrono::Utc::now() < t {
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn an_escrow_opens_with_the_round_signature_when_the_platform_never_reveals() {
    let s = setup();
    let dir = s.dir();
    let server = serve(&s, &[]);
    let server_url = server.url.clone();
    register(&s, &server_url);
    let model = common::make_model(dir, "model", 0);
    let index = commit_escrowed(&s, &server_url, "model", "ranker", &[]);
    assert_eq!(status_of(dir, &server_url, &index), "sealed");

    let c = commitment_json(&server_url, &index);
    let escrow = &c["escrow"];
    assert_eq!(escrow["scheme"], "tlock");
    assert_eq!(c["escrow_deposited"], true, "{c}");
    let lock: u64 = escrow["lock_round"].as_u64().unwrap();
    let reveal_at: chrono::DateTime<chrono::Utc> =
        c["reveal_at"].as_str().unwrap().parse().unwrap();

    // The ciphertext is public: it reveals nothing before the round.
    let (status, ciphertext) =
        common::http_get(&format!("{server_url}/v1/commitments/{index}/escrow"));
    assert_eq!(status, 200);
    assert_eq!(
        ciphertext.len() as u64,
        escrow["ciphertext_size"].as_u64().unwrap()
    );
    assert!(ciphertext.starts_with(b"age-encryption.org/v1\n"));

    // Signatures for rounds not yet published are refused, whatever they would open.
    let early = post_round(dir, &server_url, lock - 1);
    failed_saying(&early, "is not published until");
    let premature = post_round(dir, &server_url, lock);
    failed_saying(&premature, "is not published until");
    // A signature that does not verify is refused, never a crash.
    let sig = sign(dir, lock + 1);
    let wrong = embargo(
        dir,
        &[
            "escrow",
            "beacon",
            "--log",
            &server_url,
            "--round",
            &lock.to_string(),
            "--signature",
            sig["signature"].as_str().unwrap(),
            "--chain",
            sig["chain_hash"].as_str().unwrap(),
        ],
    );
    failed_saying(&wrong, "BLS verification failed");
    assert_eq!(status_of(dir, &server_url, &index), "sealed");

    // After reveal_at, the round before the lock (now published) opens nothing...
    wait_until(reveal_at + chrono::Duration::seconds(1));
    let before_lock = post_round(dir, &server_url, lock - 1);
    failed_saying(&before_lock, "no escrow in this log is locked to round");
    assert_eq!(status_of(dir, &server_url, &index), "due");
    // ...and the lock round's signature, posted by anyone, opens it.
    let opened = post_round(dir, &server_url, lock);
    succeeded_saying(&opened, "revealed by escrow");
    assert_eq!(status_of(dir, &server_url, &index), "revealed");
    let c = commitment_json(&server_url, &index);
    assert_eq!(c["reveal"]["revealed_by"], "escrow");

    // It is fetched and verified like any reveal; the platform never uploaded a byte.
    fetch_and_compare(&s, &server_url, &index, &model);
    // Posting the signature again opens nothing twice.
    let again = post_round(dir, &server_url, lock);
    says(&again, "already revealed");
}

#[test]
fn a_cheating_platforms_escrow_is_logged_as_escrow_invalid() {
    let s = setup();
    let dir = s.dir();
    let server = serve(&s, &[]);
    let url = server.url.clone();
    register(&s, &url);
    common::make_model(dir, "model", 0);
    common::make_model(dir, "decoy", 7);
    let reveal_at =
        chrono::SubsecRound::trunc_subsecs(chrono::Utc::now() + chrono::Duration::seconds(4), 0);
    let reveal_arg = reveal_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    // An honest escrow of the decoy...
    let decoy = commit_escrowed(
        &s,
        &url,
        "decoy",
        "decoy",
        &["--reveal-at", &reveal_arg, "--escrow-out", "decoy.age"],
    );
    // ...reused by a commitment to the real model: the escrow holds other bytes.
    let decoy_statement = saved_statement(dir, "decoy-1.entry.json");
    let digest_line = ok(dir, &["digest", "model"]);
    let digest = &digest_line[..64];
    let total: u64 = 3_000_000 + 13 + 4;
    let cheat = serde_json::json!({
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [{"name": "ranker", "digest": {"sha3-256": digest}}],
        "predicateType": "https://embargo.dev/model-commitment/v1",
        "predicate": {
            "platform": "social.example",
            "model": {"name": "ranker", "version": "1", "format": "directory", "total_size": total, "file_count": 4},
            "reveal_at": reveal_arg,
            "escrow": decoy_statement["predicate"]["escrow"],
        }
    });
    let cheat_index = submitted(&submit_commitment(&s, &url, &cheat, "cheat.json"));
    ok(
        dir,
        &[
            "escrow",
            "deposit",
            "decoy.age",
            "--log",
            &url,
            "--commitment",
            &cheat_index,
        ],
    );

    let lock = commitment_json(&url, &cheat_index)["escrow"]["lock_round"]
        .as_u64()
        .unwrap();
    wait_until(reveal_at + chrono::Duration::seconds(1));
    let opened = post_round(dir, &url, lock);
    assert!(opened.status.success(), "{}", stderr(&opened));
    let err = stderr(&opened);
    assert!(
        err.contains(&format!("commitment {decoy}: revealed by escrow")),
        "{err}"
    );
    assert!(
        err.contains(&format!("commitment {cheat_index}: ESCROW INVALID")),
        "{err}"
    );
    assert_eq!(status_of(dir, &url, &cheat_index), "escrow-invalid");
    assert_eq!(status_of(dir, &url, &decoy), "revealed");

    // The evidence is in the log: the signature, and the digest the escrow opened to.
    let c = commitment_json(&url, &cheat_index);
    let st = logged_statement(&url, c["escrow_invalid"].as_u64().unwrap());
    let p = &st["predicate"];
    assert_eq!(p["matches_commitment"], false);
    assert_eq!(p["revealed_by"], "escrow");
    assert_eq!(p["escrow"]["round"], lock);
    assert!(p["escrow"]["signature"].as_str().unwrap().len() >= 96);
    let decoy_digest = &ok(dir, &["digest", "decoy"])[..64];
    assert_eq!(p["escrow"]["opened_digest"], decoy_digest);
    // Anyone can repeat the opening from the public ciphertext and the published signature,
    // trusting nothing the log says: the cheat opens to the decoy, the decoy to itself.
    let err = refused(
        dir,
        &[
            "escrow",
            "open",
            &cheat_index,
            "--log",
            &url,
            "--vkey",
            &s.log_vkey,
            "--out",
            "opened",
        ],
    );
    assert!(err.contains("NOT the committed"), "{err}");
    same_tree(&dir.join("decoy"), &dir.join("opened"));
    ok(
        dir,
        &[
            "escrow",
            "open",
            &decoy,
            "--log",
            &url,
            "--vkey",
            &s.log_vkey,
            "--out",
            "opened-decoy",
        ],
    );
    same_tree(&dir.join("decoy"), &dir.join("opened-decoy"));
    // The real model was never revealed: fetch refuses.
    let err = refused(
        dir,
        &[
            "fetch",
            &cheat_index,
            "--log",
            &url,
            "--vkey",
            &s.log_vkey,
            "--out",
            "x",
        ],
    );
    assert!(err.contains("do NOT match"), "{err}");
}

#[test]
fn k_of_n_trustees_open_an_escrow_and_k_minus_one_do_not() {
    let s = setup();
    let dir = s.dir();
    let server = serve(&s, &[]);
    let url = server.url.clone();
    register(&s, &url);
    let model = common::make_model(dir, "model", 3);
    let t = &s.trustee_vkeys;
    let index = commit_escrowed(
        &s,
        &url,
        "model",
        "ranker",
        &[
            "--trustees",
            "2",
            "--trustee",
            &t[0],
            "--trustee",
            &t[1],
            "--trustee",
            &t[2],
        ],
    );
    let c = commitment_json(&url, &index);
    assert_eq!(c["escrow"]["threshold"], 2);
    assert_eq!(c["escrow"]["trustees"].as_array().unwrap().len(), 3);
    let reveal_at: chrono::DateTime<chrono::Utc> =
        c["reveal_at"].as_str().unwrap().parse().unwrap();

    // Trustees cannot open it early, and strangers not at all.
    failed_saying(&post_share(dir, &url, &index, "t1.key"), "sealed until");
    failed_saying(
        &post_share(dir, &url, &index, "platform.key"),
        "is not a trustee",
    );

    wait_until(reveal_at + chrono::Duration::milliseconds(200));
    let one = post_share(dir, &url, &index, "t1.key");
    succeeded_saying(&one, "1 of 2 shares are in");
    // K-1 shares open nothing, and posting the same share twice does not count twice.
    let again = post_share(dir, &url, &index, "t1.key");
    says(&again, "1 of 2 shares are in");
    assert_eq!(status_of(dir, &url, &index), "due");

    // Posted shares are durable: the log restarts between the first and the second.
    drop(server);
    let server = serve(&s, &[]);
    let url = server.url.clone();

    let two = post_share(dir, &url, &index, "t3.key");
    succeeded_saying(&two, "the escrow opened");
    assert_eq!(status_of(dir, &url, &index), "revealed");
    let c = commitment_json(&url, &index);
    assert_eq!(c["reveal"]["revealed_by"], "escrow");
    fetch_and_compare(&s, &url, &index, &model);
    // The shares are published in the reveal entry: anyone can repeat the opening.
    ok(
        dir,
        &[
            "escrow",
            "open",
            &index,
            "--log",
            &url,
            "--vkey",
            &s.log_vkey,
            "--out",
            "by-shares",
        ],
    );
    same_tree(&model, &dir.join("by-shares"));
}

#[test]
fn the_log_fetches_the_round_from_a_drand_endpoint_and_opens_the_escrow_by_itself() {
    let s = setup();
    let dir = s.dir();
    let drand = DrandStub::start(dir.join("beacon"), dir.to_owned());
    let drand_url = drand.url.clone();
    let server = serve(&s, &["--drand-url", &drand_url, "--beacon-poll", "500ms"]);
    let url = server.url.clone();
    register(&s, &url);
    let model = common::make_model(dir, "model", 5);
    let index = commit_escrowed(&s, &url, "model", "ranker", &[]);
    assert_eq!(status_of(dir, &url, &index), "sealed");
    wait_for_status(dir, &url, &index, "revealed", Duration::from_secs(30));
    assert!(drand.served() >= 1);
    fetch_and_compare(&s, &url, &index, &model);
}

#[test]
fn an_escrow_that_does_not_open_is_logged_as_escrow_invalid_with_the_error() {
    let s = setup();
    let dir = s.dir();
    let server = serve(&s, &[]);
    let url = server.url.clone();
    register(&s, &url);
    common::make_model(dir, "model", 11);
    let reveal_at =
        chrono::SubsecRound::trunc_subsecs(chrono::Utc::now() + chrono::Duration::seconds(4), 0);
    let reveal_arg = reveal_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    // An honest escrow, kept on disk...
    commit_escrowed(
        &s,
        &url,
        "model",
        "honest",
        &["--reveal-at", &reveal_arg, "--escrow-out", "honest.age"],
    );
    // ...whose payload a cheating platform corrupts (the header, and so the lock, stay right),
    // committing to the corrupted ciphertext's digest.
    let mut bytes = std::fs::read(dir.join("honest.age")).unwrap();
    let n = bytes.len();
    bytes[n - 100] ^= 0x01;
    std::fs::write(dir.join("broken.age"), &bytes).unwrap();
    let mut hasher = embargo::model::digest::FileHasher::new();
    hasher.update(&bytes);
    let root = embargo::core::predicate::hex(&hasher.finish().0);
    let mut cheat = saved_statement(dir, "honest-1.entry.json");
    cheat["subject"][0]["name"] = "broken".into();
    cheat["predicate"]["model"]["name"] = "broken".into();
    cheat["predicate"]["escrow"]["ciphertext_digest"] = format!("sha3-256:{root}").into();
    let index = submitted(&submit_commitment(&s, &url, &cheat, "broken.json"));
    // A deposit of other bytes than committed is refused; the committed (corrupted) ones are kept.
    let err = refused(
        dir,
        &[
            "escrow",
            "deposit",
            "honest.age",
            "--log",
            &url,
            "--commitment",
            &index,
        ],
    );
    assert!(err.contains("these are not the committed bytes"), "{err}");
    ok(
        dir,
        &[
            "escrow",
            "deposit",
            "broken.age",
            "--log",
            &url,
            "--commitment",
            &index,
        ],
    );

    let lock = commitment_json(&url, &index)["escrow"]["lock_round"]
        .as_u64()
        .unwrap();
    wait_until(reveal_at + chrono::Duration::seconds(1));
    let opened = post_round(dir, &url, lock);
    succeeded_saying(&opened, &format!("commitment {index}: ESCROW INVALID"));
    assert_eq!(status_of(dir, &url, &index), "escrow-invalid");
    let c = commitment_json(&url, &index);
    let st = logged_statement(&url, c["escrow_invalid"].as_u64().unwrap());
    let error = st["predicate"]["escrow"]["error"].as_str().unwrap();
    assert!(
        error.contains("not a whole model stream") || error.contains("does not open"),
        "{error}"
    );
    assert!(st["predicate"]["escrow"].get("opened_digest").is_none());
}

#[test]
fn escrow_refusals_say_what_was_wrong_and_store_nothing() {
    let s = setup();
    let dir = s.dir();
    // Log B makes ciphertexts log A has never seen.
    let a = serve(&s, &[]);
    let b = Server::start(
        &dir.join("data-b"),
        &dir.join("log.key"),
        &["--beacon-chain", "beacon/chain.json"],
    );
    register(&s, &a.url);
    register(&s, &b.url);
    common::make_model(dir, "model", 13);
    let at = |secs: i64| {
        chrono::SubsecRound::trunc_subsecs(chrono::Utc::now() + chrono::Duration::seconds(secs), 0)
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    };
    let (t1, t2) = (at(3600), at(7200));
    let on_b = |name: &str, reveal_at: &str| -> serde_json::Value {
        commit_escrowed(
            &s,
            &b.url,
            "model",
            name,
            &[
                "--reveal-at",
                reveal_at,
                "--escrow-out",
                &format!("{name}.age"),
            ],
        );
        saved_statement(dir, &format!("{name}-1.entry.json"))
    };
    let st1 = on_b("first", &t1);
    let st2 = on_b("second", &t2);
    let submit =
        |statement: &serde_json::Value, file: &str| submit_commitment(&s, &a.url, statement, file);
    let size_of = |url: &str| -> u64 {
        let (_, body) = common::http_get(&format!("{url}/v1/log"));
        serde_json::from_slice::<serde_json::Value>(&body).unwrap()["size"]
            .as_u64()
            .unwrap()
    };

    // Admission: the lock must be the first round at or after reveal_at, on a chain the log
    // follows, and the ciphertext no larger than the model can encrypt to. Nothing is logged.
    let before = size_of(&a.url);
    let mut wrong_round = st1.clone();
    wrong_round["predicate"]["escrow"]["lock_round"] =
        (st1["predicate"]["escrow"]["lock_round"].as_u64().unwrap() + 1).into();
    let out = submit(&wrong_round, "wrong-round.json");
    failed_saying(&out, "lock it to round");
    let mut unknown_chain = st1.clone();
    unknown_chain["predicate"]["escrow"]["chain_hash"] = "ab".repeat(32).into();
    let out = submit(&unknown_chain, "unknown-chain.json");
    failed_saying(
        &out,
        "escrows can be locked only to the drand chains this log follows",
    );
    let mut too_big = st1.clone();
    too_big["predicate"]["escrow"]["ciphertext_size"] = (1u64 << 40).into();
    let out = submit(&too_big, "too-big.json");
    failed_saying(&out, "can encrypt to");
    assert_eq!(size_of(&a.url), before, "a refused commitment was logged");

    // Deposits: only the committed bytes, whole, locked as committed, are kept.
    let first = submitted(&submit(&st1, "first.json"));
    let ciphertext = std::fs::read(dir.join("first.age")).unwrap();
    let put = |index: &str, body: &[u8]| {
        let (status, answer) = common::http_send(
            "PUT",
            &format!("{}/v1/commitments/{index}/escrow", a.url),
            "application/octet-stream",
            body,
        );
        (status, String::from_utf8_lossy(&answer).into_owned())
    };
    let deposited = |index: &str| commitment_json(&a.url, index)["escrow_deposited"].clone();
    let (status, answer) = put(&first, &ciphertext[..ciphertext.len() / 2]);
    assert_eq!(status, 422, "{answer}");
    assert!(
        answer.contains("too_small") && answer.contains("nothing was stored"),
        "{answer}"
    );
    let mut longer = ciphertext.clone();
    longer.push(0);
    let (status, answer) = put(&first, &longer);
    assert_eq!(status, 413, "{answer}");
    assert!(answer.contains("too_large"), "{answer}");
    let mut flipped = ciphertext.clone();
    flipped[ciphertext.len() / 3] ^= 1;
    let (status, answer) = put(&first, &flipped);
    assert_eq!(status, 422, "{answer}");
    assert!(answer.contains("digest_mismatch"), "{answer}");
    assert_eq!(deposited(&first), false);

    // A ciphertext locked to another round than committed never opens: refused.
    let mut relocked = st1.clone();
    relocked["subject"][0]["name"] = "relocked".into();
    relocked["predicate"]["model"]["name"] = "relocked".into();
    relocked["predicate"]["escrow"]["ciphertext_digest"] =
        st2["predicate"]["escrow"]["ciphertext_digest"].clone();
    relocked["predicate"]["escrow"]["ciphertext_size"] =
        st2["predicate"]["escrow"]["ciphertext_size"].clone();
    let relocked_index = submitted(&submit(&relocked, "relocked.json"));
    let (status, answer) = put(
        &relocked_index,
        &std::fs::read(dir.join("second.age")).unwrap(),
    );
    assert_eq!(status, 422, "{answer}");
    assert!(
        answer.contains("escrow_lock_mismatch") && answer.contains("is locked to round"),
        "{answer}"
    );
    assert_eq!(deposited(&relocked_index), false);
    let leftovers = std::fs::read_dir(dir.join("data/blobs/tmp"))
        .unwrap()
        .count();
    assert_eq!(leftovers, 0, "a refused deposit left a temporary file");

    // The whole, committed bytes are kept.
    let (status, answer) = put(&first, &ciphertext);
    assert_eq!(status, 201, "{answer}");
    assert_eq!(deposited(&first), true);
}

/// `embargo escrow share` by the trustee whose private key is `key`.
fn post_share(dir: &Path, url: &str, index: &str, key: &str) -> std::process::Output {
    embargo(
        dir,
        &[
            "escrow",
            "share",
            "--log",
            url,
            "--commitment",
            index,
            "--key",
            key,
        ],
    )
}

/// A log that follows the test beacon, with `extra` flags.
fn serve(s: &Setup, extra: &[&str]) -> Server {
    let mut args = vec!["--beacon-chain", "beacon/chain.json"];
    args.extend_from_slice(extra);
    Server::start(&s.dir().join("data"), &s.dir().join("log.key"), &args)
}

/// `embargo fetch` of commitment `index` into `fetched`, which must hold `model`'s bytes.
fn fetch_and_compare(s: &Setup, url: &str, index: &str, model: &Path) {
    let args = [
        "fetch",
        index,
        "--log",
        url,
        "--vkey",
        &s.log_vkey,
        "--out",
        "fetched",
    ];
    ok(s.dir(), &args);
    same_tree(model, &s.dir().join("fetched"));
}

/// The in-toto statement inside a leaf, as the log serves it or `embargo` saves it.
fn statement_in(leaf: &[u8]) -> serde_json::Value {
    use base64::prelude::{Engine, BASE64_STANDARD};
    let leaf: serde_json::Value = serde_json::from_slice(leaf).unwrap();
    let payload = BASE64_STANDARD
        .decode(leaf["envelope"]["payload"].as_str().unwrap())
        .unwrap();
    serde_json::from_slice(&payload).unwrap()
}

/// The statement of an entry `embargo commit` or `embargo submit` saved in `dir`.
fn saved_statement(dir: &Path, file: &str) -> serde_json::Value {
    statement_in(&std::fs::read(dir.join(file)).unwrap())
}

/// The statement of entry `index`, as the log serves it.
fn logged_statement(url: &str, index: u64) -> serde_json::Value {
    let (status, raw) = common::http_get(&format!("{url}/v1/entries/{index}"));
    assert_eq!(status, 200);
    statement_in(&raw)
}

/// `embargo submit` of a model-commitment statement (written to `file` first).
fn submit_commitment(
    s: &Setup,
    url: &str,
    statement: &serde_json::Value,
    file: &str,
) -> std::process::Output {
    std::fs::write(s.dir().join(file), serde_json::to_vec(statement).unwrap()).unwrap();
    embargo(
        s.dir(),
        &[
            "submit",
            "--log",
            url,
            "--key",
            "platform.key",
            "--vkey",
            &s.log_vkey,
            "--predicate-type",
            "https://embargo.dev/model-commitment/v1",
            file,
        ],
    )
}

/// The index a successful `embargo submit` printed.
fn submitted(out: &std::process::Output) -> String {
    assert!(out.status.success(), "{}", stderr(out));
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// A drand-style HTTP endpoint for the test beacon: `GET /<chain hash>/public/<round>`
/// answers `{"round", "signature"}` once the round's time has come (404 before), signing with
/// `embargo escrow test-beacon sign`.
struct DrandStub {
    url: String,
    served: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

impl DrandStub {
    fn start(beacon: std::path::PathBuf, dir: std::path::PathBuf) -> DrandStub {
        use std::io::{BufRead, BufReader, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let served = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let count = served.clone();
        let chain: serde_json::Value =
            serde_json::from_slice(&std::fs::read(beacon.join("chain.json")).unwrap()).unwrap();
        let genesis = chain["genesis_time"].as_u64().unwrap();
        let period = chain["period"].as_u64().unwrap();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let mut line = String::new();
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                if reader.read_line(&mut line).is_err() {
                    continue;
                }
                loop {
                    let mut h = String::new();
                    if reader.read_line(&mut h).is_err() || h == "\r\n" || h.is_empty() {
                        break;
                    }
                }
                let path = line.split_whitespace().nth(1).unwrap_or("/").to_owned();
                let round: Option<u64> = path.rsplit('/').next().and_then(|r| r.parse().ok());
                let now = chrono::Utc::now().timestamp() as u64;
                let (status, body) = match round {
                    Some(r) if path.contains("/public/") && genesis + (r - 1) * period <= now => {
                        let out = std::process::Command::new(common::bin())
                            .args([
                                "escrow",
                                "test-beacon",
                                "sign",
                                "beacon",
                                "--round",
                                &r.to_string(),
                            ])
                            .current_dir(&dir)
                            .output()
                            .unwrap();
                        count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                        ("200 OK", String::from_utf8(out.stdout).unwrap())
                    }
                    _ => ("404 Not Found", "{}".to_owned()),
                };
                let _ = write!(
                    stream,
                    "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
            }
        });
        DrandStub { url, served }
    }

    fn served(&self) -> usize {
        self.served.load(std::sync::atomic::Ordering::SeqCst)
    }
}
