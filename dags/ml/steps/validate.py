"""Placeholder validate: accepts the dataset it is given."""
import argparse

p = argparse.ArgumentParser()
p.add_argument("--version", required=True)
a = p.parse_args()
print(f"placeholder validate: would check schema, ranges and drift of {a.version}")
