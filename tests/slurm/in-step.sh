#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Runs inside a Slurm job step (srun -c1 in-step.sh ...) and checks qpin there.
#
#   in-step.sh auto BASE       qpin run --pin auto: every vCPU thread pinned inside the step's
#                              CPUs (report and live /proc read-back), every QEMU thread inside
#                              them, QEMU quit through QMP, qpin exits 0, no QEMU left
#   in-step.sh explicit BASE CPU
#                              qpin run --pin CPU with CPU outside the step: refused with the
#                              map exit code, naming the CPU and the allowed set, no QEMU left
#
# QPIN names the qpin binary, QPIN_SOURCE_ROOT the source tree (for the exit codes).
set -uo pipefail

mode=$1
base=$2
step=$(awk '/^Cpus_allowed_list:/ { print $2 }' /proc/self/status)
mark="qpin-slurm-$mode-$$"
echo "step ${SLURM_JOB_ID:-?}.${SLURM_STEP_ID:-?}: CPUs $step"

fail() {
    echo "FAIL ($mode): $*" >&2
    exit 1
}

qemu=(qemu-system-x86_64 -name "$mark" -accel tcg -cpu qemu64 -display none -nodefaults
      -no-user-config -m 64 -smp 1 -qmp "unix:$base/$mark.qmp,server=on,wait=off")

# Processes whose command line carries our marker (our QEMU, and qpin around it).
leftovers() {
    local p
    for p in /proc/[0-9]*; do
        [ "${p#/proc/}" = "$$" ] && continue
        if tr '\0' ' ' <"$p/cmdline" 2>/dev/null | grep -q -- "-name $mark "; then
            echo "${p#/proc/}"
        fi
    done
}

case $mode in
auto)
    report="$base/auto-report.json"
    "$QPIN" run --pin auto --emulator-pin auto --report "$report" -- "${qemu[@]}" \
        2>"$base/auto.err" &
    qpin_pid=$!
    # The report is written (atomically) once the threads are pinned, verified and the guest
    # resumed.
    for _ in $(seq 300); do
        [ -s "$report" ] && break
        kill -0 "$qpin_pid" 2>/dev/null || break
        sleep 0.1
    done
    if [ ! -s "$report" ]; then
        kill -TERM "$qpin_pid" 2>/dev/null
        wait "$qpin_pid"
        cat "$base/auto.err" >&2
        fail "no report from qpin run"
    fi
    sed 's/^/  | /' "$base/auto.err"

    # Checks the report and the live threads, while QEMU runs.
    python3 - "$report" "$step" <<'EOF'
import json, os, sys

def parse(text):
    out = set()
    for item in filter(None, text.strip().split(",")):
        rng, _, stride = item.partition(":")
        a, _, b = rng.partition("-")
        out.update(range(int(a), int(b or a) + 1, int(stride or 1)))
    return out

def allowed(tid_path):
    with open(os.path.join(tid_path, "status")) as f:
        for line in f:
            if line.startswith("Cpus_allowed_list:"):
                return parse(line.split(":", 1)[1])
    raise SystemExit(f"FAIL: no Cpus_allowed_list in {tid_path}/status")

report = json.load(open(sys.argv[1]))
step = parse(sys.argv[2])
pid = report["qemu_pid"]
vcpus = report["vcpus"]
errors = []
if not vcpus:
    errors.append("the report lists no vCPU")
for v in vcpus:
    cpus, actual = parse(v["cpus"]), parse(v.get("cpus_actual", ""))
    if not cpus or not cpus <= step:
        errors.append(f"vCPU {v['index']}: planned CPUs {v['cpus']} not inside the step's {sys.argv[2]}")
    if actual != cpus:
        errors.append(f"vCPU {v['index']}: read back {v.get('cpus_actual')} != planned {v['cpus']}")
    live = allowed(f"/proc/{pid}/task/{v['thread_id']}")
    if live != cpus:
        errors.append(f"vCPU {v['index']} (thread {v['thread_id']}): live mask {sorted(live)} != {v['cpus']}")
    print(f"  vCPU {v['index']}: thread {v['thread_id']} on CPUs {v['cpus']}, "
          f"read back {v.get('cpus_actual')}, live {sorted(live)}")
tasks = os.listdir(f"/proc/{pid}/task")
for tid in tasks:
    live = allowed(f"/proc/{pid}/task/{tid}")
    if not live <= step:
        comm = open(f"/proc/{pid}/task/{tid}/comm").read().strip()
        errors.append(f"QEMU thread {tid} ({comm}) may run on {sorted(live)}, outside the step")
print(f"  {len(tasks)} QEMU threads, all inside the step's CPUs {sys.argv[2]}" if not errors else "")
for e in errors:
    print(f"FAIL: {e}", file=sys.stderr)
sys.exit(1 if errors else 0)
EOF
    checked=$?
    qemu_pid=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["qemu_pid"])' "$report")

    "$QPIN" qmp --qmp "$base/$mark.qmp" quit >/dev/null || echo "qpin qmp quit failed" >&2
    wait "$qpin_pid"
    rc=$?
    [ "$checked" = 0 ] || fail "placement outside the step (see above)"
    [ "$rc" = 0 ] || fail "qpin run exited $rc after QEMU quit, expected QEMU's 0"
    [ ! -e "/proc/$qemu_pid" ] || fail "QEMU $qemu_pid still exists"
    echo "  qpin run --pin auto: inside the step, exit 0"
    ;;

explicit)
    cpu=$3
    map_exit=$(sed -n 's/.*QPIN_EXIT_MAP *= *\([0-9]*\).*/\1/p' "$QPIN_SOURCE_ROOT/launcher/cli/qpin-cli.h")
    [ -n "$map_exit" ] || fail "QPIN_EXIT_MAP not found in launcher/cli/qpin-cli.h"
    "$QPIN" run --pin "$cpu" -- "${qemu[@]}" >"$base/explicit.out" 2>"$base/explicit.err"
    rc=$?
    sed 's/^/  | /' "$base/explicit.err"
    [ "$rc" = "$map_exit" ] || fail "qpin run --pin $cpu exited $rc, expected $map_exit (QPIN_EXIT_MAP)"
    grep -qw -- "$cpu" "$base/explicit.err" || fail "the error does not name CPU $cpu"
    grep -qF -- "$step" "$base/explicit.err" || fail "the error does not show the allowed CPUs $step"
    left=$(leftovers)
    [ -z "$left" ] || fail "processes left behind: $left"
    echo "  qpin run --pin $cpu: refused with exit $rc, no QEMU left"
    ;;

*)
    fail "unknown mode"
    ;;
esac
