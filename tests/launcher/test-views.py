#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""What people read: the layout of every --help, qpin host's summary, --cores and -o, and
--show's values. Runs the qpin binary on fixture hosts; prints TAP.

Environment: QPIN (the binary), QPIN_SOURCE_ROOT.
"""
import os
import re
import subprocess
import sys

QPIN = os.environ["QPIN"]
SRC = os.environ["QPIN_SOURCE_ROOT"]
PHI = "tests/fixtures/hosts/xeon-phi-7250"
OFFLINE = "tests/fixtures/hosts/offline-isolated"
results = []


def check(ok, name, why=""):
    results.append((bool(ok), name, why))


def qpin(*args):
    return subprocess.run([QPIN, *args], capture_output=True, text=True, cwd=SRC,
                          env=dict(os.environ, LC_ALL="C"))


SECTIONS = ["Usage:", "Options:", "Examples:", "Exit status:", "See also:"]


def help_layout(cmd):
    argv = ([cmd] if cmd else []) + ["--help"]
    p = qpin(*argv)
    name = f"qpin {cmd or ''} --help".replace("  ", " ")
    check(p.returncode == 0 and p.stderr == "", f"{name} exits 0 quietly", p.stderr)
    lines = p.stdout.splitlines()
    heads = [l for l in lines if re.match(r"^[A-Z][a-z ]*:$", l)]
    expected = SECTIONS[:1] + (["Commands:"] if not cmd else []) + SECTIONS[1:]
    check(heads == expected, f"{name} has the sections {', '.join(expected)} in order",
          f"got {heads}")
    usage = lines[1] if len(lines) > 1 else ""
    check(usage.startswith(f"  qpin {cmd} " if cmd else "  qpin "), f"{name}: usage line",
          usage)
    # One paragraph of description between the usage lines and the next section.
    after_usage = p.stdout.split("\n\n", 2)
    check(len(after_usage) > 2 and after_usage[1].strip()
          and not re.search(r"^[A-Z][a-z ]*:$", after_usage[1], re.M),
          f"{name}: a paragraph of description", after_usage[1] if len(after_usage) > 1 else "")
    wide = [l for l in lines if len(l) > 80]
    check(not wide, f"{name}: lines within 80 columns", "\n".join(wide))
    opts = p.stdout.split("\nOptions:\n", 1)[-1].split("\n\n", 1)[0]
    check(re.search(r"^  -h, --help ", opts, re.M), f"{name}: options list -h, --help", opts)
    exits = p.stdout.split("\nExit status:\n", 1)[-1].split("\n\n", 1)[0]
    check(re.search(r"^  0 +success$", exits, re.M) and re.search(r"^  2 +bad command line",
                                                                 exits, re.M),
          f"{name}: exit statuses 0 and 2 explained", exits)
    examples = p.stdout.split("\nExamples:\n", 1)[-1].split("\n\n", 1)[0]
    check(examples.strip() and all(re.match(r"^  (qpin |    )", l) for l in examples.splitlines()),
          f"{name}: examples are qpin command lines", examples)
    return p.stdout


def main():
    # A command that draws its --help with launcher/cli/help.c joins this list.
    for cmd in (None, "run", "plan", "pin", "host", "qmp", "check", "top"):
        help_layout(cmd)
    top = qpin("--help").stdout
    check(re.search(r"^  -V, --version ", top, re.M), "qpin --help lists -V, --version", top)
    v = qpin("-V")
    check(v.returncode == 0 and re.fullmatch(r"qpin \S+\n", v.stdout), "qpin -V prints the version",
          v.stdout + v.stderr)
    run_help = qpin("run", "--help").stdout
    check("QEMU's own status" in run_help, "qpin run --help says it exits with QEMU's status")

    # The summary: a screen of lines on the 272-CPU host, the facts of the fixture.
    p = qpin("host", "--sysroot", PHI)
    lines = p.stdout.splitlines()
    check(p.returncode == 0 and len(lines) <= 16, "qpin host on the Xeon Phi is a few lines",
          p.stdout + p.stderr)
    for want in [
        "host: tests/fixtures/hosts/xeon-phi-7250",
        "cpus: 0-271 online (272), offline none; 1 package, 68 cores, 4 threads per core",
        "allowed: CPUs 0-271 (272 of 272), memory nodes 0-1",
        "available: 2 nodes (0-1)",
        "node 0 cpus: 0-271 (68 cores x 4 threads)",
        "node 0 llc: 34 groups of 8 CPUs, first 0-1,68-69,136-137,204-205",
        "node 1 cpus: none",
        "node 1 memory: 15.8 GiB, 15.7 GiB free; no hugepages",
        "  0:   10   31",
    ]:
        check(want in lines, f"qpin host (Xeon Phi): '{want}'", p.stdout)
    for tree in sorted(os.listdir(os.path.join(SRC, "tests/fixtures/hosts"))):
        path = os.path.join("tests/fixtures/hosts", tree)
        if not os.path.isdir(os.path.join(SRC, path)):
            continue
        p = qpin("host", "--sysroot", path)
        wide = [l for l in p.stdout.splitlines() if len(l) > 80]
        check(p.returncode == 0 and p.stdout and not wide, f"qpin host on {tree} fits 80 columns",
              p.stderr + "\n".join(wide))
    p = qpin("host", "--sysroot", OFFLINE)
    for want in ["cpus: 0-11 online (12), offline 12-15; 1 package, 8 cores, 2 threads per core",
                 "allowed: CPUs 0-1,6-11 (8 of 12), memory nodes 0",
                 "isolated: 2-5; nohz_full: 2-5",
                 "node 0 memory: 31.2 GiB, 26.1 GiB free; hugepages 2M 1000 of 1024 free"]:
        check(want in p.stdout.splitlines(), f"qpin host (offline, isolated): '{want}'", p.stdout)

    # --cores: one row per core, an LLC id rather than the LLC's CPU list.
    p = qpin("host", "--sysroot", PHI, "--cores")
    rows = p.stdout.splitlines()
    check(p.returncode == 0 and len(rows) == 69, "qpin host --cores: a header and 68 cores",
          f"{len(rows)} lines")
    check(rows and rows[0].split() == ["SOCKET", "DIE", "CORE", "NODE", "CPUS", "LLC"],
          "qpin host --cores: default columns", rows[0] if rows else "")
    check(len(rows) > 3 and rows[1].split() == ["0", "0", "0", "0", "0,68,136,204", "0"]
          and rows[3].split() == ["0", "0", "2", "0", "2,70,138,206", "1"],
          "qpin host --cores: the cores of the first two LLC groups", "\n".join(rows[:4]))

    # -o: the columns asked for, in that order, in any case.
    p = qpin("host", "--sysroot", OFFLINE, "-o", "core,CPUS,threads,allowed,isolated,llc-cpus")
    rows = [r.split() for r in p.stdout.splitlines()]
    check(p.returncode == 0 and rows[0] == ["CORE", "CPUS", "THREADS", "ALLOWED", "ISOLATED",
                                            "LLC-CPUS"], "qpin host -o: header", p.stdout + p.stderr)
    check(["2", "2,10", "2", "10", "2", "0-11"] in rows and ["4", "4", "1", "-", "4", "0-11"] in rows
          and ["6", "6", "1", "6", "-", "0-11"] in rows,
          "qpin host -o: allowed and isolated CPUs per core", p.stdout)
    p = qpin("host", "--output=NODE,SOCKET,DIE", "--sysroot", OFFLINE)
    check(p.returncode == 0 and p.stdout.splitlines()[1].split() == ["0", "0", "0"],
          "qpin host --output=NODE,SOCKET,DIE", p.stdout + p.stderr)
    for bad, named in (("CPUS,FOO", "unknown column 'FOO'"), ("CPUS,", "empty column name"),
                       ("llc_cpus", "unknown column 'llc_cpus'")):
        p = qpin("host", "--sysroot", OFFLINE, "-o", bad)
        check(p.returncode == 2 and p.stdout == "" and named in p.stderr
              and "(valid: SOCKET, DIE, CORE, NODE, CPUS, THREADS, LLC, LLC-CPUS, ALLOWED, ISOLATED)"
              in p.stderr, f"qpin host -o {bad}: usage error naming it and the valid columns",
              f"{p.returncode}: {p.stderr}")
    p = qpin("host", "--sysroot", OFFLINE, "--cores", "--json")
    check(p.returncode == 2 and p.stdout == "" and "--json" in p.stderr,
          "qpin host --cores --json: usage error", p.stderr)

    # --show: a wrong value is refused before QEMU is started.
    p = qpin("plan", "--show", "grids", "--", "/nonexistent/qemu")
    check(p.returncode == 2 and "--show 'grids': expected table, grid, both or auto" in p.stderr,
          "qpin plan --show grids: usage error", f"{p.returncode}: {p.stderr}")

    print(f"1..{len(results)}")
    for i, (ok, name, why) in enumerate(results, 1):
        print(f"{'ok' if ok else 'not ok'} {i} - {name}")
        if not ok and why:
            for l in why.splitlines():
                print(f"# {l}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
