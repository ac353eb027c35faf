//! One writer per log: a second `embargo serve` on a running log's data directory is refused,
//! names the running server, and never advises deleting anything; deleting the index
//! directory (what an older message advised) does not get it in either.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// Runs a second `embargo serve` on `data` and returns its exit status and stderr; it must
/// exit on its own, quickly.
fn second_serve(data: &Path, key: &Path) -> (Option<i32>, String) {
    let mut child = Command::new(common::bin())
        .args(["serve", "--data"])
        .arg(data)
        .arg("--key")
        .arg(key)
        .args(["--listen", &format!("127.0.0.1:{}", common::free_port())])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > Duration::from_secs(20) {
            child.kill().unwrap();
            panic!("the second server did not exit: it is serving the same data directory");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_second_serve_on_a_running_logs_directory_is_refused_and_names_the_running_server() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("log.key");
    common::keygen(dir.path(), "one-writer.test/log", "log.key");
    let data = dir.path().join("data");
    let first = common::Server::start(&data, &key, &[]);
    let size_before = common::http_get(&format!("{}/checkpoint", first.url)).1;

    for attempt in ["as is", "after deleting the index directory"] {
        if attempt != "as is" {
            std::fs::remove_dir_all(data.join("index")).unwrap();
        }
        let (code, stderr) = second_serve(&data, &key);
        assert_ne!(
            code,
            Some(0),
            "{attempt}: the second server exited 0:\n{stderr}"
        );
        assert!(
            stderr.contains(&format!("pid {}", first.pid())),
            "{attempt}: the refusal does not name the running server's pid:\n{stderr}"
        );
        assert!(
            stderr.contains(&format!("listening on {}", first.url)),
            "{attempt}: the refusal does not name where it listens ({}):\n{stderr}",
            first.url
        );
        assert!(
            !stderr.to_lowercase().contains("delete the"),
            "{attempt}: the refusal advises deleting something:\n{stderr}"
        );
    }
    // The first server is untouched and still the log's one writer.
    let (status, size_after) = common::http_get(&format!("{}/checkpoint", first.url));
    assert_eq!(status, 200);
    assert_eq!(size_after, size_before);
}
