//! Audit reports: the JSON document (schema: `schema/audit-report-full.schema.json`), a
//! terminal table, and one self-contained HTML page with inline SVG charts. Pure: renders
//! strings; the CLI writes them.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt::Write as _;

pub const REPORT_SCHEMA: &str = "https://embargo.dev/audit-report-full/v1";

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Report {
    pub schema: String,
    pub tool: String,
    pub suite: SuiteInfo,
    pub model: ModelReport,
    pub data: DataReport,
    pub bootstrap: Option<BootstrapReport>,
    pub calibration_bins: Option<usize>,
    pub overall: BTreeMap<String, Option<f64>>,
    pub overall_intervals: BTreeMap<String, [f64; 2]>,
    pub groupings: Vec<GroupingReport>,
    pub checks: Vec<CheckResult>,
    pub verdict: String,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SuiteInfo {
    pub name: String,
    pub description: Option<String>,
    pub file: String,
    pub digest: String,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ModelReport {
    pub file: String,
    /// `sha3-256:<hex>`, the Embargo model digest.
    pub digest: String,
    pub commitment: Option<u64>,
    pub log: Option<String>,
    pub onnxruntime: String,
    pub output: Option<String>,
    pub output_index: Option<usize>,
    pub threshold: f64,
    pub score_kind: String,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct DataReport {
    pub file: String,
    pub digest: String,
    pub rows: usize,
    pub label: String,
    pub positive: String,
    pub positives: usize,
    pub attribution: Option<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct BootstrapReport {
    pub resamples: usize,
    pub seed: u64,
    pub confidence: f64,
    pub method: String,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct GroupingReport {
    pub name: String,
    pub attributes: Vec<String>,
    pub reference: Option<String>,
    pub groups: Vec<GroupReport>,
    pub between: Vec<BetweenValue>,
    pub ranking: Option<RankingReport>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct GroupReport {
    pub label: String,
    pub values: BTreeMap<String, String>,
    pub metrics: BTreeMap<String, Option<f64>>,
    pub intervals: BTreeMap<String, [f64; 2]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vs_reference: Option<VsReference>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct VsReference {
    pub difference: BTreeMap<String, Option<f64>>,
    pub ratio: BTreeMap<String, Option<f64>>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct BetweenValue {
    pub metric: String,
    pub method: String,
    pub value: Option<f64>,
    pub interval: Option<[f64; 2]>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RankingReport {
    pub queries: usize,
    pub k: Vec<usize>,
    pub step: usize,
    pub relevance: String,
    pub groups: Vec<RankingGroup>,
    pub exposure_ratio: Option<f64>,
    pub disparate_treatment_ratio: Option<f64>,
    pub min_skew: BTreeMap<String, Option<f64>>,
    pub max_skew: BTreeMap<String, Option<f64>>,
    pub ndkl: Option<f64>,
    pub rnd: Option<f64>,
    pub rkl: Option<f64>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RankingGroup {
    pub label: String,
    pub exposure: Option<f64>,
    pub mean_relevance: Option<f64>,
    pub exposure_per_relevance: Option<f64>,
    pub skew: BTreeMap<String, Option<f64>>,
    pub rnd: Option<f64>,
    pub rkl: Option<f64>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CheckResult {
    pub id: String,
    pub description: Option<String>,
    pub metric: String,
    pub grouping: String,
    pub method: Option<String>,
    pub value: Option<f64>,
    pub interval: Option<[f64; 2]>,
    pub min: Option<f64>,
    pub max: Option<f64>,
    pub passed: bool,
    pub detail: String,
}

impl Report {
    pub fn passed(&self) -> bool {
        self.verdict == "pass"
    }

    /// The JSON document, as stored and digested (pretty-printed, newline-terminated).
    pub fn to_json(&self) -> String {
        let mut s = serde_json::to_string_pretty(self).expect("reports serialize");
        s.push('\n');
        s
    }

    /// The headline numbers for the log entry: each check's value by check id (at most 64).
    pub fn headline(&self) -> BTreeMap<String, f64> {
        self.checks
            .iter()
            .filter_map(|c| c.value.map(|v| (c.id.clone(), v)))
            .take(64)
            .collect()
    }

    pub fn group(&self, grouping: &str, label: &str) -> Option<&GroupReport> {
        self.groupings
            .iter()
            .find(|g| g.name == grouping)?
            .groups
            .iter()
            .find(|g| g.label == label)
    }

    pub fn between(&self, grouping: &str, metric: &str, method: &str) -> Option<f64> {
        self.groupings
            .iter()
            .find(|g| g.name == grouping)?
            .between
            .iter()
            .find(|b| b.metric == metric && b.method == method)?
            .value
    }
}

fn num(v: Option<f64>, digits: usize) -> String {
    match v {
        Some(v) => format!("{v:.digits$}"),
        None => "—".into(),
    }
}

/// A table cell: counts as integers, other metrics with `digits` decimals.
fn cell(key: &str, v: Option<f64>, digits: usize) -> String {
    match v {
        Some(v) if key == "count" => format!("{v:.0}"),
        _ => num(v, digits),
    }
}

fn bounds(c: &CheckResult) -> String {
    match (c.min, c.max) {
        (Some(lo), Some(hi)) => format!("{lo} ≤ x ≤ {hi}"),
        (Some(lo), None) => format!("≥ {lo}"),
        (None, Some(hi)) => format!("≤ {hi}"),
        (None, None) => String::new(),
    }
}

const TABLE_METRICS: [(&str, &str); 9] = [
    ("count", "n"),
    ("selection_rate", "select"),
    ("tpr", "TPR"),
    ("fpr", "FPR"),
    ("fnr", "FNR"),
    ("ppv", "PPV"),
    ("accuracy", "acc"),
    ("mean_score", "score"),
    ("calibration_error", "ECE"),
];

const HEADLINE_DISPARITIES: [&str; 6] = [
    "demographic_parity_difference",
    "demographic_parity_ratio",
    "equalized_odds_difference",
    "equalized_odds_ratio",
    "equal_opportunity_difference",
    "equal_opportunity_ratio",
];

/// A plain-text report for the terminal.
pub fn terminal(r: &Report) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "Audit: {}", r.suite.name);
    let _ = writeln!(
        o,
        "  model {} ({}){}",
        r.model.file,
        r.model.digest,
        r.model.commitment.map_or(String::new(), |c| format!(
            ", commitment {c} of {}",
            r.model.log.clone().unwrap_or_default()
        ))
    );
    let _ = writeln!(
        o,
        "  data  {} ({}), {} rows, label {} = {:?} in {} rows; threshold {}",
        r.data.file,
        r.data.digest,
        r.data.rows,
        r.data.label,
        r.data.positive,
        r.data.positives,
        r.model.threshold
    );
    if let Some(b) = &r.bootstrap {
        let _ = writeln!(
            o,
            "  {:.0}% intervals from {} bootstrap resamples, seed {}",
            b.confidence * 100.0,
            b.resamples,
            b.seed
        );
    }
    for g in &r.groupings {
        let _ = writeln!(
            o,
            "\n{}{}",
            g.name,
            g.reference
                .as_ref()
                .map_or(String::new(), |x| format!(" (reference: {x})"))
        );
        let width = g
            .groups
            .iter()
            .map(|x| x.label.chars().count())
            .max()
            .unwrap_or(5)
            .max(7);
        let _ = write!(o, "  {:width$}", "group");
        for (_, h) in TABLE_METRICS {
            let _ = write!(o, " {h:>8}");
        }
        o.push('\n');
        let rows = g
            .groups
            .iter()
            .map(|x| (x.label.as_str(), &x.metrics))
            .chain(std::iter::once(("overall", &r.overall)));
        for (label, m) in rows {
            let _ = write!(o, "  {label:width$}");
            for (k, _) in TABLE_METRICS {
                let _ = write!(o, " {:>8}", cell(k, m.get(k).copied().flatten(), 4));
            }
            o.push('\n');
        }
        let mut line = String::new();
        for name in HEADLINE_DISPARITIES {
            if let Some(b) = g
                .between
                .iter()
                .find(|b| b.metric == name && b.method == "between_groups")
            {
                let _ = write!(
                    line,
                    "{}{} {}",
                    if line.is_empty() { "" } else { "; " },
                    short(name),
                    num(b.value, 3)
                );
            }
        }
        let _ = writeln!(o, "  between groups: {line}");
        if let Some(rk) = &g.ranking {
            let _ = writeln!(
                o,
                "  ranking ({} quer{}): exposure ratio {}, disparate treatment ratio {}, NDKL {}, max rND {}, max rKL {}",
                rk.queries,
                if rk.queries == 1 { "y" } else { "ies" },
                num(rk.exposure_ratio, 3),
                num(rk.disparate_treatment_ratio, 3),
                num(rk.ndkl, 4),
                num(rk.rnd, 3),
                num(rk.rkl, 3)
            );
            for k in &rk.k {
                let _ = writeln!(
                    o,
                    "    skew@{k}: min {}, max {}",
                    num(rk.min_skew.get(&k.to_string()).copied().flatten(), 3),
                    num(rk.max_skew.get(&k.to_string()).copied().flatten(), 3)
                );
            }
        }
    }
    let _ = writeln!(o, "\nChecks");
    for c in &r.checks {
        let iv = c
            .interval
            .map_or(String::new(), |[a, b]| format!(" [{a:.3}, {b:.3}]"));
        let _ = writeln!(
            o,
            "  {}  {:<24} {} by {}{} = {}{} (needs {}){}",
            if c.passed { "PASS" } else { "FAIL" },
            c.id,
            c.metric,
            c.grouping,
            c.method
                .as_ref()
                .map_or(String::new(), |m| format!(", {m}")),
            num(c.value, 4),
            iv,
            bounds(c),
            if c.detail.is_empty() {
                String::new()
            } else {
                format!("; {}", c.detail)
            }
        );
    }
    let failed = r.checks.iter().filter(|c| !c.passed).count();
    let _ = writeln!(
        o,
        "\nVerdict: {} ({} of {} checks passed)",
        r.verdict.to_uppercase(),
        r.checks.len() - failed,
        r.checks.len()
    );
    o
}

fn short(name: &str) -> String {
    name.replace("demographic_parity", "DP")
        .replace("equalized_odds", "EOdds")
        .replace("equal_opportunity", "EOpp")
        .replace("_difference", " diff")
        .replace("_ratio", " ratio")
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

const CHART_METRICS: [(&str, &str); 6] = [
    ("selection_rate", "Selection rate"),
    ("tpr", "True positive rate"),
    ("fpr", "False positive rate"),
    ("ppv", "Precision (PPV)"),
    ("accuracy", "Accuracy"),
    ("calibration_error", "Calibration error (ECE)"),
];

/// One horizontal bar chart: a bar per group with its interval, and the overall value as a
/// dashed line.
/// A bar: label, value, interval.
type Bar = (String, Option<f64>, Option<[f64; 2]>);

fn bar_chart(title: &str, rows: &[Bar], overall: Option<f64>, highlight: Option<&str>) -> String {
    let label_w = 186.0;
    let plot_w = 264.0;
    let row_h = 22.0;
    let top = 30.0;
    let h = top + row_h * rows.len() as f64 + 26.0;
    let w = label_w + plot_w + 60.0;
    let max = rows
        .iter()
        .flat_map(|(_, v, iv)| [v.unwrap_or(0.0), iv.map_or(0.0, |i| i[1])])
        .chain(overall)
        .fold(0.0f64, f64::max);
    let (scale_max, step) = nice_scale(max);
    let ticks = (scale_max / step).round() as usize;
    let decimals = (-step.log10().floor()).max(0.0) as usize
        + usize::from((step / 10f64.powf(step.log10().floor()) - 2.5).abs() < 1e-9);
    let x = |v: f64| label_w + (v / scale_max).clamp(0.0, 1.0) * plot_w;
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg class="chart" viewBox="0 0 {w} {h}" width="{w}" height="{h}" role="img" aria-label="{}">"#,
        esc(title)
    );
    let _ = write!(s, r#"<text x="0" y="16" class="ct">{}</text>"#, esc(title));
    for t in 0..=ticks {
        let v = step * t as f64;
        let xx = x(v);
        let _ = write!(
            s,
            r#"<line x1="{xx:.1}" y1="{top}" x2="{xx:.1}" y2="{:.1}" class="grid"/>"#,
            h - 22.0
        );
        let _ = write!(
            s,
            r#"<text x="{xx:.1}" y="{:.1}" class="tick" text-anchor="middle">{v:.decimals$}</text>"#,
            h - 8.0
        );
    }
    for (i, (label, v, iv)) in rows.iter().enumerate() {
        let y = top + row_h * i as f64;
        let shown: String = if label.chars().count() > 28 {
            label.chars().take(27).collect::<String>() + "…"
        } else {
            label.clone()
        };
        let class = if highlight == Some(label.as_str()) {
            "bar ref"
        } else {
            "bar"
        };
        let _ = write!(
            s,
            r#"<text x="{:.1}" y="{:.1}" class="gl" text-anchor="end"><title>{}</title>{}</text>"#,
            label_w - 6.0,
            y + 15.0,
            esc(label),
            esc(&shown)
        );
        match v {
            Some(v) => {
                let _ = write!(
                    s,
                    r#"<rect x="{label_w}" y="{:.1}" width="{:.1}" height="14" class="{class}"><title>{}: {v:.4}</title></rect>"#,
                    y + 4.0,
                    (x(*v) - label_w).max(0.5),
                    esc(label)
                );
                if let Some([a, b]) = iv {
                    let (xa, xb, ym) = (x(*a), x(*b), y + 11.0);
                    let _ = write!(
                        s,
                        r#"<line x1="{xa:.1}" y1="{ym:.1}" x2="{xb:.1}" y2="{ym:.1}" class="ci"/><line x1="{xa:.1}" y1="{:.1}" x2="{xa:.1}" y2="{:.1}" class="ci"/><line x1="{xb:.1}" y1="{:.1}" x2="{xb:.1}" y2="{:.1}" class="ci"/>"#,
                        ym - 4.0,
                        ym + 4.0,
                        ym - 4.0,
                        ym + 4.0
                    );
                }
                let tx = x(iv.map_or(*v, |i| i[1]).max(*v)) + 4.0;
                let _ = write!(
                    s,
                    r#"<text x="{:.1}" y="{:.1}" class="val">{}</text>"#,
                    tx + 2.0,
                    y + 15.0,
                    trim3(*v)
                );
            }
            None => {
                let _ = write!(
                    s,
                    r#"<text x="{:.1}" y="{:.1}" class="val">undefined</text>"#,
                    label_w + 4.0,
                    y + 15.0
                );
            }
        }
    }
    if let Some(o) = overall {
        let xo = x(o);
        let _ = write!(
            s,
            r#"<line x1="{xo:.1}" y1="{:.1}" x2="{xo:.1}" y2="{:.1}" class="overall"><title>overall {o:.4}</title></line>"#,
            top - 4.0,
            h - 22.0
        );
    }
    s.push_str("</svg>");
    s
}

/// An axis maximum at or above `max` and a tick step of 1, 2, 2.5 or 5 times a power of ten,
/// with 3 to 6 ticks.
fn nice_scale(max: f64) -> (f64, f64) {
    if max <= 0.0 || !max.is_finite() {
        return (1.0, 0.25);
    }
    let raw = max / 4.0;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .into_iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * mag);
    ((max / step - 1e-9).ceil().max(1.0) * step, step)
}

fn trim3(v: f64) -> String {
    format!("{v:.3}")
}

const CSS: &str = r#"
:root{--pass:#1a7f37;--fail:#cf222e;--ink:#1f2328;--muted:#656d76;--line:#d0d7de;--bar:#4c72b0;--ref:#dd8452}
*{box-sizing:border-box}body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--ink);margin:0;background:#f6f8fa}
main{max-width:1120px;margin:0 auto;padding:24px 28px 40px;background:#fff;min-height:100vh}
h1{font-size:24px;margin:0 0 4px}h2{font-size:19px;margin:32px 0 8px;padding-top:12px;border-top:1px solid var(--line)}h3{font-size:15px;margin:18px 0 6px}
.muted{color:var(--muted)}code{font:12px ui-monospace,SFMono-Regular,Menlo,monospace;word-break:break-all}
.verdict{display:inline-block;font-weight:700;font-size:15px;padding:4px 14px;border-radius:16px;color:#fff;vertical-align:middle;margin-left:10px}
.pass{background:var(--pass)}.fail{background:var(--fail)}
.badge{display:inline-block;font-weight:700;font-size:12px;padding:1px 9px;border-radius:10px;color:#fff}
table{border-collapse:collapse;margin:6px 0 10px;font-variant-numeric:tabular-nums}th,td{padding:4px 9px;border-bottom:1px solid var(--line);text-align:right;vertical-align:top}
th{background:#f6f8fa;font-weight:600}td.n{white-space:nowrap}td.l,th.l{text-align:left}
dl.meta{display:grid;grid-template-columns:110px 1fr;gap:2px 12px;margin:12px 0}dl.meta dt{color:var(--muted)}dl.meta dd{margin:0}
.charts{display:grid;grid-template-columns:repeat(2,minmax(0,1fr));gap:8px 18px}
svg.chart{max-width:100%;height:auto}.ct{font-weight:600;font-size:13px;fill:var(--ink)}.gl,.val{font-size:11.5px;fill:var(--ink)}.val{paint-order:stroke;stroke:#fff;stroke-width:3px;stroke-linejoin:round}.tick{font-size:10px;fill:var(--muted)}
.grid{stroke:#eaeef2;stroke-width:1}.bar{fill:var(--bar)}.bar.ref{fill:var(--ref)}.ci{stroke:#1f2328;stroke-width:1.3}.overall{stroke:#cf222e;stroke-width:1.5;stroke-dasharray:4 3}
.legend{font-size:12px;color:var(--muted);margin:4px 0 8px}.sw{display:inline-block;width:11px;height:11px;vertical-align:-1px;margin:0 4px 0 12px}
footer{margin-top:36px;font-size:12px;color:var(--muted);border-top:1px solid var(--line);padding-top:10px}
"#;

/// One self-contained HTML page (inline CSS and SVG; no scripts, no external resources).
pub fn html(r: &Report) -> String {
    let mut o = String::new();
    html_summary(&mut o, r);
    html_checks(&mut o, r);
    for g in &r.groupings {
        html_grouping(&mut o, r, g);
    }
    let _ = writeln!(
        o,
        "<footer>Metric definitions and the papers they follow: schema/metrics.md of Embargo. Report schema: {REPORT_SCHEMA}. Undefined values (a zero denominator) show as —. {}</footer></main></body></html>",
        r.data.attribution.as_ref().map_or(String::new(), |a| format!("Data: {}.", esc(a)))
    );
    o
}

/// The page's head, title, verdict and what was audited (model, data, bootstrap).
fn html_summary(o: &mut String, r: &Report) {
    let verdict_class = if r.passed() { "pass" } else { "fail" };
    let _ = write!(
        o,
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width,initial-scale=1\"><title>Audit: {}</title><style>{CSS}</style></head><body><main>",
        esc(&r.suite.name)
    );
    let _ = write!(
        o,
        "<h1>{}<span class=\"verdict {verdict_class}\">{}</span></h1>",
        esc(&r.suite.name),
        r.verdict.to_uppercase()
    );
    if let Some(d) = &r.suite.description {
        let _ = write!(o, "<p class=\"muted\">{}</p>", esc(d));
    }
    let passed = r.checks.iter().filter(|c| c.passed).count();
    let _ = write!(
        o,
        "<p><b>{passed} of {} checks passed.</b></p>",
        r.checks.len()
    );
    let _ = write!(o, "<dl class=\"meta\">");
    let _ = write!(
        o,
        "<dt>Model</dt><dd>{} <code>{}</code></dd>",
        esc(&r.model.file),
        esc(&r.model.digest)
    );
    if let Some(c) = r.model.commitment {
        let _ = write!(o, "<dt>Commitment</dt><dd>entry {c} of <code>{}</code> (fetched and verified against the log)</dd>", esc(r.model.log.as_deref().unwrap_or("")));
    }
    let _ = write!(
        o,
        "<dt>Scores</dt><dd>output {}{}, {}; predicted positive when score ≥ {}</dd>",
        esc(r.model.output.as_deref().unwrap_or("(first float output)")),
        r.model
            .output_index
            .map_or(String::new(), |i| format!("[:, {i}]")),
        esc(&r.model.score_kind),
        r.model.threshold
    );
    let _ = write!(
        o,
        "<dt>Data</dt><dd>{} <code>{}</code>: {} rows; label <b>{}</b> = {} in {} rows</dd>",
        esc(&r.data.file),
        esc(&r.data.digest),
        r.data.rows,
        esc(&r.data.label),
        esc(&r.data.positive),
        r.data.positives
    );
    if let Some(a) = &r.data.attribution {
        let _ = write!(o, "<dt>Data source</dt><dd>{}</dd>", esc(a));
    }
    let _ = write!(
        o,
        "<dt>Suite</dt><dd>{} <code>{}</code></dd>",
        esc(&r.suite.file),
        esc(&r.suite.digest)
    );
    if let Some(b) = &r.bootstrap {
        let _ = write!(o, "<dt>Intervals</dt><dd>{:.0}% percentile intervals from {} bootstrap resamples (seed {})</dd>", b.confidence * 100.0, b.resamples, b.seed);
    }
    let _ = write!(
        o,
        "<dt>Runtime</dt><dd>{}, ONNX Runtime {}</dd></dl>",
        esc(&r.tool),
        esc(&r.model.onnxruntime)
    );
}

/// The table of checks.
fn html_checks(o: &mut String, r: &Report) {
    let _ = write!(o, "<h2>Checks</h2><table><tr><th class=\"l\">check</th><th class=\"l\">metric</th><th class=\"l\">grouping</th><th>value</th><th>interval</th><th>needs</th><th class=\"l\">result</th></tr>");
    for c in &r.checks {
        let _ = write!(
            o,
            "<tr><td class=\"l\"><b>{}</b>{}</td><td class=\"l\">{}{}</td><td class=\"l\">{}</td><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"l\"><span class=\"badge {}\">{}</span> <span class=\"muted\">{}</span></td></tr>",
            esc(&c.id),
            c.description.as_ref().map_or(String::new(), |d| format!("<br><span class=\"muted\">{}</span>", esc(d))),
            esc(&c.metric),
            c.method.as_ref().map_or(String::new(), |m| format!("<br><span class=\"muted\">{}</span>", esc(m))),
            esc(&c.grouping),
            num(c.value, 4),
            c.interval.map_or("—".into(), |[a, b]| format!("[{a:.3}, {b:.3}]")),
            esc(&bounds(c)),
            if c.passed { "pass" } else { "fail" },
            if c.passed { "PASS" } else { "FAIL" },
            esc(&c.detail)
        );
    }
    o.push_str("</table>");
}

/// One grouping: its legend, charts and tables, and its ranking metrics if any.
fn html_grouping(o: &mut String, r: &Report, g: &GroupingReport) {
    let _ = write!(o, "<h2>By {}</h2>", esc(&g.name));
    let _ = write!(o, "<div class=\"legend\"><span class=\"sw\" style=\"background:var(--bar)\"></span>group value");
    if g.reference.is_some() {
        let _ = write!(
            o,
            "<span class=\"sw\" style=\"background:var(--ref)\"></span>reference group ({})",
            esc(g.reference.as_deref().unwrap_or(""))
        );
    }
    if r.bootstrap.is_some() {
        o.push_str("<span class=\"sw\" style=\"height:2px;background:#1f2328;vertical-align:3px\"></span>bootstrap interval");
    }
    o.push_str("<span class=\"sw\" style=\"height:0;border-top:2px dashed #cf222e;vertical-align:3px\"></span>overall</div><div class=\"charts\">");
    for (key, title) in CHART_METRICS {
        if key == "calibration_error" && r.calibration_bins.is_none() {
            continue;
        }
        let rows: Vec<(String, Option<f64>, Option<[f64; 2]>)> = g
            .groups
            .iter()
            .map(|x| {
                (
                    x.label.clone(),
                    x.metrics.get(key).copied().flatten(),
                    x.intervals.get(key).copied(),
                )
            })
            .collect();
        o.push_str(&bar_chart(
            title,
            &rows,
            r.overall.get(key).copied().flatten(),
            g.reference.as_deref(),
        ));
    }
    o.push_str("</div>");
    let _ = write!(o, "<h3>Per group</h3><table><tr><th class=\"l\">group</th>");
    for (_, h) in TABLE_METRICS {
        let _ = write!(o, "<th>{h}</th>");
    }
    o.push_str("</tr>");
    let rows = g
        .groups
        .iter()
        .map(|x| (x.label.as_str(), &x.metrics))
        .chain(std::iter::once(("overall", &r.overall)));
    for (label, m) in rows {
        let _ = write!(o, "<tr><td class=\"l\">{}</td>", esc(label));
        for (k, _) in TABLE_METRICS {
            let _ = write!(o, "<td>{}</td>", cell(k, m.get(k).copied().flatten(), 4));
        }
        o.push_str("</tr>");
    }
    o.push_str("</table>");
    let methods: Vec<&str> = ["between_groups", "to_overall", "reference"]
        .into_iter()
        .filter(|m| g.between.iter().any(|b| b.method == *m))
        .collect();
    let _ = write!(
        o,
        "<h3>Between groups</h3><table><tr><th class=\"l\">metric</th>"
    );
    for m in &methods {
        let _ = write!(
            o,
            "<th>{}</th>",
            if *m == "reference" {
                format!("vs {}", esc(g.reference.as_deref().unwrap_or("")))
            } else {
                m.replace('_', " ")
            }
        );
    }
    o.push_str("</tr>");
    for name in HEADLINE_DISPARITIES {
        let _ = write!(o, "<tr><td class=\"l\">{}</td>", name.replace('_', " "));
        for m in &methods {
            let b = g
                .between
                .iter()
                .find(|b| b.metric == name && b.method == *m);
            let cell = b.map_or("—".into(), |b| {
                format!(
                    "{}{}",
                    num(b.value, 4),
                    b.interval.map_or(String::new(), |[x, y]| format!(
                        " <span class=\"muted\">[{x:.3}, {y:.3}]</span>"
                    ))
                )
            });
            let _ = write!(o, "<td>{cell}</td>");
        }
        o.push_str("</tr>");
    }
    o.push_str("</table>");
    if let Some(rk) = &g.ranking {
        let _ = write!(
            o,
            "<h3>Ranking ({} quer{}, ranked by score)</h3>",
            rk.queries,
            if rk.queries == 1 { "y" } else { "ies" }
        );
        o.push_str("<div class=\"charts\">");
        let rows: Vec<_> = rk
            .groups
            .iter()
            .map(|x| (x.label.clone(), x.exposure, None))
            .collect();
        o.push_str(&bar_chart(
            "Mean exposure (Singh & Joachims 2018)",
            &rows,
            None,
            g.reference.as_deref(),
        ));
        let rows: Vec<_> = rk
            .groups
            .iter()
            .map(|x| (x.label.clone(), x.exposure_per_relevance, None))
            .collect();
        o.push_str(&bar_chart(
            "Exposure per unit of relevance",
            &rows,
            None,
            g.reference.as_deref(),
        ));
        o.push_str(
            "</div><table><tr><th class=\"l\">group</th><th>exposure</th><th>relevance</th>",
        );
        for k in &rk.k {
            let _ = write!(o, "<th>skew@{k}</th>");
        }
        o.push_str("<th>rND</th><th>rKL</th></tr>");
        for x in &rk.groups {
            let _ = write!(
                o,
                "<tr><td class=\"l\">{}</td><td>{}</td><td>{}</td>",
                esc(&x.label),
                num(x.exposure, 4),
                num(x.mean_relevance, 4)
            );
            for k in &rk.k {
                let _ = write!(
                    o,
                    "<td>{}</td>",
                    num(x.skew.get(&k.to_string()).copied().flatten(), 4)
                );
            }
            let _ = write!(
                o,
                "<td>{}</td><td>{}</td></tr>",
                num(x.rnd, 4),
                num(x.rkl, 4)
            );
        }
        let _ = write!(
            o,
            "</table><p>Exposure ratio {}, disparate treatment ratio {}, NDKL {}, max rND {}, max rKL {}.</p>",
            num(rk.exposure_ratio, 4),
            num(rk.disparate_treatment_ratio, 4),
            num(rk.ndkl, 4),
            num(rk.rnd, 4),
            num(rk.rkl, 4)
        );
    }
}
