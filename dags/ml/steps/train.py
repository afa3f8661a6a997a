"""Placeholder train: one matrix cell, reports a made-up score."""
import argparse

from _placeholder import output

p = argparse.ArgumentParser()
p.add_argument("--c", type=float, required=True)
p.add_argument("--max-iter", type=int, required=True)
a = p.parse_args()
score = round(0.80 + min(a.c, 1.0) / 10 + a.max_iter / 100000, 4)
print(f"placeholder train: C={a.c} max_iter={a.max_iter} -> score {score}")
output(score=score, model=f"model-c{a.c}-i{a.max_iter}")
