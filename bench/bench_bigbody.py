#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Memory of weir-server around the largest admin bodies it accepts.

    bench_bigbody.py URL PID ADMIN_TOKEN

Against a running server (bench_bigbody.sh starts one), reads VmRSS and
VmHWM of PID from /proc:

baseline_mb   RSS after a warm-up of small requests.
peak_growth   VmHWM - baseline while it takes, one after the other, a
              single event with a payload of 1 MiB (the per-event limit)
              and a batch of 15 events of 1 MiB each (near the 16 MiB
              batch limit); as a multiple of the largest body sent.
after_60s     RSS 60 s later, as a % of the baseline.

Prints one JSON object per figure, {"workload", "metric", "value",
"unit"}, and exits 1 when peak_growth > 4 or after_60s > 110.
"""
import json
import os
import sys
import time
import urllib.request

URL, PID, TOKEN = sys.argv[1], sys.argv[2], sys.argv[3]
MIB = 1024 * 1024


def mem(field):
    """A field of /proc/PID/status, in MiB."""
    with open("/proc/%s/status" % PID) as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024.0
    raise RuntimeError("no %s for pid %s" % (field, PID))


def post(body):
    data = json.dumps(body).encode()
    r = urllib.request.Request(URL + "/api/v1/events", data=data,
                               method="POST")
    r.add_header("Authorization", "Bearer " + TOKEN)
    r.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(r, timeout=120) as resp:
        resp.read()
        if resp.status != 202:
            raise RuntimeError("HTTP %d" % resp.status)
    return len(data)


def emit(metric, value, unit):
    print(json.dumps({"workload": "bigbody", "metric": metric,
                      "value": round(value, 2), "unit": unit}), flush=True)


def main():
    for i in range(50):
        post({"name": "bench.small", "payload": {"i": i}})
    time.sleep(1)
    base = mem("VmRSS")
    # 1 MiB of payload as compact JSON, less the quotes and the key
    payload = {"s": "x" * (MIB - 16)}
    largest = post({"name": "bench.big", "payload": payload})
    largest = max(largest, post({"events": [
        {"name": "bench.big", "payload": payload} for _ in range(15)]}))
    peak = mem("VmHWM") - base
    growth = peak / (largest / MIB)
    emit("baseline_mb", base, "MiB")
    emit("largest_body_mb", largest / MIB, "MiB")
    emit("peak_growth_mb", peak, "MiB")
    emit("peak_growth", growth, "x body")
    time.sleep(60)
    after = mem("VmRSS")
    emit("after_60s_mb", after, "MiB")
    emit("after_60s", 100.0 * after / base, "% of baseline")
    sys.exit(0 if growth <= 4 and after <= base * 1.10 else 1)


if __name__ == "__main__":
    main()
