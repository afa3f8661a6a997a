"""Ingest: write a versioned dataset into the data folder.

The source is scikit-learn's breast cancer dataset. `--version sample`
keeps 300 rows (fast, for dev), `latest` all 569. `--bad-rows true` adds a
batch of broken rows (missing values, impossible sizes) on purpose, so that
validate has something to refuse. The version is derived from the content,
so the same data always gets the same version.
"""
import argparse
import os

import numpy as np
from sklearn.datasets import load_breast_cancer

import mlcommon

p = argparse.ArgumentParser()
p.add_argument("--version", default="latest", choices=["latest", "sample"])
p.add_argument("--bad-rows", default="false", choices=["true", "false"])
a = p.parse_args()

X, y = load_breast_cancer(return_X_y=True)
if a.version == "sample":
    keep = np.random.default_rng(1).permutation(len(y))[:300]
    X, y = X[np.sort(keep)], y[np.sort(keep)]
if a.bad_rows == "true":
    bad = X[:25].copy()
    bad[:, 0] = np.nan       # missing mean radius
    bad[:, 3] = -1000.0      # a negative area
    X = np.vstack([X, bad])
    y = np.concatenate([y, y[:25]])

digest = mlcommon.dataset_hash(X, y)
version = "v" + digest[:12]
path = mlcommon.dataset_path(version)
os.makedirs(os.path.dirname(path), exist_ok=True)
np.savez(path, X=X, y=y)
print(f"ingest: {len(y)} rows ({a.version}, bad rows: {a.bad_rows}, "
      f"environment {os.environ.get('WEIR_ENV', 'none')}) -> {path}")
mlcommon.output({"data.version": version, "data.hash": digest,
                 "data.rows": len(y), "data.uri": "file://" + path})
