"""What the example's steps share: the data folder, datasets on disk, and
writing outputs the Weir way (key=value lines appended to $WEIR_OUTPUTS)."""
import hashlib
import json
import os
import sys

import numpy as np

# Columns of the example dataset (scikit-learn's breast cancer data, which
# ships with the library: nothing is downloaded).
N_FEATURES = 30
SPLIT_SEED = 7


def data_dir():
    """The folder that keeps datasets, models and the registry."""
    d = os.environ.get("WEIR_PARAM_DATA_DIR") or "/tmp/weir-ml"
    os.makedirs(d, exist_ok=True)
    return d


def dataset_path(version):
    return os.path.join(data_dir(), "datasets", version, "data.npz")


def load_dataset(version):
    """Features X and labels y of a dataset version written by ingest."""
    path = dataset_path(version)
    if not os.path.exists(path):
        fail(f"dataset {version} not found at {path}: run ingest first")
    with np.load(path) as f:
        return f["X"], f["y"]


def dataset_hash(X, y):
    h = hashlib.sha256()
    h.update(np.ascontiguousarray(X, dtype=np.float64).tobytes())
    h.update(np.ascontiguousarray(y, dtype=np.int64).tobytes())
    return h.hexdigest()


def split(n):
    """Fixed train / validation / holdout row indices (60/20/20)."""
    idx = np.random.default_rng(SPLIT_SEED).permutation(n)
    a, b = int(n * 0.6), int(n * 0.8)
    return idx[:a], idx[a:b], idx[b:]


def inputs():
    """The outputs of the upstream steps ($WEIR_INPUTS), {} by hand."""
    path = os.environ.get("WEIR_INPUTS")
    if not path:
        return {}
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def output(values):
    """Record outputs: appended to $WEIR_OUTPUTS, printed too."""
    lines = "".join(f"{k}={v}\n" for k, v in values.items())
    print(lines, end="")
    path = os.environ.get("WEIR_OUTPUTS")
    if path:
        with open(path, "a", encoding="utf-8") as f:
            f.write(lines)


def fail(message, code=2):
    """Stop the step with a clear message; exit 2 is not retried."""
    print(f"error: {message}", file=sys.stderr)
    sys.exit(code)
