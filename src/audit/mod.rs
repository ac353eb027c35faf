//! Fairness audits of revealed models: a suite ([`suite`]) names a CSV data set ([`data`]) and
//! how it feeds an ONNX model ([`model`]); [`evaluate`] turns the model's scores into group and
//! between-group metrics, bootstrap intervals, ranking metrics ([`metrics`]) and check results;
//! [`report`] renders them (terminal table, JSON, HTML).
//!
//! Everything but [`model`] (ONNX Runtime) is pure: the CLI (`embargo audit`) reads the files,
//! fetches and verifies a revealed model, and submits the signed summary.

pub mod data;
pub mod metrics;
pub mod model;
pub mod report;
pub mod suite;

use data::{Kind, Need, Table};
use metrics::{Counts, Disparity, GroupMetric, Kernel, Method, Rng, Values};
use report::*;
use std::collections::{BTreeMap, HashMap};
use suite::{CheckMetric, RankingMetric, ScoreKind, Suite};

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct AuditError(pub String);

/// The columns a suite reads, and as what.
pub fn needs(suite: &Suite) -> Vec<Need> {
    let mut v = Vec::new();
    for i in &suite.inputs {
        let kind = if i.ty == suite::InputType::String {
            Kind::Text
        } else {
            Kind::Number
        };
        for c in &i.columns {
            v.push(Need {
                col: c.clone(),
                kind,
                role: format!("model input {:?}", i.name),
            });
        }
    }
    v.push(Need {
        col: suite.label.clone(),
        kind: Kind::Text,
        role: "the label".into(),
    });
    for a in &suite.attributes {
        v.push(Need {
            col: a.clone(),
            kind: Kind::Text,
            role: "a sensitive attribute".into(),
        });
    }
    if let Some(q) = suite.ranking.as_ref().and_then(|r| r.query.as_ref()) {
        v.push(Need {
            col: q.clone(),
            kind: Kind::Text,
            role: "the ranking's query column".into(),
        });
    }
    v
}

/// Facts about the inputs that the report records (digests, names).
#[derive(Clone, Debug)]
pub struct Provenance {
    pub suite_digest: String,
    pub data_file: String,
    pub data_digest: String,
    pub model_file: String,
    pub model_digest: String,
    pub commitment: Option<u64>,
    pub log: Option<String>,
    pub onnxruntime: String,
}

/// One grouping's groups: labels, per-attribute values, and the group of each cell.
struct Groups {
    labels: Vec<String>,
    values: Vec<Vec<String>>,
    group_of: Vec<usize>,
    reference: Option<usize>,
}

/// Per-row facts the metrics need, derived from the table and the scores.
pub struct Prepared {
    kernel: Kernel,
    cell_of_row: Vec<u32>,
    groups: Vec<Groups>,
    positives: usize,
    labels: Vec<bool>,
}

/// Checks the label and attributes and builds the per-row kernel.
pub fn prepare(suite: &Suite, table: &Table, scores: &[f64]) -> Result<Prepared, AuditError> {
    assert_eq!(scores.len(), table.rows);
    let (codes, levels) = table.text(&suite.label.name);
    if levels.len() > 2 {
        let mut counts = vec![0usize; levels.len()];
        for &c in codes {
            counts[c as usize] += 1;
        }
        let mut shown: Vec<String> = levels
            .iter()
            .zip(&counts)
            .take(8)
            .map(|(l, n)| format!("{l:?} ({n} row{})", if *n == 1 { "" } else { "s" }))
            .collect();
        if levels.len() > 8 {
            shown.push(format!("and {} more", levels.len() - 8));
        }
        return Err(AuditError(format!(
            "{}: the label column {:?} of {} is not binary: it has {} distinct values: {}. Map it to two values (positive {:?} and one other) first",
            suite.label.at, suite.label.name, table.file, levels.len(), shown.join(", "), suite.positive
        )));
    }
    let Some(pos) = levels.iter().position(|l| *l == suite.positive) else {
        return Err(AuditError(format!(
            "{}: no row of {} has the positive label {:?} in column {:?}; its values are: {}",
            suite.label.at,
            table.file,
            suite.positive,
            suite.label.name,
            levels
                .iter()
                .map(|l| format!("{l:?}"))
                .collect::<Vec<_>>()
                .join(", ")
        )));
    };
    let labels: Vec<bool> = codes.iter().map(|&c| c as usize == pos).collect();
    let positives = labels.iter().filter(|l| **l).count();

    if suite.output.kind == ScoreKind::Probability {
        if let Some(r) = scores.iter().position(|s| !(0.0..=1.0).contains(s)) {
            return Err(AuditError(format!(
                "the model's score for data row {} is {}, outside [0, 1]; if the output is not a probability, set model.output.kind = \"score\" (calibration is then not computed)",
                r + 1,
                scores[r]
            )));
        }
    }

    // Cells: the observed combinations of every sensitive attribute.
    let attrs: Vec<(&[u32], &[String])> = suite
        .attributes
        .iter()
        .map(|a| table.text(&a.name))
        .collect();
    let mut cell_index: HashMap<Vec<u32>, u32> = HashMap::new();
    let mut cell_values: Vec<Vec<u32>> = Vec::new();
    let mut cell_of_row = Vec::with_capacity(table.rows);
    let mut key = vec![0u32; attrs.len()];
    let mut last: Option<(Vec<u32>, u32)> = None;
    for r in 0..table.rows {
        for (k, (codes, _)) in key.iter_mut().zip(&attrs) {
            *k = codes[r];
        }
        let id = match &last {
            Some((lk, id)) if *lk == key => *id,
            _ => {
                let id = match cell_index.get(&key) {
                    Some(&id) => id,
                    None => {
                        let id = cell_values.len() as u32;
                        if id as usize >= 1 << 16 {
                            return Err(AuditError(format!(
                                "the sensitive attributes {} form more than 65536 combinations: use fewer attributes or coarser values",
                                suite.attributes.iter().map(|a| a.name.as_str()).collect::<Vec<_>>().join(", ")
                            )));
                        }
                        cell_index.insert(key.clone(), id);
                        cell_values.push(key.clone());
                        id
                    }
                };
                last = Some((key.clone(), id));
                id
            }
        };
        cell_of_row.push(id);
    }
    let cells = cell_values.len();

    let mut groups = Vec::new();
    for g in &suite.groupings {
        let mut by_values: BTreeMap<Vec<String>, Vec<usize>> = BTreeMap::new();
        for (cell, vals) in cell_values.iter().enumerate() {
            let v: Vec<String> = g
                .attributes
                .iter()
                .map(|&a| attrs[a].1[vals[a] as usize].clone())
                .collect();
            by_values.entry(v).or_default().push(cell);
        }
        let mut group_of = vec![0usize; cells];
        let mut labels_g = Vec::new();
        let mut values = Vec::new();
        for (i, (v, cs)) in by_values.into_iter().enumerate() {
            for c in cs {
                group_of[c] = i;
            }
            labels_g.push(v.join(" & "));
            values.push(v);
        }
        let reference = match &g.reference {
            None => None,
            Some(r) => Some(labels_g.iter().position(|l| l == r).ok_or_else(|| {
                AuditError(format!(
                    "{}: empty group: the reference group {r:?} of {:?} has no rows in {} (its groups are: {})",
                    suite.file,
                    g.name,
                    table.file,
                    labels_g.iter().map(|l| format!("{l:?}")).collect::<Vec<_>>().join(", ")
                ))
            })?),
        };
        groups.push(Groups {
            labels: labels_g,
            values,
            group_of,
            reference,
        });
    }

    let bins = if suite.output.kind == ScoreKind::Probability {
        suite.calibration_bins
    } else {
        1
    };
    let mut kernel = Kernel::new(cells, bins);
    kernel.rows.reserve(table.rows);
    for r in 0..table.rows {
        let class = metrics::class_of(scores[r] >= suite.output.threshold, labels[r]);
        kernel.push(cell_of_row[r] as usize, class, scores[r]);
    }
    Ok(Prepared {
        kernel,
        cell_of_row,
        groups,
        positives,
        labels,
    })
}

/// Every classification statistic of one accumulation, flattened in a fixed order.
struct Stats {
    /// Per grouping: per group values, then overall.
    groups: Vec<Vec<Values>>,
    overall: Values,
    /// Per grouping: (disparity, method) values in [`between_list`] order.
    between: Vec<Vec<f64>>,
}

fn between_list(g: &Groups) -> Vec<(Disparity, Method)> {
    let mut methods = vec![Method::BetweenGroups, Method::ToOverall];
    if g.reference.is_some() {
        methods.push(Method::Reference);
    }
    let mut v = Vec::new();
    for m in methods {
        for d in Disparity::all() {
            v.push((d, m));
        }
    }
    v
}

fn stats(p: &Prepared, acc: &metrics::Accumulator, probability: bool) -> Stats {
    let cells = p.kernel.cell_counts(acc);
    let bins = p.kernel.bins;
    let fix = |mut v: Values| {
        if !probability {
            v[GroupMetric::CalibrationError.index()] = f64::NAN;
        }
        v
    };
    let mut total = Counts::new(bins);
    for c in &cells {
        total.add(c);
    }
    let overall = fix(total.values());
    let mut groups = Vec::new();
    let mut between = Vec::new();
    for g in &p.groups {
        let counts = metrics::group_counts(&cells, &g.group_of, g.labels.len(), bins);
        let vals: Vec<Values> = counts.iter().map(|c| fix(c.values())).collect();
        between.push(
            between_list(g)
                .into_iter()
                .map(|(d, m)| d.value(&vals, &overall, m, g.reference))
                .collect(),
        );
        groups.push(vals);
    }
    Stats {
        groups,
        overall,
        between,
    }
}

impl Stats {
    fn flatten(&self) -> Vec<f64> {
        let mut v = Vec::new();
        for g in &self.groups {
            for vals in g {
                v.extend_from_slice(vals);
            }
        }
        v.extend_from_slice(&self.overall);
        for b in &self.between {
            v.extend_from_slice(b);
        }
        v
    }
}

fn opt(v: f64) -> Option<f64> {
    v.is_finite().then_some(v)
}

/// A bootstrap interval of one statistic, if the suite bootstraps and the resamples define it.
type Interval = Option<(f64, f64)>;

/// Computes everything the suite asks for and judges its checks.
pub fn evaluate(
    suite: &Suite,
    table: &Table,
    scores: &[f64],
    prov: &Provenance,
) -> Result<Report, AuditError> {
    let p = prepare(suite, table, scores)?;
    let probability = suite.output.kind == ScoreKind::Probability;
    let point = stats(&p, &p.kernel.accumulate_all(), probability);
    let mut intervals = Intervals::new(bootstrap_intervals(suite, &p, probability));

    // Taken in `Stats::flatten` order: every group, then overall, then each grouping's between.
    let group_intervals: Vec<Vec<Vec<Interval>>> = point
        .groups
        .iter()
        .map(|g| {
            (0..g.len())
                .map(|_| intervals.take(metrics::N_METRICS))
                .collect()
        })
        .collect();
    let overall_iv = intervals.take(metrics::N_METRICS);
    let scored = Scored {
        suite,
        p: &p,
        point: &point,
        table,
        scores,
    };
    let groupings: Vec<GroupingReport> = (0..p.groups.len())
        .map(|gi| scored.grouping_report(gi, &group_intervals[gi], &mut intervals))
        .collect();

    let checks: Vec<CheckResult> = suite
        .checks
        .iter()
        .map(|c| check_result(c, &groupings[c.grouping]))
        .collect();
    let verdict = if checks.iter().all(|c| c.passed) {
        "pass"
    } else {
        "fail"
    };

    Ok(Report {
        schema: REPORT_SCHEMA.into(),
        tool: format!("embargo {}", env!("CARGO_PKG_VERSION")),
        suite: SuiteInfo {
            name: suite.name.clone(),
            description: suite.description.clone(),
            file: suite.file.clone(),
            digest: prov.suite_digest.clone(),
        },
        model: model_report(suite, prov, probability),
        data: data_report(suite, prov, table, &p),
        bootstrap: suite.bootstrap.as_ref().map(|b| BootstrapReport {
            resamples: b.resamples,
            seed: b.seed,
            confidence: b.confidence,
            method: "percentile intervals over row resamples with replacement; resample r draws from xoshiro256** seeded by SplitMix64(seed XOR r * 0xD1B54A32D192ED03); quantiles interpolate linearly".into(),
        }),
        calibration_bins: if probability { Some(suite.calibration_bins) } else { None },
        overall: metric_map(&point.overall),
        overall_intervals: interval_map(&overall_iv),
        groupings,
        checks,
        verdict: verdict.into(),
    })
}

/// Bootstrap: every statistic, per resample, in [`Stats::flatten`] order; resample r uses
/// stream r of the seed. `None` when the suite does not bootstrap.
fn bootstrap_intervals(suite: &Suite, p: &Prepared, probability: bool) -> Option<Vec<Interval>> {
    use rayon::prelude::*;
    let b = suite.bootstrap.as_ref()?;
    let samples: Vec<Vec<f64>> = (0..b.resamples)
        .into_par_iter()
        .map(|r| {
            let mut rng = Rng::new(b.seed, r as u64);
            stats(p, &p.kernel.accumulate_resample(&mut rng), probability).flatten()
        })
        .collect();
    let width = samples.first().map_or(0, Vec::len);
    Some(
        (0..width)
            .into_par_iter()
            .map(|i| {
                let mut col: Vec<f64> = samples
                    .iter()
                    .map(|s| s[i])
                    .filter(|x| x.is_finite())
                    .collect();
                metrics::percentile_interval(&mut col, b.confidence)
            })
            .collect(),
    )
}

/// Hands out the bootstrap intervals in the order they were flattened (all `None` without a
/// bootstrap).
struct Intervals {
    all: Option<Vec<Interval>>,
    cursor: usize,
}

impl Intervals {
    fn new(all: Option<Vec<Interval>>) -> Intervals {
        Intervals { all, cursor: 0 }
    }

    /// The next `n` intervals.
    fn take(&mut self, n: usize) -> Vec<Interval> {
        let out = match &self.all {
            Some(iv) => iv[self.cursor..self.cursor + n].to_vec(),
            None => vec![None; n],
        };
        self.cursor += n;
        out
    }
}

/// Every group metric by name; undefined values as `None`.
fn metric_map(v: &Values) -> BTreeMap<String, Option<f64>> {
    GroupMetric::ALL
        .iter()
        .map(|m| (m.name().to_owned(), opt(v[m.index()])))
        .collect()
}

/// The defined intervals of every group metric but the count, by name.
fn interval_map(iv: &[Interval]) -> BTreeMap<String, [f64; 2]> {
    GroupMetric::ALL
        .iter()
        .filter(|m| **m != GroupMetric::Count)
        .filter_map(|m| iv[m.index()].map(|(a, b)| (m.name().to_owned(), [a, b])))
        .collect()
}

/// Everything the per-grouping reports are built from: the suite, the prepared rows, the point
/// statistics, and the table and scores for rankings.
struct Scored<'a> {
    suite: &'a Suite,
    p: &'a Prepared,
    point: &'a Stats,
    table: &'a Table,
    scores: &'a [f64],
}

impl Scored<'_> {
    /// Grouping `gi`: its groups, between-group values (taking their intervals next) and ranking.
    fn grouping_report(
        &self,
        gi: usize,
        group_intervals: &[Vec<Interval>],
        intervals: &mut Intervals,
    ) -> GroupingReport {
        let suite = self.suite;
        let spec = &suite.groupings[gi];
        let g = &self.p.groups[gi];
        let list = between_list(g);
        let biv = intervals.take(list.len());
        let between: Vec<BetweenValue> = list
            .iter()
            .zip(&self.point.between[gi])
            .zip(&biv)
            .map(|(((d, m), v), iv)| BetweenValue {
                metric: d.name(),
                method: m.name().to_owned(),
                value: opt(*v),
                interval: iv.map(|(a, b)| [a, b]),
            })
            .collect();
        let groups: Vec<GroupReport> = (0..g.labels.len())
            .map(|i| self.group_report(gi, i, &group_intervals[i]))
            .collect();
        let ranking = suite
            .ranking
            .as_ref()
            .map(|rk| ranking_report(rk, self.p, g, self.table, self.scores, suite));
        GroupingReport {
            name: spec.name.clone(),
            attributes: spec
                .attributes
                .iter()
                .map(|&a| suite.attributes[a].name.clone())
                .collect(),
            reference: spec.reference.clone(),
            groups,
            between,
            ranking,
        }
    }

    /// Group `i` of grouping `gi`: its attribute values, metrics, intervals, and how it compares
    /// to the reference group (if there is one and it is not the reference).
    fn group_report(&self, gi: usize, i: usize, intervals: &[Interval]) -> GroupReport {
        let spec = &self.suite.groupings[gi];
        let g = &self.p.groups[gi];
        let vals = &self.point.groups[gi][i];
        let vs_reference = g
            .reference
            .filter(|r| *r != i)
            .map(|r| vs_reference(vals, &self.point.groups[gi][r]));
        GroupReport {
            label: g.labels[i].clone(),
            values: spec
                .attributes
                .iter()
                .zip(&g.values[i])
                .map(|(&a, v)| (self.suite.attributes[a].name.clone(), v.clone()))
                .collect(),
            metrics: metric_map(vals),
            intervals: interval_map(intervals),
            vs_reference,
        }
    }
}

/// A group's metrics (but the count) against the reference group's: difference and ratio.
fn vs_reference(vals: &Values, rv: &Values) -> VsReference {
    VsReference {
        difference: GroupMetric::ALL
            .iter()
            .skip(1)
            .map(|m| (m.name().to_owned(), opt(vals[m.index()] - rv[m.index()])))
            .collect(),
        ratio: GroupMetric::ALL
            .iter()
            .skip(1)
            .map(|m| (m.name().to_owned(), opt(vals[m.index()] / rv[m.index()])))
            .collect(),
    }
}

/// What a check measured, before it is judged against its bounds.
struct Measured {
    metric: String,
    method: Option<String>,
    value: Option<f64>,
    interval: Option<[f64; 2]>,
    detail: String,
}

/// Judges one check on its grouping's report: passed when its value is defined and in bounds.
fn check_result(c: &suite::Check, gr: &GroupingReport) -> CheckResult {
    let mut m = match &c.metric {
        CheckMetric::Disparity(d, m) => measure_disparity(gr, d, m),
        CheckMetric::EveryGroup(m) => measure_every_group(c, gr, *m),
        CheckMetric::Ranking(rm) => measure_ranking(gr, rm),
    };
    let passed = match m.value {
        None => false,
        Some(v) => c.min.is_none_or(|lo| v >= lo) && c.max.is_none_or(|hi| v <= hi),
    };
    if m.value.is_none() && m.detail.is_empty() {
        m.detail = "undefined (no group, or a zero denominator)".into();
    }
    CheckResult {
        id: c.id.clone(),
        description: c.description.clone(),
        metric: m.metric,
        grouping: gr.name.clone(),
        method: m.method,
        value: m.value,
        interval: m.interval,
        min: c.min,
        max: c.max,
        passed,
        detail: m.detail,
    }
}

/// A disparity under a method: the between-group value already computed, and what it compares.
fn measure_disparity(gr: &GroupingReport, d: &Disparity, m: &Method) -> Measured {
    let b = gr
        .between
        .iter()
        .find(|b| b.metric == d.name() && b.method == m.name())
        .expect("computed for every disparity and method");
    let detail = match m {
        Method::Reference => format!(
            "reference group {:?}",
            gr.reference.clone().unwrap_or_default()
        ),
        Method::BetweenGroups => {
            let metric = match d {
                Disparity::DemographicParityDifference | Disparity::DemographicParityRatio => {
                    Some(GroupMetric::SelectionRate)
                }
                Disparity::EqualOpportunityDifference | Disparity::EqualOpportunityRatio => {
                    Some(GroupMetric::Tpr)
                }
                Disparity::Difference(m) | Disparity::Ratio(m) => Some(*m),
                _ => None,
            };
            match metric {
                Some(m) => extremes(gr, m),
                None => String::new(),
            }
        }
        Method::ToOverall => "each group against the overall value".into(),
    };
    Measured {
        metric: d.name(),
        method: Some(m.name().to_owned()),
        value: b.value,
        interval: b.interval,
        detail,
    }
}

/// A group metric every group must keep within the check's bounds: the value is the worst
/// group's (undefined if any group's is), the detail lists the groups out of bounds.
fn measure_every_group(c: &suite::Check, gr: &GroupingReport, m: GroupMetric) -> Measured {
    let vals: Vec<(String, Option<f64>)> = gr
        .groups
        .iter()
        .map(|g| (g.label.clone(), g.metrics[m.name()]))
        .collect();
    let bad: Vec<String> = vals
        .iter()
        .filter(|(_, v)| match v {
            None => true,
            Some(v) => c.min.is_some_and(|lo| *v < lo) || c.max.is_some_and(|hi| *v > hi),
        })
        .map(|(l, v)| {
            format!(
                "{l} = {}",
                v.map_or("undefined".into(), |v| format!("{v:.4}"))
            )
        })
        .collect();
    let defined = vals.iter().filter_map(|(_, v)| *v);
    let worst = if c.min.is_some() {
        defined.fold(f64::NAN, f64::min)
    } else {
        defined.fold(f64::NAN, f64::max)
    };
    let worst = if vals.iter().any(|(_, v)| v.is_none()) {
        f64::NAN
    } else {
        worst
    };
    let detail = if bad.is_empty() {
        "every group within bounds".into()
    } else {
        format!("out of bounds: {}", bad.join(", "))
    };
    Measured {
        metric: format!("{} (every group)", m.name()),
        method: None,
        value: opt(worst),
        interval: None,
        detail,
    }
}

/// A ranking metric, read from the grouping's ranking report.
fn measure_ranking(gr: &GroupingReport, rm: &RankingMetric) -> Measured {
    let r = gr
        .ranking
        .as_ref()
        .expect("ranking computed when the suite has a [ranking] section");
    let v = match rm {
        RankingMetric::ExposureRatio => r.exposure_ratio,
        RankingMetric::DisparateTreatmentRatio => r.disparate_treatment_ratio,
        RankingMetric::MinSkew(k) => r.min_skew.get(&k.to_string()).copied().flatten(),
        RankingMetric::MaxSkew(k) => r.max_skew.get(&k.to_string()).copied().flatten(),
        RankingMetric::Ndkl => r.ndkl,
        RankingMetric::Rnd => r.rnd,
        RankingMetric::Rkl => r.rkl,
    };
    let detail = match rm {
        RankingMetric::MinSkew(_) if v.is_none() => {
            "a group has no item in the top k (skew is -infinity)".into()
        }
        _ => String::new(),
    };
    Measured {
        metric: rm.name(),
        method: None,
        value: v,
        interval: None,
        detail,
    }
}

/// The model part of the report: where the model and its scores come from.
fn model_report(suite: &Suite, prov: &Provenance, probability: bool) -> ModelReport {
    ModelReport {
        file: prov.model_file.clone(),
        digest: prov.model_digest.clone(),
        commitment: prov.commitment,
        log: prov.log.clone(),
        onnxruntime: prov.onnxruntime.clone(),
        output: suite.output.name.clone(),
        output_index: suite.output.index,
        threshold: suite.output.threshold,
        score_kind: if probability {
            "probability".into()
        } else {
            "score".into()
        },
    }
}

/// The data part of the report: the file, its rows and its label.
fn data_report(suite: &Suite, prov: &Provenance, table: &Table, p: &Prepared) -> DataReport {
    DataReport {
        file: prov.data_file.clone(),
        digest: prov.data_digest.clone(),
        rows: table.rows,
        label: suite.label.name.clone(),
        positive: suite.positive.clone(),
        positives: p.positives,
        attribution: suite.attribution.clone(),
    }
}

fn extremes(gr: &GroupingReport, m: GroupMetric) -> String {
    let vals: Vec<(&str, f64)> = gr
        .groups
        .iter()
        .filter_map(|g| g.metrics[m.name()].map(|v| (g.label.as_str(), v)))
        .collect();
    let lo = vals.iter().min_by(|a, b| a.1.total_cmp(&b.1));
    let hi = vals.iter().max_by(|a, b| a.1.total_cmp(&b.1));
    match (lo, hi) {
        (Some(lo), Some(hi)) => format!(
            "{} lowest: {} {:.4}; highest: {} {:.4}",
            m.name(),
            lo.0,
            lo.1,
            hi.0,
            hi.1
        ),
        _ => String::new(),
    }
}

fn ranking_report(
    rk: &suite::Ranking,
    p: &Prepared,
    g: &Groups,
    table: &Table,
    scores: &[f64],
    _suite: &Suite,
) -> RankingReport {
    let n_groups = g.labels.len();
    // Rows of each query, in file order.
    let queries: Vec<Vec<usize>> = match &rk.query {
        None => vec![(0..table.rows).collect()],
        Some(q) => {
            let (codes, levels) = table.text(&q.name);
            let mut qs = vec![Vec::new(); levels.len()];
            for (r, &c) in codes.iter().enumerate() {
                qs[c as usize].push(r);
            }
            qs
        }
    };
    let mut exp_sum = vec![0.0; n_groups];
    let mut exp_n = vec![0usize; n_groups];
    let mut rel_sum = vec![0.0; n_groups];
    let mut skew_sum: Vec<Vec<f64>> = vec![vec![0.0; n_groups]; rk.k.len()];
    let mut skew_n: Vec<Vec<usize>> = vec![vec![0; n_groups]; rk.k.len()];
    let mut rnd_sum = vec![0.0; n_groups];
    let mut rkl_sum = vec![0.0; n_groups];
    let mut rr_n = vec![0usize; n_groups];
    let (mut ndkl_sum, mut ndkl_n) = (0.0, 0usize);
    for rows in &queries {
        let mut order = rows.clone();
        order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]).then(a.cmp(&b)));
        let ranking: Vec<usize> = order
            .iter()
            .map(|&r| g.group_of[p.cell_of_row[r] as usize])
            .collect();
        let relevance: Vec<f64> = order
            .iter()
            .map(|&r| if p.labels[r] { 1.0 } else { 0.0 })
            .collect();
        let exp = metrics::exposure(&ranking, n_groups);
        let rel = metrics::mean_relevance(&ranking, &relevance, n_groups);
        for i in 0..n_groups {
            if !exp[i].is_nan() {
                exp_sum[i] += exp[i];
                rel_sum[i] += rel[i];
                exp_n[i] += 1;
            }
        }
        for (ki, &k) in rk.k.iter().enumerate() {
            let s = metrics::skew_at_k(&ranking, k, n_groups);
            for i in 0..n_groups {
                if !s[i].is_nan() {
                    skew_sum[ki][i] += s[i];
                    skew_n[ki][i] += 1;
                }
            }
        }
        let nd = metrics::ndkl(&ranking, n_groups);
        if nd.is_finite() {
            ndkl_sum += nd;
            ndkl_n += 1;
        }
        for i in 0..n_groups {
            let prot: Vec<bool> = ranking.iter().map(|&x| x == i).collect();
            let (a, b) = (metrics::rnd(&prot, rk.step), metrics::rkl(&prot, rk.step));
            if a.is_finite() && b.is_finite() {
                rnd_sum[i] += a;
                rkl_sum[i] += b;
                rr_n[i] += 1;
            }
        }
    }
    let mean = |s: f64, n: usize| if n == 0 { f64::NAN } else { s / n as f64 };
    let mut groups = Vec::new();
    let mut exps = Vec::new();
    let mut per_rel = Vec::new();
    for i in 0..n_groups {
        let e = mean(exp_sum[i], exp_n[i]);
        let r = mean(rel_sum[i], exp_n[i]);
        exps.push(e);
        per_rel.push(if r > 0.0 { e / r } else { f64::NAN });
        groups.push(RankingGroup {
            label: g.labels[i].clone(),
            exposure: opt(e),
            mean_relevance: opt(r),
            exposure_per_relevance: opt(if r > 0.0 { e / r } else { f64::NAN }),
            skew: rk
                .k
                .iter()
                .enumerate()
                .map(|(ki, k)| (k.to_string(), opt(mean(skew_sum[ki][i], skew_n[ki][i]))))
                .collect(),
            rnd: opt(mean(rnd_sum[i], rr_n[i])),
            rkl: opt(mean(rkl_sum[i], rr_n[i])),
        });
    }
    let ratio = |v: &[f64]| metrics::ratio(v, f64::NAN, Method::BetweenGroups, None);
    let fold = |ki: usize, min: bool| {
        let vals = (0..n_groups)
            .map(|i| mean(skew_sum[ki][i], skew_n[ki][i]))
            .filter(|v| !v.is_nan());
        if min {
            vals.fold(f64::INFINITY, f64::min)
        } else {
            vals.fold(f64::NEG_INFINITY, f64::max)
        }
    };
    RankingReport {
        queries: queries.len(),
        k: rk.k.clone(),
        step: rk.step,
        relevance: "the label (1 for the positive value, else 0)".into(),
        exposure_ratio: opt(ratio(&exps)),
        disparate_treatment_ratio: opt(ratio(&per_rel)),
        min_skew: rk
            .k
            .iter()
            .enumerate()
            .map(|(ki, k)| (k.to_string(), opt(fold(ki, true))))
            .collect(),
        max_skew: rk
            .k
            .iter()
            .enumerate()
            .map(|(ki, k)| (k.to_string(), opt(fold(ki, false))))
            .collect(),
        ndkl: opt(mean(ndkl_sum, ndkl_n)),
        rnd: opt(groups.iter().filter_map(|g| g.rnd).fold(f64::NAN, f64::max)),
        rkl: opt(groups.iter().filter_map(|g| g.rkl).fold(f64::NAN, f64::max)),
        groups,
    }
}
