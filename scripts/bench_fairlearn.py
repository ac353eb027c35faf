#!/usr/bin/env python3
"""The Python side of scripts/bench-audit.sh: on the same CSV and ONNX model as `embargo audit`,
time onnxruntime's Python API (inference) and Fairlearn's MetricFrame computing the same group
metrics (count, selection rate, TPR, FPR, FNR, TNR, PPV, accuracy, mean score) by each sensitive
attribute and their intersection, with the same number of bootstrap resamples (MetricFrame's
n_boot). Prints one JSON object.

    bench_fairlearn.py DATA.csv MODEL.onnx N_BOOT
"""

import json
import sys
import time

import numpy as np
import onnxruntime as ort
import pandas as pd
from fairlearn import metrics as flm
from sklearn.metrics import accuracy_score, precision_score

NUMERIC = ["age", "fnlwgt", "education-num", "capital-gain", "capital-loss", "hours-per-week"]
CATEGORICAL = ["workclass", "education", "marital-status", "occupation", "relationship",
               "race", "sex", "native-country"]
GROUPINGS = [["sex"], ["race"], ["sex", "race"]]


def main():
    data, model, n_boot = sys.argv[1], sys.argv[2], int(sys.argv[3])
    out = {}
    t = time.perf_counter()
    df = pd.read_csv(data, dtype=str, keep_default_na=False)
    out["load_s"] = time.perf_counter() - t

    t = time.perf_counter()
    feeds = {}
    for c in NUMERIC:
        feeds[c.replace("-", "_")] = df[c].to_numpy().astype(np.float32).reshape(-1, 1)
    for c in CATEGORICAL:
        feeds[c.replace("-", "_")] = df[c].to_numpy(dtype=object).reshape(-1, 1)
    out["feed_prep_s"] = time.perf_counter() - t
    sess = ort.InferenceSession(model, providers=["CPUExecutionProvider"])
    t = time.perf_counter()
    probs = sess.run(["probabilities"], feeds)[0]
    out["inference_s"] = time.perf_counter() - t
    scores = probs[:, 1].astype(np.float64)
    y = (df["income-per-year"] == ">50K").astype(np.int64).to_numpy()
    y_pred = (probs[:, 1] >= 0.5).astype(np.int64)
    out["rows"] = len(df)
    out["predicted_positive"] = int(y_pred.sum())

    metrics = {
        "count": flm.count,
        "selection_rate": flm.selection_rate,
        "tpr": flm.true_positive_rate,
        "fpr": flm.false_positive_rate,
        "fnr": flm.false_negative_rate,
        "tnr": flm.true_negative_rate,
        "ppv": lambda a, b: precision_score(a, b, zero_division=np.nan),
        "accuracy": accuracy_score,
    }

    def frames(boot):
        kw = dict(n_boot=boot, ci_quantiles=[0.025, 0.975], random_state=1) if boot else {}
        res = []
        for attrs in GROUPINGS:
            sf = df[attrs] if len(attrs) > 1 else df[attrs[0]]
            mf = flm.MetricFrame(metrics=metrics, y_true=y, y_pred=y_pred, sensitive_features=sf, **kw)
            ms = flm.MetricFrame(metrics={"mean_score": flm.mean_prediction}, y_true=y,
                                 y_pred=scores, sensitive_features=sf, **kw)
            res.append((mf.by_group, mf.difference(), mf.ratio(), mf.difference(method="to_overall"),
                        mf.ratio(method="to_overall"), ms.by_group))
        return res

    t = time.perf_counter()
    frames(0)
    out["metricframe_s"] = time.perf_counter() - t
    if n_boot:
        t = time.perf_counter()
        frames(n_boot)
        out["metricframe_bootstrap_s"] = time.perf_counter() - t
        out["n_boot"] = n_boot
    print(json.dumps(out))


if __name__ == "__main__":
    main()
