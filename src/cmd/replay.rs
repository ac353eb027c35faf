//! `embargo replay`: run the revealed model on receipts' recorded inputs and compare scores and
//! order. Exit 0 every receipt replays, 1 one does not (or does not verify, or cannot be
//! replayed in full), 2 the replay could not run.

use anyhow::{bail, ensure, Context};
use embargo::audit::data::{Column, Table};
use embargo::audit::model::{self, Model};
use embargo::audit::suite::{Col, Input, InputType, Loc, Output, ScoreKind};
use embargo::client::verify::check_witnessed;
use embargo::client::Client;
use embargo::core::note::PublicKey;
use embargo::decisions::decision::{DecisionRecord, OutputSpec};
use embargo::decisions::replay::{replay, Finding, Scorer, Tolerance};
use serde_json::{Map, Value};
use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct Args {
    /// Receipt files, receipts JSONL files, or directories of them.
    #[arg(required = true)]
    receipts: Vec<PathBuf>,
    /// The commitment whose model must have made the decisions (every receipt's batch must be
    /// for it). With --log, its revealed model is fetched and verified as `embargo fetch` does.
    #[arg(long)]
    commitment: Option<u64>,
    /// The log's URL (with --commitment: fetch the revealed model).
    #[arg(long, requires = "commitment", value_parser = super::log_url)]
    log: Option<String>,
    /// The log's verifier key: every receipt is verified against it first.
    #[arg(long)]
    vkey: PublicKey,
    /// A local ONNX model instead of fetching it (with --log and --commitment, it must hash to
    /// the committed digest).
    #[arg(long, required_unless_present = "log")]
    model: Option<PathBuf>,
    /// Largest accepted absolute score difference.
    #[arg(long, default_value_t = Tolerance::default().abs)]
    abs_tol: f64,
    /// Largest accepted relative score difference.
    #[arg(long, default_value_t = Tolerance::default().rel)]
    rel_tol: f64,
    /// The model output to read scores from, when the record does not say (default: the first
    /// float output).
    #[arg(long)]
    output: Option<String>,
    /// The column of that output, when the record does not say (e.g. 1 for scikit-learn's
    /// positive-class probability).
    #[arg(long)]
    output_index: Option<usize>,
    /// Inputs of digest-only candidates (one receipt only): a JSON object from candidate index
    /// to its inputs object; checked against the digest with the receipt's salt.
    #[arg(long)]
    inputs: Option<PathBuf>,
    /// The ONNX Runtime library (as `embargo audit --onnxruntime`).
    #[arg(long)]
    onnxruntime: Option<PathBuf>,
    /// Client state for checkpoint consistency (as `embargo fetch --state`).
    #[arg(long)]
    state: Option<PathBuf>,
    /// Witnesses every receipt's checkpoint (and the fetched model's) must be cosigned by.
    #[command(flatten)]
    witnesses: super::WitnessFlags,
}

pub fn run(a: Args) -> u8 {
    match run_inner(a) {
        Ok(true) => 0,
        Ok(false) => 1,
        Err(e) => {
            eprintln!("embargo replay: {e:#}");
            2
        }
    }
}

/// Feeds candidates' inputs to an ONNX model through the audit's runner.
struct OnnxScorer {
    model: Model,
    default_output: OutputSpec,
}

impl Scorer for OnnxScorer {
    fn scores(
        &mut self,
        record: &DecisionRecord,
        inputs: &[&Map<String, Value>],
    ) -> Result<Vec<f64>, String> {
        let loc = Loc {
            file: "receipt".into(),
            line: 0,
            column: 0,
        };
        let mut columns = Vec::new();
        let mut feeds = Vec::new();
        for (name, ty, width) in self.model.tensor_inputs() {
            let ty =
                ty.ok_or_else(|| format!("model input {name:?} is not a tensor replay can feed"))?;
            let values: Vec<Vec<&Value>> = inputs
                .iter()
                .enumerate()
                .map(|(c, m)| match m.get(&name) {
                    Some(Value::Array(a)) => Ok(a.iter().collect()),
                    Some(v) => Ok(vec![v]),
                    None => Err(format!(
                        "a candidate's inputs have no {name:?} (candidate {c} of those replayed); the model's inputs are: {}",
                        self.model.describe_inputs()
                    )),
                })
                .collect::<Result<_, _>>()?;
            let w = width.unwrap_or(values[0].len());
            if let Some(bad) = values.iter().position(|v| v.len() != w) {
                return Err(format!(
                    "model input {name:?} takes {w} value(s) per candidate, but a candidate gives {}",
                    values[bad].len()
                ));
            }
            let mut cols = Vec::new();
            for j in 0..w {
                let col = if w == 1 {
                    name.clone()
                } else {
                    format!("{name}[{j}]")
                };
                let column = if ty == InputType::String {
                    let mut levels: Vec<String> = Vec::new();
                    let mut index: HashMap<String, u32> = HashMap::new();
                    let mut codes = Vec::with_capacity(values.len());
                    for v in &values {
                        let s = v[j].as_str().ok_or_else(|| {
                            format!("model input {name:?} takes strings, not {}", v[j])
                        })?;
                        let code = *index.entry(s.to_owned()).or_insert_with(|| {
                            levels.push(s.to_owned());
                            levels.len() as u32 - 1
                        });
                        codes.push(code);
                    }
                    Column::Text { codes, levels }
                } else {
                    Column::Number(
                        values
                            .iter()
                            .map(|v| {
                                v[j].as_f64().ok_or_else(|| {
                                    format!("model input {name:?} takes numbers, not {}", v[j])
                                })
                            })
                            .collect::<Result<_, _>>()?,
                    )
                };
                columns.push((col.clone(), column));
                cols.push(Col {
                    name: col,
                    at: loc.clone(),
                });
            }
            feeds.push(Input {
                name,
                ty,
                columns: cols,
                at: loc.clone(),
            });
        }
        let table = Table::from_columns("receipt", inputs.len(), columns);
        let spec = record
            .output
            .clone()
            .unwrap_or_else(|| self.default_output.clone());
        let output = Output {
            name: spec.name.or_else(|| self.default_output.name.clone()),
            index: spec.index.or(self.default_output.index),
            threshold: 0.5,
            kind: ScoreKind::Score,
        };
        self.model
            .scores(&table, &feeds, &output, 4096)
            .map_err(|e| e.to_string())
    }
}

fn run_inner(a: Args) -> anyhow::Result<bool> {
    let supplied: BTreeMap<usize, Map<String, Value>> = match &a.inputs {
        None => BTreeMap::new(),
        Some(p) => {
            ensure!(
                a.receipts.len() == 1 && a.receipts[0].is_file(),
                "--inputs applies to exactly one receipt"
            );
            let m: BTreeMap<String, Map<String, Value>> = serde_json::from_slice(
                &std::fs::read(p).with_context(|| format!("cannot read {}", p.display()))?,
            )
            .with_context(|| {
                format!(
                    "{}: expected {{\"<candidate index>\": {{inputs}}}}",
                    p.display()
                )
            })?;
            m.into_iter()
                .map(|(k, v)| {
                    Ok((
                        k.parse()
                            .with_context(|| format!("{k:?} is not a candidate index"))?,
                        v,
                    ))
                })
                .collect::<anyhow::Result<_>>()?
        }
    };

    // The model: fetched and verified, or local (checked against the commitment when possible).
    let mut cleanup = None;
    let model_path = match (&a.model, &a.log, a.commitment) {
        (None, Some(log), Some(index)) => {
            let dir =
                std::env::temp_dir().join(format!("embargo-replay-{index}-{}", std::process::id()));
            if dir.exists() {
                std::fs::remove_dir_all(&dir)?;
            }
            let required = a.witnesses.requirement()?;
            let fetched = super::runtime()?
                .block_on(super::fetch::fetch_verified(log, &a.vkey, index, &dir, a.state.clone(), required.as_ref()))
                .with_context(|| format!("cannot replay against commitment {index}: its model did not fetch and verify"))?;
            cleanup = Some(dir.clone());
            eprintln!(
                "verified: commitment {index} ({} {} by {}, sha3-256:{}) revealed at entry {}",
                fetched.model_name,
                fetched.model_version,
                fetched.platform,
                fetched.digest,
                fetched.reveal_index
            );
            let files = super::audit::walk(&dir)?;
            let onnx: Vec<&PathBuf> = files
                .iter()
                .filter(|f| {
                    f.extension()
                        .is_some_and(|e| e.eq_ignore_ascii_case("onnx"))
                })
                .collect();
            match (files.len(), onnx.len()) {
                (1, _) => files[0].clone(),
                (_, 1) => onnx[0].clone(),
                _ => bail!(
                    "the revealed model has {} files ({}): replay needs a single ONNX file",
                    files.len(),
                    super::audit::names(&dir, &files)
                ),
            }
        }
        (Some(m), log, commitment) => {
            if let (Some(log), Some(index)) = (log, commitment) {
                let view = super::runtime()?.block_on(Client::new(log).commitment(index))?;
                let got = embargo::model::digest::digest_path(m, None)?
                    .digest()
                    .to_hex();
                if got != view.commitment.model_digest {
                    eprintln!(
                        "FAIL: model is not the committed one: {} hashes to sha3-256:{got}, but commitment {index} is for sha3-256:{}",
                        m.display(),
                        view.commitment.model_digest
                    );
                    return Ok(false);
                }
            }
            m.clone()
        }
        _ => bail!("give --model FILE, or --commitment INDEX with --log URL"),
    };
    let result = replay_all(&a, &supplied, &model_path);
    if let Some(dir) = cleanup {
        let _ = std::fs::remove_dir_all(dir);
    }
    result
}

fn replay_all(
    a: &Args,
    supplied: &BTreeMap<usize, Map<String, Value>>,
    model_path: &std::path::Path,
) -> anyhow::Result<bool> {
    let lib = model::find_library(a.onnxruntime.as_deref())?;
    model::init(&lib)?;
    let mut scorer = OnnxScorer {
        model: Model::load(model_path, &model_path.display().to_string())?,
        default_output: OutputSpec {
            name: a.output.clone(),
            index: a.output_index,
        },
    };
    let tol = Tolerance {
        abs: a.abs_tol,
        rel: a.rel_tol,
    };
    let (mut passed, mut failed, mut partial) = (0usize, 0usize, 0usize);
    let mut seen = 0u64;
    let required = a.witnesses.requirement()?;
    let n = super::receipt::for_each(&a.receipts, |l| {
        seen += 1;
        ensure!(
            supplied.is_empty() || seen == 1,
            "--inputs applies to exactly one receipt, but {} holds several",
            a.receipts[0].display()
        );
        let verified = match l.receipt.as_ref().map_err(|e| e.to_string()).and_then(|r| {
            let v = r
                .verify(&a.vkey)
                .map_err(|e| format!("broken link {}: {e}", e.link()))?;
            check_witnessed(&v.checkpoint, required.as_ref())
                .map_err(|e| format!("broken link witnesses: {e}"))?;
            Ok(v)
        }) {
            Ok(v) => v,
            Err(e) => {
                failed += 1;
                println!("FAIL {}: receipt does not verify: {e}", l.label);
                return Ok(());
            }
        };
        if let Some(c) = a.commitment {
            if verified.batch.commitment != c {
                failed += 1;
                println!(
                    "FAIL {}: the receipt's batch (entry {}) is for commitment {}, not {c}",
                    l.label, verified.entry_index, verified.batch.commitment
                );
                return Ok(());
            }
        }
        let findings = replay(
            &verified.record,
            supplied,
            &verified.salts,
            &mut scorer,
            tol,
        )
        .map_err(|e| {
            anyhow::anyhow!(
                "{}: the model could not run on the recorded inputs: {e}",
                l.label
            )
        })?;
        if findings.is_empty() {
            passed += 1;
            println!(
                "ok   {}: {} candidates, scores and order replay (batch entry {})",
                l.label,
                verified.record.candidates.len(),
                verified.entry_index
            );
            return Ok(());
        }
        let mismatch = findings.iter().any(Finding::is_mismatch);
        if mismatch {
            failed += 1;
        } else {
            partial += 1;
        }
        let tag = if mismatch { "FAIL" } else { "INCOMPLETE" };
        for f in findings.iter().take(5) {
            println!("{tag} {}: {f}", l.label);
        }
        if findings.len() > 5 {
            println!("{tag} {}: ... and {} more", l.label, findings.len() - 5);
        }
        Ok(())
    })?;
    ensure!(n > 0, "no receipts found");
    println!(
        "{} receipts: {passed} replay, {failed} do not, {partial} not replayable in full (tolerance {:e} absolute or {:e} relative)",
        n,
        tol.abs,
        tol.rel
    );
    Ok(failed == 0 && partial == 0)
}
