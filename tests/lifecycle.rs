//! The whole life of a model commitment, through the real CLI and a real server process:
//! register, commit, sealed, (server killed and restarted), due, reveal, (restarted with its
//! index deleted, so it is rebuilt from the log), fetch and verify.

mod common;

use common::{
    add_party, commit, keygen, make_model, ok, refused, same_tree, status_of, wait_for_status,
    Server,
};
use std::path::Path;
use std::time::Duration;

#[test]
fn a_model_goes_from_commitment_to_verified_download_across_restarts() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let log_vkey = keygen(dir, "lifecycle.test/log", "log.key");
    let platform_vkey = keygen(dir, "social.example", "platform.key");
    let server = Server::start(&dir.join("data"), &dir.join("log.key"), &[]);
    let url = server.url.clone();

    add_party(dir, &url, "platform", "social.example", &platform_vkey);
    let model = make_model(dir, "model", 0);
    let digest_line = ok(dir, &["digest", "model"]);
    let commitment = commit(dir, &url, "model", "ranker", "1", "3s", &log_vkey);
    assert_eq!(status_of(dir, &url, &commitment), "sealed");
    let offline = ok(
        dir,
        &[
            "verify",
            "--vkey",
            &log_vkey,
            "--entry",
            "ranker-1.entry.json",
            "ranker-1.tlog-proof",
        ],
    );
    assert!(offline.starts_with("OK"), "{offline}");
    let err = refused(dir, &fetch(&commitment, &url, &log_vkey, "early"));
    assert!(err.contains("sealed"), "{err}");
    let err = refused(dir, &unsigned_reveal(&url, &commitment));
    assert!(err.contains("sealed"), "{err}");

    // The server dies between commit and reveal; the commitment survives.
    let server = server.crash_and_restart();
    assert_eq!(status_of(dir, &url, &commitment), "sealed");

    wait_for_status(dir, &url, &commitment, "due", Duration::from_secs(20));
    let reveal = ok(
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
    assert_eq!(status_of(dir, &url, &commitment), "revealed");
    let err = refused(dir, &unsigned_reveal(&url, &commitment));
    assert!(err.contains("already revealed"), "{err}");

    // Restart with the derived index gone: statuses are rebuilt from the log itself.
    drop(server);
    std::fs::remove_dir_all(dir.join("data/index")).unwrap();
    let server = Server::start(&dir.join("data"), &dir.join("log.key"), &[]);
    let url = server.url.clone();
    assert_eq!(status_of(dir, &url, &commitment), "revealed");

    let fetched = ok(dir, &fetch(&commitment, &url, &log_vkey, "fetched"));
    assert!(
        fetched.contains(&format!("revealed at entry {reveal}")),
        "{fetched}"
    );
    same_tree(&model, &dir.join("fetched"));
    assert!(digest_line.starts_with(&ok(dir, &["digest", "fetched"])[..64]));

    // The platform may reveal its own model early; a second fetch checks consistency with the
    // checkpoint the client remembered from the first.
    let second = commit(
        dir,
        &url,
        "model/config.json",
        "config",
        "1",
        "1d",
        &log_vkey,
    );
    reveal_early(dir, &url, "model/config.json", &second, &log_vkey);
    ok(dir, &fetch(&second, &url, &log_vkey, "fetched-config"));
    assert_eq!(
        std::fs::read(dir.join("fetched-config/config.json")).unwrap(),
        std::fs::read(model.join("config.json")).unwrap()
    );
    let listing = ok(dir, &["status", "--log", &url, "--status", "revealed"]);
    assert!(listing.contains("config@1"), "{listing}");
}

#[test]
fn fetch_catches_a_log_that_rewrites_history() {
    // Two logs under the same key: the client sees one, then is pointed at the other (a split
    // view). The consistency check against the remembered checkpoint must fail.
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let log_vkey = keygen(dir, "split.test/log", "log.key");
    let platform_vkey = keygen(dir, "social.example", "platform.key");
    let mut urls = Vec::new();
    let mut servers = Vec::new();
    for (i, data) in ["a", "b"].iter().enumerate() {
        let s = Server::start(&dir.join(data), &dir.join("log.key"), &[]);
        let url = s.url.clone();
        add_party(dir, &url, "platform", "social.example", &platform_vkey);
        // Different histories: log b gets an extra commitment first.
        if i == 1 {
            commit(dir, &url, "log.key", "other", "1", "1d", &log_vkey);
        }
        std::fs::write(dir.join("m.bin"), b"same model").unwrap();
        let c = commit(dir, &url, "m.bin", "m", "1", "1d", &log_vkey);
        reveal_early(dir, &url, "m.bin", &c, &log_vkey);
        urls.push((url, c));
        servers.push(s);
    }
    ok(dir, &fetch(&urls[0].1, &urls[0].0, &log_vkey, "from-a"));
    let err = refused(dir, &fetch(&urls[1].1, &urls[1].0, &log_vkey, "from-b"));
    assert!(
        err.contains("NOT consistent") || err.contains("different view"),
        "{err}"
    );
    assert!(!dir.join("from-b").exists());
}

/// The arguments of `embargo fetch` of commitment `index` into `out`.
fn fetch<'a>(index: &'a str, url: &'a str, log_vkey: &'a str, out: &'a str) -> [&'a str; 8] {
    [
        "fetch", index, "--log", url, "--vkey", log_vkey, "--out", out,
    ]
}

/// The arguments of `embargo reveal` of `model` for commitment `index`, unsigned.
fn unsigned_reveal<'a>(url: &'a str, index: &'a str) -> [&'a str; 6] {
    ["reveal", "model", "--log", url, "--commitment", index]
}

/// `embargo reveal` of `path` for commitment `index`, signed with `platform.key` (so before
/// its reveal time), checked against the log's `log_vkey`.
fn reveal_early(dir: &Path, url: &str, path: &str, index: &str, log_vkey: &str) {
    ok(
        dir,
        &[
            "reveal",
            path,
            "--log",
            url,
            "--commitment",
            index,
            "--key",
            "platform.key",
            "--vkey",
            log_vkey,
        ],
    );
}
