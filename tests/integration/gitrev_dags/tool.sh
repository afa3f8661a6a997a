#!/bin/sh
# The script beside the DAG files; the test commits new revisions of it.
echo tool-v1
