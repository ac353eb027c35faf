//! The whole life of a model commitment, through the real CLI and a real server process:
//! register, commit, sealed, (server killed and restarted), due, reveal, (restarted with its
//! index deleted, so it is rebuilt from the log), fetch and verify.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const TOKEN: &str = "lifecycle-operator-token";

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_embargo")
}

struct Server {
    child: Child,
    url: String,
    port: u16,
    data: PathBuf,
    key: PathBuf,
}

impl Server {
    fn start(data: &Path, key: &Path, port: u16) -> Server {
        let child = Command::new(bin())
            .args(["serve", "--data"])
            .arg(data)
            .arg("--key")
            .arg(key)
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .args(["--interval", "20ms", "--min-embargo", "1s", "--grace", "1h"])
            .env("EMBARGO_OPERATOR_TOKEN", TOKEN)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the server");
        let s = Server {
            child,
            url: format!("http://127.0.0.1:{port}"),
            port,
            data: data.to_owned(),
            key: key.to_owned(),
        };
        s.wait_ready();
        s
    }

    fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("the server did not start");
    }

    /// SIGKILL, then start again on the same data directory and port.
    fn crash_and_restart(mut self) -> Server {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
        Server::start(&self.data.clone(), &self.key.clone(), self.port)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn embargo(dir: &Path, args: &[&str]) -> Output {
    Command::new(bin())
        .args(args)
        .current_dir(dir)
        .env("EMBARGO_OPERATOR_TOKEN", TOKEN)
        .env("EMBARGO_STATE", dir.join("client-state.json"))
        .output()
        .expect("run embargo")
}

/// Runs the CLI, asserts success, returns stdout's last line.
fn ok(dir: &Path, args: &[&str]) -> String {
    let out = embargo(dir, args);
    assert!(
        out.status.success(),
        "embargo {args:?} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .last()
        .unwrap_or_default()
        .to_owned()
}

/// Runs the CLI, asserts failure, returns stderr.
fn refused(dir: &Path, args: &[&str]) -> String {
    let out = embargo(dir, args);
    assert!(!out.status.success(), "embargo {args:?} should have failed");
    String::from_utf8(out.stderr).unwrap()
}

fn status_of(dir: &Path, url: &str, index: &str) -> String {
    ok(dir, &["status", "--log", url, index])
        .split_whitespace()
        .nth(1)
        .unwrap()
        .to_owned()
}

fn make_model(dir: &Path) -> PathBuf {
    let model = dir.join("model");
    std::fs::create_dir_all(model.join("tokenizer")).unwrap();
    let weights: Vec<u8> = (0..3_000_000u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    std::fs::write(model.join("weights.bin"), weights).unwrap();
    std::fs::write(model.join("config.json"), b"{\"layers\":2}\n").unwrap();
    std::fs::write(model.join("tokenizer/vocab.txt"), b"a\nb\n").unwrap();
    std::fs::write(model.join("empty"), b"").unwrap();
    model
}

fn same_tree(a: &Path, b: &Path) {
    for entry in std::fs::read_dir(a).unwrap() {
        let entry = entry.unwrap();
        let other = b.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            same_tree(&entry.path(), &other);
        } else {
            assert_eq!(
                std::fs::read(entry.path()).unwrap(),
                std::fs::read(&other).unwrap(),
                "{}",
                other.display()
            );
        }
    }
}

#[test]
fn a_model_goes_from_commitment_to_verified_download_across_restarts() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let log_vkey = ok(
        dir,
        &["keygen", "--name", "lifecycle.test/log", "--out", "log.key"],
    );
    let platform_vkey = ok(
        dir,
        &[
            "keygen",
            "--name",
            "social.example",
            "--out",
            "platform.key",
        ],
    );
    let server = Server::start(&dir.join("data"), &dir.join("log.key"), free_port());
    let url = server.url.clone();

    ok(
        dir,
        &[
            "platform",
            "add",
            "social.example",
            "--vkey",
            &platform_vkey,
            "--log",
            &url,
        ],
    );
    let model = make_model(dir);
    let digest_line = ok(dir, &["digest", "model"]);
    let commitment = ok(
        dir,
        &[
            "commit",
            "model",
            "--log",
            &url,
            "--key",
            "platform.key",
            "--name",
            "ranker",
            "--version",
            "1",
            "--reveal-after",
            "3s",
            "--vkey",
            &log_vkey,
        ],
    );
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
    let err = refused(
        dir,
        &[
            "fetch",
            &commitment,
            "--log",
            &url,
            "--vkey",
            &log_vkey,
            "--out",
            "early",
        ],
    );
    assert!(err.contains("sealed"), "{err}");
    let err = refused(
        dir,
        &[
            "reveal",
            "model",
            "--log",
            &url,
            "--commitment",
            &commitment,
        ],
    );
    assert!(err.contains("sealed"), "{err}");

    // The server dies between commit and reveal; the commitment survives.
    let server = server.crash_and_restart();
    assert_eq!(status_of(dir, &url, &commitment), "sealed");

    let deadline = Instant::now() + Duration::from_secs(20);
    while status_of(dir, &url, &commitment) != "due" {
        assert!(Instant::now() < deadline, "never became due");
        std::thread::sleep(Duration::from_millis(200));
    }
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
    let err = refused(
        dir,
        &[
            "reveal",
            "model",
            "--log",
            &url,
            "--commitment",
            &commitment,
        ],
    );
    assert!(err.contains("already revealed"), "{err}");

    // Restart with the derived index gone: statuses are rebuilt from the log itself.
    drop(server);
    std::fs::remove_dir_all(dir.join("data/index")).unwrap();
    let server = Server::start(&dir.join("data"), &dir.join("log.key"), free_port());
    let url = server.url.clone();
    assert_eq!(status_of(dir, &url, &commitment), "revealed");

    let fetched = ok(
        dir,
        &[
            "fetch",
            &commitment,
            "--log",
            &url,
            "--vkey",
            &log_vkey,
            "--out",
            "fetched",
        ],
    );
    assert!(
        fetched.contains(&format!("revealed at entry {reveal}")),
        "{fetched}"
    );
    same_tree(&model, &dir.join("fetched"));
    assert!(digest_line.starts_with(&ok(dir, &["digest", "fetched"])[..64]));

    // The platform may reveal its own model early; a second fetch checks consistency with the
    // checkpoint the client remembered from the first.
    let second = ok(
        dir,
        &[
            "commit",
            "model/config.json",
            "--log",
            &url,
            "--key",
            "platform.key",
            "--name",
            "config",
            "--version",
            "1",
            "--reveal-after",
            "1d",
            "--vkey",
            &log_vkey,
        ],
    );
    ok(
        dir,
        &[
            "reveal",
            "model/config.json",
            "--log",
            &url,
            "--commitment",
            &second,
            "--key",
            "platform.key",
            "--vkey",
            &log_vkey,
        ],
    );
    ok(
        dir,
        &[
            "fetch",
            &second,
            "--log",
            &url,
            "--vkey",
            &log_vkey,
            "--out",
            "fetched-config",
        ],
    );
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
    let log_vkey = ok(
        dir,
        &["keygen", "--name", "split.test/log", "--out", "log.key"],
    );
    let platform_vkey = ok(
        dir,
        &[
            "keygen",
            "--name",
            "social.example",
            "--out",
            "platform.key",
        ],
    );
    let mut urls = Vec::new();
    let mut servers = Vec::new();
    for (i, data) in ["a", "b"].iter().enumerate() {
        let s = Server::start(&dir.join(data), &dir.join("log.key"), free_port());
        let url = s.url.clone();
        ok(
            dir,
            &[
                "platform",
                "add",
                "social.example",
                "--vkey",
                &platform_vkey,
                "--log",
                &url,
            ],
        );
        // Different histories: log b gets an extra commitment first.
        if i == 1 {
            ok(
                dir,
                &[
                    "commit",
                    "log.key",
                    "--log",
                    &url,
                    "--key",
                    "platform.key",
                    "--name",
                    "other",
                    "--version",
                    "1",
                    "--reveal-after",
                    "1d",
                    "--vkey",
                    &log_vkey,
                ],
            );
        }
        std::fs::write(dir.join("m.bin"), b"same model").unwrap();
        let c = ok(
            dir,
            &[
                "commit",
                "m.bin",
                "--log",
                &url,
                "--key",
                "platform.key",
                "--name",
                "m",
                "--version",
                "1",
                "--reveal-after",
                "1d",
                "--vkey",
                &log_vkey,
            ],
        );
        ok(
            dir,
            &[
                "reveal",
                "m.bin",
                "--log",
                &url,
                "--commitment",
                &c,
                "--key",
                "platform.key",
                "--vkey",
                &log_vkey,
            ],
        );
        urls.push((url, c));
        servers.push(s);
    }
    ok(
        dir,
        &[
            "fetch", &urls[0].1, "--log", &urls[0].0, "--vkey", &log_vkey, "--out", "from-a",
        ],
    );
    let err = refused(
        dir,
        &[
            "fetch", &urls[1].1, "--log", &urls[1].0, "--vkey", &log_vkey, "--out", "from-b",
        ],
    );
    assert!(
        err.contains("NOT consistent") || err.contains("different view"),
        "{err}"
    );
    assert!(!dir.join("from-b").exists());
}
