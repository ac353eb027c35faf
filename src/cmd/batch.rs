//! `embargo batch`: build a decision batch from a JSONL file of records, log its root, and
//! write one receipt per record.

use anyhow::{bail, Context};
use embargo::client::Client;
use embargo::core::dsse::Envelope;
use embargo::core::note::{KeyPair, PublicKey};
use embargo::core::predicate::{hex, DecisionBatch};
use embargo::decisions::batch::{prove_chunks, scan, BatchError, DEFAULT_CHUNK_LOG2};
use embargo::decisions::receipt::ReceiptTemplate;
use rayon::prelude::*;
use std::fs::File;
use std::io::{BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Receipts rendered together before they are written.
const RENDER_GROUP: usize = 4096;

/// Receipts per shard directory.
pub const SHARD: u64 = 4096;

#[derive(clap::Args)]
#[command(after_help = "Receipts: by default one file per record, \
DIR/batch-<entry>/<shard>/<leaf>.receipt.json, where <shard> is the record's index divided by \
4096 written as 6 digits (at most 4096 files per directory). With --jsonl, one file \
DIR/batch-<entry>.receipts.jsonl with one receipt per line, in record order (better for \
millions of records). The batch entry's proof is saved as DIR/batch-<entry>.tlog-proof. \
Receipts are written to a .partial name and renamed when complete. Running the same command \
again logs nothing new (the log answers with the same entry) and rewrites the receipts.\n\n\
Memory stays bounded (about 75 MiB at the default --chunk-log2 16) whatever the number of \
records: the file is read twice, so it must not change until the command ends. Free space and \
inodes are checked before anything is logged.")]
pub struct Args {
    /// The decision records: JSONL, one record per line (schema/decision-record.schema.json).
    decisions: PathBuf,
    /// The log's URL.
    #[arg(long, value_parser = super::log_url)]
    log: String,
    /// The platform's private key.
    #[arg(long)]
    key: PathBuf,
    /// The commitment whose model made these decisions (every record must name it).
    #[arg(long)]
    commitment: u64,
    /// Directory for the receipts (created if needed).
    #[arg(long)]
    receipts: PathBuf,
    /// Write the receipts as one JSONL file instead of one file per record.
    #[arg(long)]
    jsonl: bool,
    /// The platform's registered name (default: the key's name; every record must name it).
    #[arg(long)]
    platform: Option<String>,
    /// The log's verifier key (otherwise trusted on first use).
    #[arg(long)]
    vkey: Option<PublicKey>,
    /// Salts of digest-only candidates, for the receipts (never logged): JSONL with one line
    /// per record, in the same order, each {"<candidate index>": "<64 hex>"} or {}.
    #[arg(long)]
    salts: Option<PathBuf>,
    /// Records per chunk, as a power of two (memory vs. nothing else: proofs are the same).
    #[arg(long, default_value_t = DEFAULT_CHUNK_LOG2, value_parser = clap::value_parser!(u32).range(0..=24))]
    chunk_log2: u32,
}

/// Free bytes and inodes of the file system holding `dir`.
fn free_space(dir: &Path) -> Option<(u64, u64)> {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(dir.as_os_str().as_bytes()).ok()?;
    // SAFETY: `c` is a NUL-terminated path and `s` a properly sized, writable statvfs.
    let mut s: libc::statvfs = unsafe { std::mem::zeroed() };
    if unsafe { libc::statvfs(c.as_ptr(), &mut s) } != 0 {
        return None;
    }
    Some((s.f_bavail as u64 * s.f_frsize as u64, s.f_favail as u64))
}

fn open(path: &Path) -> anyhow::Result<BufReader<File>> {
    Ok(BufReader::with_capacity(
        1 << 20,
        File::open(path).with_context(|| format!("cannot read {}", path.display()))?,
    ))
}

pub fn run(a: Args) -> anyhow::Result<()> {
    let key = KeyPair::read_file(&a.key)?;
    let platform = a.platform.clone().unwrap_or_else(|| key.name().to_owned());
    let name = a.decisions.display().to_string();

    // Pass 1: validate and hash every record. Nothing is logged if one is bad.
    let t = Instant::now();
    let scanned =
        scan(open(&a.decisions)?, &platform, a.commitment, a.chunk_log2).map_err(|e| match e {
            BatchError::Record { .. }
            | BatchError::Mismatch { .. }
            | BatchError::EmptyLine { .. } => {
                anyhow::anyhow!("{name}: {e}; nothing was logged")
            }
            e => anyhow::anyhow!("{name}: {e}"),
        })?;
    let pass1 = t.elapsed().as_secs_f64();
    let count = scanned.tree.count;
    eprintln!(
        "{count} records ({} bytes) hashed in {pass1:.2}s ({:.0} records/s): batch root {}, window {} to {}",
        scanned.bytes,
        count as f64 / pass1.max(1e-9),
        hex(&scanned.tree.root),
        scanned.window.start.to_rfc3339(),
        scanned.window.end.to_rfc3339()
    );

    if let Some(p) = &a.salts {
        check_salts(p, count)?;
    }

    // Room for the receipts, before anything is logged.
    std::fs::create_dir_all(&a.receipts)
        .with_context(|| format!("cannot create {}", a.receipts.display()))?;
    let depth = 64 - count.leading_zeros() as u64;
    let per_receipt = scanned.longest as u64 * 12 / 10 + 66 * depth + 8192;
    let need = per_receipt * count;
    if let Some((bytes, inodes)) = free_space(&a.receipts) {
        if bytes < need {
            bail!(
                "{} has {} MB free, but the receipts need up to {} MB ({count} receipts of up to {per_receipt} bytes): free some space or choose another --receipts; nothing was logged",
                a.receipts.display(),
                bytes >> 20,
                need >> 20
            );
        }
        let files = if a.jsonl {
            2
        } else {
            count + count / SHARD + 2
        };
        if inodes < files {
            bail!(
                "{} has room for {inodes} more files, but one receipt per record needs {files}: use --jsonl; nothing was logged",
                a.receipts.display()
            );
        }
    }

    // Log the batch.
    let predicate = DecisionBatch {
        platform: platform.clone(),
        commitment: a.commitment,
        window: scanned.window.clone(),
        record_count: count,
    };
    let st = scanned.tree.statement(&predicate);
    let envelope = Envelope::sign(&serde_json::to_vec(&st)?, &key);
    let client = Client::new(&a.log);
    let pending = a
        .receipts
        .join(format!(".batch-pending-{}.tlog-proof", std::process::id()));
    let (answer, cp) = super::runtime()?.block_on(async {
        let log_key = super::log_key(&client, a.vkey.clone()).await?;
        super::submit_envelope(&client, &envelope, &log_key, &pending)
            .await
            .context("the log refused the decision batch")
    })?;
    let entry = answer.index;
    let proof_path = a.receipts.join(format!("batch-{entry}.tlog-proof"));
    std::fs::rename(&pending, &proof_path)?;
    std::fs::rename(
        pending.with_extension("entry.json"),
        proof_path.with_extension("entry.json"),
    )?;
    eprintln!(
        "logged as entry {entry} of {}{}; proof saved to {}",
        cp.checkpoint.origin,
        if answer.duplicate {
            " (already logged before)"
        } else {
            ""
        },
        proof_path.display()
    );

    // Pass 2: one receipt per record.
    let t = Instant::now();
    let tlog_proof = std::fs::read_to_string(&proof_path)?;
    let template = ReceiptTemplate::new(count, &scanned.tree.root, &answer.entry, &tlog_proof);
    let final_path = if a.jsonl {
        a.receipts.join(format!("batch-{entry}.receipts.jsonl"))
    } else {
        a.receipts.join(format!("batch-{entry}"))
    };
    let partial = final_path.with_file_name(format!(
        "{}.partial",
        final_path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("receipts")
    ));
    if partial.is_dir() {
        std::fs::remove_dir_all(&partial)?;
    } else if partial.exists() {
        std::fs::remove_file(&partial)?;
    }
    let written = if a.jsonl {
        write_jsonl(
            &a.decisions,
            a.salts.as_deref(),
            &scanned.tree,
            &template,
            &partial,
        )?
    } else {
        write_files(
            &a.decisions,
            a.salts.as_deref(),
            &scanned.tree,
            &template,
            &partial,
        )?
    };
    if final_path.is_dir() {
        std::fs::remove_dir_all(&final_path)?;
    }
    std::fs::rename(&partial, &final_path)
        .with_context(|| format!("cannot move the receipts to {}", final_path.display()))?;
    let pass2 = t.elapsed().as_secs_f64();
    eprintln!(
        "{count} receipts ({} MB) written to {} in {pass2:.2}s ({:.0} receipts/s)",
        written >> 20,
        final_path.display(),
        count as f64 / pass2.max(1e-9)
    );
    println!("{entry}");
    Ok(())
}

fn io_context(e: anyhow::Error, what: &Path) -> anyhow::Error {
    let full = e
        .chain()
        .filter_map(|c| c.downcast_ref::<std::io::Error>())
        .any(|io| {
            io.raw_os_error() == Some(libc::ENOSPC) || io.raw_os_error() == Some(libc::EDQUOT)
        });
    if full {
        e.context(format!(
            "the disk holding {} is full: free space and run the same command again (the batch stays logged; its receipts are rewritten)",
            what.display()
        ))
    } else {
        e.context(format!("writing receipts to {}", what.display()))
    }
}

/// Writes one receipt per line; returns the bytes written.
fn write_jsonl(
    decisions: &Path,
    salts: Option<&Path>,
    tree: &embargo::decisions::batch::BatchTree,
    template: &ReceiptTemplate,
    out: &Path,
) -> anyhow::Result<u64> {
    let mut w = BufWriter::with_capacity(
        4 << 20,
        File::create_new(out).with_context(|| format!("cannot create {}", out.display()))?,
    );
    let mut written = 0u64;
    let mut salt_lines = salts.map(open).transpose()?;
    prove_chunks::<anyhow::Error>(open(decisions)?, tree, |c| {
        let salts = read_salts(&mut salt_lines, c.records.len())?;
        // Rendered in parallel, RENDER_GROUP receipts at a time (bounded memory), written in order.
        for (g, group) in c.records.chunks(RENDER_GROUP).enumerate() {
            let first = c.first + (g * RENDER_GROUP) as u64;
            let lines: Vec<Vec<u8>> = group
                .par_iter()
                .enumerate()
                .map(|(j, rec)| {
                    let i = first + j as u64;
                    let mut line = Vec::with_capacity(rec.len() * 2 + 4096);
                    let salt = salts.get((i - c.first) as usize).and_then(Option::as_ref);
                    template.render_with_salts(i, rec, &c.prover.proof(i), salt, &mut line);
                    line.push(b'\n');
                    line
                })
                .collect();
            for l in lines {
                w.write_all(&l).map_err(|e| io_context(e.into(), out))?;
                written += l.len() as u64;
            }
        }
        Ok(())
    })?;
    w.flush().map_err(|e| io_context(e.into(), out))?;
    w.get_ref()
        .sync_all()
        .map_err(|e| io_context(e.into(), out))?;
    Ok(written)
}

/// Writes one file per receipt under sharded directories; returns the bytes written.
fn write_files(
    decisions: &Path,
    salts: Option<&Path>,
    tree: &embargo::decisions::batch::BatchTree,
    template: &ReceiptTemplate,
    dir: &Path,
) -> anyhow::Result<u64> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let mut written = 0u64;
    let mut salt_lines = salts.map(open).transpose()?;
    prove_chunks::<anyhow::Error>(open(decisions)?, tree, |c| {
        let salts = read_salts(&mut salt_lines, c.records.len())?;
        let last = c.first + c.records.len() as u64 - 1;
        for shard in c.first / SHARD..=last / SHARD {
            std::fs::create_dir_all(dir.join(format!("{shard:06}")))
                .map_err(|e| io_context(e.into(), dir))?;
        }
        let sizes: Vec<u64> = c
            .records
            .par_iter()
            .enumerate()
            .map(|(j, rec)| {
                let i = c.first + j as u64;
                let mut body = Vec::with_capacity(rec.len() * 2 + 4096);
                let salt = salts.get(j).and_then(Option::as_ref);
                template.render_with_salts(i, rec, &c.prover.proof(i), salt, &mut body);
                body.push(b'\n');
                let p = dir.join(format!("{:06}/{i}.receipt.json", i / SHARD));
                std::fs::write(&p, &body).map_err(|e| io_context(e.into(), &p))?;
                Ok(body.len() as u64)
            })
            .collect::<anyhow::Result<_>>()?;
        written += sizes.iter().sum::<u64>();
        Ok(())
    })?;
    Ok(written)
}

type Salts = std::collections::BTreeMap<String, String>;

/// Parses one line of a salts file.
fn parse_salts(line: &[u8]) -> Result<Option<Salts>, String> {
    let line = embargo::decisions::decision::line_bytes(line);
    if line.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    let m: Salts = serde_json::from_slice(line)
        .map_err(|e| format!("expected {{\"<candidate index>\": \"<64 hex>\"}}: {e}"))?;
    for (k, v) in &m {
        if k.parse::<usize>().is_err() {
            return Err(format!("{k:?} is not a candidate index"));
        }
        if embargo::decisions::decision::parse_salt(v).is_none() {
            return Err(format!("the salt of candidate {k} is not 64 hex digits"));
        }
    }
    Ok((!m.is_empty()).then_some(m))
}

/// Checks a salts file before anything is logged: one valid line per record.
fn check_salts(path: &Path, count: u64) -> anyhow::Result<()> {
    use std::io::BufRead;
    let mut lines = 0u64;
    let mut r = open(path)?;
    let mut buf = Vec::new();
    while r.read_until(b'\n', &mut buf)? > 0 {
        lines += 1;
        parse_salts(&buf).map_err(|e| {
            anyhow::anyhow!("{} line {lines}: {e}; nothing was logged", path.display())
        })?;
        buf.clear();
    }
    if lines != count {
        bail!(
            "{} has {lines} lines, but there are {count} records: give one line per record ({{}} for none); nothing was logged",
            path.display()
        );
    }
    Ok(())
}

/// The salts of the next `n` records.
fn read_salts(r: &mut Option<BufReader<File>>, n: usize) -> anyhow::Result<Vec<Option<Salts>>> {
    use std::io::BufRead;
    let Some(r) = r else {
        return Ok(Vec::new());
    };
    let mut out = Vec::with_capacity(n);
    let mut buf = Vec::new();
    for _ in 0..n {
        buf.clear();
        r.read_until(b'\n', &mut buf)?;
        out.push(parse_salts(&buf).map_err(|e| anyhow::anyhow!("the salts file changed: {e}"))?);
    }
    Ok(out)
}

/// Where `embargo batch` puts the receipt of record `index` of batch entry `entry`.
#[allow(dead_code)]
pub fn receipt_path(dir: &Path, entry: u64, index: u64) -> PathBuf {
    dir.join(format!(
        "batch-{entry}/{:06}/{index}.receipt.json",
        index / SHARD
    ))
}
