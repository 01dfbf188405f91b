#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# The bash completion (scripts/completion/qpin.bash): commands, every option of every
# command's --help, option values, files, directories, and QEMU's binary after '--'.
# Environment: QPIN (the binary), QPIN_SOURCE_ROOT. Prints TAP.
if ! command -v bash >/dev/null 2>&1; then
    echo "1..0 # SKIP bash is not installed"
    exit 77
fi
exec bash -s "$@" <<'BASH'
set -u
export LC_ALL=C
script=$QPIN_SOURCE_ROOT/scripts/completion/qpin.bash
n=0
failed=0
ok() { # ok CONDITION-STATUS NAME [DIAGNOSTIC]
    n=$((n + 1))
    if [ "$1" -eq 0 ]; then
        echo "ok $n - $2"
    else
        echo "not ok $n - $2"
        [ -n "${3:-}" ] && printf '%s\n' "$3" | sed 's/^/# /'
        failed=1
    fi
}
# complete WORD... : COMPREPLY for the last word, as bash would ask with the cursor there.
complete_words() {
    COMP_WORDS=("$@")
    COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
    COMP_LINE="$*"
    COMP_POINT=${#COMP_LINE}
    COMPREPLY=()
    _qpin
}
# The completions, sorted, on one line.
got() {
    printf '%s\n' "${COMPREPLY[@]}" | sort | tr '\n' ' ' | sed 's/ $//'
}
has() { # has WORD: COMPREPLY holds WORD
    local w
    for w in "${COMPREPLY[@]}"; do [ "$w" = "$1" ] && return 0; done
    return 1
}
# The options of 'qpin [CMD] --help', long and short.
help_options() {
    "$QPIN" "$@" --help | sed -n 's/^ \{1,\}\(\(-[A-Za-z?], \)\{0,1\}--[a-z][a-z-]*\).*/\1/p' |
        sed 's/, /\n/' | sort -u
}

# shellcheck source=/dev/null
source "$script"
ok $? "the script can be sourced"
complete -p qpin >/dev/null 2>&1
ok $? "it registers a completion for qpin"

# Commands, and the options of qpin itself.
complete_words qpin ""
missing=
for c in $("$QPIN" --help | sed -n '/^Commands:/,/^$/s/^  \([a-z]\{1,\}\) .*/\1/p') $(help_options); do
    has "$c" || missing="$missing $c"
done
ok "$([ -z "$missing" ]; echo $?)" "'qpin <TAB>' offers every command and option of qpin --help" "missing:$missing"

# Every option of every command, offered after the command.
for cmd in run plan pin host qmp check; do
    complete_words qpin "$cmd" -
    missing=
    count=0
    for o in $(help_options "$cmd"); do
        count=$((count + 1))
        has "$o" || missing="$missing $o"
    done
    extra=
    for w in "${COMPREPLY[@]}"; do
        [ "$w" = -- ] && continue
        help_options "$cmd" | grep -qx -- "$w" || extra="$extra $w"
    done
    ok "$([ "$count" -gt 2 ] && [ -z "$missing" ] && [ -z "$extra" ]; echo $?)" \
        "'qpin $cmd -<TAB>' offers exactly the $count options of qpin $cmd --help" \
        "missing:$missing extra:$extra"
done
complete_words qpin run --no
ok "$([ "${COMPREPLY[*]}" = --no-cont ]; echo $?)" "'qpin run --no<TAB>' completes --no-cont" "${COMPREPLY[*]}"

# Values.
complete_words qpin run --pin ""
has auto
ok $? "'qpin run --pin <TAB>' offers auto" "${COMPREPLY[*]}"
complete_words qpin pin --pin a
ok "$([ "${COMPREPLY[*]}" = auto ]; echo $?)" "'qpin pin --pin a<TAB>' completes auto" "${COMPREPLY[*]}"
complete_words qpin plan --pin = a
ok "$([ "${COMPREPLY[*]}" = auto ]; echo $?)" "'qpin plan --pin=a<TAB>' (split at =) completes auto" "${COMPREPLY[*]}"
complete_words qpin plan --pin=a
ok "$([ "${COMPREPLY[*]}" = --pin=auto ]; echo $?)" "'qpin plan --pin=a<TAB>' (one word) completes --pin=auto" "${COMPREPLY[*]}"
complete_words qpin run --emulator-pin ""
has auto
ok $? "'qpin run --emulator-pin <TAB>' offers auto" "${COMPREPLY[*]}"
complete_words qpin run --vcpu-sched ""
ok "$([ "$(got)" = "batch fifo idle other rr" ]; echo $?)" "'--vcpu-sched <TAB>' offers the policies" "$(got)"
for opt in --numa --iothread-pin --reserve --kill-timeout --qmp-timeout; do
    complete_words qpin run "$opt" ""
    ok "${#COMPREPLY[@]}" "'qpin run $opt <TAB>' offers nothing" "$(got | cut -c1-200)"
done
complete_words qpin qmp --timeout ""
ok "${#COMPREPLY[@]}" "'qpin qmp --timeout <TAB>' offers nothing" "$(got | cut -c1-200)"

# Files and directories, in a directory of the test's own.
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
mkdir "$tmp/sysroot-a" "$tmp/sysroot-b"
: >"$tmp/vm.ini"
: >"$tmp/vm-report.json"
complete_words qpin run --config "$tmp/vm"
ok "$([ "$(got)" = "$tmp/vm-report.json $tmp/vm.ini" ]; echo $?)" "'--config FILE<TAB>' completes files" "${COMPREPLY[*]}"
complete_words qpin pin --report "$tmp/vm-r"
ok "$([ "${COMPREPLY[*]}" = "$tmp/vm-report.json" ]; echo $?)" "'--report FILE<TAB>' completes files" "${COMPREPLY[*]}"
complete_words qpin run --report = "$tmp/vm-r"
ok "$([ "${COMPREPLY[*]}" = "$tmp/vm-report.json" ]; echo $?)" "'--report=FILE<TAB>' completes files" "${COMPREPLY[*]}"
complete_words qpin plan --sysroot "$tmp/"
ok "$([ "$(got)" = "$tmp/sysroot-a $tmp/sysroot-b" ]; echo $?)" "'qpin plan --sysroot DIR<TAB>' completes directories only" "${COMPREPLY[*]}"
complete_words qpin check --from "$tmp/vm-r"
ok "$([ "${COMPREPLY[*]}" = "$tmp/vm-report.json" ]; echo $?)" "'qpin check --from FILE<TAB>' completes files" "${COMPREPLY[*]}"
complete_words qpin check --sysroot "$tmp/sys"
ok "$([ "$(got)" = "$tmp/sysroot-a $tmp/sysroot-b" ]; echo $?)" "'qpin check --sysroot DIR<TAB>' completes directories only" "${COMPREPLY[*]}"
complete_words qpin host --sysroot "$tmp/sys"
ok "$([ "$(got)" = "$tmp/sysroot-a $tmp/sysroot-b" ]; echo $?)" "'qpin host --sysroot DIR<TAB>' completes directories only" "${COMPREPLY[*]}"

# After '--': QEMU's binary from PATH, then files; options of qpin no more.
mkdir "$tmp/bin"
printf '#!/bin/sh\n' >"$tmp/bin/qemu-system-qpintest"
chmod +x "$tmp/bin/qemu-system-qpintest"
PATH=$tmp/bin:$PATH
complete_words qpin run --pin auto -- qemu-system-qpin
ok "$([ "${COMPREPLY[*]}" = qemu-system-qpintest ]; echo $?)" "'qpin run ... -- qemu<TAB>' completes commands" "${COMPREPLY[*]}"
complete_words qpin plan --sysroot "$tmp" -- qemu-system-qpin
ok "$([ "${COMPREPLY[*]}" = qemu-system-qpintest ]; echo $?)" "'qpin plan --sysroot DIR -- qemu<TAB>' completes commands" "${COMPREPLY[*]}"
complete_words qpin run -- "$tmp/bin/qemu-sys"
ok "$([ "${COMPREPLY[*]}" = "$tmp/bin/qemu-system-qpintest" ]; echo $?)" "'qpin run -- ./PATH<TAB>' completes a path" "${COMPREPLY[*]}"
complete_words qpin run -- qemu-system-qpintest -drive "$tmp/vm."
ok "$([ "${COMPREPLY[*]}" = "$tmp/vm.ini" ]; echo $?)" "QEMU's arguments complete as files" "${COMPREPLY[*]}"
complete_words qpin run -- qemu-system-qpintest --pi
ok "${#COMPREPLY[@]}" "after '--' no qpin option is offered" "${COMPREPLY[*]}"
complete_words qpin run --pin auto qemu-system-qpintest --pi
ok "${#COMPREPLY[@]}" "after QEMU's binary no qpin option is offered" "${COMPREPLY[*]}"
complete_words qpin run --
has --
ok $? "'qpin run --<TAB>' offers '--' with the options" "${COMPREPLY[*]}"

# qpin qmp: QMP commands for COMMAND.
complete_words qpin qmp --qmp "$tmp/vm.ini" query-cpus-f
ok "$([ "${COMPREPLY[*]}" = query-cpus-fast ]; echo $?)" "'qpin qmp --qmp SOCKET query-cpus-f<TAB>' completes the QMP command" "${COMPREPLY[*]}"

echo "1..$n"
exit "$failed"
BASH
