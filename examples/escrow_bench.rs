//! Throughput and memory benchmark for escrow seal/open.
//!
//! Seals a pseudo-random stream (generated on the fly) to quicknet round 1000 with
//! 2-of-3 trustees, to `io::sink` and to a file, then opens the file with the real
//! round-1000 signature and with trustee shares, reading to `io::sink`. Also measures
//! raw (no crypto) write/read of the same size for comparison. Reports GB/s (10^9
//! bytes/s), median of N runs, and peak RSS (VmHWM).
//!
//! cargo run --release --example escrow_bench -- [GiB=4] [runs=3] [dir=/tmp]

use std::fs::File;
use std::io::{self, BufWriter, Read, Write};
use std::path::PathBuf;
use std::time::Instant;

use ed25519_dalek::SigningKey;
use embargo::escrow::{self, Chain, Lock, Share, Trustees};

const SIG_1000: &str = "b44679b9a59af2ec876b1a6b1ad52ea9b1615fc3982b19576350f93447cb1125e342b73a8dd2bacbe47e4b6b63ed5e39";

/// Pseudo-random bytes generated on the fly: a 4 MiB xorshift64* table, streamed
/// at a rotating offset (memcpy speed, so the generator does not dominate).
struct PatternReader {
    table: std::sync::Arc<Vec<u8>>,
    pos: u64,
    remaining: u64,
}

const TABLE: usize = 4 << 20;

impl Read for PatternReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let mut n = (buf.len() as u64).min(self.remaining) as usize;
        let start = (self.pos % TABLE as u64) as usize;
        n = n.min(TABLE - start);
        buf[..n].copy_from_slice(&self.table[start..start + n]);
        self.pos += n as u64;
        self.remaining -= n as u64;
        Ok(n)
    }
}

fn table() -> std::sync::Arc<Vec<u8>> {
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    let mut t = vec![0u8; TABLE];
    for chunk in t.chunks_exact_mut(8) {
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        chunk.copy_from_slice(&state.wrapping_mul(0x2545_F491_4F6C_DD1D).to_le_bytes());
    }
    std::sync::Arc::new(t)
}

fn drain(mut r: impl Read) -> io::Result<u64> {
    let mut buf = vec![0u8; 256 * 1024];
    let mut total = 0u64;
    loop {
        match r.read(&mut buf)? {
            0 => return Ok(total),
            n => {
                std::hint::black_box(&buf[..n]);
                total += n as u64
            }
        }
    }
}

fn vm_hwm() -> String {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM"))
                .map(|l| l.split_whitespace().skip(1).collect::<Vec<_>>().join(" "))
        })
        .unwrap_or_else(|| "?".into())
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn time<T>(f: impl FnOnce() -> T) -> (T, f64) {
    let t = Instant::now();
    let out = f();
    (out, t.elapsed().as_secs_f64())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let gib: f64 = args.first().map(|s| s.parse()).transpose()?.unwrap_or(4.0);
    let runs: usize = args.get(1).map(|s| s.parse()).transpose()?.unwrap_or(3);
    let dir = PathBuf::from(args.get(2).map(String::as_str).unwrap_or("/tmp"));
    let len = (gib * (1u64 << 30) as f64) as u64;
    let path = dir.join(format!("escrow_bench_{}.age", std::process::id()));
    let gb = len as f64 / 1e9;
    let tbl = table();
    let pattern = |remaining: u64| PatternReader {
        table: tbl.clone(),
        pos: 0,
        remaining,
    };

    let chain = Chain::quicknet();
    let signature = hex::decode(SIG_1000)?;
    let keys: Vec<SigningKey> = (0..3)
        .map(|_| SigningKey::generate(&mut rand::rngs::OsRng))
        .collect();
    let lock = Lock {
        chain: chain.clone(),
        round: 1000,
        trustees: Some(Trustees {
            threshold: 2,
            keys: keys.iter().map(|k| k.verifying_key()).collect(),
        }),
    };
    println!(
        "escrow_bench: {len} bytes ({gib} GiB), {runs} runs, file {}",
        path.display()
    );

    let mut results: Vec<(&str, Vec<f64>)> = vec![
        ("raw pattern -> sink (generator only)", vec![]),
        ("raw pattern -> file (no crypto)", vec![]),
        ("raw file -> sink (no crypto)", vec![]),
        ("seal -> sink", vec![]),
        ("seal -> file", vec![]),
        ("open_with_beacon file -> sink", vec![]),
        ("open_with_shares file -> sink", vec![]),
    ];
    for run in 0..runs {
        let (n, t) = time(|| drain(pattern(len)));
        assert_eq!(n?, len);
        results[0].1.push(gb / t);

        let (r, t) = time(|| -> io::Result<()> {
            let mut f = BufWriter::with_capacity(1 << 20, File::create(&path)?);
            io::copy(&mut pattern(len), &mut f)?;
            f.into_inner()?.sync_all()
        });
        r?;
        results[1].1.push(gb / t);
        let (n, t) = time(|| drain(File::open(&path)?));
        assert_eq!(n?, len);
        results[2].1.push(gb / t);

        let (sealed, t) = time(|| escrow::seal(&lock, pattern(len), io::sink()));
        sealed?;
        results[3].1.push(gb / t);

        let (sealed, t) = time(|| -> Result<escrow::Sealed, Box<dyn std::error::Error>> {
            let f = File::create(&path)?;
            let s = escrow::seal(&lock, pattern(len), &f)?;
            f.sync_all()?;
            Ok(s)
        });
        let sealed = sealed?;
        results[4].1.push(gb / t);
        let ct_len = std::fs::metadata(&path)?.len();

        let (n, t) = time(|| -> Result<u64, Box<dyn std::error::Error>> {
            let r = escrow::open_with_beacon(&chain, 1000, &signature, File::open(&path)?)?;
            Ok(drain(r)?)
        });
        assert_eq!(n?, len);
        results[5].1.push(gb / t);

        let shares: Vec<Share> = sealed
            .shares
            .iter()
            .zip(&keys)
            .take(2)
            .map(|(e, k)| escrow::decrypt_share(e, k))
            .collect::<Result<_, _>>()?;
        let (n, t) = time(|| -> Result<u64, Box<dyn std::error::Error>> {
            let r = escrow::open_with_shares(&shares, File::open(&path)?)?;
            Ok(drain(r)?)
        });
        assert_eq!(n?, len);
        results[6].1.push(gb / t);

        // Correctness spot check on the first run: plaintext equals the pattern.
        if run == 0 {
            let mut r = escrow::open_with_beacon(&chain, 1000, &signature, File::open(&path)?)?;
            let mut expect = pattern(len);
            let (mut a, mut b) = (vec![0u8; 1 << 20], vec![0u8; 1 << 20]);
            loop {
                let n = r.read(&mut a)?;
                if n == 0 {
                    break;
                }
                expect.read_exact(&mut b[..n])?;
                assert_eq!(a[..n], b[..n], "plaintext mismatch");
            }
            assert_eq!(expect.remaining, 0);
            println!(
                "run 1: ciphertext {ct_len} bytes (+{} overhead), plaintext verified",
                ct_len - len
            );
        }
        let _ = std::io::stdout().flush();
    }
    std::fs::remove_file(&path)?;

    println!("\n{:<40} {:>10}   runs", "operation", "median GB/s");
    for (name, v) in &results {
        let runs: Vec<String> = v.iter().map(|x| format!("{x:.2}")).collect();
        println!(
            "{name:<40} {:>10.2}   [{}]",
            median(v.clone()),
            runs.join(", ")
        );
    }
    println!("\npeak RSS (VmHWM): {}", vm_hwm());
    Ok(())
}
