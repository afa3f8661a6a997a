"""Register: copy the chosen model into the registry folder and declare it
as an artifact (artifact.* outputs), which Weir records as a new version
of the model in its registry. The DAG runs this step only when the
accuracy reaches params.accuracy_threshold; the check is repeated here so
that the script is safe by hand too."""
import argparse
import os
import shutil

import mlcommon

p = argparse.ArgumentParser()
p.add_argument("--name", required=True)
p.add_argument("--model", required=True)
p.add_argument("--accuracy", type=float, required=True)
p.add_argument("--threshold", type=float, required=True)
p.add_argument("--data-version", required=True)
a = p.parse_args()

if a.accuracy < a.threshold:
    mlcommon.fail(f"accuracy {a.accuracy} is below the threshold "
                  f"{a.threshold}: not registering")
version = "r" + os.environ.get("WEIR_RUN_ID", "0")
folder = os.path.join(mlcommon.data_dir(), "registry", a.name, version)
os.makedirs(folder, exist_ok=True)
target = os.path.join(folder, "model.pkl")
shutil.copyfile(a.model, target)
print(f"register: {a.name} {version} (accuracy {a.accuracy}) -> {target}")
mlcommon.output({"artifact.name": a.name, "artifact.version": version,
                 "artifact.uri": "file://" + target,
                 "metric.accuracy": a.accuracy,
                 "data.version": a.data_version})
