//! A log with three real `embargo witness` processes and witness policy 2, end to end: entries
//! are accepted and `/checkpoint` carries at least two valid cosignatures; `fetch` requiring 2
//! of the 3 passes; with one witness killed the log keeps accepting and `/checkpoint` still
//! advances cosigned; with two killed the log keeps accepting, the witnessed checkpoint lags
//! (visible in `/v1/log`), and a client requiring 2 refuses the newer entries naming the
//! missing witnesses; a restarted log serves its persisted witnessed checkpoint at once; and a
//! second log process with the same key and another history is refused by the witnesses.

mod common;

use common::witness::WitnessProcess;
use common::{add_party, commit, keygen, make_model, ok, refused, wait_for_status, Server};
use embargo::witness::cosignature::{verify_cosignatures, WitnessKey};
use std::path::Path;
use std::time::{Duration, Instant};

const ORIGIN: &str = "witnessed.test/log";

fn get_json(url: &str) -> serde_json::Value {
    let (status, body) = common::http_get(url);
    assert_eq!(status, 200, "{url}: {}", String::from_utf8_lossy(&body));
    serde_json::from_slice(&body).unwrap()
}

fn get_text(url: &str) -> (u16, String) {
    let (status, body) = common::http_get(url);
    (status, String::from_utf8(body).unwrap())
}

/// Polls `/v1/log` until `until` holds of it, or panics after `within` with the last answer.
fn wait_log(
    url: &str,
    within: Duration,
    until: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    let deadline = Instant::now() + within;
    loop {
        let info = get_json(&format!("{url}/v1/log"));
        if until(&info) {
            return info;
        }
        assert!(
            Instant::now() < deadline,
            "/v1/log never got there: {info:#}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn witnessed_size(info: &serde_json::Value) -> Option<u64> {
    info["witnessing"]["witnessed_size"].as_u64()
}

/// Waits until the witnessed checkpoint covers the whole log.
fn wait_caught_up(url: &str) -> serde_json::Value {
    wait_log(url, Duration::from_secs(30), |i| {
        witnessed_size(i) == i["size"].as_u64()
    })
}

/// The size of `/checkpoint` and how many of `keys` validly cosigned it.
fn served(url: &str, keys: &[WitnessKey]) -> (u64, usize, String) {
    let (status, note) = get_text(&format!("{url}/checkpoint"));
    assert_eq!(status, 200, "{note}");
    let size = note.lines().nth(1).unwrap().parse().unwrap();
    let valid = verify_cosignatures(&note, keys).unwrap().valid.len();
    (size, valid, note)
}

struct Witnesses {
    keys: Vec<WitnessKey>,
    processes: Vec<Option<WitnessProcess>>,
}

fn start_witnesses(dir: &Path, log_vkey: &str) -> Witnesses {
    let mut keys = Vec::new();
    let mut processes = Vec::new();
    for name in ["a", "b", "c"] {
        let vkey = ok(
            dir,
            &[
                "witness",
                "keygen",
                "--name",
                &format!("witness.test/{name}"),
                "--out",
                &format!("w-{name}.key"),
            ],
        );
        keys.push(vkey.parse::<WitnessKey>().unwrap());
        processes.push(Some(WitnessProcess::start(
            &dir.join(format!("w-{name}.key")),
            &dir.join(format!("w-{name}-data")),
            &[log_vkey],
        )));
    }
    Witnesses { keys, processes }
}

impl Witnesses {
    /// `--witness VKEY=URL` for each witness.
    fn serve_flags(&self) -> Vec<String> {
        self.keys
            .iter()
            .zip(&self.processes)
            .flat_map(|(k, p)| {
                let url = &p.as_ref().unwrap().url;
                ["--witness".to_owned(), format!("{k}={url}")]
            })
            .collect()
    }

    /// `--witness VKEY` for each witness, and the threshold.
    fn client_flags(&self, threshold: usize) -> Vec<String> {
        let mut f: Vec<String> = self
            .keys
            .iter()
            .flat_map(|k| ["--witness".to_owned(), k.to_string()])
            .collect();
        f.extend(["--witness-threshold".into(), threshold.to_string()]);
        f
    }

    fn kill(&mut self, i: usize) {
        self.processes[i] = None;
    }
}

fn args<'a>(base: &[&'a str], extra: &'a [String]) -> Vec<&'a str> {
    base.iter()
        .copied()
        .chain(extra.iter().map(String::as_str))
        .collect()
}

#[test]
fn a_log_with_three_witnesses_and_policy_two_degrades_as_witnesses_die() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let log_vkey = keygen(dir, ORIGIN, "log.key");
    let platform_vkey = keygen(dir, "social.example", "platform.key");
    let mut w = start_witnesses(dir, &log_vkey);
    let mut flags = w.serve_flags();
    flags.extend(["--witness-policy".into(), "2".into()]);
    let flag_refs: Vec<&str> = flags.iter().map(String::as_str).collect();
    let server = Server::start(&dir.join("data"), &dir.join("log.key"), &flag_refs);
    let url = server.url.clone();

    // All up: entries are accepted and /checkpoint is cosigned by at least two.
    add_party(dir, &url, "platform", "social.example", &platform_vkey);
    make_model(dir, "model", 0);
    let commitment = commit(dir, &url, "model", "ranker", "1", "2s", &log_vkey);
    wait_for_status(dir, &url, &commitment, "due", Duration::from_secs(20));
    ok(
        dir,
        &[
            "reveal",
            "model",
            "--log",
            &url,
            "--commitment",
            &commitment,
            "--vkey",
            &log_vkey,
        ],
    );
    let info = wait_caught_up(&url);
    assert_eq!(info["witnessing"]["policy"], 2);
    assert_eq!(info["witnessing"]["lag_entries"], 0);
    let (size, valid, _) = served(&url, &w.keys);
    assert!(size >= 3 && valid >= 2, "size {size}, {valid} cosignatures");

    // A client requiring 2 of the 3 fetches and verifies the revealed model.
    let required = w.client_flags(2);
    let fetch = |out: &'static str| {
        args(
            &[
                "fetch",
                &commitment,
                "--log",
                &url,
                "--vkey",
                &log_vkey,
                "--out",
                out,
            ],
            &required,
        )
    };
    let fetched = ok(dir, &fetch("fetched"));
    assert!(fetched.contains("revealed at entry"), "{fetched}");

    // One witness down: the log keeps accepting and /checkpoint still advances, cosigned.
    w.kill(2);
    for i in 0..3 {
        let vkey = keygen(dir, &format!("p{i}.example"), &format!("p{i}.key"));
        add_party(dir, &url, "platform", &format!("p{i}.example"), &vkey);
    }
    let info = wait_caught_up(&url);
    let (advanced, valid, _) = served(&url, &w.keys);
    assert!(
        advanced > size && valid >= 2,
        "size {advanced}, {valid} cosignatures"
    );
    assert_eq!(advanced, info["size"].as_u64().unwrap());
    ok(dir, &fetch("fetched-2"));

    // Two down: the log keeps accepting, but the witnessed checkpoint lags behind it.
    w.kill(1);
    let (_, witnessed_note) = get_text(&format!("{url}/checkpoint"));
    for i in 3..5 {
        let vkey = keygen(dir, &format!("p{i}.example"), &format!("p{i}.key"));
        add_party(dir, &url, "platform", &format!("p{i}.example"), &vkey);
    }
    make_model(dir, "model2", 1);
    let newer = commit(dir, &url, "model2", "ranker", "2", "1h", &log_vkey);
    let newer: u64 = newer.parse().unwrap();
    std::thread::sleep(Duration::from_secs(1));
    let info = wait_log(&url, Duration::from_secs(30), |i| {
        i["witnessing"]["witnesses"][1]["last_error"].is_string()
    });
    let lagging = witnessed_size(&info).unwrap();
    assert_eq!(lagging, advanced, "{info:#}");
    assert!(info["size"].as_u64().unwrap() > newer, "{info:#}");
    assert_eq!(
        info["witnessing"]["lag_entries"].as_u64().unwrap(),
        info["size"].as_u64().unwrap() - lagging
    );
    assert!(
        info["witnessing"]["lag_seconds"].as_u64().unwrap() >= 1,
        "{info:#}"
    );
    assert!(
        info["witnessing"]["witnesses"][0]["last_error"].is_null(),
        "{info:#}"
    );
    assert_eq!(get_text(&format!("{url}/checkpoint")).1, witnessed_note);
    let (status, latest) = get_text(&format!("{url}/checkpoint/latest"));
    assert_eq!(status, 200);
    assert_eq!(
        latest.lines().nth(1),
        Some(info["size"].to_string().as_str())
    );

    // A client requiring 2 refuses the newer entry, naming the witnesses that did not cosign.
    let err = refused(
        dir,
        &args(
            &[
                "verify",
                "--vkey",
                &log_vkey,
                "--entry",
                "ranker-2.entry.json",
                "ranker-2.tlog-proof",
            ],
            &required,
        ),
    );
    assert!(
        err.contains("cosigned by only 0 of the 2 witnesses"),
        "{err}"
    );
    for k in &w.keys {
        assert!(err.contains(&k.key_ref()), "{err}");
    }
    // ... and so does every command that relies on the log's /checkpoint for it.
    let err = refused(
        dir,
        &args(
            &[
                "escrow",
                "open",
                &newer.to_string(),
                "--log",
                &url,
                "--vkey",
                &log_vkey,
                "--out",
                "x",
            ],
            &required,
        ),
    );
    assert!(
        err.contains(&format!("entry {newer} is not covered")),
        "{err}"
    );
    // Entries the witnessed checkpoint covers still verify, with the cosignatures in the proof.
    let (status, proof) = get_text(&format!("{url}/v1/proof/inclusion?index=1&size={lagging}"));
    assert_eq!(status, 200, "{proof}");
    assert!(proof.ends_with(&witnessed_note[witnessed_note.find("\n\n").unwrap() + 2..]));
    std::fs::write(dir.join("witnessed.tlog-proof"), &proof).unwrap();
    std::fs::write(
        dir.join("entry1.json"),
        common::http_get(&format!("{url}/v1/entries/1")).1,
    )
    .unwrap();
    let verified = ok(
        dir,
        &args(
            &[
                "verify",
                "--vkey",
                &log_vkey,
                "--entry",
                "entry1.json",
                "witnessed.tlog-proof",
            ],
            &required,
        ),
    );
    assert!(verified.starts_with("OK"), "{verified}");

    // A restarted log serves the witnessed checkpoint it persisted, before any new round.
    let server = server.crash_and_restart();
    assert_eq!(
        get_text(&format!("{url}/checkpoint")),
        (200, witnessed_note.clone())
    );
    drop(server);

    // Equivocation: the same key on another data directory with another history submits to
    // the surviving witness, which refuses it; that log never gets a witnessed checkpoint.
    let a = &w.processes[0].as_ref().unwrap().url;
    let fork_flags = [
        "--witness".to_owned(),
        format!("{}={a}", w.keys[0]),
        "--witness-policy".to_owned(),
        "1".to_owned(),
    ];
    let fork_refs: Vec<&str> = fork_flags.iter().map(String::as_str).collect();
    let fork = Server::start(&dir.join("fork-data"), &dir.join("log.key"), &fork_refs);
    let mut fork_size = 0;
    while fork_size <= lagging + 2 {
        let vkey = keygen(dir, "other.example", &format!("o{fork_size}.key"));
        add_party(
            dir,
            &fork.url,
            "platform",
            &format!("o{fork_size}.example"),
            &vkey,
        );
        fork_size = get_json(&format!("{}/v1/log", fork.url))["size"]
            .as_u64()
            .unwrap();
    }
    let info = wait_log(&fork.url, Duration::from_secs(30), |i| {
        i["witnessing"]["witnesses"][0]["last_error"]
            .as_str()
            .is_some_and(|e| e.contains("422"))
    });
    assert!(witnessed_size(&info).is_none(), "{info:#}");
    let (status, body) = get_text(&format!("{}/checkpoint", fork.url));
    assert_eq!(status, 503, "{body}");
    assert!(
        body.contains("no checkpoint of this log has been cosigned"),
        "{body}"
    );
    let evidence = dir.join("w-a-data").join("evidence");
    assert!(
        evidence.exists(),
        "witness a keeps the refused fork as evidence"
    );
}
