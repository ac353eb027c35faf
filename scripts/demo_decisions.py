#!/usr/bin/env python3
"""Decision records for the demo: a platform's model ranks candidates for users.

Usage: demo_decisions.py MODEL.onnx ADULT.csv PLATFORM COMMITMENT USERS OUT.jsonl

Each user gets a ranking of 5 candidates (rows of UCI Adult, Becker and Kohavi 1996,
CC BY 4.0), scored by the model with ONNX Runtime (the `onnxruntime` package scripts/setup.sh
installs into .venv-audit) and shown by descending score: one decision record per line, as
schema/decision-record.schema.json describes. The inputs are named as skl2onnx named them.
"""
import csv
import datetime
import json
import sys

import numpy as np
import onnxruntime as ort

NUMERIC = {"age": "age", "fnlwgt": "fnlwgt", "education_num": "education-num",
           "capital_gain": "capital-gain", "capital_loss": "capital-loss",
           "hours_per_week": "hours-per-week"}
TEXT = {"workclass": "workclass", "education": "education", "marital_status": "marital-status",
        "occupation": "occupation", "relationship": "relationship", "race": "race", "sex": "sex",
        "native_country": "native-country"}
PER_USER = 5


def main():
    model, data, platform, commitment, users, out = sys.argv[1:7]
    users = int(users)
    with open(data, newline="") as f:
        rows = [r for r in csv.DictReader(f) if "?" not in r.values()][: users * PER_USER]
    session = ort.InferenceSession(model, providers=["CPUExecutionProvider"])
    feeds = {}
    for name, col in NUMERIC.items():
        feeds[name] = np.array([[float(r[col])] for r in rows], dtype=np.float32)
    for name, col in TEXT.items():
        feeds[name] = np.array([[r[col]] for r in rows], dtype=object)
    names = [o.name for o in session.get_outputs()]
    probabilities = session.run(None, feeds)[names.index("probabilities")]
    scores = [float(p[1]) if not isinstance(p, dict) else float(p[1]) for p in probabilities]
    start = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    with open(out, "w") as f:
        for u in range(users):
            batch = list(range(u * PER_USER, (u + 1) * PER_USER))
            candidates = []
            for i in batch:
                r = rows[i]
                inputs = {n: float(r[c]) for n, c in NUMERIC.items()}
                inputs.update({n: r[c] for n, c in TEXT.items()})
                candidates.append({"item": f"job-{i}", "inputs": inputs, "score": scores[i]})
            shown = sorted(range(PER_USER), key=lambda k: -candidates[k]["score"])
            when = start + datetime.timedelta(seconds=u)
            record = {
                "v": 1, "platform": platform, "commitment": int(commitment),
                "time": when.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
                "subject": f"user-{u:04d}", "surface": "job-feed", "id": f"decision-{u}",
                "output": {"name": "probabilities", "index": 1},
                "candidates": candidates, "shown": shown,
            }
            f.write(json.dumps(record, separators=(",", ":")) + "\n")


if __name__ == "__main__":
    main()
