#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# scripts/dump-host: records the host's own allowed CPUs (init's), not the caller's taskset;
# writes where it is told; its trees and every fixture tree work with `lscpu --sysroot`.
# Environment: QPIN (the binary), QPIN_SOURCE_ROOT. Prints TAP.
set -u
export LC_ALL=C
src=$QPIN_SOURCE_ROOT
dump=$src/scripts/dump-host
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
n=0
ok() { # ok STATUS NAME [DIAGNOSTIC]
    n=$((n + 1))
    if [ "$1" -eq 0 ]; then
        echo "ok $n - $2"
    else
        echo "not ok $n - $2"
        [ -n "${3:-}" ] && printf '%s\n' "$3" | sed 's/^/# /'
    fi
}
field() { sed -n "s/^$2:[[:space:]]*//p" "$1"; }
json_field() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$1" "$2"; }

online=$(cat /sys/devices/system/cpu/online)
init_cpus=$(field /proc/1/status Cpus_allowed_list)
first=${online%%[-,]*}

# Run from a caller narrowed to one CPU: the tree keeps init's set.
out=$(taskset -c "$first" "$dump" --qpin "$QPIN" --caller-affinity "$tmp/here" 2>&1)
ok $? "dump-host DIR writes a tree" "$out"
ok "$([ -d "$tmp/here/sys/devices/system/cpu" ] && [ -s "$tmp/here.json" ]; echo $?)" \
    "the tree and DIR.json are where asked"
tree_cpus=$(field "$tmp/here/proc/self/status" Cpus_allowed_list)
ok "$([ "$tree_cpus" = "$init_cpus" ]; echo $?)" \
    "the tree's allowed CPUs are init's ($init_cpus), not the caller's taskset ($first)" \
    "tree: $tree_cpus"
caller=$(field "$tmp/here/caller-affinity.status" Cpus_allowed_list)
ok "$([ "$caller" = "$first" ]; echo $?)" "--caller-affinity records the caller's set apart" \
    "caller-affinity.status: $caller"
json_allowed=$(json_field "$tmp/here.json" cpus_allowed)
ok "$([ "$json_allowed" = "$("$QPIN" host --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["cpus_online"])')" ] || [ "$json_allowed" = "$init_cpus" ]; echo $?)" \
    "qpin host reads the tree's allowed CPUs as init's" "json: $json_allowed"
for f in online possible present kernel_max; do
    ok "$([ "$(cat /sys/devices/system/cpu/$f)" = "$(cat "$tmp/here/sys/devices/system/cpu/$f")" ]; echo $?)" \
        "the tree records cpu/$f as the kernel has it"
done
ok "$(diff <(lscpu -p=CPU,CORE,SOCKET,NODE | grep -v '^#') \
    <(lscpu --sysroot "$tmp/here" -p=CPU,CORE,SOCKET,NODE | grep -v '^#') >/dev/null; echo $?)" \
    "lscpu --sysroot TREE -p gives this machine's CPUs, cores, sockets and nodes"

# Without --caller-affinity there is no such file; without --force nothing is replaced.
"$dump" --qpin "$QPIN" "$tmp/plain" >/dev/null 2>&1
ok "$([ ! -e "$tmp/plain/caller-affinity.status" ]; echo $?)" \
    "no caller-affinity.status unless asked"
"$dump" --qpin "$QPIN" "$tmp/plain" >/dev/null 2>"$tmp/err"
ok "$([ $? -eq 1 ] && grep -q 'exists (use --force' "$tmp/err"; echo $?)" \
    "an existing tree is kept without --force" "$(cat "$tmp/err")"

# A tree dumped from a fixture (a SOURCE with no init) allows every online CPU.
"$dump" --qpin "$QPIN" "$tmp/phi" "$src/tests/fixtures/hosts/xeon-phi-7250" >/dev/null 2>"$tmp/err"
ok "$([ ! -e "$tmp/phi/proc/self/status" ] && grep -q 'cannot read' "$tmp/err" \
    && [ "$(json_field "$tmp/phi.json" cpus_allowed)" = 0-271 ]; echo $?)" \
    "a SOURCE without proc/1/status: no allowed set recorded, said on stderr" "$(cat "$tmp/err")"

# lscpu reads every tree, in every output mode, without crashing.
for tree in "$tmp/here" "$tmp/phi" "$src"/tests/fixtures/hosts/*/; do
    name=${tree%/}
    name=${name#"$src/"}
    for mode in "" -e -p -C -J; do
        lscpu --sysroot "$tree" $mode >/dev/null 2>"$tmp/err"
        status=$?
        ok $status "lscpu --sysroot ${name#"$tmp/"} $mode" "exit $status: $(cat "$tmp/err")"
    done
done
cpus=$(lscpu --sysroot "$src/tests/fixtures/hosts/xeon-phi-7250" | sed -n 's/^CPU(s): *//p')
ok "$([ "$cpus" = 272 ]; echo $?)" "lscpu counts the Xeon Phi fixture's 272 CPUs" "$cpus"
echo "1..$n"
