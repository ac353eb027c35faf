//! What the integration tests that drive the real `embargo` binary share: a server process
//! on a free port, running the CLI, and test models.

#![allow(dead_code)]

pub mod witness;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

pub const TOKEN: &str = "integration-operator-token";

pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_embargo")
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `embargo serve` on 127.0.0.1, killed on drop. Its stderr goes to `<data>.log`.
pub struct Server {
    child: Child,
    pub url: String,
    port: u16,
    data: PathBuf,
    key: PathBuf,
    flags: Vec<String>,
}

/// The flags [`Server::start`] adds: a 20 ms batch interval, a 1 s minimum embargo and a 1 h
/// grace.
const QUICK: [&str; 6] = ["--interval", "20ms", "--min-embargo", "1s", "--grace", "1h"];

impl Server {
    /// Starts a log in `data` with key `key`, a 20 ms batch interval, a 1 s minimum embargo,
    /// a 1 h grace, and `extra` flags (relative paths in them are relative to `data`'s parent).
    pub fn start(data: &Path, key: &Path, extra: &[&str]) -> Server {
        let flags: Vec<&str> = QUICK.iter().chain(extra).copied().collect();
        Server::with_flags(data, key, &flags)
    }

    /// Starts a log in `data` with key `key` and only `flags` (none of [`Server::start`]'s), on a
    /// free port, and waits until it serves its API. A server that exits first (most
    /// likely another process took the port) is tried again on another port, five times.
    pub fn with_flags(data: &Path, key: &Path, flags: &[&str]) -> Server {
        let flags: Vec<String> = flags.iter().map(|f| f.to_string()).collect();
        for attempt in 0..5 {
            match Server::spawn(data, key, free_port(), flags.clone()) {
                Ok(server) => return server,
                Err(log) => eprintln!("server start attempt {attempt} failed:\n{log}"),
            }
        }
        panic!("the server did not start (see the logs above)");
    }

    /// SIGKILL, then start again on the same data directory, key, port and flags.
    pub fn crash_and_restart(mut self) -> Server {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
        Server::spawn(&self.data, &self.key, self.port, self.flags.clone())
            .unwrap_or_else(|log| panic!("the server did not start again:\n{log}"))
    }

    /// The server process's id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// What the server has written to stderr (over all its starts).
    pub fn log(&self) -> String {
        std::fs::read_to_string(log_path(&self.data)).unwrap_or_default()
    }

    /// The server's exit status, if it has exited.
    pub fn exited(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().unwrap()
    }

    /// One start on `port`; the server's log if it exits or does not serve within 30 s.
    fn spawn(data: &Path, key: &Path, port: u16, flags: Vec<String>) -> Result<Server, String> {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log_path(data))
            .expect("open the server log");
        let child = Command::new(bin())
            .args(["serve", "--data"])
            .arg(data)
            .arg("--key")
            .arg(key)
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .args(&flags)
            .current_dir(data.parent().expect("data has a parent"))
            .env("EMBARGO_OPERATOR_TOKEN", TOKEN)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start the server");
        let mut server = Server {
            child,
            url: format!("http://127.0.0.1:{port}"),
            port,
            data: data.to_owned(),
            key: key.to_owned(),
            flags,
        };
        // `/v1/log`, not `/checkpoint`: a log with witnesses serves no checkpoint until one
        // meets its policy, but it is up.
        let checkpoint = format!("{}/v1/log", server.url);
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = server.exited() {
                return Err(format!(
                    "embargo serve exited with {status}:\n{}",
                    server.log()
                ));
            }
            if raw_http::request("GET", &checkpoint, None).is_ok_and(|(status, _)| status == 200) {
                return Ok(server);
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "embargo serve did not answer within 30 s:\n{}",
                    server.log()
                ));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// Where a server with data directory `data` writes its stderr: `<data>.log`.
fn log_path(data: &Path) -> PathBuf {
    let mut path = data.as_os_str().to_owned();
    path.push(".log");
    PathBuf::from(path)
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs the CLI in `dir`.
pub fn embargo(dir: &Path, args: &[&str]) -> Output {
    Command::new(bin())
        .args(args)
        .current_dir(dir)
        .env("EMBARGO_OPERATOR_TOKEN", TOKEN)
        .env("EMBARGO_STATE", dir.join("client-state.json"))
        .output()
        .expect("run embargo")
}

/// Runs the CLI, asserts success, returns stdout's last line.
pub fn ok(dir: &Path, args: &[&str]) -> String {
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

/// Runs the CLI, asserts success, returns all of stdout.
pub fn ok_all(dir: &Path, args: &[&str]) -> String {
    let out = embargo(dir, args);
    assert!(
        out.status.success(),
        "embargo {args:?} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Runs the CLI, asserts failure, returns stderr.
pub fn refused(dir: &Path, args: &[&str]) -> String {
    let out = embargo(dir, args);
    assert!(
        !out.status.success(),
        "embargo {args:?} should have failed:\n{}",
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8(out.stderr).unwrap()
}

/// `embargo keygen` of a key named `name` into `out`; returns its verifier key.
pub fn keygen(dir: &Path, name: &str, out: &str) -> String {
    ok(dir, &["keygen", "--name", name, "--out", out])
}

/// Registers party `name` with verifier key `vkey` and `role` (`platform` or `auditor`: the
/// CLI command) at the log at `url`.
pub fn add_party(dir: &Path, url: &str, role: &str, name: &str, vkey: &str) {
    ok(dir, &[role, "add", name, "--vkey", vkey, "--log", url]);
}

/// `embargo commit` of `path` as `name`@`version`, signed with `platform.key`, sealed for
/// `reveal_after`, its proof checked against the log's `log_vkey`; returns its index.
pub fn commit(
    dir: &Path,
    url: &str,
    path: &str,
    name: &str,
    version: &str,
    reveal_after: &str,
    log_vkey: &str,
) -> String {
    ok(
        dir,
        &[
            "commit",
            path,
            "--log",
            url,
            "--key",
            "platform.key",
            "--name",
            name,
            "--version",
            version,
            "--reveal-after",
            reveal_after,
            "--vkey",
            log_vkey,
        ],
    )
}

/// The status `embargo status` prints for one commitment.
pub fn status_of(dir: &Path, url: &str, index: &str) -> String {
    ok(dir, &["status", "--log", url, index])
        .split_whitespace()
        .nth(1)
        .unwrap()
        .to_owned()
}

/// Polls until commitment `index` has `status`.
pub fn wait_for_status(dir: &Path, url: &str, index: &str, status: &str, within: Duration) {
    let deadline = Instant::now() + within;
    loop {
        let now = status_of(dir, url, index);
        if now == status {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "commitment {index} is still {now}, never became {status}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// A small model directory: a 3 MB weights file (three 1 MiB chunks), a config, a nested
/// file and an empty one. `seed` changes the weights.
pub fn make_model(dir: &Path, name: &str, seed: u32) -> PathBuf {
    let model = dir.join(name);
    std::fs::create_dir_all(model.join("tokenizer")).unwrap();
    let weights: Vec<u8> = (0..3_000_000u32)
        .map(|i| (i.wrapping_add(seed).wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    std::fs::write(model.join("weights.bin"), weights).unwrap();
    std::fs::write(model.join("config.json"), b"{\"layers\":2}\n").unwrap();
    std::fs::write(model.join("tokenizer/vocab.txt"), b"a\nb\n").unwrap();
    std::fs::write(model.join("empty"), b"").unwrap();
    model
}

/// Asserts two directory trees hold the same files with the same bytes.
pub fn same_tree(a: &Path, b: &Path) {
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

/// GETs `url` (plain HTTP on 127.0.0.1) and returns the status and body.
/// A minimal blocking GET over a raw socket, so tests need no async runtime.
pub fn http_get(url: &str) -> (u16, Vec<u8>) {
    raw_http::request("GET", url, None).unwrap_or_else(|e| panic!("GET {url}: {e}"))
}

/// A minimal blocking request with a body; a server that answers before reading all of it is
/// fine (the answer is still read).
pub fn http_send(method: &str, url: &str, content_type: &str, body: &[u8]) -> (u16, Vec<u8>) {
    raw_http::request(method, url, Some((content_type, body)))
        .unwrap_or_else(|e| panic!("{method} {url}: {e}"))
}

mod raw_http {
    use std::io::{Read, Write};

    /// Sends one request; an error if there is no connection or no HTTP answer.
    pub fn request(
        method: &str,
        url: &str,
        body: Option<(&str, &[u8])>,
    ) -> Result<(u16, Vec<u8>), String> {
        let rest = url.strip_prefix("http://").expect("http URL");
        let (host, path) = rest
            .split_once('/')
            .map_or((rest, "/".to_owned()), |(h, p)| (h, format!("/{p}")));
        let mut s =
            std::net::TcpStream::connect(host).map_err(|e| format!("cannot connect: {e}"))?;
        let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n");
        if let Some((content_type, bytes)) = body {
            head += &format!(
                "Content-Type: {content_type}\r\nContent-Length: {}\r\n",
                bytes.len()
            );
        }
        head += "\r\n";
        let sent = s.write_all(head.as_bytes()).and_then(|()| match body {
            Some((_, bytes)) => s.write_all(bytes),
            None => Ok(()),
        });
        let mut raw = Vec::new();
        let read = s.read_to_end(&mut raw);
        let split = raw
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .ok_or_else(|| format!("no answer (send: {sent:?}, read: {read:?})"))?;
        let head = String::from_utf8_lossy(&raw[..split]).into_owned();
        let status = head.split_whitespace().nth(1).unwrap().parse().unwrap();
        let mut body = raw[split + 4..].to_vec();
        if head
            .to_ascii_lowercase()
            .contains("transfer-encoding: chunked")
        {
            body = dechunk(&body);
        }
        Ok((status, body))
    }

    fn dechunk(mut b: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        loop {
            let line_end = b.windows(2).position(|w| w == b"\r\n").unwrap();
            let size =
                usize::from_str_radix(std::str::from_utf8(&b[..line_end]).unwrap().trim(), 16)
                    .unwrap();
            if size == 0 {
                return out;
            }
            out.extend_from_slice(&b[line_end + 2..line_end + 2 + size]);
            b = &b[line_end + 2 + size + 2..];
        }
    }
}
