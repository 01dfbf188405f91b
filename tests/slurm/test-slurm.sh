#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# qpin under a real Slurm: a private single-node cluster on loopback (task/cgroup, so a step's
# CPUs are enforced), a job holding one CPU so that the step under test gets another, then
#   - srun -c1 qpin run --pin auto ...: the vCPU threads end up inside the step's CPUs;
#   - srun -c1 qpin run --pin CPU ...: a CPU outside the step is refused before the guest runs,
#     with the map exit code, and no QEMU is left.
# The cluster is torn down on every exit. Skips (77) when Slurm, munge or QEMU is missing, when
# not root (slurmd manages cgroups), or when the cluster cannot start.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
QPIN=${QPIN:?QPIN must name the qpin binary}
export QPIN
export QPIN_SOURCE_ROOT=${QPIN_SOURCE_ROOT:-$(cd "$here/../.." && pwd)}

skip() {
    echo "SKIP: $*"
    echo "SKIP: $*" >&2
    exit 77
}
fail() {
    echo "FAIL: $*" >&2
    exit 1
}

for tool in munged slurmctld slurmd srun sinfo squeue scancel; do
    command -v "$tool" >/dev/null ||
        skip "$tool is not installed (scripts/setup installs slurmctld slurmd slurm-client munge)"
done
command -v qemu-system-x86_64 >/dev/null || skip "qemu-system-x86_64 is not installed"
command -v python3 >/dev/null || skip "python3 is not installed"
[ "$(id -u)" = 0 ] || skip "slurmd must run as root to confine job steps with cgroups"
"$QPIN" run --help >/dev/null 2>&1 || fail "$QPIN run --help fails"

base=$(mktemp -d "${TMPDIR:-/tmp}/qpin-slurm.XXXXXX") || fail "mktemp"
chmod 0755 "$base"
holder=""
cleanup() {
    if [ -n "$holder" ]; then
        kill -TERM "$holder" 2>/dev/null
        wait "$holder" 2>/dev/null
    fi
    "$here/slurm-cluster.sh" down "$base"
    rm -rf "$base"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

"$here/slurm-cluster.sh" up "$base" || skip "the Slurm cluster could not start (logs above)"
# shellcheck disable=SC1091
. "$base/env"

# The harness itself: a step is confined to its CPUs (task/cgroup), so what follows proves
# something.
online=$(cat /sys/devices/system/cpu/online)
probe=$(srun -c1 bash -c 'awk "/^Cpus_allowed_list:/ { print \$2 }" /proc/self/status') ||
    fail "srun -c1 does not run"
echo "a -c1 step gets CPUs $probe of $online"
[ "$probe" != "$online" ] || echo "note: a 1-CPU machine; the step has every CPU"

# Hold one CPU with a job of its own, so the step under test gets another one than the first.
outside=""
if [ "$(getconf _NPROCESSORS_ONLN)" -ge 2 ]; then
    srun -c1 --job-name=qpin-holder bash -c \
        "awk '/^Cpus_allowed_list:/ { print \$2 }' /proc/self/status >$base/holder.cpus; exec sleep 600" \
        2>"$base/holder.err" &
    holder=$!
    for _ in $(seq 300); do
        [ -s "$base/holder.cpus" ] && break
        kill -0 "$holder" 2>/dev/null || break
        sleep 0.1
    done
    [ -s "$base/holder.cpus" ] || fail "the CPU-holding job did not start"
    outside=$(cut -d, -f1 "$base/holder.cpus" | cut -d- -f1)
    echo "a job holds CPUs $(cat "$base/holder.cpus")"
fi

echo "== srun -c1 qpin run --pin auto"
srun -c1 --job-name=qpin-auto "$here/in-step.sh" auto "$base" || fail "qpin run --pin auto in a step"

if [ -n "$outside" ]; then
    echo "== srun -c1 qpin run --pin $outside (outside the step)"
    srun -c1 --job-name=qpin-explicit "$here/in-step.sh" explicit "$base" "$outside" ||
        fail "an explicit map outside the step"
else
    echo "SKIP part: one CPU only, so no CPU lies outside a step"
fi
echo "PASS"
