#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""qpin check from the command line, with each source of the map.

The --pid guest runs under KVM when a probe shows that KVM works. Without QEMU: --vcpu-cpus on the tuned and untuned fixture hosts (exit 0 and 20, the table
within 80 columns, the JSON statuses), this machine (no error, sensible unknowns), bad input
(exit 2, nothing printed on stdout). With real QEMU (TCG with a thread per vCPU; the audit
reads only the threads' names and affinities, which KVM and TCG give alike): plan options
(QEMU started paused and gone again), --from a real `qpin plan --json`, --pid of a QEMU that
`qpin run --no-cont` started and pinned, `qpin plan --check` (warnings, exit 0), and
`qpin run --check=strict` on this machine, whose vCPU CPUs are not isolated: exit 20, the fix
named, no QEMU left. Skips (77) only without qemu-system-x86_64."""
import json, os, shutil, signal, subprocess, sys, tempfile

qpin, source = os.environ["QPIN"], os.environ["QPIN_SOURCE_ROOT"]
hosts = os.path.join(source, "tests", "fixtures", "hosts")
tuned, untuned = os.path.join(hosts, "rt-tuned-2s"), os.path.join(hosts, "untuned-2s")
VCPUS, HK = "1-3,5-7,9-11,13-15", "0,4,8,12"
MAP = ["--vcpu-cpus", VCPUS, "--housekeeping-cpus", HK, "--rt",
       "--hugepages", "8G@0:1G", "--hugepages", "8G@1:1G"]
IDS = ["cpu.isolated", "cpu.nohz_full", "cpu.rcu_nocbs", "cpu.housekeeping", "irq.affinity",
       "irq.irqbalance", "kthread.rcu", "workqueue.cpumask", "mm.thp", "mm.ksm", "mm.numad",
       "mm.numa_balancing", "mm.hugepages", "cpu.governor", "cpu.idle", "sched.rt_runtime",
       "cpu.smt_shared"]

count, failures = 0, []


def check(ok, what, detail=""):
    global count
    count += 1
    print(f"{'ok' if ok else 'not ok'} {count} - {what}")
    if not ok:
        for line in str(detail).splitlines()[:40]:
            print(f"#   {line}")
        failures.append(what)
    return ok


def run(args, **kw):
    return subprocess.run([qpin, *args], capture_output=True, text=True, timeout=300, **kw)


def statuses(text, what):
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as e:
        check(False, f"{what}: one JSON document", f"{e}\n{text[:1000]}")
        return None, {}
    return doc, {c["id"]: c["status"] for c in doc.get("checks", [])}


def qemu_alive(tag):
    """Whether a process whose command line holds @tag still exists."""
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                if tag.encode() in f.read() and pid != str(os.getpid()):
                    return True
        except OSError:
            pass
    return False


# ---- --vcpu-cpus on the fixture hosts ----

r = run(["check", "--sysroot", tuned, *MAP])
check(r.returncode == 0, "tuned host: exit 0", r.stdout + r.stderr)
check("verdict: pass (0 fail, 0 warn, 0 unknown, 17 pass)" in r.stdout, "tuned host: verdict pass",
      r.stdout)
r = run(["check", "--sysroot", untuned, *MAP])
check(r.returncode == 20, "untuned host: exit 20", r.stdout + r.stderr)
check("verdict: fail (15 fail, 2 warn, 0 unknown, 0 pass)" in r.stdout,
      "untuned host: verdict fail", r.stdout)
long = [line for line in r.stdout.splitlines() if len(line) > 80]
check(not long, "untuned host: the table fits 80 columns", "\n".join(long))
for group in ("cpu", "irq", "kthread", "workqueue", "mm", "sched"):
    check(f"\n{group}\n" in r.stdout, f"untuned host: table has group {group}", r.stdout)
# Wrapped over lines: compared with the spacing folded.
check("fix: for pid in 15 16; do taskset -pc 0,4,8,12 $pid; done" in " ".join(r.stdout.split()),
      "untuned host: the table shows the fix", r.stdout)

r = run(["check", "--sysroot", untuned, *MAP, "--json"])
check(r.returncode == 20, "untuned host --json: exit 20", r.stderr)
doc, st = statuses(r.stdout, "untuned --json")
check(list(st) == IDS or sorted(st) == sorted(IDS), "untuned --json: every check id", st)
check(doc and doc["verdict"] == "fail" and doc["schema_version"] == 1,
      "untuned --json: verdict fail, schema_version 1", doc)
check(all(s == ("warn" if i in ("cpu.governor", "cpu.idle") else "fail") for i, s in st.items()),
      "untuned --json: every check fails or warns", st)

# ---- this machine ----

cpus = os.sched_getaffinity(0)
vcpu = str(max(cpus))
r = run(["check", "--vcpu-cpus", vcpu, "--json"])
check(r.returncode in (0, 20) and not r.stderr, "this machine: runs without error",
      f"exit {r.returncode}\n{r.stderr}")
doc, st = statuses(r.stdout, "this machine --json")
check(sorted(st) == sorted(IDS), "this machine: every check id", st)
if not os.path.exists("/sys/devices/system/cpu/cpu%s/cpufreq" % vcpu):
    check(st.get("cpu.governor") == "unknown", "this machine: no cpufreq, governor unknown", st)
cmdline = open("/proc/cmdline").read()
if "isolcpus" not in cmdline and not open("/sys/devices/system/cpu/isolated").read().strip():
    check(st.get("cpu.isolated") == "fail" and r.returncode == 20,
          "this machine: nothing isolated, cpu.isolated fails, exit 20", st)

# ---- bad input: exit 2, nothing on stdout ----

for args, what, needle in [
    ([], "no map", "no map is given"),
    (["--vcpu-cpus", "1", "--pid", "1"], "two maps", "more than one map"),
    (["--vcpu-cpus", "1-x"], "bad cpulist", "--vcpu-cpus '1-x'"),
    (["--vcpu-cpus", "1", "--hugepages", "8G"], "bad --hugepages", "SIZE@NODE"),
    (["--from", "/nonexistent/plan.json"], "missing --from", "/nonexistent/plan.json"),
    (["--from", "/dev/null"], "--from a device", "not a regular file"),
    (["--pid", "0"], "--pid 0", "--pid '0'"),
    (["--rt", "--from", "/dev/null"], "--rt without --vcpu-cpus", "--vcpu-cpus"),
    (["--vcpu-cpus"], "--vcpu-cpus without a value", "needs a value"),
]:
    r = run(["check", *args])
    check(r.returncode == 2 and not r.stdout and needle in r.stderr,
          f"bad input ({what}): exit 2 naming it", f"exit {r.returncode}\n{r.stdout}{r.stderr}")
r = run(["check", "--sysroot", tuned, "--vcpu-cpus", "14-17"])
check(r.returncode == 14 and "16-17" in r.stderr, "CPUs the host lacks: exit 14 naming them",
      f"exit {r.returncode}\n{r.stderr}")

# ---- with real QEMU ----

qemu = shutil.which("qemu-system-x86_64")
if not qemu:
    print(f"1..{count}")
    print("# SKIP the QEMU part: qemu-system-x86_64 is not installed (scripts/setup installs it)")
    sys.exit(1 if failures else 77)

tag = f"qpin-check-test-{os.getpid()}"
guest = [qemu, "-accel", "tcg,thread=multi", "-display", "none", "-nodefaults", "-m", "64",
         "-smp", "2", "-name", tag]
guest1 = [qemu, "-accel", "tcg,thread=multi", "-display", "none", "-nodefaults", "-m", "64",
          "-smp", "1", "-name", tag]
# The running guest of --pid: KVM when a paused KVM QEMU answers QMP (its vCPU threads are then
# "CPU N/KVM"), TCG with a thread per vCPU ("CPU N/TCG") otherwise.
pid_guest = guest1
if os.access("/dev/kvm", os.R_OK | os.W_OK):
    kvm = [qemu, "-accel", "kvm", "-cpu", "qemu64", "-display", "none", "-nodefaults", "-m", "64",
           "-smp", "1", "-name", tag]
    if run(["plan", "--quiet", "--", *kvm]).returncode == 0:
        pid_guest = kvm
print(f"# --pid guest: {' '.join(pid_guest[1:5])}")
tmp = tempfile.mkdtemp(prefix="qpin-check-")
try:
    # Plan options: the map qpin plan computes, audited against the fixtures.
    for root, code in ((tuned, 0), (untuned, 20)):
        name = os.path.basename(root)
        r = run(["check", "--sysroot", root, "--json", "--pin", "1,2", "--emulator-pin", "0",
                 "--", *guest])
        check(r.returncode == code, f"plan options on {name}: exit {code}",
              f"exit {r.returncode}\n{r.stdout[-1500:]}{r.stderr}")
        doc, st = statuses(r.stdout, f"plan options on {name}")
        check(doc and doc.get("vcpu_cpus") == "1-2" and doc.get("housekeeping_cpus") == "0",
              f"plan options on {name}: the plan's map", doc and
              {k: doc.get(k) for k in ("vcpu_cpus", "housekeeping_cpus", "source")})
        check(not qemu_alive(tag), f"plan options on {name}: no QEMU left")

    # --from a real plan.
    plan = os.path.join(tmp, "plan.json")
    r = run(["plan", "--sysroot", untuned, "--json", "--pin", "5,6", "--emulator-pin", "4",
             "--vcpu-sched", "fifo:10", "--", *guest])
    check(r.returncode == 0, "qpin plan --json for --from", r.stderr)
    with open(plan, "w") as f:
        f.write(r.stdout)
    r = run(["check", "--sysroot", untuned, "--from", plan, "--json"])
    doc, st = statuses(r.stdout, "--from plan.json")
    check(r.returncode == 20 and doc and doc["vcpu_cpus"] == "5-6" and
          doc["housekeeping_cpus"] == "4" and doc["rt"] is True,
          "--from plan.json: the plan's map, real-time, exit 20",
          f"exit {r.returncode}\n{r.stdout[:600]}{r.stderr}")
    check(st.get("sched.rt_runtime") == "fail" and st.get("cpu.smt_shared") == "fail",
          "--from plan.json: RT throttling and the shared core 4/5 fail", st)
    r = run(["check", "--sysroot", tuned, "--from", plan])
    check(r.returncode == 0, "--from plan.json on the tuned host: exit 0",
          r.stdout[-1500:] + r.stderr)

    # plan --check: warnings, the plan still printed, exit 0.
    r = run(["plan", "--check", "--sysroot", untuned, "--pin", "1,2", "--emulator-pin", "0",
             "--", *guest])
    check(r.returncode == 0 and "warning: check cpu.isolated fail" in r.stderr and
          "isolcpus=managed_irq,domain,1-2" in r.stderr and "vCPU" in r.stdout,
          "plan --check: warnings with fixes, the plan, exit 0",
          f"exit {r.returncode}\n{r.stdout[-800:]}{r.stderr[-1500:]}")
    check(not qemu_alive(tag), "plan --check: no QEMU left")
    r = run(["plan", "--check=loose", "--pin", "1", "--", *guest])
    check(r.returncode == 2 and "--check or --check=strict" in r.stderr,
          "plan --check=loose: exit 2", r.stderr)

    # run --check=strict on this machine: its vCPU CPUs are not isolated. The guest's firmware
    # would end it at once (exit 1), were it ever started.
    if len(cpus) >= 2 and "isolcpus" not in cmdline:
        vcpu, hk = str(max(cpus)), str(min(cpus))
        # A cpulist map names its CPUs: refused before QEMU would start (its binary does not
        # even exist here).
        r = run(["run", "--check=strict", "--pin", vcpu, "--emulator-pin", hk, "--",
                 "/nonexistent/qemu-system-x86_64", "-smp", "1"])
        check(r.returncode == 20 and "cpu.isolated" in r.stderr and
              f"isolcpus=managed_irq,domain,{vcpu}" in r.stderr,
              "run --check=strict --pin CPULIST: exit 20 before QEMU starts, naming the fix",
              f"exit {r.returncode}\n{r.stderr[-2000:]}")
        # An automatic map needs QEMU: refused after the map, before cont.
        r = run(["run", "--check=strict", "--pin", "auto", "--emulator-pin", hk, "--reserve", hk,
                 "--", *guest1, "-bios", os.environ["QPIN_EXIT_FIRMWARE"], "-device",
                 "isa-debug-exit,iobase=0xf4,iosize=0x04"])
        check(r.returncode == 20, "run --check=strict --pin auto: exit 20",
              f"exit {r.returncode}\n{r.stderr[-2000:]}")
        check("cpu.isolated" in r.stderr and f"isolcpus=managed_irq,domain,{vcpu}" in r.stderr
              and "the guest never ran" in r.stderr,
              "run --check=strict --pin auto: names cpu.isolated and its fix; the guest never ran",
              r.stderr[-2000:])
        check(not qemu_alive(tag), "run --check=strict: no QEMU left")
        # Only warnings without strict: the guest runs (and its firmware ends it, status 1).
        r = run(["run", "--check", "--quiet", "--pin", vcpu, "--emulator-pin", hk, "--", *guest1,
                 "-bios", os.environ["QPIN_EXIT_FIRMWARE"], "-device",
                 "isa-debug-exit,iobase=0xf4,iosize=0x04"])
        check(r.returncode == 1 and "warning: check cpu.isolated fail" in r.stderr,
              "run --check: warns, the guest runs (QEMU's status 1)",
              f"exit {r.returncode}\n{r.stderr[-2000:]}")

    # --pid: a QEMU that qpin run started paused and pinned.
    if len(cpus) >= 2:
        vcpu, hk = str(max(cpus)), str(min(cpus))
        p = subprocess.Popen([qpin, "run", "--no-cont", "--json", "--quiet", "--pin", vcpu,
                              "--emulator-pin", hk, "--", *pid_guest], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            # The report comes once the threads are pinned; read it, no polling.
            lines = []
            for line in p.stdout:
                lines.append(line)
                if line == "}\n":
                    break
            report = json.loads("".join(lines))
            pid = report["qemu_pid"]
            r = run(["check", "--pid", str(pid), "--json"])
            doc, st = statuses(r.stdout, "--pid")
            check(r.returncode in (0, 20) and doc and doc["vcpu_cpus"] == vcpu and
                  doc["housekeeping_cpus"] == hk and doc["rt"] is False and
                  doc["source"].startswith(f"QEMU pid {pid} (1 vCPU thread)"),
                  "--pid: the running QEMU's vCPU and housekeeping CPUs",
                  f"exit {r.returncode}\n{r.stdout[:600]}{r.stderr}")
            r = run(["check", "--pid", str(os.getpid())])
            check(r.returncode == 2 and "no vCPU thread" in r.stderr,
                  "--pid of a process that is not QEMU: exit 2", r.stderr)
        finally:
            p.send_signal(signal.SIGTERM)
            p.communicate(timeout=120)
        check(not qemu_alive(tag), "--pid: QEMU gone after qpin run ended")
finally:
    shutil.rmtree(tmp, ignore_errors=True)

print(f"1..{count}")
sys.exit(1 if failures else 0)
