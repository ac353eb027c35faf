//! Decision batches, receipts and replay, end to end through the real CLI and a real server:
//! a platform commits to the Adult logistic-regression model (sealed), logs two batches of
//! ranking decisions scored by that model (one with a reordered ranking and a changed score
//! in it), hands out receipts; after the reveal, honest receipts replay and every kind of
//! tampering fails with its reason.

mod common;

use common::{add_party, commit, embargo, keygen, ok, Server};
use embargo::audit::{self, data, model, suite::InputType, suite::Suite};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn fixtures() -> PathBuf {
    root().join("tests/fixtures/audit")
}

fn start(dir: &Path) -> Server {
    Server::start(&dir.join("data"), &dir.join("log.key"), &[])
}

/// Runs the CLI; returns the exit code and stdout + stderr.
fn code(dir: &Path, args: &[&str]) -> (i32, String) {
    let out = embargo(dir, args);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), text)
}

fn get_json(url: &str) -> Value {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async { reqwest::get(url).await.unwrap().json().await.unwrap() })
}

/// Rows of Adult (without missing values), each as the model's named inputs, with the
/// logistic regression's score for it (computed in process with the audit's runner).
fn scored_rows(n: usize) -> Vec<(serde_json::Map<String, Value>, f64)> {
    scored_rows_by(n, "adult-logreg.onnx")
}

fn scored_rows_by(n: usize, model_file: &str) -> Vec<(serde_json::Map<String, Value>, f64)> {
    let suite_text = std::fs::read_to_string(fixtures().join("adult-four-fifths.toml")).unwrap();
    let suite = Suite::parse("adult-four-fifths.toml", &suite_text).unwrap();
    let text = std::fs::read_to_string(root().join("../shared/datasets/adult.csv")).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let rows: Vec<&str> = lines.filter(|l| !l.contains('?')).take(n).collect();
    let csv = format!("{}\n{}\n", header.join(","), rows.join("\n"));
    let table = data::load(
        csv.as_bytes(),
        "rows.csv",
        &audit::needs(&suite),
        &suite.missing,
        suite.delimiter,
    )
    .unwrap();
    let lib = model::find_library(None).unwrap();
    model::init(&lib).unwrap();
    let mut m = model::Model::load(&fixtures().join(model_file), model_file).unwrap();
    let scores = m.scores(&table, &suite.inputs, &suite.output, 256).unwrap();
    rows.iter()
        .zip(scores)
        .map(|(row, score)| {
            let cells: Vec<&str> = row.split(',').collect();
            let mut inputs = serde_json::Map::new();
            for i in &suite.inputs {
                let col = header.iter().position(|h| *h == i.columns[0].name).unwrap();
                let v = match i.ty {
                    InputType::String => json!(cells[col]),
                    _ => json!(cells[col].parse::<f64>().unwrap()),
                };
                inputs.insert(i.name.clone(), v);
            }
            (inputs, score)
        })
        .collect()
}

/// A record ranking `rows` (five candidates each) for one user, shown by descending score.
fn record(
    commitment: &str,
    user: usize,
    second: u32,
    rows: &[(serde_json::Map<String, Value>, f64)],
) -> Value {
    let mut shown: Vec<usize> = (0..rows.len()).collect();
    shown.sort_by(|&a, &b| rows[b].1.total_cmp(&rows[a].1));
    json!({
        "v": 1,
        "platform": "jobs.example",
        "commitment": commitment.parse::<u64>().unwrap(),
        "time": format!("2026-11-24T10:00:{second:02}.000Z"),
        "subject": format!("user-{user:04}"),
        "surface": "job-feed",
        "id": format!("decision-{user}"),
        "output": {"name": "probabilities", "index": 1},
        "candidates": rows.iter().enumerate().map(|(i, (inputs, score))| json!({
            "item": format!("job-{user}-{i}"),
            "inputs": inputs,
            "score": score,
        })).collect::<Vec<_>>(),
        "shown": shown,
    })
}

fn write_jsonl(path: &Path, records: &[Value]) {
    let mut text = String::new();
    for r in records {
        text.push_str(&serde_json::to_string(r).unwrap());
        text.push('\n');
    }
    std::fs::write(path, text).unwrap();
}

fn read_receipt(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

fn write_receipt(dir: &Path, name: &str, v: &Value) -> String {
    let p = dir.join(name);
    std::fs::write(&p, serde_json::to_vec(v).unwrap()).unwrap();
    p.display().to_string()
}

/// The default tolerance (1e-6) is far below how much the two fixture models disagree: a
/// different model is caught on every candidate, not by luck.
#[test]
fn the_default_tolerance_separates_the_fixture_models() {
    let tol = embargo::decisions::replay::Tolerance::default();
    let logreg = scored_rows_by(2000, "adult-logreg.onnx");
    let gbm = scored_rows_by(2000, "adult-gbm.onnx");
    let mut diffs: Vec<f64> = logreg
        .iter()
        .zip(&gbm)
        .map(|((_, a), (_, b))| (a - b).abs())
        .collect();
    diffs.sort_by(f64::total_cmp);
    let within = logreg
        .iter()
        .zip(&gbm)
        .filter(|((_, a), (_, b))| tol.close(*b, *a))
        .count();
    eprintln!(
        "logreg vs gbm on 2000 Adult rows: |diff| min {:.2e}, 1st percentile {:.2e}, median {:.2e}; {within} rows within the default tolerance",
        diffs[0],
        diffs[20],
        diffs[1000]
    );
    assert_eq!(within, 0, "rows within the default tolerance");
    assert!(diffs[1000] > 1e-3);
    // The same model twice agrees exactly (same runtime, same inputs).
    let again = scored_rows_by(2000, "adult-logreg.onnx");
    assert!(logreg.iter().zip(&again).all(|((_, a), (_, b))| a == b));
}

#[test]
fn batches_receipts_and_replay_end_to_end() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let log_vkey = keygen(dir, "decisions.test/log", "log.key");
    let platform_vkey = keygen(dir, "jobs.example", "platform.key");
    let server = start(dir);
    let url = server.url.clone();
    add_party(dir, &url, "platform", "jobs.example", &platform_vkey);
    for f in ["adult-logreg.onnx", "adult-gbm.onnx"] {
        std::fs::copy(fixtures().join(f), dir.join(f)).unwrap();
    }
    let c = commit(
        dir,
        &url,
        "adult-logreg.onnx",
        "job-ranker",
        "2026.11",
        "30d",
        &log_vkey,
    );

    // Decisions while the model is sealed: two batches of ten, five candidates each.
    let rows = scored_rows(100);
    let mut first: Vec<Value> = (0..10)
        .map(|u| record(&c, u, u as u32, &rows[u * 5..u * 5 + 5]))
        .collect();
    let second: Vec<Value> = (10..20)
        .map(|u| record(&c, u, u as u32, &rows[u * 5..u * 5 + 5]))
        .collect();
    // Record 3 shows its ranking reordered; record 5 claims a changed score (both logged).
    let shown = first[3]["shown"].as_array_mut().unwrap();
    shown.swap(0, 1);
    let changed = first[5]["candidates"][2]["score"].as_f64().unwrap() + 0.05;
    first[5]["candidates"][2]["score"] = json!(changed);
    write_jsonl(&dir.join("first.jsonl"), &first);
    write_jsonl(&dir.join("second.jsonl"), &second);

    // A record for another platform is refused, naming the line, and nothing is logged.
    let mut bad = second.clone();
    bad[6]["platform"] = json!("other.example");
    write_jsonl(&dir.join("bad.jsonl"), &bad);
    let size_before = get_json(&format!("{url}/v1/log"))["size"].as_u64().unwrap();
    let (rc, text) = code(
        dir,
        &[
            "batch",
            "bad.jsonl",
            "--log",
            &url,
            "--key",
            "platform.key",
            "--commitment",
            &c,
            "--receipts",
            "receipts",
            "--vkey",
            &log_vkey,
        ],
    );
    assert_ne!(rc, 0);
    assert!(
        text.contains("line 7: platform is \"other.example\"")
            && text.contains("nothing was logged"),
        "{text}"
    );
    assert_eq!(
        get_json(&format!("{url}/v1/log"))["size"].as_u64().unwrap(),
        size_before
    );

    let batch = |file: &str, jsonl: bool| {
        let mut args = vec![
            "batch",
            file,
            "--log",
            &url,
            "--key",
            "platform.key",
            "--commitment",
            &c,
            "--receipts",
            "receipts",
            "--vkey",
            &log_vkey,
        ];
        if jsonl {
            args.push("--jsonl");
        }
        ok(dir, &args)
    };
    let e1 = batch("first.jsonl", false);
    let e2 = batch("second.jsonl", true);
    // The same batch again: the log answers with the same entry; the receipts are rewritten.
    assert_eq!(batch("first.jsonl", false), e1);
    let r1 = dir.join(format!("receipts/batch-{e1}/000000"));
    let r2 = dir.join(format!("receipts/batch-{e2}.receipts.jsonl"));
    assert_eq!(std::fs::read_dir(&r1).unwrap().count(), 10);
    assert_eq!(std::fs::read_to_string(&r2).unwrap().lines().count(), 10);

    // The commitment lists both batches.
    let view = get_json(&format!("{url}/v1/commitments/{c}"));
    let batches = view["batches"].as_array().unwrap();
    assert_eq!(batches.len(), 2, "{view}");
    assert_eq!(batches[0]["entry"].to_string(), e1);
    assert_eq!(batches[1]["record_count"], 10);
    assert_eq!(
        batches[0]["root"],
        read_receipt(&r1.join("0.receipt.json"))["batch_root"]
    );

    // Every receipt verifies offline (the dishonest ones too: they were logged as they are).
    let r1s = r1.display().to_string();
    let r2s = r2.display().to_string();
    let (rc, text) = code(dir, &["receipt", "verify", &r1s, &r2s, "--vkey", &log_vkey]);
    assert_eq!(rc, 0, "{text}");
    assert_eq!(text.matches("OK ").count(), 20, "{text}");

    // Before the reveal there is nothing to replay against (exit 2).
    let honest: Vec<String> = [0, 1, 2, 4, 6]
        .iter()
        .map(|i| r1.join(format!("{i}.receipt.json")).display().to_string())
        .chain([r2s.clone()])
        .collect();
    let replay = |receipts: &[String], extra: &[&str]| {
        let mut args: Vec<&str> = vec!["replay"];
        args.extend(receipts.iter().map(String::as_str));
        args.extend(["--vkey", &log_vkey]);
        args.extend(extra);
        code(dir, &args)
    };
    let from_log = ["--commitment", c.as_str(), "--log", url.as_str()];
    let (rc, text) = replay(&honest, &from_log);
    assert_eq!(rc, 2, "{text}");
    assert!(text.contains("has not been revealed"), "{text}");

    ok(
        dir,
        &[
            "reveal",
            "adult-logreg.onnx",
            "--log",
            &url,
            "--commitment",
            &c,
            "--key",
            "platform.key",
        ],
    );

    // Honest receipts replay against the revealed, verified model.
    let (rc, text) = replay(&honest, &from_log);
    assert_eq!(rc, 0, "{text}");
    assert!(text.contains("15 receipts: 15 replay, 0 do not"), "{text}");

    // A different model: scores differ (and the model is not the committed one).
    let (rc, text) = replay(&honest, &["--model", "adult-gbm.onnx"]);
    assert_eq!(rc, 1, "{text}");
    assert!(text.contains("score differs by"), "{text}");
    assert!(text.contains("15 receipts: 0 replay, 15 do not"), "{text}");
    let mut gbm_checked = vec!["--model", "adult-gbm.onnx"];
    gbm_checked.extend(from_log);
    let (rc, text) = replay(&honest, &gbm_checked);
    assert_eq!(rc, 1, "{text}");
    assert!(text.contains("model is not the committed one"), "{text}");
    // The right model given locally replays too.
    let (rc, text) = replay(&honest[..1], &["--model", "adult-logreg.onnx"]);
    assert_eq!(rc, 0, "{text}");

    // A reordered ranking.
    let reordered = r1.join("3.receipt.json").display().to_string();
    let (rc, text) = replay(&[reordered], &from_log);
    assert_eq!(rc, 1, "{text}");
    assert!(
        text.contains("order shown differs from order by replayed scores: at position 0"),
        "{text}"
    );
    // A changed score.
    let changed = r1.join("5.receipt.json").display().to_string();
    let (rc, text) = replay(&[changed], &from_log);
    assert_eq!(rc, 1, "{text}");
    assert!(
        text.contains("score differs by 5.000e-2 at candidate 2 (job-5-2)"),
        "{text}"
    );

    // A record edited after the fact: its proof no longer leads to the batch root.
    let mut edited = read_receipt(&r1.join("0.receipt.json"));
    let mut rec: Value = serde_json::from_str(edited["record"].as_str().unwrap()).unwrap();
    rec["candidates"][0]["score"] = json!(0.999);
    edited["record"] = json!(serde_json::to_string(&rec).unwrap());
    let edited = write_receipt(dir, "edited.receipt.json", &edited);
    let (rc, text) = replay(std::slice::from_ref(&edited), &from_log);
    assert_eq!(rc, 1, "{text}");
    assert!(
        text.contains("receipt does not verify: broken link proof-into-root"),
        "{text}"
    );
    let (rc, text) = code(dir, &["receipt", "verify", &edited, "--vkey", &log_vkey]);
    assert_eq!(rc, 1, "{text}");
    assert!(text.contains("broken link proof-into-root"), "{text}");

    // A receipt moved to another batch: the second batch's root, entry and proof.
    let other: Value = serde_json::from_str(
        std::fs::read_to_string(&r2)
            .unwrap()
            .lines()
            .next()
            .unwrap(),
    )
    .unwrap();
    let mut moved = read_receipt(&r1.join("1.receipt.json"));
    for k in ["entry", "tlog_proof", "batch_root", "record_count"] {
        moved[k] = other[k].clone();
    }
    let moved_all = write_receipt(dir, "moved.receipt.json", &moved);
    let (rc, text) = replay(&[moved_all], &from_log);
    assert_eq!(rc, 1, "{text}");
    assert!(
        text.contains("receipt does not verify: broken link proof-into-root"),
        "{text}"
    );
    // Only the entry and its proof swapped: the entry is for another batch root.
    let mut moved = read_receipt(&r1.join("1.receipt.json"));
    for k in ["entry", "tlog_proof"] {
        moved[k] = other[k].clone();
    }
    let moved_entry = write_receipt(dir, "moved-entry.receipt.json", &moved);
    let (rc, text) = replay(&[moved_entry], &from_log);
    assert_eq!(rc, 1, "{text}");
    assert!(
        text.contains("receipt does not verify: broken link batch-entry"),
        "{text}"
    );

    // A candidate logged only as a salted digest of its inputs: not replayable (not a pass)
    // until its inputs are supplied, which must match the digest with the receipt's salt.
    let salt = [0x5au8; 32];
    let mut hidden = record(&c, 30, 30, &rows[50..55]);
    let inputs = hidden["candidates"][1]["inputs"]
        .as_object()
        .unwrap()
        .clone();
    let digest = embargo::decisions::decision::inputs_digest(&salt, &inputs);
    hidden["candidates"][1]
        .as_object_mut()
        .unwrap()
        .remove("inputs");
    hidden["candidates"][1]["inputs_digest"] = json!(digest);
    let plain = record(&c, 31, 31, &rows[55..60]);
    write_jsonl(&dir.join("third.jsonl"), &[hidden, plain]);
    std::fs::write(
        dir.join("third.salts.jsonl"),
        format!("{{\"1\":\"{}\"}}\n{{}}\n", "5a".repeat(32)),
    )
    .unwrap();
    let e3 = ok(
        dir,
        &[
            "batch",
            "third.jsonl",
            "--salts",
            "third.salts.jsonl",
            "--log",
            &url,
            "--key",
            "platform.key",
            "--commitment",
            &c,
            "--receipts",
            "receipts",
            "--vkey",
            &log_vkey,
        ],
    );
    let r3 = dir.join(format!("receipts/batch-{e3}/000000"));
    assert_eq!(
        read_receipt(&r3.join("0.receipt.json"))["salts"]["1"],
        json!("5a".repeat(32))
    );
    assert!(read_receipt(&r3.join("1.receipt.json"))
        .get("salts")
        .is_none());
    let digest_only = r3.join("0.receipt.json").display().to_string();
    let (rc, text) = replay(std::slice::from_ref(&digest_only), &from_log);
    assert_eq!(rc, 1, "{text}");
    assert!(
        text.contains("candidate 1 (job-30-1) has only an input digest: not replayable"),
        "{text}"
    );
    std::fs::write(
        dir.join("inputs.json"),
        serde_json::to_vec(&json!({"1": inputs})).unwrap(),
    )
    .unwrap();
    let mut with_inputs = vec!["--inputs", "inputs.json"];
    with_inputs.extend(from_log);
    let (rc, text) = replay(std::slice::from_ref(&digest_only), &with_inputs);
    assert_eq!(rc, 0, "{text}");
    let mut wrong = inputs.clone();
    wrong.insert("age".into(), json!(99));
    std::fs::write(
        dir.join("wrong-inputs.json"),
        serde_json::to_vec(&json!({"1": wrong})).unwrap(),
    )
    .unwrap();
    let mut with_wrong = vec!["--inputs", "wrong-inputs.json"];
    with_wrong.extend(from_log);
    let (rc, text) = replay(&[digest_only], &with_wrong);
    assert_eq!(rc, 1, "{text}");
    assert!(text.contains("do not match its inputs_digest"), "{text}");

    // A checkpoint signed by another key.
    let stranger = keygen(dir, "decisions.test/log", "x.key");
    let (rc, text) = code(dir, &["receipt", "verify", &r2s, "--vkey", &stranger]);
    assert_eq!(rc, 1, "{text}");
    assert!(text.contains("broken link checkpoint-signature"), "{text}");
}
