"""Train one cell of the hyperparameter matrix: a scaled logistic
regression, scored on the validation rows; the model is pickled under the
data folder, keyed by data version and cell."""
import argparse
import os
import pickle
import warnings

from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import mlcommon

p = argparse.ArgumentParser()
p.add_argument("--version", required=True)
p.add_argument("--c", type=float, required=True)
p.add_argument("--max-iter", type=int, required=True)
a = p.parse_args()

X, y = mlcommon.load_dataset(a.version)
tr, va, _ = mlcommon.split(len(y))
model = make_pipeline(StandardScaler(),
                      LogisticRegression(C=a.c, max_iter=a.max_iter))
with warnings.catch_warnings():
    warnings.simplefilter("ignore", ConvergenceWarning)
    model.fit(X[tr], y[tr])
score = float(model.score(X[va], y[va]))

folder = os.path.join(mlcommon.data_dir(), "models", a.version)
os.makedirs(folder, exist_ok=True)
path = os.path.join(folder, f"model-c{a.c:g}-i{a.max_iter}.pkl")
with open(path, "wb") as f:
    pickle.dump(model, f)
print(f"train: C={a.c:g} max_iter={a.max_iter} validation score {score:.4f}")
mlcommon.output({"score": round(score, 4), "model": path,
                 "metric.validation_score": round(score, 4)})
