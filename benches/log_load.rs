//! Load benchmark of the log (run with `scripts/bench-log.sh` or `cargo bench --bench log_load`).
//!
//! Starts the release `embargo serve` on a temporary data directory and measures, over HTTP:
//!
//! 1. durable appends per second with N closed-loop clients (one connection each, one request
//!    at a time), with throughput, p50 and p99 latency;
//! 2. the same with many requests in flight per client (C clients × K connections, each
//!    closed-loop), to find the server's capacity rather than Little's bound N / latency; and
//!    one run of true HTTP/1.1 pipelining (K requests queued on one connection);
//! 3. full-tile GETs per second (hash tiles and entry bundles);
//! 4. witnessing's cost: appends/s at `BENCH_WITNESS_CLIENTS` (512) closed-loop clients against
//!    a log with three local `embargo witness` processes (policy: all three) and against one
//!    without, in interleaved rounds in one run (`BENCH_WITNESS_ROUNDS`, 3; 0 skips it), both
//!    fed the same pre-signed envelopes; medians and their ratio go to the witnessing section
//!    of `benches/RESULTS.md`;
//! 5. for logs of 1M and 10M entries (built through the library's sequencer, not HTTP): server
//!    RSS and start-up time (spawn until `/checkpoint` answers, median of 5), plus a short load.
//!
//! Envelopes are built and signed before any timing starts; the HTTP client is a minimal
//! HTTP/1.1 writer/reader over a TCP stream with pre-encoded requests, so the measured cost is
//! the server's.
//!
//! Environment (all optional):
//! - `BENCH_SECS` (8): measured seconds per run, after `BENCH_WARMUP` (2) seconds of warm-up;
//!   throughput counts the answers completed inside the measured window
//! - `BENCH_CLIENTS` ("1,16,64,256"): closed-loop client counts
//! - `BENCH_INFLIGHT` ("64x32,128x32"): clients × in-flight requests per client
//! - `BENCH_PIPELINE` ("64x32"): connections × pipelined requests (HTTP/1.1 pipelining)
//! - `BENCH_INTERVAL` ("100ms"): the server's sequencing interval
//! - `BENCH_ENVELOPES` (250000): pre-signed 1 KiB submissions available to the HTTP runs
//! - `BENCH_LARGE` ("1000000,10000000"): log sizes for the RSS / start-up runs ("" to skip)
//! - `BENCH_GEN_BUDGET_SECS` (900): wall-clock budget for generating the large logs
//! - `BENCH_DIR`: where to put the large logs (kept and reused across runs if set; otherwise a
//!   temporary directory that is deleted at the end)
//! - `BENCH_SKIP_HTTP=1`: skip part 1-3
//! - `BENCH_WITNESS_ROUNDS` (3), `BENCH_WITNESS_CLIENTS` (512): part 4; `BENCH_WITNESS_DIR`:
//!   where its logs and witnesses keep their data (default: a temporary directory; e.g.
//!   `/dev/shm` to take the disk's fsync latency out and compare CPU costs alone)
//! - `EMBARGO_BIN`: the server binary to run (default: cargo's release build)

use embargo::core::dsse::Envelope;
use embargo::core::note::KeyPair;
use embargo::core::tlog::{encode_index, TILE_WIDTH};
use embargo::log::sequencer::{Sequencer, Submission};
use embargo::log::{dedup_key, Log};
use rand::{Rng, SeedableRng};
use rayon::prelude::*;
use sha2::{Digest, Sha256};
use std::fmt::Write as _;
use std::io;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

const LOG_NAME: &str = "bench.embargo.dev/log";
const STATEMENT_BYTES: usize = 1024;

// ---------------------------------------------------------------------------------------------
// Configuration

struct Cfg {
    secs: f64,
    warmup: f64,
    clients: Vec<usize>,
    inflight: Vec<(usize, usize)>,
    pipeline: Vec<(usize, usize)>,
    interval: String,
    envelopes: usize,
    large: Vec<u64>,
    gen_budget: Duration,
    dir: Option<PathBuf>,
    skip_http: bool,
    witness_rounds: usize,
    witness_clients: usize,
    witness_dir: Option<PathBuf>,
}

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_owned())
}

fn parse_pairs(s: &str) -> Vec<(usize, usize)> {
    s.split(',')
        .filter(|p| !p.trim().is_empty())
        .map(|p| {
            let (a, b) = p.trim().split_once('x').expect("pairs look like 64x32");
            (a.parse().unwrap(), b.parse().unwrap())
        })
        .collect()
}

impl Cfg {
    fn from_env() -> Cfg {
        Cfg {
            secs: env_or("BENCH_SECS", "8").parse().unwrap(),
            warmup: env_or("BENCH_WARMUP", "2").parse().unwrap(),
            clients: env_or("BENCH_CLIENTS", "1,16,64,256")
                .split(',')
                .filter(|s| !s.trim().is_empty())
                .map(|s| s.trim().parse().unwrap())
                .collect(),
            inflight: parse_pairs(&env_or("BENCH_INFLIGHT", "64x32,128x32")),
            pipeline: parse_pairs(&env_or("BENCH_PIPELINE", "64x32")),
            interval: env_or("BENCH_INTERVAL", "100ms"),
            envelopes: env_or("BENCH_ENVELOPES", "250000").parse().unwrap(),
            large: env_or("BENCH_LARGE", "1000000,10000000")
                .split(',')
                .filter(|s| !s.trim().is_empty())
                .map(|s| s.trim().replace('_', "").parse().unwrap())
                .collect(),
            gen_budget: Duration::from_secs(
                env_or("BENCH_GEN_BUDGET_SECS", "900").parse().unwrap(),
            ),
            dir: std::env::var_os("BENCH_DIR").map(PathBuf::from),
            skip_http: std::env::var("BENCH_SKIP_HTTP").is_ok_and(|v| v == "1"),
            witness_rounds: env_or("BENCH_WITNESS_ROUNDS", "3").parse().unwrap(),
            witness_clients: env_or("BENCH_WITNESS_CLIENTS", "512").parse().unwrap(),
            witness_dir: std::env::var_os("BENCH_WITNESS_DIR").map(PathBuf::from),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Statements

fn sha256_hex(data: &[u8]) -> String {
    Sha256::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A distinct in-toto statement of exactly `size` bytes (or the smallest possible if `size` is
/// below that), signed by `key`, in canonical JSON.
fn signed_statement(key: &KeyPair, tag: &str, n: u64, size: usize) -> String {
    let name = format!("{tag}-{n}");
    let make = |pad: &str| {
        format!(
            r#"{{"_type":"https://in-toto.io/Statement/v1","subject":[{{"name":"{name}","digest":{{"sha256":"{}"}}}}],"predicateType":"https://embargo.dev/bench/v1","predicate":{{"n":{n},"pad":"{pad}"}}}}"#,
            sha256_hex(name.as_bytes())
        )
    };
    let bare = make("").len();
    let payload = make(&"x".repeat(size.saturating_sub(bare)));
    Envelope::sign(payload.as_bytes(), key).to_canonical_json()
}

fn post_request(addr: &str, body: &str) -> Vec<u8> {
    format!(
        "POST /v1/entries HTTP/1.1\r\nhost: {addr}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

fn get_request(addr: &str, path: &str) -> Vec<u8> {
    format!("GET {path} HTTP/1.1\r\nhost: {addr}\r\n\r\n").into_bytes()
}

// ---------------------------------------------------------------------------------------------
// A minimal HTTP/1.1 client

/// Where requests come from: pre-built submissions (each used once) or generated GETs.
enum Requests {
    Pool {
        reqs: Vec<Arc<[u8]>>,
        next: AtomicUsize,
    },
    Gen(Box<dyn Fn() -> Arc<[u8]> + Send + Sync>),
}

impl Requests {
    fn next(&self) -> Option<Arc<[u8]>> {
        match self {
            Requests::Pool { reqs, next } => {
                reqs.get(next.fetch_add(1, Ordering::Relaxed)).cloned()
            }
            Requests::Gen(f) => Some(f()),
        }
    }

    fn remaining(&self) -> usize {
        match self {
            Requests::Pool { reqs, next } => {
                reqs.len().saturating_sub(next.load(Ordering::Relaxed))
            }
            Requests::Gen(_) => usize::MAX,
        }
    }
}

/// Reads one response; returns its status, and its body in `body`.
async fn read_response<R: tokio::io::AsyncBufRead + Unpin>(
    r: &mut R,
    line: &mut Vec<u8>,
    body: &mut Vec<u8>,
) -> io::Result<u16> {
    line.clear();
    if r.read_until(b'\n', line).await? == 0 {
        return Err(io::ErrorKind::UnexpectedEof.into());
    }
    let status: u16 = std::str::from_utf8(line)
        .ok()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| {
            io::Error::other(format!(
                "bad status line {:?}",
                String::from_utf8_lossy(line)
            ))
        })?;
    let mut len = 0usize;
    loop {
        line.clear();
        if r.read_until(b'\n', line).await? == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        if line == b"\r\n" {
            break;
        }
        let l = String::from_utf8_lossy(line).to_ascii_lowercase();
        if let Some(v) = l.strip_prefix("content-length:") {
            len = v.trim().parse().map_err(io::Error::other)?;
        } else if l.starts_with("transfer-encoding:") {
            return Err(io::Error::other("chunked responses are not supported"));
        }
    }
    body.resize(len, 0);
    r.read_exact(body).await?;
    Ok(status)
}

#[derive(Default)]
struct RunStats {
    lat_us: Vec<u32>,
    errors: u64,
    bytes: u64,
    first_error: Option<String>,
}

impl RunStats {
    fn merge(&mut self, o: RunStats) {
        self.lat_us.extend(o.lat_us);
        self.errors += o.errors;
        self.bytes += o.bytes;
        if self.first_error.is_none() {
            self.first_error = o.first_error;
        }
    }
}

#[derive(Clone, Copy)]
struct Window {
    measure_from: Instant,
    end: Instant,
}

/// One connection, one request at a time.
async fn closed_loop(addr: String, reqs: Arc<Requests>, ok: u16, w: Window) -> RunStats {
    let mut st = RunStats::default();
    let stream = match TcpStream::connect(&addr).await {
        Ok(s) => s,
        Err(e) => {
            st.errors += 1;
            st.first_error = Some(format!("connect: {e}"));
            return st;
        }
    };
    stream.set_nodelay(true).unwrap();
    let (rd, mut wr) = stream.into_split();
    let mut rd = BufReader::with_capacity(64 * 1024, rd);
    let (mut line, mut body) = (Vec::new(), Vec::new());
    while Instant::now() < w.end {
        let Some(req) = reqs.next() else { break };
        let t0 = Instant::now();
        let res = match wr.write_all(&req).await {
            Ok(()) => read_response(&mut rd, &mut line, &mut body).await,
            Err(e) => Err(e),
        };
        let t1 = Instant::now();
        let counted = t1 >= w.measure_from && t1 <= w.end;
        match res {
            Ok(s) if s == ok => {
                if counted {
                    st.lat_us
                        .push((t1 - t0).as_micros().min(u32::MAX as u128) as u32);
                    st.bytes += body.len() as u64;
                }
            }
            Ok(s) => {
                st.errors += 1;
                st.first_error
                    .get_or_insert_with(|| format!("HTTP {s}: {}", String::from_utf8_lossy(&body)));
            }
            Err(e) => {
                st.errors += 1;
                st.first_error.get_or_insert_with(|| e.to_string());
                break;
            }
        }
    }
    st
}

/// One connection with up to `depth` requests written ahead of their responses.
async fn pipelined(
    addr: String,
    reqs: Arc<Requests>,
    ok: u16,
    depth: usize,
    w: Window,
) -> RunStats {
    let mut st = RunStats::default();
    let stream = match TcpStream::connect(&addr).await {
        Ok(s) => s,
        Err(e) => {
            st.errors += 1;
            st.first_error = Some(format!("connect: {e}"));
            return st;
        }
    };
    stream.set_nodelay(true).unwrap();
    let (rd, mut wr) = stream.into_split();
    let sem = Arc::new(tokio::sync::Semaphore::new(depth));
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Instant>();
    let writer = {
        let sem = sem.clone();
        tokio::spawn(async move {
            while Instant::now() < w.end {
                let permit = sem.acquire().await.unwrap();
                permit.forget();
                let Some(req) = reqs.next() else { break };
                let _ = tx.send(Instant::now());
                if wr.write_all(&req).await.is_err() {
                    break;
                }
            }
            wr
        })
    };
    let mut rd = BufReader::with_capacity(256 * 1024, rd);
    let (mut line, mut body) = (Vec::new(), Vec::new());
    while let Some(t0) = rx.recv().await {
        let res = tokio::time::timeout_at(
            (w.end + Duration::from_secs(5)).into(),
            read_response(&mut rd, &mut line, &mut body),
        )
        .await;
        let t1 = Instant::now();
        sem.add_permits(1);
        match res {
            Ok(Ok(s)) if s == ok => {
                if t1 >= w.measure_from && t1 <= w.end {
                    st.lat_us.push((t1 - t0).as_micros() as u32);
                    st.bytes += body.len() as u64;
                }
            }
            Ok(Ok(s)) => {
                st.errors += 1;
                st.first_error.get_or_insert_with(|| format!("HTTP {s}"));
            }
            Ok(Err(e)) => {
                st.errors += 1;
                st.first_error.get_or_insert_with(|| e.to_string());
                break;
            }
            Err(_) => break,
        }
        if t1 > w.end {
            break;
        }
    }
    writer.abort();
    st
}

#[derive(Clone, Copy, PartialEq)]
enum Mode {
    Closed,
    Pipelined(usize),
}

struct Measured {
    /// Server cores, load-generator cores, machine busy share, over the measured window.
    cpu: (f64, f64, f64),
    rate: f64,
    mean_ms: f64,
    p50_ms: f64,
    p99_ms: f64,
    count: usize,
    errors: u64,
    mbps: f64,
    secs: f64,
}

async fn run_load(
    addr: &str,
    server_pid: u32,
    reqs: Arc<Requests>,
    ok: u16,
    conns: usize,
    mode: Mode,
    cfg: &Cfg,
) -> Measured {
    let start = Instant::now();
    let mut secs = cfg.secs;
    // Stop early rather than run dry mid-window when the pool is short.
    // Throughput counts completions inside the window; warm up long enough for the first
    // answers of a deep pipeline to arrive.
    let warmup = match mode {
        Mode::Closed => cfg.warmup,
        Mode::Pipelined(_) => cfg.warmup.max(4.0),
    };
    let w = Window {
        measure_from: start + Duration::from_secs_f64(warmup),
        end: start + Duration::from_secs_f64(warmup + secs),
    };
    let mut tasks = Vec::with_capacity(conns);
    for _ in 0..conns {
        let (addr, reqs) = (addr.to_owned(), reqs.clone());
        tasks.push(tokio::spawn(async move {
            match mode {
                Mode::Closed => closed_loop(addr, reqs, ok, w).await,
                Mode::Pipelined(d) => pipelined(addr, reqs, ok, d, w).await,
            }
        }));
    }
    tokio::time::sleep_until(w.measure_from.into()).await;
    let meter = CpuMeter::start(server_pid);
    tokio::time::sleep_until(w.end.into()).await;
    let cpu = meter.stop();
    let mut st = RunStats::default();
    for t in tasks {
        st.merge(t.await.unwrap());
    }
    let finished = Instant::now();
    if reqs.remaining() == 0 {
        // The pool ran dry: measure up to the moment it did.
        secs = (finished.min(w.end) - w.measure_from)
            .as_secs_f64()
            .max(0.001);
        eprintln!("  (request pool exhausted; measured {secs:.1} s)");
    }
    if let Some(e) = &st.first_error {
        eprintln!("  ({} errors; first: {e})", st.errors);
    }
    st.lat_us.sort_unstable();
    let pct = |p: f64| {
        if st.lat_us.is_empty() {
            f64::NAN
        } else {
            st.lat_us[((st.lat_us.len() - 1) as f64 * p).round() as usize] as f64 / 1000.0
        }
    };
    Measured {
        cpu,
        rate: st.lat_us.len() as f64 / secs,
        mean_ms: st.lat_us.iter().map(|&l| l as f64).sum::<f64>()
            / st.lat_us.len().max(1) as f64
            / 1000.0,
        p50_ms: pct(0.50),
        p99_ms: pct(0.99),
        count: st.lat_us.len(),
        errors: st.errors,
        mbps: st.bytes as f64 / secs / 1e6,
        secs,
    }
}

// ---------------------------------------------------------------------------------------------
// CPU accounting

/// utime + stime of a process, in clock ticks (1/100 s).
fn proc_ticks(pid: &str) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let after = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<&str> = after.split_whitespace().collect();
    // After the command name: state is field 3, utime 14 and stime 15.
    f.get(11).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0)
        + f.get(12).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0)
}

/// (busy, total) ticks of the whole machine.
fn machine_ticks() -> (u64, u64) {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let v: Vec<u64> = stat
        .lines()
        .next()
        .unwrap_or("")
        .split_whitespace()
        .skip(1)
        .filter_map(|x| x.parse().ok())
        .collect();
    let total: u64 = v.iter().sum();
    let idle = v.get(3).copied().unwrap_or(0) + v.get(4).copied().unwrap_or(0);
    (total - idle, total)
}

struct CpuMeter {
    t: Instant,
    server_pid: String,
    server: u64,
    me: u64,
    machine: (u64, u64),
}

impl CpuMeter {
    fn start(server_pid: u32) -> CpuMeter {
        let server_pid = server_pid.to_string();
        CpuMeter {
            t: Instant::now(),
            server: proc_ticks(&server_pid),
            me: proc_ticks("self"),
            machine: machine_ticks(),
            server_pid,
        }
    }

    /// Cores used by the server and by this load generator, and the machine's busy share.
    fn stop(&self) -> (f64, f64, f64) {
        let secs = self.t.elapsed().as_secs_f64();
        let server = (proc_ticks(&self.server_pid) - self.server) as f64 / 100.0 / secs;
        let me = (proc_ticks("self") - self.me) as f64 / 100.0 / secs;
        let (busy, total) = machine_ticks();
        let share = (busy - self.machine.0) as f64 / (total - self.machine.1).max(1) as f64;
        (server, me, share)
    }
}

fn cpu_note(cpu: (f64, f64, f64)) -> String {
    format!(
        "server {:.2} cores, load generator {:.2}, machine {:.0}% busy",
        cpu.0,
        cpu.1,
        cpu.2 * 100.0
    )
}

// ---------------------------------------------------------------------------------------------
// The server process

struct Server {
    child: Child,
    addr: String,
}

/// The `embargo` binary: cargo's build of it, or `EMBARGO_BIN` (e.g. a copy that concurrent
/// builds cannot replace mid-run).
fn server_binary() -> PathBuf {
    std::env::var_os("EMBARGO_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_embargo")))
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Server {
    /// Spawns `embargo serve` and waits until `/checkpoint` answers; returns the start-up time.
    async fn start(
        data: &Path,
        key_file: &Path,
        vkey: &str,
        interval: &str,
        log: &Path,
    ) -> (Server, Duration) {
        Server::start_with(data, key_file, vkey, interval, log, &[]).await
    }

    /// [`Server::start`] with `extra` flags (e.g. `--witness`).
    async fn start_with(
        data: &Path,
        key_file: &Path,
        vkey: &str,
        interval: &str,
        log: &Path,
        extra: &[String],
    ) -> (Server, Duration) {
        let addr = format!("127.0.0.1:{}", free_port());
        let stderr = std::fs::File::options()
            .create(true)
            .append(true)
            .open(log)
            .unwrap();
        let t0 = Instant::now();
        let child = Command::new(server_binary())
            .arg("serve")
            .arg("--data")
            .arg(data)
            .arg("--key")
            .arg(key_file)
            .args([
                "--listen",
                &addr,
                "--interval",
                interval,
                "--allow-key",
                vkey,
            ])
            .args(extra)
            .env(
                "RUST_LOG",
                std::env::var("BENCH_RUST_LOG").unwrap_or_else(|_| "embargo=info".into()),
            )
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(stderr))
            .spawn()
            .expect("spawning embargo serve");
        let mut server = Server { child, addr };
        let req = get_request(&server.addr, "/checkpoint");
        loop {
            if let Some(st) = server.child.try_wait().unwrap() {
                panic!("embargo serve exited ({st}); see {}", log.display());
            }
            if let Ok(200) = one_request(&server.addr, &req).await {
                break;
            }
            assert!(
                t0.elapsed() < Duration::from_secs(600),
                "server start-up over 10 minutes"
            );
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        let startup = t0.elapsed();
        (server, startup)
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// (VmRSS, VmHWM) in MiB.
    fn rss_mib(&self) -> (f64, f64) {
        let status =
            std::fs::read_to_string(format!("/proc/{}/status", self.pid())).unwrap_or_default();
        let field = |name: &str| {
            status
                .lines()
                .find(|l| l.starts_with(name))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse::<f64>().ok())
                .map(|kb| kb / 1024.0)
                .unwrap_or(f64::NAN)
        };
        (field("VmRSS:"), field("VmHWM:"))
    }

    /// Graceful stop (SIGINT), then SIGKILL if it lingers.
    fn stop(mut self) {
        let _ = Command::new("kill")
            .args(["-INT", &self.pid().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if self.child.try_wait().unwrap().is_some() {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn one_request(addr: &str, req: &[u8]) -> io::Result<u16> {
    let mut s = TcpStream::connect(addr).await?;
    s.write_all(req).await?;
    let mut r = BufReader::new(s);
    read_response(&mut r, &mut Vec::new(), &mut Vec::new()).await
}

async fn get_text(addr: &str, path: &str) -> String {
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(&get_request(addr, path)).await.unwrap();
    let mut r = BufReader::new(s);
    let mut body = Vec::new();
    let st = read_response(&mut r, &mut Vec::new(), &mut body)
        .await
        .unwrap();
    assert_eq!(st, 200, "GET {path}");
    String::from_utf8(body).unwrap()
}

async fn log_size(addr: &str) -> u64 {
    get_text(addr, "/checkpoint")
        .await
        .lines()
        .nth(1)
        .unwrap()
        .parse()
        .unwrap()
}

/// Random full tiles of `kind` ("0" for level-0 hashes, "entries" for bundles).
fn tile_requests(addr: &str, size: u64, kind: &'static str) -> Requests {
    let full = (size / TILE_WIDTH).max(1);
    let addr = addr.to_owned();
    let rng = std::sync::Mutex::new(rand::rngs::StdRng::seed_from_u64(7));
    Requests::Gen(Box::new(move || {
        let n = rng.lock().unwrap().gen_range(0..full);
        get_request(&addr, &format!("/tile/{kind}/{}", encode_index(n))).into()
    }))
}

// ---------------------------------------------------------------------------------------------
// Generating large logs through the library

struct Generated {
    from: u64,
    to: u64,
    secs: f64,
}

/// Appends distinct small signed statements to the log in `dir` until it holds `target`
/// entries or the deadline passes, through the library's sequencer (1 ms interval).
fn generate(
    dir: &Path,
    key: &KeyPair,
    writer: &KeyPair,
    target: u64,
    deadline: Instant,
) -> Generated {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (log, recovered) = open_log(dir, key);
    let from = log.size();
    if from >= target {
        return Generated {
            from,
            to: from,
            secs: 0.0,
        };
    }
    let t0 = Instant::now();
    let seq = Sequencer::start(log.clone(), recovered, Duration::from_millis(1));
    const CHUNK: u64 = 16_384;
    const IN_FLIGHT: usize = 48_000;
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Vec<Submission>>(2);
    let writer = writer.clone();
    let producer = std::thread::spawn(move || {
        let mut next = from;
        while next < target && Instant::now() < deadline {
            let end = (next + CHUNK).min(target);
            let chunk: Vec<Submission> = (next..end)
                .into_par_iter()
                .map(|n| {
                    let json = signed_statement(&writer, "gen", n, 0);
                    let key = dedup_key(&json);
                    make_submission(json.into(), key)
                })
                .collect();
            if tx.blocking_send(chunk).is_err() {
                break;
            }
            next = end;
        }
    });
    let errors = Arc::new(AtomicU64::new(0));
    rt.block_on(async {
        let sem = Arc::new(tokio::sync::Semaphore::new(IN_FLIGHT));
        let mut last_report = Instant::now();
        while let Some(chunk) = rx.recv().await {
            for sub in chunk {
                let permit = sem.clone().acquire_owned().await.unwrap();
                let (seq, errors) = (seq.clone(), errors.clone());
                tokio::spawn(async move {
                    if seq.submit(sub).await.is_err() {
                        errors.fetch_add(1, Ordering::Relaxed);
                    }
                    drop(permit);
                });
            }
            if last_report.elapsed() > Duration::from_secs(10) {
                let size = log.size();
                eprintln!(
                    "  generating: {size} entries, {:.0} entries/s",
                    (size - from) as f64 / t0.elapsed().as_secs_f64()
                );
                last_report = Instant::now();
            }
        }
        let _ = sem.acquire_many(IN_FLIGHT as u32).await.unwrap();
    });
    producer.join().unwrap();
    assert_eq!(
        errors.load(Ordering::Relaxed),
        0,
        "submissions failed while generating"
    );
    let to = log.size();
    let secs = t0.elapsed().as_secs_f64();
    // Let the sequencer thread exit (it flushes the index) and the log close before a server
    // opens the directory.
    drop(seq);
    drop(rt);
    while Arc::strong_count(&log) > 1 {
        std::thread::sleep(Duration::from_millis(10));
    }
    drop(log);
    Generated { from, to, secs }
}

// The two calls below follow the library's current API (Log::open with an embargo policy,
// submissions with an optional registry effect).
fn open_log(dir: &Path, key: &KeyPair) -> (Arc<Log>, embargo::log::Recovered) {
    Log::open(dir, key.clone(), embargo::log::registry::Policy::default()).expect("opening the log")
}

fn make_submission(envelope_json: Arc<str>, dedup_key: [u8; 32]) -> Submission {
    Submission {
        envelope_json,
        dedup_key,
        effect: None,
    }
}

// ---------------------------------------------------------------------------------------------
// Report

struct Report {
    rows: Vec<[String; 7]>,
    notes: Vec<String>,
}

impl Report {
    fn row(&mut self, cols: [String; 7]) {
        eprintln!("  {}", cols.join(" | "));
        self.rows.push(cols);
    }

    fn load_row(&mut self, what: &str, conc: &str, m: &Measured, extra: String) {
        self.row([
            what.into(),
            conc.into(),
            format!("{:.0}/s", m.rate),
            format!("{:.1}", m.p50_ms),
            format!("{:.1}", m.p99_ms),
            format!(
                "{} in {:.1} s{}",
                m.count,
                m.secs,
                if m.errors > 0 {
                    format!(", {} errors", m.errors)
                } else {
                    String::new()
                }
            ),
            {
                let per_op = if m.rate > 0.0 {
                    m.cpu.0 / m.rate * 1e6
                } else {
                    f64::NAN
                };
                let cpu = format!("{}; server CPU {per_op:.0} µs/op", cpu_note(m.cpu));
                if extra.is_empty() {
                    cpu
                } else {
                    format!("{extra}; {cpu}")
                }
            },
        ]);
    }

    fn table(&self) -> String {
        let head = [
            "what",
            "concurrency",
            "throughput",
            "p50 ms",
            "p99 ms",
            "samples",
            "notes",
        ];
        let mut out = format!("| {} |\n|{}\n", head.join(" | "), "---|".repeat(head.len()));
        for r in &self.rows {
            let _ = writeln!(out, "| {} |", r.join(" | "));
        }
        out
    }
}

fn machine_info() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_owned())
        })
        .unwrap_or_default();
    let mem = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|c| {
            c.lines().next().map(|l| {
                l.split_whitespace()
                    .nth(1)
                    .unwrap_or("0")
                    .parse::<u64>()
                    .unwrap_or(0)
                    / 1024
                    / 1024
            })
        })
        .unwrap_or(0);
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    format!(
        "nproc {}, {cpu}, {mem} GiB RAM, Linux {}",
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(0),
        kernel.trim()
    )
}

fn write_results(report: &Report, cfg: &Cfg, started: chrono::DateTime<chrono::Utc>) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/RESULTS.md");
    let mut section = String::new();
    let _ = writeln!(
        section,
        "<!-- results:begin (written by benches/log_load.rs) -->"
    );
    let _ = writeln!(section, "Run: {} UTC", started.format("%Y-%m-%d %H:%M"));
    let _ = writeln!(section, "Machine: {}", machine_info());
    let _ = writeln!(
        section,
        "Command: `scripts/bench-log.sh` (= `cargo bench --bench log_load`), BENCH_SECS={} BENCH_INTERVAL={} BENCH_CLIENTS={:?} BENCH_INFLIGHT={:?} BENCH_PIPELINE={:?} BENCH_LARGE={:?}\n",
        cfg.secs, cfg.interval, cfg.clients, cfg.inflight, cfg.pipeline, cfg.large
    );
    section.push_str(&report.table());
    section.push('\n');
    for n in &report.notes {
        let _ = writeln!(section, "- {n}");
    }
    let _ = writeln!(section, "<!-- results:end -->");
    let old = std::fs::read_to_string(&path).unwrap_or_default();
    const END: &str = "<!-- results:end -->";
    let new = match (old.find("<!-- results:begin"), old.find(END)) {
        (Some(a), Some(b)) if a < b => {
            let rest = old[b + END.len()..]
                .strip_prefix('\n')
                .unwrap_or(&old[b + END.len()..]);
            format!("{}{section}{rest}", &old[..a])
        }
        _ => format!("# Log benchmark results\n\n{section}"),
    };
    std::fs::write(&path, new).unwrap();
    eprintln!("wrote {}", path.display());
}

// ---------------------------------------------------------------------------------------------

fn main() {
    let cfg = Cfg::from_env();
    let started = chrono::Utc::now();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut report = Report {
        rows: Vec::new(),
        notes: Vec::new(),
    };

    let scratch = tempfile::tempdir().unwrap();
    let base = cfg.dir.clone().unwrap_or_else(|| scratch.path().to_owned());
    std::fs::create_dir_all(&base).unwrap();
    let log_key_file = base.join("log.key");
    let writer_key_file = base.join("writer.key");
    for (f, name) in [
        (&log_key_file, LOG_NAME),
        (&writer_key_file, "bench.embargo.dev/writer"),
    ] {
        if !f.exists() {
            KeyPair::generate(name).unwrap().write_file(f).unwrap();
        }
    }
    let log_key = KeyPair::read_file(&log_key_file).unwrap();
    let writer = KeyPair::read_file(&writer_key_file).unwrap();
    let vkey = writer.public().to_string();
    let server_log = base.join("server.log");
    eprintln!(
        "bench: data under {}, server log {}",
        base.display(),
        server_log.display()
    );

    if !cfg.skip_http {
        rt.block_on(http_runs(
            &cfg,
            &mut report,
            &scratch.path().join("http-log"),
            &log_key_file,
            &writer,
            &vkey,
            &server_log,
        ));
    }

    if cfg.witness_rounds > 0 {
        rt.block_on(witness_runs(
            &cfg,
            &cfg.witness_dir
                .as_ref()
                .map(|d| d.join(format!("embargo-witness-bench-{}", std::process::id())))
                .unwrap_or_else(|| scratch.path().join("witness-bench")),
            &log_key_file,
            &writer,
            &vkey,
            &server_log,
        ));
    }

    let gen_deadline = Instant::now() + cfg.gen_budget;
    for &target in &cfg.large {
        let dir = base.join("large-log");
        eprintln!(
            "bench: growing {} to {target} entries (budget until +{:?})",
            dir.display(),
            gen_deadline.saturating_duration_since(Instant::now())
        );
        let g = generate(&dir, &log_key, &writer, target, gen_deadline);
        if g.to > g.from {
            let rate = (g.to - g.from) as f64 / g.secs;
            report.notes.push(format!(
                "generated {} → {} entries through the library sequencer (1 ms interval, ~550-byte leaves) in {:.0} s: {:.0} entries/s",
                g.from, g.to, g.secs, rate
            ));
            eprintln!(
                "  generated {} → {} in {:.0} s ({rate:.0}/s)",
                g.from, g.to, g.secs
            );
        }
        if g.to < target {
            report.notes.push(format!(
                "the {target}-entry log could not be generated within the budget: measured at {} entries instead",
                g.to
            ));
        }
        rt.block_on(large_log_runs(
            &cfg,
            &mut report,
            &dir,
            g.to,
            &log_key_file,
            &writer,
            &vkey,
            &server_log,
        ));
        if g.to < target {
            break;
        }
    }

    eprintln!("\n{}", report.table());
    for n in &report.notes {
        eprintln!("- {n}");
    }
    if !report.rows.is_empty() {
        write_results(&report, &cfg, started);
    }
    if cfg.dir.is_none() {
        eprintln!("bench: removing {}", base.display());
    }
}

async fn http_runs(
    cfg: &Cfg,
    report: &mut Report,
    data: &Path,
    key_file: &Path,
    writer: &KeyPair,
    vkey: &str,
    server_log: &Path,
) {
    let (server, startup) = Server::start(data, key_file, vkey, &cfg.interval, server_log).await;
    let addr = server.addr.clone();
    eprintln!("bench: server pid {} on {addr} (started in {startup:?}); signing {} envelopes of {STATEMENT_BYTES}-byte statements", server.pid(), cfg.envelopes);
    let t = Instant::now();
    let salt: u64 = rand::random();
    let reqs: Vec<Arc<[u8]>> = (0..cfg.envelopes as u64)
        .into_par_iter()
        .map(|n| {
            post_request(
                &addr,
                &signed_statement(writer, &format!("load-{salt:x}"), n, STATEMENT_BYTES),
            )
            .into()
        })
        .collect();
    let body_len = reqs[0].len();
    eprintln!(
        "  signed in {:.1} s; request {} bytes",
        t.elapsed().as_secs_f64(),
        body_len
    );
    report.notes.push(format!(
        "submissions: {STATEMENT_BYTES}-byte in-toto statements in DSSE envelopes, {body_len}-byte HTTP requests, pre-signed; server interval {}",
        cfg.interval
    ));
    let pool = Arc::new(Requests::Pool {
        reqs,
        next: AtomicUsize::new(0),
    });

    for &c in &cfg.clients {
        eprintln!("bench: {c} closed-loop clients");
        let m = run_load(&addr, server.pid(), pool.clone(), 201, c, Mode::Closed, cfg).await;
        let bound = c as f64 / (m.mean_ms / 1000.0);
        report.load_row(
            "append (closed loop)",
            &format!("{c} client{}", if c == 1 { "" } else { "s" }),
            &m,
            format!("Little bound {bound:.0}/s (clients / mean latency)"),
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    for &(c, k) in &cfg.inflight {
        eprintln!("bench: {c} clients × {k} in flight");
        let m = run_load(
            &addr,
            server.pid(),
            pool.clone(),
            201,
            c * k,
            Mode::Closed,
            cfg,
        )
        .await;
        let (rss, _) = server.rss_mib();
        report.load_row(
            "append (in flight)",
            &format!("{c}×{k} = {} conns", c * k),
            &m,
            format!(
                "Little check {:.0}/s (conns / mean latency); RSS {rss:.0} MiB",
                (c * k) as f64 / (m.mean_ms / 1000.0)
            ),
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    for &(c, k) in &cfg.pipeline {
        eprintln!("bench: {c} connections × {k} pipelined");
        let m = run_load(
            &addr,
            server.pid(),
            pool.clone(),
            201,
            c,
            Mode::Pipelined(k),
            cfg,
        )
        .await;
        report.load_row(
            "append (HTTP/1.1 pipelining)",
            &format!("{c} conns × {k} queued"),
            &m,
            "hyper answers one request per connection at a time".into(),
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }

    let size = log_size(&addr).await;
    for (kind, label) in [
        ("0", "GET full hash tile (8 KiB)"),
        ("entries", "GET full entry bundle"),
    ] {
        eprintln!("bench: {label}, log of {size}");
        let tiles = Arc::new(tile_requests(&addr, size, kind));
        let m = run_load(&addr, server.pid(), tiles, 200, 64, Mode::Closed, cfg).await;
        report.load_row(
            label,
            "64 conns",
            &m,
            format!("{:.0} MB/s, log of {size}", m.mbps),
        );
    }
    let (rss, hwm) = server.rss_mib();
    report.notes.push(format!(
        "HTTP-run server after all runs: log of {size} entries, RSS {rss:.0} MiB (peak {hwm:.0} MiB)"
    ));
    server.stop();
}

#[allow(clippy::too_many_arguments)]
async fn large_log_runs(
    cfg: &Cfg,
    report: &mut Report,
    dir: &Path,
    size: u64,
    key_file: &Path,
    writer: &KeyPair,
    vkey: &str,
    server_log: &Path,
) {
    let label = if size.is_multiple_of(1_000_000) {
        format!("{}M", size / 1_000_000)
    } else {
        size.to_string()
    };
    let mut startups = Vec::new();
    let mut rss_idle = Vec::new();
    for i in 0..5 {
        let (server, startup) = Server::start(dir, key_file, vkey, &cfg.interval, server_log).await;
        assert_eq!(log_size(&server.addr).await, size);
        tokio::time::sleep(Duration::from_millis(200)).await;
        rss_idle.push(server.rss_mib().0);
        eprintln!(
            "  start {i}: {startup:?}, RSS {:.0} MiB",
            rss_idle.last().unwrap()
        );
        startups.push(startup);
        server.stop();
    }
    startups.sort();
    rss_idle.sort_by(f64::total_cmp);
    let median = startups[2];
    report.row([
        format!("start-up, log of {label}"),
        "-".into(),
        "-".into(),
        format!("{:.0}", median.as_secs_f64() * 1000.0),
        format!("max {:.0}", startups[4].as_secs_f64() * 1000.0),
        "5 starts".into(),
        format!(
            "median spawn → /checkpoint answers; idle RSS {:.0} MiB",
            rss_idle[2]
        ),
    ]);

    // A short load at this size: appends (dedup lookups in a big index) and tile reads.
    let (server, _) = Server::start(dir, key_file, vkey, &cfg.interval, server_log).await;
    let addr = server.addr.clone();
    let n = 60_000usize;
    let salt: u64 = rand::random();
    let reqs: Vec<Arc<[u8]>> = (0..n as u64)
        .into_par_iter()
        .map(|i| {
            post_request(
                &addr,
                &signed_statement(writer, &format!("large-{salt:x}"), i, STATEMENT_BYTES),
            )
            .into()
        })
        .collect();
    let pool = Arc::new(Requests::Pool {
        reqs,
        next: AtomicUsize::new(0),
    });
    let short = Cfg {
        secs: (cfg.secs / 2.0).max(2.0),
        ..Cfg::from_env()
    };
    let m = run_load(
        &addr,
        server.pid(),
        pool,
        201,
        64 * 32,
        Mode::Closed,
        &short,
    )
    .await;
    report.load_row(
        &format!("append, log of {label}"),
        "64×32 conns",
        &m,
        String::new(),
    );
    let tiles = Arc::new(tile_requests(&addr, size, "0"));
    let m = run_load(&addr, server.pid(), tiles, 200, 64, Mode::Closed, &short).await;
    report.load_row(
        &format!("GET hash tile, log of {label}"),
        "64 conns",
        &m,
        String::new(),
    );
    let (rss, hwm) = server.rss_mib();
    report.row([
        format!("server RSS, log of {label}"),
        "-".into(),
        "-".into(),
        "-".into(),
        "-".into(),
        "-".into(),
        format!(
            "idle after start {:.0} MiB; after load {rss:.0} MiB (peak {hwm:.0} MiB)",
            rss_idle[2]
        ),
    ]);
    server.stop();
}

// ---------------------------------------------------------------------------------------------
// Witnessing's cost

/// `embargo witness serve` for the benchmark's log, killed on drop.
struct WitnessProc(Child);

impl Drop for WitnessProc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts witness `i` of the log `log_vkey` under `dir`; returns it and its `--witness` flag.
async fn start_witness(dir: &Path, i: usize, log_vkey: &str, log: &Path) -> (WitnessProc, String) {
    let pair = KeyPair::generate(&format!("bench.embargo.dev/w{i}")).unwrap();
    let key_file = dir.join(format!("w{i}.key"));
    pair.write_file(&key_file).unwrap();
    let addr = format!("127.0.0.1:{}", free_port());
    let stderr = std::fs::File::options()
        .create(true)
        .append(true)
        .open(log)
        .unwrap();
    let child = Command::new(server_binary())
        .args(["witness", "serve", "--key"])
        .arg(&key_file)
        .arg("--data")
        .arg(dir.join(format!("w{i}-data")))
        .args(["--log", log_vkey, "--listen", &addr])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::from(stderr))
        .spawn()
        .expect("spawning embargo witness serve");
    let deadline = Instant::now() + Duration::from_secs(30);
    while TcpStream::connect(&addr).await.is_err() {
        assert!(Instant::now() < deadline, "witness {i} did not listen");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let vkey = embargo::witness::cosignature::Cosigner::new(&pair)
        .public()
        .to_string();
    (WitnessProc(child), format!("{vkey}=http://{addr}"))
}

fn median(v: &[f64]) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

/// Appends/s with and without three witnesses, in interleaved rounds; writes the witnessing
/// section of RESULTS.md.
async fn witness_runs(
    cfg: &Cfg,
    dir: &Path,
    key_file: &Path,
    writer: &KeyPair,
    vkey: &str,
    server_log: &Path,
) {
    std::fs::create_dir_all(dir).unwrap();
    let log_vkey = KeyPair::read_file(key_file).unwrap().public().to_string();
    let mut witnesses = Vec::new();
    let mut flags = Vec::new();
    for i in 0..3 {
        let (w, flag) = start_witness(dir, i, &log_vkey, server_log).await;
        witnesses.push(w);
        flags.extend(["--witness".to_owned(), flag]);
    }
    let (plain, _) = Server::start(
        &dir.join("plain"),
        key_file,
        vkey,
        &cfg.interval,
        server_log,
    )
    .await;
    let (witnessed, _) = Server::start_with(
        &dir.join("witnessed"),
        key_file,
        vkey,
        &cfg.interval,
        server_log,
        &flags,
    )
    .await;
    // Enough envelopes for every round of one mode at 1.5x the Little bound (clients per
    // sequencing interval); both logs get the same ones (each log deduplicates on its own).
    let interval_s = cfg
        .interval
        .trim_end_matches("ms")
        .parse::<f64>()
        .unwrap_or(100.0)
        / 1000.0;
    let per_round = cfg.witness_clients as f64 / interval_s * (cfg.secs + cfg.warmup) * 1.5;
    let n = (per_round * cfg.witness_rounds as f64) as u64;
    eprintln!("bench: witnessing: signing {n} envelopes");
    let salt: u64 = rand::random();
    let bodies: Vec<String> = (0..n)
        .into_par_iter()
        .map(|i| signed_statement(writer, &format!("witness-{salt:x}"), i, STATEMENT_BYTES))
        .collect();
    let pool = |addr: &str| {
        Arc::new(Requests::Pool {
            reqs: bodies
                .iter()
                .map(|b| post_request(addr, b).into())
                .collect(),
            next: AtomicUsize::new(0),
        })
    };
    let runs = [
        ("none", plain.addr.clone(), plain.pid(), pool(&plain.addr)),
        (
            "3 witnesses",
            witnessed.addr.clone(),
            witnessed.pid(),
            pool(&witnessed.addr),
        ),
    ];
    let mut rates: [Vec<f64>; 2] = Default::default();
    let mut p50s: [Vec<f64>; 2] = Default::default();
    let mut p99s: [Vec<f64>; 2] = Default::default();
    let mut cpu: [Vec<f64>; 2] = Default::default();
    for round in 0..cfg.witness_rounds {
        // Alternate which goes first, so neither always runs on a warmer or busier machine.
        let order = if round % 2 == 0 { [0, 1] } else { [1, 0] };
        for k in order {
            let (label, addr, pid, reqs) = &runs[k];
            let c = cfg.witness_clients;
            eprintln!("bench: witnessing round {round}: {label}, {c} closed-loop clients");
            let m = run_load(addr, *pid, reqs.clone(), 201, c, Mode::Closed, cfg).await;
            eprintln!(
                "  {:.0}/s, p50 {:.1} ms, p99 {:.1} ms",
                m.rate, m.p50_ms, m.p99_ms
            );
            rates[k].push(m.rate);
            p50s[k].push(m.p50_ms);
            p99s[k].push(m.p99_ms);
            cpu[k].push(m.cpu.0 / m.rate * 1e6);
            tokio::time::sleep(Duration::from_millis(1000)).await;
        }
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let info = get_text(&witnessed.addr, "/v1/log").await;
    let info: serde_json::Value = serde_json::from_str(&info).unwrap();
    plain.stop();
    witnessed.stop();
    drop(witnesses);
    if cfg.witness_dir.is_some() {
        let _ = std::fs::remove_dir_all(dir);
    }
    let ratio = median(&rates[1]) / median(&rates[0]);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "<!-- witnessing:begin (written by benches/log_load.rs) -->"
    );
    let _ = writeln!(
        out,
        "Run: {} UTC",
        chrono::Utc::now().format("%Y-%m-%d %H:%M")
    );
    let _ = writeln!(out, "Machine: {}", machine_info());
    let _ = writeln!(
        out,
        "Command: `BENCH_SKIP_HTTP=1 BENCH_LARGE= BENCH_WITNESS_ROUNDS={} BENCH_WITNESS_CLIENTS={} BENCH_SECS={} BENCH_WARMUP={}{} scripts/bench-log.sh` (server interval {}; data on {})\n",
        cfg.witness_rounds,
        cfg.witness_clients,
        cfg.secs,
        cfg.warmup,
        cfg.witness_dir
            .as_ref()
            .map(|d| format!(" BENCH_WITNESS_DIR={}", d.display()))
            .unwrap_or_default(),
        cfg.interval,
        cfg.witness_dir
            .as_ref()
            .map_or_else(|| "the temporary directory's disk".to_owned(), |d| d.display().to_string())
    );
    let _ = writeln!(out, "| witnesses | appends/s per round | median appends/s | median p50 ms | median p99 ms | server CPU µs/append (median) |");
    let _ = writeln!(out, "|---|---|---|---|---|---|");
    for (k, (label, _, _, _)) in runs.iter().enumerate() {
        let per: Vec<String> = rates[k].iter().map(|r| format!("{r:.0}")).collect();
        let _ = writeln!(
            out,
            "| {label} | {} | {:.0} | {:.1} | {:.1} | {:.0} |",
            per.join(", "),
            median(&rates[k]),
            median(&p50s[k]),
            median(&p99s[k]),
            median(&cpu[k])
        );
    }
    let _ = writeln!(
        out,
        "\nWitnessed / unwitnessed median appends/s: **{ratio:.3}** (cost {:.1}%). After the runs the witnessed log was at size {}, its witnessed checkpoint at {} (lag {} entries).",
        (1.0 - ratio) * 100.0,
        info["size"],
        info["witnessing"]["witnessed_size"],
        info["witnessing"]["lag_entries"]
    );
    let _ = writeln!(out, "<!-- witnessing:end -->");
    eprintln!("\n{out}");
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/RESULTS.md");
    let old = std::fs::read_to_string(&path).unwrap_or_default();
    const END: &str = "<!-- witnessing:end -->";
    let new = match (old.find("<!-- witnessing:begin"), old.find(END)) {
        (Some(a), Some(b)) if a < b => format!(
            "{}{out}{}",
            &old[..a],
            old[b + END.len()..].trim_start_matches('\n')
        ),
        _ => format!("{old}\n## Witnessing's cost\n\n{out}"),
    };
    std::fs::write(&path, new).unwrap();
}
