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
    ///
    /// Sections are validated in the order they appear in the schema (version, data, model,
    /// sensitive, bootstrap, calibration, ranking, checks), so the first error a user sees is
    /// the first one in that order.
    pub fn parse(file: &str, text: &str) -> Result<Suite, SuiteError> {
        let src = Source { file, text };
        let raw = src.deserialize()?;
        src.check_version(&raw.version)?;
        let data = DataSection::parse(&src, raw.data)?;
        let model = ModelSection::parse(&src, raw.model)?;
        let sensitive = SensitiveSection::parse(&src, &raw.sensitive)?;
        let bootstrap = parse_bootstrap(&src, raw.bootstrap.as_ref())?;
        let calibration_bins = parse_calibration_bins(&src, raw.calibration.as_ref())?;
        let ranking = parse_ranking(&src, raw.ranking.as_ref())?;
        let checks = parse_checks(&src, &raw.checks, &sensitive, ranking.as_ref())?;
        Ok(Suite {
            file: file.to_owned(),
            name: raw.name,
            description: raw.description,
            data_path: data.path,
            data_at: data.at,
            label: data.label,
            positive: data.positive,
            missing: data.missing,
            delimiter: data.delimiter,
            attribution: data.attribution,
            model_file: model.file,
            inputs: model.inputs,
            output: model.output,
            batch_rows: model.batch_rows,
            attributes: sensitive.attributes,
            groupings: sensitive.groupings,
            bootstrap,
            calibration_bins,
            ranking,
            checks,
        })
    }
}

// ---- parsing, section by section -----------------------------------------------------------

/// The suite's name and text: owns turning byte offsets into `file:line:column` and the
/// wording of every error's prefix.
struct Source<'a> {
    file: &'a str,
    text: &'a str,
}

impl Source<'_> {
    /// Where `offset` is in the suite file.
    fn at(&self, offset: usize) -> Loc {
        loc_at(self.file, self.text, offset)
    }

    /// A column name with where the suite names it.
    fn col(&self, s: &Spanned<String>) -> Col {
        Col {
            name: s.get_ref().clone(),
            at: self.at(s.span().start),
        }
    }

    /// An error at `offset`: `file:line:column: msg`.
    fn err(&self, offset: usize, msg: impl std::fmt::Display) -> SuiteError {
        SuiteError(format!("{}: {msg}", self.at(offset)))
    }

    /// An error about the whole file, or a value without a place of its own: `file: msg`.
    fn err_in_file(&self, msg: impl std::fmt::Display) -> SuiteError {
        SuiteError(format!("{}: {msg}", self.file))
    }

    /// The TOML as written, checked against the raw structs (unknown fields, wrong types).
    fn deserialize(&self) -> Result<RawSuite, SuiteError> {
        toml::from_str(self.text).map_err(|e| {
            let at = e
                .span()
                .map(|s| self.at(s.start).to_string())
                .unwrap_or_else(|| self.file.to_owned());
            SuiteError(format!("{at}: {}", e.message().trim_end()))
        })
    }

    /// Only suite version 1 exists.
    fn check_version(&self, version: &Spanned<u32>) -> Result<(), SuiteError> {
        if *version.get_ref() == 1 {
            return Ok(());
        }
        Err(self.err(
            version.span().start,
            format!(
                "suite version {} is not supported: this embargo reads version 1",
                version.get_ref()
            ),
        ))
    }
}

/// A keyword setting (`kind`, `method`, `agg`) as written, with its offset.
fn keyword(s: &Option<Spanned<String>>) -> Option<(&str, usize)> {
    s.as_ref().map(|k| (k.get_ref().as_str(), k.span().start))
}

/// `[data]`, validated: the CSV file and how to read it.
struct DataSection {
    path: String,
    at: Loc,
    label: Col,
    positive: String,
    missing: Vec<String>,
    delimiter: u8,
    attribution: Option<String>,
}

impl DataSection {
    fn parse(src: &Source, raw: RawData) -> Result<DataSection, SuiteError> {
        let positive = positive_value(src, &raw.positive)?;
        let delimiter = delimiter_byte(src, raw.delimiter.as_ref())?;
        Ok(DataSection {
            path: raw.path.get_ref().clone(),
            at: src.at(raw.path.span().start),
            label: src.col(&raw.label),
            positive,
            missing: raw.missing.unwrap_or_else(|| vec![String::new()]),
            delimiter,
            attribution: raw.attribution,
        })
    }
}

/// `data.positive` as the text the CSV holds: a string, an integer or a boolean.
fn positive_value(src: &Source, positive: &Spanned<toml::Value>) -> Result<String, SuiteError> {
    match positive.get_ref() {
        toml::Value::String(s) => Ok(s.clone()),
        toml::Value::Integer(i) => Ok(i.to_string()),
        toml::Value::Boolean(b) => Ok(b.to_string()),
        other => Err(src.err(
            positive.span().start,
            format!("data.positive must be the label's positive value as written in the CSV (a string or an integer), not {}", other.type_str()),
        )),
    }
}

/// `data.delimiter`: one byte, a comma unless the suite says otherwise.
fn delimiter_byte(src: &Source, delimiter: Option<&Spanned<String>>) -> Result<u8, SuiteError> {
    match delimiter {
        None => Ok(b','),
        Some(d) if d.get_ref().len() == 1 => Ok(d.get_ref().as_bytes()[0]),
        Some(d) => Err(src.err(
            d.span().start,
            "data.delimiter must be one ASCII character, e.g. \",\" or \";\"",
        )),
    }
}

/// `[model]`, validated: the model's inputs and how to read its output.
struct ModelSection {
    file: Option<String>,
    inputs: Vec<Input>,
    output: Output,
    batch_rows: usize,
}

impl ModelSection {
    fn parse(src: &Source, raw: RawModel) -> Result<ModelSection, SuiteError> {
        let inputs = parse_inputs(src, &raw.inputs)?;
        let output = parse_output(src, &raw.output)?;
        Ok(ModelSection {
            file: raw.file,
            inputs,
            output,
            batch_rows: raw.batch_rows.unwrap_or(1 << 20).max(1),
        })
    }
}

/// `model.inputs`: at least one, each name once.
fn parse_inputs(
    src: &Source,
    raw: &Spanned<Vec<Spanned<RawInput>>>,
) -> Result<Vec<Input>, SuiteError> {
    if raw.get_ref().is_empty() {
        return Err(src.err(
            raw.span().start,
            "model.inputs is empty: list the model's inputs and the columns that feed them",
        ));
    }
    let mut inputs: Vec<Input> = Vec::new();
    for i in raw.get_ref() {
        let input = parse_input(src, i)?;
        if inputs.iter().any(|x| x.name == input.name) {
            let name = &i.get_ref().name;
            return Err(src.err(
                name.span().start,
                format!("input {:?} is listed twice", name.get_ref()),
            ));
        }
        inputs.push(input);
    }
    Ok(inputs)
}

/// One model input: its type and the columns that feed it (by default, the column of its name).
fn parse_input(src: &Source, i: &Spanned<RawInput>) -> Result<Input, SuiteError> {
    let r = i.get_ref();
    let ty = input_type(src, &r.ty)?;
    let columns = match &r.columns {
        None => vec![src.col(&r.name)],
        Some(c) if c.is_empty() => {
            return Err(src.err(
                i.span().start,
                format!("input {:?} has no columns", r.name.get_ref()),
            ))
        }
        Some(c) => c.iter().map(|c| src.col(c)).collect(),
    };
    Ok(Input {
        name: r.name.get_ref().clone(),
        ty,
        columns,
        at: src.at(i.span().start),
    })
}

/// An input's `type`, with `float` and `double` as aliases.
fn input_type(src: &Source, ty: &Spanned<String>) -> Result<InputType, SuiteError> {
    match ty.get_ref().as_str() {
        "float32" | "float" => Ok(InputType::Float32),
        "float64" | "double" => Ok(InputType::Float64),
        "int64" => Ok(InputType::Int64),
        "int32" => Ok(InputType::Int32),
        "string" => Ok(InputType::String),
        other => Err(src.err(
            ty.span().start,
            format!("input type {other:?} is not one of float32, float64, int64, int32, string"),
        )),
    }
}

/// `[model.output]`: which output, its kind (probability unless said) and a finite threshold.
fn parse_output(src: &Source, o: &RawOutput) -> Result<Output, SuiteError> {
    let kind = match keyword(&o.kind) {
        None | Some(("probability", _)) => ScoreKind::Probability,
        Some(("score", _)) => ScoreKind::Score,
        Some((other, s)) => {
            return Err(src.err(
                s,
                format!("model.output.kind {other:?} is not \"probability\" or \"score\""),
            ))
        }
    };
    if !o.threshold.get_ref().is_finite() {
        return Err(src.err(
            o.threshold.span().start,
            "model.output.threshold must be a finite number",
        ));
    }
    Ok(Output {
        name: o.name.clone(),
        index: o.index,
        threshold: *o.threshold.get_ref(),
        kind,
    })
}

/// `[sensitive]`, validated: the attribute columns and the groupings (single attributes, then
/// intersections) with their reference groups.
struct SensitiveSection {
    attributes: Vec<Col>,
    groupings: Vec<Grouping>,
}

impl SensitiveSection {
    fn parse(src: &Source, raw: &RawSensitive) -> Result<SensitiveSection, SuiteError> {
        let attributes = parse_attributes(src, &raw.attributes)?;
        let mut section = SensitiveSection {
            attributes,
            groupings: Vec::new(),
        };
        let sets = section.attribute_sets(src, raw)?;
        section.groupings = sets
            .into_iter()
            .map(|a| Grouping {
                name: section.grouping_name(&a),
                attributes: a,
                reference: None,
            })
            .collect();
        section.set_references(src, &raw.reference)?;
        Ok(section)
    }

    /// The index of the attribute `name`; errors point at `offset`.
    fn attribute_index(
        &self,
        src: &Source,
        name: &str,
        offset: usize,
    ) -> Result<usize, SuiteError> {
        self.attributes
            .iter()
            .position(|a| a.name == name)
            .ok_or_else(|| {
                src.err(
                    offset,
                    format!(
                        "{:?} is not one of the sensitive attributes ({})",
                        name,
                        self.attributes
                            .iter()
                            .map(|a| a.name.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                )
            })
    }

    /// A string or an array of strings, as attribute indices; errors point at `v`.
    fn attribute_list(
        &self,
        src: &Source,
        v: &Spanned<toml::Value>,
        what: &str,
    ) -> Result<Vec<usize>, SuiteError> {
        let names: Vec<String> = match v.get_ref() {
            toml::Value::String(s) => vec![s.clone()],
            toml::Value::Array(a) if a.iter().all(|x| x.is_str()) => a
                .iter()
                .map(|x| x.as_str().unwrap_or_default().to_owned())
                .collect(),
            _ => {
                return Err(src.err(
                    v.span().start,
                    format!("{what} must be an attribute name or an array of attribute names"),
                ))
            }
        };
        names
            .iter()
            .map(|n| self.attribute_index(src, n, v.span().start))
            .collect()
    }

    /// The attribute names of a grouping joined with " & ".
    fn grouping_name(&self, attrs: &[usize]) -> String {
        attrs
            .iter()
            .map(|&i| self.attributes[i].name.as_str())
            .collect::<Vec<_>>()
            .join(" & ")
    }

    /// Each attribute alone, then the intersections `sensitive.intersections` asks for: all of
    /// them (the default, up to 12 attributes), none, or a list.
    fn attribute_sets(
        &self,
        src: &Source,
        raw: &RawSensitive,
    ) -> Result<Vec<Vec<usize>>, SuiteError> {
        let n = self.attributes.len();
        let mut sets: Vec<Vec<usize>> = (0..n).map(|i| vec![i]).collect();
        match raw.intersections.as_ref().map(|s| (s, s.get_ref())) {
            None | Some((_, toml::Value::Boolean(true))) => {
                if n > 12 {
                    return Err(src.err(
                        raw.attributes.span().start,
                        "more than 12 sensitive attributes: list the intersections you want in sensitive.intersections",
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
                    let mut idx = self.attribute_list(src, &item, "each of sensitive.intersections")?;
                    idx.sort();
                    idx.dedup();
                    if idx.len() >= 2 && !sets.contains(&idx) {
                        sets.push(idx);
                    }
                }
            }
            Some((sp, _)) => {
                return Err(src.err(
                    sp.span().start,
                    "sensitive.intersections must be true, false, or a list of attribute lists such as [[\"sex\", \"race\"]]",
                ))
            }
        }
        Ok(sets)
    }

    /// `sensitive.reference`: each key must name a grouping of this suite.
    fn set_references(
        &mut self,
        src: &Source,
        reference: &BTreeMap<String, Spanned<String>>,
    ) -> Result<(), SuiteError> {
        let names: Vec<String> = self
            .groupings
            .iter()
            .map(|g| format!("{:?}", g.name))
            .collect();
        for (key, value) in reference {
            let g = self.groupings.iter_mut().find(|g| g.name == *key).ok_or_else(|| {
                src.err(
                    value.span().start,
                    format!(
                        "sensitive.reference names {key:?}, which is not a grouping of this suite (its groupings: {}; intersections come from sensitive.intersections)",
                        names.join(", ")
                    ),
                )
            })?;
            g.reference = Some(value.get_ref().clone());
        }
        Ok(())
    }
}

/// `sensitive.attributes`: at least one column, each once.
fn parse_attributes(
    src: &Source,
    raw: &Spanned<Vec<Spanned<String>>>,
) -> Result<Vec<Col>, SuiteError> {
    let attributes: Vec<Col> = raw.get_ref().iter().map(|a| src.col(a)).collect();
    if attributes.is_empty() {
        return Err(src.err(
            raw.span().start,
            "sensitive.attributes is empty: name at least one column",
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
    Ok(attributes)
}

/// `[bootstrap]`: none when absent or with 0 resamples; confidence 0.95 unless said.
fn parse_bootstrap(
    src: &Source,
    raw: Option<&RawBootstrap>,
) -> Result<Option<Bootstrap>, SuiteError> {
    let b = match raw {
        None => return Ok(None),
        Some(b) if b.resamples == 0 => return Ok(None),
        Some(b) => b,
    };
    let confidence = b.confidence.as_ref().map_or(0.95, |c| *c.get_ref());
    if !(confidence > 0.0 && confidence < 1.0) {
        let at = b.confidence.as_ref().map_or(0, |c| c.span().start);
        return Err(src.err(
            at,
            "bootstrap.confidence must be strictly between 0 and 1, e.g. 0.95",
        ));
    }
    if b.resamples > 100_000 {
        return Err(src.err_in_file(format!(
            "bootstrap.resamples {} is more than 100000",
            b.resamples
        )));
    }
    Ok(Some(Bootstrap {
        resamples: b.resamples,
        seed: b.seed,
        confidence,
    }))
}

/// `calibration.bins`: 10 unless said, between 1 and 1000.
fn parse_calibration_bins(src: &Source, raw: Option<&RawCalibration>) -> Result<usize, SuiteError> {
    match raw {
        None => Ok(10),
        Some(c) if (1..=1000).contains(c.bins.get_ref()) => Ok(*c.bins.get_ref()),
        Some(c) => Err(src.err(
            c.bins.span().start,
            "calibration.bins must be between 1 and 1000",
        )),
    }
}

/// `[ranking]`: step 10 and k = [10] unless said; both at least 1.
fn parse_ranking(src: &Source, raw: Option<&RawRanking>) -> Result<Option<Ranking>, SuiteError> {
    let Some(r) = raw else {
        return Ok(None);
    };
    let step = r.step.as_ref().map_or(10, |s| *s.get_ref());
    if step == 0 {
        return Err(src.err(
            r.step.as_ref().map_or(0, |s| s.span().start),
            "ranking.step must be at least 1",
        ));
    }
    let k = r.k.clone().unwrap_or_else(|| vec![10]);
    if k.contains(&0) {
        return Err(src.err_in_file("ranking.k values must be at least 1"));
    }
    Ok(Some(Ranking {
        query: r.query.as_ref().map(|q| src.col(q)),
        k,
        step,
    }))
}

/// `[[checks]]`: at least one, each id once.
fn parse_checks(
    src: &Source,
    raw: &[Spanned<RawCheck>],
    sensitive: &SensitiveSection,
    ranking: Option<&Ranking>,
) -> Result<Vec<Check>, SuiteError> {
    let mut checks: Vec<Check> = Vec::new();
    for c in raw {
        let id = &c.get_ref().id;
        if checks.iter().any(|x| x.id == *id.get_ref()) {
            return Err(src.err(
                id.span().start,
                format!("check id {:?} is used twice", id.get_ref()),
            ));
        }
        checks.push(parse_check(src, c, sensitive, ranking)?);
    }
    if checks.is_empty() {
        return Err(src.err_in_file(
            "the suite has no [[checks]]: an audit needs at least one check to pass or fail",
        ));
    }
    Ok(checks)
}

/// One check: its grouping, its metric (with method and aggregation) and at least one bound.
fn parse_check(
    src: &Source,
    c: &Spanned<RawCheck>,
    sensitive: &SensitiveSection,
    ranking: Option<&Ranking>,
) -> Result<Check, SuiteError> {
    let r = c.get_ref();
    let here = src.at(c.span().start);
    let grouping = check_grouping(src, &r.attribute, sensitive)?;
    let method = check_method(src, &r.method, &sensitive.groupings[grouping])?;
    let agg = check_agg(src, &r.agg)?;
    let metric = check_metric(src, r, method, agg, ranking)?;
    if r.min.is_none() && r.max.is_none() {
        return Err(SuiteError(format!(
            "{here}: check {:?} has no bound: give min, max or both",
            r.id.get_ref()
        )));
    }
    Ok(Check {
        id: r.id.get_ref().clone(),
        description: r.description.clone(),
        metric,
        grouping,
        min: r.min,
        max: r.max,
        at: here,
    })
}

/// A check's `attribute` (one name or an intersection), as an index into the groupings.
fn check_grouping(
    src: &Source,
    attribute: &Spanned<toml::Value>,
    sensitive: &SensitiveSection,
) -> Result<usize, SuiteError> {
    let mut attrs = sensitive.attribute_list(src, attribute, "attribute")?;
    attrs.sort();
    attrs.dedup();
    sensitive
        .groupings
        .iter()
        .position(|g| g.attributes == attrs)
        .ok_or_else(|| {
            src.err(
                attribute.span().start,
                format!(
                    "the intersection {} is not computed: add it to sensitive.intersections",
                    sensitive.grouping_name(&attrs)
                ),
            )
        })
}

/// A check's `method`: between groups unless said; "reference" needs the grouping's reference.
fn check_method(
    src: &Source,
    method: &Option<Spanned<String>>,
    grouping: &Grouping,
) -> Result<Method, SuiteError> {
    match keyword(method) {
        None | Some(("between_groups", _)) => Ok(Method::BetweenGroups),
        Some(("to_overall", _)) => Ok(Method::ToOverall),
        Some(("reference", s)) => {
            if grouping.reference.is_none() {
                return Err(src.err(
                    s,
                    format!(
                        "method \"reference\" needs a reference group for {:?}: set sensitive.reference.{:?}",
                        grouping.name, grouping.name
                    ),
                ));
            }
            Ok(Method::Reference)
        }
        Some((other, s)) => Err(src.err(
            s,
            format!("method {other:?} is not one of between_groups, to_overall, reference"),
        )),
    }
}

/// A check's `agg`: the worst case unless said.
fn check_agg(src: &Source, agg: &Option<Spanned<String>>) -> Result<Agg, SuiteError> {
    match keyword(agg) {
        None | Some(("worst_case", _)) => Ok(Agg::WorstCase),
        Some(("mean", _)) => Ok(Agg::Mean),
        Some((other, s)) => Err(src.err(
            s,
            format!("agg {other:?} is not \"worst_case\" or \"mean\""),
        )),
    }
}

/// A check's `metric`: a ranking metric (needs `[ranking]`, and for the skews a `k` that
/// `ranking.k` lists), a group metric every group must keep, or a disparity.
fn check_metric(
    src: &Source,
    r: &RawCheck,
    method: Method,
    agg: Agg,
    ranking: Option<&Ranking>,
) -> Result<CheckMetric, SuiteError> {
    let name = r.metric.get_ref().as_str();
    let at = r.metric.span().start;
    let metric = match ranking_metric(src, r)? {
        Some(_) if ranking.is_none() => {
            return Err(src.err(
                at,
                format!("{name} is a ranking metric: add a [ranking] section"),
            ));
        }
        Some(m) => CheckMetric::Ranking(m),
        None => {
            if let Some(m) = GroupMetric::from_name(name) {
                CheckMetric::EveryGroup(m)
            } else if let Some(d) = Disparity::parse(name, agg) {
                CheckMetric::Disparity(d, method)
            } else {
                return Err(src.err(
                    at,
                    format!("unknown metric {name:?}; see schema/metrics.md for the names (e.g. demographic_parity_ratio, equalized_odds_difference, tpr, exposure_ratio, min_skew, ndkl, rkl)"),
                ));
            }
        }
    };
    if let (CheckMetric::Ranking(RankingMetric::MinSkew(k) | RankingMetric::MaxSkew(k)), Some(rk)) =
        (&metric, ranking)
    {
        if !rk.k.contains(k) {
            return Err(src.err(at, format!("k = {k} is not in ranking.k ({:?})", rk.k)));
        }
    }
    Ok(metric)
}

/// The ranking metric a check names, if it names one; the skews need the check's `k`.
fn ranking_metric(src: &Source, r: &RawCheck) -> Result<Option<RankingMetric>, SuiteError> {
    let name = r.metric.get_ref().as_str();
    let k = || {
        r.k.ok_or_else(|| {
            src.err(
                r.metric.span().start,
                format!("{name} needs k (the length of the top of the ranking), e.g. k = 10"),
            )
        })
    };
    Ok(Some(match name {
        "exposure_ratio" => RankingMetric::ExposureRatio,
        "disparate_treatment_ratio" => RankingMetric::DisparateTreatmentRatio,
        "min_skew" => RankingMetric::MinSkew(k()?),
        "max_skew" => RankingMetric::MaxSkew(k()?),
        "ndkl" => RankingMetric::Ndkl,
        "rnd" => RankingMetric::Rnd,
        "rkl" => RankingMetric::Rkl,
        _ => return Ok(None),
    }))
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
