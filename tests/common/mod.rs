//! What the integration tests that drive the real `embargo` binary share: a server process
//! on a free port, running the CLI, and test models.

#![allow(dead_code)]

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
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

/// `embargo serve` on a free port, killed on drop.
pub struct Server {
    child: Child,
    pub url: String,
    pub port: u16,
}

impl Server {
    /// Starts a log in `data` with key `key`, a 20 ms batch interval, a 1 s minimum embargo,
    /// and `extra` flags (relative paths in them are relative to `data`'s parent).
    pub fn start(data: &Path, key: &Path, extra: &[&str]) -> Server {
        let port = free_port();
        let child = Command::new(bin())
            .args(["serve", "--data"])
            .arg(data)
            .arg("--key")
            .arg(key)
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .args(["--interval", "20ms", "--min-embargo", "1s", "--grace", "1h"])
            .args(extra)
            .current_dir(data.parent().expect("data has a parent"))
            .env("EMBARGO_OPERATOR_TOKEN", TOKEN)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the server");
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "the server did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        Server {
            child,
            url: format!("http://127.0.0.1:{port}"),
            port,
        }
    }
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
    raw_http::request("GET", url, None)
}

/// A minimal blocking request with a body; a server that answers before reading all of it is
/// fine (the answer is still read).
pub fn http_send(method: &str, url: &str, content_type: &str, body: &[u8]) -> (u16, Vec<u8>) {
    raw_http::request(method, url, Some((content_type, body)))
}

mod raw_http {
    use std::io::{Read, Write};

    pub fn request(method: &str, url: &str, body: Option<(&str, &[u8])>) -> (u16, Vec<u8>) {
        let rest = url.strip_prefix("http://").expect("http URL");
        let (host, path) = rest
            .split_once('/')
            .map_or((rest, "/".to_owned()), |(h, p)| (h, format!("/{p}")));
        let mut s = std::net::TcpStream::connect(host).unwrap();
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
        assert!(
            !raw.is_empty(),
            "no answer to {method} {url} (send: {sent:?}, read: {read:?})"
        );
        let split = raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
        let head = String::from_utf8_lossy(&raw[..split]).into_owned();
        let status = head.split_whitespace().nth(1).unwrap().parse().unwrap();
        let mut body = raw[split + 4..].to_vec();
        if head
            .to_ascii_lowercase()
            .contains("transfer-encoding: chunked")
        {
            body = dechunk(&body);
        }
        (status, body)
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
