#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Preallocation benchmark: a 4 GiB guest node bound to host node 0 and preallocated, started by
`qpin run` in turn with QEMU's default (one preallocation thread: prealloc-threads=1 given) and
with qpin's choice (no prealloc-threads given: the allowed CPUs of the node, at most 16), in one
run so that the ratio compares like with like. The guest is a firmware that ends QEMU as soon as
it runs, so each launch is preallocation plus start-up. Medians of the "prealloc" and
"spawn_to_ready" phases of qpin's --report and their ratio default/qpin are printed.

Usage: bench-prealloc.py QPIN EXIT_FIRMWARE [ROUNDS]
Exit status: 0 when every run succeeded (the numbers are reported, never asserted: these
machines are shared and noisy), 77 when QEMU is absent, 1 when a run failed.
"""

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile

QEMU = shutil.which("qemu-system-x86_64")
SIZE = "4G"


def launch(qpin, firmware, extra, report):
    if os.path.exists(report):
        os.unlink(report)
    argv = [qpin, "run", "-q", "--report", report, "--numa", f"{SIZE}@0:prealloc{extra}", "--",
            QEMU, "-accel", "tcg", "-smp", "2", "-display", "none", "-nodefaults",
            "-bios", firmware, "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04"]
    proc = subprocess.run(argv, capture_output=True)
    # The firmware guest ends QEMU with status 1, which qpin mirrors.
    if proc.returncode != 1 or not os.path.exists(report):
        print(f"qpin run failed (status {proc.returncode}): "
              f"{proc.stderr.decode(errors='replace')[-500:]}")
        return None
    with open(report) as f:
        doc = json.load(f)
    t = doc.get("timings_ms", {})
    return doc["numa"][0]["prealloc_threads"], t.get("prealloc"), t.get("spawn_to_ready")


def main():
    if len(sys.argv) < 3:
        print(__doc__)
        return 2
    qpin, firmware = sys.argv[1:3]
    rounds = int(sys.argv[3]) if len(sys.argv) > 3 else 5
    if not QEMU:
        print("SKIP: qemu-system-x86_64 not found")
        return 77
    results = {"default": [], "qpin": []}
    threads = {}
    with tempfile.TemporaryDirectory(prefix="qpin-bench-") as tmp:
        report = os.path.join(tmp, "report.json")
        # Alternating, so that a change of load on the machine hits both alike.
        for _ in range(rounds):
            for name, extra in (("default", ":prealloc-threads=1"), ("qpin", "")):
                r = launch(qpin, firmware, extra, report)
                if r is None:
                    return 1
                threads[name] = r[0]
                results[name].append(r[1:])
    print(f"prealloc: {SIZE} on host node 0, {rounds} launches each, "
          f"{len(os.sched_getaffinity(0))} allowed CPUs")
    med = {}
    for name in ("default", "qpin"):
        pre = statistics.median(r[0] for r in results[name])
        ready = statistics.median(r[1] for r in results[name])
        med[name] = (pre, ready)
        print(f"prealloc: {name:8s} prealloc-threads={threads[name]:2d}  prealloc median "
              f"{pre:8.1f} ms  spawn_to_ready median {ready:8.1f} ms")
    if med["qpin"][0] > 0:
        print(f"prealloc: ratio default/qpin (prealloc) = {med['default'][0] / med['qpin'][0]:.2f}")
    print(f"prealloc: ratio default/qpin (spawn_to_ready) = "
          f"{med['default'][1] / med['qpin'][1]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
