#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# One pinned QEMU guest per node of a Slurm allocation (qpin's README.md, "Running under Slurm",
# and docs/slurm.md). Submit with:
#
#   sbatch slurm-batch.sh
#
# Each node runs one qpin, confined by Slurm to its task's CPUs and memory nodes; qpin places the
# guest inside them (--pin auto), puts the emulator threads on two housekeeping CPUs next to the
# vCPUs (--emulator-pin auto), pins, reads everything back, resumes the guest and writes
# report-NODEID.json (plan, pins read back, timings) in the submission directory. The job's
# status is the worst guest's: qpin exits with QEMU's status.
#
# Four whole nodes, one task each, 42 CPUs per task: 40 vCPUs + 2 for the emulator threads.
# --exclusive keeps other jobs off the nodes; --mem=0 gives each task the node's whole memory
# (the guest's -m must fit in it).
#SBATCH --nodes=4 --ntasks-per-node=1 --cpus-per-task=42 --exclusive
#SBATCH --mem=0 --time=02:00:00
#SBATCH --job-name=qpin-guests

set -euo pipefail

# Where the per-node disk images guest-NODEID.qcow2 are; srun passes it to every task.
export GUEST_IMAGE_DIR=${GUEST_IMAGE_DIR:-/scratch/${USER:-$(id -un)}}

# -c again on srun: since Slurm 22.05 a step does not inherit --cpus-per-task from sbatch.
# The single quotes matter: $SLURM_NODEID and $SLURM_CPUS_PER_TASK are expanded by each task on
# its own node, not here. bash only builds the per-node names and then execs qpin, which starts
# QEMU itself, without a shell. Signals Slurm sends (scancel, the time limit) reach qpin, which
# forwards them to QEMU; its --kill-timeout (10 s) is below Slurm's KillWait (30 s by default).
# -smp: all CPUs of the task but the two emulator CPUs, as cores of 2 SMT threads (the host's
# shape; use threads=1 and srun --hint=nomultithread on hosts without SMT, docs/slurm.md).
# shellcheck disable=SC2016
srun -N "$SLURM_JOB_NUM_NODES" -c "$SLURM_CPUS_PER_TASK" bash -c 'exec qpin run --pin auto --emulator-pin auto \
    --report report-$SLURM_NODEID.json -- qemu-system-x86_64 -enable-kvm -cpu host \
    -smp $((SLURM_CPUS_PER_TASK - 2)),sockets=1,threads=2 -m 64G -nographic \
    -name guest-$SLURM_NODEID -drive file="$GUEST_IMAGE_DIR"/guest-$SLURM_NODEID.qcow2,if=virtio'
