//! The fairness audit.
//!
//! - `agrees_with_fairlearn`: on Adult, for the logistic-regression pipeline and the
//!   gradient-boosting model that `scripts/train_models.py` trains and exports, every metric
//!   Fairlearn also computes (per group, overall, differences and ratios between groups and to
//!   the overall value, demographic parity, equalized odds, equal opportunity) agrees with the
//!   values Fairlearn computed on the same ONNX predictions (`tests/fixtures/audit/
//!   fairlearn-expected.json`) to 1e-9. Prints the largest difference per metric.
//! - ranking metrics against small examples worked by hand from the papers' definitions;
//! - bad input gives errors naming the file, line or column;
//! - `end_to_end_through_the_log`: real server and CLI processes: a platform commits the ONNX
//!   model and reveals it, an auditor registered with `embargo auditor add` runs a failing and
//!   a passing suite with `--commitment ... --submit`, and both audits, their verdicts and
//!   their full reports are served by the log.
//!
//! Needs ONNX Runtime (scripts/setup.sh installs it into .venv-audit, where the audit finds it)
//! and ../shared/datasets/adult.csv.

mod common;

use embargo::audit::{self, data, metrics, model, report::Report, suite::Suite, Provenance};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn fixtures() -> PathBuf {
    root().join("tests/fixtures/audit")
}

fn adult() -> PathBuf {
    root().join("../shared/datasets/adult.csv")
}

const NUMERIC: [&str; 6] = [
    "age",
    "fnlwgt",
    "education-num",
    "capital-gain",
    "capital-loss",
    "hours-per-week",
];
const CATEGORICAL: [&str; 8] = [
    "workclass",
    "education",
    "marital-status",
    "occupation",
    "relationship",
    "race",
    "sex",
    "native-country",
];

fn inputs_toml() -> String {
    let mut s = String::from("inputs = [\n");
    for c in NUMERIC {
        s.push_str(&format!(
            "  {{ name = \"{}\", type = \"float32\", columns = [\"{c}\"] }},\n",
            c.replace('-', "_")
        ));
    }
    for c in CATEGORICAL {
        s.push_str(&format!(
            "  {{ name = \"{}\", type = \"string\", columns = [\"{c}\"] }},\n",
            c.replace('-', "_")
        ));
    }
    s.push(']');
    s
}

fn adult_suite(extra: &str) -> String {
    format!(
        r#"version = 1
name = "test"
[data]
path = "adult.csv"
label = "income-per-year"
positive = ">50K"
[model]
{}
[model.output]
name = "probabilities"
index = 1
threshold = 0.5
[sensitive]
attributes = ["sex", "race"]
{extra}
[[checks]]
id = "dp"
metric = "demographic_parity_ratio"
attribute = "sex"
min = 0.8
"#,
        inputs_toml()
    )
}

/// Parses `suite_text`, reads `csv` (bytes), runs `model` and evaluates: what `embargo audit`
/// does, minus the files. Errors as the CLI prints them.
fn run(suite_text: &str, csv: &[u8], model_path: &Path) -> Result<(Report, Vec<f64>), String> {
    let suite = Suite::parse("suite.toml", suite_text).map_err(|e| e.to_string())?;
    let table = data::load(
        csv,
        "data.csv",
        &audit::needs(&suite),
        &suite.missing,
        suite.delimiter,
    )
    .map_err(|e| e.to_string())?;
    let lib = model::find_library(None).map_err(|e| e.to_string())?;
    let version = model::init(&lib).map_err(|e| e.to_string())?;
    let mut m = model::Model::load(model_path, &model_path.display().to_string())
        .map_err(|e| e.to_string())?;
    let scores = m
        .scores(&table, &suite.inputs, &suite.output, suite.batch_rows)
        .map_err(|e| e.to_string())?;
    let prov = Provenance {
        suite_digest: format!("sha256:{}", sha256_hex(suite_text.as_bytes())),
        data_file: "data.csv".into(),
        data_digest: format!("sha256:{}", sha256_hex(csv)),
        model_file: "model".into(),
        model_digest: format!(
            "sha3-256:{}",
            embargo::model::digest::digest_path(model_path, None)
                .unwrap()
                .digest()
                .to_hex()
        ),
        commitment: None,
        log: None,
        onnxruntime: version,
    };
    let r = audit::evaluate(&suite, &table, &scores, &prov).map_err(|e| e.to_string())?;
    Ok((r, scores))
}

fn sha256_hex(b: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(b)
        .iter()
        .map(|x| format!("{x:02x}"))
        .collect()
}

/// Our name of a Fairlearn fixture metric.
fn ours(name: &str) -> &str {
    name
}

#[test]
fn agrees_with_fairlearn() {
    let expected: Value =
        serde_json::from_slice(&std::fs::read(fixtures().join("fairlearn-expected.json")).unwrap())
            .unwrap();
    let csv = std::fs::read(adult()).expect("../shared/datasets/adult.csv");
    assert_eq!(
        sha256_hex(&csv),
        expected["data"]["sha256"].as_str().unwrap(),
        "adult.csv changed"
    );
    // Largest |ours - Fairlearn| per metric name, over both models and every grouping.
    let mut worst: BTreeMap<String, f64> = BTreeMap::new();
    let mut compared = 0usize;
    let mut check = |what: String, key: &str, ours: Option<f64>, theirs: &Value| {
        match (ours, theirs.as_f64()) {
            (Some(a), Some(b)) => {
                let d = (a - b).abs();
                assert!(d <= 1e-9, "{what}: ours {a}, Fairlearn {b} (diff {d:e})");
                let w = worst.entry(key.to_owned()).or_insert(0.0);
                *w = w.max(d);
            }
            (None, None) => {}
            (a, _) => panic!("{what}: ours {a:?}, Fairlearn {theirs}"),
        }
        compared += 1;
    };
    for (kind, exp) in expected["models"].as_object().unwrap() {
        let model = fixtures().join(exp["file"].as_str().unwrap());
        assert_eq!(
            sha256_hex(&std::fs::read(&model).unwrap()),
            exp["sha256"].as_str().unwrap(),
            "{kind}: the model is not the one the fixture was made with"
        );
        let (r, scores) = run(&adult_suite("intersections = true"), &csv, &model).unwrap();
        // The same predictions as onnxruntime's Python API gave.
        let preds: Vec<u8> = scores.iter().map(|s| (*s >= 0.5) as u8).collect();
        assert_eq!(
            preds.iter().filter(|p| **p == 1).count() as u64,
            exp["predicted_positive"].as_u64().unwrap(),
            "{kind}"
        );
        assert_eq!(
            sha256_hex(&preds),
            exp["predictions_sha256"].as_str().unwrap(),
            "{kind}: predictions differ from onnxruntime's in Python"
        );
        let score_bytes: Vec<u8> = scores
            .iter()
            .flat_map(|s| (*s as f32).to_le_bytes())
            .collect();
        assert_eq!(
            sha256_hex(&score_bytes),
            exp["scores_sha256"].as_str().unwrap(),
            "{kind}: scores differ from onnxruntime's in Python"
        );

        for (grouping, g) in exp["groupings"].as_object().unwrap() {
            for (label, metrics) in g["groups"].as_object().unwrap() {
                let ours_g = r
                    .group(grouping, label)
                    .unwrap_or_else(|| panic!("{kind} {grouping}: no group {label}"));
                for (m, v) in metrics.as_object().unwrap() {
                    check(
                        format!("{kind} {grouping} {label} {m}"),
                        m,
                        ours_g.metrics[ours(m)],
                        v,
                    );
                }
            }
            for (m, v) in g["overall"].as_object().unwrap() {
                check(format!("{kind} overall {m}"), m, r.overall[ours(m)], v);
            }
            for (method, b) in g["between"].as_object().unwrap() {
                for (m, v) in b["difference"].as_object().unwrap() {
                    let name = format!("{m}_difference");
                    check(
                        format!("{kind} {grouping} {method} {name}"),
                        &name,
                        r.between(grouping, &name, method),
                        v,
                    );
                }
                for (m, v) in b["ratio"].as_object().unwrap() {
                    let name = format!("{m}_ratio");
                    check(
                        format!("{kind} {grouping} {method} {name}"),
                        &name,
                        r.between(grouping, &name, method),
                        v,
                    );
                }
                for (name, v) in b.as_object().unwrap() {
                    if v.is_object() {
                        continue;
                    }
                    let our_name = name.replace("_worst_case", "");
                    check(
                        format!("{kind} {grouping} {method} {name}"),
                        name,
                        r.between(grouping, &our_name, method),
                        v,
                    );
                }
            }
        }
    }
    eprintln!("compared {compared} values with Fairlearn; largest |difference| per metric:");
    for (k, v) in &worst {
        eprintln!("  {k:40} {v:.3e}");
    }
    assert!(compared > 600, "only {compared} values compared");
}

#[test]
fn bootstrap_intervals_are_reproducible_and_cover_the_estimate() {
    let csv = std::fs::read(adult()).unwrap();
    let suite = adult_suite("intersections = false\n[bootstrap]\nresamples = 50\nseed = 3");
    let model = fixtures().join("adult-logreg.onnx");
    let (a, _) = run(&suite, &csv, &model).unwrap();
    let (b, _) = run(&suite, &csv, &model).unwrap();
    assert_eq!(a.to_json(), b.to_json(), "same seed, same report");
    let female = a.group("sex", "Female").unwrap();
    let [lo, hi] = female.intervals["selection_rate"];
    let v = female.metrics["selection_rate"].unwrap();
    assert!(lo < v && v < hi && hi - lo < 0.05, "{lo} {v} {hi}");
    let c = &a.checks[0];
    let [lo, hi] = c.interval.unwrap();
    assert!(lo <= c.value.unwrap() && c.value.unwrap() <= hi);
    let (other, _) = run(&suite.replace("seed = 3", "seed = 4"), &csv, &model).unwrap();
    assert_ne!(
        other.checks[0].interval, a.checks[0].interval,
        "another seed, other resamples"
    );
}

/// Asserts that `value` matches `schema/<name>`.
fn assert_schema(name: &str, value: &Value) {
    let schema: Value =
        serde_json::from_str(&std::fs::read_to_string(root().join("schema").join(name)).unwrap())
            .unwrap();
    let v = jsonschema::options().build(&schema).unwrap();
    let errors: Vec<String> = v
        .iter_errors(value)
        .take(5)
        .map(|e| format!("at {}: {e}", e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "does not match {name}: {errors:?}");
}

#[test]
fn suites_and_reports_match_their_schemas() {
    for f in ["adult-four-fifths.toml", "adult-predictive-parity.toml"] {
        let text = std::fs::read_to_string(fixtures().join(f)).unwrap();
        let doc: toml::Value = toml::from_str(&text).unwrap();
        assert_schema("suite.schema.json", &serde_json::to_value(doc).unwrap());
        Suite::parse(f, &text).unwrap();
    }
    let csv = std::fs::read(adult()).unwrap();
    let suite = adult_suite("reference = { sex = \"Male\" }\n[bootstrap]\nresamples = 5\nseed = 1\n[ranking]\nk = [10, 1000]");
    let (r, _) = run(&suite, &csv, &fixtures().join("adult-gbm.onnx")).unwrap();
    let json: Value = serde_json::from_str(&r.to_json()).unwrap();
    assert_schema("audit-report-full.schema.json", &json);
    assert!(json["groupings"][0]["groups"][0]["vs_reference"].is_object());
    assert!(json["groupings"][0]["ranking"]["ndkl"].is_number());
}

// ---- ranking metrics, worked by hand ------------------------------------------------------

fn close(a: f64, b: f64) {
    assert!((a - b).abs() < 1e-12, "{a} != {b}");
}

#[test]
fn exposure_follows_singh_and_joachims() {
    // Ranking A B A B: position bias 1/log2(1+j) = 1, 0.6309.., 0.5, 0.4306..
    let v: Vec<f64> = (1..=4).map(|j| 1.0 / ((1 + j) as f64).log2()).collect();
    close(v[1], 0.630_929_753_571_457_5);
    let e = metrics::exposure(&[0, 1, 0, 1], 2);
    close(e[0], (1.0 + 0.5) / 2.0);
    close(e[1], (v[1] + v[3]) / 2.0);
    // Relevance (1, 1, 0, 0): U(A) = 1/2, U(B) = 1/2; exposure per relevance 1.5 and 1.0616..
    let u = metrics::mean_relevance(&[0, 1, 0, 1], &[1.0, 1.0, 0.0, 0.0], 2);
    assert_eq!(u, vec![0.5, 0.5]);
}

#[test]
fn skew_and_ndkl_follow_geyik_et_al() {
    // Ten candidates, five of each group; the top four are A A A B.
    let ranking = [0, 0, 0, 1, 1, 1, 0, 1, 0, 1];
    let s = metrics::skew_at_k(&ranking, 4, 2);
    close(s[0], (0.75f64 / 0.5).ln()); // ln 1.5 = 0.405..
    close(s[1], (0.25f64 / 0.5).ln()); // ln 0.5 = -0.693..
    let s = metrics::skew_at_k(&ranking, 2, 2);
    assert_eq!(s[1], f64::NEG_INFINITY, "no B in the top 2");
    // NDKL of A B with desired (1/2, 1/2): top 1 is (1, 0): KL = ln 2, weight 1; top 2 matches.
    let z = 1.0 + 1.0 / 3f64.log2();
    close(metrics::ndkl(&[0, 1], 2), 2f64.ln() / z);
    close(
        metrics::ndkl(&[0, 1, 1, 0], 2),
        ndkl_of_four([1.0, 0.5, 1.0 / 3.0, 0.5]),
    );
    close(
        metrics::ndkl(&[0, 0, 1, 1], 2),
        ndkl_of_four([1.0, 1.0, 2.0 / 3.0, 0.5]),
    );
}

/// NDKL by its definition for a ranking of four in two groups, desired (1/2, 1/2), from the
/// first group's share of the top 1, 2, 3 and 4.
fn ndkl_of_four(shares: [f64; 4]) -> f64 {
    let w = |i: f64| 1.0 / (i + 1.0).log2();
    let kl = |p: f64| {
        p * (p / 0.5).ln()
            + if p < 1.0 {
                (1.0 - p) * ((1.0 - p) / 0.5).ln()
            } else {
                0.0
            }
    };
    (w(1.0) * kl(shares[0])
        + w(2.0) * kl(shares[1])
        + w(3.0) * kl(shares[2])
        + w(4.0) * kl(shares[3]))
        / (w(1.0) + w(2.0) + w(3.0) + w(4.0))
}

#[test]
fn rnd_and_rkl_follow_yang_and_stoyanovich() {
    // 20 items, 10 protected, cut-offs 10 and 20. Segregated (all protected first): at 10 the
    // share is 1 vs 0.5, at 20 it is 0.5: the most unfair ranking, so rND = rKL = 1.
    let segregated: Vec<bool> = (0..20).map(|i| i < 10).collect();
    close(metrics::rnd(&segregated, 10), 1.0);
    close(metrics::rkl(&segregated, 10), 1.0);
    // Alternating: 5 of the top 10 are protected: fair, 0.
    let alternating: Vec<bool> = (0..20).map(|i| i % 2 == 0).collect();
    close(metrics::rnd(&alternating, 10), 0.0);
    close(metrics::rkl(&alternating, 10), 0.0);
    // 8 of the top 10 protected: rND = (|0.8 - 0.5| / log2 10) / (0.5 / log2 10) = 0.6;
    // rKL = KL((0.8, 0.2) || (0.5, 0.5)) / KL((1, 0) || (0.5, 0.5)).
    let skewed: Vec<bool> = (0..20).map(|i| i < 8 || i == 10 || i == 11).collect();
    close(metrics::rnd(&skewed, 10), 0.6);
    let kl = 0.8 * (0.8f64 / 0.5).ln() + 0.2 * (0.2f64 / 0.5).ln();
    close(metrics::rkl(&skewed, 10), kl / 2f64.ln());
    // Fewer items than one cut-off: undefined.
    assert!(metrics::rnd(&[true, false], 10).is_nan());
}

#[test]
fn ranking_suites_report_exposure_skew_and_ndkl() {
    // Two queries of four rows each; the model's score orders them.
    let csv = b"q,g,y,x\n1,a,1,0.9\n1,b,0,0.8\n1,a,1,0.7\n1,b,0,0.6\n2,b,1,0.9\n2,a,0,0.8\n2,b,0,0.7\n2,a,1,0.6\n";
    let dir = tempfile::tempdir().unwrap();
    let model = identity_model(dir.path());
    let suite = r#"version = 1
name = "ranking"
[data]
path = "d.csv"
label = "y"
positive = 1
[model]
inputs = [{ name = "x", type = "float32" }]
[model.output]
threshold = 0.5
[sensitive]
attributes = ["g"]
[ranking]
query = "q"
k = [2]
step = 2
[[checks]]
id = "exposure"
metric = "exposure_ratio"
attribute = "g"
min = 0.8
[[checks]]
id = "skew"
metric = "min_skew"
k = 2
attribute = "g"
min = -0.1
"#;
    let (r, _) = run(suite, csv, &model).unwrap();
    let rk = r.groupings[0].ranking.as_ref().unwrap();
    assert_eq!(rk.queries, 2);
    // Query 1 ranks a b a b, query 2 b a b a: each group is first once, so equal exposure.
    close(
        rk.groups[0].exposure.unwrap(),
        rk.groups[1].exposure.unwrap(),
    );
    close(rk.exposure_ratio.unwrap(), 1.0);
    close(rk.min_skew["2"].unwrap(), 0.0);
    close(rk.ndkl.unwrap(), metrics::ndkl(&[0, 1, 0, 1], 2));
    assert!(r.passed(), "{}", audit::report::terminal(&r));
}

/// An ONNX model computing `y = x` for a float [N, 1] input `x` (Identity), written by hand
/// in protobuf so the tests need no Python.
fn identity_model(dir: &Path) -> PathBuf {
    fn varint(mut v: u64, out: &mut Vec<u8>) {
        while v >= 0x80 {
            out.push((v as u8) | 0x80);
            v >>= 7;
        }
        out.push(v as u8);
    }
    fn field(tag: u64, wire: u64, out: &mut Vec<u8>) {
        varint(tag << 3 | wire, out);
    }
    fn bytes(tag: u64, b: &[u8], out: &mut Vec<u8>) {
        field(tag, 2, out);
        varint(b.len() as u64, out);
        out.extend_from_slice(b);
    }
    // ValueInfoProto { name, type: TypeProto { tensor_type: { elem_type: FLOAT, shape: [N, 1] } } }
    fn value_info(name: &str) -> Vec<u8> {
        let mut dim_n = Vec::new();
        bytes(2, b"N", &mut dim_n); // dim_param
        let mut dim_1 = Vec::new();
        field(1, 0, &mut dim_1);
        varint(1, &mut dim_1); // dim_value
        let mut shape = Vec::new();
        bytes(1, &dim_n, &mut shape);
        bytes(1, &dim_1, &mut shape);
        let mut tensor = Vec::new();
        field(1, 0, &mut tensor);
        varint(1, &mut tensor); // FLOAT
        bytes(2, &shape, &mut tensor);
        let mut ty = Vec::new();
        bytes(1, &tensor, &mut ty);
        let mut vi = Vec::new();
        bytes(1, name.as_bytes(), &mut vi);
        bytes(2, &ty, &mut vi);
        vi
    }
    let mut node = Vec::new();
    bytes(1, b"x", &mut node); // input
    bytes(2, b"y", &mut node); // output
    bytes(4, b"Identity", &mut node); // op_type
    let mut graph = Vec::new();
    bytes(1, &node, &mut graph);
    bytes(2, b"g", &mut graph);
    bytes(11, &value_info("x"), &mut graph);
    bytes(12, &value_info("y"), &mut graph);
    let mut opset = Vec::new();
    field(2, 0, &mut opset);
    varint(13, &mut opset);
    let mut m = Vec::new();
    field(1, 0, &mut m);
    varint(8, &mut m); // ir_version
    bytes(7, &graph, &mut m);
    bytes(8, &opset, &mut m);
    let p = dir.join("identity.onnx");
    std::fs::write(&p, m).unwrap();
    p
}

// ---- bad input ------------------------------------------------------------------------------

fn small_suite(extra_checks: &str) -> String {
    format!(
        r#"version = 1
name = "small"
[data]
path = "d.csv"
label = "y"
positive = "yes"
[model]
inputs = [{{ name = "x", type = "float32" }}]
[model.output]
threshold = 0.5
[sensitive]
attributes = ["g"]
[[checks]]
id = "dp"
metric = "demographic_parity_difference"
attribute = "g"
max = 0.5
{extra_checks}"#
    )
}

const SMALL_CSV: &[u8] = b"g,y,x\na,yes,0.9\nb,no,0.2\na,no,0.4\nb,yes,0.7\n";

fn error_of(suite: &str, csv: &[u8], model: &Path) -> String {
    match run(suite, csv, model) {
        Ok(_) => panic!("should have failed"),
        Err(e) => e,
    }
}

#[test]
fn bad_input_names_file_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let model = identity_model(dir.path());
    assert!(run(&small_suite(""), SMALL_CSV, &model).is_ok());
    // The error for the small suite with `from` replaced by `to`, or for other data.
    let edited =
        |from: &str, to: &str| error_of(&small_suite("").replace(from, to), SMALL_CSV, &model);
    let with_data = |csv: &[u8]| error_of(&small_suite(""), csv, &model);

    // Unknown column: the suite's line and column, and the data's columns.
    let e = edited("\"g\"", "\"group\"");
    assert!(
        e.starts_with("suite.toml:12:15: unknown column \"group\"")
            && e.contains("its columns are: g, y, x"),
        "{e}"
    );
    let e = edited(
        "name = \"x\", type",
        "name = \"x\", columns = [\"xx\"], type",
    );
    assert!(
        e.contains("suite.toml:8:") && e.contains("unknown column \"xx\""),
        "{e}"
    );

    // Non-numeric and missing values: the data file's line and the column.
    let e = with_data(b"g,y,x\na,yes,0.9\nb,no,abc\n");
    assert!(
        e.starts_with("data.csv line 3, column \"x\" (field 3): \"abc\" is not a number"),
        "{e}"
    );
    let e = with_data(b"g,y,x\na,yes,0.9\nb,no,\n");
    assert!(
        e.starts_with("data.csv line 3, column \"x\" (field 3): missing value"),
        "{e}"
    );
    let e = with_data(b"g,y,x\na,yes,0.9\n,no,0.1\n");
    assert!(
        e.starts_with("data.csv line 3, column \"g\" (field 1): missing value"),
        "{e}"
    );
    let e = with_data(b"g,y,x\na,yes,0.9\nb,no\n");
    assert!(
        e.starts_with("data.csv line 3: 2 fields, but the header has 3"),
        "{e}"
    );

    // A label that is not binary.
    let e = with_data(b"g,y,x\na,yes,0.9\nb,no,0.1\nb,maybe,0.3\n");
    assert!(e.starts_with("suite.toml:5:9: the label column \"y\" of data.csv is not binary: it has 3 distinct values"), "{e}");
    let e = edited("positive = \"yes\"", "positive = \"Yes\"");
    assert!(
        e.contains("no row of data.csv has the positive label \"Yes\""),
        "{e}"
    );

    // An empty group: a reference group no row has.
    let e = edited(
        "attributes = [\"g\"]",
        "attributes = [\"g\"]\nreference = { g = \"c\" }",
    );
    assert!(
        e.contains("empty group: the reference group \"c\" of \"g\" has no rows in data.csv"),
        "{e}"
    );

    // Wrong input type and shape, unknown input: the suite's line and the model's signature.
    let e = edited("type = \"float32\"", "type = \"string\"");
    assert!(
        e.starts_with("suite.toml:8:11: wrong input type")
            && e.contains("the model takes tensor(float32) [N, 1]"),
        "{e}"
    );
    let e = edited(
        "name = \"x\", type = \"float32\"",
        "name = \"x\", type = \"float32\", columns = [\"x\", \"x\"]",
    );
    assert!(
        e.starts_with("suite.toml:8:11: wrong input shape") && e.contains("2 columns per row"),
        "{e}"
    );
    let e = edited("inputs = [{ name = \"x\", type = \"float32\" }]", "inputs = [{ name = \"x\", type = \"float32\" }, { name = \"z\", type = \"float32\", columns = [\"x\"] }]");
    assert!(
        e.contains("has no input \"z\"") && e.contains("its inputs are: x: tensor(float32) [N, 1]"),
        "{e}"
    );
    let e = edited("[model.output]", "[model.output]\nindex = 3");
    assert!(
        e.contains("model.output.index = 3, but output \"y\" has 1 column"),
        "{e}"
    );

    // A model that is not ONNX.
    let not_onnx = dir.path().join("model.onnx");
    std::fs::write(&not_onnx, b"name,weights\nthis is a CSV, not a model\n").unwrap();
    let e = error_of(&small_suite(""), SMALL_CSV, &not_onnx);
    assert!(e.contains("is not an ONNX model"), "{e}");

    // Suite mistakes: unknown metric, unknown key, a check without bounds.
    let e = edited("demographic_parity_difference", "demographic_parity");
    assert!(
        e.starts_with("suite.toml:15:10: unknown metric \"demographic_parity\""),
        "{e}"
    );
    let e = edited("threshold", "treshold");
    assert!(
        e.starts_with("suite.toml:10:1:") && e.contains("treshold"),
        "{e}"
    );
    let e = edited("max = 0.5", "");
    assert!(e.contains("check \"dp\" has no bound"), "{e}");
}

// ---- end to end, through the log ------------------------------------------------------------

mod e2e {
    use super::*;
    use crate::common::{add_party, commit, embargo, http_get, keygen, ok, Server};

    /// A suite file beside the test's files, reading adult.csv by absolute path.
    fn suite_in(dir: &Path, name: &str) -> PathBuf {
        let text = std::fs::read_to_string(fixtures().join(name)).unwrap();
        let text = text.replace(
            "../../../../shared/datasets/adult.csv",
            &adult().canonicalize().unwrap().display().to_string(),
        );
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    #[test]
    fn end_to_end_through_the_log() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        let log_vkey = keygen(dir, "audit.test/log", "log.key");
        let platform_vkey = keygen(dir, "jobs.example", "platform.key");
        let auditor_vkey = keygen(dir, "fair-audits.example", "auditor.key");
        let server = Server::start(&dir.join("data"), &dir.join("log.key"), &[]);
        let url = server.url.clone();
        add_party(dir, &url, "platform", "jobs.example", &platform_vkey);
        add_party(dir, &url, "auditor", "fair-audits.example", &auditor_vkey);

        // The platform commits to both models and reveals them early (signed by its key).
        let mut commitments = BTreeMap::new();
        for (kind, version) in [("logreg", "2026.1"), ("gbm", "2026.2")] {
            let file = format!("adult-{kind}.onnx");
            std::fs::copy(fixtures().join(&file), dir.join(&file)).unwrap();
            let c = commit(dir, &url, &file, "income-screen", version, "30d", &log_vkey);
            // Not revealed yet: the audit refuses to run (exit 2), and nothing is logged.
            if kind == "logreg" {
                let suite = suite_in(dir, "adult-four-fifths.toml");
                let out = embargo(
                    dir,
                    &[
                        "audit",
                        suite.to_str().unwrap(),
                        "--commitment",
                        &c,
                        "--log",
                        &url,
                        "--vkey",
                        &log_vkey,
                        "--out",
                        "early",
                    ],
                );
                assert_eq!(
                    out.status.code(),
                    Some(2),
                    "{}",
                    String::from_utf8_lossy(&out.stderr)
                );
                let err = String::from_utf8_lossy(&out.stderr);
                assert!(
                    err.contains("has not been revealed") || err.contains("sealed"),
                    "{err}"
                );
            }
            ok(
                dir,
                &[
                    "reveal",
                    &file,
                    "--log",
                    &url,
                    "--commitment",
                    &c,
                    "--key",
                    "platform.key",
                ],
            );
            commitments.insert(kind, c);
        }

        // The failing suite: four-fifths rule by sex on the logistic regression.
        let suite = suite_in(dir, "adult-four-fifths.toml");
        let c = &commitments["logreg"];
        let out = embargo(
            dir,
            &[
                "audit",
                suite.to_str().unwrap(),
                "--commitment",
                c,
                "--log",
                &url,
                "--vkey",
                &log_vkey,
                "--out",
                "fail",
                "--submit",
                "--key",
                "auditor.key",
            ],
        );
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(
            out.status.code(),
            Some(1),
            "a failed check exits 1:\n{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            stdout.contains("FAIL  four-fifths-sex")
                && stdout.contains("verdict: FAIL")
                && stdout.contains("logged: audit entry"),
            "{stdout}"
        );

        // The passing suite: predictive parity and equal opportunity on the gradient boosting.
        let suite = suite_in(dir, "adult-predictive-parity.toml");
        let g = &commitments["gbm"];
        let out = embargo(
            dir,
            &[
                "audit",
                suite.to_str().unwrap(),
                "--commitment",
                g,
                "--log",
                &url,
                "--vkey",
                &log_vkey,
                "--out",
                "pass",
                "--submit",
                "--key",
                "auditor.key",
            ],
        );
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(
            out.status.code(),
            Some(0),
            "every check passed exits 0:\n{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(stdout.contains("verdict: PASS"), "{stdout}");

        // A model whose bytes do not match the commitment is refused: the audit of the logistic
        // regression's commitment with the other model's file is not possible through the log,
        // and a local --model audit cannot be submitted (no --commitment).
        let out = embargo(
            dir,
            &[
                "audit",
                suite.to_str().unwrap(),
                "--model",
                "adult-gbm.onnx",
                "--submit",
                "--key",
                "auditor.key",
            ],
        );
        assert_eq!(out.status.code(), Some(2));

        // The log lists each audit under its commitment, with its verdict and a link to the
        // stored report, whose bytes hash to the logged digest.
        for (c, out_dir, verdict) in [(c, "fail", "fail"), (g, "pass", "pass")] {
            let (status, body) = http_get(&format!("{url}/v1/commitments/{c}"));
            assert_eq!(status, 200);
            let view: Value = serde_json::from_slice(&body).unwrap();
            let audits = view["audits"].as_array().unwrap();
            assert_eq!(audits.len(), 1, "{view}");
            let entry = audits[0].as_u64().unwrap();

            let (status, body) = http_get(&format!("{url}/v1/commitments/{c}/audits"));
            assert_eq!(status, 200);
            let list: Value = serde_json::from_slice(&body).unwrap();
            let a = &list["audits"][0];
            assert_eq!(a["entry"].as_u64(), Some(entry));
            assert_eq!(a["auditor"], "fair-audits.example");
            assert_eq!(a["verdict"], verdict);
            let local = std::fs::read(dir.join(out_dir).join("report.json")).unwrap();
            assert_eq!(a["report_digest"], format!("sha256:{}", sha256_hex(&local)));
            let link = a["report"].as_str().unwrap();
            let (status, stored) = http_get(&format!("{url}/{link}"));
            assert_eq!(status, 200);
            assert_eq!(
                stored, local,
                "the stored report is the auditor's, byte for byte"
            );
            let report: Value = serde_json::from_slice(&stored).unwrap();
            assert_eq!(report["verdict"], verdict);
            assert_eq!(
                report["model"]["commitment"].as_u64(),
                Some(c.parse().unwrap())
            );

            // The entry itself: signed by the auditor, subject = the model digest.
            let (_, leaf) = http_get(&format!("{url}/v1/entries/{entry}"));
            let leaf: Value = serde_json::from_slice(&leaf).unwrap();
            use base64::prelude::{Engine, BASE64_STANDARD};
            let payload: Value = serde_json::from_slice(
                &BASE64_STANDARD
                    .decode(leaf["envelope"]["payload"].as_str().unwrap())
                    .unwrap(),
            )
            .unwrap();
            assert_eq!(
                payload["predicateType"],
                "https://embargo.dev/audit-report/v1"
            );
            assert_eq!(
                format!(
                    "sha3-256:{}",
                    payload["subject"][0]["digest"]["sha3-256"]
                        .as_str()
                        .unwrap()
                ),
                report["model"]["digest"].as_str().unwrap()
            );
            assert_eq!(payload["predicate"]["verdict"], verdict);

            // Anyone may upload the report again (idempotent); other bytes are refused.
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            let client = embargo::client::Client::new(&url);
            let again = rt
                .block_on(client.put_audit_report(c.parse().unwrap(), entry, local.clone()))
                .unwrap();
            assert!(!again.created);
            let mut other = local.clone();
            other.push(b' ');
            let e = rt
                .block_on(client.put_audit_report(c.parse().unwrap(), entry, other))
                .unwrap_err();
            assert!(
                e.to_string().contains("digest_mismatch") || e.to_string().contains("hashes to"),
                "{e}"
            );
        }
        // The failing audit's report records why.
        let report: Value =
            serde_json::from_slice(&std::fs::read(dir.join("fail/report.json")).unwrap()).unwrap();
        let check = report["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["id"] == "four-fifths-sex")
            .unwrap();
        assert_eq!(check["passed"], false);
        assert!(check["value"].as_f64().unwrap() < 0.8);
        assert!(std::fs::read_to_string(dir.join("fail/report.html"))
            .unwrap()
            .contains("FAIL"));
        drop(server);
    }
}
