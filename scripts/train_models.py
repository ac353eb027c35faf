#!/usr/bin/env python3
"""Trains the two Adult models the audit tests use, exports them to ONNX, and pins the values
Fairlearn computes on the predictions the ONNX models give.

    .venv-audit/bin/python scripts/train_models.py      # (scripts/setup.sh --train installs the deps)

Writes, under tests/fixtures/audit/:
  adult-logreg.onnx   one-hot + standard scaling + logistic regression (scikit-learn pipeline)
  adult-gbm.onnx      one-hot + gradient-boosted trees (GradientBoostingClassifier)
  fairlearn-expected.json
                      for each model: the predictions' digest, and for each grouping (sex, race,
                      sex & race) the per-group and overall values of every metric Fairlearn
                      computes, the between_groups / to_overall differences and ratios, and
                      Fairlearn's demographic parity, equalized odds and equal opportunity
                      functions. Also the expected calibration error, computed with numpy (Fairlearn
                      has no calibration metric), as a second opinion.

The data are ../shared/datasets/adult.csv: UCI Adult (Becker and Kohavi, 1996), CC BY 4.0, via the
`fairness` package on PyPI. The models are trained on a seeded 70% split and the audit data set is
the whole file, read exactly as `embargo audit` reads it (strings as they are, numbers as float32).

The predictions compared are onnxruntime's on the exported models, not scikit-learn's, so the
Rust side (which runs the same ONNX file through the same ONNX Runtime) must agree exactly.
"""

import hashlib
import json
import math
import pathlib
import sys

import numpy as np
import onnxruntime as ort
import pandas as pd
import fairlearn
import sklearn
import skl2onnx
from fairlearn import metrics as flm
from skl2onnx import convert_sklearn
from skl2onnx.common.data_types import FloatTensorType, StringTensorType
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import GradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, precision_score
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

ROOT = pathlib.Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "datasets" / "adult.csv"
OUT = ROOT / "tests" / "fixtures" / "audit"

NUMERIC = ["age", "fnlwgt", "education-num", "capital-gain", "capital-loss", "hours-per-week"]
CATEGORICAL = ["workclass", "education", "marital-status", "occupation", "relationship",
               "race", "sex", "native-country"]
LABEL, POSITIVE = "income-per-year", ">50K"
THRESHOLD = 0.5
GROUPINGS = [["sex"], ["race"], ["sex", "race"]]
CAL_BINS = 10


def load():
    df = pd.read_csv(DATA, dtype=str, keep_default_na=False)
    X = df[NUMERIC + CATEGORICAL].copy()
    for c in NUMERIC:
        X[c] = X[c].astype(np.float32)
    y = (df[LABEL] == POSITIVE).astype(np.int64).to_numpy()
    return df, X, y


def pipeline(kind):
    if kind == "logreg":
        pre = ColumnTransformer([
            ("num", StandardScaler(), NUMERIC),
            ("cat", OneHotEncoder(handle_unknown="ignore"), CATEGORICAL),
        ])
        clf = LogisticRegression(max_iter=2000)
    else:
        pre = ColumnTransformer([
            ("num", "passthrough", NUMERIC),
            ("cat", OneHotEncoder(handle_unknown="ignore", sparse_output=False), CATEGORICAL),
        ])
        clf = GradientBoostingClassifier(n_estimators=80, max_depth=3, random_state=0)
    return Pipeline([("pre", pre), ("clf", clf)])


def export(model, path):
    types = [(c, FloatTensorType([None, 1])) for c in NUMERIC] + \
            [(c, StringTensorType([None, 1])) for c in CATEGORICAL]
    onx = convert_sklearn(model, initial_types=types, options={"zipmap": False},
                          target_opset={"": 17, "ai.onnx.ml": 3})
    path.write_bytes(onx.SerializeToString())


def onnx_scores(path, X):
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    feeds = {}  # skl2onnx names the inputs after the columns, with '-' turned into '_'
    for c in NUMERIC:
        feeds[c.replace("-", "_")] = X[c].to_numpy(dtype=np.float32).reshape(-1, 1)
    for c in CATEGORICAL:
        feeds[c.replace("-", "_")] = X[c].to_numpy(dtype=object).reshape(-1, 1)
    out = dict(zip([o.name for o in sess.get_outputs()], sess.run(None, feeds)))
    return out["probabilities"][:, 1]


def num(v):
    v = float(v)
    return None if math.isnan(v) else v


def ece(scores, y):
    s = scores.astype(np.float64)
    b = np.minimum(np.floor(s * CAL_BINS).astype(np.int64), CAL_BINS - 1)
    total = 0.0
    for i in range(CAL_BINS):
        m = b == i
        if m.any():
            total += m.sum() / len(s) * abs(s[m].mean() - y[m].mean())
    return total


def label(key):
    return " & ".join(key) if isinstance(key, tuple) else str(key)


def fairlearn_values(df, y, y_pred, scores):
    ppv = lambda yt, yp: precision_score(yt, yp, zero_division=np.nan)
    binary = {
        "count": flm.count,
        "selection_rate": flm.selection_rate,
        "tpr": flm.true_positive_rate,
        "fpr": flm.false_positive_rate,
        "fnr": flm.false_negative_rate,
        "tnr": flm.true_negative_rate,
        "ppv": ppv,
        "accuracy": accuracy_score,
    }
    out = {}
    for attrs in GROUPINGS:
        sf = df[attrs] if len(attrs) > 1 else df[attrs[0]]
        mf = flm.MetricFrame(metrics=binary, y_true=y, y_pred=y_pred, sensitive_features=sf)
        ms = flm.MetricFrame(metrics={"mean_score": flm.mean_prediction}, y_true=y,
                             y_pred=scores.astype(np.float64), sensitive_features=sf)
        groups = {}
        for key, row in mf.by_group.iterrows():
            g = {m: num(row[m]) for m in binary}
            g["mean_score"] = num(ms.by_group.loc[key, "mean_score"])
            mask = np.logical_and.reduce([df[a].to_numpy() == v for a, v in
                                          zip(attrs, key if isinstance(key, tuple) else (key,))])
            g["calibration_error"] = ece(scores[mask], y[mask])
            groups[label(key)] = g
        overall = {m: num(mf.overall[m]) for m in binary}
        overall["mean_score"] = num(ms.overall["mean_score"])
        overall["calibration_error"] = ece(scores, y)
        between = {}
        for method in ["between_groups", "to_overall"]:
            diff, ratio = mf.difference(method=method), mf.ratio(method=method)
            sdiff, sratio = ms.difference(method=method), ms.ratio(method=method)
            between[method] = {
                "difference": {**{m: num(diff[m]) for m in binary if m != "count"},
                               "mean_score": num(sdiff["mean_score"])},
                "ratio": {**{m: num(ratio[m]) for m in binary if m != "count"},
                          "mean_score": num(sratio["mean_score"])},
                "demographic_parity_difference": num(flm.demographic_parity_difference(
                    y, y_pred, sensitive_features=sf, method=method)),
                "demographic_parity_ratio": num(flm.demographic_parity_ratio(
                    y, y_pred, sensitive_features=sf, method=method)),
                "equal_opportunity_difference": num(flm.equal_opportunity_difference(
                    y, y_pred, sensitive_features=sf, method=method)),
                "equal_opportunity_ratio": num(flm.equal_opportunity_ratio(
                    y, y_pred, sensitive_features=sf, method=method)),
            }
            for agg in ["worst_case", "mean"]:
                between[method][f"equalized_odds_difference_{agg}"] = num(
                    flm.equalized_odds_difference(y, y_pred, sensitive_features=sf,
                                                  method=method, agg=agg))
                between[method][f"equalized_odds_ratio_{agg}"] = num(
                    flm.equalized_odds_ratio(y, y_pred, sensitive_features=sf,
                                             method=method, agg=agg))
        out[" & ".join(attrs)] = {"groups": groups, "overall": overall, "between": between}
    return out


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    df, X, y = load()
    rng = np.random.default_rng(20261124)
    train = rng.random(len(df)) < 0.7
    result = {
        "about": "Expected audit values, computed by scripts/train_models.py with Fairlearn on "
                 "onnxruntime's predictions. Data: UCI Adult (Becker and Kohavi, 1996), CC BY 4.0.",
        "versions": {"python": sys.version.split()[0], "fairlearn": fairlearn.__version__,
                     "scikit-learn": sklearn.__version__, "skl2onnx": skl2onnx.__version__,
                     "onnxruntime": ort.__version__, "numpy": np.__version__,
                     "pandas": pd.__version__},
        "data": {"file": "adult.csv",
                 "sha256": hashlib.sha256(DATA.read_bytes()).hexdigest(),
                 "rows": len(df), "label": LABEL, "positive": POSITIVE},
        "threshold": THRESHOLD,
        "calibration_bins": CAL_BINS,
        "models": {},
    }
    for kind in ["logreg", "gbm"]:
        model = pipeline(kind).fit(X[train], y[train])
        path = OUT / f"adult-{kind}.onnx"
        export(model, path)
        scores = onnx_scores(path, X)
        y_pred = (scores >= THRESHOLD).astype(np.int64)
        result["models"][kind] = {
            "file": path.name,
            "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
            "bytes": path.stat().st_size,
            "predicted_positive": int(y_pred.sum()),
            "predictions_sha256": hashlib.sha256(y_pred.astype(np.uint8).tobytes()).hexdigest(),
            "scores_sha256": hashlib.sha256(scores.astype("<f4").tobytes()).hexdigest(),
            "groupings": fairlearn_values(df, y, y_pred, scores),
        }
        print(f"{kind}: {path.stat().st_size} bytes, {int(y_pred.sum())} predicted positive, "
              f"accuracy {accuracy_score(y, y_pred):.4f}", file=sys.stderr)
    (OUT / "fairlearn-expected.json").write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
