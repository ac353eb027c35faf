//! Rules decided in log order, under concurrency: a key revoked at index `r` signs nothing
//! logged after `r`; a commitment is superseded once; a model is revealed once.
//!
//! These test rules, not processes, so the log runs in this test's process (the library's
//! `Log`, `Sequencer` and router on a loopback port) and is driven over real HTTP by many
//! concurrent clients. Each claim is checked against the log's own entries, read back from
//! its tiles, not against what the handlers answered.

use chrono::{Duration, Utc};
use embargo::api::{KeyChange, NewParty};
use embargo::client::{Client, ClientError};
use embargo::core::dsse::Envelope;
use embargo::core::entry::Leaf;
use embargo::core::note::KeyPair;
use embargo::core::predicate::{statement, Kind, ModelCommitment, ModelInfo, Role};
use embargo::escrow::Chain;
use embargo::log::registry::{reveal_request_message, Policy};
use embargo::log::sequencer::Sequencer;
use embargo::log::Log;
use embargo::model::digest::StreamingDigest;
use embargo::model::model_stream::{self, Header};
use embargo::server::{router, AppState};
use std::sync::Arc;
use tokio::sync::Barrier;

const TOKEN: &str = "log-order-operator-token";
const ORIGIN: &str = "log-order.test/log";

/// A log served from this process, on a loopback port.
struct InProcess {
    client: Client,
    url: String,
    _dir: tempfile::TempDir,
}

async fn start() -> InProcess {
    let dir = tempfile::tempdir().unwrap();
    let policy = Policy {
        min_embargo: Duration::seconds(1),
        max_embargo: Duration::days(10),
        grace: Duration::hours(1),
        beacons: vec![Chain::quicknet()],
    };
    let key = KeyPair::generate(ORIGIN).unwrap();
    let (log, recovered) = Log::open(&dir.path().join("data"), key, policy).unwrap();
    let sequencer = Sequencer::start(log.clone(), recovered, std::time::Duration::from_millis(5));
    let state = Arc::new(AppState {
        log,
        sequencer,
        writers: Default::default(),
        operator_token: Some(TOKEN.into()),
        revealing: Default::default(),
        admin: Default::default(),
        witnessing: None,
        admission: Default::default(),
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router(state)).await });
    InProcess {
        client: Client::new(&url),
        url,
        _dir: dir,
    }
}

impl InProcess {
    async fn register(&self, name: &str, key: &KeyPair) {
        self.client
            .add_party(
                TOKEN,
                &NewParty {
                    name: name.into(),
                    role: Role::Platform,
                    display_name: None,
                    keys: vec![key.public().clone()],
                    contact: None,
                },
            )
            .await
            .unwrap();
    }

    async fn change_keys(&self, name: &str, add: &[&KeyPair], revoke: &[&KeyPair]) -> u64 {
        let public = |k: &&KeyPair| k.public().clone();
        self.client
            .change_keys(
                TOKEN,
                name,
                &KeyChange {
                    add: add.iter().map(public).collect(),
                    revoke: revoke.iter().map(public).collect(),
                },
            )
            .await
            .unwrap()
            .index
    }

    async fn size(&self) -> u64 {
        let cp = self.client.checkpoint().await.unwrap();
        cp.lines().nth(1).unwrap().parse().unwrap()
    }

    /// Every entry of the log, parsed, read back through the API.
    async fn entries(&self) -> Vec<Leaf> {
        let mut out = Vec::new();
        for i in 0..self.size().await {
            out.push(Leaf::parse(&self.client.entry(i).await.unwrap()).unwrap());
        }
        out
    }
}

/// A commitment of `platform` to a model with this digest, revealed in an hour.
fn commitment(platform: &str, digest: &str, supersedes: Option<u64>) -> serde_json::Value {
    statement(
        Kind::ModelCommitment,
        "ranker",
        "sha3-256",
        digest,
        &ModelCommitment {
            platform: platform.into(),
            model: ModelInfo {
                name: "ranker".into(),
                version: "1".into(),
                format: "onnx".into(),
                total_size: 3000,
                file_count: 1,
            },
            reveal_at: Utc::now() + Duration::hours(1),
            purpose: None,
            supersedes,
            escrow: None,
        },
    )
}

fn sign(st: &serde_json::Value, key: &KeyPair) -> Envelope {
    Envelope::sign(&serde_json::to_vec(st).unwrap(), key)
}

fn digest_of(round: usize, i: usize) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(
        format!("model {round} {i}").as_bytes(),
    ))
}

/// The HTTP status and error code of a refused submission.
fn refusal(e: &ClientError) -> (u16, String) {
    match e {
        ClientError::Refused { status, code, .. } => (*status, code.clone()),
        other => panic!("expected a JSON refusal, got {other}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn commitments_racing_their_keys_revocation_are_never_logged_after_it() {
    let log = start().await;
    let first = KeyPair::generate("social.example").unwrap();
    log.register("social.example", &first).await;
    let mut current = first;
    for round in 0..20 {
        let next = KeyPair::generate("social.example").unwrap();
        log.change_keys("social.example", &[&next], &[]).await;
        let barrier = Arc::new(Barrier::new(49));
        let mut tasks = Vec::new();
        for i in 0..48 {
            let (client, barrier) = (Client::new(&log.url), barrier.clone());
            let env = sign(
                &commitment("social.example", &digest_of(round, i), None),
                &current,
            );
            tasks.push(tokio::spawn(async move {
                barrier.wait().await;
                client.submit(&env).await
            }));
        }
        barrier.wait().await;
        let revoked_at = log.change_keys("social.example", &[], &[&current]).await;
        let mut accepted = 0;
        for t in tasks {
            match t.await.unwrap() {
                Ok(answer) => {
                    accepted += 1;
                    assert!(
                        answer.index < revoked_at,
                        "round {round}: a commitment signed by the revoked key was logged at {} after its revocation at {revoked_at}",
                        answer.index
                    );
                }
                Err(e) => assert_eq!(refusal(&e), (403, "revoked_key".into()), "round {round}"),
            }
        }
        eprintln!("round {round}: {accepted} of 48 logged before the revocation at {revoked_at}");
        current = next;
    }
    // The log's own entries, not the answers: nothing signed by a key after its revocation.
    let entries = log.entries().await;
    let party = log.client.party("social.example").await.unwrap();
    assert_eq!(party.revoked_keys.len(), 20);
    for r in &party.revoked_keys {
        let keyid = r.key.key_ref();
        for (i, leaf) in entries.iter().enumerate().skip(r.revoked_at as usize) {
            assert!(
                leaf.envelope.signatures.iter().all(|s| s.keyid != keyid),
                "entry {i} is signed by {keyid}, revoked at {}",
                r.revoked_at
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sixteen_concurrent_supersedes_of_one_commitment_accept_exactly_one() {
    let log = start().await;
    let key = KeyPair::generate("social.example").unwrap();
    log.register("social.example", &key).await;
    let old = log
        .client
        .submit(&sign(
            &commitment("social.example", &digest_of(0, 0), None),
            &key,
        ))
        .await
        .unwrap()
        .index;
    let barrier = Arc::new(Barrier::new(16));
    let mut tasks = Vec::new();
    for i in 0..16 {
        let (client, barrier) = (Client::new(&log.url), barrier.clone());
        let env = sign(
            &commitment("social.example", &digest_of(1, i), Some(old)),
            &key,
        );
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            client.submit(&env).await
        }));
    }
    let mut winners = Vec::new();
    for t in tasks {
        match t.await.unwrap() {
            Ok(answer) => winners.push(answer.index),
            Err(e) => assert_eq!(refusal(&e), (409, "already_superseded".into())),
        }
    }
    assert_eq!(winners.len(), 1, "accepted supersedes: {winners:?}");
    let c = log.client.commitment(old).await.unwrap().commitment;
    assert_eq!(c.superseded_by, Some(winners[0]));
    let superseding = log
        .entries()
        .await
        .iter()
        .filter(|l| {
            let payload = l.envelope.payload_bytes().unwrap();
            let st: serde_json::Value = serde_json::from_slice(&payload).unwrap();
            st["predicate"]["supersedes"] == old
        })
        .count();
    assert_eq!(superseding, 1, "entries superseding {old}");
}

/// A one-file model of `len` pseudo-random bytes, as a model stream, and its digest.
fn model(len: usize) -> (Vec<u8>, String) {
    let bytes: Vec<u8> = (0..len).map(|i| (i * 7 + i / 251) as u8).collect();
    let mut d = StreamingDigest::new();
    d.begin_file("model.onnx", len as u64).unwrap();
    d.update(&bytes).unwrap();
    let digest = d.finish().unwrap().digest().to_hex();
    let mut stream = Header {
        files: vec![("model.onnx".into(), len as u64)],
    }
    .encode();
    stream.extend(bytes);
    (stream, digest)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_reveals_of_one_commitment_log_exactly_one_reveal() {
    use base64::prelude::{Engine, BASE64_STANDARD};
    let log = start().await;
    let key = KeyPair::generate("social.example").unwrap();
    log.register("social.example", &key).await;
    let (stream, digest) = model(3000);
    let index = log
        .client
        .submit(&sign(&commitment("social.example", &digest, None), &key))
        .await
        .unwrap()
        .index;
    let signature = format!(
        "{} {}",
        key.public().key_ref(),
        BASE64_STANDARD.encode(key.sign(&reveal_request_message(ORIGIN, index, &digest)))
    );
    let barrier = Arc::new(Barrier::new(12));
    let mut tasks = Vec::new();
    for _ in 0..12 {
        let (url, barrier) = (log.url.clone(), barrier.clone());
        let (stream, signature) = (stream.clone(), signature.clone());
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            let resp = reqwest::Client::new()
                .post(format!("{url}/v1/commitments/{index}/reveal"))
                .header("content-type", model_stream::CONTENT_TYPE)
                .header("embargo-signature", signature)
                .body(stream)
                .send()
                .await
                .unwrap();
            resp.status().as_u16()
        }));
    }
    let mut statuses = Vec::new();
    for t in tasks {
        statuses.push(t.await.unwrap());
    }
    assert_eq!(
        statuses.iter().filter(|s| **s == 201).count(),
        1,
        "statuses: {statuses:?}"
    );
    assert!(
        statuses.iter().all(|s| *s == 201 || *s == 409),
        "{statuses:?}"
    );
    let reveals = log
        .entries()
        .await
        .iter()
        .filter(|l| {
            let payload = l.envelope.payload_bytes().unwrap();
            let st: serde_json::Value = serde_json::from_slice(&payload).unwrap();
            st["predicateType"] == Kind::Reveal.predicate_type()
                && st["predicate"]["commitment"] == index
        })
        .count();
    assert_eq!(reveals, 1, "reveal entries of commitment {index}");
}
