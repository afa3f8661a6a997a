"""Validate: schema, missing values, value ranges, and a drift check
against the last dataset version that passed. Exits 2 (not retried) with
a message naming every problem found."""
import argparse
import os

import numpy as np

import mlcommon

p = argparse.ArgumentParser()
p.add_argument("--version", required=True)
p.add_argument("--max-drift", type=float, default=1.0,
               help="largest shift of a column's mean, in standard deviations")
a = p.parse_args()

X, y = mlcommon.load_dataset(a.version)
problems = []
if X.ndim != 2 or X.shape[1] != mlcommon.N_FEATURES:
    problems.append(f"schema: expected {mlcommon.N_FEATURES} columns, "
                    f"found {X.shape[1] if X.ndim == 2 else X.ndim}")
if len(y) != len(X) or not set(np.unique(y)) <= {0, 1}:
    problems.append("schema: labels must be 0 or 1, one per row")
missing = int(np.isnan(X).sum())
if missing:
    rows = np.unique(np.where(np.isnan(X))[0])
    problems.append(f"missing values: {missing} in {len(rows)} rows "
                    f"(first row {int(rows[0])})")
negative = np.where(np.nan_to_num(X, nan=0.0) < 0)
if len(negative[0]):
    problems.append(f"value ranges: {len(negative[0])} negative values, "
                    f"first at row {int(negative[0][0])} column "
                    f"{int(negative[1][0])}; every feature is a size >= 0")

marker = os.path.join(mlcommon.data_dir(), "datasets", "VALIDATED")
previous = open(marker, encoding="utf-8").read().strip() \
    if os.path.exists(marker) else ""
drift = 0.0
if not problems and previous and previous != a.version \
        and os.path.exists(mlcommon.dataset_path(previous)):
    P, _ = mlcommon.load_dataset(previous)
    std = P.std(axis=0) + 1e-9
    shift = np.abs(X.mean(axis=0) - P.mean(axis=0)) / std
    drift = float(shift.max())
    if drift > a.max_drift:
        problems.append(f"drift: column {int(shift.argmax())} moved "
                        f"{drift:.2f} standard deviations from {previous}")

if problems:
    mlcommon.fail(f"dataset {a.version} is not valid:\n  - "
                  + "\n  - ".join(problems))
with open(marker, "w", encoding="utf-8") as f:
    f.write(a.version + "\n")
print(f"validate: {a.version} ok ({len(y)} rows, drift {drift:.3f} "
      f"against {previous or 'nothing'})")
out = {"data.version": a.version, "data.hash": mlcommon.dataset_hash(X, y),
       "data.rows": len(y), "metric.drift": round(drift, 4)}
quarantined = os.path.join(os.path.dirname(mlcommon.dataset_path(a.version)),
                           "quarantine.npz")
if os.path.exists(quarantined):
    with np.load(quarantined) as q:
        out["data.quarantined"] = len(q["y"])
if previous:
    out["data.previous"] = previous
mlcommon.output(out)
