//! Audit suites: TOML files (schema: `schema/suite.schema.json`) that say which data set to read,
//! which columns feed which model input, how to read the model's output, the label, the
//! sensitive attributes and the checks. Parsing and validation are pure; every error names the
//! suite file, line and column.

use super::metrics::{Agg, Disparity, GroupMetric, Method};
use serde::Deserialize;
use std::collections::BTreeMap;
use toml::Spanned;

/// A place in the suite file, for error messages.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Loc {
    pub file: String,
    pub line: usize,
    pub column: usize,
}

impl std::fmt::Display for Loc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}:{}", self.file, self.line, self.column)
    }
}

fn loc_at(file: &str, text: &str, offset: usize) -> Loc {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    Loc {
        file: file.to_owned(),
        line,
        column,
    }
}

/// A column name and where the suite names it.
#[derive(Clone, Debug, PartialEq)]
pub struct Col {
    pub name: String,
    pub at: Loc,
}

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct SuiteError(pub String);

// ---- the file as written -------------------------------------------------------------------

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSuite {
    version: Spanned<u32>,
    name: String,
    #[serde(default)]
    description: Option<String>,
    data: RawData,
    model: RawModel,
    sensitive: RawSensitive,
    #[serde(default)]
    bootstrap: Option<RawBootstrap>,
    #[serde(default)]
    calibration: Option<RawCalibration>,
    #[serde(default)]
    ranking: Option<RawRanking>,
    #[serde(default)]
    checks: Vec<Spanned<RawCheck>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawData {
    path: Spanned<String>,
    label: Spanned<String>,
    positive: Spanned<toml::Value>,
    #[serde(default)]
    missing: Option<Vec<String>>,
    #[serde(default)]
    delimiter: Option<Spanned<String>>,
    #[serde(default)]
    attribution: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawModel {
    #[serde(default)]
    file: Option<String>,
    inputs: Spanned<Vec<Spanned<RawInput>>>,
    output: RawOutput,
    #[serde(default)]
    batch_rows: Option<usize>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawInput {
    name: Spanned<String>,
    #[serde(rename = "type")]
    ty: Spanned<String>,
    #[serde(default)]
    columns: Option<Vec<Spanned<String>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOutput {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    index: Option<usize>,
    threshold: Spanned<f64>,
    #[serde(default)]
    kind: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSensitive {
    attributes: Spanned<Vec<Spanned<String>>>,
    #[serde(default)]
    intersections: Option<Spanned<toml::Value>>,
    #[serde(default)]
    reference: BTreeMap<String, Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBootstrap {
    resamples: usize,
    seed: u64,
    #[serde(default)]
    confidence: Option<Spanned<f64>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCalibration {
    bins: Spanned<usize>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRanking {
    #[serde(default)]
    query: Option<Spanned<String>>,
    #[serde(default)]
    k: Option<Vec<usize>>,
    #[serde(default)]
    step: Option<Spanned<usize>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCheck {
    id: Spanned<String>,
    #[serde(default)]
    description: Option<String>,
    metric: Spanned<String>,
    /// A string (one attribute) or an array of strings (their intersection).
    attribute: Spanned<toml::Value>,
    #[serde(default)]
    method: Option<Spanned<String>>,
    #[serde(default)]
    agg: Option<Spanned<String>>,
    #[serde(default)]
    k: Option<usize>,
    #[serde(default)]
    min: Option<f64>,
    #[serde(default)]
    max: Option<f64>,
}

// ---- the validated suite -------------------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InputType {
    Float32,
    Float64,
    Int64,
    Int32,
    String,
}

impl InputType {
    pub fn name(self) -> &'static str {
        match self {
            InputType::Float32 => "float32",
            InputType::Float64 => "float64",
            InputType::Int64 => "int64",
            InputType::Int32 => "int32",
            InputType::String => "string",
        }
    }
}

#[derive(Clone, Debug)]
pub struct Input {
    pub name: String,
    pub ty: InputType,
    pub columns: Vec<Col>,
    pub at: Loc,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScoreKind {
    /// Scores are probabilities in [0, 1]: calibration metrics apply.
    Probability,
    /// Any real score: no calibration metrics.
    Score,
}

#[derive(Clone, Debug)]
pub struct Output {
    pub name: Option<String>,
    pub index: Option<usize>,
    pub threshold: f64,
    pub kind: ScoreKind,
}

/// One grouping of rows: a single sensitive attribute or an intersection of several.
#[derive(Clone, Debug, PartialEq)]
pub struct Grouping {
    /// Indices into [`Suite::attributes`], in the suite's attribute order.
    pub attributes: Vec<usize>,
    /// The attribute names joined with " & ".
    pub name: String,
    /// The reference group's label (values joined with " & "), if the suite names one.
    pub reference: Option<String>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum CheckMetric {
    /// A between-group quantity, compared under `method`.
    Disparity(Disparity, Method),
    /// A group metric that every group must keep within bounds.
    EveryGroup(GroupMetric),
    /// A ranking metric.
    Ranking(RankingMetric),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RankingMetric {
    ExposureRatio,
    DisparateTreatmentRatio,
    MinSkew(usize),
    MaxSkew(usize),
    Ndkl,
    Rnd,
    Rkl,
}

impl RankingMetric {
    pub fn name(self) -> String {
        match self {
            RankingMetric::ExposureRatio => "exposure_ratio".into(),
            RankingMetric::DisparateTreatmentRatio => "disparate_treatment_ratio".into(),
            RankingMetric::MinSkew(k) => format!("min_skew@{k}"),
            RankingMetric::MaxSkew(k) => format!("max_skew@{k}"),
            RankingMetric::Ndkl => "ndkl".into(),
            RankingMetric::Rnd => "rnd".into(),
            RankingMetric::Rkl => "rkl".into(),
        }
    }
}

#[derive(Clone, Debug)]
pub struct Check {
    pub id: String,
    pub description: Option<String>,
    pub metric: CheckMetric,
    /// Index into [`Suite::groupings`].
    pub grouping: usize,
    pub min: Option<f64>,
    pub max: Option<f64>,
    pub at: Loc,
}

#[derive(Clone, Debug)]
pub struct Bootstrap {
    pub resamples: usize,
    pub seed: u64,
    pub confidence: f64,
}

#[derive(Clone, Debug)]
pub struct Ranking {
    pub query: Option<Col>,
    pub k: Vec<usize>,
    pub step: usize,
}

#[derive(Clone, Debug)]
pub struct Suite {
    pub file: String,
    pub name: String,
    pub description: Option<String>,
    pub data_path: String,
    pub data_at: Loc,
    pub label: Col,
    pub positive: String,
    pub missing: Vec<String>,
    pub delimiter: u8,
    pub attribution: Option<String>,
    pub model_file: Option<String>,
    pub inputs: Vec<Input>,
    pub output: Output,
    pub batch_rows: usize,
    pub attributes: Vec<Col>,
    pub groupings: Vec<Grouping>,
    pub bootstrap: Option<Bootstrap>,
    pub calibration_bins: usize,
    pub ranking: Option<Ranking>,
    pub checks: Vec<Check>,
}

impl Suite {
    /// Parses and validates a suite; `file` names it in errors.
    pub fn parse(file: &str, text: &str) -> Result<Suite, SuiteError> {
        let raw: RawSuite = toml::from_str(text).map_err(|e| {
            let at = e
                .span()
                .map(|s| loc_at(file, text, s.start).to_string())
                .unwrap_or_else(|| file.to_owned());
            SuiteError(format!("{at}: {}", e.message().trim_end()))
        })?;
        let at = |offset: usize| loc_at(file, text, offset);
        let col = |s: &Spanned<String>| Col {
            name: s.get_ref().clone(),
            at: at(s.span().start),
        };
        let err = |offset: usize, msg: String| SuiteError(format!("{}: {msg}", at(offset)));

        if *raw.version.get_ref() != 1 {
            return Err(err(
                raw.version.span().start,
                format!(
                    "suite version {} is not supported: this embargo reads version 1",
                    raw.version.get_ref()
                ),
            ));
        }

        let positive = match raw.data.positive.get_ref() {
            toml::Value::String(s) => s.clone(),
            toml::Value::Integer(i) => i.to_string(),
            toml::Value::Boolean(b) => b.to_string(),
            other => {
                return Err(err(
                    raw.data.positive.span().start,
                    format!("data.positive must be the label's positive value as written in the CSV (a string or an integer), not {}", other.type_str()),
                ))
            }
        };
        let delimiter = match &raw.data.delimiter {
            None => b',',
            Some(d) if d.get_ref().len() == 1 => d.get_ref().as_bytes()[0],
            Some(d) => {
                return Err(err(
                    d.span().start,
                    "data.delimiter must be one ASCII character, e.g. \",\" or \";\"".into(),
                ))
            }
        };

        let mut inputs = Vec::new();
        if raw.model.inputs.get_ref().is_empty() {
            return Err(err(
                raw.model.inputs.span().start,
                "model.inputs is empty: list the model's inputs and the columns that feed them"
                    .into(),
            ));
        }
        for i in raw.model.inputs.get_ref() {
            let r = i.get_ref();
            let ty = match r.ty.get_ref().as_str() {
                "float32" | "float" => InputType::Float32,
                "float64" | "double" => InputType::Float64,
                "int64" => InputType::Int64,
                "int32" => InputType::Int32,
                "string" => InputType::String,
                other => {
                    return Err(err(
                        r.ty.span().start,
                        format!(
                        "input type {other:?} is not one of float32, float64, int64, int32, string"
                    ),
                    ))
                }
            };
            let columns = match &r.columns {
                None => vec![col(&r.name)],
                Some(c) if c.is_empty() => {
                    return Err(err(
                        i.span().start,
                        format!("input {:?} has no columns", r.name.get_ref()),
                    ))
                }
                Some(c) => c.iter().map(col).collect(),
            };
            if inputs.iter().any(|x: &Input| x.name == *r.name.get_ref()) {
                return Err(err(
                    r.name.span().start,
                    format!("input {:?} is listed twice", r.name.get_ref()),
                ));
            }
            inputs.push(Input {
                name: r.name.get_ref().clone(),
                ty,
                columns,
                at: at(i.span().start),
            });
        }

        let o = &raw.model.output;
        let kind = match o
            .kind
            .as_ref()
            .map(|k| (k.get_ref().as_str(), k.span().start))
        {
            None | Some(("probability", _)) => ScoreKind::Probability,
            Some(("score", _)) => ScoreKind::Score,
            Some((other, s)) => {
                return Err(err(
                    s,
                    format!("model.output.kind {other:?} is not \"probability\" or \"score\""),
                ))
            }
        };
        if !o.threshold.get_ref().is_finite() {
            return Err(err(
                o.threshold.span().start,
                "model.output.threshold must be a finite number".into(),
            ));
        }
        let output = Output {
            name: o.name.clone(),
            index: o.index,
            threshold: *o.threshold.get_ref(),
            kind,
        };

        let attributes: Vec<Col> = raw.sensitive.attributes.get_ref().iter().map(col).collect();
        if attributes.is_empty() {
            return Err(err(
                raw.sensitive.attributes.span().start,
                "sensitive.attributes is empty: name at least one column".into(),
            ));
        }
        for (i, a) in attributes.iter().enumerate() {
            if attributes[..i].iter().any(|b| b.name == a.name) {
                return Err(SuiteError(format!(
                    "{}: sensitive attribute {:?} is listed twice",
                    a.at, a.name
                )));
            }
        }
        let attr_index = |c: &Spanned<String>| -> Result<usize, SuiteError> {
            attributes
                .iter()
                .position(|a| a.name == *c.get_ref())
                .ok_or_else(|| {
                    err(
                        c.span().start,
                        format!(
                            "{:?} is not one of the sensitive attributes ({})",
                            c.get_ref(),
                            attributes
                                .iter()
                                .map(|a| a.name.as_str())
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                    )
                })
        };
        let grouping_name = |attrs: &[usize]| {
            attrs
                .iter()
                .map(|&i| attributes[i].name.as_str())
                .collect::<Vec<_>>()
                .join(" & ")
        };
        // A string or an array of strings, as attribute indices; errors point at `v`.
        let attr_list = |v: &Spanned<toml::Value>, what: &str| -> Result<Vec<usize>, SuiteError> {
            let names: Vec<String> = match v.get_ref() {
                toml::Value::String(s) => vec![s.clone()],
                toml::Value::Array(a) if a.iter().all(|x| x.is_str()) => a
                    .iter()
                    .map(|x| x.as_str().unwrap_or_default().to_owned())
                    .collect(),
                _ => {
                    return Err(err(
                        v.span().start,
                        format!("{what} must be an attribute name or an array of attribute names"),
                    ))
                }
            };
            names
                .iter()
                .map(|n| attr_index(&Spanned::new(v.span(), n.clone())))
                .collect()
        };
        let mut sets: Vec<Vec<usize>> = (0..attributes.len()).map(|i| vec![i]).collect();
        match raw.sensitive.intersections.as_ref().map(|s| (s, s.get_ref())) {
            None | Some((_, toml::Value::Boolean(true))) => {
                let n = attributes.len();
                if n > 12 {
                    return Err(err(
                        raw.sensitive.attributes.span().start,
                        "more than 12 sensitive attributes: list the intersections you want in sensitive.intersections".into(),
                    ));
                }
                for mask in 1u32..(1 << n) {
                    if mask.count_ones() >= 2 {
                        sets.push((0..n).filter(|i| mask & (1 << i) != 0).collect());
                    }
                }
            }
            Some((_, toml::Value::Boolean(false))) => {}
            Some((sp, toml::Value::Array(list))) => {
                for l in list {
                    let item = Spanned::new(sp.span(), l.clone());
                    let mut idx = attr_list(&item, "each of sensitive.intersections")?;
                    idx.sort();
                    idx.dedup();
                    if idx.len() >= 2 && !sets.contains(&idx) {
                        sets.push(idx);
                    }
                }
            }
            Some((sp, _)) => {
                return Err(err(
                    sp.span().start,
                    "sensitive.intersections must be true, false, or a list of attribute lists such as [[\"sex\", \"race\"]]".into(),
                ))
            }
        }
        let mut groupings: Vec<Grouping> = sets
            .into_iter()
            .map(|a| Grouping {
                name: grouping_name(&a),
                attributes: a,
                reference: None,
            })
            .collect();
        let names: Vec<String> = groupings.iter().map(|g| format!("{:?}", g.name)).collect();
        for (key, value) in &raw.sensitive.reference {
            let g = groupings.iter_mut().find(|g| g.name == *key).ok_or_else(|| {
                err(
                    value.span().start,
                    format!(
                        "sensitive.reference names {key:?}, which is not a grouping of this suite (its groupings: {}; intersections come from sensitive.intersections)",
                        names.join(", ")
                    ),
                )
            })?;
            g.reference = Some(value.get_ref().clone());
        }

        let bootstrap = match &raw.bootstrap {
            None => None,
            Some(b) if b.resamples == 0 => None,
            Some(b) => {
                let confidence = b.confidence.as_ref().map_or(0.95, |c| *c.get_ref());
                if !(confidence > 0.0 && confidence < 1.0) {
                    let at = b.confidence.as_ref().map_or(0, |c| c.span().start);
                    return Err(err(
                        at,
                        "bootstrap.confidence must be strictly between 0 and 1, e.g. 0.95".into(),
                    ));
                }
                if b.resamples > 100_000 {
                    return Err(SuiteError(format!(
                        "{file}: bootstrap.resamples {} is more than 100000",
                        b.resamples
                    )));
                }
                Some(Bootstrap {
                    resamples: b.resamples,
                    seed: b.seed,
                    confidence,
                })
            }
        };
        let calibration_bins = match &raw.calibration {
            None => 10,
            Some(c) if (1..=1000).contains(c.bins.get_ref()) => *c.bins.get_ref(),
            Some(c) => {
                return Err(err(
                    c.bins.span().start,
                    "calibration.bins must be between 1 and 1000".into(),
                ))
            }
        };
        let ranking = match &raw.ranking {
            None => None,
            Some(r) => {
                let step = r.step.as_ref().map_or(10, |s| *s.get_ref());
                if step == 0 {
                    return Err(err(
                        r.step.as_ref().map_or(0, |s| s.span().start),
                        "ranking.step must be at least 1".into(),
                    ));
                }
                let k = r.k.clone().unwrap_or_else(|| vec![10]);
                if k.contains(&0) {
                    return Err(SuiteError(format!(
                        "{file}: ranking.k values must be at least 1"
                    )));
                }
                Some(Ranking {
                    query: r.query.as_ref().map(col),
                    k,
                    step,
                })
            }
        };

        let mut checks: Vec<Check> = Vec::new();
        for c in &raw.checks {
            let r = c.get_ref();
            let here = at(c.span().start);
            if checks.iter().any(|x| x.id == *r.id.get_ref()) {
                return Err(err(
                    r.id.span().start,
                    format!("check id {:?} is used twice", r.id.get_ref()),
                ));
            }
            let mut attrs = attr_list(&r.attribute, "attribute")?;
            attrs.sort();
            attrs.dedup();
            let grouping = groupings
                .iter()
                .position(|g| g.attributes == attrs)
                .ok_or_else(|| {
                    err(
                        r.attribute.span().start,
                        format!(
                            "the intersection {} is not computed: add it to sensitive.intersections",
                            grouping_name(&attrs)
                        ),
                    )
                })?;
            let method = match r
                .method
                .as_ref()
                .map(|m| (m.get_ref().as_str(), m.span().start))
            {
                None | Some(("between_groups", _)) => Method::BetweenGroups,
                Some(("to_overall", _)) => Method::ToOverall,
                Some(("reference", s)) => {
                    if groupings[grouping].reference.is_none() {
                        return Err(err(
                            s,
                            format!(
                                "method \"reference\" needs a reference group for {:?}: set sensitive.reference.{:?}",
                                groupings[grouping].name, groupings[grouping].name
                            ),
                        ));
                    }
                    Method::Reference
                }
                Some((other, s)) => {
                    return Err(err(
                        s,
                        format!(
                            "method {other:?} is not one of between_groups, to_overall, reference"
                        ),
                    ))
                }
            };
            let agg = match r
                .agg
                .as_ref()
                .map(|a| (a.get_ref().as_str(), a.span().start))
            {
                None | Some(("worst_case", _)) => Agg::WorstCase,
                Some(("mean", _)) => Agg::Mean,
                Some((other, s)) => {
                    return Err(err(
                        s,
                        format!("agg {other:?} is not \"worst_case\" or \"mean\""),
                    ))
                }
            };
            let name = r.metric.get_ref().as_str();
            let needs_ranking = |m: RankingMetric| -> Result<CheckMetric, SuiteError> {
                if ranking.is_none() {
                    return Err(err(
                        r.metric.span().start,
                        format!("{name} is a ranking metric: add a [ranking] section"),
                    ));
                }
                Ok(CheckMetric::Ranking(m))
            };
            let k = || {
                r.k.ok_or_else(|| {
                    err(
                        r.metric.span().start,
                        format!(
                            "{name} needs k (the length of the top of the ranking), e.g. k = 10"
                        ),
                    )
                })
            };
            let metric = match name {
                "exposure_ratio" => needs_ranking(RankingMetric::ExposureRatio)?,
                "disparate_treatment_ratio" => {
                    needs_ranking(RankingMetric::DisparateTreatmentRatio)?
                }
                "min_skew" => needs_ranking(RankingMetric::MinSkew(k()?))?,
                "max_skew" => needs_ranking(RankingMetric::MaxSkew(k()?))?,
                "ndkl" => needs_ranking(RankingMetric::Ndkl)?,
                "rnd" => needs_ranking(RankingMetric::Rnd)?,
                "rkl" => needs_ranking(RankingMetric::Rkl)?,
                other => {
                    if let Some(m) = GroupMetric::from_name(other) {
                        CheckMetric::EveryGroup(m)
                    } else if let Some(d) = Disparity::parse(other, agg) {
                        CheckMetric::Disparity(d, method)
                    } else {
                        return Err(err(
                            r.metric.span().start,
                            format!("unknown metric {other:?}; see schema/metrics.md for the names (e.g. demographic_parity_ratio, equalized_odds_difference, tpr, exposure_ratio, min_skew, ndkl, rkl)"),
                        ));
                    }
                }
            };
            if let CheckMetric::Ranking(RankingMetric::MinSkew(k) | RankingMetric::MaxSkew(k)) =
                metric
            {
                if let Some(rk) = &ranking {
                    if !rk.k.contains(&k) {
                        return Err(err(
                            r.metric.span().start,
                            format!("k = {k} is not in ranking.k ({:?})", rk.k),
                        ));
                    }
                }
            }
            if r.min.is_none() && r.max.is_none() {
                return Err(SuiteError(format!(
                    "{here}: check {:?} has no bound: give min, max or both",
                    r.id.get_ref()
                )));
            }
            checks.push(Check {
                id: r.id.get_ref().clone(),
                description: r.description.clone(),
                metric,
                grouping,
                min: r.min,
                max: r.max,
                at: here,
            });
        }
        if checks.is_empty() {
            return Err(SuiteError(format!(
                "{file}: the suite has no [[checks]]: an audit needs at least one check to pass or fail"
            )));
        }

        Ok(Suite {
            file: file.to_owned(),
            name: raw.name,
            description: raw.description,
            data_path: raw.data.path.get_ref().clone(),
            data_at: at(raw.data.path.span().start),
            label: col(&raw.data.label),
            positive,
            missing: raw.data.missing.unwrap_or_else(|| vec![String::new()]),
            delimiter,
            attribution: raw.data.attribution,
            model_file: raw.model.file,
            inputs,
            output,
            batch_rows: raw.model.batch_rows.unwrap_or(1 << 20).max(1),
            attributes,
            groupings,
            bootstrap,
            calibration_bins,
            ranking,
            checks,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OK: &str = r#"
version = 1
name = "t"
[data]
path = "d.csv"
label = "y"
positive = 1
[model]
inputs = [{ name = "x", type = "float32" }]
[model.output]
threshold = 0.5
[sensitive]
attributes = ["sex", "race"]
reference = { sex = "M" }
[[checks]]
id = "c"
metric = "demographic_parity_ratio"
attribute = "sex"
min = 0.8
"#;

    #[test]
    fn parses_and_builds_groupings() {
        let s = Suite::parse("s.toml", OK).unwrap();
        assert_eq!(s.positive, "1");
        let names: Vec<_> = s.groupings.iter().map(|g| g.name.as_str()).collect();
        assert_eq!(names, ["sex", "race", "sex & race"]);
        assert_eq!(s.groupings[0].reference.as_deref(), Some("M"));
        assert_eq!(s.inputs[0].columns[0].name, "x");
    }

    #[test]
    fn errors_name_line_and_column() {
        let bad = OK.replace("demographic_parity_ratio", "demographic_parity_rate");
        let e = Suite::parse("s.toml", &bad).unwrap_err().0;
        assert!(e.starts_with("s.toml:17:10: unknown metric"), "{e}");
        let bad = OK.replace("attribute = \"sex\"", "attribute = \"gender\"");
        let e = Suite::parse("s.toml", &bad).unwrap_err().0;
        assert!(e.starts_with("s.toml:18:13:"), "{e}");
        let bad = OK.replace("threshold = 0.5", "treshold = 0.5");
        let e = Suite::parse("s.toml", &bad).unwrap_err().0;
        assert!(
            e.starts_with("s.toml:11:1:") && e.contains("treshold"),
            "{e}"
        );
    }
}
