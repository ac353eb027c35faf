//! `embargo receipt verify`: check decision receipts offline, link by link.

use anyhow::Context;
use embargo::note::PublicKey;
use embargo::receipt::{Receipt, ReceiptError};
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

/// Reads receipts: a single receipt (one JSON object, in any layout), a receipts JSONL file
/// (one per line), or a directory of those.
pub fn load(paths: &[PathBuf]) -> anyhow::Result<Vec<Loaded>> {
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
    let mut out = Vec::new();
    for f in files {
        let bytes = std::fs::read(&f).with_context(|| format!("cannot read {}", f.display()))?;
        let label = f.display().to_string();
        match Receipt::parse(&bytes) {
            Ok(r) => out.push(Loaded {
                label,
                receipt: Ok(r),
            }),
            Err(e) => {
                let lines: Vec<&[u8]> = bytes
                    .split(|&b| b == b'\n')
                    .filter(|l| !l.iter().all(u8::is_ascii_whitespace))
                    .collect();
                if lines.len() <= 1 {
                    out.push(Loaded {
                        label,
                        receipt: Err(e),
                    });
                    continue;
                }
                for (i, l) in lines.into_iter().enumerate() {
                    out.push(Loaded {
                        label: format!("{label}:{}", i + 1),
                        receipt: Receipt::parse(l),
                    });
                }
            }
        }
    }
    Ok(out)
}

pub fn run(c: Command) -> u8 {
    match c {
        Command::Verify(a) => match verify(a) {
            Ok(true) => 0,
            Ok(false) => 1,
            Err(e) => {
                eprintln!("embargo receipt verify: {e:#}");
                2
            }
        },
    }
}

fn verify(a: VerifyArgs) -> anyhow::Result<bool> {
    let loaded = load(&a.receipts)?;
    anyhow::ensure!(!loaded.is_empty(), "no receipts found");
    let mut all = true;
    for l in loaded {
        match l.receipt.and_then(|r| r.verify(&a.vkey)) {
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
    }
    Ok(all)
}
