"""Placeholder register: says which model it would register."""
import argparse

p = argparse.ArgumentParser()
p.add_argument("--model", required=True)
print(f"placeholder register: would register {p.parse_args().model}")
