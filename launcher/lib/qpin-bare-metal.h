/* SPDX-License-Identifier: GPL-2.0-or-later */
/* qpin — the bare-metal twin of a guest: the commands that give a process on the host the same
 * CPUs and memory as the guest's vCPUs and memory (numactl, taskset, srun), and the chcpu line
 * that takes every other CPU away from the host for a guest-vs-bare-metal comparison. qpin
 * computes them for plans and reports and runs none of them. */
#pragma once

#include "qpin-memory.h"

#include <qpin/host.h>

#include <glib.h>

G_BEGIN_DECLS

typedef struct {
    TopoCpuSet *cpus;      /* every host CPU of a vCPU */
    TopoCpuSet *mems;      /* the host nodes of the guest memory, or NULL when it is unbound */
    QpinNumaPolicy policy; /* of that memory (QPIN_NUMA_POLICY_DEFAULT when unbound) */
    char **numactl;        /* numactl --physcpubind=CPUS [--membind=|--interleave=|...] */
    char **taskset;        /* taskset -c CPUS */
    char **srun;           /* srun ... --cpu-bind=map_cpu:LIST (one task per vCPU) */
    TopoCpuSet *offline;   /* the online host CPUs outside cpus that the kernel can take offline,
                            * or NULL when there are none */
    TopoCpuSet *kept;      /* those it cannot (no cpuN/online file: often CPU 0), or NULL */
    char **chcpu_offline;  /* chcpu -d OFFLINE: destructive, never run by qpin; or NULL */
    char **chcpu_online;   /* chcpu -e OFFLINE: what brings them back; or NULL */
} QpinBareMetal;

void qpin_bare_metal_free(QpinBareMetal *bare);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(QpinBareMetal, qpin_bare_metal_free)

/* The twin of a guest whose vCPU with cpu-index i runs on @vcpu_cpus[i] (@n vCPUs; an entry may
 * be NULL for a vCPU left unpinned, which the bare-metal process then does not get either) and
 * whose memory is @nodes (QpinNumaNode*, may be NULL or empty), on @host (whose online CPUs the
 * chcpu line offlines, except those without a cpuN/online file under its sysroot: the kernel
 * cannot take them offline). The memory side follows the guest nodes bound to host nodes: their
 * host nodes, with the policy of the first of them (bind: --membind; interleave: --interleave;
 * preferred: --preferred=NODE for one node, --localalloc for several, each CPU's own node
 * first as each guest node prefers its own). srun gets one task per vCPU: map_cpu when each
 * vCPU has one CPU, else mask_cpu; map_mem per task when every guest node is bound (policy
 * bind) to one host node and names its vCPUs, or all memory is on one node. NULL when no vCPU
 * is pinned: the guest then has no CPUs of its own to give. */
QpinBareMetal *qpin_bare_metal_new(const TopoHost *host, TopoCpuSet *const *vcpu_cpus, guint n,
                                   const GPtrArray *nodes);

G_END_DECLS
