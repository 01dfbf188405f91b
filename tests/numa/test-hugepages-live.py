#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""qpin run --reserve-hugepages against a real node of this machine: host node 0's 2 MiB pool
(/sys/devices/system/node/node0/hugepages/hugepages-2048kB/nr_hugepages).

Real QEMU (TCG, a thread per vCPU) with a 64 MiB guest node of 2 MiB pages preallocated on
host node 0. Each case checks that the pool held the pages while they were needed and that
nr_hugepages is back at its value before qpin ran once qpin is done:

- a guest that ends by itself (QEMU's status mirrored); the report lists the pool raised and the
  guest memory read back in 2M pages on node 0;
- a guest left paused (--no-cont) and stopped by SIGTERM while qpin supervises it: the pool is
  raised while QEMU runs, and given back after;
- a failure after the reservation and before QEMU (a map naming a CPU that does not exist),
  and one with QEMU running (an expression map off the host);
- SIGTERM before cont: QEMU is held behind a wrapper that never lets it start; qpin is
  interrupted while waiting (exit 18);
- more pages than the node's free memory: refused before anything is written (exit 16).

Skips (77) only without root, the pool's sysfs file or qemu-system-x86_64. The cleanup puts the
pool back to its value before the test whatever happened (and fails the test if it had to).
Synchronises on pipes and process exits, never on sleeps."""
import json, os, shutil, signal, stat, subprocess, sys, tempfile

POOL = "/sys/devices/system/node/node0/hugepages/hugepages-2048kB"
NR = os.path.join(POOL, "nr_hugepages")
qemu = shutil.which("qemu-system-x86_64")
if not qemu:
    print("SKIP: qemu-system-x86_64 is not installed (scripts/setup installs it)")
    sys.exit(77)
if not os.path.exists(NR):
    print(f"SKIP: {NR} is absent (no NUMA node 0 or no 2 MiB hugepages in this kernel)")
    sys.exit(77)
if os.geteuid() != 0:
    print("SKIP: raising a hugepage pool needs root")
    sys.exit(77)

qpin = os.environ["QPIN"]
firmware = os.environ["QPIN_EXIT_FIRMWARE"]
count = 0
failures = []


def check(ok, what, detail=""):
    global count
    count += 1
    print(f"{'ok' if ok else 'not ok'} {count} - {what}")
    if not ok:
        for line in str(detail).splitlines():
            print(f"#   {line}")
        failures.append(what)
    return ok


def nr():
    with open(NR) as f:
        return int(f.read())


def free_pages():
    with open(os.path.join(POOL, "free_hugepages")) as f:
        return int(f.read())


def no_qemu_left(what):
    """No QEMU of ours: a child of qpin would have been reparented to us (we are no subreaper,
    so look for qemu processes whose command line names the test's guest)."""
    left = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmd = f.read().split(b"\0")
        except OSError:
            continue
        if any(b"qpin-hugepages-live" in c for c in cmd) and cmd[0] != sys.executable.encode():
            left.append(pid)
    check(not left, f"{what}: no QEMU left behind", left)


original = nr()
tmp = tempfile.mkdtemp(prefix="qpin-hugepages-live-")
NEEDED = 32  # 64 MiB of 2 MiB pages
guest = [qemu, "-name", "qpin-hugepages-live", "-accel", "tcg,thread=multi", "-display", "none",
         "-nodefaults", "-smp", "2", "-bios", firmware,
         "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04"]
reserve = ["--reserve-hugepages", "--numa", "64M@0:hugepages=2M:prealloc"]
cpus = sorted(os.sched_getaffinity(0))
pin = ["--pin", f"{cpus[0]},{cpus[-1]}"]


def run(args, what, timeout=300):
    r = subprocess.run([qpin, "run", *args], capture_output=True, text=True, timeout=timeout)
    print(f"# {what}: exit {r.returncode}")
    for line in r.stderr.splitlines()[-6:]:
        print(f"#   {line}")
    return r


try:
    # ---- a guest that ends by itself ----
    what = "a guest that ends by itself"
    report = os.path.join(tmp, "report.json")
    r = run([*reserve, *pin, "--report", report, "--", *guest], what)
    check(r.returncode == 1, f"{what}: QEMU's status 1 mirrored", r.stderr)
    check(nr() == original, f"{what}: nr_hugepages back to {original}", nr())
    doc = {}
    try:
        with open(report) as f:
            doc = json.load(f)
    except (OSError, ValueError) as e:
        check(False, f"{what}: the report reads", e)
    try:
        import jsonschema
        with open(os.path.join(os.environ["QPIN_SOURCE_ROOT"], "docs", "schema",
                               "report.schema.json")) as f:
            schema = json.load(f)
        errs = list(jsonschema.Draft202012Validator(schema).iter_errors(doc))
        check(not errs, f"{what}: the report validates against report.schema.json",
              "\n".join(e.message for e in errs[:5]))
        broken = json.loads(json.dumps(doc))
        for p in broken.get("hugepages_reserved", []):
            p["added"] = "32"
        check(bool(list(jsonschema.Draft202012Validator(schema).iter_errors(broken))),
              f"{what}: the schema rejects a pool whose added is a string")
    except (ImportError, AttributeError):
        print("# python3-jsonschema (4.0 or later) missing: the report is checked by hand only")
    pools = doc.get("hugepages_reserved", [])
    ok = len(pools) == 1
    if ok:
        p = pools[0]
        lack = max(NEEDED - p["free_before"], 0)
        ok = (p["node"] == 0 and p["size_kib"] == 2048 and p["needed"] == NEEDED
              and p["nr_before"] == original and p["added"] == lack
              and p["nr_after"] == original + lack)
    check(ok, f"{what}: the report lists node 0's 2M pool raised by what was lacking", pools)
    mem = doc.get("memory", [])
    check(len(mem) == 1 and mem[0].get("ok") is True and mem[0].get("page_kib") == 2048
          and mem[0].get("resident_bytes") == NEEDED * 2048 * 1024,
          f"{what}: the guest memory was read back, all of it in 2M pages on node 0", mem)
    check("given back" in r.stderr, f"{what}: qpin says the pages went back", r.stderr)

    # ---- paused, SIGTERM while supervised ----
    what = "a paused guest stopped by SIGTERM"
    before = nr()
    lack = max(NEEDED - free_pages(), 0)
    p = subprocess.Popen([qpin, "run", *reserve, *pin, "--no-cont", "--", *guest],
                         stderr=subprocess.PIPE, text=True)
    seen = []
    for line in p.stderr:
        seen.append(line)
        if line.startswith("timings (ms):"):
            break
    held = nr()
    check(held == before + lack, f"{what}: the pool is raised while QEMU runs ({before} -> {held}, "
          f"{lack} lacking)", "".join(seen))
    p.send_signal(signal.SIGTERM)
    rest = p.stderr.read()
    status = p.wait(timeout=120)
    check(status == 0,
          f"{what}: qpin ends with QEMU's status 0 (QEMU ends cleanly on SIGTERM)", f"{status}\n{rest}")
    check(nr() == original, f"{what}: nr_hugepages back to {original}", f"{nr()}\n{rest}")
    no_qemu_left(what)

    # ---- failures after the reservation ----
    what = "a map with a CPU that does not exist (before QEMU)"
    r = run([*reserve, "--pin", f"{cpus[0]},4095", "--", *guest], what)
    check(r.returncode == 14, f"{what}: exit 14 (map)", r.stderr)
    check("given back" in r.stderr, f"{what}: the pages were added and given back", r.stderr)
    check(nr() == original, f"{what}: nr_hugepages back to {original}", nr())

    what = "an expression map off the host (QEMU running)"
    r = run([*reserve, "--pin", "expr:v+4000", "--", *guest], what)
    check(r.returncode == 14, f"{what}: exit 14 (map)", r.stderr)
    check("stopped; the guest never ran" in r.stderr and "given back" in r.stderr,
          f"{what}: QEMU stopped, pages given back", r.stderr)
    check(nr() == original, f"{what}: nr_hugepages back to {original}", nr())
    no_qemu_left(what)

    # ---- SIGTERM before cont ----
    what = "SIGTERM before cont"
    fifo = os.path.join(tmp, "held")
    never = os.path.join(tmp, "never")
    os.mkfifo(fifo)
    os.mkfifo(never)
    hold = os.path.join(tmp, "hold")
    with open(hold, "w") as f:
        # A wrapper that tells the test it runs, then waits for ever before QEMU starts.
        f.write(f"#!/bin/sh\necho held > '{fifo}'\nread x < '{never}'\nexec \"$@\"\n")
    os.chmod(hold, 0o755)
    lack = max(NEEDED - free_pages(), 0)
    p = subprocess.Popen([qpin, "run", *reserve, *pin, "--", hold, *guest],
                         stderr=subprocess.PIPE, text=True)
    with open(fifo) as f:
        f.read()
    held = nr()
    check(held == original + lack,
          f"{what}: the pool was raised before QEMU started ({original} -> {held})")
    p.send_signal(signal.SIGTERM)
    rest = p.stderr.read()
    status = p.wait(timeout=120)
    check(status == 18, f"{what}: exit 18 (interrupted)", f"{status}\n{rest}")
    check("given back" in rest, f"{what}: qpin says the pages went back", rest)
    check(nr() == original, f"{what}: nr_hugepages back to {original}", nr())
    no_qemu_left(what)

    # ---- more than the node holds ----
    what = "more hugepages than node 0's free memory"
    r = run(["--reserve-hugepages", "--numa", "64T@0:hugepages=2M", "--", *guest], what)
    check(r.returncode == 16 and "nothing was reserved" in r.stderr,
          f"{what}: refused before writing (exit 16)", r.stderr)
    check(nr() == original, f"{what}: nr_hugepages untouched", nr())
finally:
    if nr() != original:
        check(False, f"the cleanup had to put nr_hugepages back from {nr()} to {original}")
        with open(NR, "w") as f:
            f.write(f"{original}\n")
    shutil.rmtree(tmp, ignore_errors=True)

print(f"1..{count}")
sys.exit(1 if failures else 0)
