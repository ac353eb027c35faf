//! `embargo receipt verify`: check decision receipts offline, link by link.

use anyhow::Context;
use embargo::client::verify::check_witnessed;
use embargo::core::note::PublicKey;
use embargo::decisions::receipt::{Receipt, ReceiptError};
use std::path::{Path, PathBuf};

#[derive(clap::Subcommand)]
pub enum Command {
    /// Check receipts offline: record -> batch root -> batch entry -> checkpoint signature ->
    /// log inclusion; say which link broke. Exit 0 all verify, 1 one does not, 2 error.
    Verify(VerifyArgs),
}

#[derive(clap::Args)]
pub struct VerifyArgs {
    /// Receipt files (`*.receipt.json`), receipts JSONL files, or directories of either.
    #[arg(required = true)]
    receipts: Vec<PathBuf>,
    /// The log's verifier key.
    #[arg(long)]
    vkey: PublicKey,
    /// Witnesses the receipt's checkpoint must be cosigned by (a receipt made from a
    /// witnessed proof: `serve --ack-witnessed`, or a proof fetched at the witnessed size).
    #[command(flatten)]
    witnesses: super::WitnessFlags,
}

/// One receipt read from disk: where it came from, and the receipt or why it is unreadable.
pub struct Loaded {
    pub label: String,
    pub receipt: Result<Receipt, ReceiptError>,
}

fn is_receipt_file(p: &Path) -> bool {
    let n = p.file_name().and_then(|n| n.to_str()).unwrap_or_default();
    n.ends_with(".receipt.json") || n.ends_with(".jsonl")
}

/// Reads receipts one at a time (bounded memory, whatever their number) and hands each to `f`:
/// a single receipt (one JSON object, in any layout), a receipts JSONL file (one per line, read
/// as a stream), or a directory of those. Returns how many were read.
pub fn for_each(
    paths: &[PathBuf],
    mut f: impl FnMut(Loaded) -> anyhow::Result<()>,
) -> anyhow::Result<u64> {
    use std::io::BufRead;
    let mut files = Vec::new();
    for p in paths {
        if p.is_dir() {
            files.extend(
                super::audit::walk(p)?
                    .into_iter()
                    .filter(|f| is_receipt_file(f)),
            );
        } else {
            files.push(p.clone());
        }
    }
    let mut n = 0u64;
    for file in files {
        let label = file.display().to_string();
        let open = || {
            std::fs::File::open(&file).with_context(|| format!("cannot read {}", file.display()))
        };
        let jsonl = file.extension().is_some_and(|e| e == "jsonl");
        if !jsonl {
            let bytes = super::read_regular(&file, "the receipt", super::MAX_SMALL_FILE)?;
            let receipt = Receipt::parse(&bytes);
            let lines = bytes
                .split(|&b| b == b'\n')
                .filter(|l| !l.iter().all(u8::is_ascii_whitespace))
                .count();
            if receipt.is_ok() || lines <= 1 {
                n += 1;
                f(Loaded { label, receipt })?;
                continue;
            }
        }
        let mut r = std::io::BufReader::with_capacity(1 << 20, open()?);
        let mut buf = Vec::new();
        let mut line = 0u64;
        loop {
            buf.clear();
            if r.read_until(b'\n', &mut buf)? == 0 {
                break;
            }
            line += 1;
            if buf.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            n += 1;
            f(Loaded {
                label: format!("{label}:{line}"),
                receipt: Receipt::parse(&buf),
            })?;
        }
    }
    Ok(n)
}

pub fn run(c: Command) -> u8 {
    match c {
        Command::Verify(a) => match verify(a) {
            Ok(true) => 0,
            Ok(false) => 1,
            Err(e) => {
                eprintln!("embargo receipt verify: {}", super::message(&e));
                2
            }
        },
    }
}

fn verify(a: VerifyArgs) -> anyhow::Result<bool> {
    let mut all = true;
    let required = a.witnesses.requirement()?;
    let mut unreadable = 0u64;
    let n = for_each(&a.receipts, |l| {
        if let Err(ReceiptError::Format(why)) = &l.receipt {
            // Not a receipt at all: an error in what was given (exit 2), not a broken link.
            unreadable += 1;
            eprintln!("embargo receipt verify: {}: {why}", l.label);
            return Ok(());
        }
        let verified = l.receipt.and_then(|r| r.verify(&a.vkey));
        if let Ok(v) = &verified {
            if let Err(e) = check_witnessed(&v.checkpoint, required.as_ref()) {
                all = false;
                println!("FAIL {}: broken link witnesses: {e}", l.label);
                return Ok(());
            }
        }
        match verified {
            Ok(v) => println!(
                "OK {}: record {} of {} in batch entry {} ({}, commitment {}, subject {}, {} at {}), in checkpoint {} of {}",
                l.label,
                v.record.id.as_deref().unwrap_or("-"),
                v.batch.record_count,
                v.entry_index,
                v.batch.platform,
                v.batch.commitment,
                v.record.subject,
                v.record.surface,
                v.record.time.to_rfc3339(),
                v.checkpoint.size(),
                v.checkpoint.checkpoint.origin
            ),
            Err(e) => {
                all = false;
                println!("FAIL {}: broken link {}: {e}", l.label, e.link());
            }
        }
        Ok(())
    })?;
    anyhow::ensure!(n > 0, "no receipts found");
    anyhow::ensure!(
        unreadable == 0,
        "{unreadable} of {n} files are not decision receipts (give the *.receipt.json files `embargo batch` wrote)"
    );
    Ok(all)
}
