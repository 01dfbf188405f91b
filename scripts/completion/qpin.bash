# bash completion for qpin(1)                                   -*- shell-script -*-
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Installed as share/bash-completion/completions/qpin; for a try from the source tree:
#   source scripts/completion/qpin.bash
# Needs nothing but bash (not the bash-completion package). The option lists are those of
# 'qpin CMD --help'; tests/docs/test-completion.sh fails when they drift apart.

_qpin_commands="run plan pin host qmp top check"
_qpin_top_options="-h --help -V --version"

# Options of each command, as its --help lists them.
_qpin_options_run="--config --pin --emulator-pin --iothread-pin --vcpu-sched --reserve
    --allow-overcommit --numa --numa-dist --mirror --mirror-memory --reserve-hugepages --no-cont
    --cont --kill-timeout --qmp-timeout --report --json --explain --check --show -q --quiet
    -h --help"
_qpin_options_plan="--config --pin --emulator-pin --iothread-pin --vcpu-sched --reserve
    --allow-overcommit --numa --numa-dist --mirror --mirror-memory --bare-metal --sysroot
    --qmp-timeout --report --json --explain --check --show -q --quiet
    -h --help"
_qpin_options_pin="--config --qmp --pid --pin --emulator-pin --iothread-pin --vcpu-sched
    --reserve --allow-overcommit --cont --qmp-timeout --report --json --explain --show -q
    --quiet -h --help"
_qpin_options_host="--sysroot --cores -o --output --json -h --help"
_qpin_options_qmp="--qmp --timeout --debug -h --help"
_qpin_options_top="--pid --report --qmp -d --delay -n --iterations -b --batch --json --prometheus
    -s --sort -h --help"
_qpin_options_check="--vcpu-cpus --housekeeping-cpus --rt --hugepages --from --pid --pin
    --emulator-pin --iothread-pin --vcpu-sched --numa --numa-dist --mirror --mirror-memory
    --reserve --allow-overcommit --config
    --qmp-timeout --sysroot --json -h --help"

# Options that take a value (in the next word, or after '=').
# One line: matched as *" --opt "*.
_qpin_value_options=" --config --pin --emulator-pin --iothread-pin --vcpu-sched --reserve --numa "
_qpin_value_options+="--sysroot --kill-timeout --qmp-timeout --report --qmp --pid --timeout "
_qpin_value_options+="--show -o --output "
_qpin_value_options+="-d --delay -n --iterations --prometheus "
_qpin_value_options+="--numa-dist --mirror --mirror-memory "
_qpin_value_options+="--from --vcpu-cpus --housekeeping-cpus --hugepages "
_qpin_value_options+="-s --sort "

# QMP commands worth offering to 'qpin qmp' (any other is accepted as typed).
_qpin_qmp_commands="query-cpus-fast query-status query-iothreads query-version query-name
    query-commands query-memdev query-hotpluggable-cpus qom-get qom-list qom-set cont stop quit
    system_powerdown system_reset"

# Sets COMPREPLY to the words of $1 that start with $2.
_qpin_words()
{
    local IFS=$' \t\n'
    # shellcheck disable=SC2207
    COMPREPLY=($(compgen -W "$1" -- "$2"))
}

# Sets COMPREPLY to files (or, with -d, directories) that start with $2.
_qpin_files()
{
    local IFS=$'\n'
    compopt -o filenames 2>/dev/null
    if [[ $1 == -d ]]; then
        # shellcheck disable=SC2207
        COMPREPLY=($(compgen -d -- "$2"))
    else
        # shellcheck disable=SC2207
        COMPREPLY=($(compgen -f -- "$2"))
    fi
}

# The values of option $1, for the word $2.
_qpin_value()
{
    local opt=$1 cur=$2
    case $opt in
    --config | --report | --qmp | --prometheus | --from)
        _qpin_files -f "$cur"
        ;;
    --sysroot)
        _qpin_files -d "$cur"
        ;;
    --pin)
        _qpin_words "auto expr:" "$cur"
        [[ ${#COMPREPLY[@]} -eq 1 && ${COMPREPLY[0]} == *: ]] && compopt -o nospace 2>/dev/null
        ;;
    --emulator-pin)
        _qpin_words "auto" "$cur"
        ;;
    --vcpu-sched)
        _qpin_words "fifo rr batch idle other" "$cur"
        ;;
    --numa-dist)
        _qpin_words "auto off" "$cur"
        ;;
    --mirror)
        _qpin_words "host node=" "$cur"
        [[ ${#COMPREPLY[@]} -eq 1 && ${COMPREPLY[0]} == *= ]] && compopt -o nospace 2>/dev/null
        ;;
    --show)
        _qpin_words "auto table grid both" "$cur"
        ;;
    -o | --output)
        # The columns of 'qpin host --cores', one more after each comma.
        local head=${cur%"${cur##*,}"}
        _qpin_words "SOCKET DIE CORE NODE CPUS THREADS LLC LLC-CPUS ALLOWED ISOLATED" "${cur##*,}"
        local k
        for k in "${!COMPREPLY[@]}"; do COMPREPLY[k]=$head${COMPREPLY[k]}; done
        ;;
    -s | --sort)
        _qpin_words "usage steal cpu index" "$cur"
        ;;
    --pid)
        _qpin_words "$(pgrep -d ' ' qemu 2>/dev/null)" "$cur"
        ;;
    *)
        # --numa, --iothread-pin, --reserve, timeouts: nothing to offer.
        COMPREPLY=()
        ;;
    esac
}

_qpin()
{
    local cur=${COMP_WORDS[COMP_CWORD]} prev=
    local cword=$COMP_CWORD
    ((cword > 0)) && prev=${COMP_WORDS[cword - 1]}
    COMPREPLY=()

    # The command, or the options that stand in its place.
    if ((cword == 1)); then
        _qpin_words "$_qpin_commands $_qpin_top_options" "$cur"
        return 0
    fi
    local cmd=${COMP_WORDS[1]}
    local options_var=_qpin_options_$cmd
    case $cmd in
    run | plan | pin | host | qmp | top | check) ;;
    *) return 0 ;;
    esac

    # Where QEMU's command line starts (run, plan: after '--' or at the first word that is not an
    # option), and whether qmp already has its COMMAND.
    local i word qemu_start=-1 positional=0
    for ((i = 2; i < cword; i++)); do
        word=${COMP_WORDS[i]}
        if [[ $word == -- ]]; then
            qemu_start=$((i + 1))
            break
        elif [[ $word == = ]]; then
            # --opt=value split at '=' (COMP_WORDBREAKS): skip the value too.
            ((i++))
        elif [[ $word == -* ]]; then
            [[ $word != *=* && $_qpin_value_options == *" $word "* && ${COMP_WORDS[i + 1]} != = ]] &&
                ((i++))
        elif [[ $cmd == run || $cmd == plan || $cmd == check ]]; then
            qemu_start=$i
            break
        else
            positional=$((positional + 1))
        fi
    done
    if ((qemu_start >= 0)); then
        if ((cword == qemu_start)); then
            # The QEMU binary: a command from PATH, or a path.
            if [[ $cur == */* ]]; then
                _qpin_files -f "$cur"
            else
                local IFS=$'\n'
                # shellcheck disable=SC2207
                COMPREPLY=($(compgen -c -- "$cur" | sort -u))
            fi
        else
            _qpin_files -f "$cur"
        fi
        return 0
    fi

    # An option's value: '--opt VALUE', '--opt=VALUE' split by readline, or '--opt=VALUE' whole.
    if [[ $prev == = && $cword -ge 3 && $_qpin_value_options == *" ${COMP_WORDS[cword - 2]} "* ]]; then
        _qpin_value "${COMP_WORDS[cword - 2]}" "$cur"
        return 0
    fi
    if [[ $cur == = && $_qpin_value_options == *" $prev "* ]]; then
        _qpin_value "$prev" ""
        return 0
    fi
    if [[ $cur == --*=* && $_qpin_value_options == *" ${cur%%=*} "* ]]; then
        local opt=${cur%%=*}
        _qpin_value "$opt" "${cur#*=}"
        local j
        for j in "${!COMPREPLY[@]}"; do
            COMPREPLY[j]="$opt=${COMPREPLY[j]}"
        done
        return 0
    fi
    if [[ $_qpin_value_options == *" $prev "* ]]; then
        _qpin_value "$prev" "$cur"
        return 0
    fi

    if [[ $cur == -* ]]; then
        _qpin_words "${!options_var}" "$cur"
        # run and plan: '--' ends the options.
        if [[ ($cmd == run || $cmd == plan || $cmd == check) && -- == "$cur"* ]]; then
            COMPREPLY+=(--)
        fi
    elif [[ $cmd == qmp && $positional -eq 0 ]]; then
        _qpin_words "$_qpin_qmp_commands" "$cur"
    elif [[ $cmd == run || $cmd == plan || $cmd == check ]]; then
        # The first word that is not an option starts QEMU's command line.
        local IFS=$'\n'
        # shellcheck disable=SC2207
        COMPREPLY=($(compgen -c -- "$cur" | sort -u))
    fi
    return 0
} &&
    complete -F _qpin qpin
