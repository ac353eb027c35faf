//! Every refusal the log makes, against a real `embargo serve` process.
//!
//! Each test starts its own server (own data directory, own port), provokes one kind of
//! refusal and checks three things:
//!
//! 1. the HTTP status;
//! 2. the JSON error body: its stable `error` code, and a `message` that says what was wrong;
//! 3. that nothing was appended or stored: the checkpoint size is unchanged, and for reveals
//!    `blobs/sha3-256/` gained no file, `blobs/tmp/` is empty and the commitment is still
//!    unrevealed.
//!
//! Where it is cheap, a positive control follows (the same request done right is accepted), so
//! that a refusal cannot pass just because the setup was broken. The server's own log is kept
//! in its data directory; a server that panicked or died fails the test that used it.

mod common;

use base64::prelude::{Engine, BASE64_STANDARD};
use chrono::{DateTime, Duration, Utc};
use common::TOKEN;
use embargo::api::{ErrorBody, KeyChange, NewParty, SubmitResponse, MAX_REQUEST_BODY};
use embargo::client::{Client, ClientError};
use embargo::core::dsse::{Envelope, EnvelopeSignature};
use embargo::core::entry::{leaf_len, MAX_ENTRY_SIZE};
use embargo::core::note::KeyPair;
use embargo::core::predicate::{
    party_digest, statement, Kind, ModelCommitment, ModelInfo, Registration, Reveal, RevealedBy,
    Role,
};
use embargo::log::registry::{reveal_request_message, RevealRecord};
use embargo::model::digest::StreamingDigest;
use embargo::model::model_stream::{self, Header};
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

const ORIGIN: &str = "refusals.test/log";

// ---------------------------------------------------------------------------------------------
// A server process
// ---------------------------------------------------------------------------------------------

/// The embargo policy a server runs with.
struct Policy {
    min: &'static str,
    max: &'static str,
}

const SHORT: Policy = Policy {
    min: "1s",
    max: "10d",
};

/// A running `embargo serve` in a directory of its own, killed (and the directory removed) on
/// drop.
struct Server {
    process: common::Server,
    dir: tempfile::TempDir,
    client: Client,
    http: reqwest::Client,
}

impl Server {
    fn start() -> Server {
        Server::with_policy(SHORT)
    }

    fn with_policy(policy: Policy) -> Server {
        let dir = tempfile::tempdir().expect("temp dir");
        let key_path = dir.path().join("log.key");
        KeyPair::generate(ORIGIN)
            .unwrap()
            .write_file(&key_path)
            .unwrap();
        let process = common::Server::with_flags(
            &dir.path().join("data"),
            &key_path,
            &[
                "--interval",
                "10ms",
                "--grace",
                "1h",
                "--min-embargo",
                policy.min,
                "--max-embargo",
                policy.max,
            ],
        );
        Server {
            client: Client::new(&process.url),
            http: reqwest::Client::new(),
            process,
            dir,
        }
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn server_log(&self) -> String {
        self.process.log()
    }

    fn log_key(&self) -> KeyPair {
        KeyPair::read_file(&self.dir.path().join("log.key")).unwrap()
    }

    /// The size of the log's current checkpoint.
    async fn size(&self) -> u64 {
        let cp = self.client.checkpoint().await.expect("GET /checkpoint");
        cp.lines()
            .nth(1)
            .and_then(|l| l.parse().ok())
            .unwrap_or_else(|| panic!("checkpoint without a size line:\n{cp}"))
    }

    /// What the log holds now, to compare after a refusal.
    async fn state(&self) -> Stored {
        Stored {
            size: self.size().await,
            blobs: list_dir(&self.data().join("blobs/sha3-256")),
        }
    }

    /// Asserts that the log is exactly as it was in `before`, and no upload is left over.
    async fn assert_nothing_stored(&self, before: &Stored, what: &str) {
        let now = self.state().await;
        assert_eq!(
            now.size, before.size,
            "{what}: the checkpoint grew from {} to {}: a refused request was appended",
            before.size, now.size
        );
        assert_eq!(
            now.blobs, before.blobs,
            "{what}: blobs/sha3-256/ changed: a refused upload was stored"
        );
        let tmp = list_dir(&self.data().join("blobs/tmp"));
        assert!(
            tmp.is_empty(),
            "{what}: blobs/tmp/ is not empty after the refusal: {tmp:?}"
        );
        self.assert_alive();
    }

    fn assert_alive(&self) {
        let log = self.server_log();
        assert!(!log.contains("panicked"), "the server panicked:\n{log}");
    }

    // --- operator --------------------------------------------------------------------------

    async fn register(&self, name: &str, role: Role, keys: &[&KeyPair]) -> SubmitResponse {
        self.client
            .add_party(
                TOKEN,
                &NewParty {
                    role,
                    ..party(name, keys.iter().copied())
                },
            )
            .await
            .unwrap_or_else(|e| panic!("registering {name}: {e}"))
    }

    /// A new platform with one fresh key named after it.
    async fn platform(&self, name: &str) -> KeyPair {
        let key = KeyPair::generate(name).unwrap();
        self.register(name, Role::Platform, &[&key]).await;
        key
    }

    // --- submissions -----------------------------------------------------------------------

    /// Posts raw bytes to `path` and returns the status and body.
    async fn post(&self, path: &str, body: Vec<u8>, headers: &[(&str, String)]) -> (u16, String) {
        let mut req = self
            .http
            .post(format!("{}/{path}", self.process.url))
            .body(body);
        for (k, v) in headers {
            req = req.header(*k, v);
        }
        let resp = req
            .send()
            .await
            .unwrap_or_else(|e| panic!("POST /{path}: no response ({e})"));
        let status = resp.status().as_u16();
        (status, resp.text().await.unwrap_or_default())
    }

    /// GETs `path` and returns the status and body.
    async fn get(&self, path: &str) -> (u16, String) {
        let resp = self
            .http
            .get(format!("{}/{path}", self.process.url))
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET /{path}: no response ({e})"));
        let status = resp.status().as_u16();
        (status, resp.text().await.unwrap_or_default())
    }

    async fn post_entry(&self, body: impl Into<Vec<u8>>) -> (u16, String) {
        self.post(
            "v1/entries",
            body.into(),
            &[("content-type", "application/json".into())],
        )
        .await
    }

    /// Submits `platform`'s commitment to `m` until `reveal_at`, signed by `key`.
    async fn submit_commitment(
        &self,
        key: &KeyPair,
        platform: &str,
        m: &Model,
        reveal_at: DateTime<Utc>,
    ) -> Result<SubmitResponse, ClientError> {
        self.client
            .submit(&sign(&commitment(platform, m, reveal_at), key))
            .await
    }

    /// Submits a correctly formed commitment and expects it to be accepted as a new entry.
    async fn commit(
        &self,
        key: &KeyPair,
        platform: &str,
        m: &Model,
        reveal_at: DateTime<Utc>,
    ) -> u64 {
        let r = self
            .submit_commitment(key, platform, m, reveal_at)
            .await
            .unwrap_or_else(|e| panic!("the commitment was refused: {e}"));
        assert!(!r.duplicate);
        r.index
    }

    async fn post_reveal(&self, index: u64, body: Vec<u8>, sig: Option<String>) -> (u16, String) {
        let mut headers = vec![("content-type", model_stream::CONTENT_TYPE.to_owned())];
        if let Some(s) = sig {
            headers.push(("embargo-signature", s));
        }
        self.post(&format!("v1/commitments/{index}/reveal"), body, &headers)
            .await
    }

    /// The `Embargo-Signature` header value for an early reveal by `key`.
    fn reveal_signature(&self, key: &KeyPair, index: u64, m: &Model) -> String {
        signature_over(key, &reveal_request_message(ORIGIN, index, &m.digest()))
    }

    /// How commitment `index` was revealed, if it was.
    async fn reveal_of(&self, index: u64) -> Option<RevealRecord> {
        self.client
            .commitment(index)
            .await
            .unwrap()
            .commitment
            .reveal
    }

    async fn assert_unrevealed(&self, index: u64) {
        let reveal = self.reveal_of(index).await;
        assert!(
            reveal.is_none(),
            "commitment {index} was marked revealed by a refused upload: {reveal:?}"
        );
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let exited = self.process.exited();
        if !std::thread::panicking() {
            assert!(
                exited.is_none(),
                "the server exited during the test ({exited:?}):\n{}",
                self.server_log()
            );
            self.assert_alive();
        } else {
            eprintln!("--- server log ---\n{}", self.server_log());
        }
    }
}

struct Stored {
    size: u64,
    blobs: BTreeSet<String>,
}

fn list_dir(dir: &Path) -> BTreeSet<String> {
    match std::fs::read_dir(dir) {
        Ok(rd) => rd
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => BTreeSet::new(),
        Err(e) => panic!("reading {}: {e}", dir.display()),
    }
}

// ---------------------------------------------------------------------------------------------
// Checking refusals
// ---------------------------------------------------------------------------------------------

/// Asserts an HTTP answer is the refusal `code` with `status`, whose message contains every one
/// of `phrases`. Returns the message.
#[track_caller]
fn assert_refusal(got: (u16, String), status: u16, code: &str, phrases: &[&str]) -> String {
    let (got_status, body) = got;
    let err: ErrorBody = serde_json::from_str(&body).unwrap_or_else(|e| {
        panic!("expected a JSON refusal {status} {code}, got {got_status} with a body that is not one ({e}): {body}")
    });
    assert_eq!(
        (got_status, err.error.as_str()),
        (status, code),
        "wrong refusal; message: {}",
        err.message
    );
    for p in phrases {
        assert!(
            err.message.contains(p),
            "the {code} message does not say {p:?}: {}",
            err.message
        );
    }
    err.message
}

/// The same for a [`Client`] call.
#[track_caller]
fn assert_client_refusal<T: std::fmt::Debug>(
    r: Result<T, ClientError>,
    status: u16,
    code: &str,
    phrases: &[&str],
) -> String {
    match r {
        Err(ClientError::Refused {
            status: s,
            code: c,
            message,
        }) => assert_refusal(
            (
                s,
                serde_json::to_string(&ErrorBody { error: c, message }).unwrap(),
            ),
            status,
            code,
            phrases,
        ),
        other => panic!("expected the refusal {status} {code}, got {other:?}"),
    }
}

#[track_caller]
fn assert_accepted(got: (u16, String)) -> SubmitResponse {
    let (status, body) = got;
    assert_eq!(status, 201, "expected 201 Created, got {status}: {body}");
    serde_json::from_str(&body).expect("a submit response")
}

// ---------------------------------------------------------------------------------------------
// Statements and models
// ---------------------------------------------------------------------------------------------

/// A model held in memory: its files, sorted by path.
#[derive(Clone)]
struct Model {
    files: Vec<(String, Vec<u8>)>,
}

impl Model {
    /// A one-file model of `len` pseudo-random bytes.
    fn new(seed: u64, len: usize) -> Model {
        let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        let bytes = (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect();
        Model {
            files: vec![("model.onnx".into(), bytes)],
        }
    }

    fn digest(&self) -> String {
        let mut d = StreamingDigest::new();
        for (path, bytes) in &self.files {
            d.begin_file(path, bytes.len() as u64).unwrap();
            d.update(bytes).unwrap();
        }
        d.finish().unwrap().digest().to_hex()
    }

    fn total_size(&self) -> u64 {
        self.files.iter().map(|(_, b)| b.len() as u64).sum()
    }

    fn header(&self) -> Header {
        Header {
            files: self
                .files
                .iter()
                .map(|(p, b)| (p.clone(), b.len() as u64))
                .collect(),
        }
    }

    fn body(&self) -> Vec<u8> {
        self.files.iter().flat_map(|(_, b)| b.clone()).collect()
    }

    /// The model stream `embargo reveal` would send.
    fn stream(&self) -> Vec<u8> {
        let mut out = self.header().encode();
        out.extend(self.body());
        out
    }
}

fn in_an_hour() -> DateTime<Utc> {
    Utc::now() + Duration::hours(1)
}

fn commitment(platform: &str, m: &Model, reveal_at: DateTime<Utc>) -> Value {
    statement(
        Kind::ModelCommitment,
        "ranker",
        "sha3-256",
        &m.digest(),
        &ModelCommitment {
            platform: platform.into(),
            model: ModelInfo {
                name: "ranker".into(),
                version: "2026.11".into(),
                format: "onnx".into(),
                total_size: m.total_size(),
                file_count: m.files.len() as u64,
            },
            reveal_at,
            purpose: Some("feed ranking".into()),
            supersedes: None,
            escrow: None,
        },
    )
}

fn sign(st: &Value, key: &KeyPair) -> Envelope {
    Envelope::sign(&serde_json::to_vec(st).unwrap(), key)
}

fn signature_over(key: &KeyPair, msg: &[u8]) -> String {
    format!(
        "{} {}",
        key.public().key_ref(),
        BASE64_STANDARD.encode(key.sign(msg))
    )
}

fn json_body(env: &Envelope) -> Vec<u8> {
    serde_json::to_vec(env).unwrap()
}

/// A platform's registration as `name` with `keys`, and nothing else.
fn party<'a>(name: &str, keys: impl IntoIterator<Item = &'a KeyPair>) -> NewParty {
    NewParty {
        name: name.into(),
        role: Role::Platform,
        display_name: None,
        keys: keys.into_iter().map(|k| k.public().clone()).collect(),
        contact: None,
    }
}

/// A key change that adds `add` and revokes `revoke`.
fn key_change<'a>(
    add: impl IntoIterator<Item = &'a KeyPair>,
    revoke: impl IntoIterator<Item = &'a KeyPair>,
) -> KeyChange {
    let public = |k: &KeyPair| k.public().clone();
    KeyChange {
        add: add.into_iter().map(public).collect(),
        revoke: revoke.into_iter().map(public).collect(),
    }
}

// ---------------------------------------------------------------------------------------------
// Signatures and keys
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn envelope_altered_after_signing_is_refused_as_bad_signature() {
    let s = Server::start();
    let key = s.platform("social.example").await;
    let m = Model::new(1, 3000);
    let env = sign(&commitment("social.example", &m, in_an_hour()), &key);
    let before = s.state().await;

    // Push the deadline back by a year after signing.
    let mut st: Value = serde_json::from_slice(&env.payload_bytes().unwrap()).unwrap();
    st["predicate"]["reveal_at"] = json!((in_an_hour() + Duration::days(365)).to_rfc3339());
    let mut altered = env.clone();
    altered.payload = BASE64_STANDARD.encode(serde_json::to_vec(&st).unwrap());
    assert_client_refusal(
        s.client.submit(&altered).await,
        403,
        "bad_signature",
        &[&key.public().key_ref(), "does not verify", "altered"],
    );
    s.assert_nothing_stored(&before, "payload altered").await;

    // One flipped bit in the signature itself.
    let mut sig = BASE64_STANDARD.decode(&env.signatures[0].sig).unwrap();
    sig[10] ^= 1;
    let mut flipped = env.clone();
    flipped.signatures[0].sig = BASE64_STANDARD.encode(sig);
    assert_client_refusal(
        s.client.submit(&flipped).await,
        403,
        "bad_signature",
        &["does not verify"],
    );
    s.assert_nothing_stored(&before, "signature altered").await;

    // Control: the envelope as signed is accepted.
    let ok = s.client.submit(&env).await.unwrap();
    assert_eq!(ok.index, before.size);
    assert_eq!(s.size().await, before.size + 1);
}

#[tokio::test]
async fn commitment_signed_by_an_unregistered_key_is_refused_as_unknown_key() {
    let s = Server::start();
    let _registered = s.platform("social.example").await;
    // Same name as the platform, but not a key the operator registered.
    let stranger = KeyPair::generate("social.example").unwrap();
    let m = Model::new(2, 3000);
    let before = s.state().await;
    assert_client_refusal(
        s.submit_commitment(&stranger, "social.example", &m, in_an_hour())
            .await,
        403,
        "unknown_key",
        &[&stranger.public().key_ref(), "not registered"],
    );
    s.assert_nothing_stored(&before, "unknown key").await;
}

#[tokio::test]
async fn commitment_signed_by_a_revoked_key_is_refused_while_the_current_key_works() {
    let s = Server::start();
    let a = KeyPair::generate("social.example").unwrap();
    let b = KeyPair::generate("social.example").unwrap();
    s.register("social.example", Role::Platform, &[&a, &b])
        .await;
    let m = Model::new(3, 3000);
    // Before the revocation, key A may commit.
    s.commit(&a, "social.example", &m, in_an_hour()).await;
    let revoked = s
        .client
        .change_keys(TOKEN, "social.example", &key_change([], [&a]))
        .await
        .expect("revoking key A");

    let before = s.state().await;
    let m2 = Model::new(4, 3000);
    assert_client_refusal(
        s.submit_commitment(&a, "social.example", &m2, in_an_hour())
            .await,
        403,
        "revoked_key",
        &[
            &a.public().key_ref(),
            "was revoked",
            &format!("entry {}", revoked.index),
        ],
    );
    s.assert_nothing_stored(&before, "revoked key").await;

    // The revoked key cannot come back either.
    assert_client_refusal(
        s.client
            .change_keys(TOKEN, "social.example", &key_change([&a], []))
            .await,
        422,
        "revoked_key",
        &["was revoked"],
    );
    s.assert_nothing_stored(&before, "re-adding a revoked key")
        .await;

    // Control: the same statement signed by the current key B is accepted.
    s.commit(&b, "social.example", &m2, in_an_hour()).await;
}

#[tokio::test]
async fn platform_committing_for_another_platform_is_refused_as_wrong_party() {
    let s = Server::start();
    let p1 = s.platform("p1.example").await;
    let p2 = s.platform("p2.example").await;
    let m = Model::new(5, 3000);
    let forged = commitment("p2.example", &m, in_an_hour());
    let before = s.state().await;
    assert_client_refusal(
        s.client.submit(&sign(&forged, &p1)).await,
        403,
        "wrong_party",
        &[
            &p1.public().key_ref(),
            "p1.example",
            "cannot write for p2.example",
        ],
    );
    s.assert_nothing_stored(&before, "commitment for another platform")
        .await;
    // Control: P2 itself may make that commitment.
    s.commit(&p2, "p2.example", &m, in_an_hour()).await;
}

#[tokio::test]
async fn auditor_committing_a_model_is_refused_as_wrong_role() {
    let s = Server::start();
    let key = KeyPair::generate("auditor.example").unwrap();
    s.register("auditor.example", Role::Auditor, &[&key]).await;
    let m = Model::new(6, 3000);
    let before = s.state().await;
    assert_client_refusal(
        s.submit_commitment(&key, "auditor.example", &m, in_an_hour())
            .await,
        403,
        "wrong_role",
        &[
            "auditor.example",
            "registered as auditor",
            "need the platform role",
        ],
    );
    s.assert_nothing_stored(&before, "auditor commitment").await;
}

// ---------------------------------------------------------------------------------------------
// Embargo policy
// ---------------------------------------------------------------------------------------------

const MINUTE_TO_TEN_DAYS: Policy = Policy {
    min: "60s",
    max: "10d",
};

#[tokio::test]
async fn embargo_shorter_than_the_policy_is_refused() {
    let s = Server::with_policy(MINUTE_TO_TEN_DAYS);
    let key = s.platform("social.example").await;
    let m = Model::new(7, 3000);
    let before = s.state().await;
    for (what, reveal_at) in [
        ("30 seconds", Utc::now() + Duration::seconds(30)),
        ("now", Utc::now()),
        ("a day ago (backdated)", Utc::now() - Duration::days(1)),
    ] {
        let msg = assert_client_refusal(
            s.submit_commitment(&key, "social.example", &m, reveal_at)
                .await,
            422,
            "embargo_policy",
            &["reveal_at", "policy requires between 60s and 10d"],
        );
        eprintln!("{what}: {msg}");
        s.assert_nothing_stored(&before, what).await;
    }
    // Control: two minutes is within the policy.
    s.commit(
        &key,
        "social.example",
        &m,
        Utc::now() + Duration::minutes(2),
    )
    .await;
}

#[tokio::test]
async fn embargo_longer_than_the_policy_is_refused() {
    let s = Server::with_policy(MINUTE_TO_TEN_DAYS);
    let key = s.platform("social.example").await;
    let m = Model::new(8, 3000);
    let before = s.state().await;
    for reveal_at in [
        Utc::now() + Duration::days(11),
        Utc::now() + Duration::days(365 * 100),
    ] {
        assert_client_refusal(
            s.submit_commitment(&key, "social.example", &m, reveal_at)
                .await,
            422,
            "embargo_policy",
            &["reveal_at", "policy requires between 60s and 10d"],
        );
        s.assert_nothing_stored(&before, "long embargo").await;
    }
    // Control: nine days is within the policy.
    s.commit(&key, "social.example", &m, Utc::now() + Duration::days(9))
        .await;
}

// ---------------------------------------------------------------------------------------------
// Malformed and oversized statements
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn statements_that_break_the_schema_are_refused_as_bad_statement() {
    let s = Server::start();
    let key = s.platform("social.example").await;
    let m = Model::new(9, 3000);
    let good = commitment("social.example", &m, in_an_hour());
    let before = s.state().await;

    type Edit = fn(&mut Value);
    let cases: [(&str, Edit, &[&str]); 8] = [
        (
            "negative total_size",
            |v| v["predicate"]["model"]["total_size"] = json!(-1),
            &["/predicate/model/total_size"],
        ),
        (
            "missing reveal_at",
            |v| {
                v["predicate"].as_object_mut().unwrap().remove("reveal_at");
            },
            &["reveal_at"],
        ),
        (
            "extra field",
            |v| v["predicate"]["unexpected"] = json!(1),
            &["unexpected"],
        ),
        (
            "reveal_at not a time",
            |v| v["predicate"]["reveal_at"] = json!("next year"),
            &["/predicate/reveal_at"],
        ),
        (
            "zero files",
            |v| v["predicate"]["model"]["file_count"] = json!(0),
            &["/predicate/model/file_count"],
        ),
        (
            "digest not hex",
            |v| v["subject"][0]["digest"]["sha3-256"] = json!("xyz"),
            &["/subject/0/digest/sha3-256"],
        ),
        (
            "subject is not the model",
            |v| v["subject"][0]["name"] = json!("something-else"),
            &["subject name", "model name"],
        ),
        (
            "not an in-toto statement",
            |v| v["_type"] = json!("https://example.com/NotAStatement"),
            &["_type", "https://in-toto.io/Statement/v1"],
        ),
    ];
    for (what, edit, phrases) in cases {
        let mut bad = good.clone();
        edit(&mut bad);
        let msg = assert_client_refusal(
            s.client.submit(&sign(&bad, &key)).await,
            400,
            "bad_statement",
            phrases,
        );
        eprintln!("{what}: {msg}");
        s.assert_nothing_stored(&before, what).await;
    }

    // A payload that is not JSON at all, correctly signed.
    let env = Envelope::sign(b"this is not json", &key);
    assert_refusal(
        s.post_entry(json_body(&env)).await,
        400,
        "bad_statement",
        &["not an in-toto Statement"],
    );
    s.assert_nothing_stored(&before, "payload not JSON").await;

    // Control: the unedited statement is accepted.
    s.client.submit(&sign(&good, &key)).await.unwrap();
}

#[tokio::test]
async fn statement_whose_leaf_would_exceed_64_kib_is_refused_as_too_large() {
    let s = Server::start();
    let key = s.platform("social.example").await;
    let m = Model::new(10, 3000);
    let compact = serde_json::to_vec(&commitment("social.example", &m, in_an_hour())).unwrap();
    // The same statement with whitespace inside the JSON: valid, correctly signed, and its
    // leaf is over 64 KiB while the request stays under the body limit.
    let mut padded = b"{".to_vec();
    padded.extend(std::iter::repeat_n(b' ', 49_500));
    padded.extend_from_slice(&compact[1..]);
    let env = Envelope::sign(&padded, &key);
    let body = json_body(&env);
    let leaf = leaf_len(&env.to_canonical_json());
    assert!(
        leaf > MAX_ENTRY_SIZE && body.len() < MAX_REQUEST_BODY,
        "leaf {leaf}, body {}",
        body.len()
    );

    let before = s.state().await;
    assert_refusal(
        s.post_entry(body).await,
        413,
        "too_large",
        &[&format!("{leaf} bytes"), "at most 65535 bytes"],
    );
    s.assert_nothing_stored(&before, "oversized leaf").await;

    // Control: the compact form of the same statement is accepted.
    assert_accepted(
        s.post_entry(json_body(&Envelope::sign(&compact, &key)))
            .await,
    );
}

#[tokio::test]
async fn request_body_over_the_limit_is_refused_as_too_large() {
    let s = Server::start();
    let key = s.platform("social.example").await;
    let m = Model::new(11, 3000);
    let mut st = commitment("social.example", &m, in_an_hour());
    st["predicate"]["purpose"] = json!("x".repeat(MAX_REQUEST_BODY));
    let body = json_body(&sign(&st, &key));
    assert!(body.len() > MAX_REQUEST_BODY);
    let before = s.state().await;
    assert_refusal(
        s.post_entry(body).await,
        413,
        "too_large",
        &["request body is over", "at most 65535 bytes"],
    );
    s.assert_nothing_stored(&before, "oversized body").await;
}

#[tokio::test]
async fn bodies_that_are_not_dsse_envelopes_are_refused_as_bad_json() {
    let s = Server::start();
    let key = s.platform("social.example").await;
    let m = Model::new(12, 3000);
    let env = sign(&commitment("social.example", &m, in_an_hour()), &key);
    let mut with_extra: Value = serde_json::to_value(&env).unwrap();
    with_extra["extra"] = json!(true);
    let mut without_signatures: Value = serde_json::to_value(&env).unwrap();
    without_signatures
        .as_object_mut()
        .unwrap()
        .remove("signatures");
    let full = json_body(&env);

    let before = s.state().await;
    for (what, body, phrase) in [
        ("not JSON", b"hello, log".to_vec(), "not a DSSE envelope"),
        ("empty body", Vec::new(), "not a DSSE envelope"),
        ("truncated JSON", full[..full.len() / 2].to_vec(), "EOF"),
        (
            "unknown field",
            serde_json::to_vec(&with_extra).unwrap(),
            "extra",
        ),
        (
            "missing signatures",
            serde_json::to_vec(&without_signatures).unwrap(),
            "signatures",
        ),
        ("a JSON array", b"[1,2,3]".to_vec(), "not a DSSE envelope"),
    ] {
        let msg = assert_refusal(s.post_entry(body).await, 400, "bad_json", &[phrase]);
        eprintln!("{what}: {msg}");
        s.assert_nothing_stored(&before, what).await;
    }
    // Control.
    assert_accepted(s.post_entry(full).await);
}

#[tokio::test]
async fn envelopes_with_bad_base64_are_refused_as_bad_base64() {
    let s = Server::start();
    let key = s.platform("social.example").await;
    let m = Model::new(13, 3000);
    let env = sign(&commitment("social.example", &m, in_an_hour()), &key);
    let before = s.state().await;

    let mut bad_payload = env.clone();
    bad_payload.payload = format!("!!{}", &env.payload[2..]);
    assert_refusal(
        s.post_entry(json_body(&bad_payload)).await,
        400,
        "bad_base64",
        &["payload is not valid standard base64"],
    );
    s.assert_nothing_stored(&before, "payload base64").await;

    let mut url_safe = env.clone();
    url_safe.payload = env.payload.replace('+', "-").replace('/', "_");
    if url_safe.payload != env.payload {
        assert_refusal(
            s.post_entry(json_body(&url_safe)).await,
            400,
            "bad_base64",
            &["standard base64"],
        );
        s.assert_nothing_stored(&before, "URL-safe base64").await;
    }

    for (what, sig) in [
        ("signature not base64", "not base64 at all!".to_owned()),
        ("signature too short", BASE64_STANDARD.encode([7u8; 32])),
    ] {
        let mut bad_sig = env.clone();
        bad_sig.signatures[0].sig = sig;
        assert_refusal(
            s.post_entry(json_body(&bad_sig)).await,
            400,
            "bad_base64",
            &[&key.public().key_ref(), "base64 of 64 bytes"],
        );
        s.assert_nothing_stored(&before, what).await;
    }
    // Control.
    assert_accepted(s.post_entry(json_body(&env)).await);
}

#[tokio::test]
async fn envelopes_with_the_wrong_payload_type_or_signature_count_are_refused() {
    let s = Server::start();
    let key = s.platform("social.example").await;
    let other = KeyPair::generate("social.example").unwrap();
    let m = Model::new(14, 3000);
    let env = sign(&commitment("social.example", &m, in_an_hour()), &key);
    let before = s.state().await;

    let mut wrong_type = env.clone();
    wrong_type.payload_type = "application/json".into();
    assert_refusal(
        s.post_entry(json_body(&wrong_type)).await,
        415,
        "bad_payload_type",
        &["application/json", "application/vnd.in-toto+json"],
    );
    s.assert_nothing_stored(&before, "payload type").await;

    let mut unsigned = env.clone();
    unsigned.signatures.clear();
    assert_refusal(
        s.post_entry(json_body(&unsigned)).await,
        400,
        "bad_signatures",
        &["exactly one signature"],
    );
    s.assert_nothing_stored(&before, "no signature").await;

    let mut twice = env.clone();
    let extra = Envelope::sign(&env.payload_bytes().unwrap(), &other);
    twice.signatures.push(EnvelopeSignature {
        keyid: extra.signatures[0].keyid.clone(),
        sig: extra.signatures[0].sig.clone(),
    });
    assert_refusal(
        s.post_entry(json_body(&twice)).await,
        400,
        "bad_signatures",
        &["exactly one signature"],
    );
    s.assert_nothing_stored(&before, "two signatures").await;
    assert_accepted(s.post_entry(json_body(&env)).await);
}

#[tokio::test]
async fn registration_and_reveal_statements_submitted_by_anyone_are_refused_as_log_only() {
    let s = Server::start();
    let key = s.platform("social.example").await;
    let m = Model::new(15, 3000);
    let index = s.commit(&key, "social.example", &m, in_an_hour()).await;
    let evil = KeyPair::generate("social.example").unwrap();
    let registration = statement(
        Kind::Registration,
        "social.example",
        "sha256",
        &party_digest("social.example"),
        &Registration {
            name: "social.example".into(),
            display_name: "Social".into(),
            role: Role::Platform,
            keys: vec![key.public().clone(), evil.public().clone()],
            revoked_keys: vec![],
            contact: None,
            previous: Some(0),
        },
    );
    let reveal = statement(
        Kind::Reveal,
        "ranker",
        "sha3-256",
        &m.digest(),
        &Reveal {
            commitment: index,
            revealed_by: RevealedBy::Platform,
            revealer: Some(key.public().key_ref()),
            on_time: true,
            location: format!("v1/commitments/{index}/model"),
            total_size: m.total_size(),
            matches_commitment: Some(true),
            escrow: None,
        },
    );
    let before = s.state().await;
    // Signed by the platform, and even by the log's own key: neither may come in this way.
    for signer in [&key, &s.log_key()] {
        assert_client_refusal(
            s.client.submit(&sign(&registration, signer)).await,
            403,
            "log_only",
            &[
                "registration entries are written by the log itself",
                "/v1/admin/parties",
            ],
        );
        s.assert_nothing_stored(&before, "registration").await;
        assert_client_refusal(
            s.client.submit(&sign(&reveal, signer)).await,
            403,
            "log_only",
            &["reveal entries are written by the log itself", "/reveal"],
        );
        s.assert_nothing_stored(&before, "reveal").await;
    }
    s.assert_unrevealed(index).await;
    let party = s.client.parties().await.unwrap();
    assert_eq!(party.len(), 1);
    assert_eq!(party[0].keys, vec![key.public().clone()]);
}

#[tokio::test]
async fn commitment_superseding_a_missing_entry_is_refused() {
    let s = Server::start();
    let key = s.platform("social.example").await;
    let m = Model::new(16, 3000);
    let mut st = commitment("social.example", &m, in_an_hour());
    st["predicate"]["supersedes"] = json!(0); // entry 0 is the registration
    let before = s.state().await;
    assert_client_refusal(
        s.client.submit(&sign(&st, &key)).await,
        422,
        "no_such_commitment",
        &["entry 0 is not a model commitment"],
    );
    s.assert_nothing_stored(&before, "supersedes a registration")
        .await;
}

// ---------------------------------------------------------------------------------------------
// Operator API
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn operator_api_without_the_right_token_is_refused_as_unauthorized() {
    let s = Server::start();
    let key = KeyPair::generate("social.example").unwrap();
    let registration = serde_json::to_vec(&party("social.example", [&key])).unwrap();
    let json = ("content-type", "application/json".to_owned());
    let before = s.state().await;
    for (what, auth) in [
        ("no token", None),
        ("wrong token", Some(format!("Bearer {TOKEN}x"))),
        (
            "prefix of the token",
            Some(format!("Bearer {}", &TOKEN[..20])),
        ),
        ("empty bearer", Some("Bearer ".to_owned())),
        ("not bearer", Some(format!("Basic {TOKEN}"))),
    ] {
        let mut headers = vec![json.clone()];
        if let Some(a) = auth {
            headers.push(("authorization", a));
        }
        assert_refusal(
            s.post("v1/admin/parties", registration.clone(), &headers)
                .await,
            401,
            "unauthorized",
            &["Authorization: Bearer", "operator token"],
        );
        s.assert_nothing_stored(&before, what).await;
    }
    assert_client_refusal(
        s.client
            .add_party(
                "not-the-operator-token",
                &serde_json::from_slice(&registration).unwrap(),
            )
            .await,
        401,
        "unauthorized",
        &["operator token"],
    );
    s.assert_nothing_stored(&before, "client with wrong token")
        .await;
    assert!(s.client.parties().await.unwrap().is_empty());

    // Control: with the token, the same registration is accepted.
    s.register("social.example", Role::Platform, &[&key]).await;
    let before = s.state().await;
    // Key changes need the token too.
    let other = KeyPair::generate("social.example").unwrap();
    assert_client_refusal(
        s.client
            .change_keys(
                "wrong-token-wrong-token",
                "social.example",
                &key_change([&other], [&key]),
            )
            .await,
        401,
        "unauthorized",
        &["operator token"],
    );
    s.assert_nothing_stored(&before, "key change with wrong token")
        .await;
    let p = s.client.parties().await.unwrap();
    assert_eq!(p[0].keys, vec![key.public().clone()]);
}

#[tokio::test]
async fn duplicate_registration_and_shared_keys_are_refused_as_conflicts() {
    let s = Server::start();
    let key = s.platform("social.example").await;
    let registered_at = 0;
    let before = s.state().await;
    let again = KeyPair::generate("social.example").unwrap();
    assert_client_refusal(
        s.client
            .add_party(
                TOKEN,
                &NewParty {
                    display_name: Some("An impostor".into()),
                    ..party("social.example", [&again])
                },
            )
            .await,
        409,
        "already_registered",
        &[
            "social.example is already registered",
            &format!("entry {registered_at}"),
        ],
    );
    s.assert_nothing_stored(&before, "duplicate registration")
        .await;

    // Another party may not register with a key that is already someone's.
    assert_client_refusal(
        s.client
            .add_party(TOKEN, &party("other.example", [&key]))
            .await,
        409,
        "key_in_use",
        &[&key.public().key_ref(), "already belongs to social.example"],
    );
    s.assert_nothing_stored(&before, "shared key").await;
    let parties = s.client.parties().await.unwrap();
    assert_eq!(parties.len(), 1);
    assert_eq!(parties[0].keys, vec![key.public().clone()]);
}

// ---------------------------------------------------------------------------------------------
// Reveals
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn reveal_of_an_unknown_commitment_is_refused_as_no_such_commitment() {
    let s = Server::start();
    let key = s.platform("social.example").await;
    let m = Model::new(17, 3000);
    let index = s.commit(&key, "social.example", &m, in_an_hour()).await;
    let before = s.state().await;
    // Past the end of the log, and an entry that is a registration, not a commitment.
    for missing in [index + 1, 999_999, 0] {
        assert_refusal(
            s.post_reveal(missing, m.stream(), None).await,
            404,
            "no_such_commitment",
            &[&format!("no model commitment at entry {missing}")],
        );
        s.assert_nothing_stored(&before, "unknown commitment").await;
    }
    assert_refusal(
        s.post("v1/commitments/abc/reveal", m.stream(), &[]).await,
        400,
        "bad_index",
        &["non-negative integer"],
    );
    s.assert_nothing_stored(&before, "non-numeric index").await;
    s.assert_unrevealed(index).await;
}

#[tokio::test]
async fn unsigned_reveal_before_reveal_at_is_refused_as_sealed_and_accepted_after() {
    let s = Server::start();
    let key = s.platform("social.example").await;
    let m = Model::new(18, 3000);
    let reveal_at = Utc::now() + Duration::milliseconds(1500);
    let index = s.commit(&key, "social.example", &m, reveal_at).await;
    let before = s.state().await;
    assert_refusal(
        s.post_reveal(index, m.stream(), None).await,
        403,
        "sealed",
        &[
            &format!("commitment {index} is sealed until"),
            "only social.example may reveal it",
        ],
    );
    s.assert_nothing_stored(&before, "sealed").await;
    s.assert_unrevealed(index).await;

    // Control: once reveal_at has passed, anyone may upload the same bytes.
    let wait = (reveal_at - Utc::now()).to_std().unwrap_or_default();
    tokio::time::sleep(wait + std::time::Duration::from_millis(50)).await;
    let r = assert_accepted(s.post_reveal(index, m.stream(), None).await);
    assert_eq!(r.index, before.size);
    let rec = s.reveal_of(index).await.expect("revealed");
    assert_eq!(rec.revealed_by, RevealedBy::Anyone);
    assert!(s.data().join("blobs/sha3-256").join(m.digest()).is_file());
}

#[tokio::test]
async fn early_reveal_signed_by_another_platform_is_refused_as_bad_reveal_signature() {
    let s = Server::start();
    let owner = s.platform("social.example").await;
    let rival = s.platform("rival.example").await;
    let m = Model::new(19, 3000);
    let index = s.commit(&owner, "social.example", &m, in_an_hour()).await;
    let before = s.state().await;

    // The rival signs the exact message the owner would.
    assert_refusal(
        s.post_reveal(
            index,
            m.stream(),
            Some(s.reveal_signature(&rival, index, &m)),
        )
        .await,
        403,
        "bad_reveal_signature",
        &[
            &rival.public().key_ref(),
            "belongs to rival.example, not to social.example",
        ],
    );
    s.assert_nothing_stored(&before, "rival's signature").await;

    // The owner's key, but over another commitment's request.
    assert_refusal(
        s.post_reveal(
            index,
            m.stream(),
            Some(s.reveal_signature(&owner, index + 1, &m)),
        )
        .await,
        403,
        "bad_reveal_signature",
        &["does not verify over this reveal request"],
    );
    s.assert_nothing_stored(&before, "signature over another request")
        .await;

    // Garbled headers.
    for header in [
        "no-space-here".to_owned(),
        format!("{} not-base64!!", owner.public().key_ref()),
    ] {
        assert_refusal(
            s.post_reveal(index, m.stream(), Some(header)).await,
            403,
            "bad_reveal_signature",
            &["signature"],
        );
        s.assert_nothing_stored(&before, "garbled signature header")
            .await;
    }

    // A key the log does not know at all.
    let stranger = KeyPair::generate("social.example").unwrap();
    assert_refusal(
        s.post_reveal(
            index,
            m.stream(),
            Some(s.reveal_signature(&stranger, index, &m)),
        )
        .await,
        403,
        "unknown_key",
        &["not registered"],
    );
    s.assert_nothing_stored(&before, "unknown reveal key").await;
    s.assert_unrevealed(index).await;

    // Control: the owner's signature lets it reveal before reveal_at.
    assert_accepted(
        s.post_reveal(
            index,
            m.stream(),
            Some(s.reveal_signature(&owner, index, &m)),
        )
        .await,
    );
    let rec = s.reveal_of(index).await.unwrap();
    assert_eq!(rec.revealed_by, RevealedBy::Platform);
    assert_eq!(rec.revealer, Some(owner.public().key_ref()));
}

/// A sealed commitment of `m` by a fresh platform; returns the server, the commitment's index
/// and the platform's `Embargo-Signature` for revealing it early.
async fn sealed_commitment(m: &Model) -> (Server, u64, String) {
    let s = Server::start();
    let key = s.platform("social.example").await;
    let index = s.commit(&key, "social.example", m, in_an_hour()).await;
    let sig = s.reveal_signature(&key, index, m);
    (s, index, sig)
}

#[tokio::test]
async fn reveal_with_one_byte_changed_is_refused_and_nothing_is_stored() {
    let m = Model::new(20, (1 << 20) + 4097); // two chunks, a partial last one
    let (s, index, sig) = sealed_commitment(&m).await;
    let before = s.state().await;
    for at in [0, 1 << 20, m.total_size() as usize - 1] {
        let mut changed = m.clone();
        changed.files[0].1[at] ^= 0x01;
        let msg = assert_refusal(
            s.post_reveal(index, changed.stream(), Some(sig.clone()))
                .await,
            422,
            "digest_mismatch",
            &[
                &changed.digest(),
                &m.digest(),
                "not the committed bytes",
                "nothing was stored",
            ],
        );
        eprintln!("byte {at}: {msg}");
        s.assert_nothing_stored(&before, "one byte changed").await;
        s.assert_unrevealed(index).await;
    }
    // Control: the committed bytes are accepted and stored under their digest.
    assert_accepted(s.post_reveal(index, m.stream(), Some(sig)).await);
    assert_eq!(
        std::fs::read(s.data().join("blobs/sha3-256").join(m.digest())).unwrap(),
        m.stream()
    );
    assert!(list_dir(&s.data().join("blobs/tmp")).is_empty());
}

#[tokio::test]
async fn reveal_declaring_more_bytes_than_committed_is_refused_as_too_large() {
    let m = Model::new(21, 3000);
    let (s, index, sig) = sealed_commitment(&m).await;
    let mut bigger = m.clone();
    bigger.files[0].1.push(0);
    let before = s.state().await;
    assert_refusal(
        s.post_reveal(index, bigger.stream(), Some(sig.clone()))
            .await,
        413,
        "too_large",
        &["3001 bytes", "3000 bytes", "refusing a larger model"],
    );
    s.assert_nothing_stored(&before, "larger header").await;
    // A second file makes it larger too.
    let mut extra_file = m.clone();
    extra_file
        .files
        .push(("tokenizer.json".into(), b"{}".to_vec()));
    assert_refusal(
        s.post_reveal(index, extra_file.stream(), Some(sig)).await,
        413,
        "too_large",
        &["refusing a larger model"],
    );
    s.assert_nothing_stored(&before, "extra file").await;
    s.assert_unrevealed(index).await;
}

#[tokio::test]
async fn reveal_declaring_fewer_bytes_or_other_files_than_committed_is_refused() {
    let m = Model::new(22, 3000);
    let (s, index, sig) = sealed_commitment(&m).await;
    let before = s.state().await;
    let mut smaller = m.clone();
    smaller.files[0].1.pop();
    assert_refusal(
        s.post_reveal(index, smaller.stream(), Some(sig.clone()))
            .await,
        422,
        "too_small",
        &[
            "2999 bytes in 1 files",
            "3000 bytes in 1 files",
            "not the committed model",
        ],
    );
    s.assert_nothing_stored(&before, "smaller header").await;

    // Same total size, split over two files.
    let (a, b) = m.files[0].1.split_at(1000);
    let split = Model {
        files: vec![("a.bin".into(), a.to_vec()), ("b.bin".into(), b.to_vec())],
    };
    assert_eq!(split.total_size(), m.total_size());
    assert_refusal(
        s.post_reveal(index, split.stream(), Some(sig)).await,
        422,
        "wrong_file_count",
        &["holds 2 files", "is for 1 files", "nothing was stored"],
    );
    s.assert_nothing_stored(&before, "other file count").await;
    s.assert_unrevealed(index).await;
}

#[tokio::test]
async fn reveal_with_bytes_after_the_declared_body_is_refused_as_too_large() {
    let m = Model::new(23, 3000);
    let (s, index, sig) = sealed_commitment(&m).await;
    let before = s.state().await;
    for extra in [1usize, 4096] {
        let mut body = m.stream();
        body.extend(std::iter::repeat_n(0xAB, extra));
        assert_refusal(
            s.post_reveal(index, body, Some(sig.clone())).await,
            413,
            "too_large",
            &["more than the committed 3000 bytes", "nothing was stored"],
        );
        s.assert_nothing_stored(&before, "trailing bytes").await;
        s.assert_unrevealed(index).await;
    }
    assert_accepted(s.post_reveal(index, m.stream(), Some(sig)).await);
}

#[tokio::test]
async fn truncated_reveal_is_refused_as_too_small() {
    let m = Model::new(24, 3000);
    let (s, index, sig) = sealed_commitment(&m).await;
    let before = s.state().await;
    let full = m.stream();
    let header_len = m.header().encode().len();
    for keep in [0usize, 1, 2999] {
        let body = full[..header_len + keep].to_vec();
        assert_refusal(
            s.post_reveal(index, body, Some(sig.clone())).await,
            400,
            "too_small",
            &[
                &format!("the upload ended after {keep} bytes"),
                "3000 bytes",
                "nothing was stored",
            ],
        );
        s.assert_nothing_stored(&before, "truncated").await;
        s.assert_unrevealed(index).await;
    }
}

#[tokio::test]
async fn reveal_that_is_not_a_model_stream_is_refused_as_bad_stream() {
    let m = Model::new(25, 3000);
    let (s, index, sig) = sealed_commitment(&m).await;
    let before = s.state().await;
    let header = m.header().encode();
    let unterminated = header[..header.len() - 1].to_vec();
    for (what, body, phrase) in [
        ("raw bytes", m.body(), "not a model stream"),
        (
            "wrong magic",
            b"embargo-model-stream/v0\n1\n3000 model.onnx\n\n".to_vec(),
            "it must start with \"embargo-model-stream/v1\"",
        ),
        (
            "unsorted files",
            b"embargo-model-stream/v1\n2\n1 b\n1 a\n\nxx".to_vec(),
            "sorted",
        ),
        ("empty", Vec::new(), "the header ends before the magic line"),
        (
            "header only, no blank line",
            unterminated,
            "the header ends before",
        ),
        (
            "unsafe path",
            {
                let mut b = Header {
                    files: vec![("../model.onnx".into(), 3000)],
                }
                .encode();
                b.extend(m.body());
                b
            },
            "..",
        ),
    ] {
        let msg = assert_refusal(
            s.post_reveal(index, body, Some(sig.clone())).await,
            400,
            "bad_stream",
            &[phrase],
        );
        eprintln!("{what}: {msg}");
        s.assert_nothing_stored(&before, what).await;
        s.assert_unrevealed(index).await;
    }
}

#[tokio::test]
async fn second_reveal_of_the_same_commitment_is_refused_as_already_revealed() {
    let m = Model::new(26, 3000);
    let (s, index, sig) = sealed_commitment(&m).await;
    let first = assert_accepted(s.post_reveal(index, m.stream(), Some(sig.clone())).await);
    let before = s.state().await;
    assert_eq!(before.blobs.len(), 1);
    for (what, body, sig) in [
        ("same bytes, signed", m.stream(), Some(sig.clone())),
        ("same bytes, unsigned", m.stream(), None),
        ("other bytes", Model::new(27, 3000).stream(), Some(sig)),
    ] {
        assert_refusal(
            s.post_reveal(index, body, sig).await,
            409,
            "already_revealed",
            &[&format!(
                "commitment {index} was already revealed at entry {}",
                first.index
            )],
        );
        s.assert_nothing_stored(&before, what).await;
    }
    let rec = s.reveal_of(index).await.unwrap();
    assert_eq!(rec.index, first.index);
}

// ---------------------------------------------------------------------------------------------
// Edges found while writing the above
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn registration_the_schema_forbids_is_refused_as_bad_request_not_an_internal_error() {
    let s = Server::start();
    let before = s.state().await;
    let seventeen: Vec<KeyPair> = (0..17)
        .map(|_| KeyPair::generate("many.example").unwrap())
        .collect();
    let one = KeyPair::generate("x.example").unwrap();
    let cases: Vec<(&str, NewParty)> = vec![
        ("17 keys", party("many.example", &seventeen)),
        (
            "a name the schema's partyName refuses",
            party("social:example", [&one]),
        ),
        (
            "an empty display name",
            NewParty {
                display_name: Some(String::new()),
                ..party("x.example", [&one])
            },
        ),
        (
            "a 2000-character contact",
            NewParty {
                contact: Some("c".repeat(2000)),
                ..party("x.example", [&one])
            },
        ),
    ];
    for (what, party) in cases {
        let msg = assert_client_refusal(
            s.client.add_party(TOKEN, &party).await,
            400,
            "bad_registration",
            &["registration"],
        );
        eprintln!("{what}: {msg}");
        s.assert_nothing_stored(&before, what).await;
    }
    assert!(s.client.parties().await.unwrap().is_empty());
}

#[tokio::test]
async fn key_change_past_the_schema_limits_is_refused_as_bad_request() {
    let s = Server::start();
    let key = s.platform("social.example").await;
    let before = s.state().await;
    let more: Vec<KeyPair> = (0..16)
        .map(|_| KeyPair::generate("social.example").unwrap())
        .collect();
    assert_client_refusal(
        s.client
            .change_keys(TOKEN, "social.example", &key_change(&more, []))
            .await,
        400,
        "bad_registration",
        &["registration"],
    );
    s.assert_nothing_stored(&before, "17 keys after the change")
        .await;
    assert_eq!(
        s.client.parties().await.unwrap()[0].keys,
        vec![key.public().clone()]
    );
}

#[tokio::test]
async fn a_key_revoked_from_one_party_cannot_be_registered_to_another() {
    let s = Server::start();
    let a = KeyPair::generate("social.example").unwrap();
    let b = KeyPair::generate("social.example").unwrap();
    s.register("social.example", Role::Platform, &[&a, &b])
        .await;
    s.client
        .change_keys(TOKEN, "social.example", &key_change([], [&a]))
        .await
        .unwrap();
    let before = s.state().await;
    assert_client_refusal(
        s.client
            .add_party(TOKEN, &party("other.example", [&a]))
            .await,
        422,
        "revoked_key",
        &[&a.public().key_ref(), "was revoked"],
    );
    s.assert_nothing_stored(&before, "revoked key to another party")
        .await;
}

#[tokio::test]
async fn reveal_whose_declared_sizes_overflow_is_refused_without_a_panic() {
    // A two-file commitment of 3000 bytes; the header's sizes add up to 3000 modulo 2^64.
    let m = Model {
        files: vec![
            ("a.bin".into(), Model::new(28, 1000).files[0].1.clone()),
            ("b.bin".into(), Model::new(29, 2000).files[0].1.clone()),
        ],
    };
    let (s, index, sig) = sealed_commitment(&m).await;
    let before = s.state().await;
    let header = Header {
        files: vec![("a.bin".into(), u64::MAX), ("b.bin".into(), 3001)],
    };
    let mut body = header.encode();
    body.extend(m.body());
    assert_refusal(
        s.post_reveal(index, body, Some(sig.clone())).await,
        413,
        "too_large",
        &["refusing a larger model"],
    );
    s.assert_nothing_stored(&before, "overflowing sizes").await;
    s.assert_unrevealed(index).await;
    assert_accepted(s.post_reveal(index, m.stream(), Some(sig)).await);
}

#[tokio::test]
async fn reveal_while_another_upload_is_in_progress_is_refused_and_an_abandoned_upload_leaves_nothing(
) {
    let m = Model::new(30, 3000);
    let (s, index, sig) = sealed_commitment(&m).await;
    let before = s.state().await;

    // A first upload that sends its header and half the bytes, then stalls.
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Vec<u8>, std::io::Error>>(4);
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    });
    let url = format!("{}/v1/commitments/{index}/reveal", s.process.url);
    let first = tokio::spawn(
        s.http
            .post(url)
            .header("embargo-signature", sig.clone())
            .body(reqwest::Body::wrap_stream(stream))
            .send(),
    );
    let full = m.stream();
    tx.send(Ok(full[..full.len() - 1500].to_vec()))
        .await
        .unwrap();
    // Wait until the server has started writing the upload.
    let tmp = s.data().join("blobs/tmp");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while list_dir(&tmp).is_empty() {
        assert!(
            std::time::Instant::now() < deadline,
            "the first upload never started"
        );
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }

    assert_refusal(
        s.post_reveal(index, m.stream(), Some(sig.clone())).await,
        409,
        "reveal_in_progress",
        &[&format!(
            "another reveal of commitment {index} is in progress"
        )],
    );

    // The first client gives up half-way.
    tx.send(Err(std::io::Error::other("client gave up")))
        .await
        .unwrap();
    drop(tx);
    let _ = first.await.unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !list_dir(&tmp).is_empty() {
        assert!(
            std::time::Instant::now() < deadline,
            "the abandoned upload was never removed from blobs/tmp"
        );
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    s.assert_nothing_stored(&before, "abandoned upload").await;
    s.assert_unrevealed(index).await;

    // The commitment is free again: the whole model goes through.
    assert_accepted(s.post_reveal(index, m.stream(), Some(sig)).await);
}

#[tokio::test]
async fn statement_of_a_kind_the_log_does_not_know_is_refused_for_a_platform_key() {
    let s = Server::start();
    let key = s.platform("social.example").await;
    let st = json!({
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [{"name": "x", "digest": {"sha256": "ab".repeat(32)}}],
        "predicateType": "https://example.com/something-else/v1",
        "predicate": {}
    });
    let before = s.state().await;
    assert_client_refusal(
        s.client.submit(&sign(&st, &key)).await,
        403,
        "unknown_key",
        &[&key.public().key_ref(), "not allowed to write"],
    );
    s.assert_nothing_stored(&before, "unknown kind").await;
}

#[tokio::test]
async fn commitments_to_models_the_log_could_never_take_are_refused_as_model_limits() {
    let s = Server::start();
    let key = s.platform("social.example").await;
    let m = Model::new(31, 3000);
    let before = s.state().await;
    for (what, size, files) in [
        ("2^64-1 bytes", json!(u64::MAX), json!(1)),
        ("2^63 files", json!(3000), json!(1u64 << 63)),
        ("more than the stream allows", json!(3000), json!(1_000_001)),
    ] {
        let mut st = commitment("social.example", &m, in_an_hour());
        st["predicate"]["model"]["total_size"] = size;
        st["predicate"]["model"]["file_count"] = files;
        let msg = assert_refusal(
            s.post_entry(json_body(&sign(&st, &key))).await,
            422,
            "model_limits",
            &["1 to 1000000 files", "commit to the model's real size"],
        );
        eprintln!("{what}: {msg}");
        s.assert_nothing_stored(&before, what).await;
    }
    s.commit(&key, "social.example", &m, in_an_hour()).await;
}

#[tokio::test]
async fn entry_indexes_are_decimal_digits_only() {
    let s = Server::start();
    s.platform("social.example").await;
    for raw in ["+0", "-0", "00", "0x0", "%200"] {
        let (status, body) = s.get(&format!("v1/entries/{raw}")).await;
        assert_eq!(status, 400, "{raw}: {body}");
        let e: ErrorBody = serde_json::from_str(&body).unwrap();
        assert_eq!(e.error, "bad_index", "{raw}");
    }
    assert_eq!(s.get("v1/entries/0").await.0, 200);
}
