#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# A private single-node Slurm cluster on loopback, for tests.
#
#   slurm-cluster.sh up BASE     start munged, slurmctld and slurmd with everything under BASE
#                                (an empty directory); writes BASE/env to source (SLURM_CONF)
#   slurm-cluster.sh down BASE   cancel its jobs, stop the daemons by their pid files, remove
#                                the cgroup directories slurmd made
#
# The cluster is private: its own munge key and socket, its own ports, its own node name (so
# its cgroup directories are its own), state and logs under BASE. Debian's slurmctld, slurmd,
# slurm-client and munge 22.05 run it without systemd; slurmd needs root for the cgroups that
# task/cgroup confines steps with. `up` exits non-zero with the daemons' logs on stderr when
# the cluster does not come up, after tearing down what it started.
set -euo pipefail

usage() {
    echo "usage: $0 up|down BASE" >&2
    exit 2
}
[ $# -eq 2 ] || usage
cmd=$1
base=$(cd "$2" && pwd)

log() { echo "slurm-cluster: $*" >&2; }

# A TCP port on 127.0.0.1 nobody listens on, from a range picked by our pid.
free_port() {
    local port=$(( 20000 + ($$ * 7 + $1) % 20000 ))
    local tries=0
    while (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do
        port=$(( port + 1 ))
        tries=$(( tries + 1 ))
        [ $tries -lt 200 ] || { log "no free port"; return 1; }
    done
    echo "$port"
}

# Stops the daemon of pid file $1: SIGTERM, then SIGKILL after 10 s.
stop_pidfile() {
    local pidfile=$1 pid
    [ -s "$pidfile" ] || return 0
    pid=$(cat "$pidfile")
    [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || { rm -f "$pidfile"; return 0; }
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 100); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        log "pid $pid ($pidfile) ignored SIGTERM; killing it"
        kill -KILL "$pid" 2>/dev/null || true
    fi
    rm -f "$pidfile"
}

down() {
    if [ -f "$base/env" ]; then
        # shellcheck disable=SC1091
        . "$base/env"
        if [ -s "$base/run/slurmctld.pid" ] && kill -0 "$(cat "$base/run/slurmctld.pid")" 2>/dev/null; then
            scancel --quiet --full --signal=KILL --partition=debug 2>/dev/null || true
            scancel --quiet --partition=debug 2>/dev/null || true
            # Steps end before slurmd goes: otherwise their slurmstepd outlive it.
            for _ in $(seq 50); do
                [ -z "$(squeue -h -o %i 2>/dev/null)" ] && break
                sleep 0.1
            done
        fi
    fi
    stop_pidfile "$base/run/slurmd.pid"
    stop_pidfile "$base/run/slurmctld.pid"
    stop_pidfile "$base/run/munged.pid"
    # slurmd leaves its (empty) cgroup hierarchy behind; cgroupfs removes directories with
    # rmdir only, deepest first.
    if [ -s "$base/nodename" ]; then
        local node
        node=$(cat "$base/nodename")
        for dir in /sys/fs/cgroup/*/"slurm_$node" /sys/fs/cgroup/"slurm_$node"; do
            [ -d "$dir" ] || continue
            find "$dir" -depth -type d -exec rmdir {} + 2>/dev/null || true
            [ -d "$dir" ] && log "could not remove $dir"
        done
    fi
    return 0
}

up() {
    for tool in munged slurmctld slurmd sinfo srun scontrol; do
        command -v "$tool" >/dev/null || { log "$tool is not installed"; return 1; }
    done
    mkdir -p "$base"/{etc,state,spool,log,run,munge}
    # Non-root clients must reach the munge socket.
    chmod 0755 "$base" "$base/munge" "$base/run"

    dd if=/dev/urandom of="$base/munge/munge.key" bs=1024 count=1 status=none
    chmod 0400 "$base/munge/munge.key"
    munged -f --key-file="$base/munge/munge.key" --socket="$base/munge/munge.sock" \
        --pid-file="$base/run/munged.pid" --log-file="$base/log/munged.log" \
        --seed-file="$base/munge/munge.seed" || { log "munged did not start"; return 1; }

    local node="qpin$$" ncpus ctld_port slurmd_port
    echo "$node" >"$base/nodename"
    ncpus=$(getconf _NPROCESSORS_ONLN)
    ctld_port=$(free_port 0)
    slurmd_port=$(free_port 1)
    [ "$slurmd_port" != "$ctld_port" ] || slurmd_port=$(( ctld_port + 1 ))

    cat >"$base/etc/slurm.conf" <<EOF
ClusterName=qpintest
SlurmctldHost=localhost
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
CommunicationParameters=NoCtldInAddrAny,NoInAddrAny
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$base/munge/munge.sock
MailProg=/bin/true
MpiDefault=none
ProctrackType=proctrack/cgroup
TaskPlugin=task/cgroup,task/affinity
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
ReturnToService=2
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
JobAcctGatherType=jobacct_gather/none
StateSaveLocation=$base/state
SlurmdSpoolDir=$base/spool
SlurmctldPidFile=$base/run/slurmctld.pid
SlurmdPidFile=$base/run/slurmd.pid
SlurmctldLogFile=$base/log/slurmctld.log
SlurmdLogFile=$base/log/slurmd.log
NodeName=$node NodeAddr=127.0.0.1 CPUs=$ncpus Sockets=1 CoresPerSocket=$ncpus ThreadsPerCore=1 State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF
    # Mixed cgroup v1/v2 hosts: autodetect picks v1 (cgroup/v2 refuses hybrid mode).
    cat >"$base/etc/cgroup.conf" <<EOF
CgroupPlugin=autodetect
ConstrainCores=yes
EOF
    echo "export SLURM_CONF=$base/etc/slurm.conf" >"$base/env"
    export SLURM_CONF="$base/etc/slurm.conf"

    slurmctld -c || { log "slurmctld did not start"; return 1; }
    slurmd -N "$node" || { log "slurmd did not start"; return 1; }

    local state=""
    for _ in $(seq 150); do
        state=$(sinfo -h -n "$node" -o %t 2>/dev/null || true)
        [ "$state" = idle ] && break
        sleep 0.2
    done
    if [ "$state" != idle ]; then
        log "node $node is '${state:-unreachable}', not idle, after 30 s"
        return 1
    fi
    log "up: node $node ($ncpus CPUs), slurmctld port $ctld_port, slurmd port $slurmd_port, base $base"
}

case $cmd in
up)
    if ! up; then
        for f in "$base"/log/*.log; do
            [ -f "$f" ] || continue
            echo "---- $f (last lines)" >&2
            tail -n 15 "$f" >&2
        done
        down
        exit 1
    fi
    ;;
down)
    down
    ;;
*)
    usage
    ;;
esac
