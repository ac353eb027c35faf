//! Clients that try to stall the log, against a real `embargo serve` process: slow uploads,
//! trickled reveals, slow headers, floods of submissions, idle connections at shutdown, and
//! malformed requests on every route. Limits are lowered by flags so each test takes seconds.

mod common;

use common::{add_party, commit, keygen, make_model, Server};
use embargo::core::dsse::{Envelope, EnvelopeSignature};
use embargo::core::note::KeyPair;
use serde_json::{json, Value};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::time::{Duration, Instant};

/// The flags every test's server runs with, before its own.
const QUICK: [&str; 6] = ["--interval", "20ms", "--min-embargo", "1s", "--grace", "1h"];

struct Setup {
    tmp: tempfile::TempDir,
    server: Server,
    log_vkey: String,
}

impl Setup {
    fn dir(&self) -> &Path {
        self.tmp.path()
    }

    fn addr(&self) -> String {
        self.server.url.trim_start_matches("http://").to_owned()
    }
}

/// A log with a registered platform (`platform.key`), serving with `flags` after [`QUICK`].
fn setup(flags: &[&str]) -> Setup {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let log_vkey = keygen(dir, "hostile.test/log", "log.key");
    let platform = keygen(dir, "social.example", "platform.key");
    let overridden = |f: &&str| flags.contains(f);
    let quick = QUICK
        .chunks(2)
        .filter(|pair| !overridden(&pair[0]))
        .flatten();
    let all: Vec<&str> = quick.chain(flags).copied().collect();
    let server = Server::with_flags(&dir.join("data"), &dir.join("log.key"), &all);
    add_party(dir, &server.url, "platform", "social.example", &platform);
    Setup {
        tmp,
        server,
        log_vkey,
    }
}

/// `n` commitments (models `m0`, `m1`, ...) whose reveal_at has passed; their indexes.
fn due_commitments(s: &Setup, n: u32) -> Vec<String> {
    let indexes: Vec<String> = (0..n)
        .map(|i| {
            let name = format!("m{i}");
            make_model(s.dir(), &name, i);
            commit(s.dir(), &s.server.url, &name, &name, "1", "2s", &s.log_vkey)
        })
        .collect();
    for i in &indexes {
        common::wait_for_status(s.dir(), &s.server.url, i, "due", Duration::from_secs(10));
    }
    indexes
}

/// Opens a request with `head` (the request line and headers, without the blank line) and
/// sends `body_start` of its body; the connection is held open.
fn start_request(addr: &str, head: &str, body_start: &[u8]) -> TcpStream {
    let mut s = TcpStream::connect(addr).unwrap();
    s.write_all(format!("{head}\r\n\r\n").as_bytes()).unwrap();
    s.write_all(body_start).unwrap();
    s
}

/// A reveal upload of commitment `index` declaring `len` bytes, of which `start` are sent.
fn slow_reveal(addr: &str, index: &str, len: u64, start: &[u8]) -> TcpStream {
    start_request(
        addr,
        &format!(
            "POST /v1/commitments/{index}/reveal HTTP/1.1\r\nHost: {addr}\r\nContent-Length: {len}"
        ),
        start,
    )
}

/// The status, headers (lowercased) and body of the answer on `s`, if one comes within
/// `within`.
fn answer(s: &mut TcpStream, within: Duration) -> Option<(u16, String, Value)> {
    s.set_read_timeout(Some(within)).unwrap();
    let mut raw = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => raw.extend_from_slice(&buf[..n]),
        }
        if let Some(v) = parse_answer(&raw) {
            return Some(v);
        }
    }
    parse_answer(&raw)
}

fn parse_answer(raw: &[u8]) -> Option<(u16, String, Value)> {
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = String::from_utf8_lossy(&raw[..split]).to_ascii_lowercase();
    let status = head.split_whitespace().nth(1)?.parse().ok()?;
    let len: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))?
        .trim()
        .parse()
        .ok()?;
    let body = raw.get(split + 4..split + 4 + len)?;
    Some((
        status,
        head,
        serde_json::from_slice(body).unwrap_or(Value::Null),
    ))
}

/// Asserts a JSON refusal with `status` and error `code`.
fn assert_json_refusal(got: &(u16, String, Value), status: u16, code: &str) {
    assert_eq!(got.0, status, "{got:?}");
    assert_eq!(got.2["error"], code, "{got:?}");
    assert!(
        got.2["message"].as_str().is_some_and(|m| m.len() > 10),
        "{got:?}"
    );
}

/// A field of `/proc/<pid>/status` (e.g. `Threads`, `VmRSS` in kB).
fn proc_status(pid: u32, field: &str) -> u64 {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap()
}

fn open_fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .count()
}

/// How long each of `n` GETs of `path` took; panics on anything but 200.
fn timed_gets(url: &str, path: &str, n: usize) -> Vec<Duration> {
    let mut times: Vec<Duration> = (0..n)
        .map(|_| {
            let t = Instant::now();
            let (status, _) = common::http_get(&format!("{url}{path}"));
            assert_eq!(status, 200, "GET {path}");
            t.elapsed()
        })
        .collect();
    times.sort();
    times
}

fn p99(sorted: &[Duration]) -> Duration {
    sorted[(sorted.len() * 99 / 100).min(sorted.len() - 1)]
}

fn log_size(url: &str) -> u64 {
    let (_, cp) = common::http_get(&format!("{url}/checkpoint"));
    String::from_utf8(cp)
        .unwrap()
        .lines()
        .nth(1)
        .unwrap()
        .parse()
        .unwrap()
}

#[test]
fn slow_uploads_hold_no_more_than_the_upload_bound_and_tiles_stay_fast() {
    let s = setup(&[
        "--max-uploads",
        "2",
        "--max-connections-per-client",
        "2000",
        "--body-grace",
        "60s",
    ]);
    let c = due_commitments(&s, 3);
    let addr = s.addr();
    let magic = b"embargo-model-stream/v1\n";
    let _held: Vec<TcpStream> = c[..2]
        .iter()
        .map(|i| slow_reveal(&addr, i, 3_100_000, magic))
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    // A third upload is over the bound: refused at once, not queued.
    let mut third = slow_reveal(&addr, &c[2], 3_100_000, magic);
    let got = answer(&mut third, Duration::from_secs(3)).expect("an answer to the third upload");
    assert_json_refusal(&got, 503, "busy");
    assert!(got.1.contains("retry-after: 1"), "{}", got.1);
    // 500 more slow uploads to a commitment being revealed: each refused at once.
    let mut flood: Vec<TcpStream> = (0..500)
        .map(|_| slow_reveal(&addr, &c[0], 3_100_000, magic))
        .collect();
    let got = answer(&mut flood[499], Duration::from_secs(3)).expect("an answer");
    assert_json_refusal(&got, 409, "reveal_in_progress");
    let size = log_size(&s.server.url);
    let tiles = timed_gets(&s.server.url, &format!("/tile/entries/000.p/{size}"), 100);
    let checkpoints = timed_gets(&s.server.url, "/checkpoint", 100);
    let threads = proc_status(s.server.pid(), "Threads");
    eprintln!(
        "tile p99 {:?}, checkpoint p99 {:?}, server threads {threads}",
        p99(&tiles),
        p99(&checkpoints)
    );
    assert!(p99(&tiles) < Duration::from_millis(100), "{tiles:?}");
    assert!(p99(&checkpoints) < Duration::from_millis(100));
    assert!(threads < 100, "{threads} threads with 2 uploads admitted");
}

#[test]
fn a_trickled_reveal_is_dropped_and_the_real_one_goes_through() {
    let s = setup(&["--body-grace", "1s", "--min-body-rate", "1000"]);
    let c = due_commitments(&s, 1);
    let addr = s.addr();
    let index = c[0].clone();
    let trickler = std::thread::spawn(move || {
        let mut conn = slow_reveal(&addr, &index, 3_100_000, b"e");
        for b in b"mbargo-model-stream/v1\n" {
            std::thread::sleep(Duration::from_millis(200));
            if conn.write_all(&[*b]).is_err() {
                break;
            }
        }
        answer(&mut conn, Duration::from_secs(5))
    });
    std::thread::sleep(Duration::from_millis(300));
    let started = Instant::now();
    let revealed = loop {
        let out = common::embargo(
            s.dir(),
            &[
                "reveal",
                "m0",
                "--log",
                &s.server.url,
                "--commitment",
                &c[0],
                "--vkey",
                &s.log_vkey,
            ],
        );
        if out.status.success() {
            break started.elapsed();
        }
        // While the trickle holds the commitment: 409 reveal_in_progress (or, as the log
        // answers before reading the upload, a broken pipe on the client's side).
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            started.elapsed() < Duration::from_secs(8),
            "still refused: {err}"
        );
        std::thread::sleep(Duration::from_millis(250));
    };
    eprintln!("the real reveal went through {revealed:?} after the trickle began");
    let got = trickler.join().unwrap().expect("the trickler is answered");
    assert_json_refusal(&got, 400, "upload_failed");
    assert!(
        got.2["message"].as_str().unwrap().contains("bytes/s"),
        "{got:?}"
    );
}

/// A socket from `from` (another loopback address) to `addr`.
async fn connect_from(from: &str, addr: &str) -> std::io::Result<tokio::net::TcpStream> {
    let sock = tokio::net::TcpSocket::new_v4()?;
    sock.bind(format!("{from}:0").parse().unwrap())?;
    sock.connect(addr.parse().unwrap()).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_headers_from_one_address_do_not_starve_the_checkpoint() {
    let s = setup(&[
        "--header-timeout",
        "2s",
        "--max-connections-per-client",
        "32",
    ]);
    let pid = s.server.pid();
    // A low file descriptor limit, as in the report (ulimit -n 256).
    let lim = libc::rlimit {
        rlim_cur: 256,
        rlim_max: 256,
    };
    // SAFETY: prlimit only reads `lim`.
    let set = unsafe {
        libc::prlimit(
            pid as libc::pid_t,
            libc::RLIMIT_NOFILE,
            &lim,
            std::ptr::null_mut(),
        )
    };
    assert_eq!(set, 0, "prlimit");
    let addr = s.addr();
    let mut held = Vec::new();
    for _ in 0..300 {
        let mut sock = connect_from("127.0.0.2", &addr).await.unwrap();
        let _ =
            tokio::io::AsyncWriteExt::write_all(&mut sock, b"GET /checkpoint HTTP/1.1\r\nHo").await;
        held.push(sock);
    }
    let url = s.server.url.clone();
    let times = tokio::task::spawn_blocking(move || timed_gets(&url, "/checkpoint", 50))
        .await
        .unwrap();
    let fds = open_fds(pid);
    eprintln!(
        "checkpoint p99 {:?} with 300 slow-header sockets; server fds {fds}",
        p99(&times)
    );
    assert!(p99(&times) < Duration::from_millis(300), "{times:?}");
    assert!(fds < 200, "{fds} open file descriptors");
    // The header timeout closes the slow ones the caps let in.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let mut buf = [0u8; 16];
    let first = &mut held[0];
    let read = tokio::time::timeout(
        Duration::from_secs(2),
        tokio::io::AsyncReadExt::read(first, &mut buf),
    )
    .await;
    assert!(
        matches!(read, Ok(Ok(0)) | Ok(Err(_))),
        "a slow-header connection still open: {read:?}"
    );
}

#[test]
fn connections_over_the_caps_are_answered_503_and_closed() {
    let s = setup(&[
        "--max-connections",
        "20",
        "--max-connections-per-client",
        "10",
    ]);
    let addr = s.addr();
    // 10 idle connections from this address: the 11th is over the per-client cap.
    let _mine: Vec<TcpStream> = (0..10)
        .map(|_| TcpStream::connect(&addr).unwrap())
        .collect();
    std::thread::sleep(Duration::from_millis(200));
    let mut over = TcpStream::connect(&addr).unwrap();
    let got = answer(&mut over, Duration::from_secs(2)).expect("a 503");
    assert_json_refusal(&got, 503, "too_many_connections");
    assert!(got.2["message"].as_str().unwrap().contains("per-client"));
    assert!(got.1.contains("retry-after: 1"));
    // 10 more from another address fill the total cap of 20.
    let rt = tokio::runtime::Runtime::new().unwrap();
    let _theirs: Vec<_> = (0..10)
        .map(|_| rt.block_on(connect_from("127.0.0.3", &addr)).unwrap())
        .collect();
    std::thread::sleep(Duration::from_millis(200));
    let mut sock = rt
        .block_on(connect_from("127.0.0.4", &addr))
        .unwrap()
        .into_std()
        .unwrap();
    sock.set_nonblocking(false).unwrap();
    let got = answer(&mut sock, Duration::from_secs(2)).expect("a 503");
    assert_json_refusal(&got, 503, "too_many_connections");
    assert!(
        s.server.log().contains("connections turned away"),
        "{}",
        s.server.log()
    );
}

/// A statement of a kind that is not Embargo's, distinct per `n`.
fn custom_statement(n: u64) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [{"name": format!("item-{n}"), "digest": {"sha256": "ab".repeat(32)}}],
        "predicateType": "https://example.org/note/v1",
        "predicate": {"n": n},
    }))
    .unwrap()
}

#[test]
fn a_flood_of_submissions_is_answered_503_with_retry_after() {
    let writer = KeyPair::generate("writer.example").unwrap();
    let vkey = writer.public().to_string();
    let s = setup(&[
        "--interval",
        "500ms",
        "--max-pending-submissions",
        "8",
        "--allow-key",
        &vkey,
    ]);
    let url = s.server.url.clone();
    let workers: Vec<_> = (0..64u64)
        .map(|n| {
            let body = serde_json::to_vec(&Envelope::sign(&custom_statement(n), &writer)).unwrap();
            let url = url.clone();
            std::thread::spawn(move || {
                let addr = url.trim_start_matches("http://").to_owned();
                let mut conn = start_request(
                    &addr,
                    &format!("POST /v1/entries HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}", body.len()),
                    &body,
                );
                answer(&mut conn, Duration::from_secs(10)).expect("an answer")
            })
        })
        .collect();
    let answers: Vec<_> = workers.into_iter().map(|w| w.join().unwrap()).collect();
    let busy: Vec<_> = answers.iter().filter(|a| a.0 == 503).collect();
    let created = answers.iter().filter(|a| a.0 == 201).count();
    eprintln!(
        "{created} created, {} refused 503 of {}",
        busy.len(),
        answers.len()
    );
    assert!(
        !busy.is_empty(),
        "no 503 with 8 pending submissions allowed"
    );
    assert!(created >= 8, "{answers:?}");
    assert_eq!(created + busy.len(), answers.len(), "{answers:?}");
    for b in busy {
        assert_json_refusal(b, 503, "busy");
        assert!(b.1.contains("retry-after: 1"));
    }
    let rss = proc_status(s.server.pid(), "VmRSS");
    eprintln!("server RSS after the flood: {rss} kB");
    assert!(rss < 200 * 1024, "{rss} kB");
}

#[test]
fn the_same_signature_twice_or_reordered_does_not_bypass_dedup() {
    let a = KeyPair::generate("a.example").unwrap();
    let b = KeyPair::generate("b.example").unwrap();
    let (va, vb) = (a.public().to_string(), b.public().to_string());
    let s = setup(&["--allow-key", &va, "--allow-key", &vb]);
    let payload = custom_statement(1);
    let sig = |k: &KeyPair| Envelope::sign(&payload, k).signatures.remove(0);
    let mut both = Envelope::sign(&payload, &a);
    both.signatures.push(sig(&b));
    let post = |env: &Envelope| {
        common::http_send(
            "POST",
            &format!("{}/v1/entries", s.server.url),
            "application/json",
            &serde_json::to_vec(env).unwrap(),
        )
    };
    let (status, first) = post(&both);
    assert_eq!(status, 201, "{}", String::from_utf8_lossy(&first));
    let first: Value = serde_json::from_slice(&first).unwrap();
    let mut reordered = both.clone();
    reordered.signatures.reverse();
    let (status, again) = post(&reordered);
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&again));
    let again: Value = serde_json::from_slice(&again).unwrap();
    assert_eq!(again["index"], first["index"]);
    let mut twice = both.clone();
    let repeat: EnvelopeSignature = sig(&a);
    twice.signatures.push(repeat);
    let (status, body) = post(&twice);
    assert_eq!(status, 400, "{}", String::from_utf8_lossy(&body));
    let body: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(body["error"], "bad_signatures");
    assert!(body["message"].as_str().unwrap().contains("twice"));
    assert_eq!(
        log_size(&s.server.url),
        first["index"].as_u64().unwrap() + 1
    );
}

#[test]
fn sigterm_exits_within_the_drain_deadline_with_half_finished_requests_open() {
    let mut s = setup(&["--drain", "1s", "--header-timeout", "60s"]);
    let addr = s.addr();
    let _open: Vec<TcpStream> = (0..50)
        .map(|i| {
            if i % 2 == 0 {
                start_request(&addr, "GET /checkpoint HTTP/1.1\r\nHost: x", b"")
            } else {
                start_request(
                    &addr,
                    &format!("POST /v1/entries HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: 1000"),
                    b"{\"payloadType\"",
                )
            }
        })
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    let started = Instant::now();
    // SAFETY: kill only sends a signal to our own child.
    assert_eq!(
        unsafe { libc::kill(s.server.pid() as libc::pid_t, libc::SIGTERM) },
        0
    );
    let status = loop {
        if let Some(status) = s.server.exited() {
            break status;
        }
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "still running 5 s after SIGTERM with a 1 s drain:\n{}",
            s.server.log()
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    eprintln!("exited {status} {:?} after SIGTERM", started.elapsed());
    assert!(status.success(), "{status}\n{}", s.server.log());
    assert!(started.elapsed() < Duration::from_millis(3000));
}

/// `path` (axum syntax) with every parameter replaced by `segment`.
fn fill(path: &str, segment: &str) -> String {
    path.split('/')
        .map(|p| if p.starts_with('{') { segment } else { p })
        .collect::<Vec<_>>()
        .join("/")
}

#[test]
fn every_refusal_on_every_route_is_json() {
    let s = setup(&[]);
    let url = &s.server.url;
    let mut checked = 0;
    for (method, path) in embargo::server::routes() {
        for segment in ["%ff", "+1", "x", "99999999999999999999999"] {
            for (ctype, body) in [("application/json", &b"{"[..]), ("text/plain", b"[1]")] {
                let target = format!("{url}{}", fill(path, segment));
                let (status, answer) = common::http_send(method.as_str(), &target, ctype, body);
                if status < 400 {
                    continue;
                }
                let v: Value = serde_json::from_slice(&answer).unwrap_or_else(|_| {
                    panic!(
                        "{method} {target} ({ctype}): {status} is not JSON: {}",
                        String::from_utf8_lossy(&answer)
                    )
                });
                assert!(v["error"].is_string() && v["message"].is_string(), "{v}");
                checked += 1;
            }
        }
    }
    assert!(checked > 100, "only {checked} refusals seen");
    for index in ["+1", "-0", "01", " 1", "1e0"] {
        let (status, _) =
            common::http_get(&format!("{url}/v1/entries/{}", index.replace(' ', "%20")));
        assert!(
            status == 400 || status == 404,
            "GET /v1/entries/{index}: {status}"
        );
    }
}

#[test]
fn framework_refusals_are_json_with_what_to_do() {
    let s = setup(&[]);
    let url = &s.server.url;
    let send = |method: &str, path: &str, ctype: &str, body: &[u8]| {
        let (status, b) = common::http_send(method, &format!("{url}{path}"), ctype, body);
        let v: Value = serde_json::from_slice(&b)
            .unwrap_or_else(|_| panic!("{path}: {status} {}", String::from_utf8_lossy(&b)));
        (status, v)
    };
    let big = vec![b'a'; 3 << 20];
    for path in ["/v1/admin/parties", "/v1/commitments/0/escrow/shares"] {
        let (status, v) = send("POST", path, "application/json", &big);
        assert_eq!(status, 413, "{path}: {v}");
        assert_eq!(v["error"], "too_large");
    }
    let (status, v) = send(
        "PUT",
        "/v1/commitments/0/audits/1/report",
        "application/json",
        &vec![b'a'; 9 << 20],
    );
    assert_eq!(status, 413, "{v}");
    let (status, v) = send("POST", "/v1/beacon", "application/json", b"{");
    assert_eq!(
        (status, v["error"].as_str()),
        (400, Some("bad_request")),
        "{v}"
    );
    let (status, v) = send("POST", "/v1/beacon", "text/plain", b"{}");
    assert_eq!(status, 415, "{v}");
    assert!(v["message"]
        .as_str()
        .unwrap()
        .contains("Content-Type: application/json"));
    let (status, v) = send(
        "POST",
        "/v1/beacon",
        "application/json",
        br#"{"round": "x"}"#,
    );
    assert_eq!(status, 422, "{v}");
    let (status, v) = send(
        "POST",
        "/v1/commitments/0/escrow/shares",
        "application/json",
        b"[]",
    );
    assert_eq!(status, 422, "{v}");
    let (status, v) = send("GET", "/v1/parties/%ff", "text/plain", b"");
    assert_eq!(status, 400, "{v}");
}

// --- The CLI given hostile inputs ----------------------------------------------------------

/// Runs the CLI in `dir`; returns the exit code and stderr.
fn cli(dir: &Path, args: &[&str]) -> (i32, String) {
    let out = common::embargo(dir, args);
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn fixtures() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/audit")
}

#[test]
fn the_audit_reads_only_regular_files() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let suite = std::fs::read_to_string(fixtures().join("adult-four-fifths.toml")).unwrap();
    let suite = suite.replace("../../../../shared/datasets/adult.csv", "/dev/zero");
    std::fs::write(dir.join("suite.toml"), suite).unwrap();
    let model = fixtures().join("adult-logreg.onnx");
    let started = Instant::now();
    let (code, err) = cli(
        dir,
        &["audit", "suite.toml", "--model", model.to_str().unwrap()],
    );
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("/dev/zero is not a regular file"), "{err}");
    assert!(started.elapsed() < Duration::from_secs(10));
    let (code, err) = cli(dir, &["audit", "suite.toml", "--model", "/dev/zero"]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("--model /dev/zero is not a regular file"),
        "{err}"
    );
    let (code, err) = cli(dir, &["audit", "suite.toml", "--model", "missing.onnx"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("no such file"), "{err}");
}

#[test]
fn receipt_verify_on_garbage_exits_2_and_says_so_once() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let vkey = keygen(dir, "log.example", "log.key");
    std::fs::write(dir.join("bad.receipt.json"), b"{\"not\": \"a receipt\"}").unwrap();
    let (code, err) = cli(
        dir,
        &["receipt", "verify", "bad.receipt.json", "--vkey", &vkey],
    );
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("not decision receipts"), "{err}");
    let (code, err) = cli(
        dir,
        &["receipt", "verify", "missing.receipt.json", "--vkey", &vkey],
    );
    assert_eq!(code, 2, "{err}");
    assert_eq!(err.matches("no such file").count(), 1, "{err}");
    let (code, err) = cli(dir, &["receipt", "verify", "/dev/zero", "--vkey", &vkey]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("not a regular file"), "{err}");
}

#[test]
fn cli_messages_say_what_to_do_once() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let (code, err) = cli(dir, &["status", "--log", "127.0.0.1:8080"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("http://127.0.0.1:8080"), "{err}");
    let port = common::free_port();
    let (code, err) = cli(
        dir,
        &["status", "--log", &format!("http://127.0.0.1:{port}")],
    );
    assert_eq!(code, 1, "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    let refused = err.to_ascii_lowercase().matches("refused").count();
    assert!(refused <= 1, "the network error is repeated: {err}");
    let long = "ab".repeat(50_000);
    let (code, err) = cli(
        dir,
        &[
            "escrow",
            "beacon",
            "--log",
            "http://127.0.0.1:1",
            "--round",
            "1",
            "--signature",
            &long,
        ],
    );
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("100000 characters"), "{err}");
}

#[test]
fn status_says_when_nothing_matched_and_long_beacon_signatures_are_refused() {
    let s = setup(&[]);
    let (code, err) = cli(
        s.dir(),
        &[
            "status",
            "--log",
            &s.server.url,
            "--platform",
            "nobody.example",
        ],
    );
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("no commitments match platform nobody.example"),
        "{err}"
    );
    let body = json!({"round": 1, "signature": "ab".repeat(1 << 19)}).to_string();
    let (status, answer) = common::http_send(
        "POST",
        &format!("{}/v1/beacon", s.server.url),
        "application/json",
        body.as_bytes(),
    );
    let v: Value = serde_json::from_slice(&answer).unwrap();
    assert_eq!(
        (status, v["error"].as_str()),
        (400, Some("bad_signature")),
        "{v}"
    );
    assert!(
        v["message"]
            .as_str()
            .unwrap()
            .contains("1048576 characters"),
        "{v}"
    );
}
