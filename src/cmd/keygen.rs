use anyhow::Context;
use embargo::core::note::KeyPair;
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct Args {
    /// The key's name: for a log, its origin (a schemeless URL such as `log.example.com/embargo`).
    #[arg(long)]
    name: String,
    /// Where to write the private key (created with mode 0600; never overwritten).
    #[arg(long)]
    out: PathBuf,
}

pub fn run(a: Args) -> anyhow::Result<()> {
    let key = KeyPair::generate(&a.name).context("cannot generate the key")?;
    key.write_file(&a.out)?;
    eprintln!("wrote private key to {} (keep it secret)", a.out.display());
    println!("{}", key.public());
    Ok(())
}
