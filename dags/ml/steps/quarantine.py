"""Quarantine: move the rows of a dataset version that fail validate's
row checks (missing values, negative sizes) into quarantine.npz next to
it, so that `weir retry RUN --from validate` can go on with the same
version while the broken rows are kept for whoever sends the data.

    /usr/bin/python3 dags/ml/steps/quarantine.py [--data-dir DIR] VERSION

Without --data-dir, the data folder is the instance's (mlcommon.py): run
it from the folder where `weir up` runs.
"""
import argparse
import os

import numpy as np

p = argparse.ArgumentParser()
p.add_argument("--data-dir", default="")
p.add_argument("version")
a = p.parse_args()
if a.data_dir:
    os.environ["WEIR_PARAM_DATA_DIR"] = a.data_dir
import mlcommon  # noqa: E402 (reads the data folder set above)

X, y = mlcommon.load_dataset(a.version)
bad = np.isnan(X).any(axis=1) | (np.nan_to_num(X, nan=0.0) < 0).any(axis=1)
folder = os.path.dirname(mlcommon.dataset_path(a.version))
np.savez(os.path.join(folder, "quarantine.npz"), X=X[bad], y=y[bad])
np.savez(mlcommon.dataset_path(a.version), X=X[~bad], y=y[~bad])
print(f"quarantine: {int(bad.sum())} rows of {a.version} moved to "
      f"{folder}/quarantine.npz, {int((~bad).sum())} kept")
