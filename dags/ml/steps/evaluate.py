"""Placeholder evaluate: picks a model name and reports a fixed accuracy."""
from _placeholder import output

print("placeholder evaluate: would pick the best cell from $WEIR_INPUTS")
output(model="model-c1.0-i500", accuracy=0.9)
