#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""qpin top's own cost for a 240-vCPU guest.

A stand-in process (many-threads) holds 240 threads named "CPU n/KVM" plus an iothread and an
emulator thread, as a 240-vCPU QEMU shows itself in /proc. `qpin top -b --pid PID -d 0.2` runs
once with -n 1 and once with -n 1+N; the difference of their CPU time (user+sys, from wait4)
divided by N is the cost of one interval (start-up, discovery and the first sample cancel
out). That cost per second is top's CPU use at `-d 1`, reported against the 1% target, with
the share of user and system time and the reads per interval. Rounds are repeated and the
median taken; numbers are reported, never asserted (these machines are shared and noisy).

Usage: bench-top.py QPIN MANY_THREADS [VCPUS] [INTERVALS] [ROUNDS]
Exit status: 0 when every run succeeded, 1 when one failed."""
import os, statistics, subprocess, sys

qpin, stand_in = sys.argv[1], sys.argv[2]
vcpus = int(sys.argv[3]) if len(sys.argv) > 3 else 240
intervals = int(sys.argv[4]) if len(sys.argv) > 4 else 25
rounds = int(sys.argv[5]) if len(sys.argv) > 5 else 3


def cpu_of(args):
    """User and system seconds of one qpin top run."""
    pid = os.posix_spawn(qpin, [qpin, "top", *args], os.environ,
                         file_actions=[(os.POSIX_SPAWN_OPEN, 1, os.devnull, os.O_WRONLY, 0)])
    _, status, usage = os.wait4(pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"FAIL: qpin top {' '.join(args)} exited with {os.waitstatus_to_exitcode(status)}")
    return usage.ru_utime, usage.ru_stime


proc = subprocess.Popen([stand_in, str(vcpus)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                        text=True)
try:
    if proc.stdout.readline().strip() != "ready":
        sys.exit("FAIL: many-threads did not start")
    base = ["-b", "-d", "0.2", "--pid", str(proc.pid)]
    per_interval, user_share = [], []
    for _ in range(rounds):
        u1, s1 = cpu_of(base + ["-n", "1"])
        un, sn = cpu_of(base + ["-n", str(1 + intervals)])
        cost = ((un + sn) - (u1 + s1)) / intervals
        per_interval.append(cost)
        user_share.append((un - u1) / max((un + sn) - (u1 + s1), 1e-9))
    cost = statistics.median(per_interval)
    threads = vcpus + 3  # the vCPUs, the iothread, call_rcu and the main thread
    print(f"qpin top, {vcpus} vCPUs ({threads} threads), -b, {intervals} intervals x {rounds} rounds")
    print(f"  files read per interval: {threads * 4 + 1} (stat, schedstat, sched, status per "
          f"thread; /proc/interrupts)")
    print(f"  CPU time per interval: {cost * 1000:.2f} ms (median; rounds "
          f"{', '.join(f'{c * 1000:.2f}' for c in per_interval)} ms), "
          f"{statistics.median(user_share) * 100:.0f}% of it user time")
    print(f"  at -d 1: {cost * 100:.2f}% of one CPU (target: under 1%)")
finally:
    proc.stdin.close()
    proc.wait()
