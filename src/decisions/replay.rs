//! Replay: does the revealed model give the scores and the order a decision record claims?
//!
//! This module owns the comparison: scores within a [`Tolerance`], the order shown against the
//! order of the replayed scores, and what counts as not replayable (a candidate with only an
//! input digest, unless matching inputs are supplied). The model itself is behind the
//! [`Scorer`] trait; this module never loads models, reads files or talks to the log
//! (`embargo replay`, in `src/cmd/replay.rs`, does, and verifies each receipt first).

use crate::decisions::decision::{inputs_digest, DecisionRecord};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// Runs the model on candidates' inputs.
pub trait Scorer {
    /// One score per element of `inputs`, in order.
    fn scores(
        &mut self,
        record: &DecisionRecord,
        inputs: &[&Map<String, Value>],
    ) -> Result<Vec<f64>, String>;
}

/// How far a replayed score may be from the recorded one: `|replayed - recorded| <= abs` or
/// `<= rel * |recorded|`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Tolerance {
    pub abs: f64,
    pub rel: f64,
}

impl Default for Tolerance {
    /// 1e-6 absolute or relative. The same model on the same inputs gives the same float32
    /// scores: bit for bit with one ONNX Runtime, within a few float32 ulps (~1e-7) across
    /// builds and CPUs, so 1e-6 leaves a tenfold margin for an honest replay. A different model
    /// differs by far more: on 2,000 Adult rows the fixtures' logistic regression and gradient
    /// boosting differ by 2.7e-2 (median), 4.8e-4 (1st percentile), 1.5e-5 (minimum), so no
    /// row falls within the tolerance, with a fifteenfold margin even on the closest row
    /// (`tests/decisions.rs`).
    fn default() -> Self {
        Tolerance {
            abs: 1e-6,
            rel: 1e-6,
        }
    }
}

impl Tolerance {
    pub fn close(&self, a: f64, b: f64) -> bool {
        let d = (a - b).abs();
        d <= self.abs || d <= self.rel * b.abs()
    }
}

/// One way a record does not replay.
#[derive(Clone, Debug, PartialEq)]
pub enum Finding {
    /// The replayed score of a candidate is not the recorded one.
    ScoreDiffers {
        candidate: usize,
        item: String,
        recorded: f64,
        replayed: f64,
    },
    /// The order shown is not the order of the replayed scores.
    OrderDiffers {
        position: usize,
        above: String,
        above_score: f64,
        below: String,
        below_score: f64,
    },
    /// A candidate that was not shown outscores one that was.
    HiddenOutscores {
        hidden: String,
        hidden_score: f64,
        shown: String,
        shown_score: f64,
    },
    /// Supplied inputs do not match the candidate's digest.
    InputsDoNotMatchDigest { candidate: usize, item: String },
    /// A candidate with only an input digest, and no inputs supplied: cannot be replayed.
    NotReplayable { candidate: usize, item: String },
}

impl Finding {
    /// Whether this is a mismatch (the model disagrees) rather than a record that could not be
    /// replayed in full.
    pub fn is_mismatch(&self) -> bool {
        !matches!(self, Finding::NotReplayable { .. })
    }
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Finding::ScoreDiffers {
                candidate,
                item,
                recorded,
                replayed,
            } => write!(
                f,
                "score differs by {:.3e} at candidate {candidate} ({item}): recorded {recorded}, replayed {replayed}",
                (replayed - recorded).abs()
            ),
            Finding::OrderDiffers {
                position,
                above,
                above_score,
                below,
                below_score,
            } => write!(
                f,
                "order shown differs from order by replayed scores: at position {position} {above} (replayed {above_score}) is shown above {below} (replayed {below_score})"
            ),
            Finding::HiddenOutscores {
                hidden,
                hidden_score,
                shown,
                shown_score,
            } => write!(
                f,
                "order shown differs from order by replayed scores: {hidden} was not shown but scores {hidden_score}, above shown {shown} ({shown_score})"
            ),
            Finding::InputsDoNotMatchDigest { candidate, item } => write!(
                f,
                "the inputs supplied for candidate {candidate} ({item}) do not match its inputs_digest"
            ),
            Finding::NotReplayable { candidate, item } => write!(
                f,
                "candidate {candidate} ({item}) has only an input digest: not replayable (supply its inputs with the receipt's salt)"
            ),
        }
    }
}

/// Replays one record: scores every candidate whose inputs are known (in the record, or in
/// `supplied` with a salt that makes them match the digest), compares the scores and checks the
/// order shown. `supplied` and `salts` are by candidate index. The order is checked only when
/// every candidate could be replayed.
pub fn replay(
    record: &DecisionRecord,
    supplied: &BTreeMap<usize, Map<String, Value>>,
    salts: &BTreeMap<usize, [u8; 32]>,
    scorer: &mut dyn Scorer,
    tol: Tolerance,
) -> Result<Vec<Finding>, String> {
    let mut findings = Vec::new();
    let mut known: Vec<(usize, &Map<String, Value>)> = Vec::new();
    for (i, c) in record.candidates.iter().enumerate() {
        match (&c.inputs, &c.inputs_digest) {
            (Some(inputs), _) => known.push((i, inputs)),
            (None, Some(digest)) => match (supplied.get(&i), salts.get(&i)) {
                (Some(inputs), Some(salt)) if &inputs_digest(salt, inputs) == digest => {
                    known.push((i, inputs))
                }
                (Some(_), _) => findings.push(Finding::InputsDoNotMatchDigest {
                    candidate: i,
                    item: c.item.clone(),
                }),
                (None, _) => findings.push(Finding::NotReplayable {
                    candidate: i,
                    item: c.item.clone(),
                }),
            },
            (None, None) => unreachable!("validated records carry inputs or a digest"),
        }
    }
    let inputs: Vec<&Map<String, Value>> = known.iter().map(|(_, m)| *m).collect();
    let scores = if inputs.is_empty() {
        Vec::new()
    } else {
        scorer.scores(record, &inputs)?
    };
    if scores.len() != known.len() {
        return Err(format!(
            "the model gave {} scores for {} candidates",
            scores.len(),
            known.len()
        ));
    }
    let mut replayed: Vec<Option<f64>> = vec![None; record.candidates.len()];
    for ((i, _), s) in known.iter().zip(&scores) {
        replayed[*i] = Some(*s);
        let c = &record.candidates[*i];
        if !tol.close(*s, c.score) {
            findings.push(Finding::ScoreDiffers {
                candidate: *i,
                item: c.item.clone(),
                recorded: c.score,
                replayed: *s,
            });
        }
    }
    if known.len() == record.candidates.len() {
        let score = |i: usize| replayed[i].expect("all replayed");
        let item = |i: usize| record.candidates[i].item.clone();
        // Shown in order of the replayed scores, highest first (ties within the tolerance).
        for (p, w) in record.shown.windows(2).enumerate() {
            let (a, b) = (score(w[0]), score(w[1]));
            if a < b && !tol.close(a, b) {
                findings.push(Finding::OrderDiffers {
                    position: p,
                    above: item(w[0]),
                    above_score: a,
                    below: item(w[1]),
                    below_score: b,
                });
            }
        }
        // No hidden candidate above the lowest shown one.
        if let Some(&lowest) = record
            .shown
            .iter()
            .min_by(|&&a, &&b| score(a).total_cmp(&score(b)))
        {
            let shown: std::collections::HashSet<usize> = record.shown.iter().copied().collect();
            for h in (0..record.candidates.len()).filter(|h| !shown.contains(h)) {
                if score(h) > score(lowest) && !tol.close(score(h), score(lowest)) {
                    findings.push(Finding::HiddenOutscores {
                        hidden: item(h),
                        hidden_score: score(h),
                        shown: item(lowest),
                        shown_score: score(lowest),
                    });
                }
            }
        }
    }
    Ok(findings)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Scores = the "x" input.
    struct Identity;
    impl Scorer for Identity {
        fn scores(
            &mut self,
            _: &DecisionRecord,
            inputs: &[&Map<String, Value>],
        ) -> Result<Vec<f64>, String> {
            Ok(inputs.iter().map(|m| m["x"].as_f64().unwrap()).collect())
        }
    }

    fn record(xs: &[f64], scores: &[f64], shown: &[usize]) -> DecisionRecord {
        let v = serde_json::json!({
            "v": 1, "platform": "p", "commitment": 1, "time": "2026-11-24T00:00:00Z",
            "subject": "u", "surface": "feed",
            "candidates": xs.iter().zip(scores).enumerate().map(|(i, (x, s))| serde_json::json!({
                "item": format!("i{i}"), "inputs": {"x": x}, "score": s
            })).collect::<Vec<_>>(),
            "shown": shown,
        });
        DecisionRecord::parse(&serde_json::to_vec(&v).unwrap()).unwrap()
    }

    fn run(r: &DecisionRecord) -> Vec<Finding> {
        replay(
            r,
            &BTreeMap::new(),
            &BTreeMap::new(),
            &mut Identity,
            Tolerance::default(),
        )
        .unwrap()
    }

    #[test]
    fn honest_records_replay_clean() {
        assert_eq!(
            run(&record(&[0.9, 0.5, 0.1], &[0.9, 0.5, 0.1], &[0, 1, 2])),
            vec![]
        );
        // Top-2 shown, within tolerance.
        assert_eq!(
            run(&record(&[0.9, 0.1, 0.5], &[0.9000005, 0.1, 0.5], &[0, 2])),
            vec![]
        );
    }

    #[test]
    fn changed_scores_and_orders_are_found() {
        let f = run(&record(&[0.9, 0.5], &[0.9, 0.6], &[0, 1]));
        assert!(
            matches!(&f[..], [Finding::ScoreDiffers { candidate: 1, .. }]),
            "{f:?}"
        );
        assert!(f[0]
            .to_string()
            .starts_with("score differs by 1.000e-1 at candidate 1"));
        let f = run(&record(&[0.9, 0.5], &[0.9, 0.5], &[1, 0]));
        assert!(
            matches!(&f[..], [Finding::OrderDiffers { position: 0, .. }]),
            "{f:?}"
        );
        assert!(f[0].to_string().contains("order shown differs"));
        let f = run(&record(&[0.9, 0.5, 0.7], &[0.9, 0.5, 0.7], &[0, 1]));
        assert!(matches!(&f[..], [Finding::HiddenOutscores { .. }]), "{f:?}");
    }

    #[test]
    fn digest_only_candidates_need_matching_inputs() {
        let salt = [9u8; 32];
        let inputs: Map<String, Value> = serde_json::from_str(r#"{"x": 0.4}"#).unwrap();
        let v = serde_json::json!({
            "v": 1, "platform": "p", "commitment": 1, "time": "2026-11-24T00:00:00Z",
            "subject": "u", "surface": "feed",
            "candidates": [
                {"item": "a", "inputs": {"x": 0.9}, "score": 0.9},
                {"item": "b", "inputs_digest": inputs_digest(&salt, &inputs), "score": 0.4},
            ],
            "shown": [0, 1],
        });
        let r = DecisionRecord::parse(&serde_json::to_vec(&v).unwrap()).unwrap();
        let f = run(&r);
        assert!(
            matches!(&f[..], [Finding::NotReplayable { candidate: 1, .. }]),
            "{f:?}"
        );
        assert!(!f[0].is_mismatch());
        let supplied = BTreeMap::from([(1, inputs.clone())]);
        let salts = BTreeMap::from([(1, salt)]);
        let tol = Tolerance::default();
        assert_eq!(
            replay(&r, &supplied, &salts, &mut Identity, tol).unwrap(),
            vec![]
        );
        let wrong = BTreeMap::from([(1, serde_json::from_str(r#"{"x": 0.5}"#).unwrap())]);
        let f = replay(&r, &wrong, &salts, &mut Identity, tol).unwrap();
        assert!(
            matches!(&f[..], [Finding::InputsDoNotMatchDigest { .. }]),
            "{f:?}"
        );
    }
}
