"""Shared helper of the placeholder steps: write outputs the Weir way."""
import os


def output(**values):
    """Append key=value lines to $WEIR_OUTPUTS (printed when run by hand)."""
    path = os.environ.get("WEIR_OUTPUTS")
    lines = "".join(f"{k.replace('__', '.')}={v}\n" for k, v in values.items())
    if path:
        with open(path, "a", encoding="utf-8") as f:
            f.write(lines)
    else:
        print(lines, end="")
