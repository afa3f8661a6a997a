"""Placeholder ingest: names a dataset version without reading any data."""
import argparse

from _placeholder import output

p = argparse.ArgumentParser()
p.add_argument("--version", default="latest")
p.add_argument("--bad-rows", default="false")
a = p.parse_args()
version = "v1" if a.version in ("latest", "sample") else a.version
print(f"placeholder ingest: would write dataset {version} (bad rows: {a.bad_rows})")
output(data__version=version, data__rows=1000)
