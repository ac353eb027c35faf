//! A tlog client that nobody on this project wrote can read the log from its tiles alone and
//! verify the checkpoint, inclusion of any entry and consistency between two checkpoints.
//!
//! The real `embargo serve` binary runs as a child process and takes a few hundred
//! submissions (enough to fill level-0 tiles). Then the log is read the way any C2SP
//! tlog-tiles client would read it:
//!
//! - over plain HTTP/1.1 written here on `std::net` (no project code, no HTTP library);
//! - tile URLs encoded here, straight from `tlog-tiles.md` (not `tlog_tiles::Tile::path`, which
//!   is Go sumdb's format with a height element);
//! - the checkpoint checked with Cloudflare's `signed_note`, tiles authenticated against its
//!   root and proofs made and checked with Cloudflare's `tlog_tiles`.
//!
//! Embargo's own client and DSSE code are used only to submit entries; nothing of its tlog,
//! checkpoint or proof modules is used to verify.

use embargo::api::SubmitResponse;
use embargo::client::Client;
use embargo::core::dsse::Envelope;
use embargo::core::note::KeyPair;
use futures_util::stream::{self, StreamExt};
use sha2::{Digest, Sha256};
use signed_note::{Note, StandardVerifier, VerifierList};
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tlog_tiles::{Hash, Tile, TileHashReader, TileReader};

const ORIGIN: &str = "third-party.test/log";
const FIRST_BATCH: u64 = 300;
const TOTAL: u64 = 600;
const CONCURRENCY: usize = 64;

// ---------------------------------------------------------------------------------------------
// The server under test
// ---------------------------------------------------------------------------------------------

/// `embargo serve` as a child process, killed when dropped.
struct Server {
    child: Child,
    addr: String,
    log_vkey: String,
    writer: KeyPair,
    stderr_path: PathBuf,
    _dir: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `embargo keygen` and returns the vkey it prints.
fn keygen(name: &str, out: &Path) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_embargo"))
        .args(["keygen", "--name", name, "--out"])
        .arg(out)
        .output()
        .expect("running embargo keygen");
    assert!(
        output.status.success(),
        "embargo keygen failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap().trim().to_owned()
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Server {
    fn start() -> Server {
        let dir = tempfile::tempdir().unwrap();
        let log_key = dir.path().join("log.key");
        let writer_key = dir.path().join("writer.key");
        let log_vkey = keygen(ORIGIN, &log_key);
        let writer_vkey = keygen("platform.test", &writer_key);
        let writer = KeyPair::read_file(&writer_key).unwrap();
        assert_eq!(writer.public().to_string(), writer_vkey);

        let addr = format!("127.0.0.1:{}", free_port());
        let stderr_path = dir.path().join("server.log");
        let child = Command::new(env!("CARGO_BIN_EXE_embargo"))
            .arg("serve")
            .arg("--data")
            .arg(dir.path().join("data"))
            .arg("--key")
            .arg(&log_key)
            .args(["--listen", &addr, "--interval", "50ms"])
            .args(["--allow-key", &writer_vkey])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&stderr_path).unwrap())
            .spawn()
            .expect("spawning embargo serve");
        let mut server = Server {
            child,
            addr,
            log_vkey,
            writer,
            stderr_path,
            _dir: dir,
        };
        server.wait_until_serving();
        server
    }

    fn wait_until_serving(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!("embargo serve exited with {status}:\n{}", self.stderr());
            }
            if http_get(&self.addr, "/checkpoint").is_ok_and(|r| r.status == 200) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "embargo serve did not answer within 30s:\n{}",
                self.stderr()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr_path).unwrap_or_default()
    }

    fn get(&self, path: &str) -> HttpResponse {
        http_get(&self.addr, path).unwrap_or_else(|e| panic!("GET {path}: {e}"))
    }

    fn get_ok(&self, path: &str) -> HttpResponse {
        let r = self.get(path);
        assert_eq!(
            r.status,
            200,
            "GET {path}: {}",
            String::from_utf8_lossy(&r.body)
        );
        r
    }
}

// ---------------------------------------------------------------------------------------------
// Submitting (with the project's own client: the writing side is not under test here)
// ---------------------------------------------------------------------------------------------

fn statement(i: u64) -> Vec<u8> {
    let digest = Sha256::digest(format!("artifact {i}"));
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!(
        r#"{{"_type":"https://in-toto.io/Statement/v1","subject":[{{"name":"x","digest":{{"sha256":"{hex}"}}}}],"predicateType":"https://embargo.dev/test/v1","predicate":{{"n":{i}}}}}"#
    )
    .into_bytes()
}

/// Submits statements `range` with many requests in flight, so that batches are large.
fn submit_all(
    rt: &tokio::runtime::Runtime,
    server: &Server,
    range: std::ops::Range<u64>,
) -> Vec<SubmitResponse> {
    let client = Client::new(&format!("http://{}", server.addr));
    rt.block_on(async {
        stream::iter(range)
            .map(|i| {
                let envelope = Envelope::sign(&statement(i), &server.writer);
                let client = &client;
                async move {
                    client
                        .submit(&envelope)
                        .await
                        .unwrap_or_else(|e| panic!("submitting statement {i}: {e}"))
                }
            })
            .buffer_unordered(CONCURRENCY)
            .collect()
            .await
    })
}

// ---------------------------------------------------------------------------------------------
// A minimal HTTP/1.1 client on std::net
// ---------------------------------------------------------------------------------------------

struct HttpResponse {
    status: u16,
    /// Header names in lower case.
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl HttpResponse {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

fn http_get(addr: &str, path: &str) -> std::io::Result<HttpResponse> {
    let bad = |msg: String| std::io::Error::new(std::io::ErrorKind::InvalidData, msg);
    let mut conn = TcpStream::connect(addr)?;
    conn.set_read_timeout(Some(Duration::from_secs(30)))?;
    write!(
        conn,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nAccept-Encoding: identity\r\nConnection: close\r\n\r\n"
    )?;
    let mut raw = Vec::new();
    conn.read_to_end(&mut raw)?;

    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| bad(format!("no end of headers in {} bytes", raw.len())))?;
    let head = std::str::from_utf8(&raw[..split]).map_err(|e| bad(e.to_string()))?;
    let rest = &raw[split + 4..];
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status = status_line
        .strip_prefix("HTTP/1.1 ")
        .and_then(|s| s.get(..3))
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| bad(format!("bad status line {status_line:?}")))?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let header = |name: &str| headers.iter().find(|(n, _)| n == name).map(|(_, v)| v);

    let body = if header("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
        decode_chunked(rest).ok_or_else(|| bad("bad chunked body".into()))?
    } else if let Some(len) = header("content-length") {
        let len: usize = len
            .parse()
            .map_err(|_| bad(format!("content-length {len:?}")))?;
        if rest.len() < len {
            return Err(bad(format!("body has {} of {len} bytes", rest.len())));
        }
        rest[..len].to_vec()
    } else {
        rest.to_vec()
    };
    Ok(HttpResponse {
        status,
        headers,
        body,
    })
}

fn decode_chunked(mut data: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let eol = data.windows(2).position(|w| w == b"\r\n")?;
        let size_field = std::str::from_utf8(&data[..eol]).ok()?;
        let size = usize::from_str_radix(size_field.split(';').next()?.trim(), 16).ok()?;
        data = &data[eol + 2..];
        if size == 0 {
            return Some(out);
        }
        out.extend_from_slice(data.get(..size)?);
        data = data.get(size + 2..)?;
    }
}

// ---------------------------------------------------------------------------------------------
// C2SP tlog-tiles URLs, written from the spec
// ---------------------------------------------------------------------------------------------

const TILE_WIDTH: u64 = 256;

/// `<N>`: zero-padded 3-digit path elements, all but the last prefixed with `x`.
fn c2sp_index(n: u64) -> String {
    let mut elems = vec![format!("{:03}", n % 1000)];
    let mut rest = n / 1000;
    while rest > 0 {
        elems.push(format!("x{:03}", rest % 1000));
        rest /= 1000;
    }
    elems.reverse();
    elems.join("/")
}

/// `/tile/<L>/<N>[.p/<W>]` (or `/tile/entries/<N>[.p/<W>]` when `level` is `"entries"`).
fn c2sp_tile_path(level: &str, n: u64, width: u64) -> String {
    assert!((1..=TILE_WIDTH).contains(&width), "tile width {width}");
    let partial = if width == TILE_WIDTH {
        String::new()
    } else {
        format!(".p/{width}")
    };
    format!("/tile/{level}/{}{partial}", c2sp_index(n))
}

#[test]
fn tile_paths_are_encoded_as_the_spec_says() {
    assert_eq!(c2sp_index(0), "000");
    assert_eq!(c2sp_index(5), "005");
    assert_eq!(c2sp_index(999), "999");
    assert_eq!(c2sp_index(1000), "x001/000");
    assert_eq!(c2sp_index(1234067), "x001/x234/067");
    assert_eq!(c2sp_tile_path("0", 1234067, 256), "/tile/0/x001/x234/067");
    assert_eq!(
        c2sp_tile_path("1", 1234067, 17),
        "/tile/1/x001/x234/067.p/17"
    );
    assert_eq!(c2sp_tile_path("entries", 2, 88), "/tile/entries/002.p/88");
}

// ---------------------------------------------------------------------------------------------
// The third-party verifier: signed_note + tlog_tiles over HTTP
// ---------------------------------------------------------------------------------------------

/// A checkpoint whose signature `signed_note` verified, parsed by `tlog_tiles`.
struct VerifiedCheckpoint {
    size: u64,
    root: Hash,
}

fn verify_checkpoint(text: &str, vkey: &str) -> VerifiedCheckpoint {
    let note = Note::from_bytes(text.as_bytes()).expect("checkpoint is a signed note");
    let verifier = StandardVerifier::new(vkey).expect("the log's vkey parses");
    let (verified, _others) = note
        .verify(&VerifierList::new(vec![Box::new(verifier)]))
        .expect("checkpoint is signed by the log's key");
    assert_eq!(verified.len(), 1);
    let cp = tlog_tiles::Checkpoint::from_bytes(note.text()).expect("checkpoint body parses");
    assert_eq!(cp.origin(), ORIGIN);
    VerifiedCheckpoint {
        size: cp.size(),
        root: *cp.hash(),
    }
}

/// Fetches hash tiles over HTTP. Raw responses are cached by URL; `TileHashReader`
/// authenticates what it gets against the checkpoint's root on every read anyway.
struct HttpTileReader<'a> {
    server: &'a Server,
    cache: RefCell<HashMap<String, Vec<u8>>>,
    fetches: Cell<usize>,
    full_tile_fallbacks: Cell<usize>,
}

impl<'a> HttpTileReader<'a> {
    fn new(server: &'a Server) -> Self {
        HttpTileReader {
            server,
            cache: Default::default(),
            fetches: Cell::new(0),
            full_tile_fallbacks: Cell::new(0),
        }
    }

    fn fetch(&self, path: &str) -> Option<Vec<u8>> {
        if let Some(data) = self.cache.borrow().get(path) {
            return Some(data.clone());
        }
        self.fetches.set(self.fetches.get() + 1);
        let r = self.server.get(path);
        if r.status != 200 {
            return None;
        }
        self.cache
            .borrow_mut()
            .insert(path.to_owned(), r.body.clone());
        Some(r.body)
    }
}

impl TileReader for HttpTileReader<'_> {
    fn height(&self) -> u8 {
        8
    }

    fn read_tiles(&self, tiles: &[Tile]) -> Result<Vec<Vec<u8>>, tlog_tiles::Error> {
        tiles
            .iter()
            .map(|t| {
                assert!(!t.is_data(), "hash tiles only");
                let level = t.level().to_string();
                let width = u64::from(t.width());
                let want = width as usize * 32;
                let path = c2sp_tile_path(&level, t.level_index(), width);
                let data = match self.fetch(&path) {
                    Some(d) => d,
                    // The spec lets a log delete a partial tile once the full tile exists, and
                    // lets clients fall back to the full tile's prefix.
                    None if width < TILE_WIDTH => {
                        let full = c2sp_tile_path(&level, t.level_index(), TILE_WIDTH);
                        let d = self.fetch(&full).ok_or_else(|| {
                            tlog_tiles::Error::InvalidInput(format!("{path} and {full}: not found"))
                        })?;
                        self.full_tile_fallbacks
                            .set(self.full_tile_fallbacks.get() + 1);
                        d
                    }
                    None => {
                        return Err(tlog_tiles::Error::InvalidInput(format!(
                            "{path}: not found"
                        )))
                    }
                };
                if data.len() < want {
                    return Err(tlog_tiles::Error::InvalidTile);
                }
                Ok(data[..want].to_vec())
            })
            .collect()
    }

    fn save_tiles(&self, _tiles: &[Tile], _data: &[Vec<u8>]) {}
}

/// Splits an entry bundle (big-endian u16 length, then the entry) into its entries.
fn parse_bundle(mut data: &[u8]) -> Vec<Vec<u8>> {
    let mut entries = Vec::new();
    while !data.is_empty() {
        assert!(data.len() >= 2, "truncated length prefix in entry bundle");
        let len = usize::from(u16::from_be_bytes([data[0], data[1]]));
        assert!(data.len() >= 2 + len, "truncated entry in entry bundle");
        entries.push(data[2..2 + len].to_vec());
        data = &data[2 + len..];
    }
    entries
}

/// Every entry of the tree of `size`, from the entry bundles alone.
fn read_entries(server: &Server, size: u64) -> Vec<Vec<u8>> {
    let mut entries = Vec::new();
    for n in 0..size.div_ceil(TILE_WIDTH) {
        let width = (size - n * TILE_WIDTH).min(TILE_WIDTH);
        let path = c2sp_tile_path("entries", n, width);
        let r = server.get_ok(&path);
        assert_eq!(
            r.header("content-type"),
            Some("application/octet-stream"),
            "{path}"
        );
        let bundle = parse_bundle(&r.body);
        assert_eq!(bundle.len() as u64, width, "{path} holds {width} entries");
        entries.extend(bundle);
    }
    entries
}

/// Proves and checks, with `tlog_tiles` over tiles fetched from the log, that every one of
/// `entries` is at its index in the checkpoint's tree.
///
/// `check_record` recomputing the signed root is what makes this sound. `TileHashReader` also
/// authenticates tiles, but (like Go's `sumdb/tlog`, which it ports) its loop over full tiles
/// starts at `stx.len()` rather than at the number of distinct tree-hash tiles, so when several
/// tree-hash subtrees share a tile (600 entries: 4 subtrees in 2 tiles) the first index tiles
/// are never checked against their parents: a corrupted `tile/0/001` yields a proof, which
/// `check_record` then refuses.
fn check_every_inclusion(reader: &HttpTileReader, cp: &VerifiedCheckpoint, entries: &[Vec<u8>]) {
    let hashes = TileHashReader::new(cp.size, cp.root, reader);
    for (i, entry) in entries.iter().enumerate().take(cp.size as usize) {
        let i = i as u64;
        let proof = tlog_tiles::prove_record(cp.size, i, &hashes)
            .unwrap_or_else(|e| panic!("proving entry {i} in tree {}: {e}", cp.size));
        tlog_tiles::check_record(&proof, cp.size, cp.root, i, tlog_tiles::record_hash(entry))
            .unwrap_or_else(|e| panic!("entry {i} is not in tree {}: {e}", cp.size));
        // And a different entry at that index is not.
        assert!(tlog_tiles::check_record(
            &proof,
            cp.size,
            cp.root,
            i,
            tlog_tiles::record_hash(b"forged")
        )
        .is_err());
    }
}

fn max_age(cache_control: &str) -> Option<u64> {
    cache_control
        .split(',')
        .filter_map(|d| d.trim().strip_prefix("max-age="))
        .find_map(|v| v.parse().ok())
}

// ---------------------------------------------------------------------------------------------
// The test
// ---------------------------------------------------------------------------------------------

#[test]
fn independent_client_verifies_checkpoint_inclusion_and_consistency_from_tiles() {
    let started = Instant::now();
    let server = Server::start();
    let rt = tokio::runtime::Runtime::new().unwrap();

    // Two phases, so that there are two checkpoints to relate: all of the first phase is
    // acknowledged (hence covered by a checkpoint) before the second starts.
    let mut acked = submit_all(&rt, &server, 0..FIRST_BATCH);
    let old_text = String::from_utf8(server.get_ok("/checkpoint").body).unwrap();
    acked.extend(submit_all(&rt, &server, FIRST_BATCH..TOTAL));
    let new = server.get_ok("/checkpoint");
    let new_text = String::from_utf8(new.body.clone()).unwrap();
    println!("submitted {TOTAL} entries in {:?}", started.elapsed());

    let mut by_index: Vec<Option<String>> = vec![None; TOTAL as usize];
    for r in &acked {
        assert!(!r.duplicate);
        let slot = by_index
            .get_mut(r.index as usize)
            .unwrap_or_else(|| panic!("index {} beyond {TOTAL}", r.index));
        assert!(slot.is_none(), "index {} acknowledged twice", r.index);
        *slot = Some(r.entry.clone());
    }

    // The checkpoints, with signed_note and tlog_tiles only.
    let old = verify_checkpoint(&old_text, &server.log_vkey);
    let new_cp = verify_checkpoint(&new_text, &server.log_vkey);
    assert_eq!(old.size, FIRST_BATCH);
    assert_eq!(new_cp.size, TOTAL);

    // The read API's HTTP contract.
    assert_eq!(
        new.header("content-type"),
        Some("text/plain; charset=utf-8")
    );
    let cp_cache = new
        .header("cache-control")
        .expect("checkpoint Cache-Control");
    assert!(
        cp_cache.contains("no-store")
            || cp_cache.contains("no-cache")
            || max_age(cp_cache).is_some_and(|s| s <= 60),
        "the checkpoint must not be cached for long: {cp_cache:?}"
    );
    let full = server.get_ok("/tile/0/000");
    assert_eq!(full.body.len(), 8192, "a full tile is 256 hashes");
    assert_eq!(
        full.header("content-type"),
        Some("application/octet-stream")
    );
    let tile_cache = full.header("cache-control").expect("tile Cache-Control");
    assert!(
        tile_cache.contains("immutable") || max_age(tile_cache).is_some_and(|s| s >= 86400),
        "tiles are immutable and must be cacheable for long: {tile_cache:?}"
    );
    let partial_width = TOTAL % TILE_WIDTH;
    let partial = server.get_ok(&c2sp_tile_path("0", TOTAL / TILE_WIDTH, partial_width));
    assert_eq!(partial.body.len() as u64, 32 * partial_width);
    assert_eq!(
        partial.header("content-type"),
        Some("application/octet-stream")
    );
    assert_eq!(server.get_ok("/tile/1/000.p/2").body.len(), 64);
    for beyond in [
        c2sp_tile_path("0", TOTAL / TILE_WIDTH + 1, TILE_WIDTH),
        c2sp_tile_path("0", TOTAL / TILE_WIDTH, TILE_WIDTH),
        c2sp_tile_path("0", TOTAL / TILE_WIDTH, partial_width + 1),
        c2sp_tile_path("1", 0, TILE_WIDTH),
        c2sp_tile_path("entries", TOTAL / TILE_WIDTH + 1, TILE_WIDTH),
        c2sp_tile_path("entries", TOTAL / TILE_WIDTH, partial_width + 1),
    ] {
        assert_eq!(
            server.get(&beyond).status,
            404,
            "{beyond} is beyond the tree"
        );
    }

    // Every entry, from the entry bundles: it is what the log acknowledged, and what
    // /v1/entries/<i> serves.
    let entries = read_entries(&server, new_cp.size);
    for (i, entry) in entries.iter().enumerate() {
        assert_eq!(
            Some(entry.as_slice()),
            by_index[i].as_deref().map(str::as_bytes),
            "entry {i} differs from the acknowledged one"
        );
        assert_eq!(
            server.get_ok(&format!("/v1/entries/{i}")).body,
            *entry,
            "entry {i}: /v1/entries and the bundle differ"
        );
    }

    // Inclusion of every entry in both checkpoints, from authenticated tiles.
    let reader = HttpTileReader::new(&server);
    check_every_inclusion(&reader, &new_cp, &entries);
    check_every_inclusion(&reader, &old, &entries);

    // Consistency of the two checkpoints.
    let hashes = TileHashReader::new(new_cp.size, new_cp.root, &reader);
    let proof = tlog_tiles::prove_tree(new_cp.size, old.size, &hashes).unwrap();
    tlog_tiles::check_tree(&proof, new_cp.size, new_cp.root, old.size, old.root)
        .expect("the old checkpoint is a prefix of the new one");
    let mut forged_old = old.root;
    forged_old.0[0] ^= 1;
    assert!(
        tlog_tiles::check_tree(&proof, new_cp.size, new_cp.root, old.size, forged_old).is_err()
    );

    // Tiles are taken on trust by nobody: against a root the log did not sign, they fail.
    let mut wrong_root = new_cp.root;
    wrong_root.0[31] ^= 0x80;
    let hashes = TileHashReader::new(new_cp.size, wrong_root, &reader);
    assert!(tlog_tiles::prove_record(new_cp.size, 1, &hashes).is_err());

    println!(
        "verified {} inclusions and 1 consistency proof from {} tile fetches ({} full-tile fallbacks) in {:?}",
        old.size + new_cp.size,
        reader.fetches.get(),
        reader.full_tile_fallbacks.get(),
        started.elapsed()
    );
}
