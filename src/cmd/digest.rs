use anyhow::Context;
use embargo::model::digest::digest_path;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};

#[derive(clap::Args)]
pub struct Args {
    /// A model file or directory.
    path: PathBuf,
    /// Print the manifest (one line per file) before the digest.
    #[arg(long)]
    manifest: bool,
}

/// Digests a model, with a progress bar when stderr is a terminal.
pub fn digest_with_progress(path: &Path) -> anyhow::Result<embargo::model::digest::Manifest> {
    let total = total_size(path);
    let bar = if std::io::stderr().is_terminal() && total > 64 << 20 {
        let bar = indicatif::ProgressBar::new(total);
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "hashing {bar:40} {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
            )
            .expect("valid template"),
        );
        Some(bar)
    } else {
        None
    };
    let inc = |n: u64| {
        if let Some(b) = &bar {
            b.inc(n);
        }
    };
    let manifest = digest_path(path, Some(&inc))
        .with_context(|| format!("cannot digest {}", path.display()))?;
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    Ok(manifest)
}

fn total_size(path: &Path) -> u64 {
    fn walk(p: &Path) -> u64 {
        match std::fs::symlink_metadata(p) {
            Ok(m) if m.is_file() => m.len(),
            Ok(m) if m.is_dir() => std::fs::read_dir(p)
                .map(|rd| rd.flatten().map(|e| walk(&e.path())).sum())
                .unwrap_or(0),
            _ => 0,
        }
    }
    walk(path)
}

pub fn run(a: Args) -> anyhow::Result<()> {
    let manifest = digest_with_progress(&a.path)?;
    if a.manifest {
        print!("{}", manifest.to_text());
    }
    println!("{}  {}", manifest.digest().to_hex(), a.path.display());
    Ok(())
}
