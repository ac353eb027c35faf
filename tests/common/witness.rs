//! `embargo witness serve` as a real process, for the tests that need witnesses: start it on a
//! free port, kill it, restart it, and talk to it over raw HTTP (status, content type, body).

use super::{bin, free_port};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// `embargo witness serve` on a free port, killed on drop; stderr in `<data>.log`.
pub struct WitnessProcess {
    pub child: Child,
    pub url: String,
    port: u16,
    args: Vec<String>,
    log: PathBuf,
}

impl WitnessProcess {
    pub fn start(key: &Path, data: &Path, logs: &[&str]) -> WitnessProcess {
        let mut args: Vec<String> = vec!["witness".into(), "serve".into()];
        args.extend(["--key".into(), key.display().to_string()]);
        args.extend(["--data".into(), data.display().to_string()]);
        for l in logs {
            args.extend(["--log".into(), (*l).to_owned()]);
        }
        let log = data.with_extension("log");
        for _ in 0..5 {
            match Self::spawn(free_port(), &args, &log) {
                Ok(w) => return w,
                Err(e) => eprintln!("witness start failed:\n{e}"),
            }
        }
        panic!("the witness did not start");
    }

    fn spawn(port: u16, args: &[String], log: &Path) -> Result<WitnessProcess, String> {
        let mut args = args.to_vec();
        args.extend(["--listen".into(), format!("127.0.0.1:{port}")]);
        let mut w = WitnessProcess {
            child: launch(&args, log),
            url: format!("http://127.0.0.1:{port}"),
            port,
            args: args[..args.len() - 2].to_vec(),
            log: log.to_owned(),
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while !w.stderr().contains("listening on http://") {
            if let Some(status) = w.child.try_wait().unwrap() {
                return Err(format!("exited with {status}:\n{}", w.stderr()));
            }
            if Instant::now() > deadline {
                return Err(format!("not listening after 30 s:\n{}", w.stderr()));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(w)
    }

    pub fn stderr(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// SIGKILL, then start again with the same flags and port.
    pub fn crash_and_restart(mut self) -> WitnessProcess {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
        std::fs::write(&self.log, "").unwrap();
        Self::spawn(self.port, &self.args, &self.log).unwrap()
    }

    pub fn post(&self, body: &[u8]) -> Answer {
        request(&self.url, "POST", "/add-checkpoint", body)
    }
}

impl Drop for WitnessProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn launch(args: &[String], log: &Path) -> Child {
    let err = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .unwrap();
    Command::new(bin())
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(err)
        .spawn()
        .expect("start embargo witness serve")
}

/// Status, `Content-Type` and body of an HTTP answer.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub content_type: String,
    pub body: String,
}

/// One HTTP/1.1 request over a raw socket (the shared helper does not return headers).
pub fn request(url: &str, method: &str, path: &str, body: &[u8]) -> Answer {
    let host = url.strip_prefix("http://").unwrap();
    let mut s = std::net::TcpStream::connect(host).unwrap();
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    let sent = s
        .write_all(head.as_bytes())
        .and_then(|()| s.write_all(body));
    let mut raw = Vec::new();
    let read = s.read_to_end(&mut raw);
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text
        .split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("no answer (send {sent:?}, read {read:?})"));
    let status = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    let content_type = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-type")
                .then(|| v.trim().to_owned())
        })
        .unwrap_or_default();
    Answer {
        status,
        content_type,
        body: body.to_owned(),
    }
}
