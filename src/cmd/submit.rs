use anyhow::{bail, Context};
use embargo::client::Client;
use embargo::core::dsse::Envelope;
use embargo::core::entry::Statement;
use embargo::core::note::{KeyPair, PublicKey};
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct Args {
    /// The log's URL, e.g. http://127.0.0.1:8080
    #[arg(long, value_parser = super::log_url)]
    log: String,
    /// Your private key (the log must accept its vkey).
    #[arg(long)]
    key: PathBuf,
    /// The statement's predicateType (set if the file has none; must match if it has one).
    #[arg(long)]
    predicate_type: String,
    /// The log's verifier key. Without it the key the log announces is trusted on first use.
    #[arg(long)]
    vkey: Option<PublicKey>,
    /// Where to save the proof (default: STATEMENT with extension .tlog-proof); the logged
    /// entry is saved beside it with extension .entry.json.
    #[arg(long)]
    out: Option<PathBuf>,
    /// The in-toto Statement (JSON).
    statement: PathBuf,
}

pub async fn run(a: Args) -> anyhow::Result<()> {
    let key = KeyPair::read_file(&a.key)?;
    let raw = std::fs::read(&a.statement)
        .with_context(|| format!("cannot read {}", a.statement.display()))?;
    let mut json: serde_json::Value = serde_json::from_slice(&raw)
        .with_context(|| format!("{} is not JSON", a.statement.display()))?;
    let obj = json.as_object_mut().with_context(|| {
        format!(
            "{} must hold a JSON object (an in-toto Statement)",
            a.statement.display()
        )
    })?;
    match obj.get("predicateType").and_then(|v| v.as_str()) {
        Some(pt) if pt != a.predicate_type => bail!(
            "{} has predicateType {pt:?} but --predicate-type is {:?}",
            a.statement.display(),
            a.predicate_type
        ),
        _ => {
            obj.insert("predicateType".into(), a.predicate_type.clone().into());
        }
    }
    let payload = serde_json::to_vec(&json)?;
    Statement::parse(&payload)
        .with_context(|| format!("{} is not a valid statement", a.statement.display()))?;
    let envelope = Envelope::sign(&payload, &key);

    let client = Client::new(&a.log);
    let log_key = super::log_key(&client, a.vkey).await?;
    let out = a
        .out
        .unwrap_or_else(|| a.statement.with_extension("tlog-proof"));
    let (answer, cp) = super::submit_envelope(&client, &envelope, &log_key, &out).await?;
    eprintln!(
        "{} entry {} in {} (tree size {}); proof saved to {}",
        if answer.duplicate {
            "already logged as"
        } else {
            "logged as"
        },
        answer.index,
        cp.checkpoint.origin,
        cp.size(),
        out.display(),
    );
    println!("{}", answer.index);
    Ok(())
}
