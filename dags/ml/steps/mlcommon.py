"""What the example's steps share: the data folder, datasets on disk, and
writing outputs the Weir way (key=value lines appended to $WEIR_OUTPUTS)."""
import hashlib
import json
import os
import sys
import tempfile

import numpy as np

# Columns of the example dataset (scikit-learn's breast cancer data, which
# ships with the library: nothing is downloaded).
N_FEATURES = 30
SPLIT_SEED = 7


def instance_data_dir():
    """The data folder of the Weir instance these steps run under, so that
    two instances (or two users) on one host never share datasets:
    $WEIR_HOME/data/ml when WEIR_HOME is set; else .weir/data/ml of the
    nearest folder, from here up, that holds the .weir home `weir up`
    made (steps run in the DAG's folder, dags/ml, under it); else a folder
    of this user's own under the temporary folder, named after where the
    steps run."""
    home = os.environ.get("WEIR_HOME")
    if home:
        return os.path.join(home, "data", "ml")
    d = os.getcwd()
    while True:
        if os.path.isdir(os.path.join(d, ".weir")):
            return os.path.join(d, ".weir", "data", "ml")
        up = os.path.dirname(d)
        if up == d:
            break
        d = up
    tag = hashlib.sha256(os.getcwd().encode()).hexdigest()[:12]
    return os.path.join(tempfile.gettempdir(),
                        "weir-ml-%d-%s" % (os.getuid(), tag))


def data_dir():
    """The folder that keeps datasets, models and the registry: the
    data_dir param when it is set, else the instance's own."""
    d = os.environ.get("WEIR_PARAM_DATA_DIR") or instance_data_dir()
    os.makedirs(d, mode=0o700, exist_ok=True)
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
