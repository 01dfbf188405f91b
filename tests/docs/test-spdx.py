#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Every source file of the tree names its license (SPDX) in its first lines. Walks the source
tree (no git needed, so it also runs in a package build); data files (fixtures, transcripts,
JSON, INI, Markdown) are not source and are left out."""
import os, re, sys

root = os.environ["QPIN_SOURCE_ROOT"]
tag = "SPDX-License-Identifier: GPL-2.0-or-later"
source = re.compile(r"(\.(c|h|py|sh|bash|build|service|1)|meson_options\.txt)$")
scripts = {"scripts/setup", "scripts/fuzz", "scripts/dump-host", "scripts/gen-qemu-options", ".ci/run"}
data_dirs = ("tests/fixtures", "tests/numa/data", "tests/qmp/transcripts", "debian", ".git")
missing, checked = [], 0
for d, dirs, files in os.walk(root):
    rel = os.path.relpath(d, root)
    rel = "" if rel == "." else rel
    # Build directories sit in the tree (build/, build-asan/): they hold meson's own files.
    dirs[:] = [x for x in dirs
               if not x.startswith(("build", "obj-")) and os.path.join(rel, x) not in data_dirs]
    for f in files:
        path = os.path.join(rel, f)
        if not (source.search(f) or path in scripts):
            continue
        checked += 1
        with open(os.path.join(root, path), errors="replace") as fh:
            head = "".join(fh.readline() for _ in range(3))
        if tag not in head:
            missing.append(path)
print("1..1")
if missing or checked < 100:
    print(f"not ok 1 - SPDX headers ({checked} files checked); missing in: {', '.join(missing)}")
    sys.exit(1)
print(f"ok 1 - {checked} source files carry '{tag}'")
