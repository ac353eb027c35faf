//! Decision-batch benchmark (run with `scripts/bench-decisions.sh`, which records the results in
//! `benches/decisions-results.md`; or `cargo bench --bench decisions -- <command>`).
//!
//! Commands:
//!
//! - `hash N`: hashing into the tree on **one thread**: N records of about 300 bytes, already in
//!   memory, leaf-hashed ([`embargo::decisions::batch::leaf_hashes`], 4-way Keccak where the CPU has
//!   AVX-512) and pushed through [`embargo::decisions::batch::TreeBuilder`] to the root; then the same with
//!   the scalar `sha3` crate for the leaves, for comparison. Prints records/s.
//! - `parse N`: parsing and validating N records on one thread (what pass 1 does besides hashing).
//! - `gen N FILE`: writes N records of about 300 bytes as JSONL.
//! - `batch FILE OUT`: what `embargo batch --jsonl` does minus the HTTP call: pass 1
//!   ([`embargo::decisions::batch::scan`]: read, parse, validate, hash; all cores), then pass 2
//!   ([`embargo::decisions::batch::prove_chunks`]: re-read, rebuild each chunk with rs_merkle, render one
//!   receipt per record) into OUT (`-` discards the receipts after rendering them). Prints
//!   records/s for each pass and the peak RSS (VmHWM).

use embargo::decisions::batch::{
    leaf_hashes, prove_chunks, scan, BatchError, TreeBuilder, DEFAULT_CHUNK_LOG2,
};
use embargo::decisions::receipt::ReceiptTemplate;
use embargo::model::digest::leaf_hash;
use rayon::prelude::*;
use std::io::{BufReader, BufWriter, Write};
use std::time::Instant;

fn record(i: u64) -> String {
    let x = i.wrapping_mul(0x9E3779B97F4A7C15);
    format!(
        concat!(
            r#"{{"v":1,"platform":"social.example","commitment":3,"time":"2026-11-24T{:02}:{:02}:{:02}.{:03}Z","#,
            r#""subject":"u-{:08x}","surface":"home-feed","candidates":["#,
            r#"{{"item":"post-{}","inputs":{{"age":{},"hours":{},"sex":"{}"}},"score":0.{:06}}},"#,
            r#"{{"item":"post-{}","inputs":{{"age":{},"hours":{},"sex":"{}"}},"score":0.{:06}}}],"shown":[0,1]}}"#
        ),
        (i / 3_600_000) % 24,
        (i / 60_000) % 60,
        (i / 1000) % 60,
        i % 1000,
        x >> 32,
        x % 1_000_000,
        18 + x % 60,
        x % 80,
        if x.is_multiple_of(2) {
            "Female"
        } else {
            "Male"
        },
        900_000 - x % 400_000,
        (x >> 20) % 1_000_000,
        18 + (x >> 8) % 60,
        (x >> 16) % 80,
        if x.is_multiple_of(3) {
            "Female"
        } else {
            "Male"
        },
        400_000 - (x >> 12) % 400_000,
    )
}

fn vm_hwm_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn hash(n: u64) {
    let records: Vec<String> = (0..n).map(record).collect();
    let avg = records.iter().map(|r| r.len()).sum::<usize>() as f64 / n as f64;
    let refs: Vec<&[u8]> = records.iter().map(|r| r.as_bytes()).collect();
    let run = |four_way: bool| {
        let t = Instant::now();
        let mut b = TreeBuilder::new(DEFAULT_CHUNK_LOG2).unwrap();
        let mut leaves = Vec::with_capacity(4096);
        for part in refs.chunks(4096) {
            leaves.clear();
            if four_way {
                leaf_hashes(part, &mut leaves);
            } else {
                leaves.extend(part.iter().map(|r| leaf_hash(r)));
            }
            b.push_leaves(&leaves);
        }
        let root = b.finish().unwrap().root;
        (n as f64 / t.elapsed().as_secs_f64(), root)
    };
    let (fast, r1) = run(true);
    let (scalar, r2) = run(false);
    assert_eq!(r1, r2);
    println!(
        "hash: {n} records of {avg:.0} bytes on one thread: {fast:.0} records/s (4-way leaves and nodes), {scalar:.0} records/s (sha3 crate leaves)"
    );
}

fn parse(n: u64) {
    let records: Vec<String> = (0..n).map(record).collect();
    let t = Instant::now();
    for r in &records {
        embargo::decisions::decision::DecisionRecord::parse(r.as_bytes()).unwrap();
    }
    println!(
        "parse: {n} records on one thread: {:.0} records/s (parse and validate)",
        n as f64 / t.elapsed().as_secs_f64()
    );
}

fn gen(n: u64, path: &str) {
    let mut w = BufWriter::with_capacity(8 << 20, std::fs::File::create(path).unwrap());
    let mut bytes = 0;
    for i in 0..n {
        let r = record(i);
        bytes += r.len() + 1;
        w.write_all(r.as_bytes()).unwrap();
        w.write_all(b"\n").unwrap();
    }
    w.flush().unwrap();
    println!("gen: {n} records, {bytes} bytes, in {path}");
}

fn batch(path: &str, out: &str) {
    let open = || BufReader::with_capacity(1 << 20, std::fs::File::open(path).unwrap());
    let t = Instant::now();
    let s = scan(open(), "social.example", 3, DEFAULT_CHUNK_LOG2).unwrap();
    let pass1 = t.elapsed().as_secs_f64();
    let n = s.tree.count;
    let hwm1 = vm_hwm_kib();
    let entry = "{\"v\":1,\"logged_at\":\"2026-11-24T12:00:00.000Z\",\"envelope\":{}}".repeat(12);
    let proof = "c2sp.org/tlog-proof@v1\nindex 12345\n".to_owned()
        + &"gSKyXoYZUgZ6jduWYrkDOARinOMGJveXjgMkBTcdPlQ=\n".repeat(17)
        + "\nlog.example/embargo\n12346\nsFodV/vSp5O8n9a8QpW6PRY97tfOSW5bsc2Xl/EQi08=\n\n— log.example/embargo hI2DJwAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n";
    let template = ReceiptTemplate::new(n, &s.tree.root, &entry, &proof);
    let mut w: Box<dyn Write> = if out == "-" {
        Box::new(std::io::sink())
    } else {
        Box::new(BufWriter::with_capacity(
            4 << 20,
            std::fs::File::create(out).unwrap(),
        ))
    };
    let t = Instant::now();
    let mut written = 0u64;
    prove_chunks::<BatchError>(open(), &s.tree, |c| {
        for (g, group) in c.records.chunks(4096).enumerate() {
            let first = c.first + (g * 4096) as u64;
            let lines: Vec<Vec<u8>> = group
                .par_iter()
                .enumerate()
                .map(|(j, rec)| {
                    let i = first + j as u64;
                    let mut line = Vec::with_capacity(4096);
                    template.render(i, rec, &c.prover.proof(i), &mut line);
                    line.push(b'\n');
                    line
                })
                .collect();
            for l in lines {
                w.write_all(&l)?;
                written += l.len() as u64;
            }
        }
        Ok(())
    })
    .unwrap();
    w.flush().unwrap();
    drop(w);
    let pass2 = t.elapsed().as_secs_f64();
    println!(
        "batch: {n} records ({} bytes): pass 1 (read, parse, validate, hash) {pass1:.2}s = {:.0} records/s; pass 2 (re-read, rs_merkle chunk trees, proofs, {} MB of receipts to {out}) {pass2:.2}s = {:.0} records/s; peak RSS after pass 1 {} MiB, at the end {} MiB",
        s.bytes,
        n as f64 / pass1,
        written >> 20,
        n as f64 / pass2,
        hwm1 >> 10,
        vm_hwm_kib() >> 10
    );
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    match a.as_slice() {
        ["hash", n] => hash(n.parse().unwrap()),
        ["gen", n, path] => gen(n.parse().unwrap(), path),
        ["parse", n] => parse(n.parse().unwrap()),
        ["batch", path, out] => batch(path, out),
        _ => {
            eprintln!("usage: decisions hash N | parse N | gen N FILE | batch FILE OUT|-");
            std::process::exit(2);
        }
    }
}
