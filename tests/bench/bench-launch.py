#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""qpin benchmarks, run in one process tree so that every ratio compares like with like.

1. pin: a paused 240-vCPU guest (sockets=1, cores=60, threads=4) is pinned, in turn, by
   the manual dance of the HPC guides (`ps -T -p PID`, a Python script with the formula
   `2 + n/4 + n%4*68`, one `taskset -pc` per thread, as in the seed document), by
   `qpin pin --qmp`, and by `min-launch --attach`, the least any QMP client can do (connect,
   negotiate, query-cpus-fast, one sched_setaffinity per vCPU; no validation, no read-back):
   the floor. All use the same formula folded onto this host's CPUs. Medians, the ratios,
   qpin's own CPU time (user+sys from wait4), the floor's connect+query time and QEMU's own
   reply time for query-cpus-fast (a raw socket, no JSON parsing) are printed. Every program
   is started with posix_spawn, so that the benchmark's own fork costs each of them as little
   as possible.
2. run: `qpin run` starts the same guest (a firmware that shuts QEMU down as soon as it runs),
   and is compared with min-launch, the least a launcher can do (socketpair QMP, negotiate,
   query-cpus-fast, sched_setaffinity, cont). Phase timelines, the ratio of spawn-to-cont times
   and the number of QMP commands per launch are printed.

Usage: bench-launch.py QPIN MIN_LAUNCH EXIT_FIRMWARE [ROUNDS]
Exit status: 0 when every run succeeded (the numbers are reported, never asserted: these
machines are shared and noisy), 77 when QEMU is absent, 1 when a run failed.
"""

import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

QEMU = shutil.which("qemu-system-x86_64")
SMP = "240,sockets=1,cores=60,threads=4"

KVMPARSE = """\
import sys
ncpus = int(sys.argv[2])
for l in open(sys.argv[1]):
    fields = l.rstrip().split()
    #  8165   8375 pts/0    00:00:05 CPU 206/KVM
    if len(fields) > 5 and fields[4] == "CPU":
        cpu = int(fields[5].split('/')[0])
        core = cpu // 4
        ht = cpu % 4
        newcpu = (2 + core + ht * 68) % ncpus
        print("taskset -pc " + str(newcpu) + " " + fields[1])
"""


def accel_args():
    """KVM when a guest really runs under it here, else multi-threaded TCG."""
    if os.access("/dev/kvm", os.R_OK | os.W_OK):
        probe = subprocess.run(
            [QEMU, "-accel", "kvm", "-cpu", "qemu64", "-display", "none", "-nodefaults",
             "-machine", "pc", "-S", "-qmp", "stdio"],
            input=b'{"execute":"qmp_capabilities"}\n{"execute":"quit"}\n',
            capture_output=True, timeout=30)
        if probe.returncode == 0 and b'"return"' in probe.stdout:
            return ["-accel", "kvm", "-cpu", "qemu64"], "kvm"
    return ["-accel", "tcg,thread=multi"], "tcg"


def run_timed(argv, **kw):
    """Runs argv; returns (wall seconds, child CPU seconds, returncode, stdout)."""
    start = time.monotonic()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kw)
    out, err = proc.communicate()
    wall = time.monotonic() - start
    # The children's rusage: the whole tree (ps, python, taskset...) for the dance.
    return wall, proc.returncode, out, err


def cpu_time_of(argv, stdout=None):
    """Runs argv as a direct child and returns (wall, user+sys of it and its children, rc).
    Its stdout goes to the file @stdout, or with its stderr to /dev/null."""
    actions = [(os.POSIX_SPAWN_OPEN, 2, os.devnull, os.O_WRONLY, 0),
               (os.POSIX_SPAWN_OPEN, 1, stdout or os.devnull,
                os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)]
    start = time.monotonic()
    pid = os.posix_spawnp(argv[0], argv, os.environ, file_actions=actions)
    _, status, ru = os.wait4(pid, 0)
    wall = time.monotonic() - start
    return wall, ru.ru_utime + ru.ru_stime, os.waitstatus_to_exitcode(status)


def qmp_raw_query(sock):
    """QEMU's own reply time for query-cpus-fast in ms: a raw QMP session, the reply read to
    its end without parsing it."""
    def reply(s):
        data = b""
        while not data.endswith(b"\r\n"):
            chunk = s.recv(1 << 16)
            if not chunk:
                raise OSError("QMP connection closed")
            data += chunk
        return data
    with socket.socket(socket.AF_UNIX) as s:
        s.connect(sock)
        reply(s)
        s.sendall(b'{"execute":"qmp_capabilities"}\r\n')
        reply(s)
        start = time.monotonic()
        s.sendall(b'{"execute":"query-cpus-fast"}\r\n')
        reply(s)
        return (time.monotonic() - start) * 1e3


def vcpu_affinities(pid):
    """cpu-index -> Cpus_allowed_list for every 'CPU n/...' thread of pid."""
    out = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            comm = open(f"/proc/{pid}/task/{tid}/comm").read().strip()
            status = open(f"/proc/{pid}/task/{tid}/status").read()
        except OSError:
            continue
        if comm.startswith("CPU ") and "/" in comm:
            n = int(comm[4:].split("/")[0])
            for line in status.splitlines():
                if line.startswith("Cpus_allowed_list:"):
                    out[n] = line.split(":", 1)[1].strip()
    return out


def reset_affinity(pid, ncpus):
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            os.sched_setaffinity(int(tid), range(ncpus))
        except OSError:
            pass


def expected_map(ncpus):
    return {n: str((2 + n // 4 + n % 4 * 68) % ncpus) for n in range(240)}


def bench_pin(qpin, min_launch, accel, rounds, ncpus, tmp):
    sock = os.path.join(tmp, "qmp.sock")
    argv = [QEMU] + accel + ["-smp", SMP, "-m", "512", "-display", "none", "-nodefaults",
                             "-S", "-name", "vmm,process=vmm,debug-threads=on",
                             "-qmp", f"unix:{sock},server=on,wait=off"]
    qemu = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        # The socket, and even the greeting (sent from QEMU's monitor I/O thread), come before
        # the machine and its 240 vCPU threads exist. Commands run in the main loop, after the
        # machine is built: wait for the answer to one, as a person waits for the (qemu)
        # prompt before running ps.
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                with socket.socket(socket.AF_UNIX) as s:
                    s.settimeout(max(0.1, deadline - time.monotonic()))
                    s.connect(sock)
                    s.sendall(b'{"execute":"qmp_capabilities"}\r\n'
                              b'{"execute":"query-status","id":"ready"}\r\n')
                    seen = b""
                    while b'"id": "ready"' not in seen and b'"id":"ready"' not in seen:
                        chunk = s.recv(4096)
                        if not chunk:
                            raise OSError("closed")
                        seen += chunk
                    break
            except OSError:
                time.sleep(0.05)
        else:
            print("pin: QEMU never greeted on its QMP socket")
            return False
        # Give QEMU time to accept the next client after the probe connection closed.
        time.sleep(0.2)
        script = os.path.join(tmp, "kvmparse.py")
        with open(script, "w") as f:
            f.write(KVMPARSE)
        dance = ["sh", "-c",
                 f"ps -T -p {qemu.pid} > {tmp}/t; python3 {script} {tmp}/t {ncpus} > {tmp}/pin;"
                 f" sh {tmp}/pin > /dev/null"]
        qpin_argv = [qpin, "pin", "--qmp", sock, "--pid", str(qemu.pid), "-q",
                     "--pin", f"expr:(2 + v/4 + v%4*68) % {ncpus}"]
        floor_argv = [min_launch, "--attach", sock, str(ncpus)]
        floor_out = os.path.join(tmp, "floor.json")
        want = expected_map(ncpus)
        dance_t, qpin_t, qpin_cpu, floor_t, floor_query, raw_query = [], [], [], [], [], []
        for _ in range(rounds):
            reset_affinity(qemu.pid, ncpus)
            wall, cpu, rc = cpu_time_of(dance)
            got = vcpu_affinities(qemu.pid)
            if rc != 0 or got != want:
                wrong = sorted(n for n in want if got.get(n) != want[n])
                print(f"pin: the dance failed (status {rc}); vCPUs not where the formula puts"
                      f" them: {wrong[:10]}{'...' if len(wrong) > 10 else ''}"
                      f" e.g. {[(n, got.get(n), want[n]) for n in wrong[:3]]}")
                for name in ("t", "pin"):
                    with open(os.path.join(tmp, name)) as f:
                        print(f"pin: the dance's {name}: {len(f.readlines())} lines")
                return False
            dance_t.append(wall)
            reset_affinity(qemu.pid, ncpus)
            wall, cpu, rc = cpu_time_of(qpin_argv)
            if rc != 0 or vcpu_affinities(qemu.pid) != want:
                print(f"pin: qpin pin failed (status {rc})")
                return False
            qpin_t.append(wall)
            qpin_cpu.append(cpu)
            reset_affinity(qemu.pid, ncpus)
            wall, cpu, rc = cpu_time_of(floor_argv, stdout=floor_out)
            try:
                with open(floor_out) as f:
                    m = json.load(f)
            except ValueError:
                m = {}
            if rc != 0 or not m.get("ok") or vcpu_affinities(qemu.pid) != want:
                print(f"pin: min-launch --attach failed (status {rc})")
                return False
            floor_t.append(wall)
            floor_query.append(m["timings_ms"]["connect"] + m["timings_ms"]["query"])
            raw_query.append(qmp_raw_query(sock))
        d, q = statistics.median(dance_t), statistics.median(qpin_t)
        f = statistics.median(floor_t)
        print(f"pin: 240 vCPUs, {rounds} rounds each, same mapping verified after every run")
        print(f"pin: manual dance (ps -T + python + 240 taskset) median {d * 1e3:9.1f} ms")
        print(f"pin: qpin pin --qmp                       median {q * 1e3:9.1f} ms"
              f"  (qpin CPU time median {statistics.median(qpin_cpu) * 1e3:.1f} ms)")
        print(f"pin: floor: minimal client (min-launch --attach) median {f * 1e3:9.1f} ms"
              f"  (connect+query-cpus-fast {statistics.median(floor_query):.1f} ms;"
              f" QEMU's own query-cpus-fast reply {statistics.median(raw_query):.1f} ms)")
        # No fixed speed-up is a target: QEMU's own query-cpus-fast reply bounds every client,
        # so the floor's ratio is the most any client reaches on this machine.
        print(f"pin: ratio dance/qpin = {d / q:.1f}x; dance/floor = {d / f:.1f}x,"
              f" the most any client reaches here; qpin/floor = {q / f:.2f}")
        return True
    finally:
        qemu.kill()
        qemu.wait()


def bench_run(qpin, min_launch, firmware, accel, rounds, ncpus, tmp):
    guest = [QEMU] + accel + ["-smp", SMP, "-m", "512", "-display", "none", "-nodefaults",
                              "-bios", firmware,
                              "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04"]
    report = os.path.join(tmp, "report.json")
    qpin_total, min_total, phases, commands = [], [], [], None
    for _ in range(rounds):
        if os.path.exists(report):
            os.unlink(report)
        argv = [qpin, "run", "-q", "--report", report, "--pin", f"expr:v % {ncpus}", "--"] + guest
        wall, rc, out, err = run_timed(argv)
        # The firmware guest ends QEMU with status 1, which qpin mirrors.
        if rc != 1 or not os.path.exists(report):
            print(f"run: qpin run failed (status {rc}): {err.decode(errors='replace')[-500:]}")
            return False
        with open(report) as f:
            doc = json.load(f)
        t = doc.get("timings_ms", {})
        phases.append(t)
        commands = doc.get("qmp_commands", commands)
        qpin_total.append(sum(v for k, v in t.items()
                              if isinstance(v, (int, float)) and k in
                              ("spawn_to_ready", "ready", "query", "pin", "verify", "cont")))

        wall, rc, out, err = run_timed([min_launch, str(ncpus)] + guest)
        try:
            m = json.loads(out)
        except ValueError:
            m = {}
        if not m.get("ok"):
            print(f"run: min-launch failed: {err.decode(errors='replace')[-500:]}")
            return False
        min_total.append(m["timings_ms"]["total"])
    q, m = statistics.median(qpin_total), statistics.median(min_total)
    print(f"run: 240 vCPUs, {rounds} launches each (spawn until the cont reply)")
    keys = list(phases[0].keys())
    for k in keys:
        vals = [p.get(k, 0) for p in phases if isinstance(p.get(k), (int, float))]
        if vals:
            print(f"run:   qpin phase {k:16s} median {statistics.median(vals):9.1f} ms")
    print(f"run: minimal QMP client total median {m:9.1f} ms")
    print(f"run: qpin run          total median {q:9.1f} ms")
    print(f"run: ratio qpin/minimal = {q / m:.3f} (target <= 1.05)")
    print(f"run: QMP commands per launch: {commands if commands is not None else 'not reported'}"
          " (target <= 5; the minimal client sends 4)")
    return True


def main():
    if len(sys.argv) < 4:
        print(__doc__)
        return 2
    qpin, min_launch, firmware = sys.argv[1:4]
    rounds = int(sys.argv[4]) if len(sys.argv) > 4 else 5
    if not QEMU:
        print("SKIP: qemu-system-x86_64 not found")
        return 77
    ncpus = len(os.sched_getaffinity(0))
    accel, name = accel_args()
    print(f"accelerator: {name}; host CPUs usable: {ncpus}")
    with tempfile.TemporaryDirectory(prefix="qpin-bench-") as tmp:
        ok = bench_pin(qpin, min_launch, accel, rounds, ncpus, tmp)
        ok = bench_run(qpin, min_launch, firmware, accel, rounds, ncpus, tmp) and ok
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
