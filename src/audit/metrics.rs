//! Fairness metrics: pure functions over predictions, labels, scores and group memberships.
//! No I/O. Definitions, with the papers they follow, are in `schema/metrics.md`.
//!
//! Classification metrics are computed from per-group sufficient statistics ([`Counts`]), so a
//! bootstrap resample only re-counts rows ([`Kernel`]). Undefined values (a rate whose
//! denominator is zero) are `NaN` here and `null` in reports; differences and ratios skip them,
//! as pandas (and so Fairlearn) does.
//!
//! Ranking metrics: exposure (Singh & Joachims 2018), skew@k and NDKL (Geyik, Ambler &
//! Kenthapadi 2019), rND and rKL (Yang & Stoyanovich 2017).

use serde::{Deserialize, Serialize};

/// The per-group classification metrics, in report order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum GroupMetric {
    Count,
    SelectionRate,
    Tpr,
    Fpr,
    Fnr,
    Tnr,
    Ppv,
    Accuracy,
    BaseRate,
    MeanScore,
    CalibrationError,
}

pub const N_METRICS: usize = 11;

impl GroupMetric {
    pub const ALL: [GroupMetric; N_METRICS] = [
        GroupMetric::Count,
        GroupMetric::SelectionRate,
        GroupMetric::Tpr,
        GroupMetric::Fpr,
        GroupMetric::Fnr,
        GroupMetric::Tnr,
        GroupMetric::Ppv,
        GroupMetric::Accuracy,
        GroupMetric::BaseRate,
        GroupMetric::MeanScore,
        GroupMetric::CalibrationError,
    ];

    pub fn name(self) -> &'static str {
        match self {
            GroupMetric::Count => "count",
            GroupMetric::SelectionRate => "selection_rate",
            GroupMetric::Tpr => "tpr",
            GroupMetric::Fpr => "fpr",
            GroupMetric::Fnr => "fnr",
            GroupMetric::Tnr => "tnr",
            GroupMetric::Ppv => "ppv",
            GroupMetric::Accuracy => "accuracy",
            GroupMetric::BaseRate => "base_rate",
            GroupMetric::MeanScore => "mean_score",
            GroupMetric::CalibrationError => "calibration_error",
        }
    }

    pub fn from_name(s: &str) -> Option<GroupMetric> {
        GroupMetric::ALL.into_iter().find(|m| m.name() == s)
    }

    pub fn index(self) -> usize {
        self as usize
    }
}

/// A group's metric values, indexed by [`GroupMetric::index`]; `NaN` = undefined.
pub type Values = [f64; N_METRICS];

/// Confusion classes of a row: predicted/actual.
pub const TP: usize = 0;
pub const FP: usize = 1;
pub const FN: usize = 2;
pub const TN: usize = 3;

pub fn class_of(predicted: bool, actual: bool) -> usize {
    match (predicted, actual) {
        (true, true) => TP,
        (true, false) => FP,
        (false, true) => FN,
        (false, false) => TN,
    }
}

/// Sufficient statistics of one group: confusion counts, score sum, and per calibration bin the
/// row count, score sum and positives.
#[derive(Clone, Debug, PartialEq)]
pub struct Counts {
    pub confusion: [u64; 4],
    pub score_sum: f64,
    pub bin_n: Vec<u64>,
    pub bin_score: Vec<f64>,
    pub bin_pos: Vec<u64>,
}

impl Counts {
    pub fn new(bins: usize) -> Counts {
        Counts {
            confusion: [0; 4],
            score_sum: 0.0,
            bin_n: vec![0; bins],
            bin_score: vec![0.0; bins],
            bin_pos: vec![0; bins],
        }
    }

    pub fn n(&self) -> u64 {
        self.confusion.iter().sum()
    }

    pub fn add(&mut self, other: &Counts) {
        for i in 0..4 {
            self.confusion[i] += other.confusion[i];
        }
        self.score_sum += other.score_sum;
        for b in 0..self.bin_n.len() {
            self.bin_n[b] += other.bin_n[b];
            self.bin_score[b] += other.bin_score[b];
            self.bin_pos[b] += other.bin_pos[b];
        }
    }

    /// Every group metric (see `schema/metrics.md`).
    pub fn values(&self) -> Values {
        let [tp, fp, fn_, tn] = self.confusion.map(|c| c as f64);
        let n = tp + fp + fn_ + tn;
        let div = |a: f64, b: f64| if b == 0.0 { f64::NAN } else { a / b };
        let mut ece = 0.0;
        for b in 0..self.bin_n.len() {
            let nb = self.bin_n[b] as f64;
            if nb > 0.0 {
                let gap = self.bin_score[b] / nb - self.bin_pos[b] as f64 / nb;
                ece += nb / n * gap.abs();
            }
        }
        let mut v = [f64::NAN; N_METRICS];
        v[GroupMetric::Count.index()] = n;
        v[GroupMetric::SelectionRate.index()] = div(tp + fp, n);
        v[GroupMetric::Tpr.index()] = div(tp, tp + fn_);
        v[GroupMetric::Fpr.index()] = div(fp, fp + tn);
        v[GroupMetric::Fnr.index()] = div(fn_, tp + fn_);
        v[GroupMetric::Tnr.index()] = div(tn, fp + tn);
        v[GroupMetric::Ppv.index()] = div(tp, tp + fp);
        v[GroupMetric::Accuracy.index()] = div(tp + tn, n);
        v[GroupMetric::BaseRate.index()] = div(tp + fn_, n);
        v[GroupMetric::MeanScore.index()] = div(self.score_sum, n);
        v[GroupMetric::CalibrationError.index()] = if n == 0.0 || self.bin_n.is_empty() {
            f64::NAN
        } else {
            ece
        };
        v
    }
}

/// The calibration bin of a score: `floor(score * bins)`, clamped to `[0, bins - 1]`.
pub fn bin_of(score: f64, bins: usize) -> usize {
    let b = (score * bins as f64).floor();
    if b.is_nan() || b < 0.0 {
        0
    } else {
        (b as usize).min(bins - 1)
    }
}

/// How a between-group comparison is made.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    /// Largest minus smallest group value; smallest over largest (Fairlearn's `between_groups`).
    BetweenGroups,
    /// Largest |group − overall|; smallest of group/overall folded below 1 (Fairlearn's `to_overall`).
    ToOverall,
    /// Largest |group − reference group|; smallest group/reference (not folded).
    Reference,
}

impl Method {
    pub fn name(self) -> &'static str {
        match self {
            Method::BetweenGroups => "between_groups",
            Method::ToOverall => "to_overall",
            Method::Reference => "reference",
        }
    }
}

/// The difference of `groups` under `method` (`reference`: index of the reference group).
/// Undefined (NaN) group values are skipped; NaN if nothing is left to compare.
pub fn difference(groups: &[f64], overall: f64, method: Method, reference: Option<usize>) -> f64 {
    let defined = || groups.iter().copied().filter(|v| !v.is_nan());
    match method {
        Method::BetweenGroups => {
            let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
            for v in defined() {
                lo = lo.min(v);
                hi = hi.max(v);
            }
            if lo > hi {
                f64::NAN
            } else {
                hi - lo
            }
        }
        Method::ToOverall => max_nan(defined().map(|v| (v - overall).abs())),
        Method::Reference => {
            let Some(r) = reference else { return f64::NAN };
            let rv = groups[r];
            max_nan(
                groups
                    .iter()
                    .enumerate()
                    .filter(|(i, v)| *i != r && !v.is_nan())
                    .map(|(_, v)| (v - rv).abs()),
            )
        }
    }
}

/// The ratio of `groups` under `method`; see [`difference`].
pub fn ratio(groups: &[f64], overall: f64, method: Method, reference: Option<usize>) -> f64 {
    let defined = || groups.iter().copied().filter(|v| !v.is_nan());
    match method {
        Method::BetweenGroups => {
            let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
            for v in defined() {
                lo = lo.min(v);
                hi = hi.max(v);
            }
            if lo > hi {
                f64::NAN
            } else {
                lo / hi
            }
        }
        Method::ToOverall => min_nan(defined().map(|v| {
            let r = v / overall;
            if r > 1.0 {
                1.0 / r
            } else {
                r
            }
        })),
        Method::Reference => {
            let Some(r) = reference else { return f64::NAN };
            let rv = groups[r];
            min_nan(
                groups
                    .iter()
                    .enumerate()
                    .filter(|(i, v)| *i != r && !v.is_nan())
                    .map(|(_, v)| v / rv),
            )
        }
    }
}

fn max_nan(it: impl Iterator<Item = f64>) -> f64 {
    it.filter(|v| !v.is_nan())
        .fold(f64::NAN, |a, b| if a.is_nan() || b > a { b } else { a })
}

fn min_nan(it: impl Iterator<Item = f64>) -> f64 {
    it.filter(|v| !v.is_nan())
        .fold(f64::NAN, |a, b| if a.is_nan() || b < a { b } else { a })
}

/// How equalized odds combines its TPR and FPR parts (Fairlearn's `agg`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Agg {
    #[default]
    WorstCase,
    Mean,
}

/// A between-group quantity: a named fairness criterion or any group metric's difference/ratio.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Disparity {
    DemographicParityDifference,
    DemographicParityRatio,
    EqualizedOddsDifference(AggKey),
    EqualizedOddsRatio(AggKey),
    EqualOpportunityDifference,
    EqualOpportunityRatio,
    Difference(GroupMetric),
    Ratio(GroupMetric),
}

/// [`Agg`] as a hashable key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AggKey {
    WorstCase,
    Mean,
}

impl From<Agg> for AggKey {
    fn from(a: Agg) -> AggKey {
        match a {
            Agg::WorstCase => AggKey::WorstCase,
            Agg::Mean => AggKey::Mean,
        }
    }
}

impl Disparity {
    /// The named criteria, and the difference and ratio of every group metric but the count.
    pub fn all() -> Vec<Disparity> {
        let mut v = vec![
            Disparity::DemographicParityDifference,
            Disparity::DemographicParityRatio,
            Disparity::EqualizedOddsDifference(AggKey::WorstCase),
            Disparity::EqualizedOddsRatio(AggKey::WorstCase),
            Disparity::EqualizedOddsDifference(AggKey::Mean),
            Disparity::EqualizedOddsRatio(AggKey::Mean),
            Disparity::EqualOpportunityDifference,
            Disparity::EqualOpportunityRatio,
        ];
        for m in GroupMetric::ALL.into_iter().skip(1) {
            v.push(Disparity::Difference(m));
            v.push(Disparity::Ratio(m));
        }
        v
    }

    pub fn name(self) -> String {
        match self {
            Disparity::DemographicParityDifference => "demographic_parity_difference".into(),
            Disparity::DemographicParityRatio => "demographic_parity_ratio".into(),
            Disparity::EqualizedOddsDifference(AggKey::WorstCase) => {
                "equalized_odds_difference".into()
            }
            Disparity::EqualizedOddsRatio(AggKey::WorstCase) => "equalized_odds_ratio".into(),
            Disparity::EqualizedOddsDifference(AggKey::Mean) => {
                "equalized_odds_difference_mean".into()
            }
            Disparity::EqualizedOddsRatio(AggKey::Mean) => "equalized_odds_ratio_mean".into(),
            Disparity::EqualOpportunityDifference => "equal_opportunity_difference".into(),
            Disparity::EqualOpportunityRatio => "equal_opportunity_ratio".into(),
            Disparity::Difference(m) => format!("{}_difference", m.name()),
            Disparity::Ratio(m) => format!("{}_ratio", m.name()),
        }
    }

    /// Parses a name of [`Disparity::name`] (equalized odds takes its `agg` separately).
    pub fn parse(name: &str, agg: Agg) -> Option<Disparity> {
        let d = match name {
            "demographic_parity_difference" => Disparity::DemographicParityDifference,
            "demographic_parity_ratio" => Disparity::DemographicParityRatio,
            "equalized_odds_difference" => Disparity::EqualizedOddsDifference(agg.into()),
            "equalized_odds_ratio" => Disparity::EqualizedOddsRatio(agg.into()),
            "equal_opportunity_difference" => Disparity::EqualOpportunityDifference,
            "equal_opportunity_ratio" => Disparity::EqualOpportunityRatio,
            other => {
                if let Some(m) = other.strip_suffix("_difference") {
                    Disparity::Difference(
                        GroupMetric::from_name(m).filter(|m| *m != GroupMetric::Count)?,
                    )
                } else if let Some(m) = other.strip_suffix("_ratio") {
                    Disparity::Ratio(
                        GroupMetric::from_name(m).filter(|m| *m != GroupMetric::Count)?,
                    )
                } else {
                    return None;
                }
            }
        };
        Some(d)
    }

    /// The value over `groups` (and `overall`).
    pub fn value(
        self,
        groups: &[Values],
        overall: &Values,
        method: Method,
        reference: Option<usize>,
    ) -> f64 {
        let col = |m: GroupMetric| -> Vec<f64> { groups.iter().map(|g| g[m.index()]).collect() };
        let diff = |m: GroupMetric| difference(&col(m), overall[m.index()], method, reference);
        let rat = |m: GroupMetric| ratio(&col(m), overall[m.index()], method, reference);
        match self {
            Disparity::DemographicParityDifference => diff(GroupMetric::SelectionRate),
            Disparity::DemographicParityRatio => rat(GroupMetric::SelectionRate),
            Disparity::EqualOpportunityDifference => diff(GroupMetric::Tpr),
            Disparity::EqualOpportunityRatio => rat(GroupMetric::Tpr),
            Disparity::EqualizedOddsDifference(agg) => {
                let (a, b) = (diff(GroupMetric::Tpr), diff(GroupMetric::Fpr));
                match agg {
                    AggKey::WorstCase => max_nan([a, b].into_iter()),
                    AggKey::Mean => (a + b) / 2.0,
                }
            }
            Disparity::EqualizedOddsRatio(agg) => {
                let (a, b) = (rat(GroupMetric::Tpr), rat(GroupMetric::Fpr));
                match agg {
                    AggKey::WorstCase => min_nan([a, b].into_iter()),
                    AggKey::Mean => (a + b) / 2.0,
                }
            }
            Disparity::Difference(m) => diff(m),
            Disparity::Ratio(m) => rat(m),
        }
    }
}

/// Row data reduced to what the classification metrics need: per row a key
/// `((cell * 4 + class) * bins + bin)` (cell = the row's combination of every sensitive
/// attribute) and its score.
pub struct Kernel {
    pub cells: usize,
    pub bins: usize,
    pub rows: Vec<KernelRow>,
}

#[derive(Clone, Copy, Debug)]
pub struct KernelRow {
    pub key: u32,
    pub score: f64,
}

/// Counts per key (see [`Kernel`]).
pub struct Accumulator {
    pub n: Vec<u64>,
    pub score: Vec<f64>,
}

impl Kernel {
    pub fn new(cells: usize, bins: usize) -> Kernel {
        Kernel {
            cells,
            bins,
            rows: Vec::new(),
        }
    }

    pub fn keys(&self) -> usize {
        self.cells * 4 * self.bins
    }

    pub fn push(&mut self, cell: usize, class: usize, score: f64) {
        let bin = bin_of(score, self.bins);
        let key = ((cell * 4 + class) * self.bins + bin) as u32;
        self.rows.push(KernelRow { key, score });
    }

    pub fn empty(&self) -> Accumulator {
        Accumulator {
            n: vec![0; self.keys()],
            score: vec![0.0; self.keys()],
        }
    }

    /// Every row once.
    pub fn accumulate_all(&self) -> Accumulator {
        let mut acc = self.empty();
        for r in &self.rows {
            acc.n[r.key as usize] += 1;
            acc.score[r.key as usize] += r.score;
        }
        acc
    }

    /// One bootstrap resample: `rows.len()` rows drawn with replacement.
    pub fn accumulate_resample(&self, rng: &mut Rng) -> Accumulator {
        let mut acc = self.empty();
        let n = self.rows.len() as u64;
        for _ in 0..n {
            let r = self.rows[rng.below(n) as usize];
            acc.n[r.key as usize] += 1;
            acc.score[r.key as usize] += r.score;
        }
        acc
    }

    /// The counts of every cell.
    pub fn cell_counts(&self, acc: &Accumulator) -> Vec<Counts> {
        let b = self.bins;
        (0..self.cells)
            .map(|cell| {
                let mut c = Counts::new(b);
                for class in 0..4 {
                    for bin in 0..b {
                        let k = (cell * 4 + class) * b + bin;
                        let n = acc.n[k];
                        c.confusion[class] += n;
                        c.score_sum += acc.score[k];
                        c.bin_n[bin] += n;
                        c.bin_score[bin] += acc.score[k];
                        if class == TP || class == FN {
                            c.bin_pos[bin] += n;
                        }
                    }
                }
                c
            })
            .collect()
    }
}

/// Sums cell counts into groups: `group_of[cell]` (None: the cell belongs to no group).
pub fn group_counts(
    cells: &[Counts],
    group_of: &[usize],
    groups: usize,
    bins: usize,
) -> Vec<Counts> {
    let mut out = vec![Counts::new(bins); groups];
    for (cell, c) in cells.iter().enumerate() {
        out[group_of[cell]].add(c);
    }
    out
}

/// A small, fast, documented PRNG (xoshiro256**, seeded through SplitMix64), so bootstrap
/// intervals are reproducible from the seed alone, on any machine and thread count.
#[derive(Clone, Debug)]
pub struct Rng {
    s: [u64; 4],
}

impl Rng {
    /// The generator of resample `stream` under `seed`.
    pub fn new(seed: u64, stream: u64) -> Rng {
        let mut x = seed ^ stream.wrapping_mul(0xD1B5_4A32_D192_ED03);
        let mut next = || {
            x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = x;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        };
        Rng {
            s: [next(), next(), next(), next()],
        }
    }

    pub fn next_u64(&mut self) -> u64 {
        let result = self.s[1].wrapping_mul(5).rotate_left(7).wrapping_mul(9);
        let t = self.s[1] << 17;
        self.s[2] ^= self.s[0];
        self.s[3] ^= self.s[1];
        self.s[1] ^= self.s[2];
        self.s[0] ^= self.s[3];
        self.s[2] ^= t;
        self.s[3] = self.s[3].rotate_left(45);
        result
    }

    /// Uniform in `0..n` (Lemire's multiply-and-reject, unbiased).
    pub fn below(&mut self, n: u64) -> u64 {
        let mut m = (self.next_u64() as u128) * (n as u128);
        if (m as u64) < n {
            let threshold = n.wrapping_neg() % n;
            while (m as u64) < threshold {
                m = (self.next_u64() as u128) * (n as u128);
            }
        }
        (m >> 64) as u64
    }
}

/// The `q` quantile of sorted, NaN-free `v`, interpolating linearly (numpy's default).
pub fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let pos = q * (sorted.len() - 1) as f64;
    let lo = pos.floor() as usize;
    let hi = pos.ceil() as usize;
    let frac = pos - lo as f64;
    sorted[lo] + (sorted[hi] - sorted[lo]) * frac
}

/// The percentile interval `[(1-c)/2, (1+c)/2]` of bootstrap samples (NaNs dropped).
pub fn percentile_interval(samples: &mut Vec<f64>, confidence: f64) -> Option<(f64, f64)> {
    samples.retain(|v| !v.is_nan());
    if samples.is_empty() {
        return None;
    }
    samples.sort_by(|a, b| a.partial_cmp(b).expect("no NaN"));
    let a = (1.0 - confidence) / 2.0;
    Some((quantile(samples, a), quantile(samples, 1.0 - a)))
}

// ---------------------------------------------------------------------------------------------
// Ranking metrics. A ranking is the list of its items' group indices, best first.

/// Position bias of rank `j` (1-based): `1 / log2(1 + j)` (Singh & Joachims 2018, as in DCG).
pub fn position_bias(j: usize) -> f64 {
    1.0 / ((1 + j) as f64).log2()
}

/// Exposure per group in one ranking: the mean position bias of the group's items
/// (Singh & Joachims 2018, eq. for Exposure(G_k|P) with a deterministic ranking). NaN for a
/// group with no items.
pub fn exposure(ranking: &[usize], groups: usize) -> Vec<f64> {
    let mut sum = vec![0.0; groups];
    let mut n = vec![0usize; groups];
    for (i, &g) in ranking.iter().enumerate() {
        sum[g] += position_bias(i + 1);
        n[g] += 1;
    }
    sum.iter()
        .zip(&n)
        .map(|(s, &c)| if c == 0 { f64::NAN } else { s / c as f64 })
        .collect()
}

/// The mean relevance ("utility" U(G|q)) of each group's items in one ranking.
pub fn mean_relevance(ranking: &[usize], relevance: &[f64], groups: usize) -> Vec<f64> {
    let mut sum = vec![0.0; groups];
    let mut n = vec![0usize; groups];
    for (&g, &r) in ranking.iter().zip(relevance) {
        sum[g] += r;
        n[g] += 1;
    }
    sum.iter()
        .zip(&n)
        .map(|(s, &c)| if c == 0 { f64::NAN } else { s / c as f64 })
        .collect()
}

/// Group shares of a ranking's first `k` items.
fn shares(ranking: &[usize], k: usize, groups: usize) -> Vec<f64> {
    let k = k.min(ranking.len());
    let mut n = vec![0usize; groups];
    for &g in &ranking[..k] {
        n[g] += 1;
    }
    n.iter().map(|&c| c as f64 / k as f64).collect()
}

/// Skew@k of each group (Geyik et al. 2019, eq. 1): `ln(p_topk(g) / p(g))`, where `p(g)` is
/// the group's share of the whole ranking (the desired proportion). `-inf` when the group has
/// no item in the top k; NaN when it has none at all.
pub fn skew_at_k(ranking: &[usize], k: usize, groups: usize) -> Vec<f64> {
    let top = shares(ranking, k, groups);
    let all = shares(ranking, ranking.len(), groups);
    top.iter()
        .zip(&all)
        .map(|(&t, &a)| if a == 0.0 { f64::NAN } else { (t / a).ln() })
        .collect()
}

/// `KL(p || q)` in nats, with `0 ln 0 = 0`; infinite where `p > 0 = q`.
pub fn kl_divergence(p: &[f64], q: &[f64]) -> f64 {
    p.iter()
        .zip(q)
        .map(|(&a, &b)| {
            if a == 0.0 {
                0.0
            } else if b == 0.0 {
                f64::INFINITY
            } else {
                a * (a / b).ln()
            }
        })
        .sum()
}

/// NDKL (Geyik et al. 2019, eq. 4): `(1/Z) Σ_{i=1..N} KL(D_i || D) / log2(i + 1)`, with `D_i`
/// the group distribution of the top i, `D` that of the whole ranking, `Z = Σ 1/log2(i+1)`.
pub fn ndkl(ranking: &[usize], groups: usize) -> f64 {
    let n = ranking.len();
    if n == 0 {
        return f64::NAN;
    }
    let desired = shares(ranking, n, groups);
    let mut counts = vec![0usize; groups];
    let (mut total, mut z) = (0.0, 0.0);
    let mut dist = vec![0.0; groups];
    for (i, &g) in ranking.iter().enumerate() {
        counts[g] += 1;
        let top = (i + 1) as f64;
        for (d, &c) in dist.iter_mut().zip(&counts) {
            *d = c as f64 / top;
        }
        let w = position_bias(i + 1);
        total += w * kl_divergence(&dist, &desired);
        z += w;
    }
    total / z
}

/// The cut-offs rND and rKL sum over: `step, 2*step, ...` up to the ranking's length (Yang &
/// Stoyanovich 2017 use step 10).
fn cutoffs(n: usize, step: usize) -> impl Iterator<Item = usize> {
    (1..=n / step.max(1)).map(move |j| j * step.max(1))
}

/// Unnormalized rND (`norm = false`) or rKL of a 0/1 protected-membership ranking.
fn discounted(protected: &[bool], step: usize, kl: bool) -> f64 {
    let n = protected.len();
    let total = protected.iter().filter(|p| **p).count() as f64 / n as f64;
    let mut prefix = 0usize;
    let mut sum = 0.0;
    let mut next = cutoffs(n, step).peekable();
    for (i, &p) in protected.iter().enumerate() {
        prefix += p as usize;
        let at = i + 1;
        if next.peek() == Some(&at) {
            next.next();
            let share = prefix as f64 / at as f64;
            let term = if kl {
                kl_divergence(&[share, 1.0 - share], &[total, 1.0 - total])
            } else {
                (share - total).abs()
            };
            sum += term / (at as f64).log2();
        }
    }
    sum
}

/// The normalizer Z of rND/rKL: the larger of the measure's values on the two most unfair
/// rankings of the same sizes (every protected item first, or every one last).
fn normalizer(n: usize, protected_n: usize, step: usize, kl: bool) -> f64 {
    let first: Vec<bool> = (0..n).map(|i| i < protected_n).collect();
    let last: Vec<bool> = (0..n).map(|i| i >= n - protected_n).collect();
    discounted(&first, step, kl).max(discounted(&last, step, kl))
}

/// rND (Yang & Stoyanovich 2017): `(1/Z) Σ_{i=step,2step,..≤N} |S+_{1..i}|/i − |S+|/N| / log2 i`.
/// NaN when the ranking is shorter than `step` or the protected group is empty or everything.
pub fn rnd(protected: &[bool], step: usize) -> f64 {
    normalized(protected, step, false)
}

/// rKL (Yang & Stoyanovich 2017): as [`rnd`] with the KL divergence between the top-i and
/// overall protected/unprotected distributions in place of the absolute difference.
pub fn rkl(protected: &[bool], step: usize) -> f64 {
    normalized(protected, step, true)
}

fn normalized(protected: &[bool], step: usize, kl: bool) -> f64 {
    let n = protected.len();
    let p = protected.iter().filter(|p| **p).count();
    if n < step.max(1) || p == 0 || p == n {
        return f64::NAN;
    }
    let z = normalizer(n, p, step, kl);
    if z == 0.0 {
        return f64::NAN;
    }
    discounted(protected, step, kl) / z
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rng_is_uniform_enough_and_reproducible() {
        let mut a = Rng::new(7, 0);
        let mut b = Rng::new(7, 0);
        let mut hist = [0u32; 10];
        for _ in 0..100_000 {
            let x = a.below(10);
            assert_eq!(x, b.below(10));
            hist[x as usize] += 1;
        }
        assert!(
            hist.iter().all(|&h| (9_500..10_500).contains(&h)),
            "{hist:?}"
        );
        assert_ne!(Rng::new(7, 1).next_u64(), Rng::new(7, 0).next_u64());
    }

    #[test]
    fn quantiles_interpolate_like_numpy() {
        let v = [1.0, 2.0, 3.0, 4.0];
        assert_eq!(quantile(&v, 0.5), 2.5);
        assert_eq!(quantile(&v, 0.025), 1.075);
    }
}
