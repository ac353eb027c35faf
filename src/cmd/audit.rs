//! `embargo audit SUITE.toml (--model FILE | --commitment INDEX --log URL --vkey VKEY)
//! [--out DIR] [--submit --key FILE]`: run a fairness suite against a model, report, and
//! optionally log a signed summary. Exit codes: 0 every check passed, 1 a check failed, 2 the
//! audit could not run (bad input, a model that does not verify, a refused submission).

use anyhow::{bail, Context};
use embargo::audit::{self, data, model, report, suite::Suite, Provenance};
use embargo::client::Client;
use embargo::core::dsse::Envelope;
use embargo::core::note::{KeyPair, PublicKey};
use embargo::core::predicate::{statement, AuditReport, Kind, Verdict};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::time::Instant;

#[derive(clap::Args)]
#[command(group(clap::ArgGroup::new("source").required(true).args(["model", "commitment"])))]
pub struct Args {
    /// The suite (TOML; see schema/suite.schema.json).
    suite: PathBuf,
    /// Audit this local ONNX model file.
    #[arg(long)]
    model: Option<PathBuf>,
    /// Audit the revealed model of this commitment (fetched and verified as `embargo fetch` does).
    #[arg(long, requires_all = ["log", "vkey"])]
    commitment: Option<u64>,
    /// The log's URL (with --commitment).
    #[arg(long, value_parser = super::log_url)]
    log: Option<String>,
    /// The log's verifier key (with --commitment): everything is checked against it.
    #[arg(long)]
    vkey: Option<PublicKey>,
    /// Where to write report.json and report.html (default: audit-<suite name>).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Log the report's digest and headline numbers as an audit-report entry, and store the
    /// full report with the log (needs --commitment and --key).
    #[arg(long, requires_all = ["key", "commitment"])]
    submit: bool,
    /// The auditor's private key (with --submit).
    #[arg(long)]
    key: Option<PathBuf>,
    /// The auditor's registered name (default: the key's name).
    #[arg(long)]
    auditor: Option<String>,
    /// The ONNX Runtime library (libonnxruntime.so). Default: $ORT_DYLIB_PATH, then known
    /// places (the onnxruntime Python package in ./.venv-audit, $VIRTUAL_ENV, ~/.local, /usr).
    #[arg(long)]
    onnxruntime: Option<PathBuf>,
    /// Client state for checkpoint consistency (as `embargo fetch --state`).
    #[arg(long)]
    state: Option<PathBuf>,
    #[command(flatten)]
    witnesses: super::WitnessFlags,
    /// Do not print the table (the verdict line and file paths are still printed).
    #[arg(long)]
    quiet: bool,
}

/// Runs the audit and returns the process exit code.
pub fn run(a: Args) -> u8 {
    match run_inner(a) {
        Ok(true) => 0,
        Ok(false) => 1,
        Err(e) => {
            eprintln!("embargo audit: {}", super::message(&e));
            2
        }
    }
}

fn sha256_hex(b: &[u8]) -> String {
    Sha256::digest(b)
        .iter()
        .map(|x| format!("{x:02x}"))
        .collect()
}

fn secs(t: Instant) -> f64 {
    t.elapsed().as_secs_f64()
}

fn run_inner(a: Args) -> anyhow::Result<bool> {
    let started = Instant::now();
    let suite_text = String::from_utf8(super::read_regular(
        &a.suite,
        "the suite",
        super::MAX_SMALL_FILE,
    )?)
    .with_context(|| format!("the suite {} is not UTF-8 text", a.suite.display()))?;
    let suite_name = a.suite.display().to_string();
    let suite = Suite::parse(&suite_name, &suite_text)?;
    let suite_dir = a.suite.parent().map(Path::to_path_buf).unwrap_or_default();
    let out = a.out.clone().unwrap_or_else(|| {
        let stem = a
            .suite
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or("suite");
        PathBuf::from(format!("audit-{stem}"))
    });
    std::fs::create_dir_all(&out).with_context(|| format!("cannot create {}", out.display()))?;

    // The model: a local file, or the revealed model of a commitment, verified.
    let mut cleanup: Option<PathBuf> = None;
    let (model_path, model_digest, model_name, fetched_name) = if let Some(index) = a.commitment {
        let (log, vkey) = (
            a.log.as_deref().expect("clap requires --log"),
            a.vkey.as_ref().expect("clap requires --vkey"),
        );
        let dir = out.join(format!(".model-{index}-{}", std::process::id()));
        if dir.exists() {
            std::fs::remove_dir_all(&dir)?;
        }
        let required = a.witnesses.requirement()?;
        let fetched = super::runtime()?
            .block_on(super::fetch::fetch_verified(
                log,
                vkey,
                index,
                &dir,
                a.state.clone(),
                required.as_ref(),
            ))
            .with_context(|| {
                format!("cannot audit commitment {index}: its model did not fetch and verify")
            })?;
        cleanup = Some(dir.clone());
        eprintln!(
            "verified: commitment {index} ({} {} by {}, sha3-256:{}) revealed at entry {}, in checkpoint {} of {}",
            fetched.model_name, fetched.model_version, fetched.platform, fetched.digest, fetched.reveal_index, fetched.checkpoint_size, fetched.origin
        );
        let files: Vec<PathBuf> = walk(&dir)?;
        let file = match (&suite.model_file, files.len()) {
            (Some(f), _) => {
                let p = dir.join(f);
                if !p.is_file() {
                    bail!("{}: model.file {f:?} is not a file of the revealed model (its files: {})", suite.file, names(&dir, &files));
                }
                p
            }
            (None, 1) => files[0].clone(),
            (None, _) => bail!("the revealed model has {} files ({}): say which one is the ONNX model with model.file in {}", files.len(), names(&dir, &files), suite.file),
        };
        let shown = format!(
            "{} (commitment {index})",
            file.strip_prefix(&dir).unwrap_or(&file).display()
        );
        (
            file,
            format!("sha3-256:{}", fetched.digest),
            shown,
            Some(fetched.model_name),
        )
    } else {
        let p = a
            .model
            .clone()
            .expect("clap requires --model or --commitment");
        if !p.exists() {
            bail!("--model {}: no such file", p.display());
        }
        if !p.is_file() {
            bail!(
                "--model {} is not a regular file (a directory, device or pipe): give the ONNX model file",
                p.display()
            );
        }
        let manifest = embargo::model::digest::digest_path(&p, None)
            .with_context(|| format!("cannot digest {}", p.display()))?;
        (
            p.clone(),
            format!("sha3-256:{}", manifest.digest().to_hex()),
            p.display().to_string(),
            None,
        )
    };
    let result = audit_model(AuditRun {
        a: &a,
        suite: &suite,
        suite_text: &suite_text,
        suite_dir: &suite_dir,
        out: &out,
        model_path: &model_path,
        model_digest: &model_digest,
        model_name: &model_name,
        fetched_name,
        started,
    });
    if let Some(dir) = cleanup {
        let _ = std::fs::remove_dir_all(dir);
    }
    result
}

/// One audit to run: the suite, where it and its data are, the model, where the reports go.
struct AuditRun<'a> {
    a: &'a Args,
    suite: &'a Suite,
    /// The suite file's text (its digest goes into the report).
    suite_text: &'a str,
    /// Where the suite's relative paths start.
    suite_dir: &'a Path,
    /// The directory the reports (and the audit's proof) are written to.
    out: &'a Path,
    model_path: &'a Path,
    /// `sha3-256:<hex>`.
    model_digest: &'a str,
    /// How the report names the model file.
    model_name: &'a str,
    /// The model's name in its commitment, when it was fetched from the log.
    fetched_name: Option<String>,
    started: Instant,
}

fn audit_model(run: AuditRun) -> anyhow::Result<bool> {
    let AuditRun {
        a,
        suite,
        suite_text,
        suite_dir,
        out,
        model_path,
        model_digest,
        model_name,
        started,
        ..
    } = run;
    // The data set, hashed as read.
    let t = Instant::now();
    let data_path = suite_dir.join(&suite.data_path);
    let bytes = super::read_regular(&data_path, "the data set", super::MAX_DATA_SET)
        .with_context(|| format!("{}: the data set cannot be used", suite.data_at))?;
    let data_digest = format!("sha256:{}", sha256_hex(&bytes));
    let data_name = data_path.display().to_string();
    let table = data::load(
        &bytes[..],
        &data_name,
        &audit::needs(suite),
        &suite.missing,
        suite.delimiter,
    )?;
    drop(bytes);
    let load_s = secs(t);

    // Scores from ONNX Runtime.
    let lib = model::find_library(a.onnxruntime.as_deref())?;
    let ort_version = model::init(&lib)?;
    let t = Instant::now();
    let mut m = model::Model::load(model_path, model_name)?;
    let scores = m.scores(&table, &suite.inputs, &suite.output, suite.batch_rows)?;
    let infer_s = secs(t);

    let t = Instant::now();
    let prov = Provenance {
        suite_digest: format!("sha256:{}", sha256_hex(suite_text.as_bytes())),
        data_file: data_path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or(&data_name)
            .to_owned(),
        data_digest,
        model_file: model_name.to_owned(),
        model_digest: model_digest.to_owned(),
        commitment: a.commitment,
        log: a.log.clone(),
        onnxruntime: ort_version,
    };
    let rep = audit::evaluate(suite, &table, &scores, &prov)?;
    let metrics_s = secs(t);

    let json = rep.to_json();
    let json_path = out.join("report.json");
    let html_path = out.join("report.html");
    std::fs::write(&json_path, &json)
        .with_context(|| format!("cannot write {}", json_path.display()))?;
    std::fs::write(&html_path, report::html(&rep))
        .with_context(|| format!("cannot write {}", html_path.display()))?;
    if !a.quiet {
        print!("{}", report::terminal(&rep));
    }
    let report_digest = format!("sha256:{}", sha256_hex(json.as_bytes()));
    println!(
        "report: {} ({report_digest}), {}",
        json_path.display(),
        html_path.display()
    );
    eprintln!(
        "timings: rows {}, load {load_s:.3}s, inference {infer_s:.3}s (input tensors {:.3}s, session run {:.3}s), metrics {metrics_s:.3}s ({} bootstrap resamples), total {:.3}s; ONNX Runtime {} from {}",
        table.rows,
        m.input_seconds,
        m.run_seconds,
        suite.bootstrap.as_ref().map_or(0, |b| b.resamples),
        secs(started),
        rep.model.onnxruntime,
        lib.display()
    );

    if a.submit {
        submit_report(&run, &rep, &report_digest, json)?;
    }
    println!("verdict: {}", rep.verdict.to_uppercase());
    Ok(rep.passed())
}

/// Signs the audit's summary as the auditor, logs it, checks the log's proof, and stores the
/// full report (`json`) with the log.
fn submit_report(
    run: &AuditRun,
    rep: &report::Report,
    report_digest: &str,
    json: String,
) -> anyhow::Result<()> {
    let (a, out, model_name, model_digest) = (run.a, run.out, run.model_name, run.model_digest);
    let index = a.commitment.expect("clap requires --commitment");
    let key = KeyPair::read_file(a.key.as_ref().expect("clap requires --key"))?;
    let predicate = AuditReport {
        auditor: a.auditor.clone().unwrap_or_else(|| key.name().to_owned()),
        commitment: index,
        suite_digest: rep.suite.digest.clone(),
        dataset_digest: rep.data.digest.clone(),
        verdict: if rep.passed() {
            Verdict::Pass
        } else {
            Verdict::Fail
        },
        metrics: rep.headline(),
        report_digest: report_digest.to_owned(),
    };
    let subject = run
        .fetched_name
        .clone()
        .unwrap_or_else(|| model_name.to_owned());
    let digest_hex = model_digest
        .strip_prefix("sha3-256:")
        .unwrap_or(model_digest);
    let st = statement(
        Kind::AuditReport,
        &subject,
        "sha3-256",
        digest_hex,
        &predicate,
    );
    let envelope = Envelope::sign(&serde_json::to_vec(&st)?, &key);
    let client = Client::new(a.log.as_deref().expect("clap requires --log"));
    let vkey = a.vkey.clone().expect("clap requires --vkey");
    let proof_path = out.join("audit.tlog-proof");
    let rt = super::runtime()?;
    let (answer, cp) = rt
        .block_on(super::submit_envelope(
            &client,
            &envelope,
            &vkey,
            &proof_path,
        ))
        .context("the log refused the audit report")?;
    let stored = rt
        .block_on(client.put_audit_report(index, answer.index, json.into_bytes()))
        .context("the audit entry is logged, but the log did not store the full report; upload it again with PUT v1/commitments/<i>/audits/<entry>/report")?;
    println!(
        "logged: audit entry {} of {} (checkpoint {}), verdict {}; report stored at {}/{}; proof saved to {}",
        answer.index,
        cp.checkpoint.origin,
        cp.size(),
        rep.verdict,
        client.base(),
        stored.location,
        proof_path.display()
    );
    Ok(())
}

pub(crate) fn walk(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d)? {
            let p = e?.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out.sort();
    Ok(out)
}

pub(crate) fn names(dir: &Path, files: &[PathBuf]) -> String {
    files
        .iter()
        .map(|f| f.strip_prefix(dir).unwrap_or(f).display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}
