"""Evaluate: read every train cell's outputs from $WEIR_INPUTS, pick the
best validation score, and measure that model's accuracy on the holdout
rows it never saw."""
import argparse
import pickle

import mlcommon

p = argparse.ArgumentParser()
p.add_argument("--version", required=True)
a = p.parse_args()

cells = mlcommon.inputs().get("train", [])
if not cells:
    mlcommon.fail("no train cells in $WEIR_INPUTS")
best = max(cells, key=lambda c: float(c["outputs"]["score"]))
with open(best["outputs"]["model"], "rb") as f:
    model = pickle.load(f)
X, y = mlcommon.load_dataset(a.version)
_, _, ho = mlcommon.split(len(y))
accuracy = float(model.score(X[ho], y[ho]))
print(f"evaluate: {len(cells)} cells, best {best['matrix']} "
      f"(validation {best['outputs']['score']}), holdout accuracy "
      f"{accuracy:.4f}")
mlcommon.output({"model": best["outputs"]["model"],
                 "accuracy": round(accuracy, 4),
                 "metric.accuracy": round(accuracy, 4),
                 "data.version": a.version})
